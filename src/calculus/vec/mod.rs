//! The vec layout of a derivative (Magnus and Neudecker): with column-stacking vec,
//! `d vec(F) = J d vec(X)`, so J is a matrix with F's entries down and X's across.
//!
//! It comes from the tensor layout term by term. Each term of the Jacobian, lowered to
//! a network, is a product whose factors touch some of the result's indices; with F's
//! dims (i, j) and X's (k, l):
//! - factors on (i, k) apart from factors on (j, l): `Q[i,k]P[j,l]` is `P ⊗ Q`;
//! - factors on (i, l) apart from factors on (j, k): `Q[i,l]P[j,k]` is `(P ⊗ Q)K`, with
//!   the commutation matrix K (`K vec(X) = vec(Xᵀ)`);
//! - factors on (i, j) apart from factors on (k, l): `vec(A)vec(B)ᵀ`;
//! - one index shared by i and k, another by j and l: `diag(vec(D))`;
//! - F and X sharing a dim through a summed index of samples n:
//!   `(I ⊗ A)ᵀdiag(vec(D))(I ⊗ B)` ([`Part::Sandwich`]);
//! - F's remaining dim and X's each meeting the samples through factors of their own:
//!   `(I ⊗ A)ᵀdiag(vec(D))(11ᵀ ⊗ I)diag(vec(E))(I ⊗ B)` ([`Part::Coupled`]).
//!
//! An index on two result dims and no factor is an identity. Terms of one kind that
//! share a factor are gathered (`I ⊗ A + I ⊗ Aᵀ = I ⊗ (A + Aᵀ)`), and each factor is
//! the simplest classic form the e-graph finds. A term of no kind is an error, never a
//! guess; [`value`] computes the matrix so that a check can compare it with the tensor.

mod text;

use crate::egraph::raise::terms_to_expr;
use crate::error::{Error, ErrorCode, Result};
use crate::eval::{eval, Env};
use crate::ir::expr::{Expr, Kind};
use crate::ir::expr::{Factor, Network};
use crate::ir::shape::Dim;
use crate::network::{lower, Term};
use crate::read::elaborate::Model;
use ndarray::{Array2, ArrayD};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// A derivative in the vec layout: a sum of parts.
#[derive(Clone, Debug)]
pub struct VecForm {
    /// The parts, summed.
    pub parts: Vec<Part>,
}

/// One part of a [`VecForm`].
#[derive(Clone, Debug)]
pub enum Part {
    /// The derivative as it is: a matrix, vector or scalar is its own vec layout.
    Same(Expr),
    /// `vec(G)ᵀ`: the derivative of a scalar by a matrix, as one row.
    Row(Expr),
    /// `c (P ⊗ Q)`, the Kronecker product.
    Kron(BigRational, Expr, Expr),
    /// `c (P ⊗ Q) K_{pq}`, with the commutation matrix of X's sizes (p, q).
    Commuted(BigRational, Expr, Expr, Dim, Dim),
    /// `c vec(A) vec(B)ᵀ`.
    Outer(BigRational, Expr, Expr),
    /// `c diag(vec(D))`.
    Diagonal(BigRational, Expr),
    /// `diag(vec(D))` times a Kronecker part: factors on F's dims alone scale its rows
    /// (`tanh(XW + 1bᵀ)` by W: `diag(vec(tanh'(XW + 1bᵀ)))(I_h ⊗ X)`).
    RowScaled(Expr, Box<Part>),
    /// `c (I ⊗ A)ᵀ diag(vec(D)) (I ⊗ B)`, or with `first` `c (A ⊗ I)ᵀ diag(vec(D)) (B ⊗ I)`:
    /// F and X share a dim through a summed index (the Hessian of `sum(f(XW))` by W is
    /// `(I ⊗ X)ᵀ diag(vec(f''(XW)))(I ⊗ X)`). The identity is of the shared dim.
    Sandwich { c: BigRational, left: Expr, middle: Expr, right: Expr, shared: Dim, first: bool },
    /// `c (I ⊗ A)ᵀ diag(vec(D))(11ᵀ ⊗ I_N) diag(vec(E))(I ⊗ B)`, or with `first`
    /// `c (A ⊗ I)ᵀ diag(vec(D))(I_N ⊗ 11ᵀ) diag(vec(E))(B ⊗ I)`: F's block dim and X's
    /// each meet the samples (N) through factors of their own, D and E, so that every
    /// entry of a sample's block meets every other (a row-wise softmax's Jacobian is
    /// `diag(p) − ppᵀ` for each row p). A side that is the samples' dim itself is the
    /// identity (None): the softmax's `diag(vec(P))(11ᵀ ⊗ I_N)diag(vec(P))`.
    Coupled { c: BigRational, left: Option<Expr>, d: Expr, e: Expr, right: Option<Expr>, first: bool },
    /// The zero matrix, with F's dims down and X's across (a block of a Hessian in a
    /// variable the other block does not meet).
    Zero(Vec<Dim>, Vec<Dim>),
}

