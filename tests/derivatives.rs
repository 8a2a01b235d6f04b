//! The tutorial's worked derivatives (EXAMPLES.md §4–§6), computed by the general
//! machinery: each is checked against central finite differences, and against the
//! tutorial's result by evaluating both on the same random tensors. The expected forms
//! below are the tutorial's, written here only as test oracles.

mod common;
use bracket::{check_derivative, grad, jacobian, render, Format};
use common::same_value;

/// Computes ∇ (or the Jacobian) of `f` by `x`, checks it by finite differences, and
/// checks it equals `expected` (an expression over the same names).
fn derive(decls: &str, f: &str, x: &str, expected: &str) -> String {
    let text = if decls.is_empty() { f.to_string() } else { format!("{decls}; {f}") };
    let scalar = bracket::simplify(&text).unwrap().expr.is_scalar();
    let d = if scalar { grad(&text, &[x]) } else { jacobian(&text, &[x]) };
    let d = d.unwrap_or_else(|e| panic!("{}", e.render(&text))).remove(0);
    let model = &d.answer.model;
    let fx = model.main_expr().unwrap();
    let err = check_derivative(model, fx, x, &d.answer.expr, 3).unwrap().error();
    let shown = d.answer.render(Format::Unicode);
    assert!(err < 1e-6, "∇_{x} {f} = {shown}: finite differences disagree (relative error {err:e})");
    // The tutorial's form, read in the same model (the same names and sizes), against the
    // computed derivative, on the same random tensors.
    let with_expected = format!("{text}; {expected}");
    let m2 = bracket::read(&with_expected).unwrap_or_else(|e| panic!("{}", e.render(&with_expected)));
    let want = m2.exprs.last().unwrap();
    for seed in [1, 2, 3] {
        let env = bracket::random_env::<f64>(&m2, bracket::Draw { seed, ..Default::default() }).unwrap();
        let a = bracket::eval(&d.answer.expr, &env).unwrap();
        let b = bracket::eval(want, &env).unwrap();
        assert!(bracket::close(&a, &b, 1e-9), "∇_{x} {f} = {shown} is not the tutorial's {expected}");
    }
    shown
}

#[test]
fn section_4_rules() {
    // 4.1: d f(X) = f'(X) ⊙ dX; as a Jacobian of an element-wise f it is diag-like, so
    // check the differential itself through a scalar: ∇_X sum(f(X)) = f'(X).
    derive("f: elementwise", "sum(f(X))", "X", "f'(X)");
    // 4.4a, 4.4c
    // `I + 0X`: the identity with X's size (a bare `I` would have a size of its own).
    assert_eq!(derive("", "tr(X)", "X", "I + 0 X"), "I");
    assert_eq!(derive("", "det(X)", "X", "|X| X^-T"), "|X|X⁻ᵀ");
    // 4.3.5: the gradient of softmax.
    let s = derive("", "softmax(a)", "a", "diag(softmax(a)) - softmax(a) softmax(a)^T");
    assert_eq!(s, "diag(softmax(a)) − softmax(a)softmax(a)ᵀ");
}

#[test]
fn section_4_4b_inverse() {
    // d(X⁻¹) = −X⁻¹ dX X⁻¹: the differential, and its Jacobian checked numerically.
    let d = bracket::differential_of("X^-1").unwrap();
    let src = format!("X: matrix(n, n); {}; -X^-1 dX X^-1", render(&d.expr, Format::Ascii));
    assert!(same_value(&src, &[1, 2, 3]), "{}", render(&d.expr, Format::Unicode));
    let j = jacobian("X^-1", &["X"]).unwrap().remove(0);
    let f = j.answer.model.main_expr().unwrap();
    assert!(check_derivative(&j.answer.model, f, "X", &j.answer.expr, 3).unwrap().error() < 1e-6);
}

#[test]
fn section_5_basic_examples() {
    assert_eq!(derive("", "a^T x", "x", "a"), "a");
    derive("", "x^T A x", "x", "(A + A^T) x");
    assert_eq!(derive("", "a^T X b", "X", "a b^T"), "abᵀ");
    derive("", "a^T X X^T a", "X", "2 a a^T X");
    assert_eq!(derive("", "tr(A X^-1 B)", "X", "-X^-T A^T B^T X^-T"), "−(X⁻¹BAX⁻¹)ᵀ");
}

#[test]
fn section_5_6_jacobian_of_x_xt_entrywise() {
    // J_{ijp} = δ_ip x_j + x_i δ_jp.
    let shown = derive("", "x x^T", "x", "(I ⊗ x)_{132} + x ⊗ I");
    assert!(!shown.is_empty());
    let j = jacobian("x: vector(3); x x^T", &["x"]).unwrap().remove(0);
    let v = bracket::evaluate(
        &format!("x: vector(3); {}", render(&j.answer.expr, Format::Ascii)),
        &[("x".into(), "[1, 2, 3]".into())],
        1,
    )
    .unwrap();
    let x = [1i64, 2, 3];
    for i in 0..3 {
        for jj in 0..3 {
            for p in 0..3 {
                let want = i64::from(i == p) * x[jj] + x[i] * i64::from(jj == p);
                assert_eq!(v.value[i][jj][p], want, "entry ({i},{jj},{p})");
            }
        }
    }
}

