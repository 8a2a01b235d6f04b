//! The e-graph's final forms for the tutorial's worked examples (../shared/EXAMPLES.md),
//! exactly, in Unicode; each also checked against finite differences. The whole table
//! is an insta snapshot in snapshots/simplest__final_forms.snap.
//!
//! Where the form differs from the tutorial's text it is equal and has no more
//! operations: 6.1 inlines Z = h − Y and C = f'(XW + 1bᵀ); softmax inlines s; 6.3 is
//! `(1/N)(softmax(A) − Y)`, the tutorial's `−(1/N)(Y − Z_L)` with the sign taken in;
//! 6.4 keeps `tanh'(A)` (two operations fewer than `11ᵀ − tanh²(A)`).

use bracket::{check_derivative, grad, jacobian, Format};
use std::process::Command;

struct Case {
    name: &'static str,
    input: &'static str,
    wrt: &'static str,
    jacobian: bool,
    want: &'static str,
}

const fn case(name: &'static str, input: &'static str, wrt: &'static str, want: &'static str) -> Case {
    Case { name, input, wrt, jacobian: false, want }
}

const SINGLE_LAYER: &str = "f: elementwise; h = f(X W + 1 b^T); J = 1/2 (h - Y) · (h - Y); J";
const SOFTMAX_LOSS_FACT: &str = "N: scalar; Y 1 = 1; J = -1/N ln(s^1(A)) · Y; J";
const SOFTMAX_LOSS: &str = "N: scalar; J = -1/N ln(s^1(A)) · Y; J";

const CASES: &[Case] = &[
    case("5.1", "a^T x", "x", "a"),
    case("5.2", "x^T A x", "x", "(A + Aᵀ)x"),
    case("5.3", "a^T X b", "X", "abᵀ"),
    case("5.4", "a^T X X^T a", "X", "2aaᵀX"),
    case("5.5", "tr(A X^-1 B)", "X", "−(X⁻¹BAX⁻¹)ᵀ"),
    case("4.4 trace", "tr(X)", "X", "I"),
    case("4.4 determinant", "det(X)", "X", "|X|X⁻ᵀ"),
    Case {
        name: "4.3.5 softmax",
        input: "softmax(a)",
        wrt: "a",
        jacobian: true,
        want: "diag(softmax(a)) − softmax(a)softmax(a)ᵀ",
    },
    Case { name: "5.6 outer product", input: "x x^T", wrt: "x", jacobian: true, want: "(I ⊗ x)_{132} + x ⊗ I" },
    case("6.1 by W", SINGLE_LAYER, "W", "Xᵀ((h − Y) ⊙ f'(XW + 1bᵀ))"),
    case("6.1 by b", SINGLE_LAYER, "b", "((h − Y) ⊙ f'(XW + 1bᵀ))ᵀ1"),
    case("6.2 by R", "P, Q: matrix(n, m); P · Q ⊙ (R S)", "R", "(P ⊙ Q)Sᵀ"),
    case("6.2 by S", "P, Q: matrix(n, m); P · Q ⊙ (R S)", "S", "Rᵀ(P ⊙ Q)"),
    case("6.2 by d", "P, Q: matrix(n, m); P · Q ⊙ (1 d^T)", "d", "(P ⊙ Q)ᵀ1"),
    case("6.3 one-hot rows declared", SOFTMAX_LOSS_FACT, "A", "(softmax(A) − Y)/N"),
    case("6.3 no declaration", SOFTMAX_LOSS, "A", "(diag(Y 1)softmax(A) − Y)/N"),
    case("6.4 eq. 48", "G · ((B .* D) W)", "D", "B ⊙ GWᵀ"),
    case("6.4 tanh step", "Z = tanh(A); J = G · (Z W) + H · (Z V); J", "A", "tanh'(A) ⊙ (GWᵀ + HVᵀ)"),
    case("symmetric S, by x", "S: symmetric; x^T S x", "x", "2Sx"),
    case("symmetric S, by S (sym(G) convention)", "S: symmetric; x^T S x", "S", "xxᵀ"),
    case("symmetric S, by S, non-symmetric G", "S: symmetric; a^T S b", "S", "(1/2)(abᵀ + baᵀ)"),
];