/// The vec layout of `j`, the derivative (tensor layout) of a function with `f_order`
/// dims by a variable with `x_order` dims.
pub fn vec_form(
    j: &Expr,
    f_order: usize,
    x_order: usize,
    model: &Model,
    options: &crate::egraph::Options,
) -> Result<VecForm> {
    if f_order > 2 || x_order > 2 {
        return Err(Error::bare(
            ErrorCode::Unsupported,
            "the vec layout is for functions and variables of at most two dims".to_string(),
        )
        .hint("use --layout tensor for higher-order tensors"));
    }
    if f_order == 0 {
        return Ok(VecForm { parts: vec![Part::Row(j.clone())] });
    }
    if f_order == 1 && x_order <= 1 {
        return Ok(VecForm { parts: vec![Part::Same(j.clone())] });
    }
    let simplest = |e: Expr| crate::egraph::simplify_expr(&e, model, options).0;
    let mut parts: Vec<Part> = Vec::new();
    for term in lower(j) {
        if term.coef.is_zero() {
            continue;
        }
        if std::env::var_os("BRACKET_VEC_DEBUG").is_some() && classify(&term, f_order, x_order).is_none() {
            eprintln!("unclassified: {term:?}");
        }
        parts.push(classify(&term, f_order, x_order).ok_or_else(|| {
            Error::bare(
                ErrorCode::Unsupported,
                "this derivative has no Kronecker form that bracket can find".to_string(),
            )
            .hint("use --layout tensor (the default)")
        })?);
    }
    // Each part in its simplest form first, so that parts whose factors are written
    // differently (`(x − y)xᵀ − (x − y)yᵀ` beside `(x − y)(x − y)ᵀ`) can meet.
    let parts: Vec<Part> = parts.into_iter().map(|p| simplify_part(p, &simplest)).collect();
    // Gathered until nothing more meets: a merge can make two parts' other factors equal
    // (16 parts of (x − y)(x − y)ᵀ ⊗ (x − y)(x − y)ᵀ meet by their first factors into 4,
    // whose second factors are then all ±(x − y)(x − y)ᵀ).
    let mut parts = gather(parts, &simplest);
    loop {
        let before = parts.len();
        parts = gather(parts, &simplest);
        if parts.len() == before {
            break;
        }
    }
    if parts.is_empty() {
        let (rows, cols) = j.shape.split_at(f_order);
        return Ok(VecForm { parts: vec![Part::Zero(rows.to_vec(), cols.to_vec())] });
    }
    Ok(VecForm { parts: parts.into_iter().map(|p| simplify_part(p, &simplest)).collect() })
}

/// The index positions of the result: F's dims, then X's.
struct Positions {
    f1: usize,
    f2: Option<usize>,
    x1: Option<usize>,
    x2: Option<usize>,
}

fn classify(term: &Term, f_order: usize, x_order: usize) -> Option<Part> {
    let net = &absorb_identities(&term.net);
    let at = Positions {
        f1: 0,
        f2: (f_order == 2).then_some(1),
        x1: (x_order >= 1).then_some(f_order),
        x2: (x_order == 2).then_some(f_order + 1),
    };
    let groups = components(net);
    let c = term.coef.clone();
    let within = |allowed: &[Option<usize>]| {
        let allowed: Vec<usize> = allowed.iter().flatten().copied().collect();
        groups.iter().all(|(positions, _)| {
            positions.iter().all(|p| allowed.contains(p)) || positions.iter().all(|p| !allowed.contains(p))
        })
    };
    let part = |positions: &[Option<usize>], scalars: bool| sub_network(net, &groups, positions, scalars);
    // A factor on X's dims alone is a row of the matrix.
    let oriented = |e: Expr, rows: bool| if !rows && e.order() == 1 { crate::ir::build::transpose(e) } else { e };
    // `A ⊗ B`: B takes the fast dims (F's first, X's first), A the slow ones; a vector
    // side may give its one dim to either.
    let sides = |first: Option<usize>, second: Option<usize>| match (first, second) {
        (Some(a), Some(b)) => vec![(Some(a), Some(b))],
        (Some(a), None) => vec![(Some(a), None), (None, Some(a))],
        _ => vec![(None, None)],
    };
    for (bf, af) in sides(Some(at.f1), at.f2) {
        for (bx, ax) in sides(at.x1, at.x2) {
            if (bf.is_none() && bx.is_none()) || (af.is_none() && ax.is_none()) || !within(&[bf, bx]) {
                continue;
            }
            let b = oriented(part(&[bf, bx], true)?, bf.is_some());
            let a = oriented(part(&[af, ax], false)?, af.is_some());
            return Some(Part::Kron(c, a, b));
        }
    }
    if let (Some(f2), Some(x1), Some(x2)) = (at.f2, at.x1, at.x2) {
        if within(&[Some(at.f1), Some(x2)]) {
            let q = part(&[Some(at.f1), Some(x2)], true)?;
            let p = part(&[Some(f2), Some(x1)], false)?;
            let (dp, dq) = (net.indices[net.output[x1]].clone(), net.indices[net.output[x2]].clone());
            return Some(Part::Commuted(c, p, q, dp, dq));
        }
    }
    if within(&[Some(at.f1), at.f2]) {
        let a = part(&[Some(at.f1), at.f2], true)?;
        let b = part(&[at.x1, at.x2], false)?;
        return Some(Part::Outer(c, a, b));
    }
    // One index on i and k, one on j and l, and nothing else: a diagonal.
    let o = &net.output;
    let diagonal = f_order == x_order
        && at.x1.is_some_and(|x1| o[x1] == o[at.f1])
        && match (at.f2, at.x2) {
            (Some(f2), Some(x2)) => o[x2] == o[f2] && o[f2] != o[at.f1],
            _ => true,
        };
    if diagonal {
        let keep: Vec<usize> = std::iter::once(at.f1).chain(at.f2).collect();
        let inner = Network { output: keep.iter().map(|&p| o[p]).collect(), ..net.clone() };
        let shape = inner.output.iter().map(|&i| inner.indices[i].clone()).collect();
        return Some(Part::Diagonal(c, terms_to_expr(&[Term { coef: BigRational::one(), net: inner }], &shape)));
    }
    sandwich(term, net, f_order, x_order)
        .or_else(|| coupled(term, net, f_order, x_order))
        .or_else(|| row_scaled(term, net, at.f1, at.f2?, f_order, x_order))
}

