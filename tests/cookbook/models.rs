//! Models people train and fit, by every parameter: batch MLPs of 2 to 6 layers with
//! and without biases (squared error and softmax cross-entropy with one-hot rows),
//! attention, masked matrix factorization, autoencoders, Gaussian, multivariate-t and
//! Gaussian-process likelihoods, logistic and softmax regression. Each known form is
//! the simplest classic form we know, written by hand and checked against finite
//! differences by the harness like every other case.

use super::{case, Case, Family::Models};

const MLP2: &str = "X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, k); b1: vector(h); b2: vector(k); Y: matrix(N, k)";
const MLP2_MSE: &str = "H = tanh(X W1 + 1 b1^T); 1/2 ||H W2 + 1 b2^T - Y||^2";
const MLP2_ONEHOT: &str =
    "X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, k); b1: vector(h); b2: vector(k); Y: matrix(N, k); Y 1 = 1";
const MLP2_CE: &str = "H = tanh(X W1 + 1 b1^T); P = softmax(H W2 + 1 b2^T); -1/N dot(Y, ln(P))";
const MLP3: &str = "X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, g); W3: matrix(g, k); Y: matrix(N, k)";
const MLP3_SIG: &str = "H1 = sigmoid(X W1); H2 = sigmoid(H1 W2); 1/2 ||H2 W3 - Y||^2";
const MLP3B: &str = "X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, g); W3: matrix(g, k); b1: vector(h); \
                     b2: vector(g); Y: matrix(N, k)";
const MLP3B_MSE: &str = "H1 = tanh(X W1 + 1 b1^T); H2 = tanh(H1 W2 + 1 b2^T); 1/2 ||H2 W3 - Y||^2";
const MLP4: &str = "X: matrix(N, d); W1: matrix(d, h); W2, W3: matrix(h, h); W4: matrix(h, k); Y: matrix(N, k)";
const MLP4_MSE: &str = "H1 = tanh(X W1); H2 = tanh(H1 W2); H3 = tanh(H2 W3); 1/2 ||H3 W4 - Y||^2";
const MLP6: &str = "X: matrix(N, d); W1: matrix(d, h); W2, W3, W4, W5: matrix(h, h); W6: matrix(h, k); Y: matrix(N, k)";
const MLP6_MSE: &str = "H1 = tanh(X W1); H2 = tanh(H1 W2); H3 = tanh(H2 W3); H4 = tanh(H3 W4); \
                        H5 = tanh(H4 W5); 1/2 ||H5 W6 - Y||^2";
const MLP3_RELU: &str =
    "X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, g); W3: matrix(g, k); Y: matrix(N, k); Y 1 = 1";
const MLP3_CE: &str = "H1 = relu(X W1); H2 = relu(H1 W2); P = softmax(H2 W3); -dot(Y, ln(P))";
const ATT: &str = "Q, K, V, G: matrix(n, d)";
const SELF: &str = "X: matrix(n, d); Wq, Wk: matrix(d, a); Wv: matrix(d, e); G: matrix(n, e)";
const SELF_F: &str = "dot(G, softmax(X Wq (X Wk)^T) X Wv)";
const MASKED_ATT: &str = "Q, K: matrix(n, p); V, G: matrix(n, d); M: matrix(n, n)";
const MASKED_ATT_F: &str = "E = exp(Q K^T) .* M; dot(G, diag(1 ./ (E 1)) E V)";
const MF: &str = "M, X: matrix(m, n); U: matrix(m, r); V: matrix(n, r)";
const MF_REG: &str = "M, X: matrix(m, n); U: matrix(m, r); V: matrix(n, r); λ: scalar";
const AE: &str = "X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, d)";
const GAUSS: &str = "X: matrix(N, p); m: vector(p); S: symmetric(p)";
const GAUSS_F: &str = "N/2 ln det(S) + 1/2 tr(S^-1 (X - 1 m^T)^T (X - 1 m^T))";
const MVT: &str = "x, m: vector(n); S: symmetric(n); ν, p: scalar";
const MVT_F: &str = "(ν + p)/2 ln(1 + 1/ν (x - m)^T S^-1 (x - m))";
const GP: &str = "y: vector(n); K: symmetric(n)";
const FA: &str = "S: symmetric(n); W: matrix(n, q); psi: vector(n)";
const FA_F: &str = "C = W W^T + diag(psi); ln det(C) + tr(C^-1 S)";
const BN: &str = "X, G: matrix(N, d); ε: scalar";
const BN_F: &str = "mu = X^T 1 / N; C = X - 1 mu^T; v = (C .* C)^T 1 / N; Yh = C ./ (1 sqrt(v + ε 1)^T); dot(G, Yh)";
const LN: &str = "x, g: vector(n); ε: scalar";
const LN_F: &str = "m = 1^T x / n; c = x - m 1; v = c^T c / n; z = c / sqrt(v + ε); dot(g, z)";

