//! Backpropagation equations for programs: `name = expr` definitions and a
//! `grad J wrt W, b` query give `∇_Z J` for every intermediate Z, from the loss down,
//! and then each parameter's gradient, written with the named intermediates as the
//! tutorial writes them (§6.2–6.4).
//!
//! Each equation is one local step: the gradient arriving at a definition C is an
//! opaque tensor `∇_C J` (a seed of C's shape), and the contribution of C to an input Z
//! is dZ taken out of `d(∇_C J · C)`, with the other names held fixed.

use crate::api::Answer;
use crate::diff::local_differential;
use crate::elaborate::read;
use crate::error::{Error, ErrorCode, Result};
use crate::expr::{Expr, Kind};
use crate::takeout::{take_out, terms_to_expr};
use indexmap::{IndexMap, IndexSet};

/// One backpropagation equation `∇_target J = expr`.
#[derive(Clone, Debug)]
pub struct Equation {
    /// The name whose gradient this is (an intermediate or a parameter).
    pub target: String,
    /// True for a parameter named after `wrt`.
    pub parameter: bool,
    /// The gradient, in terms of the seeds `∇_C J` of the names that use `target`.
    pub answer: Answer,
}

/// The name of the seed variable holding `∇_name J`.
pub fn seed_name(name: &str, loss: &str) -> String {
    format!("∇_{{{name}}}{loss}")
}

fn uses(e: &Expr, out: &mut IndexSet<String>) {
    match &e.kind {
        Kind::Var(n) | Kind::Diff(n) => {
            out.insert(n.clone());
        }
        _ => e.children().into_iter().for_each(|c| uses(c, out)),
    }
}

/// The backpropagation equations of the program's first `grad … wrt …` query.
///
/// ```
/// let eqs = bracket::backprop("h = A x; J = h^T h; grad J wrt x").unwrap();
/// let names: Vec<&str> = eqs.iter().map(|e| e.target.as_str()).collect();
/// assert_eq!(names, ["h", "x"]);
/// ```
pub fn backprop(text: &str) -> Result<Vec<Equation>> {
    let model = read(text)?;
    let query = model.queries.first().ok_or_else(|| {
        Error::new(ErrorCode::Usage, "the program has no `grad J wrt …` query", crate::Span::new(0, text.len()))
            .hint("end the program with a line such as `grad J wrt W, b`")
    })?;
    if !query.expr.is_scalar() {
        return Err(Error::new(
            ErrorCode::Shape,
            "backpropagation needs a scalar loss",
            crate::Span::new(0, text.len()),
        ));
    }
    // The loss: a defined name (J) or an expression.
    let (loss_name, top) = match &query.expr.kind {
        Kind::Var(n) if model.definitions.iter().any(|(m, _)| m == n) => {
            let def = model.definitions.iter().find(|(m, _)| m == n).map(|(_, e)| e.clone()).expect("found");
            (n.clone(), def)
        }
        _ => ("J".to_string(), query.expr.clone()),
    };
    let defs: IndexMap<String, Expr> =
        model.definitions.iter().filter(|(n, _)| *n != loss_name).map(|(n, e)| (n.clone(), e.clone())).collect();
    // Which definitions each expression uses directly.
    let mut direct: IndexMap<String, IndexSet<String>> = IndexMap::new();
    for (n, e) in &defs {
        let mut u = IndexSet::new();
        uses(e, &mut u);
        direct.insert(n.clone(), u);
    }
    let mut top_uses = IndexSet::new();
    uses(&top, &mut top_uses);
    // The definitions the loss depends on, in reverse order of definition.
    let mut needed: IndexSet<String> = IndexSet::new();
    let mut stack: Vec<String> = top_uses.iter().filter(|n| defs.contains_key(*n)).cloned().collect();
    while let Some(n) = stack.pop() {
        if needed.insert(n.clone()) {
            stack.extend(direct[&n].iter().filter(|m| defs.contains_key(*m)).cloned());
        }
    }
    let order: Vec<String> = defs.keys().rev().filter(|n| needed.contains(*n)).cloned().collect();
    let mut seeded = model.clone();
    let mut equations = Vec::new();
    let targets: Vec<(String, bool)> =
        order.iter().map(|n| (n.clone(), false)).chain(query.wrt.iter().map(|w| (w.clone(), true))).collect();
    for (target, parameter) in targets {
        if parameter && defs.contains_key(&target) {
            continue;
        }
        let shape = seeded.names.get(&target).map(|i| i.shape.clone()).unwrap_or_default();
        let vars: IndexSet<String> = [target.clone()].into_iter().collect();
        let mut terms = Vec::new();
        // The loss itself, then every definition that uses the target, with its seed.
        let mut consumers: Vec<Expr> = Vec::new();
        if top_uses.contains(&target) {
            consumers.push(top.clone());
        }
        for c in &order {
            if direct[c].contains(&target) {
                let seed = Expr::new(Kind::Var(seed_name(c, &loss_name)), defs[c].shape.clone());
                let step = if defs[c].is_scalar() {
                    crate::diff::product(seed, defs[c].clone())
                } else {
                    Expr::new(Kind::Dot(Box::new(seed), Box::new(defs[c].clone())), vec![])
                };
                consumers.push(step);
            }
        }
        for c in consumers {
            if let Some(d) = local_differential(&c, &seeded, &vars)? {
                terms.extend(take_out(&d, &target)?);
            }
        }
        let expr = terms_to_expr(&crate::takeout::merge_terms(terms), &shape);
        // The seed of this target is a name of its own in the equations that follow.
        if !parameter {
            let info = crate::NameInfo { shape: shape.clone(), symmetric: false, declared: false, defined: true };
            seeded.names.insert(seed_name(&target, &loss_name), info);
        }
        equations.push(Equation {
            target,
            parameter,
            answer: Answer { model: seeded.clone(), expr, saturation: None },
        });
    }
    Ok(equations)
}

/// Evaluates the equations in order at `env` (seeds computed from earlier equations)
/// and returns each parameter's value: the check that backpropagation is right.
pub fn evaluate_backprop(
    equations: &[Equation],
    loss: &str,
    env: &crate::Env<f64>,
) -> Result<IndexMap<String, ndarray::ArrayD<f64>>> {
    let mut env = env.clone();
    let mut out = IndexMap::new();
    for eq in equations {
        let v = crate::eval(&eq.answer.expr, &env)?;
        if eq.parameter {
            out.insert(eq.target.clone(), v);
        } else {
            env.values.insert(seed_name(&eq.target, loss), v);
        }
    }
    Ok(out)
}
