//! The answers the models people train used to leave in bracket notation, through the
//! CLI: each is classic, checked by `--check` against finite differences (the exit code
//! says it passed), and, where the form is the one we mean to keep, compared whole.

use std::process::Command;

/// `bracket COMMAND TEXT --wrt …  --check`: the answer lines (the check and condition
/// lines dropped); fails the test if the binary fails or a check does not pass.
fn checked(command: &str, text: &str, wrt: &[&str]) -> String {
    let mut args = vec![command, text, "--check"];
    for w in wrt {
        args.extend(["--wrt", w]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_bracket")).args(&args).output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}: exit {:?}\n{stdout}{}", out.status, String::from_utf8_lossy(&out.stderr));
    // One check line per variable, or one for a program's own `grad J wrt …`.
    assert_eq!(stdout.matches("check: relative error").count(), wrt.len().max(1), "{text}\n{stdout}");
    stdout.lines().filter(|l| !l.starts_with("check:") && !l.starts_with("where ")).collect::<Vec<_>>().join("\n")
}

/// `bracket grad TEXT --wrt …  --check` ([`checked`]), failing also where bracket
/// notation is left.
fn grad(text: &str, wrt: &[&str]) -> String {
    let answer = checked("grad", text, wrt);
    assert!(!answer.contains('[') && !answer.contains('@'), "{text}: bracket notation left in\n{answer}");
    answer
}

const MLP: &str = "X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, k); b1: vector(h); b2: vector(k); Y: matrix(N, k)";

#[test]
fn a_hidden_layer_by_its_weights() {
    assert_eq!(grad("dot(G W2^T, tanh(X W1))", &["W1"]), "Xᵀ(GW2ᵀ ⊙ tanh'(XW1))");
}

#[test]
fn a_batch_mlp_written_as_one_loss() {
    let text = format!("{MLP}; 1/2 ||tanh(X W1 + 1 b1^T) W2 + 1 b2^T - Y||^2");
    let answer = grad(&text, &["W1", "b1", "W2", "b2"]);
    assert!(answer.starts_with("∇_W1 = Xᵀ((tanh(XW1 + 1b1ᵀ)W2 + 1b2ᵀ − Y)W2ᵀ ⊙ tanh'(XW1 + 1b1ᵀ))"), "{answer}");
    let text = format!("{MLP}; Y 1 = 1; -1/N dot(Y, ln(softmax(tanh(X W1 + 1 b1^T) W2 + 1 b2^T)))");
    grad(&text, &["W1", "b1", "W2", "b2"]);
}

#[test]
fn a_batch_mlp_with_named_layers() {
    let text = format!("{MLP}; Y 1 = 1; H = tanh(X W1 + 1 b1^T); P = softmax(H W2 + 1 b2^T); -1/N dot(Y, ln(P))");
    assert_eq!(
        grad(&text, &["W1", "b1", "W2", "b2"]),
        "∇_W1 = Xᵀ((P − Y)W2ᵀ ⊙ (1 − H ⊙ H))/N\n∇_b1 = (W2 ⊙ (1 − H ⊙ H)ᵀ(P − Y))1/N\n∇_W2 = Hᵀ(P − Y)/N\n∇_b2 = (P − Y)ᵀ1/N"
    );
}

#[test]
fn attention_by_queries_keys_and_values() {
    let answer = grad("Q, K, V, G: matrix(n, d); dot(G, softmax(Q K^T) V)", &["Q", "K", "V"]);
    assert_eq!(
        answer,
        "∇_Q = ((GVᵀ − (G ⊙ softmax(QKᵀ)V)11ᵀ) ⊙ softmax(QKᵀ))K\n\
         ∇_K = ((GVᵀ − (G ⊙ softmax(QKᵀ)V)11ᵀ) ⊙ softmax(QKᵀ))ᵀQ\n\
         ∇_V = softmax(QKᵀ)ᵀG"
    );
    // The softmax is written twice, not three times: its row scaling `diag(r)S` beside
    // `GVᵀ ⊙ S` is `r1ᵀ ⊙ S`, and the two factor (survey 28).
    grad(
        "X: matrix(n, d); Wq, Wk: matrix(d, a); Wv: matrix(d, e); G: matrix(n, e); dot(G, softmax(X Wq (X Wk)^T) X Wv)",
        &["Wq", "Wk", "Wv"],
    );
}

#[test]
fn scaled_attention_keeps_its_scaled_scores_whole() {
    // `softmax(QKᵀ/√d)`, not `softmax(Q(Kᵀ/√d))`: equal in size, but with parentheses,
    // once rounding noise in the size no longer decides the tie.
    let answer = grad("Q, K, V, G: matrix(n, d); dot(G, softmax(Q K^T / sqrt(d)) V)", &["Q", "K", "V"]);
    assert!(answer.contains("softmax(QKᵀ/sqrt(d))") && !answer.contains("Q(Kᵀ/sqrt(d))"), "{answer}");
}

#[test]
fn masked_factorization_and_autoencoders() {
    let mf = "M, X: matrix(m, n); U: matrix(m, r); V: matrix(n, r); ||M .* (X - U V^T)||^2";
    assert_eq!(grad(mf, &["U"]), "2(M ⊙ M ⊙ (UVᵀ − X))V");
    grad(mf, &["V"]);
    grad("X: matrix(N, d); W: matrix(d, h); H = sigmoid(X W); ||X - H W^T||^2", &["W"]);
    grad("X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, d); ||X - sigmoid(X W1) W2||^2", &["W1", "W2"]);
    // A sparse autoencoder: the KL penalty's gradient alone is one term; beside the
    // reconstruction loss the run of the whole left it as `(Xᵀ + ρ(−2 + ρ)Xᵀ)…`, 38
    // operations more, so the terms' gradients are taken apart and added (survey 12).
    let sparse = "X: matrix(N, d); W: matrix(d, h); rho: scalar; H = sigmoid(X W); q = H^T 1 / N; \
                  1/2 ||H W^T - X||^2 + beta sum(rho ln(rho 1 ./ q) + (1 - rho) ln((1 - rho) 1 ./ (1 - q)))";
    let answer = grad(sparse, &["W"]);
    assert!(answer.ends_with(" + βXᵀsigmoid'(XW)diag((q − ρ 1) ⊘ ((1 − q) ⊙ q))/N"), "{answer}");
    // `derive` ends where `grad` does.
    let derived = Command::new(env!("CARGO_BIN_EXE_bracket")).args(["derive", sparse, "--wrt", "W"]).output();
    let derived = String::from_utf8_lossy(&derived.expect("the binary runs").stdout).to_string();
    assert_eq!(derived.lines().last(), Some(format!("∇_W = {answer}").as_str()), "{derived}");
}

#[test]
fn log_sum_exp_is_softmax() {
    let text = "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); 1^T ln(exp(X W) 1) - dot(Y, X W)";
    assert_eq!(grad(text, &["W"]), "Xᵀ(softmax(XW) − Y)");
    // A mixture's means: the responsibilities' column sums are `softmax(Z)ᵀ1`, not
    // `exp(Z)ᵀ(1 ⊘ exp(Z)1)`.
    let gmm = "X: matrix(N, d); M: matrix(k, d); -1^T ln(exp(X M^T - 1/2 1 diag(M M^T)^T) 1)";
    assert_eq!(grad(gmm, &["M"]), "diag(softmax(XMᵀ − (1/2)1diag(MMᵀ)ᵀ)ᵀ1)M − softmax(XMᵀ − (1/2)1diag(MMᵀ)ᵀ)ᵀX");
}

#[test]
fn likelihoods() {
    grad(
        "X: matrix(N, p); m: vector(p); S: symmetric(p); N/2 ln det(S) + 1/2 tr(S^-1 (X - 1 m^T)^T (X - 1 m^T))",
        &["m", "S"],
    );
    let t = "x, m: vector(n); S: symmetric(n); ν, p: scalar; (ν + p)/2 ln(1 + 1/ν (x - m)^T S^-1 (x - m))";
    assert_eq!(grad(t, &["x"]), "(ν + p)S⁻¹(x − m)/(ν + (x − m)ᵀS⁻¹(x − m))");
    // The noise variance of linear regression: the numbers of `1/(2σ²)`'s derivative,
    // `−2/(2σ²)²`, are one number, the two halves one factor, and the two quotients
    // one over their common denominator.
    // A quadratic form by its matrix: the sign in front of one orientation, not a
    // difference and its negation (survey 29).
    let q = "x, mu: vector(p); S: symmetric(p); (x - mu)^T S^-1 (x - mu)";
    assert_eq!(grad(q, &["S"]), "−S⁻¹(x − μ)(x − μ)ᵀS⁻¹");
    // The normalizer's (2πS)⁻¹ is S⁻¹/(2π), and its 2π cancels.
    let mvn = "S: symmetric(p); x: vector(p); -1/2 ln|2 pi S| - 1/2 x^T S^-1 x";
    assert_eq!(grad(mvn, &["S"]), "(1/2)(S⁻¹xxᵀS⁻¹ − S⁻¹)");
    // A Poisson regression with θ, a scalar by default: a vector, as only that makes
    // the function scalar (with a note).
    let poisson = "X: matrix(N, p); y: vector(N); y^T X theta - 1^T exp(X theta)";
    assert_eq!(grad(poisson, &["theta"]), "Xᵀ(y − exp(Xθ))");
    // The sample variance: the 2 both terms share comes out of the quotient's sum.
    let var = "x: vector(n); (x - 1 1^T x/n)^T (x - 1 1^T x/n)/n";
    assert_eq!(grad(var, &["x"]), "2(x − 11ᵀx/n)/n");
    let t = "n: scalar; n/2 ln(sigma2) + 1/(2 sigma2) ||y - X b||^2";
    assert_eq!(grad(t, &["sigma2"]), "(nσ2 − ||y − Xb||²)/(2σ2²)");
    // The KL divergence of two Gaussians by the second covariance: the sign of
    // d(S⁻¹) = −S⁻¹dSS⁻¹ in front of its product, not `S2⁻¹(−1)(…)S2⁻¹`.
    let kl = "S1, S2: symmetric(n); m1, m2: vector(n); \
              1/2 (tr(S2^-1 S1) + (m2 - m1)^T S2^-1 (m2 - m1) - n + ln det(S2) - ln det(S1))";
    assert_eq!(grad(kl, &["S2"]), "(1/2)(S2⁻¹ − S2⁻¹(S1 + (m2 − m1)(m2 − m1)ᵀ)S2⁻¹)");
    // Weibull regression by its shape k: the second derivative of −N ln k is N/k², not
    // `− (−1/k²)N`, two signs that met only once the product was rebracketed (survey 12).
    let weibull = "X: matrix(N,d); y: vector(N); k: scalar; \
                   sum(exp(k (ln(y) - X w))) - k sum(ln(y) - X w) - N ln(k)";
    let answer = checked("hessian", weibull, &["k"]);
    assert!(answer.ends_with(" + N/k²"), "{answer}");
    // A name over a reciprocal reads as a quotient, `N/k²`, not `(1/k²)N`.
    assert_eq!(hessian("k, N, a: scalar; a k - N ln(k)", "k"), "N/k²");
}

#[test]
fn losses_as_numpy_users_write_them() {
    // A squared residual's derivative is the residual itself, not its first power.
    assert_eq!(grad("sum((X w - y).^2)", &["w"]), "2Xᵀ(Xw − y)");
    assert_eq!(grad("x: vector(n); sum(x.^2)", &["x"]), "2x");
    // A number is broadcast as NumPy does; a negated sum in parentheses is no simpler.
    assert_eq!(grad("x: vector(n); sum((x - 0.5).^2)", &["x"]), "2x − 1");
    // log-sum-exp spelled as a function: its gradient is softmax.
    assert_eq!(grad("logsumexp(X w) - y^T X w", &["w"]), "Xᵀ(softmax(Xw) − y)");
    // A factor that becomes the identity once the rules cancel an inverse drops out,
    // whenever that happens: `L⁻ᵀ(L⁻¹L)` is L⁻ᵀ.
    assert_eq!(grad("S: symmetric(n); L: matrix(n, n); -ln det(L L^T) + tr(L L^T S)", &["L"]), "2(SL − L⁻ᵀ)");
}

#[test]
fn diagonals_and_roots() {
    assert_eq!(grad("a, b, x: vector(n); sum(diag(b) diag(a) x)", &["a"]), "b ⊙ x");
    // A function that simplifies is differentiated in its simplest form too: exp(½ ln s)
    // is sqrt(s), and e^{−z}/(1 + e^{−z}) is sigmoid(−z).
    assert_eq!(grad("x, y: vector(n); exp(1/2 ln(x^T y))", &["x"]), "y/(2sqrt(xᵀy))");
    assert_eq!(grad("z: scalar; exp(-z)/(1 + exp(-z))", &["z"]), "−sigmoid'(z)");
    // A quotient by σ(−z) under σ'(z) = σ(z) ⊙ σ(−z) cancels: y ⊙ σ(z), not
    // y ⊘ σ(−z) ⊙ σ'(z) (which NumPy cannot evaluate once 1 − σ(z) rounds to 0).
    assert_eq!(grad("x, y, z: vector(n); x^T (y ./ sigmoid(-z) .* sigmoid'(z))", &["x"]), "sigmoid(z) ⊙ y");
    // And σ'(−a) is σ'(a) there too: the logistic loss written with σ(−a) for 1 − σ(a).
    let logistic =
        "X: matrix(N, p); y: vector(N); w: vector(p); -y^T ln(sigmoid(2 X w)) - (1 - y)^T ln(sigmoid(-2 X w))";
    assert_eq!(grad(logistic, &["w"]), "2Xᵀ(sigmoid(2Xw) − y)");
    // Label smoothing: the coefficients of softmax(Wx) in (ε − 1)(y − s) + ε(Ks − 1)/K
    // meet, to the prediction less the smoothed target.
    let smoothing = "W: matrix(K, d); x: vector(d); y: vector(K); y^T 1 = 1; epsilon: scalar; \
                     -((1 - epsilon) y + epsilon/K 1)^T ln(softmax(W x))";
    assert_eq!(grad(smoothing, &["W"]), "((ε − 1)y + softmax(Wx) − ε 1/K)xᵀ");
    // Student-t regression: (1 + 1/ν)Xᵀ(r ⊘ (1 + r²/ν)) is (ν + 1)Xᵀ(r ⊘ (ν1 + r²)).
    let student = "X: matrix(N, p); y: vector(N); w: vector(p); nu: scalar; (nu + 1)/2 sum(ln(1 + (X w - y).^2 / nu))";
    assert_eq!(grad(student, &["w"]), "(ν + 1)Xᵀ((Xw − y) ⊘ (ν 1 + (Xw − y)^{⊙2}))");
    // log-cosh written with exponentials: numbers leave the element-wise quotient, and
    // the quotient of exponentials is tanh.
    assert_eq!(grad("r: vector(n); sum(ln((exp(r) + exp(-r))/2))", &["r"]), "tanh(r)");
    assert_eq!(grad("1^T ln((exp(X w - y) + exp(y - X w))/2)", &["w"]), "Xᵀtanh(Xw − y)");
    assert_eq!(grad("z: scalar; ln(exp(z) + exp(-z))", &["z"]), "tanh(z)");
    // Quotient rules do not nest powers, and a negative power reads as a quotient.
    assert_eq!(grad("x: vector(n); 1/(x^T x)^2", &["x"]), "−4x/(xᵀx)³");
}

#[test]
fn square_roots_cancel_with_their_squares() {
    // Layer norm by its input: sqrt'(s) is 1/(2 sqrt(s)) and sqrt(s)² is s, so the
    // answer is one quotient (it was about 600 characters).
    let layer_norm =
        "x, g: vector(n); m = 1^T x / n; c = x - m 1; v = c^T c / n; z = c / sqrt(v + epsilon); J = g^T z; J";
    let answer = grad(layer_norm, &["x"]);
    assert!(!answer.contains("sqrt'") && !answer.contains(")²") && answer.chars().count() < 100, "{answer}");
}

#[test]
fn an_intercept_s_gradient_is_the_summed_residual() {
    // `σ − 1 − σ` cancels late in the run; the `1 ⊙ y` it leaves is y.
    let f = "beta: scalar; -y^T ln(sigmoid(X w + beta 1)) - (1 - y)^T ln(1 - sigmoid(X w + beta 1))";
    assert_eq!(grad(f, &["beta"]), "(sigmoid(Xw + β 1) − y)ᵀ1");
}

#[test]
fn a_sign_goes_into_the_difference_a_product_ends_with() {
    // Ridge's validation loss by λ: −2(…)ᵀ(Xvw − yv) reads worse than 2(…)ᵀ(yv − Xvw); with
    // equal sizes, the transposed difference, not the transposed product `(Xv(…)⁻¹w)ᵀ`.
    let f = "X: matrix(N, p); y: vector(N); Xv: matrix(M, p); yv: vector(M); \
             w = (X^T X + lambda I)^-1 X^T y; J = ||Xv w - yv||^2; J";
    assert_eq!(grad(f, &["lambda"]), "2(yv − Xv w)ᵀXv(XᵀX + λI)⁻¹w");
}

#[test]
fn a_definition_inherits_row_sums() {
    // Label smoothing: T = (1 − ε)Y + (ε/k)11ᵀ has T1 = 1 from Y1 = 1, so the softmax
    // loss fuses; T = (1 − ε)Y + εY ⊙ Y does not, and keeps its row sums.
    let smoothed = "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); Y 1 = 1; epsilon: scalar; \
                    T = (1 - epsilon) Y + epsilon/k 1 1^T; -1/N dot(T, ln(softmax(X W)))";
    assert_eq!(grad(smoothed, &["W"]), "Xᵀ(softmax(XW) − T)/N");
    let squared = "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); Y 1 = 1; epsilon: scalar; \
                   T = (1 - epsilon) Y + epsilon Y .* Y; -1/N dot(T, ln(softmax(X W)))";
    assert_eq!(grad(squared, &["W"]), "Xᵀ(diag(T 1)softmax(XW) − T)/N");
}

#[test]
fn the_sigmoid_s_symmetry() {
    // 1 − σ(−a) is σ(a): skip-gram with negative sampling.
    let sgns = "u, v: vector(d); Z: matrix(k, d); -ln(sigmoid(u^T v)) - 1^T ln(sigmoid(-Z u))";
    assert_eq!(grad(sgns, &["Z"]), "sigmoid(Zu)uᵀ");
}

#[test]
fn an_unrolled_rnn_written_as_one_loss() {
    let tau = 8;
    let mut h = "h0".to_string();
    let mut decls = vec!["W, U: matrix(n, n)".to_string(), "h0, y: vector(n)".to_string()];
    for t in 1..=tau {
        decls.push(format!("x{t}: vector(n)"));
        h = format!("tanh(W {h} + U x{t})");
    }
    grad(&format!("{}; 1/2 ||{h} - y||^2", decls.join("; ")), &["W", "U"]);
}

/// abs' prints as sign, which reads back: the lasso gradient is `Xᵀ(Xw − y) + λsign(w)`.
#[test]
fn abs_prime_is_sign() {
    let input = "w: vector(p); X: matrix(N, p); y: vector(N); lambda: scalar; 1/2 ||X w - y||^2 + lambda 1^T abs(w)";
    let g = bracket::grad(input, &["w"]).unwrap().remove(0);
    assert_eq!(g.answer.render(bracket::Format::Unicode), "Xᵀ(Xw − y) + λsign(w)");
    let check = bracket::check_derivative(&g.answer.model, &g.function, "w", &g.answer.expr, 3).unwrap();
    assert!(check.passed());
    let back =
        bracket::read(&format!("{}; {}", input.rsplit_once(';').unwrap().0, g.answer.render(bracket::Format::Ascii)));
    assert!(back.is_ok(), "sign reads back");
}

#[test]
fn a_single_sample_logistic_loss_is_a_sigmoid() {
    // exp(z)(1/(1 + exp(z))) and exp(z)(a/(1 + exp(z))) are the sigmoid, as the batch
    // loss's exp(z) ⊘ (1 + exp(z)) is.
    assert_eq!(grad("a, x: vector(n); ln(1 + exp(a^T x))", &["x"]), "sigmoid(aᵀx)a");
    assert_eq!(grad("s: scalar; ln(1 + exp(s))", &["s"]), "sigmoid(s)");
    assert_eq!(grad("y: scalar; w, x: vector(n); ln(1 + exp(-y w^T x))", &["w"]), "−sigmoid(−y(wᵀx))yx");
}

#[test]
fn a_single_sample_cross_entropy_cancels_to_the_residual() {
    // A scalar region is a rational function too: σ'(z)(−y/σ(z) + (1 − y)/(1 − σ(z))) = σ(z) − y.
    let ce = "y: scalar; w, x: vector(n); -y ln(sigmoid(w^T x)) - (1 - y) ln(1 - sigmoid(w^T x))";
    assert_eq!(grad(ce, &["w"]), "(sigmoid(wᵀx) − y)x");
    assert_eq!(grad("y, s: scalar; -y ln(sigmoid(s)) - (1 - y) ln(1 - sigmoid(s))", &["s"]), "sigmoid(s) − y");
}

#[test]
fn terms_of_equal_cost_come_in_the_order_their_names_were_written() {
    // `XW + 1bᵀ − Y` as written, not `1bᵀ + XW − Y` or `XW − Y + 1bᵀ`; and the same in
    // `derive`, whose run (with explanations) numbers its e-classes differently.
    let text = "X: matrix(n, m); W: matrix(m, k); b: vector(k); Y: matrix(n, k); 1/2 ||X W + 1 b^T - Y||^2";
    // (The bias's sum over the n rows of b is nb: `1ᵀ1` is the size n.)
    assert_eq!(grad(text, &["W", "b"]), "∇_W = Xᵀ(XW + 1bᵀ − Y)\n∇_b = (XW − Y)ᵀ1 + nb");
    let gaussian = "S: symmetric(n); x, m: vector(n); -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)";
    assert_eq!(grad(gaussian, &["S"]), "(1/2)(S⁻¹(x − m)(x − m)ᵀS⁻¹ − S⁻¹)");
}

#[test]
fn the_lasso_written_with_a_one_norm() {
    let lasso = "w: vector(p); X: matrix(N, p); y: vector(N); lambda: scalar; 1/2 ||X w - y||^2 + lambda ||w||_1";
    assert_eq!(grad(lasso, &["w"]), "Xᵀ(Xw − y) + λsign(w)");
}

#[test]
fn cancellations_the_rules_uncover() {
    // Nonnegative factorisation under the KL divergence: the region `1 − X ⊘ (WH ⊙ WH) ⊙ WH`
    // appears only after rewriting; it is cancelled after the run, split over its monomial
    // denominator, and the condition is WH's own.
    let nmf = "X: matrix(m, n); W: matrix(m, r); H: matrix(r, n); sum(X .* ln(X ./ (W H)) - X + W H)";
    assert_eq!(grad(nmf, &["W"]), "(1 − X ⊘ WH)Hᵀ");
    // InfoNCE: diag(1 ⊘ P) ⊙ diag(P) is the diagonal of ones, and diag(1) is I.
    let info_nce = "Z1, Z2: matrix(N, d); -1/N dot(I, ln(softmax(Z1 Z2^T / tau)))";
    assert_eq!(grad(info_nce, &["Z1"]), "(softmax(Z1Z2ᵀ/τ)Z2 − Z2)/(Nτ)");
}

#[test]
fn the_squared_hinge_keeps_relu_alone() {
    // relu(z) ⊙ relu'(z) is relu(z); and `1 − y(wᵀx)` stays as written, not `−(y(wᵀx) − 1)`.
    let svm = "X: matrix(N, p); y: vector(N); w: vector(p); 1/2 ||relu(1 - y .* (X w))||^2 + lambda/2 ||w||^2";
    assert_eq!(grad(svm, &["w"]), "λw − Xᵀ(relu(1 − y ⊙ Xw) ⊙ y)");
    let one = "w: vector(n); x: vector(n); y: scalar; 1/2 relu(1 - y w^T x)^2";
    assert_eq!(grad(one, &["w"]), "−relu(1 − y(wᵀx))yx");
}

/// A whole number terms of a sum share goes in front, however deep in quotients it
/// sits: the Rayleigh quotient's Hessian is `2(…)`, where the run left `2S/(xᵀx) +
/// (−4(…) − 2xᵀSxI)/(xᵀx)² + 8…`. (Its last term, `+ 8…` outside or `+ 4…` inside, is
/// the same size either way.)
#[test]
fn a_number_all_terms_share_goes_in_front() {
    let answer = first_line(&["hessian", "x: vector(n); S: symmetric(n); x^T S x / (x^T x)", "--wrt", "x", "--check"]);
    assert_eq!(answer, "2(S/(xᵀx) − ((xᵀSx)I + 2(xxᵀS + Sxxᵀ))/(xᵀx)² + 4(xᵀSx)xxᵀ/(xᵀx)³)");
}

/// The first line `bracket ARGS…` prints; fails the test if the binary fails.
fn first_line(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bracket")).args(args).output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().next().unwrap_or_default().to_string()
}

/// `bracket hessian TEXT --wrt X --check` ([`checked`]).
fn hessian(text: &str, wrt: &str) -> String {
    checked("hessian", text, &[wrt])
}

#[test]
fn a_quadratic_form_reads_as_one() {
    // Of equal size, `(x − m)ᵀS⁻¹(x − m)` beats `(S⁻¹(x − m))ᵀ(x − m)`: a transposed product
    // prints parentheses. A column times a row product is one chain, its two differences
    // one way round: `− 2S⁻¹(x − m)(x − m)ᵀS⁻¹`, not `+ 2S⁻¹(m − x)(x − m)ᵀS⁻¹`.
    let t = "x, m: vector(n); S: symmetric(n); ν, p: scalar; (ν + p)/2 ln(1 + 1/ν (x - m)^T S^-1 (x - m))";
    assert_eq!(
        hessian(t, "x"),
        "(ν + p)(S⁻¹/(ν + (x − m)ᵀS⁻¹(x − m)) − 2S⁻¹(x − m)(x − m)ᵀS⁻¹/(ν + (x − m)ᵀS⁻¹(x − m))²)"
    );
    let chol = "L: matrix(n, n); x, m: vector(n); S = L L^T + I; -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)";
    assert_eq!(grad(chol, &["L"]), "S⁻¹((x − m)(x − m)ᵀS⁻¹L − L)");
}

#[test]
fn a_sum_does_not_open_with_a_negated_quotient() {
    // `−a/s + b/t` as `b/t − a/s`: a quotient with a negated numerator opens with its sign.
    let rayleigh = "x: vector(n); A, B: symmetric(n); x^T A x / (x^T B x)";
    assert_eq!(grad(rayleigh, &["x"]), "2(A/(xᵀBx) − (xᵀAx)B/(xᵀBx)²)x");
}

#[test]
fn numbers_a_product_scatters_meet() {
    // `(1/4)exp(…)(2(…))/θ³`: the 1/4 and the 2 meet after the run, and a reciprocal reads
    // as `1/θ²`, not `(θ²)⁻¹`.
    let gp = "X: matrix(n, d); y: vector(n); θ: scalar; K = exp(-1/(2 θ^2)) X X^T + I; \
              -1/2 y^T K^-1 y - 1/2 ln(det(K))";
    // Both terms' X … X taken out (`common::shared_parts` from a seed): the GP's
    // `(K⁻¹yyᵀK⁻¹ − K⁻¹) · ∂K`.
    assert_eq!(grad(gp, &["θ"]), "exp(−1/(2θ²))(X · (K⁻¹yyᵀK⁻¹ − K⁻¹)X)/(2θ³)");
}

#[test]
fn a_gram_matrix_is_symmetric() {
    // `XᵀX` is symmetric wherever its class holds the transpose of its other factor, not
    // only where `(Xᵀ)ᵀ` was made before the product: `(XᵀX + λI)ᵀ⁻¹` is `(XᵀX + λI)⁻¹`.
    assert_eq!(grad("X: matrix(n, p); λ: scalar; ln det(X^T X + λ I)", &["X"]), "2X(XᵀX + λI)⁻¹");
    assert_eq!(grad("X, A: matrix(n, n); ln(det(A + X^T X))", &["X"]), "X((A + XᵀX)⁻¹ + (Aᵀ + XᵀX)⁻¹)");
}

#[test]
fn a_named_sigmoid_meets_its_derivative() {
    // `p = σ(Xw)` as a definition: the chain rule leaves `(p − y) ⊘ (p ⊙ (1 − p)) ⊙ σ'(Xw)`,
    // where σ' = σ ⊙ (1 − σ) must meet p itself; written as one loss it always did.
    let program = "X: matrix(N, d); w: vector(d); y: vector(N); p = sigmoid(X w); \
                   J = -(y^T ln(p) + (1 - y)^T ln(1 - p))/N; J";
    assert_eq!(grad(program, &["w"]), "Xᵀ(p − y)/N");
    assert_eq!(hessian(program, "w"), "Xᵀdiag(sigmoid'(Xw))X/N");
}

/// `bracket grad PROGRAM --check` for a program with its own `grad J wrt …`: the
/// equations, after the check passed ([`checked`]).
fn backprop(program: &str) -> String {
    checked("grad", program, &[])
}

#[test]
fn a_coefficient_keeps_its_terms_signs() {
    // A subtraction costs what an addition does, so a sign is not pulled out of a sum
    // to save one: `(1/2)((n − p − 1)X⁻ᵀ − S⁻ᵀ)`, where it was `−(1/2)((p − (−1 + n))X⁻ᵀ +
    // S⁻ᵀ)`; and a sum does not open with the number −1.
    let wishart = "X, S: matrix(p, p); n: scalar; (n - p - 1)/2 ln det X - 1/2 tr(S^-1 X)";
    assert_eq!(grad(wishart, &["X"]), "(1/2)((n − p − 1)X⁻ᵀ − S⁻ᵀ)");
    let symmetric = "X, S: symmetric(p); n: scalar; (n - p - 1)/2 ln det X - 1/2 tr(S^-1 X)";
    assert_eq!(grad(symmetric, &["X"]), "(1/2)((n − p − 1)X⁻¹ − S⁻¹)");
    assert_eq!(grad("X: matrix(p, p); n: scalar; (n - p - 1) ln det X", &["X"]), "(n − p − 1)X⁻ᵀ");
}

#[test]
fn a_matrix_and_its_transpose_need_one_condition() {
    let out = Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(["grad", "X: matrix(n, m); A: matrix(n, n); ln det(X^T A X)", "--wrt", "X", "--check"])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    // `(AX)ᵀX` is `(XᵀAX)ᵀ`: invertible exactly where XᵀAX is.
    assert!(stdout.contains("\nwhere XᵀAX is invertible\n"), "{stdout}");
}

#[test]
fn backpropagation_writes_activations_by_their_names() {
    // `tanh'(XW1 + 1b1ᵀ)` is `1 − H ⊙ H` for `H = tanh(XW1 + 1b1ᵀ)`, as the one-loss
    // gradient writes it, and the seed reads as one symbol beside `⊙`.
    let program = "X: matrix(N, d); W1: matrix(d, k); b1: vector(k); W2: matrix(k, d); b2: vector(d); \
                   H = tanh(X W1 + 1 b1^T); R = H W2 + 1 b2^T; J = 1/(2N) ||R - X||^2; grad J wrt W1, b1, W2, b2";
    assert_eq!(
        backprop(program),
        "∇_{R}J = (R − X)/N\n∇_{H}J = (∇_{R}J)W2ᵀ\n∇_{W1}J = Xᵀ(∇_{H}J ⊙ (1 − H ⊙ H))\n\
         ∇_{b1}J = (∇_{H}J ⊙ (1 − H ⊙ H))ᵀ1\n∇_{W2}J = Hᵀ(∇_{R}J)\n∇_{b2}J = (∇_{R}J)ᵀ1"
    );
}

#[test]
fn a_sigmoid_output_fuses_with_its_cross_entropy_in_a_program() {
    // The loss through `p = σ(Hw2)` is as short as the chain rule's step and needs no
    // `∇_{p}J`, which divides by p ⊙ (1 − p).
    let program = "X: matrix(N, d); y: vector(N); W1: matrix(d, h); b1: vector(h); w2: vector(h); \
                   H = tanh(X W1 + 1 b1^T); p = sigmoid(H w2); J = -1/N (y^T ln(p) + (1 - y)^T ln(1 - p)); \
                   grad J wrt W1, b1, w2";
    assert_eq!(
        backprop(program),
        "∇_{H}J = (p − y)w2ᵀ/N\n∇_{W1}J = Xᵀ(∇_{H}J ⊙ (1 − H ⊙ H))\n∇_{b1}J = (∇_{H}J ⊙ (1 − H ⊙ H))ᵀ1\n\
         ∇_{w2}J = Hᵀ(p − y)/N"
    );
}

#[test]
fn diagonals_add_inside_one_diag() {
    // diag is linear, so `diag(1 ⊘ s) − 2diag((1/2)s^{⊙−3} ⊙ w ⊙ w)` (s² = w ⊙ w + ε1) is
    // one element-wise region, which cancels to ε s^{⊙−3}.
    let lasso = "X: matrix(N, p); y: vector(N); w: vector(p); λ, ε: scalar; \
                 1/2 ||X w - y||^2 + λ sum(sqrt(w .* w + ε 1))";
    assert_eq!(hessian(lasso, "w"), "XᵀX + λεdiag((w ⊙ w + ε 1)^{⊙-3/2})");
}

#[test]
fn a_dot_product_and_its_transpose_are_like_terms() {
    let simplified = |text: &str| bracket::simplify(text).unwrap().render(bracket::Format::Unicode);
    assert_eq!(simplified("x, v: vector(n); v^T x + x^T v"), "2vᵀx");
    assert_eq!(simplified("x, v: vector(n); A: symmetric(n); v^T A x + x^T A v"), "2vᵀAx");
    // Written alone, a dot product keeps its order.
    assert_eq!(grad("a, x: vector(n); exp(a^T x)", &["x"]), "exp(aᵀx)a");
    let out = Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(["hvp", "x: vector(n); (x^T x)^2", "--wrt", "x", "--dir", "V", "--check"])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.lines().next(), Some("4(2(Vᵀx)x + (xᵀx)V)"), "{stdout}");
}

