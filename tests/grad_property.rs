//! Property: for random scalar functions built from every operator, `grad` agrees with
//! central finite differences, its answer read back from ASCII and Unicode is the same
//! gradient, and every step of `derive` equals the step before it.
//! Cases: `PROPTEST_CASES` (default 48 in CI).

use bracket::{check_derivative, grad, Format};
use proptest::prelude::*;

mod common;

const DECLS: &str = "A, B: matrix(n, n); x, y: vector(n); X: matrix(n, n); λ: scalar; f: elementwise";

fn p(s: String) -> String {
    format!("({s})")
}

/// Matrices that depend on X (and constants).
fn mat(depth: u32) -> BoxedStrategy<String> {
    let base = prop::sample::select(&["X", "A", "X^T", "A X", "X B", "X .* A"][..]).prop_map(str::to_string);
    if depth == 0 {
        return base.boxed();
    }
    let d = depth - 1;
    prop_oneof![
        2 => base,
        1 => (mat(d), mat(d)).prop_map(|(a, b)| format!("{} {}", p(a), p(b))),
        1 => (mat(d), mat(d)).prop_map(|(a, b)| format!("{} + {}", p(a), p(b))),
        1 => (mat(d), mat(d)).prop_map(|(a, b)| format!("{} .* {}", p(a), p(b))),
        1 => mat(d).prop_map(|a| format!("{}^T", p(a))),
        1 => mat(d).prop_map(|a| format!("tanh({a})")),
        1 => mat(d).prop_map(|a| format!("f({a})")),
        1 => mat(d).prop_map(|a| format!("(I + {} .* {})^-1", p(a.clone()), p(a))),
        1 => mat(d).prop_map(|a| format!("{} ./ (1 + {}.^2)", p(a.clone()), p(a))),
        1 => (mat(d), vec(d)).prop_map(|(a, v)| format!("{} {}^T", p(v), p(format!("{} {}", p(a), p(vecs())))) ),
        1 => mat(d).prop_map(|a| format!("{}^2", p(a))),
        1 => mat(d).prop_map(|a| format!("sigmoid({a})")),
    ]
    .boxed()
}

fn vecs() -> String {
    "y".to_string()
}

/// Vectors that depend on x or X.
fn vec(depth: u32) -> BoxedStrategy<String> {
    let base = prop::sample::select(&["x", "X y", "A x", "x .* y", "X^T x"][..]).prop_map(str::to_string);
    if depth == 0 {
        return base.boxed();
    }
    let d = depth - 1;
    prop_oneof![
        2 => base,
        1 => (mat(d), vec(d)).prop_map(|(m, v)| format!("{} {}", p(m), p(v))),
        1 => (vec(d), vec(d)).prop_map(|(a, b)| format!("{} + {}", p(a), p(b))),
        1 => (vec(d), vec(d)).prop_map(|(a, b)| format!("{} .* {}", p(a), p(b))),
        1 => vec(d).prop_map(|v| format!("exp({v} / 8)")),
        1 => vec(d).prop_map(|v| format!("softmax({v})")),
        1 => vec(d).prop_map(|v| format!("ln(1 + {}.^2)", p(v))),
        1 => (vec(d), vec(d)).prop_map(|(a, b)| format!("{} ⊗ {} ·_1 x", p(a), p(b))),
    ]
    .boxed()
}

/// Scalar functions.
fn scalar() -> BoxedStrategy<String> {
    prop_oneof![
        (vec(2), vec(2)).prop_map(|(a, b)| format!("{}^T {}", p(a), p(b))),
        mat(2).prop_map(|m| format!("tr({m})")),
        mat(2).prop_map(|m| format!("sum({m})")),
        (mat(2), mat(1)).prop_map(|(a, b)| format!("{} · {}", p(a), p(b))),
        vec(2).prop_map(|v| format!("||{v}||^2")),
        mat(1).prop_map(|m| format!("det({m})")),
        (vec(1), mat(2), vec(1)).prop_map(|(a, m, b)| format!("{}^T {} {}", p(a), p(m), p(b))),
        (scalar_leaf(), vec(2)).prop_map(|(s, v)| format!("{s} sum({v}) / (1 + λ^2)")),
        mat(1).prop_map(|m| format!("[~{{{m}}} I]")),
        mat(1).prop_map(|m| format!("sqrt(1 + ||{m}||^2)")),
    ]
    .boxed()
}

