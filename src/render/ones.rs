//! Ones matrices as they print: `1` as a term of a sum (`exp(S) − 1`), `11ᵀ` as a
//! factor of a product or the operand of a trace, determinant or diag.

use super::ones_leaf;
use crate::ir::expr::{Expr, Kind};
use crate::ir::shape::Dim;

/// A ones matrix: `Ones` with two dims, neither the ι of a row.
fn is_ones_matrix(e: &Expr) -> bool {
    e.kind == Kind::Ones && e.order() == 2 && !e.shape.contains(&Dim::Iota)
}

/// A term of an element-wise sum: a function or Hadamard product of tensors (or a
/// multiple of one). Beside one, a ones matrix reads back as the sum's shape.
fn elementwise(t: &Expr) -> bool {
    match &t.kind {
        Kind::Scale(_, x) | Kind::DivScalar(x, _) => elementwise(x),
        Kind::Func { .. } | Kind::Hadamard(..) | Kind::HDiv(..) | Kind::HPower(..) | Kind::Softmax { .. } => true,
        _ => false,
    }
}

/// The scalar of `s1`, a scalar times a ones matrix, where `t` is one.
fn scaled_ones(t: &Expr) -> Option<&Expr> {
    match &t.kind {
        Kind::Product(a, b) if a.is_scalar() && is_ones_matrix(b) => Some(a),
        _ => None,
    }
}

/// A ones matrix as a factor of a product, where a lone `1` would read back as a vector
/// (in a sum, `1 − X ⊘ WH`, it reads back as the sum's shape), or as the operand of a
/// trace, determinant or diag, where it would read back as the number 1 (`tr(1)`).
pub(super) fn has_ones_matrix_factor(e: &Expr) -> bool {
    match &e.kind {
        // In an element-wise sum, `c²1 + r^{⊙2}`.
        Kind::Add(terms) if terms.iter().any(elementwise) => {
            terms.iter().any(|t| scaled_ones(t).map_or_else(|| has_ones_matrix_factor(t), has_ones_matrix_factor))
        }
        Kind::Product(a, b) if is_ones_matrix(a) || is_ones_matrix(b) => true,
        Kind::Trace(a) | Kind::Det(a) | Kind::Diag(a) if is_ones_matrix(a) => true,
        // Over a scalar, `1/s` would read back as a scalar.
        Kind::DivScalar(a, _) if is_ones_matrix(a) => true,
        _ => e.children().iter().any(|c| has_ones_matrix_factor(c)),
    }
}

/// `e` with each ones matrix that is a factor of a product written `1 1ᵀ`.
pub(super) fn ones_factors_as_products(e: &Expr) -> Expr {
    let outer = |o: &Expr| {
        if !is_ones_matrix(o) {
            return ones_factors_as_products(o);
        }
        let column = Expr::new(Kind::Ones, vec![o.shape[0].clone()]);
        let row = crate::ir::build::transpose(Expr::new(Kind::Ones, vec![o.shape[1].clone()]));
        crate::ir::build::product(column, row)
    };
    if let Kind::Product(a, b) = &e.kind {
        return Expr::new(Kind::Product(Box::new(outer(a)), Box::new(outer(b))), e.shape.clone());
    }
    let mut out = e.clone();
    if let Kind::Add(terms) = &mut out.kind {
        if terms.iter().any(elementwise) {
            for t in terms.iter_mut() {
                *t = match &t.kind {
                    Kind::Product(a, b) if scaled_ones(t).is_some() => {
                        Expr::new(Kind::Product(Box::new(ones_factors_as_products(a)), b.clone()), t.shape.clone())
                    }
                    _ => ones_factors_as_products(t),
                };
            }
            return out;
        }
    }
    let operand = matches!(e.kind, Kind::Trace(_) | Kind::Det(_) | Kind::Diag(_));
    let numerator = matches!(e.kind, Kind::DivScalar(..));
    for (k, c) in out.children_mut().into_iter().enumerate() {
        *c = if operand || numerator && k == 0 { outer(c) } else { ones_factors_as_products(c) };
    }
    out
}

/// The outer product of two ones vectors, `11ᵀ`.
pub(super) fn is_ones_outer(e: &Expr) -> bool {
    matches!(&e.kind, Kind::Product(a, b) if a.kind == Kind::Ones
        && a.order() == 1
        && matches!(&b.kind, Kind::Transpose(o) if o.kind == Kind::Ones && o.order() == 1))
}

