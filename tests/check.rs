//! `--check` gives a verdict and exits by it: 0 verified, 1 failed or not possible, 2
//! bad input. Its random points lie in the function's domain (positive definite,
//! positive entries), so functions defined only there are checked, never skipped.

use bracket::{check_derivative, grad, read, Verdict};

mod common;

const KILL_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the binary: exit code and standard output.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let (out, _) = common::run_with_stdin(args, "", KILL_AFTER);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
}

/// The relative error printed on the `check:` line.
fn printed_error(stdout: &str) -> f64 {
    let line = stdout.lines().find(|l| l.starts_with("check: relative error ")).unwrap_or_else(|| panic!("{stdout}"));
    line["check: relative error ".len()..].split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn functions_defined_on_part_of_the_space_are_checked() {
    let cases = [
        ("N: scalar; S: symmetric; N/2 ln det(S) + 1/2 tr(S^-1 (X - 1 m^T)^T (X - 1 m^T))", "S"),
        ("A: symmetric; ln det(X^T A X)", "X"),
        ("-1^T ln(b - A x)", "x"),
        ("-p^T ln(p)", "p"),
        ("sum(ln(diag(X)))", "X"),
        ("p^T (ln(p) - ln(softmax(z)))", "z"),
        ("ln det(X)", "X"),
        ("nu: scalar; S: symmetric; -(nu + 3)/2 ln(1 + (x - m)^T S^-1 (x - m) / nu) - 1/2 ln det(S)", "S"),
        // A declared function stands in as one with values in (0, 1): a probit model's
        // ln Φ and ln(1 − Φ) are defined at every point (the cubic it was never were).
        (
            "X: matrix(N, p); y: vector(N); w: vector(p); Phi: elementwise; \
             -y^T ln(Phi(X w)) - (1 - y)^T ln(1 - Phi(X w))",
            "w",
        ),
        ("f: elementwise; 1^T sqrt(f(A x))", "x"),
    ];
    for (f, x) in cases {
        let (code, stdout) = run(&["grad", f, "--wrt", x, "--check"]);
        assert_eq!(code, Some(0), "{f}: {stdout}");
        let e = printed_error(&stdout);
        assert!(e.is_finite() && e < 1e-6, "{f}: {stdout}");
    }
}

#[test]
fn a_wrong_gradient_fails_the_check() {
    // The right gradient, then the same perturbed on purpose.
    let text = "A: matrix(n, n); x: vector(n); x^T A x";
    let d = &grad(text, &["x".to_string()]).unwrap()[0];
    let ok = check_derivative(&d.answer.model, &d.function, "x", &d.answer.expr, 3).unwrap();
    assert_eq!(ok.verdict, Verdict::Verified, "{ok:?}");
    let model = read(&format!("{text}; (A + A^T) x + 0.001 x")).unwrap();
    let wrong = &model.exprs[1];
    let bad = check_derivative(&model, &model.exprs[0], "x", wrong, 3).unwrap();
    assert_eq!(bad.verdict, Verdict::Failed, "{bad:?}");
    assert!(bad.error() > 1e-6 && bad.error().is_finite());
    assert!(bad.line("central differences").starts_with("check: FAILED: relative error"));
    // A declared function's stand-in tells f from f' and f' from f''.
    for wrong in ["A^T f(A x)", "A^T f''(A x)", "2 A^T f'(A x)"] {
        let model = read(&format!("f: elementwise; x: vector(n); 1^T f(A x); {wrong}")).unwrap();
        let bad = check_derivative(&model, &model.exprs[0], "x", &model.exprs[1], 3).unwrap();
        assert_eq!(bad.verdict, Verdict::Failed, "{wrong}: {bad:?}");
    }
    // A gradient that is off by a transpose.
    let model = read("A: matrix(n, n); X: matrix(n, n); tr(A X); A").unwrap();
    let bad = check_derivative(&model, &model.exprs[0], "X", &model.exprs[1], 3).unwrap();
    assert_eq!(bad.verdict, Verdict::Failed, "{bad:?}");
}

#[test]
fn no_usable_point_is_said_plainly_and_exits_1() {
    // ln of a negative number is nowhere defined: the answer is printed, then the verdict.
    let (code, stdout) = run(&["grad", "ln(-(x^T x))", "--wrt", "x", "--check"]);
    assert_eq!(code, Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains('x'), "{stdout}");
    assert!(lines.last().unwrap().starts_with("check: not possible: "), "{stdout}");
    assert!(!stdout.contains("NaN"), "{stdout}");
}

#[test]
fn batch_and_json_carry_the_verdict() {
    let (code, stdout) = run(&["grad", "-p^T ln(p)", "--wrt", "p", "--check", "--format", "json"]);
    assert_eq!(code, Some(0), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let c = &v["derivatives"][0]["check"];
    assert_eq!(c["verdict"], "verified", "{c}");
    assert_eq!(c["points"], 3, "{c}");
    assert!(c["relative_error"].as_f64().unwrap() < 1e-6, "{c}");
    let (code, stdout) = run(&["grad", "ln(-(x^T x))", "--wrt", "x", "--check", "--format", "json"]);
    assert_eq!(code, Some(1), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["derivatives"][0]["check"]["verdict"], "not possible");
    assert!(v["derivatives"][0]["check"]["relative_error"].is_null());
    // batch: a program's check, per parameter.
    let query = r#"{"command": "grad", "expr": "h = W x; J = a^T W h; grad J wrt W", "check": true}"#;
    let (out, _) = common::run_with_stdin(&["batch"], query, KILL_AFTER);
    let v: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    let w = v["equations"].as_array().unwrap().iter().find(|e| e["target"] == "W").unwrap();
    assert_eq!(w["check"]["verdict"], "verified", "{w}");
}

#[test]
fn programs_check_against_finite_differences_of_the_program() {
    let (code, stdout) = run(&["grad", "h = W x; J = a^T W h; grad J wrt W", "--check"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(printed_error(&stdout) < 1e-6, "{stdout}");
    // The check of a program whose loss is nowhere defined cannot be made: exit 1.
    let (code, stdout) = run(&["grad", "h = W x; J = ln(-(h^T h)); grad J wrt W", "--check"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.lines().last().unwrap().starts_with("check: not possible"), "{stdout}");
}

#[test]
fn bad_input_with_check_is_still_exit_2() {
    let (code, _) = run(&["grad", "A: matrix(n, m); tr(A)", "--wrt", "A", "--check"]);
    assert_eq!(code, Some(2));
}

#[test]
fn a_matrix_singular_in_exact_arithmetic_is_not_a_point_to_compare_at() {
    // WᵀW of a wide W (n < k at a random size) is singular, but a float elimination
    // leaves a pivot of rounding size: its inverse was noise, and the vec form of this
    // right Hessian failed against the tensor layout (survey: error 0.42).
    for f in ["W: matrix(n, k); ln det(W^T W)", "W: matrix(n, k); S: symmetric(n); tr(W^T S W) - ln det(W^T W)"] {
        let (code, out) = run(&["hessian", f, "--wrt", "W", "--layout", "vec", "--check"]);
        assert_eq!(code, Some(0), "{f}\n{out}");
        assert!(printed_error(&out) < 1e-6, "{out}");
    }
    // Where the matrix is invertible the inverse is still computed: a wrong form fails.
    let (code, out) = run(&["grad", "X: matrix(n, n); ln det(X)", "--wrt", "X", "--check"]);
    assert_eq!(code, Some(0), "{out}");
    let model = read("X: matrix(n, n); ln det(X); X^-1").unwrap();
    let check = check_derivative(&model, &model.exprs[0], "X", &model.exprs[1], 3).unwrap();
    assert_eq!(check.verdict, Verdict::Failed, "X⁻¹ is not X⁻ᵀ: {check:?}");
}

/// A sigmoid far out is flat to finite differences through `ln(1 − σ(z))` (1 − σ(30)
/// is 1e−13, its rounding a relative 1e−3): a right answer is not failed there (survey
/// 8's VAE, whose exp(L/2) sends the decoder's logits that far), and a wrong one still is.
#[test]
fn a_saturated_sigmoid_neither_fails_a_right_answer_nor_passes_a_wrong_one() {
    let vae = "X: matrix(N, d); E: matrix(N, k); Wm, Wl: matrix(d, k); Wd: matrix(k, d); M = X Wm; \
               L = X Wl; Z = M + exp(L/2) .* E; R = sigmoid(Z Wd); \
               J = -dot(X, ln(R)) - dot(1 - X, ln(1 - R)); grad J wrt Wm, Wl, Wd";
    let (code, stdout) = run(&["grad", vae, "--check"]);
    assert_eq!(code, Some(0), "{stdout}");
    // The same loss on logits scaled up, against a gradient off by a factor.
    let text = "X: matrix(N, p); y: vector(N); w: vector(p); \
                -y^T ln(sigmoid(6 X w)) - (1 - y)^T ln(1 - sigmoid(6 X w))";
    let model = read(&format!("{text}; 6 X^T (sigmoid(6 X w) - y)")).unwrap();
    let right = check_derivative(&model, &model.exprs[0], "w", &model.exprs[1], 3).unwrap();
    assert_eq!(right.verdict, Verdict::Verified, "{right:?}");
    let model = read(&format!("{text}; 7 X^T (sigmoid(6 X w) - y)")).unwrap();
    let wrong = check_derivative(&model, &model.exprs[0], "w", &model.exprs[1], 3).unwrap();
    assert_eq!(wrong.verdict, Verdict::Failed, "{wrong:?}");
}

/// Drawn values are quarters, so a relu's input is often exactly 0, where central
/// differences give the slope 1/2 and the answer relu'(0) = 0: a right gradient FAILED
/// (survey 22: at 200 rows, and a 3-layer ReLU classifier's b1 and W1). The variable
/// moves off the kink, its definitions with it; a wrong answer still fails.
#[test]
fn a_relu_at_its_kink_neither_fails_a_right_answer_nor_passes_a_wrong_one() {
    for n in [200, 1000] {
        let (code, stdout) = run(&["grad", &format!("X: matrix({n}, 3); sum(relu(X w))"), "--wrt", "w", "--check"]);
        assert_eq!(code, Some(0), "{stdout}");
    }
    let program = "N: scalar\nY 1 = 1\nH1 = relu(X W1 + 1 b1^T)\nH2 = relu(H1 W2 + 1 b2^T)\n\
                   Z = H2 W3 + 1 b3^T\nJ = -sum(Y .* ln(softmax(Z)))/N\ngrad J wrt W1, b1, W2, b2, W3, b3";
    let (code, stdout) = run(&["grad", program, "--check"]);
    assert_eq!(code, Some(0), "{stdout}");
    let text = "X: matrix(200, 3); w: vector(3); H = relu(X w); 1/2 H^T H";
    let model = read(&format!("{text}; X^T (H .* relu'(X w))")).unwrap();
    let right = check_derivative(&model, &model.exprs[0], "w", &model.exprs[1], 3).unwrap();
    assert_eq!(right.verdict, Verdict::Verified, "{right:?}");
    let model = read(&format!("{text}; X^T (H .* relu'(X w)) + 0.01 X^T relu'(X w)")).unwrap();
    let wrong = check_derivative(&model, &model.exprs[0], "w", &model.exprs[1], 3).unwrap();
    assert_eq!(wrong.verdict, Verdict::Failed, "{wrong:?}");
}

#[test]
fn a_unit_length_fact_is_drawn_and_another_fact_is_no_verdict() {
    // `xᵀx = 1` (PCA, a Rayleigh quotient): the points lie on the sphere, so answers
    // simplified with the fact verify; drawn off it, the right `4x` FAILED (survey 11).
    for (cmd, f) in [
        ("grad", "x: vector(n); x^T x = 1; (x^T x)^2"),
        ("hessian", "x: vector(n); x^T x = 1; (x^T x)^2"),
        ("grad", "A: symmetric(n); x: vector(n); ||x|| = 1; (x^T x) (x^T A x)"),
        ("grad", "x: vector(n); x^T x = 2; (x^T x)^2"),
        // Its Hessian took 16 s: the fact makes xxᵀ idempotent (`appliers::powers`).
        ("hessian", "A: symmetric(n); x: vector(n); x^T x = 1; x^T A x / (x^T x)"),
    ] {
        let (code, out) = run(&[cmd, f, "--wrt", "x", "--check"]);
        assert_eq!(code, Some(0), "{f}\n{out}");
    }
    // A wrong answer on the sphere still fails: 4x against the gradient of (xᵀx)³ there, 6x.
    let model = read("x: vector(n); x^T x = 1; (x^T x)^3").unwrap();
    let f = model.main_expr().unwrap().clone();
    let wrong = read("x: vector(n); 4 x").unwrap().main_expr().unwrap().clone();
    assert_eq!(check_derivative(&model, &f, "x", &wrong, 3).unwrap().verdict, Verdict::Failed);
    // A fact no draw imposes (orthonormal columns): an answer that used it cannot be
    // checked, and the check says why rather than FAILED; one that did not still verifies.
    let (code, out) = run(&["grad", "X: matrix(n, n); X^T X = I; tr(X^T X) tr(X)", "--wrt", "X", "--check"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("check: not possible") && out.contains("a stated fact does not hold"), "{out}");
    let (code, out) = run(&["grad", "X: matrix(n, n); X^T X = I; tr(X^T A X)", "--wrt", "X", "--check"]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn derivatives_of_any_order_are_evaluated_so_their_check_runs() {
    // tanh''' and σ''' had no value in floating point, so a Hessian holding one could
    // not be checked (survey 19: "no usable point", exit 1), the planar flow's program
    // HVP neither. Each derivative is checked against finite differences of the one
    // below it, of the third and fourth orders (a name takes at most three primes).
    for f in ["tanh", "sigmoid", "ln", "sqrt", "exp"] {
        for order in 3..=4 {
            let below = "'".repeat(order - 1);
            let text = format!("w: vector(d); sum({f}{below}(w))");
            let (code, stdout) = run(&["grad", &text, "--wrt", "w", "--check"]);
            assert_eq!(code, Some(0), "{text}: {stdout}");
            assert!(printed_error(&stdout) < 1e-6, "{text}: {stdout}");
        }
    }
    let (code, stdout) = run(&["hessian", "w: vector(d); sum(tanh'(w))", "--wrt", "w", "--check"]);
    assert_eq!(code, Some(0), "{stdout}");
}