#[test]
fn exp_is_its_own_derivative_in_tensor_operators_too() {
    // The e-graph writes exp' as exp, but not inside a tensor operator, an opaque leaf:
    // the chain rule now makes exp(z) ⊙ dz itself.
    let poisson = "x: vector(d); W: matrix(k, d); y: vector(k); 1^T exp(W x) - y^T W x";
    assert_eq!(hessian(poisson, "W"), "(diag(exp(Wx)) ⊗ x ⊗ x)_{1324}");
}

#[test]
fn a_name_defined_as_a_symmetric_form_is_symmetric() {
    // Σ = WWᵀ + diag(ψ) is symmetric for every W and ψ: its seed is the symmetric part of
    // the gradient (as for a declared symmetric matrix), with no transpose left, and the
    // step below reads 2(∇_{Σ}J)W where it was (∇_{Σ}J + (∇_{Σ}J)ᵀ)W.
    let factor_analysis = "W: matrix(p, k); psi: vector(p); S: symmetric(p); N: scalar; \
                           Sigma = W W^T + diag(psi); J = N/2 ln det(Sigma) + N/2 tr(Sigma^-1 S); grad J wrt W, psi";
    assert_eq!(backprop(factor_analysis), "∇_{Σ}J = (1/2)N(Σ⁻¹ − Σ⁻¹SΣ⁻¹)\n∇_{W}J = 2(∇_{Σ}J)W\n∇_{ψ}J = diag(∇_{Σ}J)");
    // Not where the form is not symmetric.
    let general = "W: matrix(p, k); A: matrix(p, p); S: symmetric(p); N: scalar; \
                   Sigma = W W^T + A; J = N/2 ln det(Sigma) + N/2 tr(Sigma^-1 S); grad J wrt W";
    assert!(backprop(general).contains("∇_{W}J = (∇_{Σ}J + (∇_{Σ}J)ᵀ)W"), "{}", backprop(general));
    // A kernel of a symmetric D, through an element-wise function: sin' is written cos.
    // The one line, `(K⁻¹ − K⁻¹yyᵀK⁻¹) · ∂K/∂ρ` (the part both terms share taken out),
    // is shorter than the two through ∇_K J.
    let periodic = "D: symmetric(N); y: vector(N); alpha, rho, ell, s: scalar; \
                    K = alpha exp(-2 sin(D / rho).^2 / ell^2) + s I; J = 1/2 y^T K^-1 y + 1/2 ln det(K); grad J wrt rho";
    assert_eq!(
        backprop(periodic),
        "∇_{ρ}J = 2α(D ⊙ cos(D/ρ) ⊙ exp(−2sin²(D/ρ)/ell²) ⊙ sin(D/ρ) · (K⁻¹ − K⁻¹yyᵀK⁻¹))/(ρ²ell²)"
    );
}

