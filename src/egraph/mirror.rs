//! `transpose-scalar`: a scalar is its own transpose, so a product of tensors with a
//! scalar value reads the same backwards with each factor transposed (`vᵀw = wᵀv`,
//! `aᵀXb = bᵀXᵀa`), and an inner product either way round (`A · B = B · A`, and of
//! vectors `u · v = uᵀv`). Only between terms of one sum (or the factors of one
//! product) that the e-graph holds already: the mirror image is looked up, never
//! added, and joined only where it meets its image as a like term. So `vᵀw − wᵀv`
//! cancels in a sum of any length, while `aᵀx` alone keeps the order it was written
//! in, and the rest of the e-graph grows as before (joining every mirror pair moved
//! the plateau stop of the layer norm's Jacobian before its textbook form).

use super::appliers::{chain_factors, sum_terms, union_by};
use super::{EGraph, Node, Tables};
use egg::{Applier, Id, PatternAst, Subst, Symbol};
use num_rational::BigRational;
use num_traits::One;

/// Whether a class holds a scalar sum, or a product of two scalars.
pub fn holds_scalar_sum(egraph: &EGraph, eclass: Id) -> bool {
    let scalar = |id: &Id| egraph[*id].data.shape.is_empty();
    scalar(&eclass)
        && egraph[eclass].nodes.iter().any(|n| match n {
            Node::Add(_) => true,
            Node::Mul([a, b]) => scalar(a) && scalar(b),
            _ => false,
        })
}

/// The class of a tensor's transpose, if the e-graph holds it: a symmetric class is its
/// own, `Aᵀ`'s is A's.
fn transposed(egraph: &EGraph, id: Id) -> Option<Id> {
    let id = egraph.find(id);
    if egraph[id].data.symmetric {
        return Some(id);
    }
    let inner = egraph[id].nodes.iter().find_map(|n| match n {
        Node::Transpose(x) => Some(egraph.find(*x)),
        _ => None,
    });
    inner.or_else(|| egraph.lookup(Node::Transpose(id)))
}

/// The classes the e-graph holds that equal scalar `id` read backwards: a product of
/// tensors reversed with each factor transposed, an inner product `A · B` as `B · A`,
/// and one of vectors `u · v` as `uᵀv` or `vᵀu`; at `depth` 0, also such a scalar
/// times or over another (`c(A · B)`, `(A · B)/s`).
fn mirrors(egraph: &EGraph, id: Id, depth: usize) -> Vec<Id> {
    let mut out = Vec::new();
    let mut factors = Vec::new();
    chain_factors(egraph, id, &mut factors, 0);
    if factors.len() >= 2 {
        let mirrored = factors.iter().rev().map(|&f| transposed(egraph, f));
        out.extend(mirrored.reduce(|acc, f| egraph.lookup(Node::Mul([acc?, f?]))).flatten());
    }
    for node in &egraph[id].nodes {
        // A scalar times or over one: `c(A · B)` meets `c(B · A)`, `(A · B)/s` `(B · A)/s`.
        match *node {
            Node::Mul([c, t]) if depth == 0 && egraph[c].data.shape.is_empty() => {
                let images = mirrors(egraph, t, depth + 1);
                out.extend(images.into_iter().filter_map(|m| egraph.lookup(Node::Mul([c, m]))));
            }
            Node::Div([t, s]) if depth == 0 => {
                let images = mirrors(egraph, t, depth + 1);
                out.extend(images.into_iter().filter_map(|m| egraph.lookup(Node::Div([m, s]))));
            }
            _ => {}
        }
        let Node::Dot([u, v]) = node else { continue };
        out.extend(egraph.lookup(Node::Dot([*v, *u])));
        if egraph[*u].data.shape.len() == 1 && egraph[*v].data.shape.len() == 1 {
            for (a, b) in [(*u, *v), (*v, *u)] {
                out.extend(transposed(egraph, a).and_then(|t| egraph.lookup(Node::Mul([t, b]))));
            }
        }
    }
    out.into_iter().map(|m| egraph.find(m)).collect()
}

/// The applier of `transpose-scalar`, on the classes [`holds_scalar_sum`] finds.
pub struct ScalarMirror;

impl Applier<Node, Tables> for ScalarMirror {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        _subst: &Subst,
        _ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        // The terms of the sum, or the two factors of the product (`(aᵀb)(bᵀa)`).
        let mut terms = Vec::new();
        sum_terms(egraph, eclass, BigRational::one(), 8, &mut terms);
        let factors = egraph[eclass].nodes.iter().find_map(|n| match n {
            Node::Mul([a, b]) if egraph[*a].data.shape.is_empty() && egraph[*b].data.shape.is_empty() => Some([*a, *b]),
            _ => None,
        });
        let ids: Vec<Id> = match factors {
            Some(pair) if terms.len() < 2 => pair.iter().map(|t| egraph.find(*t)).collect(),
            _ => terms.iter().map(|(_, t)| egraph.find(*t)).collect(),
        };
        let mut pairs = Vec::new();
        for &t in &ids {
            for m in mirrors(egraph, t, 0) {
                if m != t && ids.contains(&m) {
                    pairs.push((t, m));
                }
            }
        }
        pairs.into_iter().flat_map(|(t, m)| union_by(egraph, t, m, rule)).collect()
    }
}