/// A term of a matrix F by a matrix X whose second dims are one index j (F's i and X's k
/// apart), with one summed index n and each factor on (n, i), (n, k) or (n, j):
/// `Σ_n A[n,i] D[n,j] B[n,k]` is `(I ⊗ A)ᵀ diag(vec(D))(I ⊗ B)`. With their first dims
/// one index, `(A ⊗ I)ᵀ diag(vec(D))(B ⊗ I)`, D on (i, n).
/// A vector F or X is that dim alone, and its side the ones vector: the mixed block of
/// `sum(f(XW + 1bᵀ))` by W and b is `(I ⊗ X)ᵀ diag(vec(f''(XW + 1bᵀ)))(I ⊗ 1)`.
fn sandwich(term: &Term, net: &Network, f_order: usize, x_order: usize) -> Option<Part> {
    // The shared index, F's other (if F has two dims), X's other, and which dims share.
    let (shared, f, x, first) = match (f_order, x_order, &net.output[..]) {
        (2, 2, &[i, j, k, l]) => match (i == k, j == l) {
            (false, true) if i != j && k != j => (j, Some(i), Some(k), false),
            (true, false) if j != i && l != i => (i, Some(j), Some(l), true),
            _ => return None,
        },
        (2, 1, &[i, j, k]) if i != j && (j == k || i == k) => (k, Some(if j == k { i } else { j }), None, i == k),
        (1, 2, &[i, k, l]) if k != l && (i == l || i == k) => (i, None, Some(if i == l { k } else { l }), i == k),
        _ => return None,
    };
    summed(net).into_iter().find_map(|n| sandwich_at(term, net, n, (shared, f, x, first)))
}

/// [`sandwich`] with `n` the samples: the factors grouped by [`clusters`].
fn sandwich_at(
    term: &Term,
    net: &Network,
    n: usize,
    (shared, f, x, first): (usize, Option<usize>, Option<usize>, bool),
) -> Option<Part> {
    let mut groups: [Vec<Factor>; 3] = Default::default();
    for (factors, outer) in clusters(net, n) {
        let within = |allowed: &[usize]| outer.iter().all(|s| allowed.contains(s));
        let on = |side: Option<usize>| side.is_some_and(|d| within(&[n, d]) && outer.contains(&d));
        let group = if on(f) {
            0
        } else if on(x) {
            2
        } else if within(&[n, shared]) {
            1
        } else {
            return None;
        };
        groups[group].extend(factors);
    }
    // A side with a dim of its own has factors; one without has none.
    if groups[1].is_empty() || groups[0].is_empty() == f.is_some() || groups[2].is_empty() == x.is_some() {
        return None;
    }
    let [a, d, b] = groups;
    let middle = if first { raised(net, d, vec![shared, n]) } else { raised(net, d, vec![n, shared]) };
    let side = |factors: Vec<Factor>, dim: Option<usize>| match dim {
        Some(dim) => raised(net, factors, vec![n, dim]),
        None => Expr::new(Kind::Ones, vec![net.indices[n].clone()]),
    };
    Some(Part::Sandwich {
        c: term.coef.clone(),
        left: side(a, f),
        middle,
        right: side(b, x),
        shared: net.indices[shared].clone(),
        first,
    })
}

/// The indices summed over: touched by a factor, not of the result.
fn summed(net: &Network) -> Vec<usize> {
    let touched = |x: usize| net.factors.iter().any(|f| f.slots.contains(&x));
    (0..net.indices.len()).filter(|&x| !net.output.contains(&x) && touched(x)).collect()
}