/// `e` with each term `11ᵀ` (or a multiple of one, `e²11ᵀ`) of an element-wise sum, one with a
/// term that is a function or Hadamard product of tensors, written as the ones matrix,
/// which reads back as the sum's shape: `(1/2)(exp(S) − 11ᵀ)` as `(1/2)(exp(S) − 1)`,
/// as `1 − H ⊙ H`. None where there is none. Beside products (`I − 11ᵀ/n`) the outer
/// product stays: it is the matrix of linear algebra there.
pub(super) fn outer_terms_as_ones(e: &Expr) -> Option<Expr> {
    fn ones_outer(t: &Expr) -> bool {
        match &t.kind {
            Kind::Product(a, b) if a.is_scalar() => ones_outer(b),
            Kind::Scale(_, x) => ones_outer(x),
            _ => is_ones_outer(t),
        }
    }
    fn collapsed(t: &Expr) -> Expr {
        match &t.kind {
            Kind::Scale(c, x) => Expr::new(Kind::Scale(c.clone(), Box::new(collapsed(x))), t.shape.clone()),
            Kind::Product(a, b) if a.is_scalar() => {
                Expr::new(Kind::Product(a.clone(), Box::new(collapsed(b))), t.shape.clone())
            }
            _ => Expr::new(Kind::Ones, t.shape.clone()),
        }
    }
    fn go(e: &Expr, changed: &mut bool) -> Expr {
        let mut out = e.clone();
        if let Kind::Add(terms) = &mut out.kind {
            if terms.iter().any(elementwise) {
                for t in terms.iter_mut().filter(|t| ones_outer(t)) {
                    *t = collapsed(t);
                    *changed = true;
                }
            }
        }
        for c in out.children_mut() {
            *c = go(c, changed);
        }
        out
    }
    let mut changed = false;
    let out = go(e, &mut changed);
    changed.then_some(out)
}

/// The `1` and `I` leaves of `e` whose dims no named tensor of their scope carries.
/// Reading infers a size only through the operators between tensors, and a scalar
/// (`1ᵀ1`, `tr(I)`) cuts that chain: so a scope is `e`, or a scalar part of it, without
/// the scalar parts inside.
pub(super) fn unanchored(e: &Expr) -> std::collections::HashSet<usize> {
    fn scope<'a>(
        e: &'a Expr,
        anchors: &mut Vec<&'a Dim>,
        leaves: &mut Vec<&'a Expr>,
        out: &mut std::collections::HashSet<usize>,
    ) {
        match &e.kind {
            Kind::Var(_) | Kind::Diff(_) => anchors.extend(e.shape.iter()),
            Kind::Ones | Kind::Identity => leaves.push(e),
            // A ones tensor times a scalar (`(−1)(sᵀx)` for −(sᵀx)1): reading takes its
            // `1` for the number, whatever is around, so it carries its size; not after
            // a name or its power, which reads as the ones tensor sized by its scope
            // (`Xw + b 1`, `c²1 + r^{⊙2}`).
            Kind::Product(a, b)
                if a.is_scalar() != b.is_scalar()
                    && ones_leaf(if a.is_scalar() { b } else { a }).is_some()
                    && !named_scalar(if a.is_scalar() { a } else { b }) =>
            {
                let (scalar, ones) = if a.is_scalar() { (a, b) } else { (b, a) };
                if let Some(leaf) = ones_leaf(ones) {
                    out.insert(leaf as *const Expr as usize);
                }
                own_scope(scalar, out);
            }
            _ => {
                for c in e.children() {
                    if c.is_scalar() {
                        own_scope(c, out);
                    } else {
                        scope(c, anchors, leaves, out);
                    }
                }
            }
        }
    }
    fn own_scope(e: &Expr, out: &mut std::collections::HashSet<usize>) {
        let (mut anchors, mut leaves) = (Vec::new(), Vec::new());
        scope(e, &mut anchors, &mut leaves, out);
        for leaf in leaves {
            let free = leaf.shape.iter().any(|d| !matches!(d, Dim::Iota) && !anchors.contains(&d));
            if free {
                out.insert(leaf as *const Expr as usize);
            }
        }
    }
    let mut out = std::collections::HashSet::new();
    own_scope(e, &mut out);
    out
}

/// A scalar name or a power of one (`b`, `c²`).
fn named_scalar(e: &Expr) -> bool {
    match &e.kind {
        Kind::Var(_) => true,
        Kind::Power(x, _) => matches!(x.kind, Kind::Var(_)),
        _ => false,
    }
}
