//! Second derivatives: every Hessian case is checked against finite differences of the
//! gradient (which is checked against the function), compared on random tensors with
//! the simplest known form written here, and must be classic and no larger than it.
//! Each Hessian-vector product is checked the same way and, for a vector variable,
//! equals the Hessian times the direction. The vec layout is compared with the
//! reshaped tensor layout.

mod common;

use bracket::{hessian, hvp, is_classic, operations, read, render, Dim, Expr, Format, Kind, Layout};
use common::same_value;

/// Declarations, function, variable, and the simplest known Hessian (None: no classic
/// form is known; the result must still check).
const CASES: &[(&str, &str, &str, Option<&str>)] = &[
    ("x: vector(n); A: matrix(n, n)", "x^T A x", "x", Some("A + A^T")),
    ("x: vector(n); S: symmetric(n)", "x^T S x", "x", Some("2 S")),
    ("x: vector(n); m: vector(n); S: symmetric(n)", "(x - m)^T S^-1 (x - m)", "x", Some("2 S^-1")),
    ("x: vector(n); m: vector(n); S: symmetric(n)", "1/2 (x - m)^T S^-1 (x - m)", "m", Some("S^-1")),
    // The Rayleigh quotient: the 2 all terms share in front.
    (
        "x: vector(n); S: symmetric(n)",
        "x^T S x / (x^T x)",
        "x",
        Some("2 (S / (x^T x) - (x^T S x I + 2 (x x^T S + S x x^T)) / (x^T x)^2 + 4 x^T S x x x^T / (x^T x)^3)"),
    ),
    ("X: matrix(N, p); y: vector(N); w: vector(p)", "||X w - y||^2", "w", Some("2 X^T X")),
    (
        "X: matrix(N, p); y: vector(N); w: vector(p); k: scalar",
        "||X w - y||^2 + k ||w||^2",
        "w",
        Some("2 (X^T X + k I)"),
    ),
    (
        "X: matrix(N, p); y: vector(N); w: vector(p); k: scalar",
        "1/(2 N) ||X w - y||^2 + k/2 w^T w",
        "w",
        Some("X^T X / N + k I"),
    ),
    (
        "X: matrix(N, p); y: vector(N); w: vector(p)",
        "1^T ln(1 + exp(X w)) - y^T X w",
        "w",
        Some("X^T diag(sigmoid'(X w)) X"),
    ),
    (
        "X: matrix(N, p); y: vector(N); w: vector(p)",
        "-y^T ln(sigmoid(X w)) - (1 - y)^T ln(1 - sigmoid(X w))",
        "w",
        Some("X^T diag(sigmoid'(X w)) X"),
    ),
    ("x: vector(n)", "ln(1^T exp(x))", "x", Some("diag(softmax(x)) - softmax(x) softmax(x)^T")),
    ("x: vector(n); a: vector(n)", "exp(a^T x)", "x", Some("exp(a^T x) a a^T")),
    ("x: vector(n); a: vector(n); b: scalar", "(a^T x + b)^2", "x", Some("2 a a^T")),
    ("x: vector(n); A: matrix(m, n); b: vector(m)", "1^T exp(A x + b)", "x", Some("A^T diag(exp(A x + b)) A")),
    (
        "x: vector(n); A: matrix(m, n); b: vector(m)",
        "ln(1^T exp(A x + b))",
        "x",
        Some("A^T (diag(softmax(A x + b)) - softmax(A x + b) softmax(A x + b)^T) A"),
    ),
    ("x: vector(n)", "x^T x", "x", Some("2 I_n")),
    ("x: vector(n)", "(x^T x)^2", "x", Some("4 x^T x I + 8 x x^T")),
    ("x: vector(n)", "||x||", "x", Some("I/||x|| - x x^T/||x||^3")),
    (
        "x: vector(n); a: vector(n)",
        "a^T x / ||x||",
        "x",
        Some("3 (a^T x) x x^T / ||x||^5 - (a x^T + x a^T + (a^T x) I) / ||x||^3"),
    ),
    ("x: vector(n); W: matrix(m, n); v: vector(m)", "v^T tanh(W x)", "x", Some("W^T diag(v .* tanh''(W x)) W")),
    ("x: vector(n); W: matrix(m, n); v: vector(m)", "v^T tanh(W x)", "v", Some("0")),
    (
        "x: vector(n); W1: matrix(m, n); w2: vector(m); y: scalar",
        "1/2 (w2^T tanh(W1 x) - y)^2",
        "w2",
        Some("tanh(W1 x) tanh(W1 x)^T"),
    ),
    ("x: vector(n); W1: matrix(m, n); W2: matrix(k, m); y: vector(k)", "1/2 ||W2 tanh(W1 x) - y||^2", "x", None),
    ("x: vector(n); W1: matrix(m, n); w2: vector(m); y: scalar", "1/2 (w2^T sigmoid(W1 x) - y)^2", "x", None),
    ("x: vector(n); W: matrix(k, n); y: vector(k)", "-y^T ln(softmax(W x))", "x", None),
    ("X: matrix(N, p); W: matrix(p, k); Y: matrix(N, k)", "-tr(Y^T ln(softmax(X W)))", "W", None),
    ("X: matrix(n, n)", "ln det(X)", "X", None),
    ("X: matrix(n, m); A: matrix(n, n)", "tr(X^T A X)", "X", None),
    ("X: matrix(n, m); A: matrix(p, n); B: matrix(m, q); C: matrix(p, q)", "||A X B - C||^2", "X", None),
    ("X: matrix(n, m); a: vector(n); b: vector(m)", "(a^T X b)^2", "X", None),
    ("X: matrix(n, n); A: matrix(n, n)", "tr(A X^-1)", "X", None),
    ("x: vector(n); y: vector(n)", "x^T y", "x", Some("0")),
    ("x: vector(n); A: matrix(n, n); b: vector(n)", "1/2 x^T A x - b^T x", "x", Some("(A + A^T)/2")),
    ("w: vector(p); X: matrix(N, p); y: vector(N)", "1^T exp(X w) - y^T X w", "w", Some("X^T diag(exp(X w)) X")),
    // The log barrier of a linear program: the reciprocal square is one power.
    ("A: matrix(m, n); b: vector(m); x: vector(n)", "-1^T ln(b - A x)", "x", Some("A^T diag((b - A x).^(-2)) A")),
    // A smooth L1 loss: σ' is even, so its two halves are one term.
    (
        "X: matrix(N, p); y: vector(N); w: vector(p)",
        "1^T (ln(1 + exp(X w - y)) + ln(1 + exp(y - X w)))",
        "w",
        Some("2 X^T diag(sigmoid'(X w - y)) X"),
    ),
    // The pseudo-Huber loss: 1/s − r²/s³ with s² = 1 + r² is s⁻³.
    (
        "X: matrix(N, p); y: vector(N); w: vector(p)",
        "1^T (sqrt(1 + (X w - y).^2) - 1)",
        "w",
        Some("X^T diag((1 + (X w - y).^2).^(-3/2)) X"),
    ),
    // With its scale δ: s² = 1 + r²/δ² is a polynomial over a monomial, and δ² + r² in
    // a denominator is s²δ², so δ² ⊘ (s ⊙ (δ²1 + r²)) is s⁻³ too.
    (
        "X: matrix(N, p); y: vector(N); w: vector(p); d: scalar",
        "d^2 sum(sqrt(1 + ((X w - y)/d).^2) - 1)",
        "w",
        Some("X^T diag((1 + ((X w - y)/d).^2).^(-3/2)) X"),
    ),
    // A denominator d²(d² + x²)³, written out by the rules, is d⁸s⁶ with s² = 1 + x²/d²;
    // and a root's power beside another factor is its radicand's half power.
    (
        "x: vector(n); d: scalar",
        "sum((x/d).^2 ./ sqrt(1 + (x/d).^2))",
        "x",
        Some("diag((2 d^2 1 - x .* x) ./ (d^4 (1 + (x/d).^2).^(5/2)))"),
    ),
    // Student-t regression: the weight is a function of the residual r alone,
    // 2(ν − r²) ⊘ (ν + r²)², cancelled with r as one operand.
    (
        "X: matrix(N, p); y: vector(N); w: vector(p); nu: scalar",
        "sum(ln(1 + (X w - y).^2 / nu))",
        "w",
        Some("X^T diag(2 (nu 1 - (X w - y).^2) ./ (nu 1 + (X w - y).^2).^2) X"),
    ),
    // With its normalising (ν + 1)/2 in front, the factor stays a scalar in front of Xᵀ
    // rather than spreading over it as Xᵀ + Xᵀ/ν.
    (
        "X: matrix(N, p); y: vector(N); w: vector(p); nu: scalar",
        "(nu + 1)/2 sum(ln(1 + (X w - y).^2 / nu))",
        "w",
        Some("(nu + 1) X^T diag((nu 1 - (X w - y).^2) ./ (nu 1 + (X w - y).^2).^2) X"),
    ),
    // Batch norm's scale: the squared columns sum to N v, by v's own definition.
    (
        "X, Y: matrix(N, d); g, b: vector(d); ε: scalar",
        "mu = X^T 1 / N; C = X - 1 mu^T; v = (C .* C)^T 1 / N; \
         Z = C diag(1 ./ sqrt(v + ε 1)) diag(g) + 1 b^T; 1/2 ||Z - Y||^2",
        "g",
        Some("N diag(v ./ (v + ε 1))"),
    ),
    // A planar flow's log-determinant by u: the numerator −(1 − t²)² is a square, written
    // as one, and the squared denominator keeps the orientation it is written in.
    (
        "z, u, w: vector(n); b: scalar",
        "ln(1 + (1 - tanh(w^T z + b)^2) u^T w)",
        "u",
        Some("-(1 - tanh(w^T z + b)^2)^2 w w^T / (1 + (1 - tanh(w^T z + b)^2) u^T w)^2"),
    ),
    // Negative binomial regression with a fixed r: one quotient over a repeated factor.
    (
        "X: matrix(N, p); y: vector(N); w: vector(p); r: scalar",
        "(y + r 1)^T ln(r 1 + exp(X w)) - y^T X w",
        "w",
        Some("r X^T diag(exp(X w) .* (r 1 + y) ./ (exp(X w) + r 1).^2) X"),
    ),
    // Diagonals of two terms meet into one, whose entries then cancel to one power
    // (survey 31: `diag(sqrt(1 + w ⊙ w)^{⊙-1}) − diag((1 + w ⊙ w)^{⊙-3/2} ⊙ w ⊙ w)` beside
    // A + Aᵀ, where alone it was one diagonal).
    (
        "w: vector(p); A: matrix(p, p)",
        "w^T A w + 1^T sqrt(1 + w .* w)",
        "w",
        Some("A + A^T + diag((1 + w .* w).^(-3/2))"),
    ),
    // Attention by the key weights, a 4-tensor: like terms met inside the tensor
    // operators too, `2(sᵀUc)1` where `((sᵀUc)1 − Uc) + (sᵀUc)1` stood (survey 30).
    (
        "q: vector(e); X: matrix(T, d); Wk: matrix(d, e); U: matrix(T, d); c: vector(d)",
        "c^T U^T softmax(X Wk q)",
        "Wk",
        Some(
            "(kron(kron(X^T diag(softmax(X Wk q)) (diag(U c - (softmax(X Wk q)^T U c) 1) \
             + (2 (softmax(X Wk q)^T U c) 1 - U c) softmax(X Wk q)^T - 1 c^T U^T diag(softmax(X Wk q))) X, q), q))_{1324}",
        ),
    ),
];

