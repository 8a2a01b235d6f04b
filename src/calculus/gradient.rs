//! The gradient pipeline, one for `grad`, `jacobian`, `derive` and programs: the
//! differential, dX taken out of each term, the forms the e-graph starts from (the terms
//! factored, and unfactored when few), the `sym(G)` convention for a symmetric matrix,
//! and the e-graph's simplest form.

use crate::calculus::answer::Answer;
use crate::calculus::diff::{differential, local_differential};
use crate::calculus::takeout::{take_out, take_out_grouped};
use crate::egraph::raise::{terms_to_expr, terms_to_sum};
use crate::error::Result;
use crate::ir::expr::Expr;
use crate::network::Term;
use crate::read::elaborate::Model;
use num_rational::BigRational;

/// The most terms of a derivative that also go to the e-graph unfactored.
pub const UNFACTORED_TERMS: usize = 8;

/// Whether defined names are differentiated through (`h = …` by its definition) or are
/// variables of their own, as in one local step of backpropagation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Through {
    /// `dh` is the differential of h's definition.
    Definitions,
    /// `dh` is a differential of its own.
    Nothing,
}

/// d(f) by `var` (`None` where f does not depend on it).
pub fn differential_by(model: &Model, f: &Expr, var: &str, through: Through) -> Result<Option<Expr>> {
    let vars = [var.to_string()].into_iter().collect();
    match through {
        Through::Definitions => differential(f, model, &vars),
        Through::Nothing => local_differential(f, model, &vars),
    }
}

/// The gradient by a symmetric matrix under the convention `sym(G) = (G + Gᵀ)/2`: the
/// gradient in the space of symmetric matrices (see docs/symmetric.md).
pub fn symmetrized(g: Expr) -> Expr {
    let shape = g.shape.clone();
    let t = crate::ir::build::transpose(g.clone());
    let sum = Expr::new(crate::ir::expr::Kind::Add(vec![g, t]), shape);
    crate::ir::build::scale(BigRational::new(1.into(), 2.into()), sum)
}

/// The forms of G the e-graph starts from: the terms factored, and unfactored when there
/// are few (a long unfactored sum mostly breeds sign and bracketing variants); each
/// symmetrized by a symmetric matrix.
pub fn forms(terms: &[Term], g_shape: &[crate::ir::shape::Dim], symmetric: bool) -> Vec<Expr> {
    let shape = g_shape.to_vec();
    let mut forms = vec![terms_to_expr(terms, &shape)];
    if terms.len() <= UNFACTORED_TERMS {
        forms.push(terms_to_sum(terms, &shape));
    }
    if symmetric {
        forms = forms.into_iter().map(symmetrized).collect();
    }
    forms
}

/// G with `df = G ·_k dX`, in its simplest form: the whole pipeline.
pub fn gradient(model: &Model, f: &Expr, var: &str, options: &crate::egraph::Options) -> Result<Answer> {
    let info = &model.names[var];
    let mut shape = f.shape.clone();
    shape.extend(info.shape.iter().cloned());
    let d = differential_by(model, f, var, Through::Definitions)?;
    let terms = match &d {
        Some(d) => take_out(d, var)?,
        None => vec![],
    };
    let mut forms = forms(&terms, &shape, info.symmetric && f.is_scalar());
    if let Some(d) = &d {
        let grouped = take_out_grouped(d, var)?;
        if grouped != terms {
            forms.extend(self::forms(&grouped, &shape, info.symmetric && f.is_scalar()));
        }
    }
    let (expr, report) = crate::egraph::simplify_alternatives(&forms, model, options);
    Ok(Answer { model: model.clone(), expr, saturation: Some(report) })
}
