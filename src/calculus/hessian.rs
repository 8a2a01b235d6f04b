//! Second derivatives. The Hessian block by X and Y is the Jacobian by Y of the gradient
//! by X, both through the whole gradient pipeline, so each is the simplest classic form
//! the e-graph finds. The Hessian-vector product `∇²f[V]` is the differential of the
//! gradient with dX replaced by the direction V: it has X's shape and never forms the
//! Hessian.

use crate::calculus::answer::Answer;
use crate::calculus::gradient::{differential_by, gradient, Through};
use crate::error::Result;
use crate::ir::expr::{Expr, Kind};
use crate::read::elaborate::Model;

/// The gradient by `x` and the Hessian block `∂²f/∂x∂y`: the Jacobian of that gradient
/// by `y`, laid out as the gradient's dims (x's), then y's.
pub fn hessian_block(model: &Model, f: &Expr, x: &str, y: &str, options: &crate::egraph::Options) -> Result<Second> {
    let g = gradient(model, f, x, options)?;
    let h = gradient(model, &g.expr, y, options)?;
    Ok(Second { gradient: g, answer: h })
}

/// The gradient by `x` and the Hessian-vector product `∇²f[V] = d(∇f)` with dX = V,
/// for a direction `v` of x's shape that `model` declares.
pub fn hvp(model: &Model, f: &Expr, x: &str, v: &str, options: &crate::egraph::Options) -> Result<Second> {
    let g = gradient(model, f, x, options)?;
    let direction = Expr::new(Kind::Var(v.to_string()), model.names[v].shape.clone());
    let along = match differential_by(model, &g.expr, x, Through::Definitions)? {
        Some(d) => along(&d, x, &direction),
        None => crate::ir::build::zero(g.expr.shape.clone()),
    };
    let (expr, report) = crate::egraph::simplify_expr(&along, model, options);
    Ok(Second { gradient: g, answer: Answer { model: model.clone(), expr, saturation: Some(report) } })
}

/// A second derivative with the gradient it was taken from (a check compares the
/// gradient with the function and the second derivative with the gradient).
#[derive(Clone, Debug)]
pub struct Second {
    /// The gradient by the first variable.
    pub gradient: Answer,
    /// The Hessian block, or the Hessian-vector product.
    pub answer: Answer,
}

/// `d` with every `dX` replaced by the direction.
fn along(d: &Expr, x: &str, direction: &Expr) -> Expr {
    match &d.kind {
        Kind::Diff(n) if n == x => direction.clone(),
        _ => {
            let mut out = d.clone();
            for c in out.children_mut() {
                *c = along(c, x, direction);
            }
            out
        }
    }
}