#[test]
fn sin_and_cos_differentiate_to_each_other() {
    assert_eq!(grad("x: vector(n); sum(sin(x))", &["x"]), "cos(x)");
    assert_eq!(hessian("x, a: vector(n); sum(cos(x)) + sin(a^T x)", "x"), "−(diag(cos(x)) + sin(aᵀx)aaᵀ)");
}

#[test]
fn a_scalar_times_a_reciprocal_is_a_quotient() {
    let noise = "X: matrix(N, p); y: vector(N); b: vector(p); s: scalar; N ln(s) + ||y - X b||^2 / (2 s^2)";
    assert_eq!(grad(noise, &["s"]), "N/s − ||y − Xb||²/s³");
}

#[test]
fn traces_of_a_product_meet_as_one_frobenius_product() {
    // tr(WYᵀX) = Y · XW by the trace's cycle, and the Frobenius product is bilinear:
    // the temperature's gradient is one product, not two traces.
    let temperature = "X: matrix(N, d); Y: matrix(N, k); Y 1 = 1; W: matrix(d, k); tau: scalar; \
                       P = softmax(X W / tau); J = -dot(Y, ln(P)); grad J wrt W, tau";
    assert_eq!(backprop(temperature), "∇_{W}J = Xᵀ(P − Y)/τ\n∇_{τ}J = ((Y − P) · XW)/τ²");
}

