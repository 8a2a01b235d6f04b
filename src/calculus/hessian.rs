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
///
/// A fact on x or y (`1ᵀp = 1` by p) holds where the answer is evaluated, not along the
/// directions it is differentiated in: the gradient that is differentiated is taken
/// without it (`(1ᵀp)²` has gradient `2(1ᵀp)1`, whose Jacobian is `2·11ᵀ`, where the
/// gradient with the fact used, `2·1`, would give 0). The Hessian found then uses the
/// fact, as the gradient does.
pub fn hessian_block(model: &Model, f: &Expr, x: &str, y: &str, options: &crate::egraph::Options) -> Result<Second> {
    let free = without_facts_on(model, &[x, y]);
    let g = gradient(free.as_ref().unwrap_or(model), f, x, options)?;
    let h = gradient(free.as_ref().unwrap_or(model), &g.expr, y, options)?;
    let h = match free {
        Some(_) => with_facts(h, model, options),
        None => h,
    };
    Ok(Second { gradient: g, answer: h })
}

/// The gradient by `x` and the Hessian-vector product `∇²f[V] = d(∇f)` with dX = V,
/// for a direction `v` of x's shape that `model` declares. (A fact on x: as in
/// [`hessian_block`].)
pub fn hvp(model: &Model, f: &Expr, x: &str, v: &str, options: &crate::egraph::Options) -> Result<Second> {
    let free = without_facts_on(model, &[x]);
    let inner = free.as_ref().unwrap_or(model);
    let g = gradient(inner, f, x, options)?;
    let direction = Expr::new(Kind::Var(v.to_string()), model.names[v].shape.clone());
    let along = match differential_by(inner, &g.expr, x, Through::Definitions)? {
        Some(d) => along(&d, x, &direction),
        None => crate::ir::build::zero(g.expr.shape.clone()),
    };
    let (mut expr, mut report) = crate::egraph::simplify_expr(&along, model, options);
    // By a scalar, the product is the Hessian times the direction, a number too, whose
    // simplest form may read better than the differential's: `−v tr(((A + sB)⁻¹B)²)`
    // rather than `(−v(A + sB)⁻¹B(A + sB)⁻¹) · Bᵀ`. The one with fewer operations is kept.
    // (Where that Hessian cannot be taken, the differential's form stands.)
    if g.expr.shape.is_empty() && direction.shape.is_empty() {
        if let Ok(h) = hessian_block(model, f, x, x, options) {
            let scaled = crate::ir::build::product(direction, h.answer.expr);
            let (scaled, r) = crate::egraph::simplify_expr(&scaled, model, options);
            if crate::egraph::operations(&scaled) < crate::egraph::operations(&expr) {
                (expr, report) = (scaled, r);
            }
        }
    }
    Ok(Second { gradient: g, answer: Answer { model: model.clone(), expr, saturation: Some(report) } })
}

/// `model` without the facts that mention any of `vars`, or a name defined from one;
/// None where no fact does.
pub(crate) fn without_facts_on(model: &Model, vars: &[&str]) -> Option<Model> {
    let mut moving: Vec<String> = vars.iter().map(|v| v.to_string()).collect();
    for (name, value) in &model.definitions {
        if value.names().iter().any(|n| moving.contains(n)) {
            moving.push(name.clone());
        }
    }
    let on = |(l, r): &(Expr, Expr)| l.names().iter().chain(&r.names()).any(|n| moving.contains(n));
    if !model.facts.iter().any(on) {
        return None;
    }
    let mut out = model.clone();
    out.facts.retain(|fact| !on(fact));
    Some(out)
}

/// A derivative taken without some facts, simplified once more with all of `model`'s
/// (it is evaluated where they hold).
fn with_facts(answer: Answer, model: &Model, options: &crate::egraph::Options) -> Answer {
    let mut full = answer.model;
    for fact in &model.facts {
        if !full.facts.contains(fact) {
            full.facts.push(fact.clone());
        }
    }
    let (expr, mut report) = crate::egraph::simplify_expr(&answer.expr, &full, options);
    if let Some(before) = answer.saturation {
        report.iterations += before.iterations;
        report.limited |= before.limited;
    }
    Answer { model: full, expr, saturation: Some(report) }
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
