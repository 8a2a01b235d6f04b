//! Identities told by numbers, where the form alone does not show them.

use crate::eval::{eval, random_env, Domain, Draw};
use crate::ir::expr::Expr;
use crate::read::elaborate::Model;

/// True when the square matrix `e` equals its transpose wherever the model's symmetric
/// matrices are symmetric: `S⁻¹(x − m)(S⁻¹(x − m))ᵀ`, whose form reads differently
/// transposed. Decided in floating point at two random points (sizes 3 to 5, symmetric
/// matrices positive definite), to a relative 10⁻¹⁰: where `e − eᵀ` is not zero as a
/// function, its value at a random point is of the size of `e`'s, not a rounding error.
/// (Exact rationals would settle it too, at 50 times the cost: an inverse's entries
/// grow long.) False means "not shown", never "asymmetric": wherever `e` cannot be
/// evaluated, or a value is not finite.
pub fn symmetric_everywhere(model: &Model, e: &Expr) -> bool {
    if e.order() != 2 || e.shape[0] != e.shape[1] {
        return false;
    }
    let t = crate::ir::build::transpose(e.clone());
    [3, 4].into_iter().all(|seed| {
        let draw = Draw { seed, min_size: 3, max_size: 5, domain: Domain::Positive };
        let Ok(env) = random_env::<f64>(model, draw) else { return false };
        let (Ok(a), Ok(b)) = (eval(e, &env), eval(&t, &env)) else { return false };
        let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        a.iter().zip(b.iter()).all(|(x, y)| x.is_finite() && y.is_finite() && (x - y).abs() <= 1e-10 * scale)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_and_expr(text: &str) -> (Model, Expr) {
        let model = crate::read(text).expect("reads");
        let e = model.exprs.last().expect("an expression").clone();
        (model, e)
    }

    #[test]
    fn a_form_that_reads_differently_transposed() {
        let (model, e) = model_and_expr("S: symmetric(n); x, m: vector(n); S^-1 (x - m) (S^-1 (x - m))^T");
        assert!(symmetric_everywhere(&model, &e));
        let (model, e) = model_and_expr("S: symmetric(n); x, m: vector(n); exp(x^T x) S^-1 x x^T S^-1 + ln(det(S)) I");
        assert!(symmetric_everywhere(&model, &e));
    }

    #[test]
    fn asymmetric_forms_are_not_taken_for_symmetric() {
        let (model, e) = model_and_expr("S: symmetric(n); x, m: vector(n); S^-1 x m^T S^-1");
        assert!(!symmetric_everywhere(&model, &e));
        let (model, e) = model_and_expr("S: symmetric(n); x: vector(n); exp(x^T x) S^-1 x 1^T");
        assert!(!symmetric_everywhere(&model, &e));
        let (model, e) = model_and_expr("A: matrix(n, n); A + A^T A");
        assert!(!symmetric_everywhere(&model, &e));
    }
}