fn text(decls: &str, f: &str) -> String {
    format!("{decls}; {f}")
}

#[test]
fn hessians_check_and_match_their_simplest_known_forms() {
    let mut failures = Vec::new();
    for (decls, f, wrt, known) in CASES {
        let t = text(decls, f);
        let blocks = match hessian(&t, &[*wrt]) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{f} by {wrt}: {}", e.message));
                continue;
            }
        };
        let h = &blocks[0];
        let c = h.check(3);
        if !c.passed() {
            failures.push(format!("{f} by {wrt}: check {}", c.line("differences")));
        }
        let Some(known) = known else { continue };
        let ascii = h.answer.render(Format::Ascii);
        // A program's definitions give its names their values in both forms.
        let defs = f.rsplit_once(';').map_or(String::new(), |(d, _)| format!("{d};"));
        if !same_value(&format!("{decls}; {defs} {ascii}; {known}"), &[1, 2, 3]) {
            failures.push(format!("{f} by {wrt}: {ascii} differs from {known}"));
        }
        // A zero Hessian is the zero tensor of its shape, one operation (`0` times it).
        let known_ops = operations(read(&format!("{decls}; {known}")).unwrap().main_expr().unwrap()).max(1);
        let ops = operations(&h.answer.expr);
        if !is_classic(&h.answer.expr) || ops > known_ops {
            failures.push(format!("{f} by {wrt}: {ascii} ({ops} operations) against {known} ({known_ops})"));
        }
    }
    assert!(CASES.len() >= 30);
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn hessian_vector_products_check_and_equal_the_hessian_times_the_direction() {
    let mut failures = Vec::new();
    for (decls, f, wrt, _) in CASES {
        let t = text(decls, f);
        let p = match hvp(&t, wrt, "V") {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{f} by {wrt}: {}", e.message));
                continue;
            }
        };
        let c = p.check(3);
        if !c.passed() {
            failures.push(format!("{f} by {wrt}: hvp check {}", c.line("differences")));
        }
        if let Some(formed) = formed_then_applied(&p.answer.expr) {
            let shown = render(&formed, Format::Unicode);
            failures.push(format!("{f} by {wrt}: hvp {} forms {shown}", p.answer.render(Format::Unicode)));
        }
        if p.answer.expr.shape.len() != 1 {
            continue;
        }
        let h = hessian(&t, &[*wrt]).unwrap().remove(0).answer.render(Format::Ascii);
        let v = p.answer.render(Format::Ascii);
        let n = format!("({})", p.answer.expr.shape[0]);
        let src = format!("{decls}; V: vector{n}; {v} + 0 V; ({h}) V");
        if !same_value(&src, &[1, 2]) {
            failures.push(format!("{f} by {wrt}: hvp {v} is not ({h})V"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// A matrix made from vectors (`xxᵀ`, or a sum, multiple or product holding one) that
/// then multiplies a vector, found in `e`: n² work and memory where the same vector
/// takes n (`x(xᵀv)`), which a Hessian-vector product is for. (A vector of ones makes
/// a broadcast, not such a matrix.)
fn formed_then_applied(e: &Expr) -> Option<Expr> {
    fn formed(e: &Expr) -> bool {
        let ones = |x: &Expr| {
            matches!(&x.kind, Kind::Ones) || matches!(&x.kind, Kind::Transpose(o) if matches!(o.kind, Kind::Ones))
        };
        match &e.kind {
            Kind::Product(a, b) if a.shape.len() == 1 && b.shape.first() == Some(&Dim::Iota) => !ones(a) && !ones(b),
            Kind::Product(a, b) => formed(a) && b.shape.len() != 1 || formed(b) && a.shape.len() != 1,
            Kind::Add(terms) => terms.iter().any(formed),
            Kind::Scale(_, x) | Kind::DivScalar(x, _) | Kind::Transpose(x) => formed(x),
            _ => false,
        }
    }
    if let Kind::Product(a, b) = &e.kind {
        if formed(a) && b.shape.len() == 1 {
            return Some((**a).clone());
        }
        if formed(b) && a.shape.first() == Some(&Dim::Iota) {
            return Some((**b).clone());
        }
    }
    e.children().iter().find_map(|c| formed_then_applied(c))
}

#[test]
fn a_wrong_hessian_fails_its_check() {
    // The check must be able to fail: a Hessian with a wrong term is caught.
    let mut h = hessian("x: vector(n); A: matrix(n, n); x^T A x", &["x"]).unwrap().remove(0);
    h.answer.expr = read("x: vector(n); A: matrix(n, n); A + A^T + 0.001 x x^T").unwrap().main_expr().unwrap().clone();
    assert!(!h.check(3).passed());
    let mut p = hvp("x: vector(n); A: matrix(n, n); x^T A x", "x", "v").unwrap();
    p.answer.expr = read("x: vector(n); v: vector(n); A: matrix(n, n); A v").unwrap().main_expr().unwrap().clone();
    assert!(!p.check(3).passed());
}

#[test]
fn an_hvp_by_a_scalar_is_as_simple_as_the_hessian_times_the_direction() {
    // Survey 31: `(−v(A + sB)⁻¹B(A + sB)⁻¹) · Bᵀ`, where the Hessian is −tr(((A + sB)⁻¹B)²).
    let text = "A, B: matrix(n, n); s: scalar; ln det(A + s B)";
    let p = hvp(text, "s", "v").unwrap();
    assert!(p.check(3).passed(), "{}", p.check(3).line("differences"));
    let h = hessian(text, &["s"]).unwrap().remove(0);
    assert!(operations(&p.answer.expr) <= operations(&h.answer.expr) + 1, "{}", p.answer.render(Format::Unicode));
}

#[test]
fn a_function_of_a_product_squared_is_one_power() {
    // `tanh(Xw) ⊙ tanh(Xw)` is `tanh²(Xw)`, as a sum's square is one power; a function
    // of a name keeps its square as written (`sqrt(v) ⊙ sqrt(v)`). Survey 31: the probit
    // Hessian kept `Φ'(Xw) ⊙ Φ'(Xw)` and `Φ(Xw)^{⊙-2} ⊙ Φ'(Xw) ⊙ Φ'(Xw)`.
    let square = bracket::simplify("X: matrix(N, p); w: vector(p); tanh(X w) .* tanh(X w)").unwrap();
    assert_eq!(square.render(Format::Unicode), "tanh²(Xw)");
    let text = "Phi: elementwise; X: matrix(N, p); w: vector(p); y: vector(N); \
                -y^T ln(Phi(X w)) - (1 - y)^T ln(1 - Phi(X w))";
    let h = hessian(text, &["w"]).unwrap().remove(0);
    assert!(h.check(3).passed());
    let shown = h.answer.render(Format::Unicode);
    assert!(!shown.contains("Φ'(Xw) ⊙ Φ'(Xw)") && shown.contains("Φ'(Xw)^{⊙2}"), "{shown}");
}

#[test]
fn a_symmetric_variable_moves_along_symmetric_directions() {
    // A new direction of a symmetric S is symmetric: along any other, the check failed
    // right answers (survey 31, `(aᵀSb)²` at a relative error of 0.94).
    for f in ["(a^T S b)^2", "tr(S A S B)", "P = S^-1; r = P a; 1/2 ln det(P) - 1/2 a^T r"] {
        let text = format!("S: symmetric(n); A, B: matrix(n); a, b: vector(n); {f}");
        let p = hvp(&text, "S", "V").unwrap();
        assert!(p.check(3).passed(), "{f}: {}", p.check(3).line("differences"));
    }
    // One declared otherwise is refused, not checked along.
    let e = hvp("S: symmetric(n); V: matrix(n); a: vector(n); (a^T S a)^2", "S", "V").unwrap_err();
    assert!(e.message.contains("is not symmetric"), "{}", e.message);
}

#[test]
fn a_fact_on_the_variable_holds_where_the_hessian_is_evaluated_not_along_it() {
    // `1ᵀp = 1` is true at the point, not along every direction from it: the Hessian of
    // (1ᵀp)² is 2·11ᵀ (the gradient `2·1` the fact gives is not what is differentiated).
    // Used along the direction, it gave 0, and the check passed that.
    let h = hessian("p: vector(k); 1^T p = 1; (1^T p)^2", &["p"]).unwrap().remove(0);
    assert_eq!(h.answer.render(Format::Unicode), "2 1_k 1_kᵀ");
    assert!(h.check(3).passed());
    // After differentiating, the fact is used: 6(1ᵀp)11ᵀ is 6·11ᵀ where 1ᵀp = 1.
    let h = hessian("p: vector(k); 1^T p = 1; (1^T p)^3", &["p"]).unwrap().remove(0);
    assert_eq!(h.answer.render(Format::Unicode), "6 1_k 1_kᵀ");
    // One-hot rows declared of the variable itself.
    let text = "Y, Z: matrix(N, k); Y 1 = 1; -sum(Y .* logsoftmax(Z)) + 1/2 ||Y 1||^2";
    let p = hvp(text, "Y", "V").unwrap();
    assert_eq!(p.answer.render(Format::Unicode), "V 11ᵀ");
    assert!(p.check(3).passed());
    // The wrong answer the fact gave fails the check.
    let mut h = hessian("p: vector(k); 1^T p = 1; (1^T p)^2", &["p"]).unwrap().remove(0);
    h.answer.expr = read("p: vector(k); 0 p p^T").unwrap().main_expr().unwrap().clone();
    assert!(!h.check(3).passed());
}

#[test]
fn a_scalar_s_mixed_blocks_share_the_shorter_form() {
    // Welsch's loss: ∇_σ∇_w came as σXᵀ(r ⊙ e ⊙ (r²/σ⁶ − 2 1/σ⁴)), its equal twin ∇_w∇_σ
    // as Xᵀ(r ⊙ e ⊙ (r²/σ² − 2 1))/σ³ (survey 11); each still checks on its own.
    let text = "X: matrix(N, d); w: vector(d); y: vector(N); sum(1 - exp(-(X w - y).^2 / (2 sigma^2)))";
    let blocks = hessian(text, &["w", "sigma"]).unwrap();
    let (a, b) = (blocks[1].answer.render(Format::Unicode), blocks[2].answer.render(Format::Unicode));
    assert_eq!(a, b);
    assert_eq!(a, "Xᵀ((Xw − y) ⊙ exp(−(Xw − y)^{⊙2}/(2σ²)) ⊙ ((Xw − y)^{⊙2}/σ² − 2 1))/σ³");
    for block in &blocks {
        assert!(block.check(3).passed(), "{}", block.label());
    }
    // Of one size, they are spelt alike too: Weibull regression's differed only in the
    // order of their terms (survey 12).
    let text = "X: matrix(N,d); y: vector(N); k: scalar; sum(exp(k (ln(y) - X w))) - k sum(ln(y) - X w) - N ln(k)";
    let blocks = hessian(text, &["w", "k"]).unwrap();
    assert_eq!(blocks[1].answer.render(Format::Unicode), blocks[2].answer.render(Format::Unicode));
    for block in &blocks {
        assert!(block.check(3).passed(), "{}", block.label());
    }
}

#[test]
fn mixed_blocks_each_check() {
    let blocks = hessian("X: matrix(N, p); y: vector(N); w: vector(p); ||X w - y||^2", &["w", "X"]).unwrap();
    assert_eq!(blocks.len(), 4);
    for b in &blocks {
        assert!(b.check(3).passed(), "{}", b.label());
    }
    let labels: Vec<String> = blocks.iter().map(|b| b.label()).collect();
    assert_eq!(labels, ["∇²_w", "∇_X∇_w", "∇_w∇_X", "∇²_X"]);
}

#[test]
fn a_block_constant_along_a_dim_reads_back() {
    // A factorization's ∇_U∇_c is V repeated along U's rows: a free index on no factor,
    // which printed as `einsum("ij->ikj", V)`, an einsum no reader accepts (survey 15).
    // It is the outer product with a ones vector, permuted.
    let decls = "M: matrix(n, m); U: matrix(n, k); V: matrix(m, k); b: vector(n); c: vector(m); lambda: scalar";
    let f = "1/2 ||M - U V^T - b 1^T - 1 c^T||^2 + lambda/2 (||U||^2 + ||V||^2)";
    let blocks = hessian(&text(decls, f), &["c", "U"]).unwrap();
    for b in &blocks {
        assert!(b.check(2).passed(), "{}", b.label());
        let (ascii, unicode) = (b.answer.render(Format::Ascii), b.answer.render(Format::Unicode));
        assert!(!ascii.contains("einsum") && !unicode.contains("einsum"), "{ascii}");
        if b.label() == "∇_U∇_c" {
            // (1_n ⊗ Vᵀ)_{312}, the other mixed block's form moved to this one's dims.
            let written = "(kron(1_n, V^T))_{312}";
            for printed in [&ascii, &unicode] {
                assert!(same_value(&format!("{decls}; {printed}; {written}"), &[1, 2]), "{printed}");
            }
        }
    }
}

/// (declarations, function, variable, command, the vec form expected)
const VEC_CASES: &[(&str, &str, &str, &str, &str)] = &[
    // Metric learning: 16 parts of d = x − y written out meet into one Kronecker product.
    (
        "M: matrix(n); x, y: vector(n)",
        "ln(1 + exp((x - y)^T M (x - y) - 1))",
        "M",
        "hessian",
        "((x − y)(x − y)ᵀ) ⊗ (sigmoid'((x − y)ᵀM(x − y) − 1)(x − y)(x − y)ᵀ)",
    ),
    ("X: matrix(n, m); A: matrix(n, n)", "tr(X^T A X)", "X", "hessian", "I_m ⊗ (A + Aᵀ)"),
    // A regularized factorization: the penalty's part `I_r ⊗ λI_n` meets the loss's
    // `HHᵀ ⊗ I_n` once its scalar is moved across (survey 12), as ridge's does.
    (
        "X: matrix(n, m); W: matrix(n, r); H: matrix(r, m)",
        "1/2 ||X - W H||^2 + lambda/2 ||W||^2",
        "W",
        "hessian",
        "(HHᵀ + λI) ⊗ I_n",
    ),
    (
        "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k)",
        "1/2 ||X W - Y||^2 + lambda/2 ||W||^2",
        "W",
        "hessian",
        "I_k ⊗ (XᵀX + λI)",
    ),
    // A factor that is a Hadamard product of two products: each factor's network keeps
    // only its own indices (others, read as sums of ones, made it (n²)(…)).
    ("A: matrix(n, r); P, S, U, V: matrix(r)", "A (P S .* U V)", "A", "jacobian", "(PS ⊙ UV)ᵀ ⊗ I_n"),
    ("A: matrix(n, r); L, M: matrix(n)", "(L M .* M L) A", "A", "jacobian", "I_r ⊗ (LM ⊙ ML)"),
    (
        "T: tensor(I, J, K); A: matrix(I, r); B: matrix(J, r); C: matrix(K, r)",
        "1/2 ||T - einsum(\"ir,jr,kr->ijk\", A, B, C)||^2",
        "A",
        "hessian",
        "(BᵀB ⊙ CᵀC) ⊗ I_I",
    ),
    ("X: matrix(n, m); A: matrix(p, n); B: matrix(m, q)", "A X B", "X", "jacobian", "Bᵀ ⊗ A"),
    // A layer's Jacobians: an element-wise derivative scales the rows of a Kronecker
    // product (survey 12 found them unsupported).
    (
        "X: matrix(N, d); W: matrix(d, h); b: vector(h)",
        "tanh(X W + 1 b^T)",
        "W",
        "jacobian",
        "diag(vec(tanh'(XW + 1bᵀ)))(I_h ⊗ X)",
    ),
    (
        "X: matrix(N, d); W: matrix(d, h); b: vector(h)",
        "tanh(X W + 1 b^T)",
        "b",
        "jacobian",
        "diag(vec(tanh'(XW + 1bᵀ)))(I_h ⊗ 1_N)",
    ),
    ("X: matrix(N, d); W: matrix(d, h)", "sigmoid(X W)", "X", "jacobian", "diag(vec(sigmoid'(XW)))(Wᵀ ⊗ I_N)"),
    ("X: matrix(n, n)", "ln det(X)", "X", "hessian", "−(X⁻¹ ⊗ X⁻ᵀ)K_{nn}"),
    ("X: matrix(n, n)", "X^-1", "X", "jacobian", "−X⁻ᵀ ⊗ X⁻¹"),
    ("X: matrix(n, m)", "X^T", "X", "jacobian", "K_{nm}"),
    ("X: matrix(n, m)", "X .* X", "X", "jacobian", "2diag(vec(X))"),
    ("X: matrix(n, m); a: vector(m)", "X a", "X", "jacobian", "aᵀ ⊗ I_n"),
    ("X: matrix(n, m); a: vector(n)", "X^T a", "X", "jacobian", "I_m ⊗ aᵀ"),
    (
        "X: matrix(n, m); A: matrix(p, n); B: matrix(m, q); C: matrix(p, q)",
        "||A X B - C||^2",
        "X",
        "hessian",
        "2BBᵀ ⊗ AᵀA",
    ),
    ("X: matrix(n, n); A: matrix(n, n)", "tr(A X)", "X", "grad", "vec(Aᵀ)ᵀ"),
    // An index shared by a row and a column of J, with a vector on it: a diagonal
    // inside the Kronecker product.
    ("W: matrix(k, n); x: vector(n); y: vector(k)", "1^T exp(W x) - y^T W x", "W", "hessian", "xxᵀ ⊗ diag(exp(Wx))"),
    (
        "W: matrix(k, n); x: vector(n); y: vector(k)",
        "-y^T ln(softmax(W x))",
        "W",
        "hessian",
        "(yᵀ1)(xxᵀ ⊗ (diag(softmax(Wx)) − softmax(Wx)softmax(Wx)ᵀ))",
    ),
    // A scalar in a factor goes in front: (N/2)(Λ⁻¹ ⊗ Λ⁻¹), not (1/2)Λ⁻¹ ⊗ NΛ⁻¹.
    (
        "Lambda, S: symmetric(n); N: scalar",
        "-N/2 ln det(Lambda) + 1/2 tr(Lambda S)",
        "Lambda",
        "hessian",
        "(N/2)(Λ⁻¹ ⊗ Λ⁻¹)",
    ),
    (
        "X: matrix(n, m); A: matrix(n, n); lambda: scalar",
        "3/2 lambda tr(X^T A X)",
        "X",
        "hessian",
        "(3λ/2)(I_m ⊗ (A + Aᵀ))",
    ),
    ("W: matrix(k, n); x: vector(n)", "exp(W x)", "W", "jacobian", "xᵀ ⊗ diag(exp(Wx))"),
    ("W: matrix(n, k); x: vector(n)", "tanh(W^T x)", "W", "jacobian", "diag(tanh'(Wᵀx)) ⊗ xᵀ"),
    // An element-wise function of XW summed: each column of W meets its own column of
    // f''(XW) through the samples, `(I ⊗ X)ᵀdiag(vec(D))(I ⊗ X)` (it was refused).
    ("X: matrix(N, d); W: matrix(d, k)", "1^T exp(X W) 1", "W", "hessian", "(I_k ⊗ X)ᵀdiag(vec(exp(XW)))(I_k ⊗ X)"),
    (
        "X: matrix(d, N); W: matrix(k, d)",
        "sum(ln(1 + exp(W X)))",
        "W",
        "hessian",
        "(Xᵀ ⊗ I_k)ᵀdiag(vec(sigmoid'(WX)))(Xᵀ ⊗ I_k)",
    ),
    (
        "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k)",
        "sum(exp(X W) - Y .* (X W))",
        "W",
        "hessian",
        "(I_k ⊗ X)ᵀdiag(vec(exp(XW)))(I_k ⊗ X)",
    ),
    // A layer's weight and bias: their mixed block shares the bias's dim, whose side is
    // the ones vector (survey 18 found the query refused whole). With `b`, the first
    // mixed block is the one compared.
    (
        "X: matrix(N, d); W: matrix(d, h); b: vector(h)",
        "sum(softplus(X W + 1 b^T))",
        "W,b",
        "hessian",
        "(I_h ⊗ X)ᵀdiag(vec(sigmoid'(XW + 1bᵀ)))(I_h ⊗ 1_N)",
    ),
    (
        "X: matrix(d, N); W: matrix(k, d); b: vector(k)",
        "sum(softplus(W X + b 1^T))",
        "W,b",
        "hessian",
        "(Xᵀ ⊗ I_k)ᵀdiag(vec(sigmoid'(WX + b 1ᵀ)))(1_N ⊗ I_k)",
    ),
    // A vector's block by a scalar is a column: NumPy's (p, 1), not (p,) (survey 31).
    ("X: matrix(N, p); w: vector(p); b: scalar", "sum(softplus(X w + b 1))", "w,b", "hessian", "Xᵀsigmoid'(Xw + b 1)"),
    // A row-wise softmax couples every entry of a row with every other: its Jacobian,
    // by its input and through a layer, and the softmax regression's Hessian (refused
    // before; survey 18 and issue 15).
    (
        "Z: matrix(N, k)",
        "softmax(Z)",
        "Z",
        "jacobian",
        "diag(vec(softmax(Z))) − diag(vec(softmax(Z)))(1_k 1_kᵀ ⊗ I_N)diag(vec(softmax(Z)))",
    ),
    (
        "X: matrix(N, d); W: matrix(d, k)",
        "softmax(X W)",
        "W",
        "jacobian",
        "diag(vec(softmax(XW)))(I_k ⊗ X) − diag(vec(softmax(XW)))(1_k 1_kᵀ ⊗ I_N)diag(vec(softmax(XW)))(I_k ⊗ X)",
    ),
    (
        "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); Y 1 = 1",
        "-tr(Y^T ln(softmax(X W)))",
        "W",
        "hessian",
        // The sandwich `Aᵀ(D − DMD)A`, its outer factors written once (survey 27).
        "(I_k ⊗ X)ᵀ(diag(vec(softmax(XW))) − diag(vec(softmax(XW)))(1_k 1_kᵀ ⊗ I_N)diag(vec(softmax(XW))))(I_k ⊗ X)",
    ),
    // Without the fact, Y's row sums scale each sample: a sum within one factor.
    (
        "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k)",
        "-tr(Y^T ln(softmax(X W)))",
        "W",
        "hessian",
        "(I_k ⊗ X)ᵀ(diag(vec(diag(Y 1)softmax(XW))) − \
         diag(vec(diag(Y 1)softmax(XW)))(1_k 1_kᵀ ⊗ I_N)diag(vec(softmax(XW))))(I_k ⊗ X)",
    ),
    // With the samples as columns, the blocks are the first dims.
    (
        "X: matrix(d, N); W: matrix(k, d); Y: matrix(N, k); Y 1 = 1",
        "-tr(Y^T ln(softmax(X^T W^T)))",
        "W",
        "hessian",
        "(Xᵀ ⊗ I_k)ᵀ(diag(vec(softmax((WX)ᵀ)ᵀ)) − \
         diag(vec(softmax((WX)ᵀ)ᵀ))(I_N ⊗ 1_k 1_kᵀ)diag(vec(softmax((WX)ᵀ)ᵀ)))(Xᵀ ⊗ I_k)",
    ),
    // Two parts with the commutation matrix share it (survey 27).
    ("X: matrix(n)", "tr(X^-1)", "X", "hessian", "(X⁻¹ ⊗ (X⁻²)ᵀ + X⁻² ⊗ X⁻ᵀ)K_{nn}"),
    // A power of an inverse is a negative power: X⁻³, not (X⁻¹)³ (survey 31).
    ("X: matrix(n)", "tr(X^-2)", "X", "hessian", "2(X⁻¹ ⊗ (X⁻³)ᵀ + X⁻² ⊗ (X⁻²)ᵀ + X⁻³ ⊗ X⁻ᵀ)K_{nn}"),
    // A hidden layer read out by a vector: Σ over the hidden units inside one part,
    // the residual's `tanh(XW)v − y` (survey 19).
    (
        "X: matrix(N, d); W: matrix(d, h); v: vector(h); y: vector(N)",
        "1/2 ||tanh(X W) v - y||^2",
        "W",
        "hessian",
        "(I_h ⊗ X)ᵀ(diag(vec(tanh'(XW)diag(v)))(1_h 1_hᵀ ⊗ I_N)diag(vec(tanh'(XW)diag(v))) + \
         diag(vec((tanh(XW)v − y)vᵀ ⊙ tanh''(XW))))(I_h ⊗ X)",
    ),
];

#[test]
fn vec_layout_gives_kronecker_forms_equal_to_the_tensor() {
    let mut failures = Vec::new();
    for (decls, f, wrt, command, expected) in VEC_CASES {
        let expr = text(decls, f);
        let wrt: Vec<String> = wrt.split(',').map(str::to_string).collect();
        let block = usize::from(wrt.len() > 1);
        let query = match *command {
            "hessian" => bracket::Command::Hessian { expr, wrt, check: true, layout: Layout::Vec },
            name => {
                bracket::Command::Grad { expr, wrt, jacobian: name == "jacobian", check: true, layout: Layout::Vec }
            }
        };
        match query.run(&Default::default()) {
            Ok(bracket::Reply::Matrices(ds)) => {
                for (d, c) in &ds {
                    if !c.as_ref().is_some_and(|c| c.passed()) {
                        failures.push(format!("{f}: {}: check {c:?}", d.label));
                    }
                }
                let (d, c) = &ds[block];
                let got = d.render(Format::Unicode);
                if got != *expected {
                    failures.push(format!("{f}: {got}, expected {expected}"));
                }
                // A form of Kronecker products and classic factors alone reads back from
                // ASCII (`kron(P, Q)`; survey 10 and 12 found `P (x) Q`, read as the
                // vector x), equal to the Unicode form read back.
                let ascii = d.render(Format::Ascii);
                if !got.contains("K_") && !got.contains("vec(") && !got.contains("I_{") {
                    let both = format!("{decls}; {ascii}; {got}");
                    if bracket::read(&both).is_err() || !same_value(&both, &[1, 2]) {
                        failures.push(format!("{f}: the ASCII `{ascii}` does not read back as `{got}`"));
                    }
                }
                if !c.as_ref().is_some_and(|c| c.passed()) {
                    failures.push(format!("{f}: check {c:?}"));
                }
            }
            other => failures.push(format!("{f}: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn vec_layout_numpy_gives_the_matrix() {
    use std::io::Write;
    if !common::has_numpy() {
        return;
    }
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    for (k, (decls, f, wrt, command, _)) in VEC_CASES.iter().enumerate() {
        let expr = text(decls, f);
        let wrt: Vec<String> = wrt.split(',').map(str::to_string).collect();
        let block = usize::from(wrt.len() > 1);
        let query = match *command {
            "hessian" => bracket::Command::Hessian { expr, wrt, check: false, layout: Layout::Vec },
            name => {
                bracket::Command::Grad { expr, wrt, jacobian: name == "jacobian", check: false, layout: Layout::Vec }
            }
        };
        let Ok(bracket::Reply::Matrices(ds)) = query.run(&Default::default()) else { panic!("{f}") };
        let d = &ds[block].0;
        let model = &d.tensor.model;
        let draw = bracket::Draw { seed: 40 + k as u64, domain: bracket::Domain::Positive, ..Default::default() };
        let env = bracket::random_env::<f64>(model, draw).unwrap();
        let want = d.value(&env).unwrap();
        let inputs: serde_json::Map<String, serde_json::Value> = env
            .values
            .iter()
            .map(|(n, v)| {
                (bracket::py_name(n), serde_json::json!({"flat": v.iter().collect::<Vec<_>>(), "shape": v.shape()}))
            })
            .collect();
        jobs.push(serde_json::json!({"code": d.render(Format::Numpy), "inputs": inputs}));
        expected.push((f, d.render(Format::Numpy), want));
    }
    let script = r#"
import json, sys
import numpy as np
out = []
for job in json.load(sys.stdin):
    env = {"np": np}
    for name, v in job["inputs"].items():
        env[name] = np.array(v["flat"], dtype=float).reshape(v["shape"])
    try:
        r = np.asarray(eval(job["code"], env), dtype=float)
        out.append({"shape": list(r.shape), "flat": r.ravel().tolist()})
    except Exception as e:
        out.append({"error": str(e)})
json.dump(out, sys.stdout)
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(serde_json::Value::Array(jobs).to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut failures = Vec::new();
    for ((f, code, want), got) in expected.iter().zip(results) {
        let shape: Vec<usize> = got["shape"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_u64().unwrap() as usize).collect())
            .unwrap_or_default();
        let flat: Vec<f64> =
            got["flat"].as_array().map(|a| a.iter().map(|x| x.as_f64().unwrap()).collect()).unwrap_or_default();
        // A matrix, whatever the value's own order: a vector is a column.
        let want_shape = match want.shape() {
            [] => vec![1, 1],
            [n] => vec![*n, 1],
            other => other.to_vec(),
        };
        let same =
            shape == want_shape && flat.iter().zip(want.iter()).all(|(a, b)| (a - b).abs() <= 1e-9 * (1.0 + b.abs()));
        if !same {
            failures.push(format!("{f}: {code}\n  got {got}\n  want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An unrolled RNN of `steps` steps: h_t = tanh(W h_{t−1} + U x_t), squared error of V h_t.
fn rnn(steps: usize) -> String {
    let mut s = String::from("W: matrix(n, n); U: matrix(n, m); V: matrix(k, n); h0: vector(n)");
    for t in 1..=steps {
        s.push_str(&format!("; x{t}: vector(m); y{t}: vector(k)"));
    }
    for t in 1..=steps {
        s.push_str(&format!("; h{t} = tanh(W h{} + U x{t})", t - 1));
    }
    let terms: Vec<String> = (1..=steps).map(|t| format!("||V h{t} - y{t}||^2")).collect();
    s.push_str(&format!("; 1/2 ({})", terms.join(" + ")));
    s
}

#[test]
fn hvp_through_deep_programs_checks() {
    let mlp = "X: matrix(N, d); W1: matrix(d, h); W2, W3: matrix(h, h); W4: matrix(h, k); Y: matrix(N, k); \
               H1 = tanh(X W1); H2 = tanh(H1 W2); H3 = tanh(H2 W3); 1/2 ||H3 W4 - Y||^2";
    for w in ["W1", "W2", "W3", "W4"] {
        let p = hvp(mlp, w, "V").unwrap();
        assert!(p.check(3).passed(), "4-layer MLP by {w}: {}", p.check(3).line("differences"));
    }
    let text = rnn(8);
    for w in ["W", "U", "V"] {
        let p = hvp(&text, w, "D").unwrap();
        assert!(p.check(3).passed(), "RNN τ = 8 by {w}: {}", p.check(3).line("differences"));
    }
}

#[test]
fn a_program_s_hessian_is_its_query_s() {
    let blocks = hessian("x: vector(n); A: matrix(n, n); J = x^T A x; grad J wrt x", &[] as &[&str]).unwrap();
    assert_eq!(blocks[0].answer.render(Format::Unicode), "A + Aᵀ");
    assert!(blocks[0].check(3).passed());
}

#[test]
fn derive_order_two_ends_with_the_hessian() {
    let input = "X: matrix(N, p); y: vector(N); w: vector(p); -y^T ln(sigmoid(X w)) - (1 - y)^T ln(1 - sigmoid(X w))";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(["derive", input, "--wrt", "w", "--order", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("∇_w = Xᵀ(sigmoid(Xw) − y)"), "{text}");
    let h = hessian(input, &["w"]).unwrap().remove(0).answer.render(Format::Unicode);
    assert_eq!(text.trim_end().lines().last().unwrap(), format!("∇²_w = {h}"), "{text}");
    assert!(text.contains("d(Xᵀ(sigmoid(Xw) − y))"), "the second differential starts from the gradient:\n{text}");
}

#[test]
fn program_hvp_is_a_checked_tangent_pass() {
    let mut programs: Vec<String> = std::fs::read_dir("examples/programs")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| {
            std::fs::read_to_string(p).unwrap().lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n")
        })
        .collect();
    programs.sort();
    assert_eq!(programs.len(), 3);
    for text in &programs {
        let q = bracket::Command::Hvp { expr: text.clone(), wrt: String::new(), dir: String::new(), check: true };
        let Ok(bracket::Reply::Tangents { tangents, check }) = q.run(&Default::default()) else { panic!("{text}") };
        assert!(check.as_ref().is_some_and(|c| c.passed()), "{text}\n{check:?}");
        assert!(tangents.iter().any(|(lhs, parameter, _)| *parameter && lhs.starts_with("d∇_")));
    }
}

#[test]
fn a_relu_network_s_tangent_pass_has_no_second_derivative_of_relu() {
    // relu' is piecewise constant: its differential is zero wherever relu is
    // differentiable, so no `∇_H J ⊙ relu''(…) ⊙ dZ` term, and a seed's tangent is spelled
    // as its equation's left side (`d∇_{H}J`, not `d(∇_{H}J)`).
    let text = "X: matrix(N, d); Y: matrix(N, k); W1: matrix(d, h); b1: vector(h); W2: matrix(h, k); \
                H = relu(X W1 + 1 b1^T); J = 1/2 ||H W2 - Y||^2; grad J wrt W1, b1, W2";
    let q = bracket::Command::Hvp { expr: text.into(), wrt: String::new(), dir: String::new(), check: true };
    let Ok(bracket::Reply::Tangents { tangents, check }) = q.run(&Default::default()) else { panic!("{text}") };
    assert!(check.as_ref().is_some_and(|c| c.passed()), "{check:?}");
    let lines: Vec<String> =
        tangents.iter().map(|(lhs, _, a)| format!("{lhs} = {}", a.render(Format::Unicode))).collect();
    let w1 = lines.iter().find(|l| l.starts_with("d∇_{W1}J")).unwrap();
    assert_eq!(w1, "d∇_{W1}J = Xᵀ(d∇_{H}J ⊙ relu'(XW1 + 1b1ᵀ))", "{lines:#?}");
    assert!(lines.iter().all(|l| !l.contains("relu''") && !l.contains("d(∇")), "{lines:#?}");
}

#[test]
fn a_tangent_that_is_zero_is_left_out_of_the_pass() {
    // Batch normalisation by its scale g alone: the mean, the centred data and the
    // variance do not move, so their tangents are zero; none is carried through.
    let text = "X: matrix(N, d); T: matrix(N, k); W: matrix(d, k); g, b: vector(d); epsilon: scalar; \
                m = X^T 1 / N; C = X - 1 m^T; v = (C .* C)^T 1 / N; Z = C diag((v + epsilon 1).^(-1/2)); \
                Yh = Z diag(g) + 1 b^T; J = 1/2 ||Yh W - T||^2; grad J wrt g, W";
    let q = bracket::Command::Hvp { expr: text.into(), wrt: String::new(), dir: String::new(), check: true };
    let Ok(bracket::Reply::Tangents { tangents, check }) = q.run(&Default::default()) else { panic!("{text}") };
    assert!(check.as_ref().is_some_and(|c| c.passed()), "{check:?}");
    let lines: Vec<String> =
        tangents.iter().map(|(lhs, _, a)| format!("{lhs} = {}", a.render(Format::Unicode))).collect();
    assert_eq!(lines[0], "dYh = Z diag(dg)", "{lines:#?}");
    assert!(lines.iter().all(|l| !l.starts_with("dm ") && !l.starts_with("dC ") && !l.contains("dv")), "{lines:#?}");
}

#[test]
fn a_fact_on_a_parameter_holds_at_the_point_of_a_program_s_tangent_pass() {
    // As in expression mode (above): the equations the tangents differentiate are taken
    // without `Y1 = 1`, whose ∇_Y of ½‖Y1‖² is 11ᵀ, of tangent 0, where (dY 1)1ᵀ is meant.
    // The pass printed d∇_Y J = −dP ⊘ P and d∇_Z J = dP − dY, and its check passed them
    // (survey 11).
    let text = "Y, Z: matrix(N, k); Y 1 = 1; P = softmax(Z); J = -sum(Y .* ln(P)) + 1/2 ||Y 1||^2; grad J wrt Y, Z";
    let q = bracket::Command::Hvp { expr: text.into(), wrt: String::new(), dir: String::new(), check: true };
    let Ok(bracket::Reply::Tangents { tangents, check }) = q.run(&Default::default()) else { panic!("{text}") };
    assert!(check.as_ref().is_some_and(|c| c.passed()), "{check:?}");
    let lines: Vec<String> =
        tangents.iter().map(|(lhs, _, a)| format!("{lhs} = {}", a.render(Format::Unicode))).collect();
    assert!(lines.contains(&"d∇_{Y}J = dY 11ᵀ − dP ⊘ P".to_string()), "{lines:#?}");
    assert!(lines.contains(&"d∇_{Z}J = diag(dY 1)P + dP − dY".to_string()), "{lines:#?}");
}

#[test]
fn a_wrong_tangent_fails_the_program_hvp_check() {
    let text = std::fs::read_to_string("examples/programs/6_2_two_layer_mlp.txt").unwrap();
    let mut pass = bracket::second_pass(&text, &Default::default()).unwrap();
    assert!(pass.check(2).passed());
    let last = pass.tangents.last_mut().unwrap();
    last.answer.expr = bracket::scale(num_rational::BigRational::new(101.into(), 100.into()), last.answer.expr.clone());
    assert!(!pass.check(2).passed());
}

#[test]
fn a_condition_is_stated_once_of_its_base() {
    // ‖x‖³, ‖x‖ and ‖x‖⁵ in denominators all need ‖x‖ ≠ 0, said once; a number states
    // nothing (1/(2N) needs N ≠ 0).
    let h = hessian("x: vector(n); a: vector(n); a^T x / ||x||", &["x"]).unwrap().remove(0);
    assert_eq!(bracket::conditions(&h.answer.expr), ["||x|| ≠ 0"], "{}", h.answer.render(Format::Unicode));
    let g = bracket::grad("N: scalar; 1/(2N) ||X W - Y||^2", &["W"]).unwrap().remove(0);
    assert_eq!(bracket::conditions(&g.answer.expr), ["N ≠ 0"], "{}", g.answer.render(Format::Unicode));
}

#[test]
fn a_nonzero_and_not_negative_base_is_stated_positive() {
    // (xᵀx + c)^(3/2) divides: xᵀx + c ≠ 0 and ≥ 0 are one condition.
    let h = hessian("x: vector(n); c: scalar; sqrt(x^T x + c)", &["x"]).unwrap().remove(0);
    assert_eq!(bracket::conditions(&h.answer.expr), ["xᵀx + c > 0"], "{}", h.answer.render(Format::Unicode));
}

#[test]
fn a_product_not_negative_whose_factors_are_not_zero_is_stated_positive() {
    // The correlation's (aᵀSa)(bᵀTb) under a root divides: aᵀSa ≠ 0, bᵀTb ≠ 0 and their
    // product ≥ 0 are the product > 0. With a factor that may be zero the product stays
    // ≥ 0 (s t ≥ 0 with s ≠ 0 says nothing of t's sign).
    let cca = "a: vector(p); b: vector(q); S: symmetric(p); T: symmetric(q); C: matrix(p, q); \
               a^T C b / sqrt((a^T S a) (b^T T b))";
    let g = bracket::grad(cca, &["a"]).unwrap().remove(0);
    assert_eq!(bracket::conditions(&g.answer.expr), ["aᵀSa(bᵀTb) > 0"], "{}", g.answer.render(Format::Unicode));
    let e = read("s: scalar; t: scalar; sqrt(s t) / s").unwrap().main_expr().unwrap().clone();
    assert_eq!(bracket::conditions(&e), ["s ≠ 0", "st ≥ 0"]);
    let e = read("s: scalar; t: scalar; 1 / sqrt(s t)").unwrap().main_expr().unwrap().clone();
    assert_eq!(bracket::conditions(&e), ["st > 0"]);
    let e = read("s: scalar; t: scalar; sqrt(s t) / (s t)").unwrap().main_expr().unwrap().clone();
    assert_eq!(bracket::conditions(&e), ["st > 0"]);
}

#[test]
fn a_base_positive_for_every_value_needs_no_condition() {
    // xᵀx + 1, 1 + v ⊙ v, exp(·) and sums of them are positive wherever they are
    // defined; ‖x‖ and xᵀx are not (x may be 0), nor is xᵀx − 1.
    let cases = [
        ("x: vector(n); sqrt(x^T x + 1)", "x", vec![]),
        ("X: matrix(N,d); w: vector(d); y: vector(N); 1^T sqrt(1 + (X w - y) .* (X w - y))", "w", vec![]),
        ("X: matrix(N,d); w: vector(d); 1^T ln(1 + exp(X w))", "w", vec![]),
        // `(r ⊙ r/δ)/δ` is r² over δ²: not negative.
        (
            "w: vector(p); X: matrix(N,p); y: vector(N); δ: scalar; δ^2 1^T (sqrt(1 + ((X w - y)/δ) .* ((X w - y)/δ)) - 1)",
            "w",
            vec!["δ ≠ 0"],
        ),
        ("x: vector(n); sqrt(x^T x)", "x", vec!["||x|| ≠ 0"]),
        ("x: vector(n); sqrt(x^T x - 1)", "x", vec!["xᵀx − 1 > 0"]),
        ("x: vector(n); a: vector(n); a^T x / ||x||", "x", vec!["||x|| ≠ 0"]),
    ];
    for (text, wrt, want) in cases {
        let h = hessian(text, &[wrt]).unwrap().remove(0);
        assert_eq!(bracket::conditions(&h.answer.expr), want, "{text}: {}", h.answer.render(Format::Unicode));
    }
}

#[test]
fn a_condition_implied_by_a_nonzero_scalar_is_not_stated() {
    // Given δ ≠ 0 (δ² divides), δ²1 + r ⊙ r is positive; δ1 + r ⊙ r (δ may be negative)
    // and, without the division, δ²1 + r ⊙ r (δ may be 0) are not.
    let decls = "r: vector(n); δ: scalar";
    let cases = [
        ("(r ./ (δ^2 1 + r .* r)) / δ^2", vec!["δ ≠ 0"]),
        ("r ./ (δ^2 1 + r .* r)", vec!["δ²1 + r ⊙ r has no zero entry"]),
        ("(r ./ (δ 1 + r .* r)) / δ^2", vec!["δ ≠ 0", "δ 1 + r ⊙ r has no zero entry"]),
        ("r / δ + r / (δ^2)^2", vec!["δ ≠ 0"]),
    ];
    for (text, want) in cases {
        let e = read(&format!("{decls}; {text}")).unwrap().main_expr().unwrap().clone();
        let mut got = bracket::conditions(&e);
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want, "{text}");
    }
}

#[test]
fn a_tensor_condition_is_stated_of_its_factors() {
    // `(b − Ax) ⊙ (b − Ax)` has no zero entry where b − Ax has none; `sqrt(E)` none where
    // E has none, which joins `E has no negative entry` as `E has positive entries`.
    let hvp = "A: matrix(m, n); b: vector(m); x: vector(n); -1^T ln(b - A x)";
    let h = hessian(hvp, &["x"]).unwrap().remove(0);
    assert_eq!(bracket::conditions(&h.answer.expr), ["b − Ax has no zero entry"]);
    let d = &bracket::grad("X: matrix(N, k); ε: scalar; sum(sqrt(X .* X + ε 1 1^T))", &["X".to_string()]).unwrap()[0];
    assert_eq!(bracket::conditions(&d.answer.expr), ["X ⊙ X + ε 11ᵀ has positive entries"]);
}

#[test]
fn a_condition_on_sizes_alone_is_not_stated() {
    // A size is a positive integer: 1/N, 1/sqrt(d) and 1/(2N + d) need nothing when N and
    // d are sizes of the shapes, but 1/(N − 1) does (N may be 1), and so does a declared
    // scalar that is no size.
    let cases = [
        ("X: matrix(N,d); w: vector(d); y: vector(N); 1/(2N) ||X w - y||^2", vec![]),
        ("X: matrix(N,d); w: vector(d); y: vector(N); ||X w - y||^2 / (2N + d)", vec![]),
        ("Q: matrix(N,d); K: matrix(N,d); w: vector(N); 1^T softmax(Q K^T / sqrt(d)) w", vec![]),
        ("X: matrix(N,d); w: vector(d); y: vector(N); 1/(N - 1) ||X w - y||^2", vec!["N − 1 ≠ 0"]),
        ("X: matrix(N,d); w: vector(d); y: vector(N); m: scalar; ||X w - y||^2 / m", vec!["m ≠ 0"]),
    ];
    for (f, want) in cases {
        let g = bracket::grad(f, &["w"]).or_else(|_| bracket::grad(f, &["Q"])).unwrap().remove(0);
        assert_eq!(bracket::conditions(&g.answer.expr), want, "{f}: {}", g.answer.render(Format::Unicode));
    }
}

#[test]
fn a_negated_quotient_in_a_sum_prints_as_a_difference() {
    // `I/‖x‖ − xxᵀ/‖x‖³`, not `I/‖x‖ + (−xxᵀ)/‖x‖³`: the same tree, printed as people
    // write it, and it reads back to the same value (tests/readback.rs checks every form).
    let h = hessian("x: vector(n); ||x||", &["x"]).unwrap().remove(0);
    assert_eq!(h.answer.render(Format::Unicode), "I/||x|| − xxᵀ/||x||³");
    let text = format!("x: vector(n); I/||x|| - x x^T/||x||^3 - ({})", h.answer.render(Format::Ascii));
    assert!(bracket::simplify(&text).unwrap().render(Format::Unicode) == "0", "{text}");
}

#[test]
fn a_norm_needs_no_condition_where_nothing_divides_by_it() {
    // ∇‖x‖³ = 3‖x‖x is defined everywhere (0 at x = 0, as it should be); ∇‖x‖ divides.
    let cases = [("||x||^3", vec![]), ("||x||^2 / ||y||^2", vec!["||y|| ≠ 0"]), ("||x||", vec!["||x|| ≠ 0"])];
    for (f, want) in cases {
        let g = bracket::grad(&format!("x: vector(n); y: vector(n); {f}"), &["x"]).unwrap().remove(0);
        assert_eq!(bracket::conditions(&g.answer.expr), want, "{f}: {}", g.answer.render(Format::Unicode));
    }
}

#[test]
fn a_matrix_and_its_transpose_need_one_invertibility_condition() {
    let g = bracket::grad("X: matrix(n, n); A: matrix(n, n); ln(det(A + X^T X))", &["X"]).unwrap().remove(0);
    assert_eq!(bracket::conditions(&g.answer.expr), ["A + XᵀX is invertible"], "{}", g.answer.render(Format::Unicode));
}

#[test]
fn single_sample_logistic_and_determinant_hessians_are_classic() {
    let cases = [
        ("a, x: vector(n); ln(1 + exp(a^T x))", "x", "sigmoid'(aᵀx)aaᵀ"),
        ("y: scalar; w, x: vector(n); ln(1 + exp(-y w^T x))", "w", "sigmoid'(y(wᵀx))y²xxᵀ"),
        // A scalar factor scales a tensor product: not `|X| ⊗ X⁻¹ ⊗ X⁻¹`.
        ("X: matrix(n, n); det(X)", "X", "|X|((X⁻¹ ⊗ X⁻¹)_{2143} − (X⁻¹ ⊗ X⁻¹)_{2341})"),
    ];
    for (text, wrt, want) in cases {
        let h = hessian(text, &[wrt]).unwrap().remove(0);
        assert!(h.check(3).passed(), "{text}");
        assert_eq!(h.answer.render(Format::Unicode), want, "{text}");
    }
}

#[test]
fn a_softmax_hvp_spreads_a_vector_over_columns_as_an_outer_product() {
    // `(XV ⊙ S)11ᵀ`, not `(XV ⊙ S)1 ⊗ 1`: a vector's tensor product with ones reads as
    // an outer product; a 3-tensor of vectors keeps `⊗`.
    let text = "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); Y 1 = 1; -1/N dot(Y, ln(softmax(X W)))";
    let p = hvp(text, "W", "V").unwrap();
    assert!(p.check(3).passed(), "{}", p.answer.render(Format::Unicode));
    assert_eq!(p.answer.render(Format::Unicode), "Xᵀ(softmax(XW) ⊙ (XV − (XV ⊙ softmax(XW))11ᵀ))/N");
    let t = bracket::simplify("u: vector(a); v: vector(b); w: vector(c); u ⊗ v ⊗ w").unwrap();
    assert_eq!(t.render(Format::Unicode), "u ⊗ v ⊗ w");
}

#[test]
fn a_matrix_with_positive_entries_is_still_stated_invertible() {
    // exp(A) has positive entries, and may be singular: its inverse needs the condition.
    for (text, wrt) in
        [("A: matrix(n, n); b, c: vector(n); b^T exp(A)^-1 c", "b"), ("A: matrix(n, n); ln det(exp(A))", "A")]
    {
        let d = bracket::grad(text, &[wrt]).unwrap().remove(0);
        let conditions = bracket::conditions(&d.answer.expr);
        assert_eq!(conditions, ["exp(A) is invertible"], "{text}: {}", d.answer.render(Format::Unicode));
    }
}

#[test]
fn an_exponent_too_large_to_count_gives_no_sign() {
    // 10^27 overflows the exponent count: the base's sign is unknown, and the root's
    // condition is stated (wrongly dropped if the count wrapped to an even number).
    let text = "x: vector(n); s: scalar; sqrt(1 + ((s^1000000000)^1000000000)^1000000000 * x^T x)";
    let d = bracket::grad(text, &["x"]).unwrap().remove(0);
    assert_eq!(bracket::conditions(&d.answer.expr).len(), 1, "{}", d.answer.render(Format::Unicode));
}

#[test]
fn a_zero_block_in_the_vec_layout_is_a_zero_matrix() {
    // W and b never meet: their mixed blocks are zero matrices, printed `0` and in
    // NumPy with their sizes, and they check against the tensor layout.
    let expr = "X: matrix(N, p); Y: matrix(N, k); W: matrix(p, k); b: vector(k); λ: scalar; \
                1/2 ||X W - Y||^2 + λ/2 ||b||^2"
        .to_string();
    let query = bracket::Command::Hessian { expr, wrt: vec!["W".into(), "b".into()], check: true, layout: Layout::Vec };
    let Ok(bracket::Reply::Matrices(ds)) = query.run(&Default::default()) else { panic!() };
    let blocks: Vec<(String, String, String)> =
        ds.iter().map(|(d, _)| (d.label.clone(), d.render(Format::Unicode), d.render(Format::Numpy))).collect();
    assert_eq!(blocks[1].1, "0", "{blocks:?}");
    assert_eq!(blocks[1].2, "np.zeros((X.shape[1] * Y.shape[1], Y.shape[1]))", "{blocks:?}");
    assert_eq!(blocks[2].1, "0", "{blocks:?}");
    assert!(ds.iter().all(|(_, c)| c.as_ref().is_some_and(|c| c.passed())), "{ds:?}");
}

#[test]
fn a_sum_of_two_spellings_of_one_vector_is_collected_in_an_hvp() {
    // The multivariate-t HVP by its mean: `(RΣ⁻¹diag(v) + 1vᵀΣ⁻¹ ⊙ R)1` is RΣ⁻¹v twice
    // (a row spread down the columns scales them; a diagonal's row sums are its vector).
    let text = "X: matrix(N,p); Sigma: symmetric(p); mu: vector(p); R = X - 1 mu^T; \
                (nu + p)/2 sum(ln(1 + ((R Sigma^-1) .* R) 1 / nu)) + N/2 ln det(Sigma)";
    let p = hvp(text, "mu", "v").unwrap();
    let shown = p.answer.render(Format::Unicode);
    assert!(p.check(3).passed(), "{shown}");
    assert!(is_classic(&p.answer.expr), "{shown}");
    assert!(shown.contains("2RΣ⁻¹v") && !shown.contains("diag(v)"), "{shown}");
    // No larger than `(ν + p)Σ⁻¹((1ᵀ(1 ⊘ s))v − 2Rᵀ(RΣ⁻¹v ⊘ s^{⊙2}))`, s = ν1 + (RΣ⁻¹ ⊙ R)1.
    let s = "(nu 1 + ((R Sigma^-1) .* R) 1)";
    let known = format!("(nu + p) Sigma^-1 ((1^T (1 ./ {s})) v - 2 R^T ((R Sigma^-1 v) ./ {s}.^2))");
    let model =
        read(&format!("X: matrix(N,p); Sigma: symmetric(p); mu, v: vector(p); R = X - 1 mu^T; {known}")).unwrap();
    let known = model.main_expr().unwrap();
    assert!(operations(&p.answer.expr) <= operations(known), "{shown}");
}

#[test]
fn terms_sharing_a_part_are_factored_beside_one_that_does_not() {
    // The graphical lasso with a smooth penalty: its two element-wise terms on I ⊗ I
    // cancel to one (1/sqrt(E) − Θ ⊙ Θ ⊘ E^{3/2} = ε E^{−3/2}) beside −ln det Θ's
    // Kronecker product, which shares nothing with them.
    let text = "Theta, S: symmetric(n); -ln det(Theta) + tr(S Theta) + lambda sum(sqrt(Theta .* Theta + epsilon 1))";
    let h = hessian(text, &["Theta"]).unwrap().remove(0);
    let shown = h.answer.render(Format::Unicode);
    assert!(h.check(3).passed(), "{shown}");
    assert_eq!(shown.matches("⊙^{13}").count(), 1, "{shown}");
    assert!(shown.contains("^{⊙-3/2}") && !shown.contains("sqrt"), "{shown}");
}

/// A factor that every term of a sum holds entry by entry comes out of it, wherever it
/// stands: the probit HVP holds `Xv` once (it held it three times), equal to the known
/// form, and checks.
#[test]
fn a_factor_every_term_holds_entry_by_entry_comes_out() {
    let decls = "Φ: elementwise; X: matrix(N, d); y: vector(N); w, v: vector(d); λ: scalar";
    let f = "-y^T ln(Φ(X w)) - (1 - y)^T ln(1 - Φ(X w)) + λ/2 w^T w";
    // (A function's square stays `Φ ⊙ Φ`, as the rules leave it: one evaluation shared.)
    let known = "X^T (X v .* (Φ''(X w) .* ((1 - y) ./ (1 - Φ(X w)) - y ./ Φ(X w)) + Φ'(X w) .* Φ'(X w) .* \
                 (y ./ (Φ(X w) .* Φ(X w)) + (1 - y) ./ (1 - Φ(X w)).^2))) + λ v";
    let p = hvp(&format!("{decls}; {f}"), "w", "v").unwrap();
    assert!(p.check(3).passed());
    let ascii = p.answer.render(Format::Ascii);
    assert_eq!(ascii.matches("X v").count(), 1, "{ascii}");
    assert!(same_value(&format!("{decls}; {ascii}; {known}"), &[1, 2, 3]), "{ascii}");
    let known_ops = operations(read(&format!("{decls}; {known}")).unwrap().main_expr().unwrap());
    assert!(operations(&p.answer.expr) <= known_ops, "{ascii}");
}
