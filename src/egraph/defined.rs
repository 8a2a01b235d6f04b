//! Where an input is defined nowhere: it divides by, inverts or takes the logarithm of
//! something that is zero for every value (`1/(xᵀx − xᵀx)`, `inv(X − X)`). Its
//! derivative may still simplify to a plain form (`0`), which would be silently wrong.

use crate::egraph::{simplify_expr, Options};
use crate::ir::expr::Expr;
use crate::read::elaborate::Model;
use crate::render::conditions::{condition_list, Condition};

/// The first condition of `es` that holds nowhere (`xᵀx − xᵀx ≠ 0`): a subject zero at
/// random points is simplified, and it is zero for every value when the rules make it
/// zero. Rules keep values, so a condition said to
/// hold nowhere never holds; one that holds nowhere but is not shown so is not found.
pub fn condition_holding_nowhere(model: &Model, es: &[&Expr]) -> Option<Condition> {
    let conditions: Vec<Condition> = es.iter().flat_map(|e| condition_list(e)).collect();
    let asked: Vec<&Condition> = conditions.iter().filter(|c| c.relation.fails_at_zero()).collect();
    if let Some(c) = asked.iter().find(|c| c.never_holds()) {
        return Some((*c).clone());
    }
    let asked: Vec<&Condition> = asked.into_iter().filter(|c| !plainly_nonzero(model, &c.subject)).collect();
    if asked.is_empty() {
        return None;
    }
    let subjects: Vec<&Expr> = asked.iter().map(|c| &c.subject).collect();
    let zero = crate::eval::identity::zero_at_random_points(model, &subjects);
    asked.into_iter().zip(zero).filter(|(_, z)| *z).find_map(|(c, _)| {
        // A defined name is zero by its definition: `h` where `h = x − x`.
        // (Simplified with no definitions, which would name it again.)
        let subject = inlined(model, &c.subject)?;
        let bare = Model { definitions: Vec::new(), ..model.clone() };
        let (subject, _) = simplify_expr(&subject, &bare, &Options::default());
        Condition { subject, relation: c.relation }.never_holds().then(|| c.clone())
    })
}

/// Whether `e` is, as written, a function that is not zero everywhere: a variable (not a
/// defined name), a nonzero number, or their products and multiples (`2N`, `σ²`).
fn plainly_nonzero(model: &Model, e: &Expr) -> bool {
    use crate::ir::expr::Kind;
    use num_traits::Zero;
    match &e.kind {
        Kind::Var(n) => model.names.get(n).is_some_and(|info| !info.defined),
        Kind::Const(c) => !c.is_zero(),
        Kind::Scale(c, x) => !c.is_zero() && plainly_nonzero(model, x),
        Kind::Product(a, b) if a.is_scalar() && b.is_scalar() => plainly_nonzero(model, a) && plainly_nonzero(model, b),
        Kind::Power(x, _) | Kind::HPower(x, _) => plainly_nonzero(model, x),
        _ => false,
    }
}

/// Past this many nodes, a subject with its definitions written out is not simplified
/// (`h₂ = h₁ + h₁`, `h₃ = h₂ + h₂`, … doubles at each line).
const MAX_INLINED_NODES: usize = 2000;

/// `e` with the program's definitions written out, or `None` past
/// [`MAX_INLINED_NODES`].
fn inlined(model: &Model, e: &Expr) -> Option<Expr> {
    let mut nodes: indexmap::IndexMap<String, usize> = indexmap::IndexMap::new();
    for (name, value) in &model.definitions {
        let n = size_with(value, &nodes);
        nodes.insert(name.clone(), n);
    }
    if size_with(e, &nodes) > MAX_INLINED_NODES {
        return None;
    }
    let defs: indexmap::IndexMap<String, Expr> = model.definitions.iter().cloned().collect();
    let names: indexmap::IndexSet<String> = defs.keys().cloned().collect();
    Some(crate::ir::build::inlined(e, &defs, &names))
}

/// The nodes of `e` with the names of `nodes` each that many, saturating.
fn size_with(e: &Expr, nodes: &indexmap::IndexMap<String, usize>) -> usize {
    if let crate::ir::expr::Kind::Var(n) = &e.kind {
        if let Some(k) = nodes.get(n) {
            return *k;
        }
    }
    e.children().iter().fold(1usize, |acc, c| acc.saturating_add(size_with(c, nodes)))
}