fn scalar_leaf() -> BoxedStrategy<String> {
    prop::sample::select(&["λ", "2", "(xᵀy)"][..]).prop_map(str::to_string).boxed()
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn grad_matches_finite_differences(f in scalar()) {
        let text = format!("{DECLS}; {f}");
        let model = bracket::read(&text).map_err(|e| TestCaseError::fail(format!("{}\n{}", text, e.render(&text))))?;
        let uses: Vec<&str> = ["x", "X"].into_iter().filter(|v| model.names.contains_key(*v)).collect();
        let ds = grad(&text, &uses).map_err(|e| TestCaseError::fail(e.render(&text)))?;
        for d in ds {
            let fx = d.answer.model.main_expr().unwrap();
            let err = match check_derivative(&d.answer.model, fx, &d.wrt, &d.answer.expr, 2) {
                Ok(c) => c.error(),
                // d|X| = |X|X⁻ᵀ·dX needs X invertible; a random rank-one X is not.
                Err(e) if e.code == bracket::ErrorCode::Eval => f64::NAN,
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            };
            prop_assume!(!err.is_nan(), "a singular or undefined point");
            prop_assert!(err < 1e-5, "∇_{} {} = {} (relative error {:e})", d.wrt, f, d.answer.render(Format::Unicode), err);
            // The answer reads back from its ASCII and Unicode forms, given only its
            // variable's shape (`G + 0 X`), as a right gradient.
            for format in [Format::Ascii, Format::Unicode] {
                let printed = d.answer.render(format);
                let src = format!("{DECLS}; {f}; ({printed}) + 0 {}", d.wrt);
                let back = bracket::read(&src).map_err(|e| TestCaseError::fail(format!("`{printed}` does not read back: {}", e.render(&src))))?;
                let check = check_derivative(&back, &back.exprs[0], &d.wrt, &back.exprs[1], 2)
                    .map_err(|e| TestCaseError::fail(format!("`{printed}` read back: {e}")))?;
                prop_assert!(check.verdict != bracket::Verdict::Failed, "`{}` read back from {:?} is wrong: {:?}", printed, format, check);
            }
        }
    }

    /// Every step of `bracket::derive` on a random expression equals the step before it
    /// (as a differential: the same random dX in every step), in floating point.
    #[test]
    fn derivation_steps_are_equal(f in scalar()) {
        let text = format!("{DECLS}; {f}");
        let model = bracket::read(&text).map_err(|e| TestCaseError::fail(format!("{}\n{}", text, e.render(&text))))?;
        for wrt in ["x", "X"].into_iter().filter(|v| model.names.contains_key(*v)) {
            let d = bracket::derive(&text, wrt).map_err(|e| TestCaseError::fail(e.render(&text)))?;
            let env = bracket::random_env::<f64>(&d.model, bracket::Draw::default())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let values: Vec<_> = d.steps.iter().map(|s| bracket::eval(&s.expr, &env)).collect();
            prop_assume!(values.iter().all(|v| v.is_ok()), "a singular or undefined point");
            let values: Vec<_> = values.into_iter().map(Result::unwrap).collect();
            prop_assume!(values.iter().all(|v| v.iter().all(|x| x.is_finite())), "an undefined point");
            if let Some(k) = common::unequal_step(&values, 1e-6) {
                let text = d.render(Format::Unicode);
                prop_assert!(false, "{}: step {} ({}) differs from the one before:\n{}", f, k + 1, d.steps[k].why, text);
            }
        }
    }
}

/// A case the property found: cancelling wrote a ones matrix as a bare `1` (as in
/// `(… + s 1)diag(y)`), which reads back as a vector. It is written `1_n yᵀ` or `11ᵀ`.
#[test]
fn a_ones_matrix_in_an_answer_reads_back() {
    let f = "sum((sigmoid(X)) ((x .* y) ((X) (y))^T))";
    let text = format!("{DECLS}; {f}");
    for d in grad(&text, &["x", "X"]).unwrap() {
        for format in [Format::Ascii, Format::Unicode] {
            let printed = d.answer.render(format);
            let src = format!("{text}; ({printed}) + 0 {}", d.wrt);
            let back =
                bracket::read(&src).unwrap_or_else(|e| panic!("`{printed}` does not read back: {}", e.render(&src)));
            let check = check_derivative(&back, &back.exprs[0], &d.wrt, &back.exprs[1], 2).unwrap();
            assert!(check.verdict != bracket::Verdict::Failed, "`{printed}` read back is wrong: {check:?}");
        }
    }
}
