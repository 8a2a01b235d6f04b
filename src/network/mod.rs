//! Tensor networks: lowering classic expressions to sums of networks, tidying them, and
//! the network of a generalized product. Writing them is the printers' (`render/bracket.rs`).
//!
//! [`lower`] takes an [`Expr`] and gives `Σ coefficient · network` whose factors are
//! atoms (names, `dX`, and non-multilinear sub-expressions kept whole), with `I` and `1`
//! eliminated where they can be.

use crate::ir::expr::*;
use crate::ir::shape::Dim;
use indexmap::{IndexMap, IndexSet};
use num_rational::BigRational;
use num_traits::{One, Zero};

/// Most terms a lowering may produce before a sub-expression is kept whole.
pub const MAX_TERMS: usize = 256;

/// One term of a lowered expression: `coef · network`.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// Exact rational coefficient.
    pub coef: BigRational,
    /// The network; its factors are atoms.
    pub net: Network,
}

fn empty() -> Network {
    Network { factors: vec![], indices: vec![], output: vec![], origin: Origin::Bracket }
}

fn atom(e: &Expr) -> Network {
    let n = e.order();
    Network {
        factors: vec![Factor { expr: e.clone(), slots: (0..n).collect() }],
        indices: e.shape.clone(),
        output: (0..n).collect(),
        origin: Origin::Bracket,
    }
}

/// Puts two networks side by side; returns the offset of `b`'s indices and `a`'s output
/// (the result's output is left empty for the caller to choose).
fn merge(a: Network, b: &Network) -> (Network, usize, Vec<usize>) {
    let offset = a.indices.len();
    let mut out = a;
    let left = std::mem::take(&mut out.output);
    out.indices.extend(b.indices.iter().cloned());
    for f in &b.factors {
        out.factors.push(Factor { expr: f.expr.clone(), slots: f.slots.iter().map(|s| s + offset).collect() });
    }
    (out, offset, left)
}

/// Makes each pair of indices one index; drops indices nothing refers to; renumbers
/// in order of first use.
fn identify(mut net: Network, pairs: &[(usize, usize)]) -> Network {
    let mut parent: Vec<usize> = (0..net.indices.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for &(a, b) in pairs {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            let (keep, drop) = if net.indices[ra] == Dim::Iota { (rb, ra) } else { (ra, rb) };
            parent[drop] = keep;
        }
    }
    let mut renumber: IndexMap<usize, usize> = IndexMap::new();
    let mut take = |x: usize, parent: &mut Vec<usize>| {
        let r = find(parent, x);
        let n = renumber.len();
        *renumber.entry(r).or_insert(n)
    };
    for f in &mut net.factors {
        for s in &mut f.slots {
            *s = take(*s, &mut parent);
        }
    }
    for o in &mut net.output {
        *o = take(*o, &mut parent);
    }
    // An index nothing refers to is kept (it sums a constant over its size) unless it
    // is `ι`, whose size is one.
    for i in 0..net.indices.len() {
        if find(&mut parent, i) == i && net.indices[i] != Dim::Iota {
            let n = renumber.len();
            renumber.entry(i).or_insert(n);
        }
    }
    net.indices = renumber.keys().map(|&r| net.indices[r].clone()).collect();
    net
}

fn cross(a: Vec<Term>, b: Vec<Term>, join: impl Fn(Network, &Network) -> Network) -> Option<Vec<Term>> {
    if a.len().saturating_mul(b.len()) > MAX_TERMS {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        // The left network is moved into its last product, cloned for the others: a
        // long chain lowers in time linear in its length, not quadratic.
        let Some((last, rest)) = b.split_last() else { continue };
        for y in rest {
            out.push(Term { coef: &x.coef * &y.coef, net: join(x.net.clone(), &y.net) });
        }
        out.push(Term { coef: &x.coef * &last.coef, net: join(x.net, &last.net) });
    }
    Some(out)
}