/// The factors in clusters joined by the indices summed other than `n`, each with the
/// indices it holds that are the result's or `n` (its outer ones): a sum within a
/// cluster stays in its part (`Y1` of Y; `tanh(XW)v` of tanh(XW) and v).
fn clusters(net: &Network, n: usize) -> Vec<(Vec<Factor>, Vec<usize>)> {
    let inner = |x: usize| x != n && !net.output.contains(&x);
    let mut cluster: Vec<usize> = (0..net.factors.len()).collect();
    let find = |cluster: &[usize], mut k: usize| {
        while cluster[k] != k {
            k = cluster[k];
        }
        k
    };
    for x in (0..net.indices.len()).filter(|&x| inner(x)) {
        let holding: Vec<usize> = (0..net.factors.len()).filter(|&k| net.factors[k].slots.contains(&x)).collect();
        for w in holding.windows(2) {
            let (a, b) = (find(&cluster, w[0]), find(&cluster, w[1]));
            cluster[a.max(b)] = a.min(b);
        }
    }
    let mut out: Vec<(usize, Vec<Factor>, Vec<usize>)> = Vec::new();
    for (k, factor) in net.factors.iter().enumerate() {
        let root = find(&cluster, k);
        let at = match out.iter().position(|(r, _, _)| *r == root) {
            Some(at) => at,
            None => {
                out.push((root, Vec::new(), Vec::new()));
                out.len() - 1
            }
        };
        out[at].1.push(factor.clone());
        for &s in factor.slots.iter().filter(|&&s| !inner(s)) {
            if !out[at].2.contains(&s) {
                out[at].2.push(s);
            }
        }
    }
    out.into_iter().map(|(_, factors, outer)| (factors, outer)).collect()
}

/// A term of a matrix F by a matrix X with one index n of samples, summed or one of
/// F's and X's own, F's other dims (i, j) and X's (k, l), and each factor on (n, i),
/// (n, k), (n, j), (n, l) or n alone: `Σ_n A[n,i] D[n,j] E[n,l] B[n,k]` is
/// [`Part::Coupled`]. i (or k) is n itself where A (or B) is the identity. With `first`,
/// F's and X's first dims are the blocks and the second meet the samples.
fn coupled(term: &Term, net: &Network, f_order: usize, x_order: usize) -> Option<Part> {
    let (&[f1, f2, x1, x2], (2, 2)) = (&net.output[..], (f_order, x_order)) else { return None };
    let summed = summed(net);
    let mut best: Option<(usize, Part)> = None;
    for first in [false, true] {
        // F's side and block, X's side and block.
        let (i, j, k, l) = if first { (f2, f1, x2, x1) } else { (f1, f2, x1, x2) };
        let mut samples = summed.clone();
        samples.extend([i, k]);
        for n in samples {
            let distinct = j != l && ![j, l].contains(&n) && ![j, l].contains(&i) && ![j, l].contains(&k);
            if !distinct || (i == k && i != n) {
                continue;
            }
            let mut groups: [Vec<Factor>; 4] = Default::default();
            let fits = clusters(net, n).into_iter().all(|(factors, outer)| {
                let within = |d: usize| outer.iter().all(|&s| s == n || s == d);
                let on = |d: usize| outer.contains(&d) && within(d);
                let group = if i != n && on(i) {
                    0
                } else if k != n && on(k) {
                    3
                } else if on(j) || within(n) {
                    1
                } else if on(l) {
                    2
                } else {
                    return false;
                };
                groups[group].extend(factors);
                true
            });
            let [a, d, e, b] = groups;
            if !fits || d.is_empty() || e.is_empty() || a.is_empty() == (i != n) || b.is_empty() == (k != n) {
                continue;
            }
            let block = |factors: Vec<Factor>, dim: usize| {
                raised(net, factors, if first { vec![dim, n] } else { vec![n, dim] })
            };
            let part = Part::Coupled {
                c: term.coef.clone(),
                left: (i != n).then(|| raised(net, a, vec![n, i])),
                d: block(d, j),
                e: block(e, l),
                right: (k != n).then(|| raised(net, b, vec![n, k])),
                first,
            };
            // Where both ways fit (each factor on the samples and one dim), the sides are
            // the data and the diagonals the function's values: `(Xᵀ ⊗ I)ᵀdiag(vec(P))…`,
            // not `(I ⊗ P)ᵀdiag(vec(Xᵀ))…`. The first of the most named sides.
            let named = |side: &Option<Expr>| {
                side.as_ref().is_none_or(|e| match &e.kind {
                    Kind::Transpose(x) => matches!(x.kind, Kind::Var(_)),
                    kind => matches!(kind, Kind::Var(_)),
                })
            };
            let Part::Coupled { left, right, .. } = &part else { unreachable!() };
            let score = usize::from(named(left)) + usize::from(named(right));
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, part));
            }
        }
    }
    best.map(|(_, part)| part)
}

