//! Round trips: random well-shaped expressions in both notations; each printer's output
//! (ASCII, Unicode, bracket) parses back to an expression of equal value, exactly where
//! no transcendental function is involved; and the e-graph's `simplify` keeps the value.
//! Cases: `PROPTEST_CASES` (default 64 in CI).

mod common;
use bracket::{read, render, ErrorCode, Format};
use common::{try_values, Values};
use proptest::prelude::*;

const DECLS: &str = "A, B, C: matrix(n, n); S: symmetric(n); x, y, z: vector(n); λ, μ: scalar; \
                     T: tensor(n, n, n); f: elementwise";

fn p(s: String) -> String {
    format!("({s})")
}

fn leaf(options: &'static [&'static str]) -> BoxedStrategy<String> {
    proptest::sample::select(options).prop_map(str::to_string).boxed()
}

fn scalar(depth: u32) -> BoxedStrategy<String> {
    let base = leaf(&[
        "λ",
        "mu",
        "2",
        "1/2",
        "[~x y]",
        "[~A B]",
        "[~x A_1][~A_2 y]",
        "3",
        // The rest of the tutorial's notation (issue 21): sums of entries, ones beside
        // a contraction, a closed bracket inside a member, Unicode subscripts.
        "[~A]",
        "1 ·_> A",
        "[~x (A_1 [~A_2 y])]",
        "[x̄ A₁][Ā₂ y]",
    ]);
    if depth == 0 {
        return base;
    }
    let d = depth - 1;
    prop_oneof![
        2 => base,
        1 => (vector(d), vector(d)).prop_map(|(a, b)| format!("{}^T {}", p(a), p(b))),
        1 => matrix(d).prop_map(|m| format!("tr({m})")),
        1 => matrix(d).prop_map(|m| format!("sum({m})")),
        1 => (matrix(d), matrix(d)).prop_map(|(a, b)| format!("{} · {}", p(a), p(b))),
        1 => (scalar(d), scalar(d)).prop_map(|(a, b)| format!("{} {}", p(a), p(b))),
        1 => (scalar(d), scalar(d)).prop_map(|(a, b)| format!("{} - {}", p(a), p(b))),
        1 => matrix(d).prop_map(|m| format!("det({m})")),
        1 => vector(d).prop_map(|v| format!("||{v}||^2")),
        1 => (matrix(d), matrix(d)).prop_map(|(a, b)| format!("{} cdot_2 {}", p(a), p(b))),
        1 => (vector(d), vector(d)).prop_map(|(a, b)| format!("dot({a}, {b})")),
    ]
    .boxed()
}

fn vector(depth: u32) -> BoxedStrategy<String> {
    let base = leaf(&[
        "x",
        "y",
        "z",
        "A_1 [~A_2 x]",
        "[x y]",
        "[x ~A_1] A_2",
        "1 + x",
        "B x",
        "(1^T A)^T",
        "[x (A_1 [~A_2 y])]",
        "1 ·_1 (x y^T)",
        "A₁ [Ā₂ x]",
    ]);
    if depth == 0 {
        return base;
    }
    let d = depth - 1;
    prop_oneof![
        2 => base,
        1 => (matrix(d), vector(d)).prop_map(|(m, v)| format!("{} {}", p(m), p(v))),
        1 => (vector(d), vector(d)).prop_map(|(a, b)| format!("{} + {}", p(a), p(b))),
        1 => (vector(d), vector(d)).prop_map(|(a, b)| format!("{} .* {}", p(a), p(b))),
        1 => (scalar(d), vector(d)).prop_map(|(s, v)| format!("{} {}", p(s), p(v))),
        1 => (vector(d), matrix(d)).prop_map(|(v, m)| format!("({}^T {})^T", p(v), p(m))),
        1 => matrix(d).prop_map(|m| format!("diag({m})")),
        1 => vector(d).prop_map(|v| format!("-{}", p(v))),
        1 => vector(d).prop_map(|v| format!("tanh({v})")),
        1 => (tensor(d), vector(d), vector(d)).prop_map(|(t, a, b)| format!("({} cdot_1 {}) {}", p(t), p(a), p(b))),
        1 => vector(d).prop_map(|v| format!("softmax({v})")),
    ]
    .boxed()
}