/// Lowers an expression to a sum of networks over atoms.
///
/// ```
/// use bracket::{read, lower};
/// let m = read("A B").unwrap();
/// let terms = lower(m.main_expr().unwrap());
/// assert_eq!(terms.len(), 1);
/// assert_eq!(terms[0].net.factors.len(), 2);
/// ```
pub fn lower(e: &Expr) -> Vec<Term> {
    lower_keeping(e, &|_| false)
}

/// [`lower`], keeping whole (as one atom each) the sub-expressions `whole` picks: a sum
/// that is a common factor of every term it would expand to stays one factor.
pub fn lower_keeping(e: &Expr, whole: Whole) -> Vec<Term> {
    let terms = lower_or_keep(whole, e);
    terms.into_iter().map(|t| Term { coef: t.coef, net: tidy(t.net) }).collect()
}

fn keep(e: &Expr) -> Vec<Term> {
    vec![Term { coef: BigRational::one(), net: atom(e) }]
}

/// Which sub-expressions a lowering keeps whole, as atoms.
type Whole<'a> = &'a dyn Fn(&Expr) -> bool;

fn lower_or_keep(whole: Whole, e: &Expr) -> Vec<Term> {
    if whole(e) {
        return keep(e);
    }
    lower_inner(whole, e).unwrap_or_else(|| keep(e))
}

