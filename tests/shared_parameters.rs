//! Backpropagation over the definition graph: parameters used by several definitions
//! (shared weights, tied weights, unrolled RNNs) and definitions used by several later
//! ones (a DAG). Every parameter's gradient from the equations is checked against finite
//! differences of the whole program, and against the direct gradient of the loss.
//! Cases of the random-program property: `PROPTEST_CASES` (default 24 here).

use bracket::{answer_queries, backprop_with, check_program, eval, evaluate_backprop, loss_name, read, Explain};
use bracket::{close, random_env, Domain, Draw, Format, Verdict};
use proptest::prelude::*;

mod common;

/// Checks every parameter of `program` two ways, and returns the equations as printed.
fn agree(program: &str) -> Vec<String> {
    let equations = backprop_with(program, Explain::Result).unwrap_or_else(|e| panic!("{}", e.render(program)));
    let shown: Vec<String> =
        equations.iter().map(|eq| format!("∇_{} = {}", eq.target, eq.answer.render(Format::Unicode))).collect();
    // The equations against finite differences of the whole program.
    let checks = check_program(program, &equations, 3).unwrap_or_else(|e| panic!("{}", e.render(program)));
    assert!(!checks.is_empty(), "{program}: no parameter");
    for (name, c) in &checks {
        assert_eq!(c.verdict, Verdict::Verified, "{program}\n∇_{name}: {c:?}\n{}", shown.join("\n"));
    }
    // The equations against the direct gradient (`--wrt` on the loss), at the same points.
    let model = read(program).unwrap();
    let loss = loss_name(&model);
    let direct = answer_queries(program).unwrap_or_else(|e| panic!("{}", e.render(program)));
    for seed in 1..=3 {
        let draw = Draw { seed, domain: Domain::Mixed, ..Draw::default() };
        let Ok(env) = random_env::<f64>(&model, draw) else { continue };
        let mine = evaluate_backprop(&equations, &loss, &env).unwrap();
        for d in &direct {
            let want = eval(&d.answer.expr, &env).unwrap();
            let got = &mine[&d.wrt];
            assert!(close(got, &want, 1e-9), "{program}\n∇_{}: equations {got} direct {want}", d.wrt);
        }
    }
    shown
}

#[test]
fn a_parameter_used_twice_is_counted_once() {
    // The path through h is counted once: ∇_W J = ahᵀ + Wᵀaxᵀ.
    let shown = agree("h = W x; J = a^T W h; grad J wrt W");
    assert_eq!(shown, ["∇_h = Wᵀa", "∇_W = ahᵀ + (∇_{h}J)xᵀ"]);
}

/// An RNN of `steps` steps written the natural way, sharing W and U.
fn rnn(steps: usize) -> String {
    let mut s = String::new();
    for t in 1..=steps {
        s.push_str(&format!("h{t} = tanh(W h{} + U x{t}); ", t - 1));
    }
    s.push_str(&format!("J = 1/2 ||h{steps} - y||^2; grad J wrt W, U"));
    s
}

#[test]
fn unrolled_rnns_share_their_weights() {
    for steps in [2, 3, 8] {
        let shown = agree(&rnn(steps));
        // One term per time step in each parameter's gradient, with tanh' written by
        // the step's value where that is shorter (`1 − h2 ⊙ h2`).
        let w = shown.iter().find(|l| l.starts_with("∇_W")).unwrap();
        assert_eq!(w.matches("tanh'").count() + w.matches("(1 − h").count(), steps, "{w}");
    }
}

#[test]
fn a_tied_autoencoder() {
    agree("H = sigmoid(X W); J = ||X - H W^T||^2; grad J wrt W");
    agree("N: scalar; H = tanh(X W + 1 b^T); R = H W^T; J = 1/(2N) ||R - X||^2; grad J wrt W, b");
}

#[test]
fn definitions_that_form_a_dag() {
    // a feeds b and c; b feeds c and the loss.
    agree("a = W x; b = tanh(a); c = a .* b; J = 1^T c + b^T b; grad J wrt W");
    // A residual connection and a shared layer.
    agree("h1 = tanh(W x); h2 = tanh(W h1) + h1; J = a^T h2 + h1^T h1; grad J wrt W");
    // The loss is an expression, not a name.
    agree("h = W x; g = W h; grad a^T g + h^T h wrt W");
}

/// A random definition of `h{i}` from the earlier vectors.
fn definition() -> impl Strategy<Value = (usize, usize, usize)> {
    (0usize..6, 0usize..64, 0usize..64)
}

fn program_of(steps: &[(usize, usize, usize)], loss: (usize, usize)) -> String {
    let mut s = String::new();
    let name = |k: usize| if k == 0 { "x".to_string() } else { format!("h{k}") };
    for (i, &(op, j, k)) in steps.iter().enumerate() {
        let i = i + 1;
        let (a, b) = (name(j % i), name(k % i));
        let def = match op {
            0 => format!("W {a}"),
            1 => format!("tanh(W {a} + U {b})"),
            2 => format!("{a} .* (U {b})"),
            3 => format!("{a} + W {b}"),
            4 => format!("sigmoid(U {a}) .* {b}"),
            _ => format!("W (U {a})"),
        };
        s.push_str(&format!("h{i} = {def}; "));
    }
    let n = steps.len();
    let (p, q) = (name(1 + loss.0 % n), name(loss.1 % (n + 1)));
    s.push_str(&format!("J = c^T h{n} + {p}^T W {q}; grad J wrt W, U"));
    s
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    /// Random programs in which W and U are used by many definitions and definitions are
    /// used by several later ones: every equation agrees with finite differences of the
    /// whole program and with the direct gradient.
    #[test]
    fn random_programs_with_shared_parameters(
        steps in prop::collection::vec(definition(), 1..5),
        loss in (0usize..64, 0usize..64),
    ) {
        let program = program_of(&steps, loss);
        // U may not occur at all; then it has no gradient to check.
        prop_assume!(program.contains("U "));
        agree(&program);
    }
}