#[test]
fn a_tied_embedding_meets_its_softmax_loss() {
    // E is used under H and under P = softmax(HEᵀ): P's seed −Y ⊘ P divides by P, so E's
    // step is also tried with the loss written through P, its other user by its seed.
    let tied = "X, Y: matrix(N, m); Y 1 = 1; E: matrix(m, d); W: matrix(d, d); \
                H = tanh(X E W); P = softmax(H E^T); J = -dot(Y, ln(P)); grad J wrt E, W";
    assert_eq!(
        backprop(tied),
        "∇_{H}J = (P − Y)E\n∇_{E}J = Xᵀ(∇_{H}J ⊙ (1 − H ⊙ H))Wᵀ + (P − Y)ᵀH\n∇_{W}J = (XE)ᵀ(∇_{H}J ⊙ (1 − H ⊙ H))"
    );
}

#[test]
fn quotients_by_scalars_meet_over_one_denominator() {
    // A sum of two or more quotients by scalars is put over one denominator where that
    // has fewer operations, a scalar's powers written as powers, and a tensor that is a
    // scalar in every entry as that scalar times ones.
    let student = "X: matrix(N, p); y: vector(N); w: vector(p); nu, s: scalar; \
                   (nu + 1)/2 sum(ln(1 + (y - X w).^2 / (nu s^2))) + N ln(s)";
    assert_eq!(grad(student, &["s"]), "N/s − (ν + 1)(((y − Xw)^{⊙2})ᵀ(1 ⊘ (1 + (y − Xw)^{⊙2}/(νs²))))/(νs³)");
    let cosine = "x, y: vector(n); x^T y / (sqrt(x^T x) sqrt(y^T y))";
    assert_eq!(grad(cosine, &["x"]), "((xᵀx)y − (xᵀy)x)/(||y|| ||x||³)");
    // sqrt(E)² is E where the root is defined.
    assert_eq!(hessian("x: vector(n); c: scalar; sqrt(x^T x + c)", "x"), "((xᵀx + c)I − xxᵀ)/(xᵀx + c)^(3/2)");
}

#[test]
fn a_tie_break_gain_keeps_a_large_run_going() {
    // The one-line GP kernel's gradient by its length scale finds its smallest form 5
    // iterations after the one before, on a large e-graph; gains in tie-breaks between
    // keep the run going. Counting only smaller forms as progress stopped it with α
    // written twice. (D ⊙ exp(−D/ell) is symmetric, so its trace with K⁻¹ is one
    // Frobenius product.)
    let gp = "D: symmetric(N); y: vector(N); alpha, ell, s: scalar; \
              1/2 y^T (alpha exp(-D/ell) + s I)^-1 y + 1/2 ln det(alpha exp(-D/ell) + s I)";
    assert_eq!(
        grad(gp, &["ell"]),
        "α(D ⊙ exp(−D/ell) · ((αexp(−D/ell) + sI)⁻¹ − (αexp(−D/ell) + sI)⁻¹yyᵀ(αexp(−D/ell) + sI)⁻¹))/(2ell²)"
    );
}

#[test]
fn a_weight_that_is_a_function_of_the_residual_cancels_in_it() {
    // The element-wise weights of robust regressions are rational in Xw and y only through
    // the residual r = Xw − y: written in r they cancel, where in Xw and y they only grow.
    let t = "X: matrix(N, p); y: vector(N); w: vector(p); nu: scalar; sum(ln(1 + (X w - y).^2 / nu))";
    assert_eq!(hessian(t, "w"), "2Xᵀdiag((ν 1 − (Xw − y)^{⊙2}) ⊘ ((Xw − y)^{⊙2} + ν 1)^{⊙2})X");
    // A repeated denominator is a power.
    let nb = "X: matrix(N, p); y: vector(N); w: vector(p); r: scalar; (y + r 1)^T ln(r 1 + exp(X w)) - y^T X w";
    assert_eq!(hessian(nb, "w"), "rXᵀdiag(exp(Xw) ⊙ (r 1 + y) ⊘ (exp(Xw) + r 1)^{⊙2})X");
    // A sum the region is not a function of alone is left as an operand: tanh stays.
    assert_eq!(grad("z: scalar; ln(exp(z) + exp(-z))", &["z"]), "tanh(z)");
}

