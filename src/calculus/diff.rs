//! The d operator: typed expression to its differential, linear in the `dX` of the
//! chosen variables.
//!
//! Takes an [`Expr`] (with the [`Model`] for definitions) and gives `d(e)` as an
//! [`Expr`] of the same shape, or `None` when it is zero. Rules: linearity, the product
//! rule for every bilinear operator, the chain rule by substitution (definitions
//! `h = …` are differentiated through), `f'(X) ⊙ dX` for element-wise functions,
//! `d(X⁻¹) = −X⁻¹dXX⁻¹`, `d|X| = |X| X⁻ᵀ · dX`, the generalized gradient of softmax
//! (tutorial eq. 32), and for bracket terms the occurrence rule of §4.2.

use crate::error::{Error, ErrorCode, Result};
use crate::ir::build::{hadamard, product, scale, transpose};
use crate::ir::expr::*;
use crate::ir::shape::Shape;
use crate::read::elaborate::Model;
use indexmap::IndexSet;
use num_rational::BigRational;
use num_traits::{One, Zero};

/// The differential of `e` in the variables `vars`; `None` is zero.
pub fn differential(e: &Expr, model: &Model, vars: &IndexSet<String>) -> Result<Option<Expr>> {
    let mut d = Differ { model, vars, depth: 0, through_definitions: true };
    d.d(e)
}

/// As [`differential`], but a defined name `h` is a variable of its own (`dh`), not
/// differentiated through: one local step of backpropagation.
pub fn local_differential(e: &Expr, model: &Model, vars: &IndexSet<String>) -> Result<Option<Expr>> {
    let mut d = Differ { model, vars, depth: 0, through_definitions: false };
    d.d(e)
}

/// How deep the rules may recurse, through expressions and the definitions they name:
/// a chain `h_k = tanh(h_{k−1})` takes two levels a definition.
const MAX_DEPTH: usize = 512;

struct Differ<'a> {
    model: &'a Model,
    vars: &'a IndexSet<String>,
    depth: usize,
    through_definitions: bool,
}

fn b(e: Expr) -> Box<Expr> {
    Box::new(e)
}

fn int(n: i64) -> BigRational {
    BigRational::from_integer(n.into())
}

/// `a + b` with either side possibly zero.
fn plus(a: Option<Expr>, b: Option<Expr>) -> Option<Expr> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => {
            let shape = a.shape.clone();
            let mut terms = match a.kind {
                Kind::Add(t) => t,
                kind => vec![Expr::new(kind, shape.clone())],
            };
            match b.kind {
                Kind::Add(t) => terms.extend(t),
                kind => terms.push(Expr::new(kind, b.shape)),
            }
            Some(Expr::new(Kind::Add(terms), shape))
        }
    }
}

/// `X⁻ᵀ · dX`, the differential of ln|X|.
fn log_det_differential(x: &Expr, dx: Expr) -> Expr {
    let inv_t = transpose(Expr::new(Kind::Inverse(Box::new(x.clone())), x.shape.clone()));
    Expr::new(Kind::Dot(b(inv_t), b(dx)), vec![])
}

fn with_child(e: &Expr, child: Expr) -> Expr {
    let kind = match &e.kind {
        Kind::Transpose(_) => return transpose(child),
        Kind::Trace(_) => Kind::Trace(b(child)),
        Kind::Diag(_) => Kind::Diag(b(child)),
        Kind::Sum(_) => Kind::Sum(b(child)),
        Kind::Permute(_, p) => Kind::Permute(b(child), p.clone()),
        _ => unreachable!("with_child on a linear unary node"),
    };
    Expr::new(kind, e.shape.clone())
}

