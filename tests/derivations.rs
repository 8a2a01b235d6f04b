//! Derivations (tutorial §5): every step equals the previous one as a differential,
//! checked on random tensors and random dX; the §5 derivations are snapshotted in
//! Unicode and LaTeX (snapshots/derivations__*.snap).

use bracket::{derive, eval, random_env, Draw, Format};

const CASES: &[(&str, &str, &str)] = &[
    ("5_1", "a^T x", "x"),
    ("5_2", "x^T A x", "x"),
    ("5_3", "a^T X b", "X"),
    ("5_4", "a^T X X^T a", "X"),
    ("5_5", "tr(A X^-1 B)", "X"),
    ("5_6", "x x^T", "x"),
    ("4_4c", "det(X)", "X"),
    ("6_1_w", "f: elementwise; h = f(X W + 1 b^T); J = 1/2 (h - Y) · (h - Y); J", "W"),
    ("eq_48", "G · ((B .* D) W)", "D"),
];

#[test]
fn every_step_is_an_equality() {
    for (name, f, x) in CASES {
        let d = derive(f, x).unwrap_or_else(|e| panic!("{name}: {e}"));
        for seed in [1, 2, 3] {
            let env = random_env::<f64>(&d.model, Draw { seed, ..Draw::default() }).unwrap();
            let values: Vec<_> = d.steps.iter().map(|s| eval(&s.expr, &env).unwrap()).collect();
            for (k, pair) in values.windows(2).enumerate() {
                assert!(
                    bracket::close(&pair[0], &pair[1], 1e-9),
                    "{name}: step {} ({}) differs from the one before:\n{}",
                    k + 2,
                    d.steps[k + 1].why,
                    d.render(Format::Unicode)
                );
            }
        }
    }
}

#[test]
fn a_step_that_is_not_equal_is_caught() {
    // The harness can fail: a wrong step must evaluate differently.
    let mut d = derive("a^T X b", "X").unwrap();
    let last = d.steps.len() - 1;
    let two = num_rational::BigRational::from_integer(2.into());
    d.steps[last].expr = bracket::scale(two, d.steps[last].expr.clone());
    let env = random_env::<f64>(&d.model, Draw::default()).unwrap();
    let a = eval(&d.steps[last - 1].expr, &env).unwrap();
    let b = eval(&d.steps[last].expr, &env).unwrap();
    assert!(!bracket::close(&a, &b, 1e-9));
}

#[test]
fn the_5_3_derivation_reads_like_the_tutorial() {
    let d = derive("a^T X b", "X").unwrap();
    let text = d.render(Format::Unicode);
    let steps: Vec<String> = d.steps.iter().map(|s| bracket::render(&s.expr, Format::Unicode)).collect();
    assert_eq!(steps, ["aᵀdXb", "[a dX̄_1][dX̄_2 b]", "a ⊗ b · dX", "abᵀ · dX"], "{text}");
}

#[test]
fn snapshots_of_the_section_5_derivations() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (name, f, x) in CASES.iter().filter(|(n, _, _)| n.starts_with('5')) {
            let d = derive(f, x).unwrap();
            insta::assert_snapshot!(format!("derivations__{name}_unicode"), d.render(Format::Unicode));
            insta::assert_snapshot!(format!("derivations__{name}_latex"), d.render(Format::Latex));
        }
    });
}