#[test]
fn a_student_t_hvp_is_one_weighted_product() {
    let mut args =
        vec!["hvp", "X: matrix(N, p); y: vector(N); w, V: vector(p); nu: scalar; sum(ln(1 + (X w - y).^2 / nu))"];
    args.extend(["--wrt", "w", "--dir", "V", "--check"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bracket")).args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.lines().next().unwrap(), "2Xᵀ(XV ⊙ (ν 1 − (Xw − y)^{⊙2}) ⊘ (ν 1 + (Xw − y)^{⊙2})^{⊙2})");
}

#[test]
fn a_softmax_s_rows_sum_to_one_in_a_program() {
    // Distillation: Q = softmax(·) by rows, so diag(Q1) is I and the gradient is the
    // difference of the two softmaxes.
    let kd = "X: matrix(N, d); Ws, Wt: matrix(d, k); T: scalar; P = softmax(X Ws / T); \
              Q = softmax(X Wt / T); J = T^2 dot(Q, ln(Q) - ln(P)); grad J wrt Ws";
    assert_eq!(checked("grad", kd, &[]), "∇_{Ws}J = TXᵀ(P − Q)");
}

#[test]
fn an_element_wise_function_of_a_symmetric_matrix_is_symmetric() {
    // The graphical lasso's smooth part: sqrt'(Q) + sqrt'(Q)ᵀ for a symmetric Q is twice
    // sqrt'(Q), whose closed form then meets Θ (survey3 #70).
    let glasso = "Theta, S: symmetric(n); lambda, epsilon: scalar; \
                  -ln det(Theta) + tr(S Theta) + lambda sum(sqrt(Theta .* Theta + epsilon 1 1^T))";
    assert_eq!(grad(glasso, &["Theta"]), "S − Θ⁻¹ + λΘ ⊘ sqrt(Θ ⊙ Θ + ε 11ᵀ)");
    // With `ε 1`, the ones matrix Θ's shape: a square ones matrix is symmetric too, so
    // the term is not symmetrised again (survey 8 #20), nor its HVP (#64).
    let glasso = "S, Theta: symmetric(p); tr(S Theta) - ln det(Theta) + lambda sum(sqrt(Theta .* Theta + epsilon 1))";
    assert_eq!(grad(glasso, &["Theta"]), "S − Θ⁻¹ + λΘ ⊘ sqrt(Θ ⊙ Θ + ε 1)");
    let hvp = Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(["hvp", &format!("V: symmetric(p); {glasso}"), "--wrt", "Theta", "--dir", "V", "--check"])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&hvp.stdout);
    assert!(hvp.status.success(), "{stdout}");
    assert_eq!(stdout.lines().next(), Some("Θ⁻¹VΘ⁻¹ + ελV ⊙ (Θ ⊙ Θ + ε 1)^{⊙-3/2}"));
}

#[test]
fn a_sum_of_ones_is_the_size() {
    // 1ᵀ1 of a vector of length N is N, which reads back as that size (survey2 #30).
    let gaussian = "X: matrix(N, n); P: symmetric(n); mu: vector(n); 1/2 tr((X - 1 mu^T) P (X - 1 mu^T)^T)";
    assert_eq!(hessian(gaussian, "mu"), "NP");
    let mean = "Sigma: symmetric(n); X: matrix(N, n); mu: vector(n); 1/2 tr((X - 1 mu^T) Sigma^-1 (X - 1 mu^T)^T)";
    assert_eq!(grad(mean, &["mu"]), "Σ⁻¹(Nμ − Xᵀ1)");
    // A size that also names a tensor is not a scalar: 1ᵀ1 stays.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(["hessian", "X: matrix(N, n); P: symmetric(n); mu: vector(n); N: matrix(n, n); 1/2 tr((X - 1 mu^T) P (X - 1 mu^T)^T) + tr(N)", "--wrt", "mu", "--check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.starts_with("(1_Nᵀ1_N)P"), "{stdout}");
}

#[test]
fn softplus_s_chain_rule_meets_its_sigmoid() {
    // σ(−t)eᵗ = σ(t): the triplet loss's HVP wrote the first (survey3 #23).
    let t = "W: matrix(k, d); a, p, q: vector(d); m: scalar; \
             J = ln(1 + exp(||W a - W p||^2 - ||W a - W q||^2 + m)); grad J wrt W";
    let out = checked("hvp", t, &[]);
    assert!(!out.contains("exp("), "{out}");
    let simplified = bracket::simplify("x: vector(n); sigmoid(-x) .* exp(x)").unwrap();
    assert_eq!(simplified.render(bracket::Format::Unicode), "sigmoid(x)");
}

#[test]
fn a_centred_vector_sums_to_zero() {
    // c = x − (1ᵀx/n)1 has cᵀ1 = 0 at every point (exact rationals), which the layer norm's
    // gradient needs to lose a term (issue 15's list; survey #122).
    let ln = "x, g: vector(n); m = 1^T x / n; c = x - m 1; v = c^T c / n; z = c / sqrt(v + epsilon); J = g^T z; J";
    // (The 1 after a scalar carries its size: a lone one would read as the number.)
    assert_eq!(grad(ln, &["x"]), "(g − ((cᵀg)c/(v + ε) + (gᵀ1)1_n)/n)/sqrt(v + ε)");
    let ln2 = "x, g: vector(n); epsilon: scalar; c = x - 1 1^T x / n; s = sqrt(c^T c / n + epsilon); g^T c / s";
    assert_eq!(grad(ln2, &["x"]), "(g − ((cᵀg)c/s² + (gᵀ1)1_n)/n)/s");
}

#[test]
fn derivatives_of_roots_are_written_out() {
    // sqrt' and sqrt'' are powers of the argument, not primes: the inverse Gaussian GLM's
    // Hessian is (1/4)Xᵀdiag((Xw)^{−3/2})X.
    let inverse_gaussian = "X: matrix(N, p); y: vector(N); w: vector(p); 1/2 y^T X w - 1^T sqrt(X w)";
    assert_eq!(hessian(inverse_gaussian, "w"), "(1/4)Xᵀdiag((Xw)^{⊙-3/2})X");
    assert_eq!(grad("x: vector(n); 1^T sqrt(x)", &["x"]), "(1/2)(1 ⊘ sqrt(x))");
    // Terms over a shared root cancel among themselves while the others stay apart:
    // αv ⊘ r − αw ⊙ w ⊙ v ⊘ r³ is αεv ⊘ r³ for r² = w ⊙ w + ε1.
    let elastic = "X: matrix(N, p); y: vector(N); w: vector(p); alpha, beta, epsilon: scalar; \
                   1/(2N) ||X w - y||^2 + alpha sum(sqrt(w .* w + epsilon 1)) + beta/2 ||w||^2";
    let hvp = first_line(&["hvp", elastic, "--wrt", "w", "--dir", "v", "--check"]);
    assert_eq!(hvp, "XᵀXv/N + εαv ⊙ (w ⊙ w + ε 1)^{⊙-3/2} + βv");
}

#[test]
fn a_scaled_log_sum_exp_is_a_scaled_softmax() {
    // The multinomial's n logsumexp(z): its exponentials over their sum with n in front
    // fold to n softmax(z), in the gradient and in the Hessian (survey4 #56).
    let multinomial = "z, y: vector(k); n: scalar; n logsumexp(z) - y^T z";
    assert_eq!(grad(multinomial, &["z"]), "n softmax(z) − y");
    assert_eq!(hessian(multinomial, "z"), "n(diag(softmax(z)) − softmax(z)softmax(z)ᵀ)");
}

#[test]
fn a_scalar_name_stands_in_front_of_a_product() {
    // Smoothed total variation: ε in front, not between Dᵀ and the diagonal (survey4 #64).
    let tv = "D: matrix(m, n); x: vector(n); epsilon: scalar; sum(sqrt((D x) .* (D x) + epsilon 1))";
    assert_eq!(hessian(tv, "x"), "εDᵀdiag(((Dx)^{⊙2} + ε 1)^{⊙-3/2})D");
}

#[test]
fn a_positive_diagonal_needs_no_condition() {
    // A multinomial logit with a reference class normalises by 1 + exp(XW)1, a positive
    // vector: its diagonal's inverse asks nothing (it said `diag(…) is invertible`).
    let printed = |text: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_bracket")).args(["grad", text, "--wrt", "W"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let logit = "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); 1^T ln(1 + exp(X W) 1) - dot(Y, X W)";
    assert_eq!(printed(logit), "Xᵀ(diag(1 + exp(XW)1)⁻¹exp(XW) − Y)");
    // Where the vector may hold a zero, that is the condition.
    let scaled = "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); r: vector(N); dot(diag(r)^-1 X W, Y)";
    assert_eq!(printed(scaled), "Xᵀdiag(r)⁻¹Y\nwhere r has no zero entry");
}

#[test]
fn written_out_sigmoids_and_softmax_totals_meet_their_identities() {
    // `1 ⊘ (1 + exp(−z))` is σ(z), and the like terms it leaves cancel after the run.
    let bce = "X: matrix(N, p); y: vector(N); w: vector(p); \
               -y^T ln(1 ./ (1 + exp(-X w))) - (1 - y)^T ln(1 - 1 ./ (1 + exp(-X w)))";
    assert_eq!(grad(bce, &["w"]), "Xᵀ(sigmoid(Xw) − y)");
    // A softmax vector's entries sum to one: ListNet's gradient.
    let listnet = "X: matrix(n, p); w: vector(p); t: vector(n); -softmax(t)^T ln(softmax(X w))";
    assert_eq!(grad(listnet, &["w"]), "Xᵀ(softmax(Xw) − softmax(t))");
}

#[test]
fn a_square_denominator_cancels_through_its_root() {
    // Geman–McClure: the Hessian's denominator (c² + r²)⁴ came expanded, with the
    // factor (c² + r²) its numerator shares left in; a square factor now goes in as its
    // root twice, so the shared one cancels. And a sum's cube in a denominator stays
    // three factors (multiplied out it was eight terms), so the two quotients are one:
    // 2E^{−2} − 8r² ⊘ E³ = (2c² − 6r²) ⊘ E³.
    let gm = "X: matrix(N, p); y: vector(N); w: vector(p); c: scalar; sum((X w - y).^2 ./ ((X w - y).^2 + c^2 1))";
    assert_eq!(hessian(gm, "w"), "c²Xᵀdiag((2c²1 − 6(Xw − y)^{⊙2}) ⊘ (c²1 + (Xw − y)^{⊙2})^{⊙3})X");
    let cube = "a, b: vector(n); 2 (a + b).^-2 - 8 (b ./ (a + b).^3)";
    let e = bracket::simplify(cube).unwrap().expr;
    assert_eq!(bracket::render(&e, bracket::Format::Unicode), "(2a − 6b) ⊘ (a + b)^{⊙3}");
}

#[test]
fn a_quotient_dotted_with_its_divisor_is_a_count() {
    // `(1 ⊘ q)ᵀq` is q's length: a mixture's gradient by its weight logits reads
    // `softmax(a) ⊙ (N1 − …)`, where it kept `(1 ⊘ q)ᵀq 1` with q written out twice.
    let mixture = "D: matrix(N, K); a: vector(K); -1^T ln(exp(-D/2) softmax(a))";
    assert_eq!(grad(mixture, &["a"]), "softmax(a) ⊙ (N 1 − exp(−(1/2)D)ᵀ(1 ⊘ exp(−(1/2)D)softmax(a)))");
}