impl Differ<'_> {
    fn d(&mut self, e: &Expr) -> Result<Option<Expr>> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::bare(ErrorCode::Limit, "definitions refer to each other too deeply to differentiate")
                .hint(format!(
                    "about {} definitions in a chain can be differentiated through; a program that ends with \
                     `grad J wrt x` takes one definition at a time (backpropagation)",
                    MAX_DEPTH / 2
                )));
        }
        let out = self.rule(e);
        self.depth -= 1;
        out
    }

    fn rule(&mut self, e: &Expr) -> Result<Option<Expr>> {
        let shape = e.shape.clone();
        Ok(match &e.kind {
            Kind::Var(n) => {
                if let Some((_, def)) = self.model.definitions.iter().find(|(m, _)| m == n) {
                    if self.through_definitions {
                        // Past the limit, the error points at the deepest definition.
                        return self.d(def).map_err(|err| match self.model.definition_span(n) {
                            Some(span) => err.or_span(span),
                            None => err,
                        });
                    }
                }
                self.vars.contains(n).then(|| Expr::new(Kind::Diff(n.clone()), shape))
            }
            Kind::Diff(_) | Kind::Const(_) | Kind::Ones | Kind::Identity => None,
            Kind::DiffOf(_) => {
                return Err(Error::bare(ErrorCode::Unsupported, "a second differential d(d(…)) is not supported"))
            }
            Kind::Add(terms) => {
                let mut acc = None;
                for t in terms {
                    acc = plus(acc, self.d(t)?);
                }
                acc
            }
            Kind::Scale(c, x) => self.d(x)?.map(|dx| scale(c.clone(), dx)),
            Kind::Product(x, y) => self.product_rule(x, y, product)?,
            Kind::DivScalar(x, s) => {
                let left = self.d(x)?.map(|dx| Expr::new(Kind::DivScalar(b(dx), s.clone()), shape.clone()));
                let right = self.d(s)?.map(|ds| {
                    let s2 = squared(s);
                    let num = product((**x).clone(), ds);
                    scale(-BigRational::one(), Expr::new(Kind::DivScalar(b(num), b(s2)), shape.clone()))
                });
                plus(left, right)
            }
            Kind::Transpose(x) | Kind::Trace(x) | Kind::Diag(x) | Kind::Sum(x) | Kind::Permute(x, _) => {
                self.d(x)?.map(|dx| with_child(e, dx))
            }
            Kind::Inverse(x) => self.d(x)?.map(|dx| {
                if x.is_scalar() {
                    // d(1/s) = −ds / s²
                    let s2 = squared(x);
                    scale(-BigRational::one(), Expr::new(Kind::DivScalar(b(dx), b(s2)), vec![]))
                } else {
                    scale(-BigRational::one(), product(product(e.clone(), dx), e.clone()))
                }
            }),
            // d||x||² = 2 x · dx, without the square root.
            Kind::Power(x, k) if *k == int(2) && matches!(x.kind, Kind::Norm(_)) => {
                let Kind::Norm(inner) = &x.kind else { unreachable!() };
                self.d(inner)?.map(|di| scale(int(2), Expr::new(Kind::Dot(inner.clone(), b(di)), vec![])))
            }
            Kind::Power(x, k) => match self.d(x)? {
                None => None,
                Some(dx) if x.is_scalar() => {
                    let k1 = k - BigRational::one();
                    let factor = if k1.is_zero() {
                        Expr::new(Kind::Const(k.clone()), vec![])
                    } else {
                        scale(k.clone(), Expr::new(Kind::Power(x.clone(), k1), vec![]))
                    };
                    Some(product(factor, dx))
                }
                Some(dx) => Some(self.matrix_power(x, k, dx)),
            },
            Kind::HPower(x, p) => self.d(x)?.map(|dx| {
                let p1 = p - BigRational::one();
                if p1.is_zero() {
                    scale(p.clone(), dx)
                } else if p1.is_one() {
                    // d(x.^2) = 2x ⊙ dx: a first power is the tensor itself.
                    hadamard(scale(p.clone(), (**x).clone()), dx)
                } else {
                    let f = scale(p.clone(), Expr::new(Kind::HPower(x.clone(), p1), x.shape.clone()));
                    hadamard(f, dx)
                }
            }),
            Kind::Hadamard(x, y) => self.product_rule(x, y, hadamard)?,
            Kind::HDiv(x, y) => {
                let left = self.d(x)?.map(|dx| Expr::new(Kind::HDiv(b(dx), y.clone()), shape.clone()));
                let right = self.d(y)?.map(|dy| {
                    let num = hadamard((**x).clone(), dy);
                    let den = hadamard((**y).clone(), (**y).clone());
                    scale(-BigRational::one(), Expr::new(Kind::HDiv(b(num), b(den)), shape.clone()))
                });
                plus(left, right)
            }
            Kind::Kron(x, y) | Kind::Dot(x, y) | Kind::Gen { lhs: x, rhs: y, .. } => {
                let rebuild = |l: Expr, r: Expr| {
                    let kind = match &e.kind {
                        Kind::Kron(..) => Kind::Kron(b(l), b(r)),
                        Kind::Dot(..) => Kind::Dot(b(l), b(r)),
                        Kind::Gen { left, right, dot, form, .. } => Kind::Gen {
                            lhs: b(l),
                            rhs: b(r),
                            left: left.clone(),
                            right: right.clone(),
                            dot: *dot,
                            form: *form,
                        },
                        _ => unreachable!(),
                    };
                    Expr::new(kind, shape.clone())
                };
                let left = self.d(x)?.map(|dx| rebuild(dx, (**y).clone()));
                let right = self.d(y)?.map(|dy| rebuild((**x).clone(), dy));
                plus(left, right)
            }
            // d|X| = |X| X⁻ᵀ · dX
            Kind::Det(x) => self.d(x)?.map(|dx| product(e.clone(), log_det_differential(x, dx))),
            Kind::Norm(x) => self.d(x)?.map(|dx| {
                let dot = Expr::new(Kind::Dot(x.clone(), b(dx)), vec![]);
                Expr::new(Kind::DivScalar(b(dot), b(e.clone())), vec![])
            }),
            // relu', abs' (the sign) and sign are piecewise constant: their differential is
            // zero wherever they are differentiable, as the first derivative already
            // assumes of relu and abs (and as `relu''` evaluates). Dropping the term keeps
            // `∇_H J ⊙ relu''(Z) ⊙ dZ` out of a Hessian-vector product.
            Kind::Func { func: Func::Relu | Func::Abs, derivative: 1.., .. } | Kind::Func { func: Func::Sign, .. } => {
                None
            }
            // d ln|X| = X⁻ᵀ · dX: the chain rule's ln'(|X|) |X| is 1, which the rules would
            // otherwise have to find in every starting form.
            Kind::Func { func: Func::Ln, derivative: 0, arg } if matches!(arg.kind, Kind::Det(_)) => {
                let Kind::Det(x) = &arg.kind else { unreachable!() };
                self.d(x)?.map(|dx| log_det_differential(x, dx))
            }
            Kind::Func { func, derivative, arg } => self.d(arg)?.map(|da| {
                // exp is its own derivative: `exp(z) ⊙ dz`, never `exp'(z)`; sin's is cos,
                // and cos's −sin.
                let (func, next, negated) = match (func, *derivative) {
                    (Func::Exp, d) => (Func::Exp, d, false),
                    (Func::Sin, 0) => (Func::Cos, 0, false),
                    (Func::Cos, 0) => (Func::Sin, 0, true),
                    (f, d) => (f.clone(), d + 1, false),
                };
                let f1 = Expr::new(Kind::Func { func, derivative: next, arg: arg.clone() }, arg.shape.clone());
                let f1 = if negated { crate::ir::build::scale(-BigRational::one(), f1) } else { f1 };
                hadamard(f1, da)
            }),
            Kind::Softmax { positions, arg } => self.d(arg)?.map(|da| softmax_differential(e, positions, arg, da)),
            Kind::Network(net) => {
                // §4.2: the sum over occurrences, each replaced by its differential.
                let mut acc = None;
                for k in 0..net.factors.len() {
                    if let Some(df) = self.d(&net.factors[k].expr)? {
                        let mut n = (**net).clone();
                        n.factors[k].expr = df;
                        n.origin = Origin::Bracket;
                        acc = plus(acc, Some(Expr::new(Kind::Network(Box::new(n)), shape.clone())));
                    }
                }
                acc
            }
        })
    }

    /// `d(x ∘ y) = dx ∘ y + x ∘ dy` for a bilinear `∘`.
    fn product_rule(&mut self, x: &Expr, y: &Expr, op: impl Fn(Expr, Expr) -> Expr) -> Result<Option<Expr>> {
        let left = self.d(x)?.map(|dx| op(dx, y.clone()));
        let right = self.d(y)?.map(|dy| op(x.clone(), dy));
        Ok(plus(left, right))
    }

    /// `d(X^k) = Σ X^i dX X^(k−1−i)`; negative k through `X⁻¹`.
    fn matrix_power(&self, x: &Expr, k: &BigRational, dx: Expr) -> Expr {
        let n: i64 = k.to_integer().try_into().unwrap_or(0);
        let (base, dbase) = if n < 0 {
            let inv = Expr::new(Kind::Inverse(b(x.clone())), x.shape.clone());
            let d_inv = scale(-BigRational::one(), product(product(inv.clone(), dx), inv.clone()));
            (inv, d_inv)
        } else {
            (x.clone(), dx)
        };
        let m = n.unsigned_abs() as i64;
        let pow = |p: i64| -> Option<Expr> {
            match p {
                0 => None,
                1 => Some(base.clone()),
                p => Some(Expr::new(Kind::Power(b(base.clone()), int(p)), base.shape.clone())),
            }
        };
        let mut acc = None;
        for i in 0..m {
            let mut term = dbase.clone();
            if let Some(l) = pow(i) {
                term = product(l, term);
            }
            if let Some(r) = pow(m - 1 - i) {
                term = product(term, r);
            }
            acc = plus(acc, Some(term));
        }
        acc.unwrap_or_else(|| scale(BigRational::zero(), dbase))
    }
}

