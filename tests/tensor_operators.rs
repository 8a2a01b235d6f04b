//! Networks raised to the tutorial's tensor operators (`egraph/tensorops.rs`), where no
//! classic matrix form exists: generalized products `A^{P} ⊙^{Q} B`, their shortcuts
//! `⊙_k` and `·_k`, tensor products and permutations. Random einsums over 3-tensors,
//! matrices and vectors with results of up to four dims are raised; each raised form
//! must print, read back and equal the einsum exactly, in rationals. Then the tutorial's
//! own forms through the CLI, each checked numerically, and a test that the check can
//! fail. Cases: `PROPTEST_CASES`.

mod common;
use bracket::{raise_to_tensor_operators, read, render, Expr, Format};
use common::same_value;
use proptest::prelude::*;

const DECLS: &str = "T, S: tensor(n, n, n); A, B: matrix(n, n); x, y: vector(n)";

fn network(einsum: &str) -> bracket::Network {
    common::einsum_network(DECLS, einsum)
}

fn equal(einsum: &str, raised: &Expr) -> bool {
    common::raised_equal(DECLS, einsum, raised)
}

fn einsum() -> impl Strategy<Value = String> {
    let tensors = vec![("T", 3), ("S", 3), ("A", 2), ("B", 2), ("x", 1), ("y", 1)];
    common::einsums(tensors, 5, 1..5, 5)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]
    #[test]
    fn a_network_raised_to_tensor_operators_keeps_its_value(e in einsum()) {
        if let Some(raised) = raise_to_tensor_operators(&network(&e)) {
            let text = render(&raised, Format::Unicode);
            prop_assert!(bracket::is_classic(&raised), "{e} → {text}");
            prop_assert!(equal(&e, &raised), "{e} → {text}");
        }
    }
}

/// Networks with distinct indices per factor are always raised (up to four result dims).
#[test]
fn every_network_of_distinct_indices_is_raised() {
    for e in [
        "einsum(\"ijk,jkl->il\", T, S)",
        "einsum(\"ijk,kl->ijl\", T, A)",
        "einsum(\"ijk,j->ik\", T, x)",
        "einsum(\"ij,kl->ikjl\", A, B)",
        "einsum(\"ijk,ljm->ikm\", T, S)",
        "einsum(\"ij,ik,il->ijkl\", A, B, A)",
    ] {
        let raised = raise_to_tensor_operators(&network(e)).unwrap_or_else(|| panic!("{e} not raised"));
        assert!(equal(e, &raised), "{e} → {}", render(&raised, Format::Unicode));
    }
}

/// The binary's exit code and standard output.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bracket")).args(args).output().expect("the binary runs");
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
}

fn cli(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, Some(0), "{args:?}: {err}");
    out.lines().next().unwrap_or("").to_string()
}

/// The tutorial's bracket terms come back as its operators (§2.4, eqs. 8 and 9, the
/// k-contraction and k-Hadamard), and each printed form equals the term.
#[test]
fn bracket_terms_come_back_as_tensor_operators() {
    let decls = "T: tensor(a, b, c); S: tensor(b, c, d); A: tensor(i, j, k); B: tensor(l, j, i); R: tensor(a, b, c)";
    for (term, want) in [
        ("T_1[~T_2 S_1][~T_3 S_2]S_3", "T ·_2 S"),
        ("T_1[T_2 S_1][T_3 S_2]S_3", "T ⊙_2 S"),
        ("[A_1 B_3][A_2 B_2] A_3 B_1", "A^{12} ⊙^{32} B"),
        ("B_1 [B_2 A_2][B_3 A_1] A_3", "B^{23} ⊙^{21} A"),
        ("T_1 T_2 [~T_3 1]", "T ·_1 1"),
        ("[~T R]", "R · T"),
        ("[T R]", "R ⊙ T"),
        ("T_3 T_1 T_2", "(T)_{312}"),
        ("[~T]", "sum(T)"),
        ("[~T] R", "sum(T)R"),
    ] {
        let got = cli(&["simplify", &format!("{decls}; {term}")]);
        assert_eq!(got, want, "{term}");
        assert!(same_value(&format!("{decls}; {term}; {got}"), &[1, 2, 3]), "{term} → {got}");
    }
}