#[test]
fn a_difference_and_its_negation_in_one_product_turn_one_way() {
    // `Σ⁻¹(x − μ)(μ − x)ᵀΣ⁻¹` hides a sign in the orientation; the textbook writes the
    // residual one way and the sign in the sum.
    let gaussian = "Sigma: symmetric(n); x, mu: vector(n); 1/2 (x - mu)^T Sigma^-1 (x - mu) + 1/2 ln det(Sigma)";
    assert_eq!(grad(gaussian, &["Sigma"]), "(1/2)(Σ⁻¹ − Σ⁻¹(x − μ)(x − μ)ᵀΣ⁻¹)");
    let matrix_normal = "X, M: matrix(n, p); U: symmetric(n); V: symmetric(p); \
                         1/2 tr(V^-1 (X - M)^T U^-1 (X - M)) + p/2 ln det(U) + n/2 ln det(V)";
    assert_eq!(grad(matrix_normal, &["U"]), "(1/2)(pU⁻¹ − U⁻¹(X − M)V⁻¹(X − M)ᵀU⁻¹)");
    let regression = "X: matrix(N, p); Y: matrix(N, k); B: matrix(p, k); Sigma: symmetric(k); \
                      N/2 ln det(Sigma) + 1/2 tr(Sigma^-1 (Y - X B)^T (Y - X B))";
    assert_eq!(grad(regression, &["Sigma"]), "(1/2)(NΣ⁻¹ − Σ⁻¹(Y − XB)ᵀ(Y − XB)Σ⁻¹)");
    // Transposed and distributed: `(Xᵀ − m1ᵀ)` against `(1mᵀ − X)`.
    let rows = "X: matrix(N, p); m: vector(p); S: symmetric(p); N/2 ln det(S) + 1/2 tr(S^-1 (X - 1 m^T)^T (X - 1 m^T))";
    assert_eq!(grad(rows, &["S"]), "(1/2)(NS⁻¹ − S⁻¹(Xᵀ − m 1ᵀ)(X − 1mᵀ)S⁻¹)");
    let triplet = "L: matrix(k, d); a, p, n: vector(d); softplus(||L (a - p)||^2 - ||L (a - n)||^2 + 1)";
    assert_eq!(
        grad(triplet, &["L"]),
        "2sigmoid(||L(a − p)||² − ||L(a − n)||² + 1)L((a − p)(a − p)ᵀ − (a − n)(a − n)ᵀ)"
    );
}

#[test]
fn a_log_sum_exp_by_rows_differentiates_to_row_softmaxes() {
    // `ln(exp(L)1)` (a mixture's log-likelihood by its logits): the derivatives are row
    // softmaxes, which stay finite where exp(L)1 overflows. Found once `ln' = 1 ⊘ ·`
    // counted as bringing a quotient, so that the softmax rules were searched.
    let gmm = "D: matrix(N, K); a: vector(K); -1^T ln(exp(1 a^T - 1/2 D) 1)";
    assert_eq!(grad(gmm, &["a"]), "−softmax(1aᵀ − (1/2)D)ᵀ1");
    assert_eq!(hessian(gmm, "a"), "softmax(1aᵀ − (1/2)D)ᵀsoftmax(1aᵀ − (1/2)D) − diag(softmax(1aᵀ − (1/2)D)ᵀ1)");
}

#[test]
fn a_factor_a_scalar_and_a_vector_share_cancels() {
    // The KL sparsity penalty of a sparse autoencoder: its quotient's numerator and the
    // denominator (ρ − 1)(r − 1) share ρ − 1, found once the denominator splits into a
    // scalar's factor and a vector's.
    let kl = "r: vector(h); rho: scalar; sum(rho ln(rho 1 ./ r) + (1 - rho) ln((1 - rho) 1 ./ (1 - r)))";
    assert_eq!(grad(kl, &["r"]), "(r − ρ 1) ⊘ ((1 − r) ⊙ r)");
}

#[test]
fn a_square_of_a_difference_is_one_power_and_keeps_its_sign_outside() {
    // A Gaussian mixture's exponent −½(M − 1xᵀ) ⊙ (M − 1xᵀ): the sign went into one
    // factor, `(1/2)((M − 1xᵀ) ⊙ (1xᵀ − M))`, its difference written twice (survey 9).
    let gmm = "x: vector(d); M: matrix(K, d); pi: vector(K); -ln(pi^T exp(-1/2 ((M - 1 x^T) .* (M - 1 x^T)) 1))";
    assert_eq!(grad(gmm, &["x"]), "x − Mᵀ(exp(−(1/2)(M − 1xᵀ)^{⊙2}1) ⊙ π)/(πᵀexp(−(1/2)(M − 1xᵀ)^{⊙2}1))");
    // A name's square stays as written.
    let e = bracket::simplify("h: vector(n); 1 - h .* h").unwrap();
    assert_eq!(e.render(bracket::Format::Unicode), "1 − h ⊙ h");
}

#[test]
fn a_symmetric_matrix_and_its_powers_and_inverse_lose_their_transposes() {
    // `(S²)ᵀxxᵀ` for a symmetric S (a power of one is symmetric), and `Σ⁻ᵀ` inside the
    // tensor operators of a Hessian by a covariance (survey 10).
    assert_eq!(grad("S: symmetric(n); x: vector(n); x^T S^3 x", &["S"]), "xxᵀS² + SxxᵀS + S²xxᵀ");
    let gauss = "X: matrix(N, p); Sigma: symmetric(p); mu: vector(p); R = X - 1 mu^T; \
                 N/2 ln det(Sigma) + 1/2 tr(Sigma^-1 R^T R)";
    let h = bracket::hessian(gauss, &["Sigma"]).unwrap().remove(0);
    assert!(h.check(3).passed());
    let shown = h.answer.render(bracket::Format::Unicode);
    assert_eq!(shown, "(1/2)((Σ⁻¹RᵀRΣ⁻¹ ⊗ Σ⁻¹)_{1324} + (Σ⁻¹ ⊗ Σ⁻¹RᵀRΣ⁻¹)_{1324} − N(Σ⁻¹ ⊗ Σ⁻¹)_{1423})");
}

#[test]
fn a_number_goes_into_a_sum_where_that_saves_operations() {
    // The symmetrised gradient halved a sum with a doubled term: (1/2)(2S⁻¹ − …).
    let t = "S: symmetric(n); C: matrix(n, n); tr(S^-1 C) + ln det(S)";
    assert_eq!(grad(t, &["S"]), "S⁻¹ − (1/2)S⁻¹(C + Cᵀ)S⁻¹");
    // A power of a number is a number: `3 1²1_k` once the fact made 1ᵀp one.
    assert_eq!(grad("p: vector(k); 1^T p = 1; (1^T p)^3", &["p"]), "3 1_k");
}

#[test]
fn a_matrix_centred_by_rows_or_columns_sums_to_zero_along_them() {
    // Row layer norm: C = X − (X1/d)1ᵀ has C1 = 0, so the term through C1 goes, and
    // 2diag((1/2)…) is one diag (survey 10). Batch norm: its Cᵀ1 = 0 likewise.
    let rows = "X, G: matrix(N, d); mu = X 1 / d; C = X - mu 1^T; v = (C .* C) 1 / d; \
                Yn = diag(1 ./ sqrt(v + epsilon 1)) C; dot(G, Yn)";
    assert_eq!(
        grad(rows, &["X"]),
        "diag(sqrt(v + ε 1)^{⊙-1})G − (diag((v + ε 1)^{⊙-3/2} ⊙ (C ⊙ G)1)C + (G 1 ⊘ sqrt(v + ε 1))1ᵀ)/d"
    );
    let columns = "X: matrix(N, d); G: matrix(N, d); mu = X^T 1 / N; C = X - 1 mu^T; v = (C .* C)^T 1 / N; \
                   Yh = C ./ (1 sqrt(v + epsilon 1)^T); dot(G, Yh)";
    let g = grad(columns, &["X"]);
    assert!(!g.contains("Cᵀ1") && !g.contains("(1/2)"), "{g}");
}

#[test]
fn batch_norm_divides_by_its_spread_deviations_as_column_scalings() {
    // `C ⊘ 1σᵀ` is `C diag(σ)⁻¹`: the gradient keeps no outer product `1σᵀ` and no power of
    // one (`(1σᵀ)^{⊙−2}`), as it did (survey 10, d.2).
    let bn = "X: matrix(N,d); G: matrix(N,d); mu = X^T 1 / N; C = X - 1 mu^T; v = (C .* C)^T 1 / N; \
              Yh = C ./ (1 sqrt(v + epsilon 1)^T); dot(G, Yh)";
    assert_eq!(grad(bn, &["X"]), "(G − 11ᵀG/N)diag(sqrt(v + ε 1)^{⊙-1}) − C diag((C ⊙ G)ᵀ1 ⊙ (v + ε 1)^{⊙-3/2})/N");
}

#[test]
fn a_scalar_inverse_cancels_and_a_unit_fraction_joins_its_divisor() {
    // The GP's second derivative by its length scale printed `(ρ⁷)⁻¹(…ρ)`, `(1/4)(4… − 2…)`
    // and `exp(−(1/2)D/ρ²)` (survey 10, d.10).
    let gp = "D: symmetric(n); y: vector(n); K = alpha exp(-D / (2 rho^2)) + beta I; \
              1/2 y^T K^-1 y + 1/2 ln det(K)";
    let out = checked("hessian", gp, &["rho"]);
    for clumsy in ["(1/4)", "(1/2)D", "ρ⁷"] {
        assert!(!out.contains(clumsy), "{clumsy} in {out}");
    }
    assert!(out.contains("exp(−D/(2ρ²))") && out.contains("ρ⁶)"), "{out}");
    let out = bracket::simplify("a, b, rho: scalar; (rho^7)^-1 ((a b + a) rho)").unwrap();
    assert_eq!(out.render(bracket::Format::Unicode), "(ab + a)/ρ⁶");
    // Its mixed block by ρ and α came as `(1/ρ³)(… + …)` beside the other's `(…)/ρ³`.
    let out = Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(["hessian", gp, "--wrt", "rho", "--wrt", "alpha"])
        .output()
        .expect("the binary runs");
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    let mixed: Vec<&str> = out.lines().filter(|l| l.starts_with("∇_α∇_ρ") || l.starts_with("∇_ρ∇_α")).collect();
    assert_eq!(mixed.len(), 2, "{out}");
    for block in mixed {
        assert!(!block.contains("(1/ρ³)") && (block.ends_with("/ρ³") || block.ends_with("ρ³)")), "{block}");
    }
}

#[test]
fn a_zero_fact_does_not_stand_between_common_factors() {
    // The centred c has cᵀ1 = 0; cancelled with that term in, the layer norm's Jacobian
    // kept n² over n² (survey 10, d.5). Since the root's square is cancelled across
    // its monomial denominator (`n(cᵀc/n + ε)` is n² · sqrt(…)²/n), it is the textbook
    // `(I − 11ᵀ/n − ccᵀ/(n(v + ε)))/sqrt(v + ε)`, not `((v + ε)(nI − 11ᵀ) − ccᵀ)/(sqrt(v + ε)³n)`.
    let ln = "x: vector(n); c = x - (1^T x / n) 1; c / sqrt(c^T c / n + epsilon)";
    let out = checked("jacobian", ln, &["x"]);
    assert_eq!(out, "(I − (ccᵀ/(cᵀc/n + ε) + 11ᵀ)/n)/sqrt(cᵀc/n + ε)");
}

