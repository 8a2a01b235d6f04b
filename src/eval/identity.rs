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
    at_two_points(model, |env| {
        let (Ok(a), Ok(b)) = (eval(e, env), eval(&t, env)) else { return false };
        let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        a.iter().zip(b.iter()).all(|(x, y)| x.is_finite() && y.is_finite() && (x - y).abs() <= 1e-10 * scale)
    })
}

/// True when the scalars `a` and `b` are equal, or opposite, at two random points, to a
/// relative 10⁻¹⁰ (as [`symmetric_everywhere`] decides): `W · BW` and `tr(WᵀBW)`, two
/// spellings of one condition. False where either cannot be evaluated or is zero there.
pub fn equal_up_to_sign(model: &Model, a: &Expr, b: &Expr) -> bool {
    if !a.is_scalar() || !b.is_scalar() {
        return false;
    }
    at_two_points(model, |env| {
        let (Ok(x), Ok(y)) = (eval(a, env), eval(b, env)) else { return false };
        let (Some(&x), Some(&y)) = (x.iter().next(), y.iter().next()) else { return false };
        let scale = x.abs().max(y.abs());
        x.is_finite() && y.is_finite() && scale > 0.0 && (x.abs() - y.abs()).abs() <= 1e-10 * scale
    })
}

/// Whether `holds` at two random points (sizes 3 to 5, symmetric matrices positive
/// definite); false where the model cannot be drawn.
fn at_two_points(model: &Model, holds: impl Fn(&crate::eval::Env<f64>) -> bool) -> bool {
    [3, 4].into_iter().all(|seed| {
        let draw = Draw { seed, min_size: 3, max_size: 5, domain: Domain::Positive };
        random_env::<f64>(model, draw).is_ok_and(|env| holds(&env))
    })
}

/// For each of `es`, whether it is zero at random points: every entry exactly `0` at
/// two draws, one of any sign and one of mixed signs (sizes 2 to 4). True is a hint, to
/// be shown by the rules (`xᵀx − xᵀx` is zero, and so is `relu(x)` at some points); false
/// is certain where `e` evaluates: a nonzero entry shows `e` is not zero everywhere. Where
/// `e` cannot be evaluated at all, true: the rules decide.
pub fn zero_at_random_points(model: &Model, es: &[&Expr]) -> Vec<bool> {
    let mut zero = vec![true; es.len()];
    for (seed, domain) in [(11, Domain::Any), (12, Domain::Mixed)] {
        let draw = Draw { seed, min_size: 2, max_size: 4, domain };
        let Ok(env) = random_env::<f64>(model, draw) else { continue };
        for (z, e) in zero.iter_mut().zip(es) {
            if *z {
                *z = eval(e, &env).map_or(true, |a| a.iter().all(|v| *v == 0.0));
            }
        }
    }
    zero
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
    fn a_zero_at_random_points_is_a_hint_and_a_nonzero_value_is_certain() {
        let (model, _) = model_and_expr("x: vector(n); X: matrix(n, n); a: scalar; x");
        let read =
            |t: &str| crate::read(&format!("x: vector(n); X: matrix(n, n); a: scalar; {t}")).unwrap().exprs[0].clone();
        let es = [read("x^T x - x^T x"), read("X - X"), read("x^T x"), read("a - a^2/a"), read("x - x .* 1")];
        let refs: Vec<&Expr> = es.iter().collect();
        assert_eq!(zero_at_random_points(&model, &refs), [true, true, false, true, true]);
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
