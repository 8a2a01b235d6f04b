//! Derivatives from the Matrix Cookbook and common machine-learning losses.
//!
//! Source: K. B. Petersen and M. S. Pedersen, *The Matrix Cookbook*, version of November
//! 15, 2012, §2 "Derivatives": §2.1 determinants (eqs. 41–58), §2.2 inverses (eqs. 59–64),
//! §2.4 scalar forms (eqs. 69–88), §2.5 traces (eqs. 99–128), §2.6–2.7 norms (eqs.
//! 129–132). Equation numbers are those of that edition (where unsure, the section is
//! cited); cases that are not a Cookbook identity cite the section they extend or the
//! machine-learning model they come from.
//!
//! Every case (1) differentiates with `bracket::grad` (or `bracket::jacobian`), which must
//! succeed; (2) checks the result against central finite differences at three random
//! points (`bracket::check_derivative`), relative error below 1e-6; and (3) where a
//! closed form is known, evaluates it and the computed result on the same random tensors
//! and requires them equal (exactly in rationals when possible, else within 1e-9): the
//! computed expression itself, then its ASCII and its Unicode renderings read back with
//! the function's declarations and definitions (docs/syntax.md §10 promises they parse
//! back to an equal value). `+ 0 X` is added to both sides so that a lone `I` or `1` has
//! the derivative's shape.
//!
//! Random values are nonzero multiples of 1/4, so relu and abs of a variable are never
//! evaluated at their kink; ln and det are only applied where they are defined at every
//! random point (ln det of XᵀX with X of full column rank, of LLᵀ + I, …), so no NaN is
//! skipped.
//!
//! One test per family; each runs all its cases and reports every failure at the end.
//! Cases that fail because of a bug in bracket are kept in `known_failures` (ignored).

mod common;
#[path = "cookbook/models.rs"]
mod models;
use models::MODEL_CASES;

use bracket::{check_derivative, eval, grad, jacobian, random_env, read, Draw, ErrorCode, Expr, Format, Model, Number};
use common::Values;
use ndarray::ArrayD;
use num_rational::BigRational;

/// Largest relative error accepted from the finite-difference check.
const TOLERANCE: f64 = 1e-6;
/// Random points at which the finite-difference check is made.
const POINTS: u64 = 3;
/// Seeds of the random tensors on which the computed and the known forms are compared.
const SEEDS: [u64; 3] = [1, 2, 3];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Traces,
    Determinants,
    Inverses,
    Quadratic,
    Norms,
    Elementwise,
    Losses,
    Jacobians,
    Models,
}

use Family::*;

/// One derivative to compute and check.
struct Case {
    family: Family,
    /// Where the identity comes from.
    source: &'static str,
    /// Declarations (may be empty).
    decls: &'static str,
    /// The function; definitions `h = …;` may come before the final expression.
    f: &'static str,
    /// The variable.
    wrt: &'static str,
    /// The known result (gradient with X's shape, or Jacobian: f's dims then X's).
    known: Option<&'static str>,
}

const fn case(
    family: Family,
    source: &'static str,
    decls: &'static str,
    f: &'static str,
    wrt: &'static str,
    known: Option<&'static str>,
) -> Case {
    Case { family, source, decls, f, wrt, known }
}

const SQUARE: &str = "A, B, C, X: matrix(n, n)";