#[test]
fn a_scaled_identity_factor_is_dropped() {
    // Label smoothing inline: diag(1_{N×k} 1) is kI, and `identity-left` is banned by the
    // time it appears; the answer kept `kI softmax(XW)`, and NumPy code an N × N identity
    // (survey 14, G31).
    let smoothed = "X: matrix(N,p); W: matrix(p,k); Y: matrix(N,k); eps: scalar; Y 1 = 1; \
                    -1/N dot((1 - eps) Y + eps/k 1 1^T, logsoftmax(X W))";
    let g = grad(smoothed, &["W"]);
    assert!(!g.contains('I'), "{g}");
    // And Xᵀ comes out of both terms, whose coefficients of softmax(XW) then meet (it was
    // `(eps − 1)Xᵀ(Y − softmax(XW))/N + (eps Xᵀ/(Nk))(k softmax(XW) − 1)`).
    assert_eq!(g, "Xᵀ((eps − 1)Y + softmax(XW) − eps 11ᵀ/k)/N");
    // So with the prediction named.
    let named = "X: matrix(N,p); W: matrix(p,k); Y: matrix(N,k); eps: scalar; Y 1 = 1; P = softmax(X W); \
                 -1/N dot((1 - eps) Y + eps/k 1 1^T, ln(P))";
    assert_eq!(grad(named, &["W"]), "Xᵀ((eps − 1)Y + P − eps 11ᵀ/k)/N");
}

#[test]
fn a_denominator_s_shared_factor_cancels_beside_a_scalar() {
    // Negative binomial regression written with μ: the denominator μ ⊙ μ + rμ shares μ
    // with its numerator, which kept it as `Xᵀ(μ ⊙ r(μ − y) ⊘ (μ ⊙ μ + rμ))` (survey 20).
    let nb = "X: matrix(N, p); w: vector(p); y: vector(N); r: scalar; mu = exp(X w); \
              -(y^T ln(mu ./ (mu + r 1)) + r 1^T ln(r 1 ./ (mu + r 1)))";
    assert_eq!(checked("grad", nb, &["w"]), "Xᵀ(r(μ − y) ⊘ (μ + r 1))");
    assert_eq!(checked("hessian", nb, &["w"]), "rXᵀdiag(μ ⊙ (r 1 + y) ⊘ (μ + r 1)^{⊙2})X");
    // By r: the sum of transposed vectors is one transposed sum, whose quotients meet
    // (it was `((y ⊘ (μ + r 1) − (1 + ln(…)))ᵀ + r²(1 ⊘ r(μ + r 1))ᵀ)1`).
    assert_eq!(checked("grad", nb, &["r"]), "((y + r 1) ⊘ (μ + r 1) − (1 + ln(r 1 ⊘ (μ + r 1))))ᵀ1");
}

#[test]
fn a_power_of_a_determinant_is_not_the_determinant_of_a_power() {
    // det(X)det(X) gathers into det(XX) = det(X²), which read as cheaper by the power
    // a name's superscript costs nothing for (survey 14, Z06).
    assert_eq!(grad("X: matrix(n); det(X)^2 + tr(X .* X^T)", &["X"]), "2(|X|²X⁻ᵀ + diag(diag(X)))");
}

#[test]
fn a_gp_program_s_kernel_gradient_reads_by_its_weights() {
    // ∇_{a}J = y/2 is a name scaled: the loss written through a gives ∇_{K}J at once,
    // spelled by a = K⁻¹y, where the step by a's seed kept `K⁻¹(y(∇_{a}J)ᵀ + …)K⁻¹`
    // (survey 14, P11).
    let gp = "X: matrix(N,d); y: vector(N); s: scalar; K = X X^T + s I; a = K^-1 y; \
              J = 1/2 y^T a + 1/2 logdet(K); grad J wrt X, s";
    assert_eq!(checked("grad", gp, &[]), "∇_{K}J = (1/2)(K⁻¹ − aaᵀ)\n∇_{X}J = 2(∇_{K}J)X\n∇_{s}J = tr(∇_{K}J)");
}

#[test]
fn a_zero_term_drops_out_of_a_sum() {
    // An entropy-regularised policy's Hessian: a term `0r` the run left in a sum was
    // zeroed but stayed, printing `(0 − τ(1 + ln(softmax(z))))softmax(z)ᵀ` in 283
    // characters; without it the second run finds 218 (survey 15).
    let policy = "r, z: vector(k); tau: scalar; -r^T softmax(z) + tau softmax(z)^T logsoftmax(z)";
    let out = checked("hessian", policy, &["z"]);
    assert!(!out.contains("(0 ") && !out.contains(" 0 "), "{out}");
    assert!(out.chars().count() <= 220, "{out}");
}

#[test]
fn a_log_of_an_absolute_value_has_the_reciprocal_derivative() {
    // d ln|s| = ds/s: ln'(|s|) ⊙ abs'(s) came out as sign(s)/abs(s), and a planar flow's
    // log-det term by w as sign(…)(…)/abs(…) (survey 15). |s| is sign(s) ⊙ s in a region,
    // so sign(s) ⊘ |s| cancels to 1 ⊘ s.
    assert_eq!(grad("x: vector(n); sum(ln(abs(x)))", &["x"]), "1 ⊘ x");
    let flow = "z, w, u: vector(d); b: scalar; -ln(abs(1 + (1 - tanh(w^T z + b)^2) u^T w))";
    let out = grad(flow, &["w", "u", "b"]);
    assert!(!out.contains("sign") && !out.contains("abs"), "{out}");
    // Where nothing divides by |x|, |x| stays as it is, not `sign(x) ⊙ x`.
    assert_eq!(grad("x: vector(n); sum(abs(x) ./ (1 + abs(x)))", &["x"]), "sign(x) ⊘ (1 + abs(x))^{⊙2}");
}

#[test]
fn a_sum_of_a_term_and_its_transpose_is_symmetric() {
    // An RBF kernel's squared distances `v1ᵀ + 1vᵀ − 2XXᵀ` are symmetric as a pair and a
    // symmetric term, so K is: its gradient by X has no K⁻ᵀ beside K⁻¹, and comes out as
    // (diag(M1) − M)X/l² with M = (K⁻¹yyᵀK⁻¹ − K⁻¹) ⊙ K, the known form, or smaller. It
    // was 4 terms longer, with K⁻ᵀ, Kᵀ and (1/2) (survey 15's RBF GP).
    let decls = "X: matrix(N, d); y: vector(N); l: scalar";
    let kernel = "K = exp(-1/(2 l^2) ((X .* X) 1 1^T + 1 1^T (X .* X)^T - 2 X X^T))";
    let gp = format!("{decls}; {kernel}; 1/2 y^T K^-1 y + 1/2 ln det(K)");
    let by_x = grad(&gp, &["X"]);
    assert!(!by_x.contains("K⁻ᵀ") && !by_x.contains("Kᵀ") && !by_x.contains("1/2"), "{by_x}");
    let known = "(diag(((K^-1 y y^T K^-1 - K^-1) .* K) 1) - (K^-1 y y^T K^-1 - K^-1) .* K) X / l^2";
    let answer = bracket::grad(&gp, &["X"]).unwrap().remove(0).answer;
    let model = bracket::read(&format!("{decls}; {kernel}; {known}")).unwrap();
    assert!(bracket::operations(&answer.expr) <= bracket::operations(model.exprs.last().unwrap()), "{by_x}");
    // And by the length scale, the 4 of every term meets the 4 under it: a sum's number
    // comes out of it (`sum(4A)` is `4sum(A)`).
    let by_l = grad(&gp, &["l"]);
    assert!(!by_l.contains('4') && by_l.ends_with("/l³"), "{by_l}");
}

#[test]
fn powers_of_one_base_are_one_power() {
    // The focal loss's Hessian: (1 + (1 − 2p) ⊘ p²) ⊙ σ'² is (1 − p)⁴, first written
    // `(p ⊙ p − 2p + 1)^{⊙2}` once squares were found, and a sum of three terms before.
    // Since Hadamard powers of one base merge (`(1 − p)^{⊙2} ⊙ (1 − p)`), six terms
    // where that form had nine: the answer is no larger than it.
    let focal = "X: matrix(N,d); w: vector(d); y: vector(N); p = sigmoid(X w); \
                 -sum((1 - p).^2 .* y .* log(p) + p.^2 .* (1 - y) .* log(1 - p))";
    hessian(focal, "w");
    let fourth = "X^T diag((p .* p).^2 .* (1 - y) - 2 ((1 - y) .* ln(1 - p) .* sigmoid'(X w).^2) + y .* (4 \
                  (sigmoid'(X w) .* (1 - p).^2) - 2 (ln(p) .* sigmoid'(X w).^2) + (1 - p).^4) + 4 (p .* p .* (1 - \
                  y) .* sigmoid'(X w)) + (2 ((1 - p) .* ln(p) .* y) - (1 - p).^2 .* (y ./ p) + (1 - y) .* (p.^2 ./ \
                  (1 - p)) + 2 ((y - 1) .* ln(1 - p) .* p)) .* sigmoid''(X w)) X";
    let answer = bracket::hessian(focal, &["w"]).unwrap().remove(0).answer;
    let model = bracket::read(&format!("{focal}; {fourth}")).unwrap();
    let known = bracket::operations(model.exprs.last().unwrap());
    assert!(bracket::operations(&answer.expr) <= known, "{} > {known}", bracket::operations(&answer.expr));
    // A cube of a product, and of a name written three times; a name's square stays.
    let simplified = |text: &str| bracket::simplify(text).unwrap().render(bracket::Format::Unicode);
    let x = "X: matrix(N, p); w: vector(p); y, x: vector(N)";
    assert_eq!(simplified(&format!("{x}; y ./ ((X w) .* (X w).^2)")), "y ⊘ (Xw)^{⊙3}");
    assert_eq!(simplified(&format!("{x}; x .* x .* x")), "x^{⊙3}");
    assert_eq!(simplified(&format!("{x}; x .* x")), "x ⊙ x");
    let hess = hessian("X: matrix(N, p); w: vector(p); y: vector(N); sum(y ./ (X w))", "w");
    assert_eq!(hess, "2Xᵀdiag(y ⊘ (Xw)^{⊙3})X");
}