fn matrix(depth: u32) -> BoxedStrategy<String> {
    let base = leaf(&[
        "A",
        "B",
        "C",
        "S",
        "A + I",
        "I A",
        "[A B]",
        "A_1 [~A_2 B_1] B_2",
        "A_2 A_1",
        "A₂ A₁",
        "[A (B_1 [~B_2 C_1] C_2)]",
        "x y",
        "A^-1",
        "einsum(\"ij,kj->ik\", A, B)",
        "T_{[12]3}",
        "x y^T",
        "1 x^T + A",
        "B^2",
        "A 1 y^T",
    ]);
    if depth == 0 {
        return base;
    }
    let d = depth - 1;
    prop_oneof![
        3 => base,
        1 => (matrix(d), matrix(d)).prop_map(|(a, b)| format!("{} + {}", p(a), p(b))),
        1 => (matrix(d), matrix(d)).prop_map(|(a, b)| format!("{} - {}", p(a), p(b))),
        1 => (matrix(d), matrix(d)).prop_map(|(a, b)| format!("{} {}", p(a), p(b))),
        1 => matrix(d).prop_map(|m| format!("{}^T", p(m))),
        1 => (matrix(d), matrix(d)).prop_map(|(a, b)| format!("{} .* {}", p(a), p(b))),
        1 => (scalar(d), matrix(d)).prop_map(|(s, m)| format!("{} {}", p(s), p(m))),
        1 => (vector(d), vector(d)).prop_map(|(a, b)| format!("{} {}^T", p(a), p(b))),
        1 => vector(d).prop_map(|v| format!("diag({v})")),
        1 => (tensor(d), vector(d)).prop_map(|(t, v)| format!("{} cdot_1 {}", p(t), p(v))),
        1 => (matrix(d), scalar(d)).prop_map(|(m, s)| format!("{} / (1 + {}^2)", p(m), p(s))),
        1 => matrix(d).prop_map(|m| format!("f'({m})")),
        1 => (matrix(d), matrix(d)).prop_map(|(a, b)| format!("{} ./ (1 + {} .* {})", p(a), p(b.clone()), p(b))),
        1 => (vector(d), vector(d)).prop_map(|(a, b)| format!("kron({a}, {b})")),
        1 => matrix(d).prop_map(|m| format!("({m})^{{-1}}")),
        1 => matrix(d).prop_map(|m| format!("{}.^2", p(m))),
    ]
    .boxed()
}

fn tensor(depth: u32) -> BoxedStrategy<String> {
    let base = leaf(&["T", "x y z", "[T_1 x] T_{23}", "A_1 x A_2"]);
    if depth == 0 {
        return base;
    }
    let d = depth - 1;
    prop_oneof![
        2 => base,
        1 => (vector(d), matrix(d)).prop_map(|(v, m)| format!("{} ⊗ {}", p(v), p(m))),
        1 => tensor(d).prop_map(|t| format!("{}_{{213}}", p(t))),
        1 => (tensor(d), tensor(d)).prop_map(|(a, b)| format!("{} + {}", p(a), p(b))),
        1 => (scalar(d), tensor(d)).prop_map(|(s, t)| format!("{} {}", p(s), p(t))),
        1 => (matrix(d), tensor(d)).prop_map(|(m, t)| format!("{}^{{12}} odot^{{12}} {}", p(m), p(t))),
        1 => (tensor(d), matrix(d)).prop_map(|(t, m)| format!("{}^{{3 1}} odot^{{1 2}} {}", p(t), p(m))),
    ]
    .boxed()
}

fn any_expr() -> BoxedStrategy<String> {
    prop_oneof![scalar(3), vector(3), matrix(3), tensor(2)].boxed()
}

/// Reads `decls; original; printed` and checks both values agree on two draws.
fn check(text: &str, format: Format) -> Result<(), TestCaseError> {
    let src = format!("{DECLS}; {text}");
    let model = read(&src).map_err(|e| TestCaseError::fail(format!("{}\n{}", src, e.render(&src))))?;
    let e = model.main_expr().expect("an expression").clone();
    let printed = render(&e, format);
    let both = format!("{DECLS}; {text}; {printed}");
    let model2 = read(&both).map_err(|err| {
        TestCaseError::fail(format!("{format:?} output does not parse:\n{}\n{}", printed, err.render(&both)))
    })?;
    for seed in [11, 12] {
        let equal = match try_values(&model2, seed, 4) {
            Ok(Values::Exact(v)) => v[0] == v[1],
            Ok(Values::Float(v)) => bracket::close(&v[0], &v[1], 1e-8),
            Err(e) => {
                // Singular matrices, division by zero: no value to compare.
                prop_assume!(e.code == ErrorCode::Eval, "evaluation failed: {}", e);
                true
            }
        };
        prop_assert!(equal, "{:?} output `{}` of `{}` has another value", format, printed, text);
    }
    Ok(())
}

