//! Taking out dX: a differential (linear in dX) to the gradient or Jacobian G with
//! `df = G ·_k dX`.
//!
//! Takes the differential as an [`Expr`]; lowers it to networks, removes the dX factor
//! of each term and makes its slots the last free indices, in dX's order; merges terms
//! whose networks are equal up to relabelling (`aᵀdXXᵀa + aᵀXdXᵀa = 2aᵀdXXᵀa`, with
//! `egraph/raise.rs`'s canonical forms).

use crate::egraph::raise::merge_terms;
use crate::ir::expr::*;
use crate::network::{lower, lower_keeping, tidy, Term};

/// The terms of `d` that hold `dvar`, with dX taken out: Σ coefficient · G, where each
/// G has the dims `prefix` (the function's dims) and then X's dims.
pub fn take_out(d: &Expr, var: &str) -> crate::error::Result<Vec<Term>> {
    take_out_of(lower(d), var)
}

/// [`take_out`] with every sum free of dX kept whole: `(XW − Y)ᵀdWᵀ…` stays one term
/// instead of one term for each summand, so a gradient through it raises to
/// `…(XW − Y)…` rather than to a sum of look-alike terms.
pub fn take_out_grouped(d: &Expr, var: &str) -> crate::error::Result<Vec<Term>> {
    let whole = |e: &Expr| matches!(e.kind, Kind::Add(_)) && e.order() <= 2 && !mentions(e, var);
    take_out_of(lower_keeping(d, &whole), var)
}

fn take_out_of(lowered: Vec<Term>, var: &str) -> crate::error::Result<Vec<Term>> {
    let mut out = Vec::new();
    for term in lowered {
        let holds: Vec<usize> = (0..term.net.factors.len())
            .filter(|&k| matches!(&term.net.factors[k].expr.kind, Kind::Diff(n) if n == var))
            .collect();
        // dX hidden inside a factor kept whole would be lost: refuse rather than be wrong.
        let hidden = term.net.factors.iter().any(|f| !matches!(f.expr.kind, Kind::Diff(_)) && mentions(&f.expr, var));
        if hidden || holds.len() > 1 {
            return Err(crate::error::Error::bare(
                crate::error::ErrorCode::Unsupported,
                format!("d{var} could not be taken out of a term of the differential"),
            )
            .hint("this is a limitation of bracket; please report the input"));
        }
        let [k] = holds.as_slice() else { continue };
        let mut net = term.net.clone();
        let dx = net.factors.remove(*k);
        let mut output = net.output.clone();
        for &slot in &dx.slots {
            if output.contains(&slot) {
                // The index is already a result dim: a fresh one, tied by δ.
                let d = net.indices[slot].clone();
                net.indices.push(d.clone());
                let fresh = net.indices.len() - 1;
                net.factors
                    .push(Factor { expr: Expr::new(Kind::Identity, vec![d.clone(), d]), slots: vec![slot, fresh] });
                output.push(fresh);
            } else {
                output.push(slot);
            }
        }
        net.output = output;
        out.push(Term { coef: term.coef, net: tidy(net) });
    }
    Ok(merge_terms(out))
}

/// Does `e` contain `dvar`?
fn mentions(e: &Expr, var: &str) -> bool {
    match &e.kind {
        Kind::Diff(n) => n == var,
        _ => e.children().into_iter().any(|c| mentions(c, var)),
    }
}
