//! Values of the element-wise functions and of their derivatives of every order, in
//! floating point.

use super::declared;
use crate::ir::expr::Func;

/// The value at `x` of `f`'s derivative of order `derivative` (0: `f` itself).
pub(super) fn value(f: &Func, derivative: u8, x: f64) -> Option<f64> {
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let k = i32::from(derivative);
    Some(match (f, derivative) {
        (Func::Exp, _) => x.exp(),
        (Func::Ln, 0) => x.ln(),
        // (−1)^{k−1}(k − 1)!/x^k.
        (Func::Ln, _) => {
            let factorial: f64 = (1..k).map(f64::from).product();
            if k % 2 == 0 {
                -factorial / x.powi(k)
            } else {
                factorial / x.powi(k)
            }
        }
        // tanh' = 1 − tanh², σ' = σ(1 − σ): each derivative a polynomial in the value.
        (Func::Tanh | Func::Sigmoid, _) => {
            let t = if *f == Func::Tanh { x.tanh() } else { sig(x) };
            f.derivative_in_value(derivative)?.iter().rev().fold(0.0, |acc, c| acc * t + c)
        }
        // (1/2)(1/2 − 1)⋯(1/2 − k + 1) x^{1/2 − k}.
        (Func::Sqrt, _) => (0..k).map(|j| 0.5 - f64::from(j)).product::<f64>() * x.sqrt() / x.powi(k),
        (Func::Sin, d) => [x.sin(), x.cos(), -x.sin(), -x.cos()][d as usize % 4],
        (Func::Cos, d) => [x.cos(), -x.sin(), -x.cos(), x.sin()][d as usize % 4],
        (Func::Abs, 0) => x.abs(),
        (Func::Abs, 1) => x.signum(),
        (Func::Relu, 0) => x.max(0.0),
        (Func::Relu, 1) => f64::from(u8::from(x > 0.0)),
        (Func::Sign, 0) => {
            if x == 0.0 {
                0.0
            } else {
                x.signum()
            }
        }
        (Func::Abs | Func::Relu | Func::Sign, _) => 0.0,
        (Func::Declared(name), d) => return declared(name, d, &x),
    })
}