/// Jacobians of element-wise and row-wise matrix functions have no classic matrix form;
/// they come out as generalized products, pass their check, and keep no bracket term.
#[test]
fn matrix_jacobians_are_tensor_operators() {
    for (e, want) in [
        ("X .* Y", "Y^{12} ⊙^{13} (I ⊗ I)"),
        ("exp(X)", "exp(X)^{12} ⊙^{13} (I ⊗ I)"),
        ("softmax(X)", "softmax(X)^{12} ⊙^{13} (I ⊗ I) − softmax(X)^{1} ⊙^{1} (I^{1} ⊙^{1} softmax(X))"),
    ] {
        let (code, out, err) = run(&["jacobian", e, "--wrt", "X", "--check"]);
        assert_eq!(code, Some(0), "{e}: {err}");
        assert_eq!(out.lines().next(), Some(want), "{e}");
        assert!(out.contains("check: relative error"), "{e}: {out}");
    }
}

/// The value check can fail: positions paired the other way are caught.
#[test]
fn the_check_catches_a_wrong_pairing() {
    let m = read(&format!("{DECLS}; T^{{13}} odot^{{12}} S")).unwrap();
    let wrong = m.main_expr().unwrap().clone();
    assert!(!equal("einsum(\"ijk,kil->ijkl\", T, S)", &wrong));
    let m = read(&format!("{DECLS}; T^{{12}} odot^{{13}} S")).unwrap();
    assert!(equal("einsum(\"ijk,ilj->ijkl\", T, S)", m.main_expr().unwrap()));
}

/// The tutorial's identities of §2.4 come out of the raising, with no rule of their own:
/// both sides are one network, so they meet. Eq. 4/5 (a generalized product and its
/// swapped form differ by a permutation), associativity under its conditions (eqs. 6–7),
/// and `U ⊙_d V = V ⊙_d U`, `U ·_d V = U · V`. Where the condition fails, the difference
/// stays.
#[test]
fn the_identities_of_section_2_4_simplify_to_zero() {
    for (decls, identity) in [
        ("U: tensor(a,b,c); V: tensor(d,c,a)", "(U^{13} ⊙^{32} V)_{4312} - V^{32} ⊙^{13} U"),
        ("A, B, C: matrix(n,n)", "(A ⊙_1 B) ⊙_1 C - A ⊙_1 (B ⊙_1 C)"),
        ("A, B, C: tensor(n,n,n)", "(A ·_1 B) ·_2 C - A ·_1 (B ·_2 C)"),
        ("A: tensor(n,n,n); B, C: matrix(n,n)", "(A ·_1 B) ⊙_1 C - A ·_1 (B ⊙_1 C)"),
        ("A: tensor(n,n,n); B, C: matrix(n,n)", "(A ⊙_1 B) ·_1 C - A ⊙_1 (B ·_1 C)"),
        ("U, V: tensor(n,n,n)", "U ⊙_3 V - V ⊙_3 U"),
        ("U, V: tensor(n,n,n)", "U ·_3 V - U · V"),
    ] {
        let text = format!("{decls}; {identity}");
        assert_eq!(cli(&["simplify", &text]), "0", "{identity}");
        // And numerically: the difference is zero.
        assert!(same_value(&format!("{decls}; {identity}; 0 {}", identity.split(" - ").next().unwrap()), &[1, 2]));
    }
    let differs = "A, B, C: matrix(n,n); (A^1 ·^1 B)^1 ·^1 C - A^1 ·^1 (B^1 ·^1 C)";
    assert_ne!(cli(&["simplify", differs]), "0");
}
