//! Raising a network to the tutorial's tensor operators where no classic matrix form
//! exists: generalized products `A^{P} ⊙^{Q} B` (with bars, so `·` too), their
//! shortcuts `A ⊙_k B` and `A ·_k B`, tensor products and one final permutation.
//!
//! A network is a product of factors whose slots are indices; every way of multiplying
//! the factors two at a time is a binary tree, and each node of a tree is one
//! generalized product: the indices both sides carry are walked in parallel, and summed
//! (barred) where no factor outside the node and no result dim needs them any more.
//! So every network whose factors have distinct indices, each summed index on two or
//! more factors, and each result dim on some factor, is such a tree; the search below
//! (a dynamic programme over subsets of factors, as for contraction orders) keeps the
//! smallest. Matrix products, Hadamard products and dots come out as themselves where a
//! node is one. The result's cost sits between the classic forms and bracket terms
//! (`cost.rs`), so this is the fallback after the classic raisers.

use crate::ir::build::product;
use crate::ir::expr::{Expr, GenForm, Kind, Network, Pos};
use crate::ir::shape::Dim;

/// Most non-scalar factors searched (the subsets are enumerated: 3ⁿ splits).
pub const MAX_FACTORS: usize = 7;

/// Most dims of the result and of every product on the way: past four, positions and
/// permutations read worse than the bracket term itself.
pub const MAX_ORDER: usize = 4;

/// Products kept per subset of factors, each with its own order of dims.
const ORDERS_KEPT: usize = 3;

/// A part of the network multiplied out: its expression and the index on each dim.
#[derive(Clone)]
struct Part {
    expr: Expr,
    slots: Vec<usize>,
    size: f64,
}

/// The network as a tree of generalized products, tensor products and a permutation,
/// or None where it is not one (a diagonal inside a factor, a sum over a dim of one
/// factor alone, a result dim on no factor) or has too many factors.
pub fn raise_to_tensor_operators(net: &Network) -> Option<Expr> {
    let mut scalars: Vec<Expr> = Vec::new();
    let mut parts: Vec<Part> = Vec::new();
    for f in &net.factors {
        if f.slots.len() != f.expr.order() || f.slots.iter().enumerate().any(|(k, s)| f.slots[..k].contains(s)) {
            return None;
        }
        if f.slots.len() > MAX_ORDER {
            return None;
        }
        if f.slots.is_empty() {
            scalars.push(f.expr.clone());
        } else {
            let size = super::contract::size(&f.expr);
            parts.push(Part { expr: f.expr.clone(), slots: f.slots.clone(), size });
        }
    }
    let n = parts.len();
    if n == 0 || n > MAX_FACTORS {
        return None;
    }
    let distinct = net.output.iter().enumerate().all(|(k, o)| !net.output[..k].contains(o));
    if !distinct || net.output.len() > MAX_ORDER {
        return None;
    }
    // A factor summed over all its dims, which no other factor shares, is `sum(A)`.
    let alone = |p: &Part, parts: &[Part]| {
        p.slots.iter().all(|i| !net.output.contains(i) && parts.iter().filter(|q| q.slots.contains(i)).count() == 1)
    };
    let (summed, kept): (Vec<Part>, Vec<Part>) = parts.clone().into_iter().partition(|p| alone(p, &parts));
    scalars.extend(summed.into_iter().map(|p| Expr::new(Kind::Sum(Box::new(p.expr)), vec![])));
    parts = kept;
    if parts.is_empty() {
        return scalars.into_iter().reduce(product);
    }
    // An index summed on one factor alone is summed against a ones vector: `[T̄_3 1]`
    // is `T ·_1 1`. A result dim on no factor (a broadcast, or ι) is left to the others.
    for (i, d) in net.indices.iter().enumerate() {
        let on = parts.iter().filter(|p| p.slots.contains(&i)).count();
        let free = net.output.contains(&i);
        if on == 0 {
            return None;
        }
        if on == 1 && !free {
            let ones = Expr::new(Kind::Ones, vec![d.clone()]);
            parts.push(Part { expr: ones, slots: vec![i], size: 1.0 });
        }
    }
    let n = parts.len();
    if n > MAX_FACTORS {
        return None;
    }
    // The e-graph sees a tensor operator as one leaf and cannot reach inside, so its
    // operands are simplified here, each by a run of its own (`exp'(X)` is `exp(X)`).
    for p in &mut parts {
        p.expr = simplified(&p.expr);
        p.size = super::contract::size(&p.expr);
    }
    let full = (1usize << n) - 1;
    // The indices still needed outside a subset of factors: result dims and the slots of
    // the factors not in it.
    let needed = |mask: usize| -> Vec<usize> {
        let mut out = net.output.clone();
        for (k, p) in parts.iter().enumerate() {
            if mask & (1 << k) == 0 {
                out.extend(p.slots.iter().copied());
            }
        }
        out
    };
    // Per subset, its cheapest products with distinct dim orders: the order decides
    // whether a later product needs a permutation or gets a shortcut.
    let mut best: Vec<Vec<Part>> = vec![Vec::new(); full + 1];
    for (k, p) in parts.iter().enumerate() {
        best[1 << k].push(p.clone());
    }
    for mask in 1..=full {
        if mask.count_ones() < 2 {
            continue;
        }
        let keep = needed(mask);
        let mut found: Vec<(Plan, usize, usize, usize)> = Vec::new();
        // Splits in ascending order, so that among equals the earlier factors stand left.
        let mut sub = 0usize;
        loop {
            sub = sub.wrapping_sub(mask) & mask;
            if sub == mask {
                break;
            }
            for (ia, a) in best[sub].iter().enumerate() {
                for (ib, b) in best[mask ^ sub].iter().enumerate() {
                    let Some(c) = plan(a, b, &keep) else { continue };
                    if c.slots.len() > MAX_ORDER {
                        continue;
                    }
                    found.push((c, sub, ia, ib));
                }
            }
        }
        // A stable sort: ties keep the order found, so the result is deterministic. The
        // whole network's candidates are built and put in the result's order, which
        // changes their sizes; a smaller subset's are built only once kept.
        let mut kept: Vec<Part> = Vec::new();
        if mask == full {
            let mut parts: Vec<Part> = found
                .into_iter()
                .filter_map(|(c, sub, ia, ib)| permuted(build(c, &best[sub][ia], &best[mask ^ sub][ib]), &net.output))
                .collect();
            parts.sort_by(|x, y| x.size.total_cmp(&y.size));
            for c in parts {
                if kept.len() < ORDERS_KEPT && !kept.iter().any(|k| k.slots == c.slots) {
                    kept.push(c);
                }
            }
        } else {
            found.sort_by(|x, y| x.0.size.total_cmp(&y.0.size));
            for (c, sub, ia, ib) in found {
                if kept.len() < ORDERS_KEPT && !kept.iter().any(|k| k.slots == c.slots) {
                    kept.push(build(c, &best[sub][ia], &best[mask ^ sub][ib]));
                }
            }
        }
        best[mask] = kept;
    }
    let whole = best[full].first()?.clone();
    // One factor alone was never multiplied, so it is permuted here.
    let mut body = if n == 1 { permuted(whole, &net.output)?.expr } else { whole.expr };
    for s in scalars {
        body = product(s, body);
    }
    Some(body)
}