/// A term whose factors on F's dims alone (i, j), set apart, leave a Kronecker part:
/// `diag(vec(D))` times that part, D the product of those factors on (i, j).
fn row_scaled(term: &Term, net: &Network, f1: usize, f2: usize, f_order: usize, x_order: usize) -> Option<Part> {
    let (i, j) = (net.output[f1], net.output[f2]);
    if i == j {
        return None;
    }
    let on_f = |f: &Factor| f.slots.iter().all(|s| *s == i || *s == j);
    let (scaling, rest): (Vec<Factor>, Vec<Factor>) = net.factors.iter().cloned().partition(|f| on_f(f));
    if scaling.is_empty() {
        return None;
    }
    let inner = Term { coef: term.coef.clone(), net: Network { factors: rest, ..net.clone() } };
    let part = classify(&inner, f_order, x_order)?;
    if !matches!(part, Part::Kron(..) | Part::Commuted(..)) {
        return None;
    }
    Some(Part::RowScaled(raised(net, scaling, vec![i, j]), Box::new(part)))
}

/// The network with each identity factor on two indices contracted away, its two
/// indices made one: `[I_1 X_1]` is `X`, and `δ(a,c)δ(b,d)X(a,b)` is `X(a,b)` on (a, b, a, b).
fn absorb_identities(net: &Network) -> Network {
    let mut net = net.clone();
    while let Some(k) =
        net.factors.iter().position(|f| f.expr.kind == Kind::Identity && f.slots.len() == 2 && f.slots[0] != f.slots[1])
    {
        let (keep, gone) = (net.factors[k].slots[0], net.factors[k].slots[1]);
        net.factors.remove(k);
        let swap = |s: &mut usize| {
            if *s == gone {
                *s = keep;
            }
        };
        net.factors.iter_mut().for_each(|f| f.slots.iter_mut().for_each(swap));
        net.output.iter_mut().for_each(swap);
    }
    net
}

/// The connected groups of a network: each a set of result positions and of factors,
/// joined where they share an index.
fn components(net: &Network) -> Vec<(Vec<usize>, Vec<usize>)> {
    let n = net.output.len();
    let total = n + net.factors.len();
    let mut parent: Vec<usize> = (0..total).collect();
    fn find(parent: &mut Vec<usize>, x: usize) -> usize {
        let mut r = x;
        while parent[r] != r {
            r = parent[r];
        }
        parent[x] = r;
        r
    }
    let join = |a: usize, b: usize, parent: &mut Vec<usize>| {
        let (ra, rb) = (find(parent, a), find(parent, b));
        parent[ra] = rb;
    };
    let touches = |node: usize, index: usize| {
        if node < n {
            net.output[node] == index
        } else {
            net.factors[node - n].slots.contains(&index)
        }
    };
    for index in 0..net.indices.len() {
        let nodes: Vec<usize> = (0..total).filter(|&k| touches(k, index)).collect();
        for w in nodes.windows(2) {
            join(w[0], w[1], &mut parent);
        }
    }
    let mut groups: indexmap::IndexMap<usize, (Vec<usize>, Vec<usize>)> = indexmap::IndexMap::new();
    for k in 0..total {
        let root = find(&mut parent, k);
        let entry = groups.entry(root).or_default();
        if k < n {
            entry.0.push(k);
        } else {
            entry.1.push(k - n);
        }
    }
    groups.into_values().collect()
}

/// The product of the groups on `positions` (the others' positions excluded), as a
/// tensor over those positions' indices, raised to classic form, times the groups on
/// no position (scalars) where `scalars` is set. An index on two positions is an
/// identity with no factor, and the diagonal of the factors' vector on it with some.
fn sub_network(
    net: &Network,
    groups: &[(Vec<usize>, Vec<usize>)],
    positions: &[Option<usize>],
    scalars: bool,
) -> Option<Expr> {
    let wanted: Vec<usize> = positions.iter().flatten().copied().collect();
    let members = |scalar: bool| -> Vec<Factor> {
        groups
            .iter()
            .filter(
                |(ps, _)| if scalar { ps.is_empty() } else { !ps.is_empty() && ps.iter().all(|p| wanted.contains(p)) },
            )
            .flat_map(|(_, fs)| fs.iter().map(|&f| net.factors[f].clone()))
            .collect()
    };
    let raise = |factors, output| raised(net, factors, output);
    let output: Vec<usize> = wanted.iter().map(|&p| net.output[p]).collect();
    let shape: Vec<Dim> = output.iter().map(|&i| net.indices[i].clone()).collect();
    let factors = members(false);
    let repeated = matches!(&output[..], [a, b] if a == b);
    let body = match (factors.is_empty(), repeated) {
        (true, true) => Expr::new(Kind::Identity, shape),
        (true, false) if output.is_empty() => Expr::new(Kind::Const(BigRational::one()), vec![]),
        (true, false) => Expr::new(Kind::Ones, shape),
        // One index on both positions: the factors' vector on it, on the diagonal.
        (false, true) => {
            let v = raise(factors, output[..1].to_vec());
            if v.order() != 1 {
                return None;
            }
            Expr::new(Kind::Diag(Box::new(v)), shape)
        }
        (false, false) => raise(factors, output),
    };
    let scalar = members(true);
    if !scalars || scalar.is_empty() {
        return Some(body);
    }
    Some(crate::ir::build::product(raise(scalar, vec![]), body))
}