fn lower_inner(whole: Whole, e: &Expr) -> Option<Vec<Term>> {
    Some(match &e.kind {
        Kind::Const(c) => vec![Term { coef: c.clone(), net: empty() }],
        Kind::Scale(c, x) => {
            lower_or_keep(whole, x).into_iter().map(|t| Term { coef: &t.coef * c, net: t.net }).collect()
        }
        // A sum adds terms one for one: only products multiply them, so only those are limited.
        Kind::Add(terms) => terms.iter().flat_map(|t| lower_or_keep(whole, t)).collect(),
        Kind::Product(a, b) => {
            let (ao, bo, eo) = (a.order(), b.order(), e.order());
            cross(lower_or_keep(whole, a), lower_or_keep(whole, b), |x, y| {
                let (mut m, off, xo) = merge(x, y);
                let yo: Vec<usize> = y.output.iter().map(|i| i + off).collect();
                if ao == 0 || bo == 0 {
                    m.output = if ao == 0 { yo } else { xo };
                    return identify(m, &[]);
                }
                let mut pairs = vec![];
                if ao == 2 {
                    pairs.push((xo[1], yo[0]));
                }
                let mut out = vec![xo[0]];
                if bo == 2 {
                    out.push(yo[1]);
                }
                let net = identify(Network { output: out, ..m }, &pairs);
                identify(fit_output(net, eo), &[])
            })?
        }
        Kind::DivScalar(a, s) if matches!(&s.kind, Kind::Const(c) if !c.is_zero()) => {
            let Kind::Const(c) = &s.kind else { unreachable!() };
            lower_or_keep(whole, a).into_iter().map(|t| Term { coef: &t.coef / c, net: t.net }).collect()
        }
        Kind::DivScalar(a, s) => {
            // `a/(2N)`: the number goes to the coefficient, 1/N stays a scalar factor.
            let (c, rest) = split_number(s);
            let one = Expr::new(Kind::Const(BigRational::one()), vec![]);
            let inv = Expr::new(Kind::DivScalar(Box::new(one), Box::new(rest)), vec![]);
            let terms = cross(lower_or_keep(whole, a), keep(&inv), |x, y| {
                let (mut m, _, xo) = merge(x, y);
                m.output = xo;
                m
            })?;
            terms.into_iter().map(|t| Term { coef: t.coef / &c, net: t.net }).collect()
        }
        Kind::Transpose(x) => {
            let xo = x.order();
            lower_or_keep(whole, x)
                .into_iter()
                .map(|mut t| {
                    match xo {
                        1 => {
                            t.net.indices.push(Dim::Iota);
                            let iota = t.net.indices.len() - 1;
                            t.net.output.insert(0, iota);
                        }
                        2 if e.order() == 1 => {
                            t.net.output.remove(0);
                            t.net = identify(std::mem::replace(&mut t.net, empty()), &[]);
                        }
                        2 => t.net.output.swap(0, 1),
                        _ => {}
                    }
                    t
                })
                .collect()
        }
        Kind::Hadamard(a, b) => cross(lower_or_keep(whole, a), lower_or_keep(whole, b), |x, y| {
            let (mut m, off, xo) = merge(x, y);
            let pairs: Vec<(usize, usize)> = xo.iter().zip(&y.output).map(|(&p, &q)| (p, q + off)).collect();
            m.output = xo;
            identify(m, &pairs)
        })?,
        Kind::HDiv(a, b) => {
            // a ⊘ b = a ⊙ b^{⊙-1}: linear in a.
            let inv = Expr::new(Kind::HPower(b.clone(), -BigRational::one()), b.shape.clone());
            cross(lower_or_keep(whole, a), keep(&inv), |x, y| {
                let (mut m, off, xo) = merge(x, y);
                let pairs: Vec<(usize, usize)> = xo.iter().zip(&y.output).map(|(&p, &q)| (p, q + off)).collect();
                m.output = xo;
                identify(m, &pairs)
            })?
        }
        Kind::Kron(a, b) => cross(lower_or_keep(whole, a), lower_or_keep(whole, b), |x, y| {
            let (mut m, off, xo) = merge(x, y);
            m.output = xo.iter().copied().chain(y.output.iter().map(|q| q + off)).collect();
            m
        })?,
        Kind::Dot(a, b) => cross(lower_or_keep(whole, a), lower_or_keep(whole, b), |x, y| {
            let (m, off, xo) = merge(x, y);
            let pairs: Vec<(usize, usize)> = xo.iter().zip(&y.output).map(|(&p, &q)| (p, q + off)).collect();
            identify(m, &pairs)
        })?,
        Kind::Gen { lhs, rhs, left, right, .. } => {
            cross(lower_or_keep(whole, lhs), lower_or_keep(whole, rhs), |x, y| {
                let (mut m, off, xo) = merge(x, y);
                let pairs: Vec<(usize, usize)> =
                    left.iter().zip(right).map(|(p, q)| (xo[p.at - 1], y.output[q.at - 1] + off)).collect();
                let mut out: Vec<usize> = Vec::new();
                for (k, &i) in xo.iter().enumerate() {
                    if !left.iter().any(|p| p.at == k + 1 && p.bar) {
                        out.push(i);
                    }
                }
                for (k, &j) in y.output.iter().enumerate() {
                    if !right.iter().any(|q| q.at == k + 1) {
                        out.push(j + off);
                    }
                }
                m.output = out;
                identify(m, &pairs)
            })?
        }
        Kind::Trace(x) => lower_or_keep(whole, x)
            .into_iter()
            .map(|t| {
                let pair = (t.net.output[0], t.net.output[1]);
                let net = Network { output: vec![], ..t.net };
                Term { coef: t.coef, net: identify(net, &[pair]) }
            })
            .collect(),
        Kind::Sum(x) => lower_or_keep(whole, x)
            .into_iter()
            .map(|t| Term { coef: t.coef, net: Network { output: vec![], ..t.net } })
            .collect(),
        Kind::Diag(x) if x.order() == 1 => lower_or_keep(whole, x)
            .into_iter()
            .map(|mut t| {
                let i = t.net.output[0];
                let d = t.net.indices[i].clone();
                t.net.indices.push(d.clone());
                let j = t.net.indices.len() - 1;
                let eye = Expr::new(Kind::Identity, vec![d.clone(), d]);
                t.net.factors.push(Factor { expr: eye, slots: vec![i, j] });
                t.net.output = vec![i, j];
                t
            })
            .collect(),
        Kind::Diag(x) => lower_or_keep(whole, x)
            .into_iter()
            .map(|t| {
                let pair = (t.net.output[0], t.net.output[1]);
                let net = Network { output: vec![t.net.output[0]], ..t.net };
                Term { coef: t.coef, net: identify(net, &[pair]) }
            })
            .collect(),
        Kind::Permute(x, perm) => lower_or_keep(whole, x)
            .into_iter()
            .map(|mut t| {
                t.net.output = perm.iter().map(|&p| t.net.output[p]).collect();
                t
            })
            .collect(),
        Kind::Network(net) => {
            let skeleton =
                Network { factors: vec![], indices: net.indices.clone(), output: vec![], origin: Origin::Bracket };
            let mut acc: Vec<(BigRational, Network, Vec<(usize, usize)>)> =
                vec![(BigRational::one(), skeleton, vec![])];
            for f in &net.factors {
                let terms = lower_or_keep(whole, &f.expr);
                if acc.len().saturating_mul(terms.len()) > MAX_TERMS {
                    return None;
                }
                let mut next = Vec::with_capacity(acc.len() * terms.len());
                for (c, m, pairs) in &acc {
                    for t in &terms {
                        let (merged, off, _) = merge(m.clone(), &t.net);
                        let mut p = pairs.clone();
                        p.extend(f.slots.iter().zip(&t.net.output).map(|(&s, &q)| (s, q + off)));
                        next.push((c * &t.coef, merged, p));
                    }
                }
                acc = next;
            }
            acc.into_iter()
                .map(|(coef, mut m, pairs)| {
                    m.output = net.output.clone();
                    Term { coef, net: identify(m, &pairs) }
                })
                .collect()
        }
        _ => return None,
    })
}