pub const MODEL_CASES: &[Case] = &[
    // Two layers, squared error, with biases.
    case(Models, "MLP 2 layers, MSE", MLP2, MLP2_MSE, "W1", Some("X^T ((H W2 + 1 b2^T - Y) W2^T .* (1 - H .* H))")),
    case(Models, "MLP 2 layers, MSE", MLP2, MLP2_MSE, "b1", Some("((H W2 + 1 b2^T - Y) W2^T .* (1 - H .* H))^T 1")),
    case(Models, "MLP 2 layers, MSE", MLP2, MLP2_MSE, "W2", Some("H^T (H W2 + 1 b2^T - Y)")),
    case(Models, "MLP 2 layers, MSE", MLP2, MLP2_MSE, "b2", Some("(H W2 + 1 b2^T - Y)^T 1")),
    // Two layers, softmax cross-entropy with one-hot rows.
    case(Models, "MLP 2 layers, softmax CE", MLP2_ONEHOT, MLP2_CE, "W1", Some("X^T ((P - Y) W2^T .* (1 - H .* H)) / N")),
    case(Models, "MLP 2 layers, softmax CE", MLP2_ONEHOT, MLP2_CE, "b1", Some("((P - Y) W2^T .* (1 - H .* H))^T 1 / N")),
    case(Models, "MLP 2 layers, softmax CE", MLP2_ONEHOT, MLP2_CE, "W2", Some("H^T (P - Y) / N")),
    case(Models, "MLP 2 layers, softmax CE", MLP2_ONEHOT, MLP2_CE, "b2", Some("(P - Y)^T 1 / N")),
    // Three layers, sigmoid, no biases.
    case(Models, "MLP 3 layers, sigmoid", MLP3, MLP3_SIG, "W1", Some("X^T (((H2 W3 - Y) W3^T .* sigmoid'(H1 W2)) W2^T .* sigmoid'(X W1))")),
    case(Models, "MLP 3 layers, sigmoid", MLP3, MLP3_SIG, "W2", Some("H1^T ((H2 W3 - Y) W3^T .* sigmoid'(H1 W2))")),
    case(Models, "MLP 3 layers, sigmoid", MLP3, MLP3_SIG, "W3", Some("H2^T (H2 W3 - Y)")),
    // Three layers with biases.
    case(Models, "MLP 3 layers, biases", MLP3B, MLP3B_MSE, "W1", Some("X^T (((H2 W3 - Y) W3^T .* (1 - H2 .* H2)) W2^T .* (1 - H1 .* H1))")),
    case(Models, "MLP 3 layers, biases", MLP3B, MLP3B_MSE, "b1", Some("(((H2 W3 - Y) W3^T .* (1 - H2 .* H2)) W2^T .* (1 - H1 .* H1))^T 1")),
    case(Models, "MLP 3 layers, biases", MLP3B, MLP3B_MSE, "b2", Some("((H2 W3 - Y) W3^T .* (1 - H2 .* H2))^T 1")),
    case(Models, "MLP 3 layers, biases", MLP3B, MLP3B_MSE, "W3", Some("H2^T (H2 W3 - Y)")),
    // Four and six layers.
    case(Models, "MLP 4 layers", MLP4, MLP4_MSE, "W1", Some("X^T ((((H3 W4 - Y) W4^T .* tanh'(H2 W3)) W3^T .* tanh'(H1 W2)) W2^T .* tanh'(X W1))")),
    case(Models, "MLP 4 layers", MLP4, MLP4_MSE, "W2", Some("H1^T (((H3 W4 - Y) W4^T .* tanh'(H2 W3)) W3^T .* tanh'(H1 W2))")),
    case(Models, "MLP 4 layers", MLP4, MLP4_MSE, "W4", Some("H3^T (H3 W4 - Y)")),
    case(Models, "MLP 6 layers", MLP6, MLP6_MSE, "W1", Some("X^T ((((((H5 W6 - Y) W6^T .* tanh'(H4 W5)) W5^T .* tanh'(H3 W4)) W4^T .* tanh'(H2 W3)) W3^T .* tanh'(H1 W2)) W2^T .* tanh'(X W1))")),
    case(Models, "MLP 6 layers", MLP6, MLP6_MSE, "W3", Some("H2^T ((((H5 W6 - Y) W6^T .* tanh'(H4 W5)) W5^T .* tanh'(H3 W4)) W4^T .* tanh'(H2 W3))")),
    case(Models, "MLP 6 layers", MLP6, MLP6_MSE, "W5", Some("H4^T ((H5 W6 - Y) W6^T .* tanh'(H4 W5))")),
    // Three relu layers, softmax cross-entropy.
    case(Models, "MLP 3 layers, relu, softmax CE", MLP3_RELU, MLP3_CE, "W1", Some("X^T (((P - Y) W3^T .* relu'(H1 W2)) W2^T .* relu'(X W1))")),
    case(Models, "MLP 3 layers, relu, softmax CE", MLP3_RELU, MLP3_CE, "W2", Some("H1^T ((P - Y) W3^T .* relu'(H1 W2))")),
    case(Models, "MLP 3 layers, relu, softmax CE", MLP3_RELU, MLP3_CE, "W3", Some("H2^T (P - Y)")),
    // Attention, with G the gradient of the output.
    case(Models, "attention", ATT, "dot(G, softmax(Q K^T) V)", "Q", Some("((G V^T - (G .* softmax(Q K^T) V) 1 1^T) .* softmax(Q K^T)) K")),
    case(Models, "attention", ATT, "dot(G, softmax(Q K^T) V)", "K", Some("((G V^T - (G .* softmax(Q K^T) V) 1 1^T) .* softmax(Q K^T))^T Q")),
    case(Models, "attention", ATT, "dot(G, softmax(Q K^T) V)", "V", Some("softmax(Q K^T)^T G")),
    case(Models, "self-attention", SELF, SELF_F, "Wq", Some("X^T ((G (X Wv)^T - (G .* softmax(X Wq (X Wk)^T) X Wv) 1 1^T) .* softmax(X Wq (X Wk)^T)) X Wk")),
    case(Models, "self-attention", SELF, SELF_F, "Wv", Some("X^T softmax(X Wq (X Wk)^T)^T G")),
    // Masked attention, the mask applied to exp(QKᵀ) by a definition: the gradient keeps E.
    case(Models, "masked attention", MASKED_ATT, MASKED_ATT_F, "Q", Some("(diag(1 ./ (E 1)) G V^T .* E - diag((E V .* G) 1 ./ ((E 1) .* (E 1))) E) K")),
    case(Models, "masked attention", MASKED_ATT, MASKED_ATT_F, "K", Some("(diag(1 ./ (E 1)) G V^T .* E - diag((E V .* G) 1 ./ ((E 1) .* (E 1))) E)^T Q")),
    // Masked factorization, plain and with weight decay.
    case(Models, "masked factorization", MF, "||M .* (X - U V^T)||^2", "U", Some("-2 (M .* M .* (X - U V^T)) V")),
    case(Models, "masked factorization", MF, "||M .* (X - U V^T)||^2", "V", Some("-2 (M .* M .* (X - U V^T))^T U")),
    case(Models, "masked factorization, L2", MF_REG, "||M .* (X - U V^T)||^2 + λ (||U||^2 + ||V||^2)", "U", Some("2 (λ U - (M .* M .* (X - U V^T)) V)")),
    case(Models, "masked factorization, L2", MF_REG, "||M .* (X - U V^T)||^2 + λ (||U||^2 + ||V||^2)", "V", Some("2 (λ V - (M .* M .* (X - U V^T))^T U)")),
    // Autoencoders.
    case(Models, "tied autoencoder", "X: matrix(N, d); W: matrix(d, h)", "H = sigmoid(X W); ||X - H W^T||^2", "W", Some("2 ((H W^T - X)^T H + X^T ((H W^T - X) W .* sigmoid'(X W)))")),
    case(Models, "autoencoder", AE, "||X - sigmoid(X W1) W2||^2", "W1", Some("-2 X^T ((X - sigmoid(X W1) W2) W2^T .* sigmoid'(X W1))")),
    case(Models, "autoencoder", AE, "||X - sigmoid(X W1) W2||^2", "W2", Some("-2 sigmoid(X W1)^T (X - sigmoid(X W1) W2)")),
    // Likelihoods.
    case(Models, "Gaussian likelihood", GAUSS, GAUSS_F, "m", Some("-S^-1 (X - 1 m^T)^T 1")),
    case(Models, "Gaussian likelihood", GAUSS, GAUSS_F, "S", Some("1/2 (N S^-1 - S^-1 (X - 1 m^T)^T (X - 1 m^T) S^-1)")),
    case(Models, "multivariate t", MVT, MVT_F, "m", Some("(ν + p) S^-1 (m - x) / (ν + (x - m)^T S^-1 (x - m))")),
    case(Models, "multivariate t", MVT, MVT_F, "x", Some("(ν + p) S^-1 (x - m) / (ν + (x - m)^T S^-1 (x - m))")),
    case(Models, "Gaussian process", GP, "1/2 y^T K^-1 y + 1/2 ln det(K)", "K", Some("1/2 (K^-1 - K^-1 y y^T K^-1)")),
    case(Models, "Gaussian process", GP, "1/2 y^T K^-1 y + 1/2 ln det(K)", "y", Some("K^-1 y")),
    // Factor analysis, C = WWᵀ + diag(ψ): the noise variances' gradient is one diagonal.
    case(Models, "factor analysis", FA, FA_F, "psi", Some("diag(C^-1 - C^-1 S C^-1)")),
    case(Models, "factor analysis", FA, FA_F, "W", Some("2 C^-1 (W - S C^-1 W)")),
    // Batch and layer normalization, with G (g) the gradient of the output.
    case(Models, "batch norm", BN, BN_F, "X", Some("(G - 1 1^T G / N) diag(sqrt(v + ε 1).^-1) - C diag((C .* G)^T 1 ./ sqrt(v + ε 1).^3) / N")),
    case(Models, "layer norm", LN, LN_F, "x", Some("(g - (1^T g 1 + c^T g c / (v + ε)) / n) / sqrt(v + ε)")),
    // A saturating response s/(1 + s) of s = c wᵀu: the product rule's two quotients are one.
    case(Models, "saturating response", "u, w: vector(d); c: scalar", "c w^T u / (1 + c u^T w)", "u", Some("c w / (1 + c u^T w)^2")),
    // Regression.
    case(Models, "logistic regression", "X: matrix(N, d); w: vector(d); y: vector(N)", "-dot(y, ln(sigmoid(X w))) - dot(1 - y, ln(1 - sigmoid(X w)))", "w", Some("X^T (sigmoid(X w) - y)")),
    case(Models, "softmax regression by log-sum-exp", "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k)", "1^T ln(exp(X W) 1) - dot(Y, X W)", "W", Some("X^T (softmax(X W) - Y)")),
];
