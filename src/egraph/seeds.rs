//! Forms made from a model before a run, and the names folded back in: a definition's
//! value replaced by its name (so that element-wise cancelling sees one operand), a name
//! defined as an element-wise function written out where its derivative appears, and the
//! terms the model's facts say are zero written as zero.

use crate::ir::expr::{Expr, Func, Kind};
use crate::read::elaborate::Model;
use indexmap::IndexMap;
use num_traits::Zero;

/// `e` with each name defined as an element-wise function (`p = σ(Xw)`) replaced by its
/// definition, where `e` also holds a derivative of that function at that argument
/// (`σ'(Xw)`); None where there is no such name.
pub(super) fn unfolded_before_derivatives(e: &Expr, model: &Model) -> Option<Expr> {
    fn derivatives(e: &Expr, out: &mut Vec<(Func, Expr)>) {
        if let Kind::Func { func, derivative, arg } = &e.kind {
            if *derivative > 0 {
                out.push((func.clone(), (**arg).clone()));
            }
        }
        for c in e.children() {
            derivatives(c, out);
        }
    }
    let mut primed = Vec::new();
    derivatives(e, &mut primed);
    if primed.is_empty() {
        return None;
    }
    // A name need not occur in `e`: where its value does, written out (the loss through
    // `p = σ(Hw)` in backpropagation), `e` is cancelled as it is and folded after.
    let unfold: indexmap::IndexSet<String> = model
        .definitions
        .iter()
        .filter(|(_, value)| {
            matches!(&value.kind, Kind::Func { func, derivative: 0, arg }
                    if primed.iter().any(|(f, a)| f == func && a == &**arg))
        })
        .map(|(name, _)| name.clone())
        .collect();
    // Written out once, their values keeping the names they read: where every layer of a
    // deep program is such a name, written out in full each was the whole network again
    // (a 100-step chain's tangent of W held 100 nested tanh, 0.4 s of cancelling).
    let defs: IndexMap<&str, &Expr> =
        model.definitions.iter().filter(|(name, _)| unfold.contains(name)).map(|(n, v)| (n.as_str(), v)).collect();
    (!unfold.is_empty()).then(|| {
        replaced(e, &|t| match &t.kind {
            Kind::Var(name) => defs.get(name.as_str()).map(|v| (*v).clone()),
            _ => None,
        })
    })
}

/// Whether `value` is a term of `e`.
pub(super) fn holds(e: &Expr, value: &Expr) -> bool {
    e == value || e.children().iter().any(|c| holds(c, value))
}

/// `e` with a definition's value replaced by its name wherever `e` holds both (so that
/// element-wise cancelling sees one operand, not two).
pub fn fold_definitions(e: &Expr, model: &Model) -> Expr {
    let names = e.names();
    let defs: Vec<&(String, Expr)> =
        model.definitions.iter().filter(|(name, value)| names.contains(name) && holds(e, value)).collect();
    if defs.is_empty() {
        return e.clone();
    }
    replaced(e, &|t| {
        defs.iter().find(|(_, v)| v == t).map(|(name, _)| Expr::new(Kind::Var(name.clone()), t.shape.clone()))
    })
}

/// `e` with each term a fact of the model says is zero (`cᵀ1 = 0`) written as zero, or
/// None where it holds none.
pub(super) fn zero_facts_applied(e: &Expr, model: &Model) -> Option<Expr> {
    let zero = |r: &Expr| match &r.kind {
        Kind::Const(c) => c.is_zero(),
        Kind::Scale(c, _) => c.is_zero(),
        _ => false,
    };
    let zeros: Vec<&(Expr, Expr)> = model.facts.iter().filter(|(_, r)| zero(r)).collect();
    if zeros.is_empty() {
        return None;
    }
    let hit = std::cell::Cell::new(false);
    let out = replaced(e, &|t| {
        let r = zeros.iter().find(|(l, _)| l == t).map(|(_, r)| r.clone());
        hit.set(hit.get() || r.is_some());
        r
    });
    hit.get().then_some(out)
}

/// `e` with every term `with` gives a replacement for replaced, outermost first.
fn replaced(e: &Expr, with: &dyn Fn(&Expr) -> Option<Expr>) -> Expr {
    if let Some(r) = with(e) {
        return r;
    }
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = replaced(c, with);
    }
    out
}

/// Marks symmetric the classes of `e`'s sums and products that the structure shows
/// symmetric where the analysis, which looks at one node at a time, cannot: a sum of a
/// term and its transpose (`v1ᵀ + 1vᵀ`, an RBF kernel's squared distances), a mirrored
/// chain (`XSXᵀ`). Their parents take the mark as the e-graph rebuilds (`exp(−D/2)` of
/// such a D), so the rules that need a symmetric operand apply to them.
/// (The names known symmetric are the e-graph's own: declared, or defined as symmetric
/// forms.)
pub(super) fn mark_symmetric(egraph: &mut super::EGraph, e: &Expr) {
    for c in e.children() {
        mark_symmetric(egraph, c);
    }
    let square = e.order() == 2 && e.shape[0] == e.shape[1];
    if !square || !matches!(e.kind, Kind::Add(_) | Kind::Product(..)) {
        return;
    }
    let symmetric = &egraph.analysis.symmetric;
    if !crate::ir::symmetry::is_symmetric(e, &|n: &str| symmetric.contains(n)) {
        return;
    }
    let mut rec = egg::RecExpr::default();
    super::encode::Encoder { tables: &mut egraph.analysis }.encode(e, &mut rec);
    if let Some(id) = egraph.lookup_expr(&rec) {
        if !egraph[id].data.symmetric {
            let mut data = egraph[id].data.clone();
            data.symmetric = true;
            egraph.set_analysis_data(id, data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deep_program_s_names_are_written_out_one_level() {
        // Every layer of a 30-step chain is a name whose value's derivative appears:
        // written out, each keeps the names its value reads, so the form stays its size
        // (written out in full it held 30 nested tanh per term).
        let mut text = String::from("W: matrix(n, n); x: vector(n); h0 = x");
        for k in 1..=30 {
            text.push_str(&format!("; h{k} = tanh(W h{})", k - 1));
        }
        let terms: Vec<String> = (1..=30).map(|k| format!("h{k} .* tanh'(W h{})", k - 1)).collect();
        text.push_str(&format!("; {}", terms.join(" + ")));
        let model = crate::read::elaborate::read(&text).unwrap();
        let e = model.main_expr().unwrap();
        let unfolded = unfolded_before_derivatives(e, &model).expect("every layer written out");
        assert!(unfolded.node_count() <= 3 * e.node_count(), "{} nodes", unfolded.node_count());
    }
}