/// Eq. 32 for softmax: with `Z = s^P(A)` and `dA'` the differential moved to Z's dim
/// order, `dZ = Z ⊙ dA' − Z ⊙ (Σ_S (Z ⊙ dA') ⊗ 1_S)`, S the dims softmax acts on. For a
/// vector this is `(diag(s) − ssᵀ) da`.
fn softmax_differential(z: &Expr, positions: &[usize], arg: &Expr, da: Expr) -> Expr {
    let n = arg.order();
    let mut perm: Vec<usize> = positions.iter().map(|p| p - 1).collect();
    perm.extend((0..n).filter(|k| !positions.contains(&(k + 1))));
    let moved = if perm.iter().enumerate().all(|(k, &p)| k == p) {
        da
    } else {
        let shape = perm.iter().map(|&p| da.shape[p].clone()).collect();
        Expr::new(Kind::Permute(b(da), perm), shape)
    };
    let t = hadamard(z.clone(), moved.clone());
    let kept = positions.len();
    let s_shape: Shape = z.shape[kept..].to_vec();
    // Σ over the softmax dims: a one-factor network whose output keeps P's dims.
    let sum = Network {
        factors: vec![Factor { expr: t.clone(), slots: (0..n).collect() }],
        indices: z.shape.clone(),
        output: (0..kept).collect(),
        origin: Origin::Bracket,
    };
    let r = Expr::new(Kind::Network(Box::new(sum)), z.shape[..kept].to_vec());
    let ones = Expr::new(Kind::Ones, s_shape);
    let spread = Expr::new(Kind::Kron(b(r), b(ones)), z.shape.clone());
    plus(Some(t), Some(scale(-BigRational::one(), hadamard(z.clone(), spread)))).expect("two terms")
}

/// `s²` for a scalar, with `(bᵏ)² = b²ᵏ` for an integer k, so that quotient rules do not
/// nest powers (`1/(xᵀx)²` by x divides by `(xᵀx)⁴`, not `((xᵀx)²)²`).
fn squared(s: &Expr) -> Expr {
    match &s.kind {
        Kind::Power(base, k) if k.is_integer() => Expr::new(Kind::Power(base.clone(), k * int(2)), vec![]),
        _ => Expr::new(Kind::Power(Box::new(s.clone()), int(2)), vec![]),
    }
}