/// Some of `net`'s factors, on `output` (indices of `net`), as a classic expression.
fn raised(net: &Network, factors: Vec<Factor>, output: Vec<usize>) -> Expr {
    let shape: Vec<Dim> = output.iter().map(|&i| net.indices[i].clone()).collect();
    let sub = only_used(Network { factors, indices: net.indices.clone(), output, origin: net.origin.clone() });
    terms_to_expr(&[Term { coef: BigRational::one(), net: crate::network::tidy(sub) }], &shape)
}

/// `net` with only the indices its factors or output touch. The others belong to other
/// groups (or were merged away with an identity); left in, a raise would read each as
/// a sum of ones over its size, multiplying the part by it.
fn only_used(mut net: Network) -> Network {
    let mut used: indexmap::IndexSet<usize> = indexmap::IndexSet::new();
    used.extend(net.output.iter().copied());
    used.extend(net.factors.iter().flat_map(|f| f.slots.iter().copied()));
    let mut kept: Vec<usize> = used.into_iter().collect();
    kept.sort_unstable();
    let at = |i: usize| kept.binary_search(&i).expect("a used index");
    net.factors.iter_mut().for_each(|f| f.slots.iter_mut().for_each(|s| *s = at(*s)));
    net.output.iter_mut().for_each(|o| *o = at(*o));
    net.indices = kept.iter().map(|&i| net.indices[i].clone()).collect();
    net
}

/// Parts of one kind with an equal factor, gathered: `c(P ⊗ Q) + d(P ⊗ R) = P ⊗ (cQ + dR)`.
fn gather(parts: Vec<Part>, simplest: &dyn Fn(Expr) -> Expr) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::new();
    for part in parts {
        let merged = out.iter_mut().any(|o| match (o, &part) {
            (Part::Kron(c, p, q), Part::Kron(d, p2, q2)) | (Part::Outer(c, p, q), Part::Outer(d, p2, q2)) => {
                merge(c, p, q, d, p2, q2, simplest)
            }
            (Part::Commuted(c, p, q, _, _), Part::Commuted(d, p2, q2, _, _)) => merge(c, p, q, d, p2, q2, simplest),
            (Part::Diagonal(c, a), Part::Diagonal(d, b)) => {
                *a = simplest(sum2(c, a, d, b));
                *c = BigRational::one();
                true
            }
            (
                Part::Sandwich { c, left, middle, right, first, .. },
                Part::Sandwich { c: d, left: l2, middle: m2, right: r2, first: f2, .. },
            ) if left == l2 && right == r2 && first == f2 => {
                *middle = simplest(sum2(c, middle, d, m2));
                *c = BigRational::one();
                true
            }
            _ => false,
        });
        if !merged {
            out.push(part);
        }
    }
    out
}

/// `c P ⊗ Q + d P2 ⊗ Q2` into the first when a factor is shared.
fn merge(
    c: &mut BigRational,
    p: &mut Expr,
    q: &mut Expr,
    d: &BigRational,
    p2: &Expr,
    q2: &Expr,
    simplest: &dyn Fn(Expr) -> Expr,
) -> bool {
    // A factor equal to the other's negation counts as equal, the sign moved to the
    // other factor: `P ⊗ Q − P ⊗ R` where the second was written `(−P) ⊗ R`.
    let negated = |a: &Expr, b: &Expr| simplest(crate::ir::build::scale(-BigRational::one(), b.clone())) == *a;
    // Each part also as it reads with a scalar factor moved to its other factor
    // (`I_r ⊗ λI_n` is `λI_r ⊗ I_n`), so that `HHᵀ ⊗ I_n + I_r ⊗ λI_n` meets by I_n.
    let first = moved_scalars(c, p, q, simplest);
    let second = moved_scalars(d, p2, q2, simplest);
    for (c1, p1, q1) in &first {
        for (d2, p2, q2) in &second {
            let met = if p1 == p2 {
                Some((p1.clone(), simplest(sum2(c1, q1, d2, q2))))
            } else if q1 == q2 {
                Some((simplest(sum2(c1, p1, d2, p2)), q1.clone()))
            } else if negated(p1, p2) {
                Some((p1.clone(), simplest(sum2(c1, q1, &-d2.clone(), q2))))
            } else if negated(q1, q2) {
                Some((simplest(sum2(c1, p1, &-d2.clone(), p2)), q1.clone()))
            } else {
                None
            };
            if let Some((a, b)) = met {
                (*c, *p, *q) = (BigRational::one(), a, b);
                return true;
            }
        }
    }
    false
}

/// `c P ⊗ Q` as written, then with a scalar factor of Q moved to P, then one of P moved
/// to Q (`s A ⊗ B = A ⊗ s B`).
fn moved_scalars(
    c: &BigRational,
    p: &Expr,
    q: &Expr,
    simplest: &dyn Fn(Expr) -> Expr,
) -> Vec<(BigRational, Expr, Expr)> {
    let mut out = vec![(c.clone(), p.clone(), q.clone())];
    let onto = |s: Option<Expr>, e: &Expr| match s {
        Some(s) => simplest(crate::ir::build::product(s, e.clone())),
        None => e.clone(),
    };
    if let Some((k, s, rest)) = scalar_factor(q) {
        out.push((c * k, onto(s, p), rest));
    }
    if let Some((k, s, rest)) = scalar_factor(p) {
        out.push((c * k, rest, onto(s, q)));
    }
    out
}

