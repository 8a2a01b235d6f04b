//! Derivations of every worked example (examples/derivatives and examples/programs):
//! every step equals the previous one as a differential, checked on random tensors and
//! random dX; each derivation is snapshotted in Unicode and LaTeX
//! (snapshots/derivations__*.snap), and the basic ones read like the tutorial's.

use bracket::{derive, derive_in, eval, random_env, read, Derivation, Draw, Format, Through};
use std::path::Path;

mod common;

/// Every derivation of the worked examples, named `file_wrt` (or `file_target` for a
/// program's backpropagation equations).
fn example_derivations() -> Vec<(String, Derivation)> {
    let mut out = Vec::new();
    for dir in ["derivatives", "programs"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&root).unwrap().map(|f| f.unwrap().path()).collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let stem = file.file_stem().unwrap().to_string_lossy().to_string();
            let model = read(&text).unwrap_or_else(|e| panic!("{}", e.render(&text)));
            if model.definitions.is_empty() {
                for (k, q) in model.queries.iter().enumerate() {
                    // The second query of a file is `_q2`, and so on.
                    let query = if k == 0 { String::new() } else { format!("_q{}", k + 1) };
                    for w in &q.wrt {
                        let d = derive_in(&model, &q.expr, w, Through::Definitions)
                            .unwrap_or_else(|e| panic!("{stem} by {w}: {e}"));
                        out.push((format!("{stem}{query}_{w}"), d));
                    }
                }
            } else {
                for eq in bracket::backprop(&text).unwrap_or_else(|e| panic!("{}", e.render(&text))) {
                    out.push((format!("{stem}_{}", eq.target), eq.derivation));
                }
            }
        }
    }
    out
}

/// Each step's value at one random point (dims of 2 when 3 would be too large).
fn step_values(d: &Derivation, seed: u64) -> Vec<ndarray::ArrayD<f64>> {
    let attempt = |max_size| -> bracket::Result<Vec<_>> {
        let env = random_env::<f64>(&d.model, Draw { seed, min_size: 2, max_size, ..Draw::default() })?;
        d.steps.iter().map(|s| eval(&s.expr, &env)).collect()
    };
    attempt(3).or_else(|_| attempt(2)).unwrap_or_else(|e| panic!("{e}\n{}", d.render(Format::Unicode)))
}

#[test]
fn every_step_of_every_example_is_an_equality() {
    let all = example_derivations();
    assert!(all.len() >= 40, "{} derivations", all.len());
    for (name, d) in &all {
        for seed in [1, 2] {
            if let Some(k) = common::unequal_step(&step_values(d, seed), 1e-9) {
                let text = d.render(Format::Unicode);
                panic!("{name}: step {} ({}) differs from the one before:\n{text}", k + 1, d.steps[k].why);
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
    assert_eq!(common::unequal_step(&step_values(&d, 1), 1e-9), Some(last));
}

#[test]
fn the_5_3_derivation_reads_like_the_tutorial() {
    let d = derive("a^T X b", "X").unwrap();
    let text = d.render(Format::Unicode);
    let steps: Vec<String> = d.steps.iter().map(|s| bracket::render(&s.expr, Format::Unicode)).collect();
    assert_eq!(steps, ["aᵀdXb", "[a dX̄_1][dX̄_2 b]", "a ⊗ b · dX", "abᵀ · dX"], "{text}");
}

#[test]
fn the_basic_derivations_have_the_tutorials_granularity() {
    // (example, steps the tutorial shows): each of ours shows the bracket steps and is
    // at most twice as long.
    let tutorial = [("5_2_quadratic_x", 3), ("5_4_quartic_X", 4), ("5_5_trace_inverse_X", 3), ("6_4_eq48_D", 3)];
    let all = example_derivations();
    for (name, n) in tutorial {
        let d = &all.iter().find(|(m, _)| m == name).unwrap_or_else(|| panic!("{name}")).1;
        let text = d.render(Format::Unicode);
        assert!(d.steps.iter().any(|s| s.why == "in bracket notation"), "{text}");
        assert!(d.steps.iter().any(|s| s.why.starts_with("take out")), "{text}");
        assert!(d.steps.len() <= 2 * n, "{name}: {} steps against the tutorial's {n}\n{text}", d.steps.len());
    }
    // §6.1: the single-layer net's W and b steps come from its backpropagation.
    for name in ["6_1_single_layer_W", "6_1_single_layer_b"] {
        let d = &all.iter().find(|(m, _)| m == name).unwrap_or_else(|| panic!("{name}")).1;
        assert!(d.steps.iter().any(|s| s.why == "in bracket notation"), "{}", d.render(Format::Unicode));
    }
}

#[test]
fn egraph_steps_name_their_rules() {
    // §5.5: the e-graph's part is egg's explanation, condensed, each step naming rules
    // from rules/.
    let d = derive("tr(A X^-1 B)", "X").unwrap();
    let classic = d.steps.iter().position(|s| s.why == "classic notation").unwrap();
    let after = &d.steps[classic + 1..];
    assert!(!after.is_empty(), "{}", d.render(Format::Unicode));
    let names: Vec<String> = bracket::rules().rules.iter().map(|r| r.name.clone()).collect();
    for s in after {
        let first = s.why.split(", ").next().unwrap();
        assert!(names.iter().any(|n| n == first), "`{}` names no rule\n{}", s.why, d.render(Format::Unicode));
    }
}

#[test]
fn snapshots_of_every_example_derivation() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (name, d) in example_derivations() {
            insta::assert_snapshot!(format!("derivations__{name}_unicode"), d.render(Format::Unicode));
            insta::assert_snapshot!(format!("derivations__{name}_latex"), d.render(Format::Latex));
        }
    });
}