thread_local! {
    /// Set while an operand is simplified, so that its own networks are not raised to
    /// tensor operators with simplified operands again, without end.
    static NESTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `e` in its simplest form, or as it is if it is a name or this is a nested call.
fn simplified(e: &Expr) -> Expr {
    if e.children().is_empty() || NESTED.with(|n| n.get()) {
        return e.clone();
    }
    NESTED.with(|n| n.set(true));
    let model = crate::read::elaborate::Model::default();
    let (out, _) = crate::egraph::simplify_expr(e, &model, &crate::egraph::Options::default());
    NESTED.with(|n| n.set(false));
    if out.shape == e.shape {
        out
    } else {
        e.clone()
    }
}

/// How `a` times `b` would be written, with its dims and size, before any expression is
/// built: the search weighs thousands of candidates per network and keeps a few, and
/// building each (cloning both operands whole) was most of a raise's time.
struct Plan {
    op: Op,
    slots: Vec<usize>,
    shape: Vec<Dim>,
    size: f64,
}

/// The operator a [`Plan`] writes.
enum Op {
    /// A ones vector summed against all of the other side: `sum(A)`, the other side left
    /// or right.
    Sum {
        left: bool,
    },
    Kron,
    Dot,
    Hadamard,
    Product,
    Gen {
        left: Vec<Pos>,
        right: Vec<Pos>,
        form: GenForm,
        dot: bool,
    },
}

/// `a` times `b`, walking their shared indices in parallel and summing those `keep`
/// lacks: a matrix product, Hadamard product or dot where it is one, else the
/// generalized product (with its `⊙_k`/`·_k` shortcut where the pairs allow).
fn plan(a: &Part, b: &Part, keep: &[usize]) -> Option<Plan> {
    let mut left: Vec<Pos> = Vec::new();
    let mut right: Vec<Pos> = Vec::new();
    for (p, i) in a.slots.iter().enumerate() {
        if let Some(q) = b.slots.iter().position(|j| j == i) {
            let bar = !keep.contains(i);
            left.push(Pos { at: p + 1, bar });
            right.push(Pos { at: q + 1, bar });
        }
    }
    let mut slots: Vec<usize> = Vec::new();
    let mut shape: Vec<Dim> = Vec::new();
    for (p, &i) in a.slots.iter().enumerate() {
        if !left.iter().any(|l| l.at == p + 1 && l.bar) {
            slots.push(i);
            shape.push(a.expr.shape[p].clone());
        }
    }
    for (q, &i) in b.slots.iter().enumerate() {
        if !right.iter().any(|r| r.at == q + 1) {
            slots.push(i);
            shape.push(b.expr.shape[q].clone());
        }
    }
    let all_summed = !left.is_empty() && left.iter().all(|l| l.bar);
    let none_summed = left.iter().all(|l| !l.bar);
    let ones = |p: &Part| matches!(p.expr.kind, Kind::Ones);
    if ones(a) || ones(b) {
        // A ones vector is only ever summed against (`T ⊗ 1` would read as `T` times a
        // number), and summed against all of a tensor it is `sum`.
        if !all_summed {
            return None;
        }
        if a.slots == b.slots {
            let other = if ones(a) { b } else { a };
            return Some(Plan { op: Op::Sum { left: !ones(a) }, slots: vec![], shape: vec![], size: other.size + 1.0 });
        }
    }
    let (op, extra) = if left.is_empty() {
        (Op::Kron, 1.0)
    } else if a.slots == b.slots && all_summed {
        (Op::Dot, 1.0)
    } else if a.slots == b.slots && none_summed {
        (Op::Hadamard, 1.0)
    } else if all_summed
        && a.expr.order() == 2
        && b.expr.order() <= 2
        && left.len() == 1
        && left[0].at == 2
        && right[0].at == 1
    {
        (Op::Product, 1.0)
    } else {
        gen(left, right, a.expr.order())
    };
    Some(Plan { op, slots, shape, size: a.size + b.size + extra })
}

/// The part a [`Plan`] of `a` times `b` writes.
fn build(plan: Plan, a: &Part, b: &Part) -> Part {
    let operands = || (Box::new(a.expr.clone()), Box::new(b.expr.clone()));
    let kind = match plan.op {
        Op::Sum { left } => Kind::Sum(Box::new(if left { a } else { b }.expr.clone())),
        Op::Kron => {
            let (x, y) = operands();
            Kind::Kron(x, y)
        }
        Op::Dot => {
            let (x, y) = operands();
            Kind::Dot(x, y)
        }
        Op::Hadamard => {
            let (x, y) = operands();
            Kind::Hadamard(x, y)
        }
        Op::Product => {
            let expr = product(a.expr.clone(), b.expr.clone());
            return Part { expr, slots: plan.slots, size: plan.size };
        }
        Op::Gen { left, right, form, dot } => {
            let (lhs, rhs) = operands();
            Kind::Gen { lhs, rhs, left, right, dot, form }
        }
    };
    Part { expr: Expr::new(kind, plan.shape), slots: plan.slots, size: plan.size }
}

/// A generalized product's node, with the `_k` shortcut when the last k dims of the
/// left side meet the first k of the right, all summed or all kept. Its cost is more
/// than a classic operator's: the positions are read too.
fn gen(left: Vec<Pos>, right: Vec<Pos>, order: usize) -> (Op, f64) {
    let k = left.len();
    let all_summed = left.iter().all(|l| l.bar);
    let none_summed = left.iter().all(|l| !l.bar);
    let shortcut = (all_summed || none_summed)
        && left.iter().enumerate().all(|(j, l)| l.at == order - k + 1 + j)
        && right.iter().enumerate().all(|(j, r)| r.at == j + 1);
    let form = if shortcut { GenForm::K(k) } else { GenForm::Explicit };
    let extra = if shortcut { 2.0 } else { 2.0 + 0.5 * k as f64 };
    (Op::Gen { left, right, form, dot: all_summed }, extra)
}

/// The whole product with its dims put in the result's order.
fn permuted(p: Part, output: &[usize]) -> Option<Part> {
    let moved = p.slots != output;
    let expr = crate::ir::build::arranged(p.expr, &p.slots, output)?;
    let size = if moved { p.size + 1.5 } else { p.size };
    Some(Part { expr, slots: output.to_vec(), size })
}