fn sum2(c: &BigRational, a: &Expr, d: &BigRational, b: &Expr) -> Expr {
    let scaled = |k: &BigRational, e: &Expr| crate::ir::build::scale(k.clone(), e.clone());
    Expr::new(Kind::Add(vec![scaled(c, a), scaled(d, b)]), a.shape.clone())
}

fn simplify_part(p: Part, simplest: &dyn Fn(Expr) -> Expr) -> Part {
    match p {
        Part::Kron(c, a, b) => Part::Kron(c, simplest(a), simplest(b)),
        Part::Commuted(c, a, b, dp, dq) => Part::Commuted(c, simplest(a), simplest(b), dp, dq),
        Part::Outer(c, a, b) => Part::Outer(c, simplest(a), simplest(b)),
        Part::Diagonal(c, a) => Part::Diagonal(c, simplest(a)),
        Part::RowScaled(d, p) => Part::RowScaled(simplest(d), Box::new(simplify_part(*p, simplest))),
        Part::Sandwich { c, left, middle, right, shared, first } => {
            Part::Sandwich { c, left: simplest(left), middle: simplest(middle), right: simplest(right), shared, first }
        }
        Part::Coupled { c, left, d, e, right, first } => Part::Coupled {
            c,
            left: left.map(simplest),
            d: simplest(d),
            e: simplest(e),
            right: right.map(simplest),
            first,
        },
        other => other,
    }
}

impl VecForm {
    /// The matrix at the values of `env` (definitions already evaluated).
    pub fn value(&self, env: &Env<f64>) -> Result<Array2<f64>> {
        let mut total: Option<Array2<f64>> = None;
        for part in &self.parts {
            let m = part.value(env)?;
            total = Some(match total {
                None => m,
                Some(t) if t.dim() == m.dim() => t + m,
                Some(_) => return Err(Error::bare(ErrorCode::Eval, "the parts have different sizes".to_string())),
            });
        }
        total.ok_or_else(|| Error::bare(ErrorCode::Eval, "an empty form".to_string()))
    }
}

impl Part {
    fn value(&self, env: &Env<f64>) -> Result<Array2<f64>> {
        let scaled = |c: &BigRational, m: Array2<f64>| m * num_traits::ToPrimitive::to_f64(c).unwrap_or(f64::NAN);
        Ok(match self {
            Part::Same(e) => as_matrix(&eval(e, env)?, e),
            Part::Row(g) => column_vec(&eval(g, env)?).reversed_axes(),
            Part::Kron(c, p, q) => scaled(c, kron(&as_matrix(&eval(p, env)?, p), &as_matrix(&eval(q, env)?, q))),
            Part::Commuted(c, p, q, dp, dq) => {
                let m = kron(&as_matrix(&eval(p, env)?, p), &as_matrix(&eval(q, env)?, q));
                let (a, b) = (env.size(dp)?, env.size(dq)?);
                scaled(c, m.dot(&commutation(a, b)))
            }
            Part::Outer(c, a, b) => {
                let (u, v) = (column_vec(&eval(a, env)?), column_vec(&eval(b, env)?));
                scaled(c, u.dot(&v.reversed_axes()))
            }
            Part::Diagonal(c, d) => {
                let v = column_vec(&eval(d, env)?);
                scaled(c, Array2::from_diag(&v.column(0)))
            }
            Part::RowScaled(d, p) => {
                let v = column_vec(&eval(d, env)?);
                Array2::from_diag(&v.column(0)).dot(&p.value(env)?)
            }
            Part::Sandwich { c, left, middle, right, shared, first } => {
                let block = env.size(shared)?;
                let side = |m: &Expr| beside_identity(m, block, *first, env);
                let v = column_vec(&eval(middle, env)?);
                let scaled_rows = Array2::from_diag(&v.column(0)).dot(&side(right)?);
                scaled(c, side(left)?.reversed_axes().dot(&scaled_rows))
            }
            Part::Coupled { c, left, d, e, right, first } => {
                let (dv, ev) = (eval(d, env)?, eval(e, env)?);
                // D on (n, j), E on (n, l); with `first` on (j, n) and (l, n).
                let at = usize::from(!*first);
                let (n, j, l) = (dv.shape()[1 - at], dv.shape()[at], ev.shape()[at]);
                let ones = Array2::from_elem((j, l), 1.0);
                let coupling = if *first { kron(&Array2::eye(n), &ones) } else { kron(&ones, &Array2::eye(n)) };
                let diagonal = |v: &ArrayD<f64>| Array2::from_diag(&column_vec(v).column(0).to_owned());
                let mut m = diagonal(&dv).dot(&coupling).dot(&diagonal(&ev));
                let side = |s: &Expr, block: usize| beside_identity(s, block, *first, env);
                if let Some(b) = right {
                    m = m.dot(&side(b, l)?);
                }
                if let Some(a) = left {
                    m = side(a, j)?.reversed_axes().dot(&m);
                }
                scaled(c, m)
            }
            Part::Zero(rows, cols) => {
                let size = |dims: &[Dim]| dims.iter().map(|d| env.size(d)).product::<Result<usize>>();
                Array2::zeros((size(rows)?, size(cols)?))
            }
        })
    }
}

