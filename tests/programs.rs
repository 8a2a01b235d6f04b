//! Whole small programs (EXAMPLES.md "Concrete unrolled checks", tutorial §6.2–6.4):
//! every parameter's gradient agrees with finite differences on random data.

use bracket::{answer_queries, check_derivative, Format};

#[path = "../benches/common/mod.rs"]
mod scaling;

mod common;

fn check_program(program: &str) {
    let ds = answer_queries(program).unwrap_or_else(|e| panic!("{}", e.render(program)));
    assert!(!ds.is_empty());
    for d in &ds {
        let err = check_derivative(&d.answer.model, &d.function, &d.wrt, &d.answer.expr, 3)
            .unwrap_or_else(|e| panic!("∇_{}: {e}", d.wrt))
            .error();
        assert!(err < 1e-6, "∇_{} = {}\nrelative error {err:e}", d.wrt, d.answer.render(Format::Unicode));
    }
}

#[test]
fn two_layer_tanh_mlp_with_l2() {
    check_program(
        "N, λ: scalar
         A1 = X W1 + 1 b1^T
         Z1 = tanh(A1)
         A2 = Z1 W2 + 1 b2^T
         Z2 = tanh(A2)
         J = 1/(2N) (Z2 - Y) · (Z2 - Y) + λ/2 (W1 · W1 + W2 · W2)
         grad J wrt W1, b1, W2, b2",
    );
}

#[test]
fn two_layer_softmax_classifier() {
    check_program(
        "N: scalar
         A1 = X W1 + 1 b1^T
         Z1 = tanh(A1)
         A2 = Z1 W2 + 1 b2^T
         Z2 = s^1(A2)
         J = -1/N ln(Z2) · Y
         grad J wrt W1, b1, W2, b2",
    );
}

#[test]
fn rnn_unrolled_three_steps() {
    check_program(
        "N: scalar
         Z0 = tanh(X0 U + 1 b^T)
         A1 = Z0 W + X1 U + 1 b^T
         Z1 = tanh(A1)
         O1 = Z1 V + 1 c^T
         A2 = Z1 W + X2 U + 1 b^T
         Z2 = tanh(A2)
         O2 = Z2 V + 1 c^T
         A3 = Z2 W + X3 U + 1 b^T
         Z3 = tanh(A3)
         O3 = Z3 V + 1 c^T
         J = -1/N (ln(s^1(O1)) · Y1 + ln(s^1(O2)) · Y2 + ln(s^1(O3)) · Y3)
         grad J wrt W, U, b, V, c",
    );
}

#[test]
fn row_wise_softmax_differential() {
    // dZ_im = Σ_j ∇s(A_i·)_jm dA_ij, checked as a Jacobian.
    let d = bracket::jacobian("s^1(A)", &["A"]).unwrap().remove(0);
    let err = check_derivative(&d.answer.model, &d.function, "A", &d.answer.expr, 3).unwrap().error();
    assert!(err < 1e-6, "{}: {err:e}", d.answer.render(Format::Unicode));
}

#[test]
fn canonical_forms_of_networks() {
    use bracket::{canonical, read, Kind};
    let net = |src: &str| -> bracket::Network {
        let m = read(src).unwrap();
        match &m.main_expr().unwrap().kind {
            Kind::Network(n) => (**n).clone(),
            other => panic!("not a network: {other:?}"),
        }
    };
    // Equal networks, written in other orders, with repeated factors.
    let a = canonical(&net("A, B, C: matrix(n, n); [Ā_1 B_1][Ā_2 C_1] B_2 C_2")).0;
    let b = canonical(&net("A, B, C: matrix(n, n); B_2 [Ā_2 C_1] [B_1 Ā_1] C_2")).0;
    assert_eq!(a, b);
    let x1 = canonical(&net("a: vector(n); X: matrix(n, n); [a X̄_1][X̄_2 X@2_2][X@2_1 ā]")).0;
    let x2 = canonical(&net("a: vector(n); X: matrix(n, n); [X@2_1 ā][a X̄_1][X̄_2 X@2_2]")).0;
    assert_eq!(x1, x2);
    // The two groupings of §2.4 are different networks.
    let c = canonical(&net("A, B, C: matrix(n, n); [B̄_1 C_1][Ā_1 B_2] A_2 C_2")).0;
    assert_ne!(a, c);
}