/// A scalar product `2N` as its number and the rest: (2, N). A zero number is kept whole.
fn split_number(s: &Expr) -> (BigRational, Expr) {
    if let Kind::Product(x, y) = &s.kind {
        if let Kind::Const(c) = &x.kind {
            if !c.is_zero() && y.is_scalar() {
                let (c2, rest) = split_number(y);
                return (c * c2, rest);
            }
        }
    }
    if let Kind::Scale(c, x) = &s.kind {
        if !c.is_zero() {
            let (c2, rest) = split_number(x);
            return (c * c2, rest);
        }
    }
    (BigRational::one(), s.clone())
}

/// Drops `ι` dims from a product's output until it has the expression's order.
fn fit_output(mut net: Network, order: usize) -> Network {
    while net.output.len() > order {
        let at = net.output.iter().rposition(|&i| net.indices[i] == Dim::Iota).unwrap_or(net.output.len() - 1);
        net.output.remove(at);
    }
    net
}

/// Removes `I` factors that only rename an index and `1` factors whose every dim is
/// also used by another factor.
pub fn tidy(mut net: Network) -> Network {
    loop {
        let touches = touch_counts(&net);
        let free: IndexSet<usize> = net.output.iter().copied().collect();
        let mut changed = false;
        for k in 0..net.factors.len() {
            let f = &net.factors[k];
            match f.expr.kind {
                Kind::Identity => {
                    let (i, j) = (f.slots[0], f.slots[1]);
                    if i != j && (!free.contains(&i) || !free.contains(&j)) {
                        net.factors.remove(k);
                        net = identify(net, &[(i, j)]);
                        changed = true;
                    }
                }
                Kind::Ones => {
                    let mut seen: IndexMap<usize, usize> = IndexMap::new();
                    for &s in &f.slots {
                        *seen.entry(s).or_insert(0) += 1;
                    }
                    if seen.iter().all(|(s, n)| touches[*s] > *n) {
                        net.factors.remove(k);
                        changed = true;
                    }
                }
                _ => {}
            }
            if changed {
                break;
            }
        }
        if !changed {
            // An identity between two summed indices leaves one on no factor: a factor
            // of its size (Σ_ij δ_ij = n), which a ones vector on it keeps (`1ᵀ1`).
            let touches = touch_counts(&net);
            for i in 0..net.indices.len() {
                if touches[i] == 0 && !free.contains(&i) && net.indices[i] != Dim::Iota {
                    net.factors
                        .push(Factor { expr: Expr::new(Kind::Ones, vec![net.indices[i].clone()]), slots: vec![i] });
                }
            }
            return net;
        }
    }
}

fn touch_counts(net: &Network) -> Vec<usize> {
    let mut n = vec![0; net.indices.len()];
    for f in &net.factors {
        for &s in &f.slots {
            n[s] += 1;
        }
    }
    n
}