#[test]
fn final_forms_of_the_worked_examples() {
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for c in CASES {
        let ds = if c.jacobian { jacobian(c.input, &[c.wrt]) } else { grad(c.input, &[c.wrt]) };
        let d = ds.unwrap_or_else(|e| panic!("{}: {}", c.name, e.render(c.input))).remove(0);
        let got = d.answer.render(Format::Unicode);
        let f = d.answer.model.main_expr().expect("a function").clone();
        // Random values do not satisfy a declared fact, so such a result is checked
        // against the one without the fact on values that do (below), not here.
        let error = if d.answer.model.facts.is_empty() {
            check_derivative(&d.answer.model, &f, &d.wrt, &d.answer.expr, 3).expect("checks").error()
        } else {
            0.0
        };
        if got != c.want || !(error < 1e-6) {
            failures.push(format!("{}: got {got} (relative error {error:e}), want {}", c.name, c.want));
        }
        table.push(format!("{:40} {}", c.name, got));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.bind(|| insta::assert_snapshot!("final_forms", table.join("\n")));
}

#[test]
fn identities_of_traces_determinants_and_diagonals_cancel() {
    // Each difference is 0 at every point (survey4 #82–#88): the rules make its sides meet.
    for text in [
        "x: vector(n); A: matrix(n, n); tr(diag(x) A) - x^T diag(A)",
        "A, B: matrix(n, n); det(A B) - det(A) det(B)",
        "x, y: vector(n); A, B: matrix(n, n); x^T (A .* B) y - tr(diag(x) A diag(y) B^T)",
        "A: matrix(n, n); ln det(A^-1) + ln det(A)",
        "a, b: vector(n); diag(a b^T) - a .* b",
    ] {
        let zero = bracket::simplify(text).unwrap();
        assert_eq!(zero.render(Format::Unicode), "0", "{text}");
    }
}

#[test]
fn traces_of_rotations_of_one_product_meet() {
    // tr(AB) = tr(BA): tr(ABC) − tr(CAB) is 0, and tr(ABC) − tr(BCA) + tr(CAB) is one
    // trace, in the rotation written first; a trace alone keeps its rotation.
    let zero = bracket::simplify("A, B, C: matrix(n); tr(A B C) - tr(C A B)").unwrap();
    assert_eq!(zero.render(Format::Unicode), "0");
    let one = bracket::simplify("A, B, C: matrix(n); tr(A B C) - tr(B C A) + tr(C A B)").unwrap();
    assert_eq!(one.render(Format::Unicode), "tr(ABC)");
    let other = bracket::simplify("A, B, C: matrix(n); tr(B C A) - tr(A B C) + tr(C A B)").unwrap();
    assert_eq!(other.render(Format::Unicode), "tr(BCA)");
    let alone = bracket::simplify("A, B, X: matrix(n); tr(A X^-1 B)").unwrap();
    assert_eq!(alone.render(Format::Unicode), "tr(AX⁻¹B)");
}

/// A rule that must not fire: a gradient by a matrix that is not declared symmetric
/// keeps its transposes.
#[test]
fn undeclared_symmetry_is_not_assumed() {
    let d = grad("x^T S x", &["x"]).unwrap().remove(0);
    assert_eq!(d.answer.render(Format::Unicode), "(S + Sᵀ)x");
}

/// The whole example set, regenerated by two separate processes, is byte for byte equal.
#[test]
fn output_is_the_same_in_separate_processes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = Vec::new();
    for run in ["a", "b"] {
        let out = std::env::temp_dir().join(format!("bracket-determinism-{run}-{}", std::process::id()));
        let status = Command::new(env!("CARGO_BIN_EXE_bracket"))
            .args(["examples", "--inputs"])
            .arg(root.join("examples"))
            .arg("--out")
            .arg(&out)
            .output()
            .expect("runs");
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        let mut files: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        pages.push(files.iter().map(|p| std::fs::read(p).unwrap()).collect::<Vec<_>>());
        let _ = std::fs::remove_dir_all(out);
    }
    assert!(!pages[0].is_empty());
    assert_eq!(pages[0], pages[1]);
}