#[test]
fn backpropagation_equations_with_named_intermediates() {
    // Tutorial §6.2: ∇_{Z_j}J = S_{j+1} W_{j+1}ᵀ, ∇_{W_j}J = Z_{j−1}ᵀ S_j + λW_j,
    // ∇_{b_j}J = S_jᵀ1 with S_j = ∇_{A_j}J = ∇_{Z_j}J ⊙ f'(A_j).
    let program = "N, λ: scalar
        A1 = X W1 + 1 b1^T
        Z1 = tanh(A1)
        A2 = Z1 W2 + 1 b2^T
        Z2 = tanh(A2)
        J = 1/(2N) (Z2 - Y) · (Z2 - Y) + λ/2 (W1 · W1 + W2 · W2)
        grad J wrt W1, b1, W2, b2";
    let eqs = bracket::backprop(program).unwrap();
    let shown: Vec<(String, String)> =
        eqs.iter().map(|e| (e.target.clone(), e.answer.render(Format::Unicode))).collect();
    let get = |t: &str| shown.iter().find(|(n, _)| n == t).map(|(_, s)| s.clone()).unwrap();
    assert_eq!(
        shown.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["Z2", "A2", "Z1", "A1", "W1", "b1", "W2", "b2"]
    );
    assert_eq!(get("Z1"), "(∇_{A2}J)W2ᵀ");
    assert_eq!(get("W2"), "λW2 + Z1ᵀ(∇_{A2}J)");
    assert_eq!(get("b1"), "(∇_{A1}J)ᵀ1");
    // The equations, evaluated in order, give the direct gradients.
    backprop_matches_direct(program, &eqs, &[1]);
}

/// Evaluated in order at random points, the equations give the direct gradients.
fn backprop_matches_direct(program: &str, eqs: &[bracket::Equation], seeds: &[u64]) {
    for d in &answer_queries(program).unwrap() {
        for &seed in seeds {
            let draw = bracket::Draw { seed, ..Default::default() };
            let env = bracket::random_env::<f64>(&d.answer.model, draw).unwrap();
            let values = bracket::evaluate_backprop(eqs, "J", &env).unwrap();
            let want = bracket::eval(&d.answer.expr, &env).unwrap();
            assert!(bracket::close(&values[&d.wrt], &want, 1e-9), "∇_{} differs", d.wrt);
        }
    }
}

#[test]
fn rnn_backpropagation_equations_check() {
    let program = "N: scalar
         A1 = Z0 W + X1 U + 1 b^T
         Z1 = tanh(A1)
         O1 = Z1 V + 1 c^T
         A2 = Z1 W + X2 U + 1 b^T
         Z2 = tanh(A2)
         O2 = Z2 V + 1 c^T
         J = -1/N (ln(s^1(O1)) · Y1 + ln(s^1(O2)) · Y2)
         grad J wrt W, U, b, V, c";
    let eqs = bracket::backprop(program).unwrap();
    backprop_matches_direct(program, &eqs, &[1, 2]);
    // ∇_{A1}J gathers the gradient from the next step and from the output.
    let a1 = eqs.iter().find(|e| e.target == "Z1").unwrap().answer.render(Format::Unicode);
    assert!(a1.contains("∇_{A2}J") && a1.contains("∇_{O1}J"), "{a1}");
}