#[test]
fn a_symmetric_variable_ends_where_grad_does() {
    // By a symmetric S, dS is symmetric, so G · dS = ½(G + Gᵀ) · dS: that step is an
    // equality of differentials (the random dS is symmetric), and the result is grad's.
    for (f, by) in [("S: symmetric; a^T S b", "S"), ("S: symmetric; tr(A S)", "S"), ("S: symmetric; x^T S x", "S")] {
        let d = derive(f, by).unwrap();
        let text = d.render(Format::Unicode);
        assert!(d.steps.iter().any(|s| s.why.contains("is symmetric")), "{text}");
        let g = bracket::grad(f, &[by]).unwrap();
        assert_eq!(d.result.render(Format::Unicode), g[0].answer.render(Format::Unicode), "{text}");
        for seed in [1, 2] {
            assert_eq!(common::unequal_step(&step_values(&d, seed), 1e-9), None, "{f}\n{text}");
        }
    }
}

#[test]
fn every_example_derivation_ends_at_grads_answer() {
    // `derive` saturates once, with explanations on, over grad's starting forms in
    // grad's order: its result must be grad's answer, character for character.
    let mut compared = 0;
    for dir in ["derivatives"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&root).unwrap().map(|f| f.unwrap().path()).collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let model = read(&text).unwrap();
            let grads = bracket::answer_queries(&text).unwrap();
            let wrts = model.queries.iter().flat_map(|q| q.wrt.iter().map(move |w| (q, w)));
            for ((q, w), g) in wrts.zip(&grads) {
                let d = derive_in(&model, &q.expr, w, Through::Definitions).unwrap();
                let (ours, grads) = (d.result.render(Format::Unicode), g.answer.render(Format::Unicode));
                assert_eq!(ours, grads, "{} by {w}\n{}", file.display(), d.render(Format::Unicode));
                compared += 1;
            }
        }
    }
    // And cases of the benchmarks, where the e-graph runs long.
    for (f, by) in [
        ("||A x - b||^2", "x"),
        ("S: symmetric(n); x, m: vector(n); -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)", "S"),
        ("det(X^-T)", "X"),
        ("sum(sqrt(1 + X .* X))", "X"),
        ("(B x + b)^T C (D x + d)", "x"),
    ] {
        let d = derive(f, by).unwrap();
        let g = bracket::grad(f, &[by]).unwrap();
        assert_eq!(d.result.render(Format::Unicode), g[0].answer.render(Format::Unicode), "{f}");
        compared += 1;
    }
    assert!(compared >= 25, "{compared} derivations compared");
}

#[test]
fn a_taken_out_ones_tensor_prints_as_ones() {
    // `sum(s)` takes out ds with the ones tensor as its gradient: a network with no
    // factor, which printed as `einsum("->i", )`.
    for (f, by, shown) in [("s: vector(n); sum(s)", "s", "= 1 · ds"), ("S: matrix(n, m); sum(S)", "S", "= 11ᵀ · dS")]
    {
        let text = derive(f, by).unwrap().render(Format::Unicode);
        assert!(text.contains(shown), "{text}");
        assert!(!text.contains("einsum"), "{text}");
    }
}

#[test]
fn every_step_reads_back_with_its_sizes() {
    // `1ᵀ1` of a step printed without its size N (survey 25, D1): read back, its ones
    // vectors took a size of their own, and the step another value than the others.
    let decls = "X: matrix(N, d); μ: vector(d); P: symmetric(d)";
    let d = derive(&format!("{decls}; -1/2 tr((X - 1 μ^T) P (X - 1 μ^T)^T)"), "μ").unwrap();
    let ascii: Vec<String> = d.steps.iter().map(|s| bracket::render(&s.expr, Format::Ascii)).collect();
    assert!(ascii.iter().any(|s| s.contains("1_N^T 1_N")), "{ascii:#?}");
    for step in &ascii[1..] {
        let both = format!("{decls}; {step}; {}", ascii[0]);
        assert!(common::same_value(&both, &[1, 2, 3]), "{step} differs from {}", ascii[0]);
    }
}

#[test]
fn a_differential_of_a_long_name_is_spaced_from_the_next_name() {
    // `dWhh1` read as one word (survey 25, D10): a differential is spaced as its name is.
    let program = "h1 = tanh(U x1); h2 = tanh(Wh h1 + U x2); J = a^T h2; grad J wrt U, Wh";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bracket")).args(["derive", program]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("dWh h1") && !text.contains("dWhh1"), "{text}");
}