/// `k`, `s` and `B` of `k sB` (k a number, s a scalar, B a matrix or vector), where
/// `e` has a number or a scalar in front.
pub(super) fn scalar_factor(e: &Expr) -> Option<(BigRational, Option<Expr>, Expr)> {
    match &e.kind {
        Kind::Product(a, b) if a.is_scalar() && !b.is_scalar() => {
            Some((BigRational::one(), Some((**a).clone()), (**b).clone()))
        }
        Kind::Scale(k, x) if !k.is_negative() => match scalar_factor(x) {
            Some((j, s, b)) => Some((k * j, s, b)),
            None => Some((k.clone(), None, (**x).clone())),
        },
        _ => None,
    }
}

/// The value of `I ⊗ M` (with `first`, `M ⊗ I`), the identity of size `block`.
fn beside_identity(m: &Expr, block: usize, first: bool, env: &Env<f64>) -> Result<Array2<f64>> {
    let m = as_matrix(&eval(m, env)?, m);
    let identity = Array2::eye(block);
    Ok(if first { kron(&m, &identity) } else { kron(&identity, &m) })
}

/// A value as a matrix: a vector is a column, a transposed vector a row.
fn as_matrix(a: &ArrayD<f64>, e: &Expr) -> Array2<f64> {
    let row = matches!(&e.kind, Kind::Transpose(x) if x.order() == 1);
    match a.ndim() {
        0 => Array2::from_elem((1, 1), a.iter().next().copied().unwrap_or(f64::NAN)),
        1 if row => column_vec(a).reversed_axes(),
        1 => column_vec(a),
        _ => {
            let flat: Vec<f64> = a.iter().copied().collect();
            let (r, c) = if row { (1, flat.len()) } else { (a.shape()[0], flat.len() / a.shape()[0].max(1)) };
            Array2::from_shape_vec((r, c), flat).unwrap_or_else(|_| Array2::zeros((0, 0)))
        }
    }
}

/// vec(a) as a column: entries in column-major order.
pub fn column_vec(a: &ArrayD<f64>) -> Array2<f64> {
    let values: Vec<f64> = a.t().iter().copied().collect();
    Array2::from_shape_vec((values.len(), 1), values).expect("a column")
}

fn kron(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let (m, n) = a.dim();
    let (p, q) = b.dim();
    Array2::from_shape_fn((m * p, n * q), |(r, c)| a[[r / p, c / q]] * b[[r % p, c % q]])
}

/// K with `K vec(X) = vec(Xᵀ)` for a p×q matrix X.
fn commutation(p: usize, q: usize) -> Array2<f64> {
    let mut k = Array2::zeros((p * q, p * q));
    for a in 0..q {
        for b in 0..p {
            // Row a + q b of vec(Xᵀ) is X[b, a], entry b + p a of vec(X).
            k[[a + q * b, b + p * a]] = 1.0;
        }
    }
    k
}

/// The vec-layout matrix of a tensor-layout derivative value: F's entries (column-major)
/// down, X's across.
pub fn reshape_tensor(t: &ArrayD<f64>, f_order: usize) -> Array2<f64> {
    let shape = t.shape().to_vec();
    let rows: usize = shape[..f_order].iter().product();
    let cols: usize = shape[f_order..].iter().product();
    let mut m = Array2::zeros((rows, cols));
    for (index, v) in t.indexed_iter() {
        let index: Vec<usize> = (0..shape.len()).map(|k| index[k]).collect();
        let flat = |dims: &[usize], at: &[usize]| {
            let mut stride = 1;
            let mut out = 0;
            for (d, i) in dims.iter().zip(at) {
                out += i * stride;
                stride *= d;
            }
            out
        };
        let at = &index[..];
        let r = flat(&shape[..f_order], &at[..f_order]);
        let c = flat(&shape[f_order..], &at[f_order..]);
        m[[r, c]] = *v;
    }
    m
}

/// Compares the vec form with the tensor layout `j`, reshaped, at random points: the
/// largest relative difference, which is rounding only when the form is right. A form
/// of another size than the tensor fails.
pub fn check_vec(model: &Model, j: &Expr, f_order: usize, form: &VecForm, points: u64) -> crate::eval::check::Check {
    crate::eval::check::worst_over_draws(points, 500, 4, |draw| {
        let mut env: Env<f64> = crate::eval::random_env(model, draw)?;
        for (name, e) in &model.definitions {
            let v = eval(e, &env)?;
            env.values.insert(name.clone(), v);
        }
        let (a, b) = (form.value(&env)?, reshape_tensor(&eval(j, &env)?, f_order));
        if a.dim() != b.dim() {
            return Ok(1.0);
        }
        if !a.iter().chain(b.iter()).all(|v| v.is_finite()) {
            return Ok(f64::NAN);
        }
        let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        Ok(a.iter().zip(b.iter()).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale)
    })
}