/// Every step of every equation's derivation equals the one before, with the seeds and
/// the differentials random: a local step holds for any seed.
fn derivation_steps_are_equal(program: &str) {
    for eq in &bracket::backprop(program).unwrap() {
        let d = &eq.derivation;
        for seed in [1, 2] {
            let env = bracket::random_env::<f64>(&d.model, bracket::Draw { seed, ..Default::default() }).unwrap();
            let values: Vec<_> = d.steps.iter().map(|s| bracket::eval(&s.expr, &env).unwrap()).collect();
            if let Some(k) = common::unequal_step(&values, 1e-9) {
                let text = d.render(Format::Unicode);
                panic!("∇_{} step {} ({}) differs:\n{text}", eq.target, k + 1, d.steps[k].why);
            }
            // The last step is `G · dZ` with G the equation.
            let last = d.steps.last().unwrap();
            let dz = bracket::Expr::new(bracket::Kind::Diff(eq.target.clone()), eq.answer.expr.shape.clone());
            let claimed =
                bracket::Expr::new(bracket::Kind::Dot(Box::new(eq.answer.expr.clone()), Box::new(dz)), vec![]);
            let (a, b) = (bracket::eval(&last.expr, &env).unwrap(), bracket::eval(&claimed, &env).unwrap());
            assert!(bracket::close(&a, &b, 1e-9), "∇_{}: the equation is not the derivation's end", eq.target);
        }
    }
}

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/programs").join(name);
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn every_program_derivation_step_is_an_equality() {
    for name in ["6_2_two_layer_mlp.txt", "6_3_softmax_classifier.txt", "6_4_rnn_three_steps.txt"] {
        derivation_steps_are_equal(&example(name));
    }
}

#[test]
fn softmax_output_takes_the_tutorial_shortcut() {
    // §6.3.1: with one-hot rows, ∇_{A_L}J = −(1/N)(Y − Z_L), straight from the loss; the
    // softmax output Z_L then needs no equation of its own.
    let program = example("6_3_softmax_classifier.txt");
    let eqs = bracket::backprop(&program).unwrap();
    let names: Vec<&str> = eqs.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(names, ["A2", "Z1", "A1", "W1", "b1", "W2", "b2"]);
    assert_eq!(eqs[0].answer.render(Format::Unicode), "(Z2 − Y)/N");
    backprop_matches_direct(&program, &eqs, &[1, 2]);
    // Without the declaration the Y 1 factor stays (§6.3: it must not be dropped).
    let general = program.replace("Y 1 = 1\n", "");
    let eqs = bracket::backprop(&general).unwrap();
    assert_eq!(eqs[0].answer.render(Format::Unicode), "(diag(Y 1)Z2 − Y)/N");
    backprop_matches_direct(&general, &eqs, &[1]);
}

#[test]
fn softmax_and_cross_entropy_fuse_for_a_parameter() {
    // P = softmax(XW) under the loss: W's equation goes through P to the loss, so it is
    // Xᵀ(P − Y)/N with one-hot rows, and ∇_P J (−Y ⊘ P)/N is not needed at all.
    let program = "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); Y 1 = 1\n\
                   P = softmax(X W)\nJ = -1/N dot(Y, ln(P))\ngrad J wrt W";
    let eqs = bracket::backprop(program).unwrap();
    let shown: Vec<String> =
        eqs.iter().map(|e| format!("{}: {}", e.target, e.answer.render(Format::Unicode))).collect();
    assert_eq!(shown, ["W: Xᵀ(P − Y)/N"]);
    backprop_matches_direct(program, &eqs, &[1, 2]);
    // A layer below: its seed is (P − Y)W2ᵀ/N.
    let program = "X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, k); Y: matrix(N, k); Y 1 = 1\n\
                   H = tanh(X W1)\nP = softmax(H W2)\nJ = -1/N dot(Y, ln(P))\ngrad J wrt W1, W2";
    let eqs = bracket::backprop(program).unwrap();
    let h = eqs.iter().find(|e| e.target == "H").unwrap();
    assert_eq!(h.answer.render(Format::Unicode), "(P − Y)W2ᵀ/N");
    backprop_matches_direct(program, &eqs, &[1, 2]);
}