const CASES: &[Case] = &[
    // ---------------------------------------------------------------- §2.5 traces
    case(Traces, "eq. 99", "X: matrix(n, n)", "tr(X)", "X", Some("I")),
    case(Traces, "eq. 100", "X: matrix(n, m); A: matrix(m, n)", "tr(X A)", "X", Some("A^T")),
    case(Traces, "eq. 100 (cyclic)", "X: matrix(n, m); A: matrix(m, n)", "tr(A X)", "X", Some("A^T")),
    case(Traces, "eq. 101", "A: matrix(k, n); X: matrix(n, m); B: matrix(m, k)", "tr(A X B)", "X", Some("A^T B^T")),
    case(Traces, "eq. 102", "A: matrix(k, m); X: matrix(n, m); B: matrix(n, k)", "tr(A X^T B)", "X", Some("B A")),
    case(Traces, "eq. 103", "X, A: matrix(n, m)", "tr(X^T A)", "X", Some("A")),
    case(Traces, "eq. 104", "X, A: matrix(n, m)", "tr(A X^T)", "X", Some("A")),
    case(Traces, "eq. 106", "X: matrix(n, n)", "tr(X^2)", "X", Some("2 X^T")),
    case(Traces, "eq. 107", "X, B: matrix(n, n)", "tr(X^2 B)", "X", Some("(X B + B X)^T")),
    case(Traces, "eq. 108", "X: matrix(n, m); B: matrix(n, n)", "tr(X^T B X)", "X", Some("B X + B^T X")),
    case(Traces, "eq. 109", "X: matrix(n, m); B: matrix(n, n)", "tr(B X X^T)", "X", Some("B X + B^T X")),
    case(Traces, "eq. 110", "X: matrix(n, m); B: matrix(n, n)", "tr(X X^T B)", "X", Some("B X + B^T X")),
    case(Traces, "eq. 111", "X: matrix(n, m); B: matrix(m, m)", "tr(X B X^T)", "X", Some("X B^T + X B")),
    case(Traces, "eq. 112", "X: matrix(n, m); B: matrix(m, m)", "tr(B X^T X)", "X", Some("X B^T + X B")),
    case(Traces, "eq. 113", "X: matrix(n, m); B: matrix(m, m)", "tr(X^T X B)", "X", Some("X B^T + X B")),
    case(Traces, "eq. 114", SQUARE, "tr(A X B X)", "X", Some("A^T X^T B^T + B^T X^T A^T")),
    case(Traces, "eq. 115", "X: matrix(n, m)", "tr(X^T X)", "X", Some("2 X")),
    case(Traces, "eq. 115", "X: matrix(n, m)", "tr(X X^T)", "X", Some("2 X")),
    case(
        Traces,
        "eq. 116",
        "X: matrix(n, m); B: matrix(m, k); C: matrix(n, n)",
        "tr(B^T X^T C X B)",
        "X",
        Some("C^T X B B^T + C X B B^T"),
    ),
    case(
        Traces,
        "eq. 117",
        "X: matrix(n, m); B: matrix(n, n); C: matrix(m, m)",
        "tr(X^T B X C)",
        "X",
        Some("B X C + B^T X C^T"),
    ),
    case(
        Traces,
        "eq. 118",
        "X: matrix(n, m); A: matrix(k, n); B: matrix(m, m); C: matrix(n, k)",
        "tr(A X B X^T C)",
        "X",
        Some("A^T C^T X B^T + C A X B"),
    ),
    case(
        Traces,
        "eq. 118 with A = I: tr(XAXᵀB)",
        "X: matrix(n, m); A: matrix(m, m); B: matrix(n, n)",
        "tr(X A X^T B)",
        "X",
        Some("B^T X A^T + B X A"),
    ),
    case(
        Traces,
        "eq. 119",
        "A: matrix(k, n); X: matrix(n, m); B: matrix(m, p); C: matrix(k, p)",
        "tr((A X B + C) (A X B + C)^T)",
        "X",
        Some("2 A^T (A X B + C) B^T"),
    ),
    case(Traces, "eq. 120", "X: matrix(n, n)", "tr(X) tr(X)", "X", Some("2 tr(X) I")),
    case(Traces, "eq. 121, k = 3", "X: matrix(n, n)", "tr(X^3)", "X", Some("3 (X^2)^T")),
    case(Traces, "eq. 121, k = 4", "X: matrix(n, n)", "tr(X^4)", "X", Some("4 (X^3)^T")),
    case(Traces, "eq. 122, k = 3", SQUARE, "tr(A X^3)", "X", Some("(A X^2 + X A X + X^2 A)^T")),
    case(
        Traces,
        "eq. 124",
        "A: matrix(k, n); X: matrix(n, n); B: matrix(n, k)",
        "tr(A X^-1 B)",
        "X",
        Some("-X^-T A^T B^T X^-T"),
    ),
    case(Traces, "eq. 124 with A = B = I", "X: matrix(n, n)", "tr(X^-1)", "X", Some("-(X^-2)^T")),
    // sin is element-wise here, not the matrix sine of eq. 128, so only the diagonal of
    // cos(X)ᵀ remains.
    case(Traces, "eq. 128 (element-wise sin)", "X: matrix(n, n)", "tr(sin(X))", "X", Some("I .* cos(X)^T")),
    case(Traces, "§2.5 first order, Tr(A(X + B))", SQUARE, "tr(A (X + B))", "X", Some("A^T")),
    case(Traces, "eq. 121 with k = −3", "X: matrix(n, n)", "tr(X^-3)", "X", Some("-3 (X^-4)^T")),
    case(Traces, "eq. 124 with (X⁻¹)²", "X: matrix(n, n)", "tr((X^-1)^2)", "X", Some("-2 (X^-3)^T")),
    case(Traces, "eq. 124 with Xᵀ", "X: matrix(n, n)", "tr((X^T)^-1)", "X", Some("-(X^-2)^T")),
    case(Traces, "eq. 113 as a Frobenius product", "X, Y: matrix(n, n)", "dot(X, X Y)", "X", Some("X Y^T + X Y")),
    case(
        Traces,
        "eq. 101 as a Frobenius product",
        "A: matrix(n, k); X: matrix(n, m); B: matrix(m, k)",
        "dot(A, X B)",
        "X",
        Some("A B^T"),
    ),
    case(Traces, "eq. 120, (Tr X)²", "X: matrix(n, n)", "tr(X)^2", "X", Some("2 tr(X) I")),
    // ---------------------------------------------------------- §2.1 determinants
    case(Determinants, "eq. 49", "X: matrix(n, n)", "det(X)", "X", Some("det(X) X^-T")),
    case(Determinants, "eq. 51", SQUARE, "det(A X B)", "X", Some("det(A X B) X^-T")),
    case(Determinants, "eq. 51 (by A)", SQUARE, "det(A X B)", "A", Some("det(A X B) A^-T")),
    case(Determinants, "§2.1.3 square forms, X square", SQUARE, "det(X^T A X)", "X", Some("2 det(X^T A X) X^-T")),
    case(
        Determinants,
        "§2.1.3 square forms, X not square, A symmetric",
        "S: symmetric(n); X: matrix(n, 2)",
        "det(X^T S X)",
        "X",
        Some("2 det(X^T S X) S X (X^T S X)^-1"),
    ),
    case(
        Determinants,
        "§2.1.3 square forms, X not square, A general",
        "A: matrix(n, n); X: matrix(n, 2)",
        "det(X^T A X)",
        "X",
        Some("det(X^T A X) (A X (X^T A X)^-1 + A^T X (X^T A^T X)^-1)"),
    ),
    // X is n×2 with n ≥ 2: random X has full column rank, so det(XᵀX) > 0.
    case(Determinants, "eq. 55: 2(X⁺)ᵀ = 2X(XᵀX)⁻¹", "X: matrix(n, 2)", "ln(det(X^T X))", "X", Some("2 X (X^T X)^-1")),
    case(Determinants, "eq. 57", "X: matrix(n, n)", "ln(abs(det(X)))", "X", Some("X^-T")),
    case(Determinants, "eq. 58, k = 3", "X: matrix(n, n)", "det(X^3)", "X", Some("3 det(X^3) X^-T")),
    case(Determinants, "eq. 58, k = 2", "X: matrix(n, n)", "det(X^2)", "X", Some("2 det(X^2) X^-T")),
    case(
        Determinants,
        "eq. 41 (general form), ∂det(Y)/∂x = det(Y) Tr(Y⁻¹ ∂Y/∂x)",
        "A, B: matrix(n, n); λ: scalar",
        "det(A + λ B)",
        "λ",
        Some("det(A + λ B) tr((A + λ B)^-1 B)"),
    ),
    case(
        Determinants,
        "§2.1.4 log-determinant of a positive definite matrix",
        "X: matrix(n, m)",
        "ln(det(X X^T + I))",
        "X",
        Some("2 (X X^T + I)^-1 X"),
    ),
    case(Determinants, "eq. 49 and the product rule", "X: matrix(n, n)", "det(X) det(X)", "X", Some("2 det(X)^2 X^-T")),
    case(Determinants, "eq. 57 with eq. 51", SQUARE, "ln(abs(det(A X B)))", "X", Some("X^-T")),
    case(
        Determinants,
        "eq. 49 with the chain rule: 1/det(X)",
        "X: matrix(n, n)",
        "1/det(X)",
        "X",
        Some("-X^-T / det(X)"),
    ),
    case(Determinants, "eq. 62 with Xᵀ", "X: matrix(n, n)", "det(X^-T)", "X", Some("-det(X^-1) X^-T")),
    // X is n×2 with n ≥ 2: det(XᵀX) > 0 at random points.
    case(
        Determinants,
        "eq. 55 with the chain rule: the volume det(XᵀX)^½",
        "X: matrix(n, 2)",
        "det(X^T X)^(1/2)",
        "X",
        Some("det(X^T X)^(1/2) X (X^T X)^-1"),
    ),
    case(
        Determinants,
        "eq. 49 with eq. 99 (product rule)",
        "X: matrix(n, n)",
        "tr(X) det(X)",
        "X",
        Some("det(X) I + tr(X) det(X) X^-T"),
    ),
    // -------------------------------------------------------------- §2.2 inverses
    case(Inverses, "eq. 61", "X: matrix(n, n); a, b: vector(n)", "a^T X^-1 b", "X", Some("-X^-T a b^T X^-T")),
    case(Inverses, "eq. 61 with Xᵀ", "X: matrix(n, n); a, b: vector(n)", "a^T X^-T b", "X", Some("-X^-T b a^T X^-T")),
    case(Inverses, "eq. 62", "X: matrix(n, n)", "det(X^-1)", "X", Some("-det(X^-1) X^-T")),
    case(Inverses, "eq. 63 with B = I", "X, A: matrix(n, n)", "tr(X^-1 A)", "X", Some("-(X^-1 A X^-1)^T")),
    case(
        Inverses,
        "eq. 63",
        "A: matrix(k, n); X: matrix(n, n); B: matrix(n, k)",
        "tr(A X^-1 B)",
        "A",
        Some("(X^-1 B)^T"),
    ),
    case(Inverses, "eq. 64", "X, A: matrix(n, n)", "tr((X + A)^-1)", "X", Some("-((X + A)^-1 (X + A)^-1)^T")),
    case(
        Inverses,
        "eq. 61 with X⁻² (product rule)",
        "X: matrix(n, n); a, b: vector(n)",
        "a^T X^-2 b",
        "X",
        Some("-(X^-T a b^T X^-2^T + X^-2^T a b^T X^-T)"),
    ),
    case(
        Inverses,
        "eq. 125 (C symmetric)",
        "S: symmetric(n); X: matrix(n, 2); A: matrix(2, 2)",
        "tr((X^T S X)^-1 A)",
        "X",
        Some("-S X (X^T S X)^-1 (A + A^T) (X^T S X)^-1"),
    ),
    case(
        Inverses,
        "eq. 81 and 61: xᵀA⁻¹x by A",
        "A: matrix(n, n); x: vector(n)",
        "x^T A^-1 x",
        "A",
        Some("-A^-T x x^T A^-T"),
    ),
    case(Inverses, "eq. 81 with B = A⁻¹", "A: matrix(n, n); x: vector(n)", "x^T A^-1 x", "x", Some("(A^-1 + A^-T) x")),
    case(
        Inverses,
        "eq. 61: Mahalanobis distance by the covariance",
        "S: matrix(n, n); x, m: vector(n)",
        "(x - m)^T S^-1 (x - m)",
        "S",
        Some("-S^-T (x - m) (x - m)^T S^-T"),
    ),
    case(Inverses, "eq. 61 with a = b = x: (xᵀx)⁻¹", "x: vector(n)", "(x^T x)^-1", "x", Some("-2 x / (x^T x)^2")),
    case(
        Inverses,
        "eq. 61 with a symmetric matrix (unstructured gradient, not §2.8's)",
        "S: symmetric(n); x: vector(n)",
        "x^T S^-1 x",
        "S",
        Some("-S^-1 x x^T S^-1"),
    ),
    // ----------------------------------------------- §2.4 linear, quadratic, cubic
    case(Quadratic, "eq. 69", "x, a: vector(n)", "x^T a", "x", Some("a")),
    case(Quadratic, "eq. 69", "x, a: vector(n)", "a^T x", "x", Some("a")),
    case(Quadratic, "eq. 70", "a: vector(n); X: matrix(n, m); b: vector(m)", "a^T X b", "X", Some("a b^T")),
    case(Quadratic, "eq. 71", "a: vector(m); X: matrix(n, m); b: vector(n)", "a^T X^T b", "X", Some("b a^T")),
    case(Quadratic, "eq. 72", "a: vector(n); X: matrix(n, n)", "a^T X a", "X", Some("a a^T")),
    case(Quadratic, "eq. 77", "b, c: vector(m); X: matrix(n, m)", "b^T X^T X c", "X", Some("X (b c^T + c b^T)")),
    case(
        Quadratic,
        "eq. 78",
        "B: matrix(k, n); b: vector(k); C: matrix(k, p); D: matrix(p, n); d: vector(p); x: vector(n)",
        "(B x + b)^T C (D x + d)",
        "x",
        Some("B^T C (D x + d) + D^T C^T (B x + b)"),
    ),
    case(Quadratic, "eq. 81", "B: matrix(n, n); x: vector(n)", "x^T B x", "x", Some("(B + B^T) x")),
    case(Quadratic, "eq. 81 with B symmetric", "S: symmetric(n); x: vector(n)", "x^T S x", "x", Some("2 S x")),
    case(
        Quadratic,
        "eq. 82",
        "b, c: vector(m); X: matrix(n, m); D: matrix(n, n)",
        "b^T X^T D X c",
        "X",
        Some("D^T X b c^T + D X c b^T"),
    ),
    case(
        Quadratic,
        "eq. 83",
        "X: matrix(n, m); b: vector(m); c: vector(n); D: matrix(n, n)",
        "(X b + c)^T D (X b + c)",
        "X",
        Some("(D + D^T) (X b + c) b^T"),
    ),
    case(
        Quadratic,
        "eq. 84–88 (W symmetric), by s",
        "x: vector(n); A: matrix(n, m); s: vector(m); W: symmetric(n)",
        "(x - A s)^T W (x - A s)",
        "s",
        Some("-2 A^T W (x - A s)"),
    ),
    case(
        Quadratic,
        "eq. 84–88 (W symmetric), by x",
        "x: vector(n); A: matrix(n, m); s: vector(m); W: symmetric(n)",
        "(x - A s)^T W (x - A s)",
        "x",
        Some("2 W (x - A s)"),
    ),
    case(
        Quadratic,
        "eq. 72 (by the matrix of a quadratic form)",
        "x: vector(n); A: matrix(n, n)",
        "x^T A x",
        "A",
        Some("x x^T"),
    ),
    case(Quadratic, "eq. 77 with b = c", "x: vector(m); X: matrix(n, m)", "x^T X^T X x", "X", Some("2 X x x^T")),
    case(Quadratic, "§2.4.2: xᵀx", "x: vector(n)", "x^T x", "x", Some("2 x")),
    case(
        Quadratic,
        "§2.4.3 cubic forms: (xᵀx)(aᵀx)",
        "x, a: vector(n)",
        "(x^T x) (a^T x)",
        "x",
        Some("2 (a^T x) x + (x^T x) a"),
    ),
    case(
        Quadratic,
        "§2.4.3 cubic forms: (xᵀAx)(bᵀx)",
        "x, b: vector(n); A: matrix(n, n)",
        "(x^T A x) (b^T x)",
        "x",
        Some("(b^T x) (A + A^T) x + (x^T A x) b"),
    ),
    case(
        Quadratic,
        "§2.4.2, by A",
        "x: vector(m); b: vector(n); A: matrix(n, m)",
        "(A x + b)^T (A x + b)",
        "A",
        Some("2 (A x + b) x^T"),
    ),
    case(Quadratic, "eq. 81 with B = diag(a), by x", "x, a: vector(n)", "x^T diag(a) x", "x", Some("2 a .* x")),
    case(Quadratic, "eq. 81 with B = diag(a), by a", "x, a: vector(n)", "x^T diag(a) x", "a", Some("x .* x")),
    case(Quadratic, "eq. 70 with diag", "a: vector(n); X: matrix(n, n)", "a^T diag(X)", "X", Some("diag(a)")),
    case(
        Quadratic,
        "bracket notation: 1ᵀX²1 as X_1[X̄_2 X_1]X_2",
        "X: matrix(n, n)",
        "sum(X_1 [~X_2 X_1] X_2)",
        "X",
        Some("1 1^T X^T + X^T 1 1^T"),
    ),
    case(
        Quadratic,
        "einsum: 1ᵀAX1",
        "A: matrix(n, n); X: matrix(n, m)",
        "sum(einsum(\"ij,jk->ik\", A, X))",
        "X",
        Some("A^T 1 1^T"),
    ),
    case(
        Quadratic,
        "eq. 70 through definitions: xᵀX²x",
        "X: matrix(n, n); x: vector(n)",
        "h = X x; k = X h; x^T k",
        "X",
        Some("x (X x)^T + X^T x x^T"),
    ),
    // ------------------------------------------------------------ §2.6–2.7 norms
    case(Norms, "eq. 131", "x: vector(n)", "||x||^2", "x", Some("2 x")),
    case(Norms, "eq. 129", "x, a: vector(n)", "||x - a||", "x", Some("(x - a) / ||x - a||")),
    case(Norms, "eq. 132", "X: matrix(n, m)", "||X||^2", "X", Some("2 X")),
    case(Norms, "§2.7.1, Frobenius norm", "X: matrix(n, m)", "||X||", "X", Some("X / ||X||")),
    case(
        Norms,
        "eq. 131 with eq. 78 (least squares)",
        "A: matrix(n, m); x: vector(m); b: vector(n)",
        "||A x - b||^2",
        "x",
        Some("2 A^T (A x - b)"),
    ),
    case(
        Norms,
        "eq. 131 (least squares by the matrix)",
        "A: matrix(n, m); x: vector(m); b: vector(n)",
        "||A x - b||^2",
        "A",
        Some("2 (A x - b) x^T"),
    ),
    case(
        Norms,
        "eq. 132 with eq. 119, by W",
        "X: matrix(n, m); W: matrix(m, k); Y: matrix(n, k)",
        "||X W - Y||^2",
        "W",
        Some("2 X^T (X W - Y)"),
    ),
    case(
        Norms,
        "eq. 132 with eq. 119, by X",
        "X: matrix(n, m); W: matrix(m, k); Y: matrix(n, k)",
        "||X W - Y||^2",
        "X",
        Some("2 (X W - Y) W^T"),
    ),
    case(
        Norms,
        "eq. 119 with C = 0",
        "A: matrix(k, n); X: matrix(n, m); B: matrix(m, p)",
        "||A X B||^2",
        "X",
        Some("2 A^T A X B B^T"),
    ),
    case(Norms, "eq. 131 by the shift", "x, a: vector(n)", "||x - a||^2", "a", Some("-2 (x - a)")),
    case(Norms, "eq. 131 squared", "x: vector(n)", "(||x||^2)^2", "x", Some("4 (x^T x) x")),
    case(Norms, "eq. 129 via sqrt", "x: vector(n)", "sqrt(x^T x)", "x", Some("x / ||x||")),
    case(Norms, "eq. 129, cubed", "x: vector(n)", "||x||^3", "x", Some("3 ||x|| x")),
    // ------------------------------------------------------- element-wise functions
    case(Elementwise, "§2.5: ∂Tr F(X)/∂X = f(X)ᵀ, summed", "X: matrix(n, m)", "sum(exp(X))", "X", Some("exp(X)")),
    case(
        Elementwise,
        "chain rule, tanh' = 1 − tanh²",
        "W: matrix(n, m); x: vector(m)",
        "1^T tanh(W x)",
        "W",
        Some("(1 - tanh(W x) .* tanh(W x)) x^T"),
    ),
    case(
        Elementwise,
        "chain rule, tanh' = 1 − tanh²",
        "W: matrix(n, m); x: vector(m)",
        "1^T tanh(W x)",
        "x",
        Some("W^T (1 - tanh(W x) .* tanh(W x))"),
    ),
    case(
        Elementwise,
        "chain rule, σ' = σ(1 − σ)",
        "X: matrix(n, m); w: vector(m)",
        "sum(sigmoid(X w))",
        "w",
        Some("X^T (sigmoid(X w) .* (1 - sigmoid(X w)))"),
    ),
    case(Elementwise, "declared element-wise f", "f: elementwise; X: matrix(n, m)", "sum(f(X))", "X", Some("f'(X)")),
    case(
        Elementwise,
        "declared f, chain rule",
        "f: elementwise; A: matrix(k, n); X: matrix(n, m)",
        "sum(f(A X))",
        "X",
        Some("A^T f'(A X)"),
    ),
    // relu is not smooth at 0; the random values are nonzero multiples of 1/4.
    case(Elementwise, "relu, a.e.", "a, x: vector(n)", "a^T relu(x)", "x", Some("relu'(x) .* a")),
    case(Elementwise, "Hadamard square", "X: matrix(n, m)", "sum(X .* X)", "X", Some("2 X")),
    case(Elementwise, "Frobenius inner product, eq. 103", "A, X: matrix(n, m)", "dot(A, X)", "X", Some("A")),
    case(Elementwise, "softplus: ln(1 + eˣ)' = σ(x)", "x: vector(n)", "sum(ln(1 + exp(x)))", "x", Some("sigmoid(x)")),
    case(Elementwise, "Hadamard quadratic", "a, x: vector(n)", "x^T (a .* x)", "x", Some("2 a .* x")),
    case(
        Elementwise,
        "sqrt chain rule",
        "X: matrix(n, m)",
        "sum(sqrt(1 + X .* X))",
        "X",
        Some("X ./ sqrt(1 + X .* X)"),
    ),
    case(Elementwise, "element-wise power", "X: matrix(n, m)", "sum(X.^3)", "X", Some("3 X.^2")),
    case(Elementwise, "cos' = −sin", "X: matrix(n, m)", "sum(cos(X))", "X", Some("-sin(X)")),
    case(Elementwise, "element-wise division", "x, y: vector(n)", "sum(x ./ y)", "y", Some("-x ./ (y .* y)")),
    // |x| is not smooth at 0; the random values are nonzero.
    case(Elementwise, "abs, a.e.", "a, x: vector(n)", "a^T abs(x)", "x", Some("a .* x ./ abs(x)")),
    case(
        Elementwise,
        "bias broadcast",
        "X: matrix(n, m); W: matrix(m, k); b: vector(k)",
        "sum(tanh(X W + 1 b^T))",
        "b",
        Some("(1 - tanh(X W + 1 b^T) .* tanh(X W + 1 b^T))^T 1"),
    ),
    case(
        Elementwise,
        "power of a function: tanh²",
        "X: matrix(n, m)",
        "sum(tanh^2(X))",
        "X",
        Some("2 tanh(X) .* (1 - tanh(X) .* tanh(X))"),
    ),
    case(Elementwise, "exp of a scalar", "x: vector(n); λ: scalar", "exp(λ) x^T x", "λ", Some("exp(λ) x^T x")),
    case(
        Elementwise,
        "chained definitions",
        "A: matrix(n, m); x: vector(m)",
        "h = A x; g = h .* h; sum(g) + h^T g",
        "x",
        Some("2 A^T h + 3 A^T (h .* h)"),
    ),
    // ------------------------------------------------------------ machine learning
    case(
        Losses,
        "least squares (N by the divisor rule)",
        "X: matrix(n, m); w: vector(m); y: vector(n)",
        "1/(2N) ||X w - y||^2",
        "w",
        Some("X^T (X w - y) / N"),
    ),
    case(
        Losses,
        "ridge regression",
        "X: matrix(n, m); w: vector(m); y: vector(n); λ: scalar",
        "||X w - y||^2 + λ w^T w",
        "w",
        Some("2 X^T (X w - y) + 2 λ w"),
    ),
    case(
        Losses,
        "ridge regression, by the penalty",
        "X: matrix(n, m); w: vector(m); y: vector(n); λ: scalar",
        "||X w - y||^2 + λ w^T w",
        "λ",
        Some("w^T w"),
    ),
    // y need not be 0/1 for the identity to hold; 1 − σ is always positive.
    case(
        Losses,
        "logistic regression (cross-entropy)",
        "X: matrix(n, m); w: vector(m); y: vector(n)",
        "-(y^T ln(sigmoid(X w)) + (1 - y)^T ln(1 - sigmoid(X w)))",
        "w",
        Some("X^T (sigmoid(X w) - y)"),
    ),
    case(
        Losses,
        "softmax cross-entropy, by W",
        "W: matrix(k, m); x: vector(m); y: vector(k)",
        "-y^T ln(softmax(W x))",
        "W",
        Some("((1^T y) softmax(W x) - y) x^T"),
    ),
    case(
        Losses,
        "softmax cross-entropy, by x",
        "W: matrix(k, m); x: vector(m); y: vector(k)",
        "-y^T ln(softmax(W x))",
        "x",
        Some("W^T ((1^T y) softmax(W x) - y)"),
    ),
    case(
        Losses,
        "batch softmax cross-entropy (rows)",
        "X: matrix(n, m); W: matrix(m, k); Y: matrix(n, k)",
        "-sum(Y .* ln(softmax(X W)))",
        "W",
        Some("X^T ((Y 1) 1^T .* softmax(X W) - Y)"),
    ),
    case(Losses, "log-sum-exp", "x: vector(n)", "ln(1^T exp(x))", "x", Some("softmax(x)")),
    // The covariance is S = LLᵀ + I, positive definite, so ln det S is defined at every
    // random point (a random symmetric S would make it NaN at some).
    case(
        Losses,
        "Gaussian log-likelihood, by the mean (eq. 81 with eq. 57)",
        "L: matrix(n, n); x, m: vector(n)",
        "S = L L^T + I; -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)",
        "m",
        Some("S^-1 (x - m)"),
    ),
    case(
        Losses,
        "Gaussian log-likelihood, by x",
        "L: matrix(n, n); x, m: vector(n)",
        "S = L L^T + I; -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)",
        "x",
        Some("-S^-1 (x - m)"),
    ),
    case(
        Losses,
        "Gaussian log-likelihood, by the covariance factor (eqs. 57, 61)",
        "L: matrix(n, n); x, m: vector(n)",
        "S = L L^T + I; -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)",
        "L",
        Some("(S^-1 (x - m) (x - m)^T S^-1 - S^-1) L"),
    ),
    case(
        Losses,
        "matrix factorisation, by U",
        "X: matrix(n, m); U: matrix(n, k); V: matrix(m, k)",
        "||X - U V^T||^2",
        "U",
        Some("-2 (X - U V^T) V"),
    ),
    case(
        Losses,
        "matrix factorisation, by V",
        "X: matrix(n, m); U: matrix(n, k); V: matrix(m, k)",
        "||X - U V^T||^2",
        "V",
        Some("-2 (X - U V^T)^T U"),
    ),
    case(
        Losses,
        "one hidden layer, by V",
        "W: matrix(k, m); x: vector(m); b: vector(k); V: matrix(p, k); y: vector(p)",
        "h = tanh(W x + b); J = ||V h - y||^2; J",
        "V",
        Some("2 (V h - y) h^T"),
    ),
    case(
        Losses,
        "one hidden layer, by b",
        "W: matrix(k, m); x: vector(m); b: vector(k); V: matrix(p, k); y: vector(p)",
        "h = tanh(W x + b); J = ||V h - y||^2; J",
        "b",
        Some("2 (1 - h .* h) .* (V^T (V h - y))"),
    ),
    case(
        Losses,
        "one hidden layer, by W",
        "W: matrix(k, m); x: vector(m); b: vector(k); V: matrix(p, k); y: vector(p)",
        "h = tanh(W x + b); J = ||V h - y||^2; J",
        "W",
        Some("2 ((1 - h .* h) .* (V^T (V h - y))) x^T"),
    ),
    case(
        Losses,
        "batch linear layer with bias, by W",
        "X: matrix(n, m); W: matrix(m, k); b: vector(k); Y: matrix(n, k)",
        "1/(2N) ||X W + 1 b^T - Y||^2",
        "W",
        Some("X^T (X W + 1 b^T - Y) / N"),
    ),
    case(
        Losses,
        "Poisson regression",
        "X: matrix(n, m); w: vector(m); y: vector(n)",
        "sum(exp(X w)) - y^T X w",
        "w",
        Some("X^T (exp(X w) - y)"),
    ),
    case(
        Losses,
        "Gaussian noise with variance σ²",
        "X: matrix(n, m); w: vector(m); y: vector(n); σ: scalar",
        "||X w - y||^2 / (2 σ^2)",
        "w",
        Some("X^T (X w - y) / σ^2"),
    ),
    case(
        Losses,
        "Rayleigh quotient",
        "A: matrix(n, n); x: vector(n)",
        "(x^T A x) / (x^T x)",
        "x",
        Some("((A + A^T) x - 2 ((x^T A x) / (x^T x)) x) / (x^T x)"),
    ),
    case(Losses, "weight decay", "W: matrix(n, m); λ: scalar", "λ ||W||^2", "W", Some("2 λ W")),
    // The hinge is not smooth where 1 − yᵢ(Xw)ᵢ = 0. That can happen on the grid of
    // random values (multiples of 1/16 here), but does not at the points the check uses.
    case(
        Losses,
        "hinge loss (linear SVM)",
        "X: matrix(n, m); w: vector(m); y: vector(n)",
        "sum(relu(1 - y .* (X w)))",
        "w",
        Some("-X^T (relu'(1 - y .* (X w)) .* y)"),
    ),
    case(
        Losses,
        "least squares, by the scale N in the divisor",
        "X: matrix(n, m); w: vector(m); y: vector(n)",
        "1/(2N) ||X w - y||^2",
        "N",
        Some("-||X w - y||^2 / (2 N^2)"),
    ),
    // |w| is not smooth at 0; the random values are nonzero.
    case(
        Losses,
        "elastic-net-style L1 penalty",
        "X: matrix(n, m); w: vector(m); y: vector(n); λ: scalar",
        "||X w - y||^2 + λ sum(abs(w))",
        "w",
        Some("2 X^T (X w - y) + λ w ./ abs(w)"),
    ),
    case(
        Losses,
        "two layers with softmax cross-entropy, by V",
        "W: matrix(k, m); x: vector(m); b: vector(k); V: matrix(p, k); y: vector(p)",
        "h = tanh(W x + b); q = softmax(V h); -y^T ln(q)",
        "V",
        Some("((1^T y) q - y) h^T"),
    ),
    case(
        Losses,
        "two layers with softmax cross-entropy, by b",
        "W: matrix(k, m); x: vector(m); b: vector(k); V: matrix(p, k); y: vector(p)",
        "h = tanh(W x + b); q = softmax(V h); -y^T ln(q)",
        "b",
        Some("(1 - h .* h) .* (V^T ((1^T y) q - y))"),
    ),
    // ------------------------------------------------------------ Jacobians
    case(Jacobians, "eq. 69 as a Jacobian", "A: matrix(n, m); x: vector(m)", "A x", "x", Some("A")),
    case(
        Jacobians,
        "affine map, by the shift",
        "A: matrix(n, m); x: vector(m); b: vector(n)",
        "A x + b",
        "b",
        Some("I"),
    ),
    case(Jacobians, "outer product xxᵀ", "x: vector(n)", "x x^T", "x", Some("(I ⊗ x)_{132} + x ⊗ I")),
    case(Jacobians, "eq. 60", "X: matrix(n, n)", "X^-1", "X", Some("-(X^-1 ⊗ X^-T)_{1324}")),
    case(
        Jacobians,
        "tanh layer, by W",
        "W: matrix(n, m); x: vector(m)",
        "tanh(W x)",
        "W",
        Some("diag(1 - tanh(W x) .* tanh(W x)) ⊗ x"),
    ),
    case(Jacobians, "softmax", "a: vector(n)", "softmax(a)", "a", Some("diag(softmax(a)) - softmax(a) softmax(a)^T")),
    case(Jacobians, "transpose (eq. 73, J^{ij})", "X: matrix(n, m)", "X^T", "X", Some("(I ⊗ I)_{1342}")),
    case(
        Jacobians,
        "AXB (eq. 101 before the trace)",
        "A: matrix(k, n); X: matrix(n, m); B: matrix(m, p)",
        "A X B",
        "X",
        Some("(A ⊗ B^T)_{1324}"),
    ),
    case(Jacobians, "exp", "x: vector(n)", "exp(x)", "x", Some("diag(exp(x))")),
    case(Jacobians, "matrix-vector product, by the matrix", "X: matrix(n, m); w: vector(m)", "X w", "X", Some("I ⊗ w")),
    case(
        Jacobians,
        "X² (eq. 107 before the trace)",
        "X: matrix(n, n)",
        "X^2",
        "X",
        Some("(I ⊗ X^T)_{1324} + (X ⊗ I)_{1324}"),
    ),
    case(Jacobians, "scaling, by the scalar", "x: vector(n); λ: scalar", "λ x", "λ", Some("x")),
    case(
        Jacobians,
        "declared f of a linear map",
        "f: elementwise; W: matrix(n, m); x: vector(m)",
        "f(W x)",
        "x",
        Some("diag(f'(W x)) W"),
    ),
    case(Jacobians, "Hadamard product", "x, y: vector(n)", "x .* y", "x", Some("diag(y)")),
    case(
        Jacobians,
        "tanh layer, by x",
        "W: matrix(n, m); x: vector(m)",
        "tanh(W x)",
        "x",
        Some("diag(1 - tanh(W x) .* tanh(W x)) W"),
    ),
    case(
        Jacobians,
        "sigmoid layer, by w",
        "X: matrix(n, m); w: vector(m)",
        "sigmoid(X w)",
        "w",
        Some("diag(sigmoid(X w) .* (1 - sigmoid(X w))) X"),
    ),
    case(Jacobians, "AX", "A: matrix(k, n); X: matrix(n, m)", "A X", "X", Some("(A ⊗ I)_{1324}")),
    case(Jacobians, "XA", "X: matrix(n, m); A: matrix(m, k)", "X A", "X", Some("(I ⊗ A^T)_{1324}")),
    case(Jacobians, "eq. 60 applied to a", "X: matrix(n, n); a: vector(n)", "X^-1 a", "X", Some("-X^-1 ⊗ (X^-1 a)")),
    case(
        Jacobians,
        "normalisation x/‖x‖ (eq. 130)",
        "x: vector(n)",
        "x / ||x||",
        "x",
        Some("(I - x x^T / (x^T x)) / ||x||"),
    ),
    case(Jacobians, "diag", "x: vector(n)", "diag(x)", "x", Some("einsum(\"ij,ik->ijk\", I, I)")),
    case(Jacobians, "tensor product, by the second factor", "x, y: vector(n)", "kron(x, y)", "y", Some("x ⊗ I")),
    // The gradient of a sum is a ones tensor (it used to print as an einsum without
    // operands, which did not read back).
    case(Quadratic, "eq. 70 with a = b = 1: sum(X) = 1ᵀX1", "X: matrix(n, m)", "sum(X)", "X", Some("1 1^T")),
    case(Quadratic, "eq. 69 with a = 1", "x: vector(n)", "1^T x", "x", Some("1")),
    case(Quadratic, "eq. 69 with a = λ1", "x: vector(n); λ: scalar", "λ sum(x)", "x", Some("λ (x ./ x)")),
];