/// A network that only places its factors side by side (every index free and on one
/// slot) as the classic `a ⊗ b ⊗ …`, permuted if needed (`Aᵀ`, `(a ⊗ B)_{213}`).
/// A free index on no factor is a ones vector's: `(V ⊗ 1)_{132}` repeats V along its
/// second dim.
pub fn as_outer_product(net: &Network) -> Option<Expr> {
    let slots: Vec<usize> = net.factors.iter().flat_map(|f| f.slots.iter().copied()).collect();
    let distinct: IndexSet<usize> = slots.iter().copied().collect();
    let ones = net.factors.iter().any(|f| f.expr.kind == Kind::Ones);
    let free: IndexSet<usize> = net.output.iter().copied().collect();
    if ones || net.factors.is_empty() || distinct.len() != slots.len() || free.len() != net.output.len() {
        return None;
    }
    let mut factors = net.factors.clone();
    let repeated: Vec<usize> = net.output.iter().copied().filter(|i| !distinct.contains(i)).collect();
    for &i in &repeated {
        // (The ι of a row is no dim to repeat along: `ι x_1` is xᵀ, not 1xᵀ.)
        if net.indices[i] == Dim::Iota {
            return None;
        }
        factors.push(Factor { expr: Expr::new(Kind::Ones, vec![net.indices[i].clone()]), slots: vec![i] });
    }
    // Every slot free, and each free index on one slot or repeated along.
    if net.output.len() != slots.len() + repeated.len() {
        return None;
    }
    // Factors in the order their dims first appear in the result: `x ⊗ I`, not `(I ⊗ x)_{312}`.
    // A scalar factor scales the product (`|X|(X⁻¹ ⊗ X⁻¹)`, not `|X| ⊗ X⁻¹ ⊗ X⁻¹`).
    let (scalars, tensors): (Vec<&Factor>, Vec<&Factor>) = factors.iter().partition(|f| f.slots.is_empty());
    let mut order = tensors;
    order.sort_by_key(|f| f.slots.iter().filter_map(|s| net.output.iter().position(|o| o == s)).min());
    let slots: Vec<usize> = order.iter().flat_map(|f| f.slots.iter().copied()).collect();
    let mut acc: Option<Expr> = None;
    for f in order {
        acc = Some(match acc {
            None => f.expr.clone(),
            Some(a) => {
                let mut shape = a.shape.clone();
                shape.extend(f.expr.shape.iter().cloned());
                Expr::new(Kind::Kron(Box::new(a), Box::new(f.expr.clone())), shape)
            }
        });
    }
    let mut body = crate::ir::build::arranged(acc?, &slots, &net.output)?;
    for s in scalars.into_iter().rev() {
        body = crate::ir::build::product(s.expr.clone(), body);
    }
    Some(body)
}

/// The network of a generalized product `A^{P} ⊙^{Q} B`.
pub fn gen_network(e: &Expr) -> Option<Network> {
    let Kind::Gen { lhs, rhs, left, right, .. } = &e.kind else { return None };
    let mut indices: Vec<Dim> = lhs.shape.clone();
    let a_slots: Vec<usize> = (0..lhs.order()).collect();
    let mut b_slots = Vec::new();
    for (k, d) in rhs.shape.iter().enumerate() {
        match right.iter().position(|q| q.at == k + 1) {
            Some(i) => b_slots.push(left[i].at - 1),
            None => {
                b_slots.push(indices.len());
                indices.push(d.clone());
            }
        }
    }
    let mut output: Vec<usize> = (0..lhs.order()).filter(|k| !left.iter().any(|p| p.at == k + 1 && p.bar)).collect();
    for (k, _) in rhs.shape.iter().enumerate() {
        if !right.iter().any(|q| q.at == k + 1) {
            output.push(b_slots[k]);
        }
    }
    Some(Network {
        factors: vec![
            Factor { expr: (**lhs).clone(), slots: a_slots },
            Factor { expr: (**rhs).clone(), slots: b_slots },
        ],
        indices,
        output,
        origin: Origin::Bracket,
    })
}