#[test]
fn smoothed_labels_inherit_their_row_sums() {
    // T = (1 − ε)Y + (ε/k)11ᵀ has T1 = 1 from Y1 = 1, though the program defines a
    // softmax too (which has no exact value to test T's row sums with).
    let program = "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); Y 1 = 1; epsilon: scalar\n\
                   T = (1 - epsilon) Y + epsilon/k 1 1^T\nA = X W\nP = softmax(A)\n\
                   J = -1/N dot(T, ln(P))\ngrad J wrt W";
    let eqs = bracket::backprop(program).unwrap();
    let a = eqs.iter().find(|e| e.target == "A").unwrap();
    assert_eq!(a.answer.render(Format::Unicode), "(P − T)/N");
    backprop_matches_direct(program, &eqs, &[1, 2]);
}

#[test]
fn rnn_output_gradients_are_the_tutorials() {
    // §6.4: ∇_{O_t}J = −(1/N)(Y_t − s¹(O_t)).
    let program = example("6_4_rnn_three_steps.txt");
    let eqs = bracket::backprop(&program).unwrap();
    for t in 1..=3 {
        let o = eqs.iter().find(|e| e.target == format!("O{t}")).unwrap();
        assert_eq!(o.answer.render(Format::Unicode), format!("(softmax(O{t}) − Y{t})/N"));
    }
    backprop_matches_direct(&program, &eqs, &[1, 2]);
}

#[test]
fn repeated_steps_are_derived_once_and_renamed() {
    // Equations that differ only in names come from one derivation, renamed: each must
    // still be about its own names.
    let program = example("6_4_rnn_three_steps.txt");
    for eq in bracket::backprop(&program).unwrap() {
        let text = eq.derivation.render(Format::Unicode);
        assert!(text.contains(&format!("d{}", eq.target)), "{text}");
        assert!(text.ends_with(&eq.answer.render(Format::Unicode)), "{text}");
    }
}

#[test]
fn equations_do_not_depend_on_showing_the_egraph_steps() {
    // `bracket grad PROGRAM` skips egg's explanations; the equations must be the ones
    // the derivations (with explanations) end on.
    for name in ["6_2_two_layer_mlp.txt", "6_3_softmax_classifier.txt", "6_4_rnn_three_steps.txt"] {
        let program = example(name);
        let shown = bracket::backprop(&program).unwrap();
        let fast = bracket::backprop_with(&program, bracket::Explain::Result).unwrap();
        let text = |eqs: &[bracket::Equation]| -> Vec<String> {
            eqs.iter().map(|e| format!("{} = {}", e.target, e.answer.render(Format::Unicode))).collect()
        };
        assert_eq!(text(&shown), text(&fast), "{name}");
    }
}

/// The scaling series' RNN (benches/common) over `steps` steps, written as one loss `J`
/// (no `grad … wrt …` query).
fn rnn_loss(steps: usize) -> String {
    let program = scaling::rnn(steps);
    let query = program.rfind("\ngrad J wrt").expect("the program ends with its query");
    format!("{}\nJ", &program[..query])
}

fn direct_gradients_are_classic_and_right(text: &str, wrt: &[&str]) {
    for d in bracket::grad(text, wrt).unwrap() {
        let shown = d.answer.render(Format::Unicode);
        assert!(bracket::is_classic(&d.answer.expr), "by {}: {shown}", d.wrt);
        let f = d.answer.model.main_expr().expect("a function").clone();
        let error = check_derivative(&d.answer.model, &f, &d.wrt, &d.answer.expr, 2).expect("checks").error();
        assert!(error < 1e-6, "by {}: relative error {error:e}", d.wrt);
    }
}