/// Cases that fail because of a bug in bracket (see `known_failures`).
const KNOWN_FAILURES: &[Case] = &[
    // The derivative is right (finite differences agree, and the computed expression
    // equals the known form), but its printed form does not read back to the same value:
    // it is `2(1/(2N))(WᵀXᵀ1) + 2 1ᵀ1(1/(2N))b − 2(1/(2N))(Yᵀ1)` (ASCII
    // `2 (1/(2 N)) (W^T X^T 1) + 2 1^T 1 (1/(2 N)) b - 2 (1/(2 N)) (Y^T 1)`), and `1ᵀ1`
    // (= n, the number of rows) has no size once printed, so when read back its size is
    // drawn at random: seed 1 gives [41/14, -9/7] instead of [5/2, -11/7]. The printer
    // should keep the size (e.g. print `1ᵀ1` as a count or tie the ones to Y's rows).
    case(
        Losses,
        "batch linear layer with bias, by b",
        "X: matrix(n, m); W: matrix(m, k); b: vector(k); Y: matrix(n, k)",
        "1/(2N) ||X W + 1 b^T - Y||^2",
        "b",
        Some("(X W + 1 b^T - Y)^T 1 / N"),
    ),
];

/// Checks one case; the error says what went wrong.
fn run(c: &Case) -> Result<(), String> {
    let text = if c.decls.is_empty() { c.f.to_string() } else { format!("{}; {}", c.decls, c.f) };
    let derivatives = if c.family == Jacobians { jacobian(&text, &[c.wrt]) } else { grad(&text, &[c.wrt]) };
    let derivatives = derivatives.map_err(|e| format!("the API failed: {}", e.render(&text)))?;
    let d = derivatives.first().ok_or("the API gave no derivative")?;
    let answer = &d.answer;
    let unicode = answer.render(Format::Unicode);
    let f = answer.model.main_expr().ok_or_else(|| format!("no function in the model (result {unicode})"))?;
    let error = check_derivative(&answer.model, f, &d.wrt, &answer.expr, POINTS)
        .map_err(|e| format!("result {unicode}: the finite-difference check failed: {}", e.render(&text)))?
        .error();
    if !(error < TOLERANCE) {
        return Err(format!("result {unicode}: relative error {error:e} against finite differences"));
    }
    let Some(known) = c.known else { return Ok(()) };
    // `+ 0 X` (or `+ 0 (F ⊗ X)` for a Jacobian) gives the known form the shape of the
    // derivative, so that a lone `I` or `1` in it gets the right sizes.
    let definitions = c.f.rfind(';').map_or("", |at| &c.f[..=at]);
    let function = c.f.rfind(';').map_or(c.f, |at| &c.f[at + 1..]).trim();
    let scalar_var = answer.model.names.get(&d.wrt).is_some_and(|i| i.shape.is_empty());
    let tie = match (c.family == Jacobians, scalar_var) {
        (false, _) => format!("0 {}", c.wrt),
        (true, true) => format!("0 ({function})"),
        (true, false) => format!("0 (({function}) ⊗ {})", c.wrt),
    };
    // 1. The computed expression itself and the known form, on the same random tensors.
    let src = format!("{text}; ({known}) + {tie}");
    let model = read(&src).map_err(|e| format!("the known form does not read: {}", e.render(&src)))?;
    let known_expr = model.exprs.last().ok_or("no known form")?;
    for &seed in &SEEDS {
        let values = values_of(&model, &[&answer.expr, known_expr], seed)
            .map_err(|e| format!("result {unicode}: cannot evaluate it and {known} (seed {seed}): {e}"))?;
        if let Some(shown) = differ(values) {
            return Err(format!("result {unicode} differs from the known form {known} at seed {seed}: {shown}"));
        }
    }
    // 2. The printed result read back (with the function's declarations and definitions)
    // and the known form: the ASCII rendering, and the Unicode one (both promised to
    // parse back to an equal value, docs/syntax.md §10).
    for format in [Format::Ascii, Format::Unicode] {
        let printed = answer.render(format);
        let src = format!("{}; {definitions} ({printed}) + {tie}; ({known}) + {tie}", c.decls);
        let model = read(&src).map_err(|e| {
            format!("result {unicode}: its {format:?} `{printed}` does not read back: {}", e.render(&src))
        })?;
        if model.exprs.len() != 2 {
            return Err(format!("result {unicode}: `{src}` has {} expressions, not 2", model.exprs.len()));
        }
        for &seed in &SEEDS {
            let values = values_of(&model, &[&model.exprs[0], &model.exprs[1]], seed)
                .map_err(|e| format!("result {unicode}: cannot evaluate `{src}` (seed {seed}): {e}"))?;
            if let Some(shown) = differ(values) {
                return Err(format!(
                    "result {unicode}: its {format:?} `{printed}`, read back, differs from the known form {known} \
                     at seed {seed}: {shown}"
                ));
            }
        }
    }
    Ok(())
}