#[test]
fn section_6_1_single_layer_net() {
    let d = "f: elementwise; h = f(X W + 1 b^T); J = 1/2 (h - Y) · (h - Y); Z = h - Y; C = f'(X W + 1 b^T)";
    derive(d, "J", "W", "X^T (Z .* C)");
    derive(d, "J", "b", "(Z .* C)^T 1");
}

#[test]
fn section_6_2_local_steps() {
    let d = "P, Q: matrix(n, m)";
    assert_eq!(derive(d, "P · Q ⊙ (R S)", "R", "(P .* Q) S^T"), "(P ⊙ Q)Sᵀ");
    assert_eq!(derive(d, "P · Q ⊙ (R S)", "S", "R^T (P .* Q)"), "Rᵀ(P ⊙ Q)");
    assert_eq!(derive(d, "P · Q ⊙ (1 d^T)", "d", "(P .* Q)^T 1"), "(P ⊙ Q)ᵀ1");
}

#[test]
fn section_6_2_regression_loss() {
    let d = "N, λ: scalar";
    derive(d, "1/(2N) ||Z W - Y||^2 + λ/2 dot(W, W)", "W", "1/N Z^T (Z W - Y) + λ W");
    derive(d, "1/(2N) ||Z - Y||^2", "Z", "1/N (Z - Y)");
}

#[test]
fn section_6_4_eq_48_and_helpers() {
    assert_eq!(derive("", "G · ((B .* D) W)", "D", "B .* (G W^T)"), "B ⊙ GWᵀ");
    derive("", "A · (B D)", "D", "B^T A");
    derive("", "A · (1 d^T)", "d", "A^T 1");
}

#[test]
fn a_variable_that_does_not_occur_has_gradient_zero() {
    // Declared but unused: zero. Neither declared nor used: an error (likely a typo).
    let d = grad("x^T A x; y: vector(n)", &["y"]).unwrap().remove(0);
    assert_eq!(d.answer.render(Format::Unicode), "0");
    assert_eq!(d.answer.expr.shape, vec![bracket::Dim::Sym("n".into())]);
    assert!(grad("x^T A x", &["y"]).is_err());
    let d = grad("A: matrix(n, n); y: vector(n); x^T A x + 0 y^T y", &["y"]).unwrap().remove(0);
    assert_eq!(d.answer.render(Format::Unicode), "0");
}

#[test]
fn like_terms_merge() {
    // aᵀdXXᵀa + aᵀXdXᵀa = 2aᵀdXXᵀa: one term with coefficient 2.
    let d = grad("a^T X X^T a", &["X"]).unwrap().remove(0);
    assert!(d.answer.render(Format::Unicode).starts_with('2'), "{}", d.answer.render(Format::Unicode));
    let d = grad("x^T x", &["x"]).unwrap().remove(0);
    assert_eq!(d.answer.render(Format::Unicode), "2x");
}

#[test]
fn check_on_the_command_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(["grad", "x^T A x", "--wrt", "x", "--check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    let line = text.lines().find(|l| l.starts_with("check: relative error")).expect("a check line");
    let err: f64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!(err < 1e-6, "{line}");
}

#[test]
fn a_program_with_a_grad_query() {
    let program = "f: elementwise\nh = f(X W + 1 b^T)\nJ = 1/2 (h - Y) · (h - Y)\ngrad J wrt W, b";
    let ds = bracket::answer_queries(program).unwrap();
    assert_eq!(ds.iter().map(|d| d.wrt.as_str()).collect::<Vec<_>>(), ["W", "b"]);
    for d in &ds {
        let err = check_derivative(&d.answer.model, &d.function, &d.wrt, &d.answer.expr, 3).unwrap().error();
        assert!(err < 1e-6, "∇_{} = {}: {err:e}", d.wrt, d.answer.render(Format::Unicode));
    }
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_bracket")).args(["grad", program, "--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("∇_{W}J = Xᵀ(∇_{h}J ⊙ f'(XW + 1bᵀ))") && text.contains("∇_{h}J = h − Y"), "{text}");
}

#[test]
fn a_long_chain_comes_back_gathered() {
    // Past LONG_CHAIN factors the rules cannot rebracket a chain; its transposes start
    // gathered, so ∇ by a middle factor is (X1…X{k-1})ᵀa(X{k+1}…X24 b)ᵀ, not a
    // half-gathered tail of single transposes.
    let n = 24;
    let names: Vec<String> = (1..=n).map(|k| format!("X{k}")).collect();
    let text = format!("a^T {} b", names.join(" "));
    let d = grad(&text, &["X10"]).unwrap().remove(0);
    let shown = d.answer.render(Format::Unicode);
    let left: String = names[..9].concat();
    let right: String = names[10..].concat();
    assert_eq!(shown, format!("({left})ᵀa({right}b)ᵀ"));
    assert_eq!(d.answer.saturation.as_ref().map(|r| r.limited), Some(false), "{shown}");
    let err = check_derivative(&d.answer.model, &d.function, "X10", &d.answer.expr, 2).unwrap().error();
    assert!(err < 1e-6, "{shown}: {err:e}");
}