/// A chain aᵀX₁X₂…X₁₂b by every Xᵢ stays within the e-graph limits and is `(aᵀX₁…)ᵀ(…b)ᵀ`
/// shaped: a product of the two partial chains, no network.
#[test]
fn a_chain_of_twelve_by_every_factor() {
    let chain: String = (1..=12).map(|i| format!("X{i} ")).collect();
    let text = format!("a^T {chain}b");
    let wrt: Vec<String> = (1..=12).map(|i| format!("X{i}")).collect();
    let ds = grad(&text, &wrt).unwrap();
    for d in &ds {
        assert!(bracket::is_classic(&d.answer.expr), "{}", d.answer.render(Format::Unicode));
        let report = d.answer.saturation.as_ref().expect("the e-graph ran");
        assert!(report.nodes <= bracket::Limits::default().nodes + 5_000, "{report:?}");
    }
}

/// With one-hot rows, 6.3's short form equals the long form that holds without them.
#[test]
fn the_one_hot_form_agrees_where_rows_are_one_hot() {
    let short = grad(SOFTMAX_LOSS_FACT, &["A"]).unwrap().remove(0).answer.render(Format::Ascii);
    let long = grad(SOFTMAX_LOSS, &["A"]).unwrap().remove(0).answer.render(Format::Ascii);
    let a = "[[1,2,0],[0,-1,3]]";
    let y = "[[0,1,0],[0,0,1]]";
    let at = [("A".to_string(), a.to_string()), ("Y".to_string(), y.to_string()), ("N".to_string(), "2".into())];
    let one = bracket::evaluate(&format!("N: scalar; {short}"), &at, 1).unwrap();
    let two = bracket::evaluate(&format!("N: scalar; {long}"), &at, 1).unwrap();
    let close = |a: &serde_json::Value, b: &serde_json::Value| {
        let flat = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                .collect()
        };
        flat(a).iter().zip(flat(b)).all(|(x, y)| (x - y).abs() < 1e-9)
    };
    assert!(close(&one.value, &two.value), "{short} vs {long}");
}

#[test]
fn a_zero_row_prints_as_zero() {
    // `(μ − x)ᵀ + (x − μ)ᵀ` is the zero row; `(0μ)ᵀ` tied `0μᵀ` and printed as `0ᵀ`.
    let a = bracket::simplify("x, mu: vector(n); (mu - x)^T + (x - mu)^T").unwrap();
    assert_eq!(a.render(bracket::Format::Unicode), "0");
}

/// `text` by `wrt` is `answer` (checked against finite differences), and its run stopped
/// for `reason` with fewer than `most` nodes.
fn stops_early(text: &str, wrt: &str, answer: &str, reason: &str, most: usize) {
    let d = &grad(text, &[wrt]).unwrap()[0];
    assert_eq!(d.answer.render(Format::Unicode), answer);
    let f = d.function.clone();
    let error = check_derivative(&d.answer.model, &f, &d.wrt, &d.answer.expr, 3).expect("checks").error();
    assert!(error < 1e-6, "{error:e}");
    let report = d.answer.saturation.as_ref().expect("the e-graph ran");
    assert!(report.stop.contains(reason), "{report:?}");
    assert!(report.nodes < most, "{report:?}");
}

/// A run whose e-graph only breeds bracketings and signs after its answer stops early:
/// the Gaussian by its mean has `S⁻¹(m − x)` by its fourth iteration, and used to run
/// six more, to 3,444 nodes.
#[test]
fn a_run_that_only_breeds_after_its_answer_stops_early() {
    let text = "x: vector(n); m: vector(n); S: symmetric(n); 1/2 (x - m)^T S^-1 (x - m)";
    stops_early(text, "m", "S⁻¹(m − x)", "grew", 2_000);
}

/// A run on a large e-graph stops after 3 iterations without a cheaper form: the
/// Gaussian by its covariance has its answer by iteration 5 and used to run 12
/// iterations, to 2,626 nodes (then 10, 2,122).
#[test]
fn a_large_run_without_a_cheaper_form_stops_after_three_iterations() {
    let text = "S: symmetric(n); x, m: vector(n); -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)";
    stops_early(text, "S", "(1/2)(S⁻¹(x − m)(x − m)ᵀS⁻¹ − S⁻¹)", "3 iterations on 500 nodes", 3_000);
}