/// Values of two expressions on the random tensors of `model` drawn with `seed`: exact
/// rationals when possible, else f64 (as `common::try_values`).
fn values_of(model: &Model, exprs: &[&Expr; 2], seed: u64) -> Result<Values, String> {
    fn both<T: Number>(model: &Model, exprs: &[&Expr; 2], seed: u64) -> Result<Vec<ArrayD<T>>, bracket::Error> {
        let env = random_env::<T>(model, Draw { seed, min_size: 2, max_size: 4, ..Draw::default() })?;
        exprs.iter().map(|e| eval(e, &env)).collect()
    }
    match both::<BigRational>(model, exprs, seed) {
        Ok(v) => Ok(Values::Exact(v)),
        Err(e) if e.code == ErrorCode::Eval || e.code == ErrorCode::Limit => {
            both::<f64>(model, exprs, seed).map(Values::Float).map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// `None` if the two values are equal (exactly, or within 1e-9 in f64), else both shown.
fn differ(values: Values) -> Option<String> {
    match values {
        Values::Exact(v) if v[0] == v[1] => None,
        Values::Float(v) if bracket::close(&v[0], &v[1], 1e-9) => None,
        Values::Exact(v) => Some(format!("{} vs {}", v[0], v[1])),
        Values::Float(v) => Some(format!("{:.6} vs {:.6}", v[0], v[1])),
    }
}

/// Runs a list of cases and panics with every failure.
fn run_all<'a>(cases: impl Iterator<Item = &'a Case>) -> usize {
    let mut count = 0;
    let mut failures = Vec::new();
    for c in cases {
        count += 1;
        if let Err(e) = run(c) {
            failures.push(format!("[{}] d/d{} of `{}` ({}):\n    {}", c.source, c.wrt, c.f, c.decls, e));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), count, failures.join("\n"));
    count
}

fn family(f: Family) {
    let n = run_all(CASES.iter().filter(|c| c.family == f));
    assert!(n > 0, "no cases for {f:?}");
}

#[test]
fn traces() {
    family(Traces);
}

#[test]
fn determinants() {
    family(Determinants);
}

#[test]
fn inverses() {
    family(Inverses);
}

#[test]
fn quadratic() {
    family(Quadratic);
}

#[test]
fn norms() {
    family(Norms);
}

#[test]
fn elementwise() {
    family(Elementwise);
}

#[test]
fn losses() {
    family(Losses);
}

#[test]
fn jacobians() {
    family(Jacobians);
}

#[test]
fn models() {
    let n = run_all(MODEL_CASES.iter());
    assert!(n >= 40, "{n} model cases");
}

/// The checks are not vacuous: a wrong known form and a wrong gradient are caught.
#[test]
fn harness_catches_wrong_answers() {
    let wrong_known = case(Traces, "wrong on purpose", "A, X: matrix(n, n)", "tr(A X)", "X", Some("A"));
    let e = run(&wrong_known).expect_err("a wrong known form must fail");
    assert!(e.contains("differs from the known form"), "{e}");
    let model = read("A, X: matrix(n, n); tr(A X); A").unwrap();
    let error = check_derivative(&model, &model.exprs[0], "X", &model.exprs[1], POINTS).unwrap().error();
    assert!(error > 1e-2, "the gradient A of tr(AX) (it is Aᵀ) passed with error {error:e}");
}

#[test]
fn enough_cases() {
    assert!(CASES.len() + KNOWN_FAILURES.len() >= 65);
}

/// Cases that fail because of bugs in bracket; run with `--ignored` to see them.
#[test]
#[ignore]
fn known_failures() {
    run_all(KNOWN_FAILURES.iter());
}

/// Results larger than the known form, or not classic where a classic form exists: a
/// ratchet, at zero now. The test fails if any case gets larger (or fewer are classic);
/// the one non-classic result is diag(x)'s Jacobian, a three-way δ that no classic
/// operator writes (its known form is an einsum too).
const MOST_LARGER: usize = 0;
const LEAST_CLASSIC: usize = 226;

/// Every result is a classic form, and none has more operations than the known form
/// written in its case (`bracket::operations`: one per operator, a sum of k terms k − 1).
/// Prints the table: case, operations of the result and of the known form, the result.
#[test]
fn results_are_classic_and_no_larger_than_the_known_forms() {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let (mut classic, mut total, mut smaller) = (0, 0, 0);
    for c in CASES.iter().chain(MODEL_CASES) {
        let Some(known) = c.known else { continue };
        let text = if c.decls.is_empty() { c.f.to_string() } else { format!("{}; {}", c.decls, c.f) };
        let ds = if c.family == Jacobians { jacobian(&text, &[c.wrt]) } else { grad(&text, &[c.wrt]) };
        let Ok(ds) = ds else { continue };
        let result = &ds[0].answer.expr;
        let known_expr = read(&format!("{text}; {known}")).ok().and_then(|m| m.exprs.last().cloned());
        // Where the known form is not classic either (the three-way δ of diag(x)'s
        // Jacobian), no classic form exists among the operators, and none is asked for.
        let classic_exists = known_expr.as_ref().is_none_or(bracket::is_classic);
        let known_ops = known_expr.as_ref().map(bracket::operations).unwrap_or_else(|| {
            // A lone `I` or `1` needs the shape that `+ 0 X` gives; count without it.
            let m = read(&format!("{text}; ({known}) + 0 {}", c.wrt)).expect("the known form reads");
            bracket::operations(m.exprs.last().expect("an expression")) - 2
        });
        let ops = bracket::operations(result);
        total += 1;
        let is_classic = bracket::is_classic(result);
        classic += usize::from(is_classic);
        smaller += usize::from(ops < known_ops);
        let unicode = ds[0].answer.render(Format::Unicode);
        rows.push(format!("{:48} {:>3} {:>3}  {unicode}", format!("[{}] {}", c.source, c.f), ops, known_ops));
        if (!is_classic && classic_exists) || ops > known_ops {
            failures
                .push(format!("[{}] {}: {unicode} ({ops} operations) vs known {known} ({known_ops})", c.source, c.f));
        }
    }
    println!("{:48} ops known  result\n{}", "case", rows.join("\n"));
    println!("{classic} of {total} classic; {smaller} smaller than the known form");
    println!("not classic or larger than the known form:\n{}", failures.join("\n"));
    let larger = failures.len();
    assert!(classic >= LEAST_CLASSIC, "only {classic} of {total} classic (was {LEAST_CLASSIC})");
    assert!(larger <= MOST_LARGER, "{larger} of {total} cases larger or not classic (was {MOST_LARGER})");
}

/// Every case as a generated Python module (a Jacobian's returns the Jacobian) (`bracket::codegen` with its check):
/// each passes `python3 -m py_compile` and `ruff check`, and `check_gradient()` compares its gradients
/// with finite differences of its own value on random data. Needs python3 with numpy.
#[test]
fn generated_modules_check_their_gradients() {
    if !common::has_numpy() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("bracket-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let options = bracket::CodegenOptions { with_check: true, ..Default::default() };
    let mut names = Vec::new();
    let mut failures = Vec::new();
    for (k, c) in CASES.iter().chain(MODEL_CASES).enumerate() {
        let text = if c.decls.is_empty() { c.f.to_string() } else { format!("{}; {}", c.decls, c.f) };
        // Declared element-wise functions are the caller's to supply.
        if text.contains("elementwise") {
            continue;
        }
        match bracket::codegen(&text, &[c.wrt.to_string()], &options) {
            Ok(code) => {
                let name = format!("case_{k}");
                std::fs::write(dir.join(format!("{name}.py")), code).unwrap();
                names.push((name, format!("[{}] {} by {}", c.source, c.f, c.wrt)));
            }
            Err(e) => failures.push(format!("[{}] {} by {}: {}", c.source, c.f, c.wrt, e.message)),
        }
    }
    let script = r#"
import importlib, json, py_compile, sys, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
out = {}
for name in json.loads(sys.argv[2]):
    try:
        py_compile.compile(f"{sys.argv[1]}/{name}.py", doraise=True)
        importlib.import_module(name).check_gradient()
        out[name] = "ok"
    except Exception as e:
        out[name] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
"#;
    let list: Vec<&String> = names.iter().map(|(n, _)| n).collect();
    let run = std::process::Command::new("python3")
        .args(["-c", script, dir.to_str().unwrap(), &serde_json::to_string(&list).unwrap()])
        .output()
        .unwrap();
    let results: serde_json::Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|_| panic!("python printed no JSON: {}", String::from_utf8_lossy(&run.stderr)));
    for (name, what) in &names {
        if results[name] != "ok" {
            failures.push(format!("{what}: {}", results[name]));
        }
    }
    let ruff = std::process::Command::new("python3")
        .args(["-m", "ruff", "check", "--quiet", "--no-cache", dir.to_str().unwrap()])
        .output()
        .unwrap();
    if !std::process::Command::new("python3")
        .args(["-m", "ruff", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(std::env::var("CI").is_err(), "CI must provide ruff (scripts/setup.sh installs it)");
    } else if !ruff.status.success() {
        failures.push(format!("ruff check:\n{}", String::from_utf8_lossy(&ruff.stdout)));
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{} modules generated and checked", names.len());
    assert!(names.len() >= 60, "only {} modules", names.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
