//! The contraction search (`egraph/contract.rs`): every network of vectors and matrices
//! it raises keeps its value. Random einsums over a few index letters (hyperedges,
//! traces, diagonals, lone indices, results of order 0 to 2) are raised and compared
//! with the einsum exactly, in rationals. Also: it reaches the classic forms that the
//! direct raisers miss, and a test that it can fail. Cases: `PROPTEST_CASES`.

mod common;
use bracket::{raise_by_contraction, read, render, Expr, Format};
use proptest::prelude::*;

const DECLS: &str = "A, B, C, D: matrix(n, n); x, y, z: vector(n)";

fn network(einsum: &str) -> bracket::Network {
    common::einsum_network(DECLS, einsum)
}

fn equal(einsum: &str, raised: &Expr) -> bool {
    common::raised_equal(DECLS, einsum, raised)
}

fn einsum() -> impl Strategy<Value = String> {
    let tensors = vec![("A", 2), ("B", 2), ("C", 2), ("D", 2), ("x", 1), ("y", 1), ("z", 1)];
    common::einsums(tensors, 4, 1..6, 3)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]
    #[test]
    fn a_raised_network_keeps_its_value(e in einsum()) {
        if let Some(raised) = raise_by_contraction(&network(&e)) {
            prop_assert!(bracket::is_classic(&raised), "{e} → {}", render(&raised, Format::Unicode));
            prop_assert!(equal(&e, &raised), "{e} → {}", render(&raised, Format::Unicode));
        }
    }
}

/// Networks every classic form reaches: a Hadamard product inside a product with a
/// three-way index, scaling by a vector on a shared index, traces of products.
#[test]
fn it_raises_what_has_a_classic_form() {
    for (e, want) in [
        ("einsum(\"ij,il,kl,ik->jk\", A, B, C, D)", "Aᵀ(BCᵀ ⊙ D)"),
        ("einsum(\"i,ij,ik->jk\", x, A, B)", "Aᵀ(diag(x)B)"),
        ("einsum(\"ij,ji->\", A, B)", "tr(AB)"),
        ("einsum(\"ij,ij,jk->ik\", A, B, C)", "(A ⊙ B)C"),
        ("einsum(\"ij,i,j->\", A, x, y)", "xᵀ(Ay)"),
    ] {
        let raised = raise_by_contraction(&network(e)).unwrap_or_else(|| panic!("{e} not raised"));
        assert!(equal(e, &raised), "{e}");
        assert_eq!(render(&raised, Format::Unicode), want, "{e}");
    }
}

/// The value check can fail: a wrong form is caught.
#[test]
fn the_check_catches_a_wrong_form() {
    let m = read(&format!("{DECLS}; A B")).unwrap();
    let wrong = m.main_expr().unwrap().clone();
    assert!(!equal("einsum(\"ij,kj->ik\", A, B)", &wrong));
}