/// An RNN's loss over 32 steps differentiated directly (`grad` of J by W, not a
/// program's query): its differential has more terms than the take-out multiplies out,
/// so the gradient is assembled from backpropagation's equations. It is classic and
/// agrees with finite differences.
#[test]
fn a_deep_rnn_loss_has_a_direct_gradient() {
    direct_gradients_are_classic_and_right(&rnn_loss(32), &["W", "b"]);
}

/// Over 4 steps the differential by W, U and b is past `ASSEMBLE_FROM` nodes and their
/// gradients are assembled from backpropagation (the e-graph's took 0.2 s each); by V
/// and c, next to the loss, the whole differential is simplified. Each is classic.
#[test]
fn a_short_rnn_loss_has_a_classic_direct_gradient() {
    direct_gradients_are_classic_and_right(&rnn_loss(4), &["W", "U", "b", "V", "c"]);
}

/// `derive` ends where `grad` does on the RNN losses: over 16 steps in one step named
/// for backpropagation (take-out gives up), over 4 steps after the e-graph's steps.
#[test]
fn a_direct_rnn_derivation_ends_at_grads_answer() {
    for steps in [4, 16] {
        let text = rnn_loss(steps);
        let d = bracket::derive(&text, "W").unwrap_or_else(|e| panic!("τ = {steps}: {}", e.render(&text)));
        let g = bracket::grad(&text, &["W"]).unwrap().remove(0);
        assert_eq!(d.result.render(Format::Unicode), g.answer.render(Format::Unicode), "τ = {steps}");
        let last = d.steps.last().expect("a step");
        assert!(last.why.starts_with("backpropagation"), "τ = {steps}: {}", last.why);
    }
}

#[test]
fn a_seed_zero_by_its_definition_is_zero() {
    // The evidence of Bayesian linear regression: m = βA⁻¹Xᵀy minimises the loss in m,
    // so ∇_{m}J = αm + βXᵀ(Xm − y) is 0 and A keeps only ln det's (1/2)A⁻¹.
    let evidence = "X: matrix(N, p); y: vector(N); alpha, beta: scalar\n\
                    A = alpha I + beta X^T X\nm = beta A^-1 X^T y\n\
                    J = beta/2 ||y - X m||^2 + alpha/2 m^T m + 1/2 ln det(A) - p/2 ln(alpha) - N/2 ln(beta)\n\
                    grad J wrt alpha, beta";
    let eqs = bracket::backprop(evidence).unwrap();
    let shown: Vec<String> =
        eqs.iter().map(|e| format!("{}: {}", e.target, e.answer.render(Format::Unicode))).collect();
    assert_eq!(shown[..2], ["m: 0", "A: (1/2)A⁻¹"]);
    assert!(eqs[0].derivation.steps.last().unwrap().why.contains("definition of m"));
    derivation_steps_are_equal(evidence);
    backprop_matches_direct(evidence, &eqs, &[1, 2]);
    for check in bracket::check_program(evidence, &eqs, 3).unwrap().values() {
        assert!(check.passed(), "{check:?}");
    }
    // A profile likelihood: the variance at its optimum.
    let profile = "X: matrix(N, p); y: vector(N); w: vector(p)\nr = y - X w\ns2 = r^T r / N\n\
                   J = N/2 ln(s2) + r^T r / (2 s2)\ngrad J wrt w";
    let eqs = bracket::backprop(profile).unwrap();
    assert_eq!(eqs[0].target, "s2");
    assert_eq!(eqs[0].answer.render(Format::Unicode), "0");
    derivation_steps_are_equal(profile);
    backprop_matches_direct(profile, &eqs, &[1, 2]);
    // A seed zero only where X is square (the projection is then I) is not zero: the
    // sizes differ in the exact evaluation, in both orders.
    let projection = "X: matrix(N, p); y: vector(N)\nH = X (X^T X)^-1 X^T\nJ = 1/2 ||H y - y||^2\ngrad J wrt X";
    let eqs = bracket::backprop(projection).unwrap();
    assert!(eqs.iter().all(|e| e.answer.render(Format::Unicode) != "0"));
    backprop_matches_direct(projection, &eqs, &[1, 2]);
}

