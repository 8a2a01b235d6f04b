//! Logarithms of sums of exponentials in floating point, taken in log space where the
//! plain value overflows or underflows: `ln(sum(exp(z)))` at z = (1000, 1000) is
//! 1000 + ln 2, not ln(∞). The same holds for the row-wise `ln(exp(Z)1)`, for softplus
//! written out as `ln(1 + exp(z))`, and for `ln(σ(z))`. This is what generated NumPy code
//! does (`logsumexp`, `np.logaddexp`), so `eval` and `--check` agree with it.
//!
//! Each entry's logarithm is computed from the logarithms of the operands: a sum is a
//! log-sum-exp of its terms' logarithms, a product adds them, a matrix product is a
//! log-sum-exp over the summed index. Any other operand is evaluated as usual and must
//! have positive entries, or the form is not taken.

use super::{as_matrix, eval, Env, Number};
use crate::ir::expr::*;
use ndarray::{ArrayD, IxDyn};
use num_traits::{Signed, ToPrimitive};

/// ln of each entry of `e`, or None where `e` is not a sum, product or exponential of
/// values whose logarithms can be taken.
pub(super) fn ln_of<T: Number>(e: &Expr, env: &Env<T>) -> Option<ArrayD<f64>> {
    let sizes = env.sizes_of(&e.shape).ok()?;
    let plain = |x: &Expr| eval(x, env).ok().map(|v| v.mapv(|t| t.approx()));
    let out = match &e.kind {
        Kind::Func { func: Func::Exp, derivative: 0, arg } => plain(arg)?,
        // ln σ(z) = −ln(1 + exp(−z)).
        Kind::Func { func: Func::Sigmoid, derivative: 0, arg } => plain(arg)?.mapv(|z| -logaddexp(0.0, -z)),
        Kind::Ones => ArrayD::zeros(IxDyn(&sizes)),
        Kind::Const(c) if c.is_positive() => ArrayD::from_elem(IxDyn(&[]), c.to_f64()?.ln()),
        Kind::Scale(c, x) if c.is_positive() => {
            let c = c.to_f64()?.ln();
            ln_of(x, env)?.mapv(|v| v + c)
        }
        Kind::Add(terms) => {
            let mut acc = ln_of(&terms[0], env)?;
            for t in &terms[1..] {
                let l = ln_of(t, env)?;
                let l = l.broadcast(acc.shape())?.to_owned();
                acc.zip_mut_with(&l, |a, b| *a = logaddexp(*a, *b));
            }
            acc
        }
        Kind::Sum(a) => ArrayD::from_elem(IxDyn(&[]), logsumexp(ln_of(a, env)?.iter().copied())),
        Kind::Hadamard(a, b) => ln_of(a, env)? + ln_of(b, env)?,
        Kind::Product(a, b) if a.is_scalar() || b.is_scalar() => {
            let (la, lb) = (ln_of(a, env)?, ln_of(b, env)?);
            let (s, t) = if a.is_scalar() { (la, lb) } else { (lb, la) };
            let s = *s.iter().next()?;
            t.mapv(|v| v + s)
        }
        Kind::Product(a, b) => {
            let (la, lb) = (as_matrix(ln_of(a, env)?), as_matrix(ln_of(b, env)?));
            let ([m, k], [k2, n]) = (la.shape(), lb.shape()) else { return None };
            let (m, k, n) = (*m, *k, *n);
            if *k2 != k {
                return None;
            }
            ArrayD::from_shape_fn(IxDyn(&[m, n]), |i| {
                logsumexp((0..k).map(|j| la[[i[0], j].as_slice()] + lb[[j, i[1]].as_slice()]))
            })
        }
        Kind::Transpose(a) => {
            let l = ln_of(a, env)?;
            match l.ndim() {
                2 => l.reversed_axes().as_standard_layout().to_owned(),
                _ => l,
            }
        }
        _ => {
            let v = plain(e)?;
            if !v.iter().all(|x| *x > 0.0 && x.is_finite()) {
                return None;
            }
            v.mapv(f64::ln)
        }
    };
    // The layout the shape says (rows `[ι, n]` and the like), as `eval` gives it.
    let out = out.as_standard_layout().to_owned();
    match out.len() == sizes.iter().product::<usize>() {
        true => out.into_shape_with_order(IxDyn(&sizes)).ok(),
        false => None,
    }
}

/// ln(eᵃ + eᵇ).
fn logaddexp(a: f64, b: f64) -> f64 {
    logsumexp([a, b].into_iter())
}

/// ln Σ exp(xᵢ), with the greatest taken out.
fn logsumexp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}
