//! Matrix products, inverses and determinants, with the limits on their work.

use super::Number;
use crate::error::{Error, ErrorCode, Result};
use crate::limits;
use ndarray::{ArrayD, IxDyn};

/// Most multiply-adds of one product, inverse or determinant in exact numbers; past it,
/// an evaluation is in floating point (exact entries grow: an exact inverse of a 64 × 64
/// matrix took 6 s, a determinant of 300 × 300 ran until the timeout).
const MAX_EXACT_WORK: u128 = 1 << 15;

/// An error past the work limits: in exact numbers, one that sends the evaluation to
/// floating point; in any, past `MAX_EVAL_WORK`, the end of it.
pub(super) fn within_work<T: Number>(work: u128, what: &str) -> Result<()> {
    if work > limits::MAX_EVAL_WORK {
        return Err(Error::bare(ErrorCode::Limit, format!("this {what} is too large to evaluate")));
    }
    if T::EXACT && work > MAX_EXACT_WORK {
        return Err(Error::bare(ErrorCode::Eval, format!("this {what} is too large to evaluate exactly")));
    }
    Ok(())
}

pub(super) fn matmul<T: Number>(a: &ArrayD<T>, b: &ArrayD<T>) -> Result<ArrayD<T>> {
    let (n, k, m) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    if b.shape()[0] != k {
        return Err(Error::bare(ErrorCode::Eval, "internal: matrix sizes differ"));
    }
    within_work::<T>(n as u128 * k as u128 * m as u128, "product")?;
    Ok(ArrayD::from_shape_fn(IxDyn(&[n, m]), |i| {
        (0..k).fold(T::zero(), |acc, j| acc + a[[i[0], j].as_slice()].clone() * b[[j, i[1]].as_slice()].clone())
    }))
}

/// Gauss-Jordan elimination; largest pivot by magnitude.
pub(super) fn inverse<T: Number>(a: &ArrayD<T>) -> Result<ArrayD<T>> {
    let n = a.shape()[0];
    within_work::<T>((n as u128).pow(3), "inverse")?;
    let mut m: Vec<Vec<T>> = (0..n)
        .map(|i| {
            let mut row: Vec<T> = (0..n).map(|j| a[[i, j].as_slice()].clone()).collect();
            row.extend((0..n).map(|j| if i == j { T::one() } else { T::zero() }));
            row
        })
        .collect();
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.approx().abs()));
    for col in 0..n {
        let pivot = (col..n)
            .filter(|&r| !m[r][col].negligible(scale))
            .max_by(|&x, &y| m[x][col].approx().abs().total_cmp(&m[y][col].approx().abs()))
            .ok_or_else(|| Error::bare(ErrorCode::Eval, "the matrix is singular"))?;
        m.swap(col, pivot);
        let p = m[col][col].clone();
        for v in m[col].iter_mut() {
            *v = v.divide(&p).ok_or_else(|| Error::bare(ErrorCode::Eval, "the matrix is singular"))?;
        }
        for r in 0..n {
            if r != col && !m[r][col].is_zero() {
                let factor = m[r][col].clone();
                for c in 0..2 * n {
                    let sub = factor.clone() * m[col][c].clone();
                    m[r][c] = m[r][c].clone() - sub;
                }
            }
        }
    }
    Ok(ArrayD::from_shape_fn(IxDyn(&[n, n]), |i| m[i[0]][n + i[1]].clone()))
}

pub(super) fn determinant<T: Number>(a: &ArrayD<T>) -> Result<T> {
    let n = a.shape()[0];
    within_work::<T>((n as u128).pow(3), "determinant")?;
    let mut m: Vec<Vec<T>> = (0..n).map(|i| (0..n).map(|j| a[[i, j].as_slice()].clone()).collect()).collect();
    let mut det = T::one();
    for col in 0..n {
        let Some(pivot) = (col..n)
            .filter(|&r| !m[r][col].is_zero())
            .max_by(|&x, &y| m[x][col].approx().abs().total_cmp(&m[y][col].approx().abs()))
        else {
            return Ok(T::zero());
        };
        if pivot != col {
            m.swap(col, pivot);
            det = -det;
        }
        let p = m[col][col].clone();
        det = det * p.clone();
        for r in col + 1..n {
            let Some(factor) = m[r][col].divide(&p) else { return Ok(T::zero()) };
            for c in col..n {
                let sub = factor.clone() * m[col][c].clone();
                m[r][c] = m[r][c].clone() - sub;
            }
        }
    }
    Ok(det)
}