#[test]
fn a_loss_through_several_outputs_cancels_their_seeds() {
    // A GAN's discriminator on a real and a fake batch: the loss written through both
    // outputs, so −1 ⊘ pr and 1 ⊘ (1 − pf) meet σ's derivative and cancel (generated
    // code divided by pr and 1 − pf, and gave NaN once a logit passed 37).
    let gan = "Xr, Xf: matrix(N, d); W1: matrix(d, h); w2: vector(h)\n\
               pr = sigmoid(relu(Xr W1) w2)\npf = sigmoid(relu(Xf W1) w2)\n\
               J = -1^T ln(pr) - 1^T ln(1 - pf)\ngrad J wrt W1, w2";
    let eqs = bracket::backprop(gan).unwrap();
    let shown: Vec<String> =
        eqs.iter().map(|e| format!("{}: {}", e.target, e.answer.render(Format::Unicode))).collect();
    assert_eq!(shown[1], "w2: relu(Xr W1)ᵀ(pr − 1) + relu(Xf W1)ᵀpf");
    assert!(shown.iter().all(|s| !s.contains('⊘')), "{shown:?}");
    derivation_steps_are_equal(gan);
    for check in bracket::check_program(gan, &eqs, 3).unwrap().values() {
        assert!(check.passed(), "{check:?}");
    }
}

#[test]
fn a_seed_that_divides_is_weighed_with_the_step_that_needs_it() {
    // REINFORCE with an entropy bonus: ∇_{P}J = β(ln(P) + 1) − diag(r)A ⊘ P is a seed W
    // alone needs; the loss written through P is larger than W's step alone, but not
    // than the step and that seed, and it divides by no probability.
    let reinforce = "X: matrix(N, d); A: matrix(N, k); A 1 = 1; r: vector(N); W: matrix(d, k); beta: scalar\n\
                     P = softmax(X W)\nJ = -dot(diag(r) A, ln(P)) + beta dot(P, ln(P))\ngrad J wrt W";
    let eqs = bracket::backprop(reinforce).unwrap();
    let shown: Vec<String> =
        eqs.iter().map(|e| format!("{}: {}", e.target, e.answer.render(Format::Unicode))).collect();
    assert_eq!(shown, ["W: Xᵀ(diag(r)(P − A) + β((ln(P) − (ln(P) ⊙ P)11ᵀ) ⊙ P))"]);
    derivation_steps_are_equal(reinforce);
    // A seed that other parameters need stays: a GP's noise gradient is tr(∇_{K}J).
    let gp = "D: symmetric(N); y: vector(N); a, l, s: scalar\nK = a exp(-D / l) + s I\n\
              J = 1/2 y^T K^-1 y + 1/2 ln det(K)\ngrad J wrt a, l, s";
    let eqs = bracket::backprop(gp).unwrap();
    let s = eqs.iter().find(|e| e.target == "s").unwrap();
    assert_eq!(s.answer.render(Format::Unicode), "tr(∇_{K}J)");
}

#[test]
fn a_declared_parameter_the_loss_does_not_use_has_a_zero_gradient() {
    // As `--wrt U` of the one-line loss: it was refused as "`U` does not occur before
    // this query" (survey 18), though U is declared on the first line.
    let program = "X: matrix(N, d); W, U: matrix(d, h)
                   H = tanh(X W)
                   J = sum(H)
                   grad J wrt W, U";
    let ds = answer_queries(program).unwrap_or_else(|e| panic!("{}", e.render(program)));
    let by_u = ds.iter().find(|d| d.wrt == "U").expect("a gradient by U");
    assert_eq!(by_u.answer.render(Format::Unicode), "0");
    assert_eq!(by_u.answer.expr.shape, ds.iter().find(|d| d.wrt == "W").unwrap().answer.expr.shape);
    check_program(program);
}