/// `simplify(e)` (the e-graph) evaluates equal to `e`; and its ASCII reads back equal
/// where it holds no `1` or `I` (a size carried only by them is lost in print,
/// docs/syntax.md, known gaps: `kron(1, A)`, `tr(I)`, `1/s` of a ones vector).
fn check_simplify(text: &str) -> Result<(), TestCaseError> {
    let src = format!("{DECLS}; {text}");
    let answer = bracket::simplify(&src);
    // An input defined nowhere (`(M − M)⁻¹`, which the generator can make) is refused, as
    // it should be: no value to keep.
    if let Err(e) = &answer {
        prop_assume!(!e.message.contains("for every value"), "defined nowhere: {}", e.message);
    }
    let answer = answer.map_err(|e| TestCaseError::fail(format!("{}\n{}", src, e.render(&src))))?;
    let mut model = read(&src).expect("reads");
    model.exprs.push(answer.expr.clone());
    let printed = render(&answer.expr, Format::Ascii);
    let sized = !printed.contains('1') && !printed.contains('I') && !printed.contains("0");
    if sized {
        let again = format!("{DECLS}; {printed}");
        let reread = read(&again)
            .map_err(|e| TestCaseError::fail(format!("`{printed}` does not parse: {}", e.render(&again))))?;
        model.exprs.push(reread.main_expr().expect("an expression").clone());
    } else {
        model.exprs.push(answer.expr.clone());
    }
    for seed in [11, 12] {
        let equal = match try_values(&model, seed, 4) {
            Ok(Values::Exact(v)) => v[v.len() - 3] == v[v.len() - 2] && v[v.len() - 2] == v[v.len() - 1],
            Ok(Values::Float(v)) => {
                bracket::close(&v[v.len() - 3], &v[v.len() - 2], 1e-8)
                    && bracket::close(&v[v.len() - 2], &v[v.len() - 1], 1e-8)
            }
            Err(e) => {
                prop_assume!(e.code == ErrorCode::Eval, "evaluation failed: {}", e);
                true
            }
        };
        prop_assert!(equal, "simplify(`{}`) = `{}` has another value", text, printed);
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ascii_round_trip(text in any_expr()) {
        check(&text, Format::Ascii)?;
    }

    #[test]
    fn unicode_round_trip(text in any_expr()) {
        check(&text, Format::Unicode)?;
    }

    #[test]
    fn bracket_round_trip(text in any_expr()) {
        check(&text, Format::Bracket)?;
    }

    #[test]
    fn simplify_keeps_the_value(text in any_expr()) {
        check_simplify(&text)?;
    }
}

/// A sum of determinant terms prints sixteen bars; reading it back once took pest past its
/// step limit (each bar could open or close). Inside `|…|` a bar now only closes.
#[test]
fn many_determinant_bars_read_back() {
    let text = "((((T) + (T))_{213}) cdot_1 ((det(A)) ((1 + x) + (1 + x)))) (x)";
    let printed = render(read(&format!("{DECLS}; {text}")).unwrap().main_expr().unwrap(), Format::Bracket);
    assert!(printed.matches('|').count() >= 16, "{printed}");
    check(text, Format::Bracket).unwrap();
    for (written, meant) in
        [("|A|B|C|", "det(A) B det(C)"), ("|(A + B|C|)|", "det(A + B det(C))"), ("|A| |B|", "det(A) det(B)")]
    {
        let both = format!("{DECLS}; {written}; {meant}");
        let model = read(&both).unwrap();
        let Ok(Values::Exact(v)) = try_values(&model, 3, 3) else { panic!("{written} has no exact value") };
        assert_eq!(v[0], v[1], "{written} is not {meant}");
    }
}

/// A size `d` used as a number, before a parenthesis: `d(…)` would read back as a
/// differential, so Unicode spaces it, `d (xᵀx/d + 1)I_d`.
#[test]
fn a_size_named_d_before_a_parenthesis_reads_back() {
    let decls = "x: vector(d)";
    let text = "d*(x^T x/d + 1)*eye(d)";
    let model = read(&format!("{decls}; {text}")).unwrap();
    for format in [Format::Unicode, Format::Ascii] {
        let printed = render(model.main_expr().unwrap(), format);
        let both = read(&format!("{decls}; {text}; {printed}")).unwrap();
        let Ok(Values::Exact(v)) = try_values(&both, 5, 3) else { panic!("`{printed}` has no exact value") };
        assert_eq!(v[0], v[1], "`{printed}` is not {text}");
    }
}

/// A power's bare exponent against a number divisor is a fractional power to the reader
/// (`A^-1/5` is A^(−1/5); `A^2/5` an error): the ASCII quotient is spaced. Found by
/// `simplify_keeps_the_value` at seed 20261207: `det(A^2/5)` did not parse.
#[test]
fn a_power_over_a_number_prints_as_a_quotient() {
    for text in ["det(((I A) / (1 + (2)^2)) (A))", "A^-1 / 5 + B", "(x^T x)^3 / 7"] {
        check(text, Format::Ascii).unwrap();
        check_simplify(text).unwrap();
    }
}

#[test]
fn a_summed_identity_keeps_its_size_inside_a_network() {
    // `sum(I)` inside a contraction lost its factor, Σ_ij δ_ij = n: `network::tidy`
    // removed the identity and left an index on no factor, which raising dropped
    // (PROPTEST_RNG_SEED=3522 found it).
    for text in ["A, B: matrix(n, n); A cdot_2 (sum(I_n) B)", "A, B: matrix(n, n); sum(I_n) [A B]"] {
        let answer = bracket::simplify(text).unwrap();
        let both = format!("{text}; {}", bracket::render(&answer.expr, bracket::Format::Ascii));
        assert!(common::same_value(&both, &[1, 2, 3]), "{both}");
    }
}
