//! Numeric checks of derivatives: five-point central differences at random points.
//!
//! Takes the function, the variable and the claimed gradient or Jacobian G (with
//! `df = G ·_k dX`, k = order of X) and gives the largest relative error over a few
//! random points and directions. Definitions are re-evaluated at every perturbed point.

use crate::elaborate::Model;
use crate::error::{Error, ErrorCode, Result};
use crate::eval::{eval, random_array, random_env, Draw, Env};
use crate::expr::Expr;
use ndarray::ArrayD;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Step of the five-point central differences (error of order STEP⁴).
const STEP: f64 = 1e-4;

fn value_at(model: &Model, env: &Env<f64>, f: &Expr) -> Result<ArrayD<f64>> {
    let mut env = env.clone();
    for (name, e) in &model.definitions {
        let v = eval(e, &env)?;
        env.values.insert(name.clone(), v);
    }
    eval(f, &env)
}

/// The largest relative error, over `points` random points, between the directional
/// derivative by finite differences and `G ·_k V`. A point where the differences
/// themselves are unreliable (steps h and h/2 disagree, as near a singular matrix) is
/// replaced by another; if no reliable point is found among three times as many, the
/// result is NaN (unchecked), never a pass. A variable declared symmetric moves in
/// symmetric directions only. The random values satisfy declared facts `Y 1 = 1` (see
/// [`random_env`]) but no other kind. Dims are 2 to 4 long, and all 2 when the Jacobian
/// has eight or more dims (4¹⁵ entries would not fit).
pub fn check_derivative(model: &Model, f: &Expr, var: &str, g: &Expr, points: u64) -> Result<f64> {
    let mut worst: f64 = 0.0;
    let mut reliable = 0;
    let var_order = model.names.get(var).map_or(0, |i| i.shape.len());
    let max_size = if f.order() + var_order >= 8 { 2 } else { 4 };
    for seed in 1..=3 * points {
        if reliable == points {
            break;
        }
        let draw = Draw { seed: 1000 + seed, min_size: 2, max_size };
        let env: Env<f64> = random_env(model, draw)?;
        let x = env
            .values
            .get(var)
            .cloned()
            .ok_or_else(|| Error::bare(ErrorCode::Eval, format!("`{var}` has no value to differentiate at")))?;
        let mut rng = ChaCha8Rng::seed_from_u64(7 + seed);
        let mut v: ArrayD<f64> = random_array(&mut rng, x.shape());
        // A symmetric matrix moves only in symmetric directions, where its gradient
        // (the sym(G) convention) is checked.
        if model.names.get(var).is_some_and(|i| i.symmetric) && v.ndim() == 2 {
            let t = v.t().to_owned();
            v = (&v + &t) * 0.5;
        }
        let stencil = |h: f64| -> Result<Vec<f64>> {
            let at = |k: f64| -> Result<ArrayD<f64>> {
                let mut moved = env.clone();
                moved.values.insert(var.to_string(), &x + &(&v * (k * h)));
                value_at(model, &moved, f)
            };
            let fd = (at(-2.0)? - at(2.0)? + (at(1.0)? - at(-1.0)?) * 8.0) / (12.0 * h);
            Ok(fd.iter().copied().collect())
        };
        let (coarse, numeric) = (stencil(STEP)?, stencil(STEP / 2.0)?);
        let mut at = env.clone();
        for (name, e) in &model.definitions {
            let val = eval(e, &at)?;
            at.values.insert(name.clone(), val);
        }
        let gv = eval(g, &at)?;
        // Contract G's last k dims (X's) with V.
        let k = v.ndim();
        let lead: usize = gv.shape()[..gv.ndim() - k].iter().product();
        let inner = v.len();
        let gflat: Vec<f64> = gv.iter().copied().collect();
        let vflat: Vec<f64> = v.iter().copied().collect();
        let analytic: Vec<f64> = (0..lead).map(|r| (0..inner).map(|c| gflat[r * inner + c] * vflat[c]).sum()).collect();
        if numeric.len() != analytic.len() {
            return Err(Error::bare(ErrorCode::Eval, "internal: the derivative has the wrong number of entries"));
        }
        let norm = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
        let length = |a: &[f64]| a.iter().map(|x| x * x).sum::<f64>().sqrt();
        // Relative, except near zero: a derivative far smaller than the function is
        // compared with the function's size, since that is the size of the noise.
        let f_size = value_at(model, &env, f)?.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let scale = length(&numeric).max(length(&analytic)).max(1e-3 * f_size);
        let uncertainty = norm(&coarse, &numeric) / scale;
        if uncertainty.is_nan() || uncertainty > 1e-8 {
            continue;
        }
        let rel = norm(&numeric, &analytic) / scale;
        if rel.is_nan() {
            return Ok(f64::NAN);
        }
        worst = worst.max(rel);
        reliable += 1;
    }
    if reliable == 0 {
        return Ok(f64::NAN);
    }
    Ok(worst)
}