#[test]
fn a_symmetric_part_of_a_definition_is_known_symmetric_in_the_run() {
    // K = exp(−D/(2l²)) + sI with D = r1ᵀ + 1rᵀ − 2XXᵀ: the exp(…) inside K is symmetric,
    // which the e-graph's analysis, one node at a time, did not see (a sum of two
    // terms neither of them symmetric). The gradient by X kept its transposes, (1/2)s,
    // and seven copies of the exponential; now four, and none transposed (survey 16).
    let gp = "X: matrix(N, p); y: vector(N); l, s: scalar; r = diag(X X^T); \
              K = exp(-(r 1^T + 1 r^T - 2 X X^T)/(2 l^2)) + s I; 1/2 y^T K^-1 y + 1/2 logdet(K)";
    let out = grad(gp, &["X"]);
    assert!(!out.contains(")ᵀ") && !out.contains("1/2"), "{out}");
    assert!(out.matches("exp(").count() <= 4, "{out}");
    // And a symmetric matrix's sum with its transpose keeps the name first: `A + Aᵀ`.
    let form = "S: symmetric(n); X: matrix(n, 2); A: matrix(2, 2); tr((X^T S X)^-1 A)";
    assert_eq!(grad(form, &["X"]), "−SX(XᵀSX)⁻¹(A + Aᵀ)(XᵀSX)⁻¹");
}

#[test]
fn a_factor_every_term_shares_in_one_scalar_comes_out() {
    // A planar flow's log-det term by w, with t = tanh(wᵀz + b): over one denominator
    // the numerator is u − t²u + 2(t³ − t)(uᵀw)z, whose coefficients of u and of
    // (uᵀw)z share 1 − t² (survey 16, g25). Their greatest common divisor as
    // polynomials in t comes out in front.
    let flow = "u, w, z: vector(d); b: scalar; t = tanh(w^T z + b); ln(1 + (1 - t^2) u^T w)";
    assert_eq!(grad(flow, &["w"]), "(1 − t²)(u − 2t(uᵀw)z)/(1 + (1 − t²)(uᵀw))");
}

#[test]
fn a_defined_reciprocal_differentiates_to_its_square() {
    // h = 1/(a + r): dh = −h²dr, where the answers divided by (a + r)² beside h, and a
    // quotient a factor multiplied stayed as it came, `(−1/(a + r)²)c` (survey 16, g26).
    assert_eq!(grad("a, r, c: scalar; c/(a + r)", &["r"]), "−c/(a + r)²");
    assert_eq!(grad("a, r, c: scalar; h = 1/(a + r); c h", &["r"]), "−h²c");
    assert_eq!(grad("a, r, c: scalar; h = 1/(a + r); c h^2", &["r"]), "−2h³c");
    let radial = "z, z0: vector(d); alpha, beta: scalar; r = ||z - z0||; h = 1/(alpha + r); \
                  (d - 1) ln(1 + beta h) + ln(1 + beta h - beta r h^2)";
    let out = grad(radial, &["z"]);
    assert!(!out.contains("(α + r)"), "{out}");
}

#[test]
fn a_scalar_and_its_mirror_image_are_one_term() {
    // A scalar is its own transpose: vᵀw − wᵀv is 0 and aᵀXb − bᵀXᵀa too, in a sum of
    // any length; the tangent of a weight-decayed loss meets dwᵀw and wᵀdw so. They
    // stayed as written, two terms that are one.
    let simplified = |text: &str| bracket::simplify(text).unwrap().render(bracket::Format::Unicode);
    assert_eq!(simplified("v, w: vector(n); v^T w - w^T v"), "0");
    assert_eq!(simplified("a, b, c: vector(n); a^T b + c^T c - b^T a"), "cᵀc");
    assert_eq!(simplified("a, b: vector(n); X: matrix(n, n); a^T X b + a^T a - b^T X^T a"), "aᵀa");
    assert_eq!(simplified("a, b: vector(n); (a^T b)(b^T a)"), "(aᵀb)²");
    // An inner product either way round, and of vectors as a product.
    assert_eq!(simplified("A, B: matrix(n, m); tr(A^T B) - tr(B^T A)"), "0");
    assert_eq!(simplified("X: matrix(n, m); a: vector(n); b: vector(m); a^T X b - tr(X b a^T)"), "0");
    // With scalars inside, which leave it, numbers and all: it was `(B · 2A)/(2N)`.
    let halves = simplified("A, B: matrix(n, m); N: scalar; dot(A/(2 N), B) + dot(B/(2 N), A)");
    assert!(["(A · B)/N", "(B · A)/N"].contains(&halves.as_str()), "{halves}");
    assert_eq!(simplified("A, B: matrix(n, m); dot(3 A, B/2)"), "(3/2)(A · B)");
    // Written alone, each keeps its order.
    assert_eq!(simplified("v, w: vector(n); w^T v + 1"), "wᵀv + 1");
    // A trace or Frobenius product that is a quadratic form reads as one, not as the
    // Frobenius products `Ax · x` and `(x − m) · S⁻¹(x − m)` (survey 29).
    assert_eq!(simplified("x: vector(d); A: matrix(d); tr(A x x^T)"), "xᵀAx");
    assert_eq!(simplified("x, y: vector(d); tr(x y^T)"), "xᵀy");
    assert_eq!(simplified("x, m: vector(d); S: symmetric(d); tr((x - m)(x - m)^T S^-1)"), "(x − m)ᵀS⁻¹(x − m)");
    assert_eq!(simplified("x, y: vector(d); A: matrix(d); dot(A, x y^T)"), "xᵀAy");
    // A sum with an outer product in it stays a Frobenius product.
    assert_eq!(simplified("A, B: matrix(n); x, y: vector(n); dot(B, A + x y^T)"), "B · (A + xyᵀ)");
}

#[test]
fn a_condition_is_stated_once_whatever_its_spelling() {
    // The input's `tr(WᵀBW) ≠ 0` is the answer's `W · BW ≠ 0`, told by its values.
    let text = "A, B: symmetric(d); W: matrix(d, k); tr(W^T A W) / tr(W^T B W)";
    let out = Command::new(env!("CARGO_BIN_EXE_bracket")).args(["grad", text, "--wrt", "W"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("where ")).collect::<Vec<_>>(), ["where W · BW ≠ 0"]);
}

#[test]
fn a_tangent_gathers_an_inner_product_written_both_ways() {
    // The tangent of (1/(2N))‖Z − Y‖² + (λ/2)(‖W1‖² + ‖W2‖²) has each inner product twice,
    // once each way round and with its scalar inside: it printed as
    // `dZ2/(2N) · (Z2 − Y) + (Z2 − Y)/(2N) · dZ2 + (λ/2)(dW1 · W1 + W1 · dW1 + …)`.
    let program = "N, λ: scalar; A1 = X W1 + 1 b1^T; Z1 = tanh(A1); A2 = Z1 W2 + 1 b2^T; Z2 = tanh(A2); \
                   J = 1/(2N) (Z2 - Y) · (Z2 - Y) + λ/2 (W1 · W1 + W2 · W2); grad J wrt W1, b1, W2, b2";
    let out = checked("hvp", program, &[]);
    let dj = out.lines().find(|l| l.starts_with("dJ = ")).unwrap_or("");
    assert_eq!(dj, "dJ = (dZ2 · (Z2 − Y))/N + λ(dW1 · W1 + dW2 · W2)", "{out}");
}

#[test]
fn a_relu_derivative_is_its_own_square() {
    // relu' is 0 or 1: a least-squares ReLU fit's Hessian was Xᵀdiag(relu'(Xw) ⊙ relu'(Xw))X
    // (survey 21).
    let fit = "X: matrix(N, p); y: vector(N); w: vector(p); 1/2 ||relu(X w) - y||^2";
    assert_eq!(hessian(fit, "w"), "Xᵀdiag(relu'(Xw))X");
}

#[test]
fn a_matrix_both_terms_of_a_scalar_share_is_written_once() {
    // A GP's gradient by its length scale wrote ∂K/∂l twice, 10 tokens over the
    // textbook `tr((K⁻¹ − K⁻¹yyᵀK⁻¹)∂K)/2` (survey 27): a scalar's terms have no result
    // index to grow a shared part from, so the part is grown from a factor they share.
    let gp = "D: symmetric(n); y: vector(n); l, s: scalar; K = exp(-D/(2 l^2)) + s I; \
              1/2 y^T K^-1 y + 1/2 ln det(K)";
    assert_eq!(grad(gp, &["l"]), "tr((D ⊙ exp(−D/(2l²)))(K⁻¹ − K⁻¹yyᵀK⁻¹))/(2l³)");
    assert_eq!(
        grad("A, B: matrix(n); x, y: vector(n); t: scalar; C = t B; dot(A, C) + x^T C y", &["t"]),
        "B · (A + xyᵀ)"
    );
    // Only where every occurrence of the shared factor comes out: one K⁻¹ taken out of
    // `yᵀK⁻³y − tr(K⁻²)/2` left `K⁻¹ · (K⁻²yyᵀ − (1/2)K⁻¹)`.
    let by_noise = "D: symmetric(n); y: vector(n); K = alpha exp(-D / (2 rho^2)) + beta I; \
                    1/2 y^T K^-1 y + 1/2 ln det(K)";
    assert_eq!(hessian(by_noise, "beta"), "yᵀK⁻³y − (1/2)tr(K⁻²)");
}

#[test]
fn a_scalar_product_before_a_tensor_keeps_its_parentheses() {
    // `2xᵀSxxxᵀ` read back right, but no one could read it (survey 25, D4); a number
    // stays outside (`2(xᵀx)A`, not `(2xᵀx)A`), and a product opening with a
    // parenthesis is not taken for one in parentheses (`((Ax)ᵀAx)x`).
    let printed = |text: &str| bracket::simplify(text).unwrap().render(bracket::Format::Unicode);
    assert_eq!(grad("x: vector(n); S: symmetric(n); (x^T S x)^2", &["S"]), "2(xᵀSx)xxᵀ");
    assert_eq!(printed("x, y: vector(n); A: matrix(n, n); 2 (x^T y) A"), "2(xᵀy)A");
    assert_eq!(printed("A: matrix(m, n); x: vector(n); 4 (A x)^T A x x x^T"), "4((Ax)ᵀAx)xxᵀ");
}

#[test]
fn a_determinants_power_and_a_scaled_ones_matrix_print_as_simplify_prints_them() {
    // Survey 28: `2|(AX)²|X⁻ᵀ` (the determinant of a power, tied in size with the power
    // of the determinant) and `eps(11ᵀ)/k`, where `simplify` prints `|AX|²` and
    // `eps 11ᵀ/k`.
    assert_eq!(grad("A: matrix(n); X: matrix(n); det(A X)^2", &["X"]), "2|AX|²X⁻ᵀ");
    let smoothing = "X: matrix(N, p); W: matrix(p, k); Y: matrix(N, k); Y 1 = 1; eps: scalar; \
                     -sum(((1 - eps) Y + eps/k 1 1^T) .* log_softmax(X W))";
    assert_eq!(grad(smoothing, &["W"]), "Xᵀ((eps − 1)Y + softmax(XW) − eps 11ᵀ/k)");
}
