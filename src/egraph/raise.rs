//! Raising networks to classic notation, and the canonical form of networks that lets
//! equal terms merge: the e-graph's `raise-network` applier and the take-out step both
//! use them. Chains of products become `ABᵀC`, Hadamard products `A ⊙ BC`, separate
//! parts a tensor product, and a sum of raised terms is factored where terms share a
//! first or last factor.

use crate::egraph::contract;
use crate::ir::build::{product, transpose, zero};
use crate::ir::expr::*;
use crate::ir::shape::{Dim, Shape};
use crate::network::Term;
use crate::render::{Format, Printer};
use indexmap::IndexMap;
use num_rational::BigRational;
use num_traits::{One, Zero};

/// Most factor orders tried when canonicalising a network with repeated factors.
const MAX_PERMUTATIONS: usize = 5040;

/// Adds up terms whose networks are equal up to relabelling.
pub fn merge_terms(terms: Vec<Term>) -> Vec<Term> {
    let mut merged: IndexMap<String, Term> = IndexMap::new();
    for t in terms {
        let (key, net) = canonical(&t.net);
        match merged.get_mut(&key) {
            Some(m) => m.coef = &m.coef + &t.coef,
            None => {
                merged.insert(key, Term { coef: t.coef, net });
            }
        }
    }
    merged.into_values().filter(|t| !t.coef.is_zero()).collect()
}

/// The canonical form of a network: factors sorted by what they are, ties broken by the
/// smallest labelling; free indices labelled by result position, summed ones by first
/// use. Equal networks give equal keys.
pub fn canonical(net: &Network) -> (String, Network) {
    let printer = Printer::new(Format::Ascii);
    let keys: Vec<String> = net.factors.iter().map(|f| printer.top(&f.expr)).collect();
    let mut order: Vec<usize> = (0..net.factors.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
    // Groups of equal keys, permuted among themselves.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &f in &order {
        match groups.last_mut() {
            Some(g) if keys[g[0]] == keys[f] => g.push(f),
            _ => groups.push(vec![f]),
        }
    }
    // Factorials overflow from 21 equal factors: saturate rather than wrap.
    let count: usize = groups
        .iter()
        .map(|g| (1..=g.len()).try_fold(1usize, |a, b| a.checked_mul(b)).unwrap_or(usize::MAX))
        .fold(1, |a, b| a.saturating_mul(b));
    let candidates: Vec<Vec<usize>> = if count <= MAX_PERMUTATIONS {
        let mut all = vec![vec![]];
        for g in &groups {
            let perms = permutations(g);
            all = all
                .into_iter()
                .flat_map(|prefix| perms.iter().map(move |p| [prefix.clone(), p.clone()].concat()))
                .collect();
        }
        all
    } else {
        vec![order.clone()]
    };
    let mut best: Option<(String, Vec<usize>)> = None;
    for cand in candidates {
        let text = serialize(net, &cand, &keys);
        if best.as_ref().is_none_or(|(b, _)| text < *b) {
            best = Some((text, cand));
        }
    }
    let (key, order) = best.expect("at least one order");
    (key, relabel(net, &order))
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let x = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, x);
            out.push(p);
        }
    }
    out
}

fn labels(net: &Network, order: &[usize]) -> IndexMap<usize, String> {
    let mut labels: IndexMap<usize, String> = IndexMap::new();
    for (k, &o) in net.output.iter().enumerate() {
        labels.insert(o, format!("o{k}"));
    }
    let mut summed = 0;
    for &f in order {
        for &s in &net.factors[f].slots {
            if !labels.contains_key(&s) {
                labels.insert(s, format!("s{summed}"));
                summed += 1;
            }
        }
    }
    for i in 0..net.indices.len() {
        if !labels.contains_key(&i) {
            labels.insert(i, format!("s{summed}"));
            summed += 1;
        }
    }
    labels
}

fn serialize(net: &Network, order: &[usize], keys: &[String]) -> String {
    let labels = labels(net, order);
    let mut s = String::new();
    for &f in order {
        let slots: Vec<&str> = net.factors[f].slots.iter().map(|i| labels[i].as_str()).collect();
        s.push_str(&format!("{}({});", keys[f], slots.join(",")));
    }
    let mut dims: Vec<String> = (0..net.indices.len()).map(|i| format!("{}:{}", labels[&i], net.indices[i])).collect();
    dims.sort();
    s.push_str(&dims.join(","));
    s
}

/// The network with factors in `order` and indices numbered as in the canonical labels.
fn relabel(net: &Network, order: &[usize]) -> Network {
    let labels = labels(net, order);
    // Output indices first, then summed ones in order of first use.
    let mut ranked: Vec<(usize, &String)> = labels.iter().map(|(i, l)| (*i, l)).collect();
    ranked.sort_by_key(|(_, l)| (l.starts_with('s'), l[1..].parse::<usize>().unwrap_or(0)));
    let new_id: IndexMap<usize, usize> = ranked.iter().enumerate().map(|(k, (i, _))| (*i, k)).collect();
    Network {
        factors: order
            .iter()
            .map(|&f| Factor {
                expr: net.factors[f].expr.clone(),
                slots: net.factors[f].slots.iter().map(|s| new_id[s]).collect(),
            })
            .collect(),
        indices: ranked.iter().map(|(i, _)| net.indices[*i].clone()).collect(),
        output: net.output.iter().map(|o| new_id[o]).collect(),
        origin: Origin::Bracket,
    }
}

/// Σ coefficient · G as one expression of shape `shape`; each G in classic notation
/// where it is a chain of products, else as a bracket term.
pub fn terms_to_expr(terms: &[Term], shape: &Shape) -> Expr {
    gathered(raised_terms(terms, shape), shape)
}

/// Raised terms as one expression, shared factors gathered.
fn gathered(mut exprs: Vec<Expr>, shape: &Shape) -> Expr {
    match exprs.len() {
        0 => zero(shape.clone()),
        1 => exprs.pop().expect("one term"),
        _ => factor_sum(exprs, shape),
    }
}

fn raised_terms(terms: &[Term], shape: &Shape) -> Vec<Expr> {
    terms.iter().map(|t| crate::ir::build::scale(t.coef.clone(), raised_body(t, shape))).collect()
}

/// A term's network in classic notation where a raiser finds it, else as a bracket term
/// (its coefficient left out).
fn raised_body(t: &Term, shape: &Shape) -> Expr {
    raised_body_given(t, shape, || contract::raise_by_contraction(&t.net))
}

/// As [`raised_body`], with the contraction search's raising of the term given (made
/// once where the caller needs it anyway).
fn raised_body_given(t: &Term, shape: &Shape, contracted: impl FnOnce() -> Option<Expr>) -> Expr {
    if empty(t) {
        return Expr::new(Kind::Const(BigRational::one()), vec![]);
    }
    raise_given(&t.net, contracted)
        .or_else(|| crate::network::as_outer_product(&t.net))
        .unwrap_or_else(|| Expr::new(Kind::Network(Box::new(t.net.clone())), shape.clone()))
}

/// Whether a term is its coefficient alone (a network of nothing).
fn empty(t: &Term) -> bool {
    t.net.factors.is_empty() && t.net.output.is_empty() && t.net.indices.is_empty()
}

/// The three readings of Σ coefficient · G that a gradient starts from, each term
/// raised once (raising a 4-tensor through the tensor operators is most of a matrix
/// Hessian's time).
pub struct Readings {
    /// As [`terms_to_expr`].
    pub classic: Expr,
    /// The same terms without shared factors gathered: the e-graph gets both, so like
    /// terms hidden by the gathering still meet.
    pub sum: Expr,
    /// Each term raised by the contraction search first (`egraph/contract.rs`): the terms
    /// come out alike where the direct raisers would give each its own shape, so that
    /// the e-graph can gather them.
    pub searched: Expr,
}

/// [`Readings`] of `terms`.
pub fn readings(terms: &[Term], shape: &Shape) -> Readings {
    let mut direct = Vec::with_capacity(terms.len());
    let mut searched = Vec::with_capacity(terms.len());
    for t in terms {
        // The contraction search once: the direct raising falls back on it too.
        let by_search = if empty(t) { None } else { contract::raise_by_contraction(&t.net) };
        let body = raised_body_given(t, shape, || by_search.clone());
        searched.push(crate::ir::build::scale(t.coef.clone(), by_search.unwrap_or_else(|| body.clone())));
        direct.push(crate::ir::build::scale(t.coef.clone(), body));
    }
    let sum = match direct.len() {
        0 => zero(shape.clone()),
        1 => direct[0].clone(),
        _ => Expr::new(Kind::Add(direct.clone()), shape.clone()),
    };
    Readings { classic: gathered(direct, shape), sum, searched: gathered(searched, shape) }
}

/// A term as coefficient × factors of its product chain.
fn chain_of(e: &Expr) -> (BigRational, Vec<&Expr>) {
    match &e.kind {
        Kind::Scale(c, x) => {
            let (c2, f) = chain_of(x);
            (c * c2, f)
        }
        Kind::Product(a, b) => {
            let (ca, mut fa) = chain_of(a);
            let (cb, fb) = chain_of(b);
            fa.extend(fb);
            (ca * cb, fa)
        }
        _ => (BigRational::one(), vec![e]),
    }
}

fn product_of(factors: &[&Expr]) -> Expr {
    let mut it = factors.iter().map(|f| (*f).clone());
    let first = it.next().expect("a factor");
    it.fold(first, product)
}

/// Distributivity in the factoring direction: terms that share their first (or last)
/// factor of a product chain are gathered, `Ax + Aᵀx` → `(A + Aᵀ)x`,
/// `Xᵀ(P) − Xᵀ(Q)` → `Xᵀ(P − Q)`. Only factors whose rests all have one shape are taken
/// out, so the result is always well typed; the order of terms is kept.
fn factor_sum(terms: Vec<Expr>, shape: &Shape) -> Expr {
    let chains: Vec<(BigRational, Vec<&Expr>)> = terms.iter().map(chain_of).collect();
    for left in [false, true] {
        // Each term's shared-factor candidate, borrowed once (no clones: sums run long).
        let keys: Vec<Option<&Expr>> = chains
            .iter()
            .map(|(_, f)| {
                if f.len() > 1 {
                    if left {
                        f.first().copied()
                    } else {
                        f.last().copied()
                    }
                } else {
                    None
                }
            })
            .collect();
        // The first factor shared by two or more terms, each with something left over:
        // equal keys found by fingerprint, not by comparing every pair (a sum of 3000
        // terms has 3000 keys).
        let mut buckets: IndexMap<u64, Vec<usize>> = IndexMap::new();
        for (i, k) in keys.iter().enumerate() {
            if let Some(k) = k {
                buckets.entry(k.fingerprint()).or_default().push(i);
            }
        }
        let mut shared: Option<(&Expr, Vec<usize>)> = None;
        for bucket in buckets.values() {
            // Equal keys within a bucket, by a representative of each class.
            let mut classes: Vec<Vec<usize>> = Vec::new();
            for &i in bucket {
                match classes.iter_mut().find(|c| keys[c[0]] == keys[i]) {
                    Some(c) => c.push(i),
                    None => classes.push(vec![i]),
                }
            }
            for group in classes.into_iter().filter(|c| c.len() > 1) {
                if shared.as_ref().is_none_or(|(_, g)| group[0] < g[0]) {
                    shared = Some((keys[group[0]].expect("a key"), group));
                }
            }
        }
        let shared = shared.map(|(k, group)| (k.clone(), group));
        let Some((common, group)) = shared else { continue };
        let rests: Vec<Expr> = group
            .iter()
            .map(|&j| {
                let (c, f) = &chains[j];
                let rest = if left { &f[1..] } else { &f[..f.len() - 1] };
                crate::ir::build::scale(c.clone(), product_of(rest))
            })
            .collect();
        if rests.iter().any(|r| r.shape != rests[0].shape)
            || (rests[0].is_scalar() != common.is_scalar() && rests[0].is_scalar())
        {
            continue;
        }
        let inner = factor_sum(rests.clone(), &rests[0].shape);
        let gathered = if left { product(common, inner) } else { product(inner, common) };
        if gathered.shape != *shape {
            continue;
        }
        let mut out: Vec<Expr> = Vec::new();
        let mut placed = false;
        for (j, t) in terms.iter().enumerate() {
            if group.contains(&j) {
                if !placed {
                    out.push(gathered.clone());
                    placed = true;
                }
            } else {
                out.push(t.clone());
            }
        }
        return if out.len() == 1 { out.pop().expect("one") } else { factor_sum(out, shape) };
    }
    Expr::new(Kind::Add(terms), shape.clone())
}

/// A network that is a product of chains of vectors and matrices, in classic notation:
/// `A_1[Ā_2 x]` → `Ax`, `[x̄ A_1]A_2` → `Aᵀx`, `a b` → `abᵀ`, a cycle → `tr(…)`.
pub fn raise(net: &Network) -> Option<Expr> {
    raise_given(net, || contract::raise_by_contraction(net))
}

/// As [`raise`], with what the contraction search makes of `net` given.
fn raise_given(net: &Network, contracted: impl FnOnce() -> Option<Expr>) -> Option<Expr> {
    let direct =
        raise_chains(net).or_else(|| raise_hadamard(net)).or_else(|| raise_components(net)).or_else(|| raise_row(net));
    direct.or_else(contracted).or_else(|| crate::egraph::tensorops::raise_to_tensor_operators(net))
}

/// `ι N` with N a vector (its first output index ι on no factor): the row `Nᵀ`, as
/// `ι v` is `vᵀ` and `ι A_2[Ā_1 x]` is `xᵀA`.
fn raise_row(net: &Network) -> Option<Expr> {
    let (&first, rest) = net.output.split_first()?;
    let on_factor = net.factors.iter().any(|f| f.slots.contains(&first));
    if net.indices[first] != Dim::Iota || on_factor || rest.len() != 1 {
        return None;
    }
    // The same network without the ι index (on no factor, so only numbers shift).
    let mut column = net.clone();
    let shift = |i: usize| if i > first { i - 1 } else { i };
    column.indices.remove(first);
    column.output = rest.iter().map(|&i| shift(i)).collect();
    for f in &mut column.factors {
        f.slots.iter_mut().for_each(|s| *s = shift(*s));
    }
    let shape = vec![net.indices[rest[0]].clone()];
    let v = raise(&column).unwrap_or_else(|| Expr::new(Kind::Network(Box::new(column)), shape));
    if matches!(v.kind, Kind::Network(_)) {
        return None;
    }
    Some(transpose(v))
}

/// A network of parts that share no index is the tensor product of the parts, each
/// raised alone, permuted into the result's order: `[I_1 {t}]I_2 x` → `diag(t) ⊗ x`,
/// `X⁻¹_{ij}(X⁻¹a)_k` → `X⁻¹ ⊗ X⁻¹a`. Parts with no free index are scalar factors.
fn raise_components(net: &Network) -> Option<Expr> {
    // Factors side by side, every index free: one permutation of their tensor product.
    if let Some(e) = crate::network::as_outer_product(net) {
        return Some(e);
    }
    let n = net.factors.len();
    let mut part: Vec<usize> = (0..n).collect();
    fn root(part: &mut [usize], mut k: usize) -> usize {
        while part[k] != k {
            part[k] = part[part[k]];
            k = part[k];
        }
        k
    }
    for a in 0..n {
        for b in a + 1..n {
            if net.factors[a].slots.iter().any(|s| net.factors[b].slots.contains(s)) {
                let (ra, rb) = (root(&mut part, a), root(&mut part, b));
                part[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut groups: IndexMap<usize, Vec<usize>> = IndexMap::new();
    for k in 0..n {
        let r = root(&mut part, k);
        groups.entry(r).or_default().push(k);
    }
    // Free indices on no factor (ones) and a single part are left to the other raisers.
    let covered = net.output.iter().all(|o| net.factors.iter().any(|f| f.slots.contains(o)));
    let with_free = groups
        .values()
        .filter(|g| g.iter().any(|&f| net.factors[f].slots.iter().any(|s| net.output.contains(s))))
        .count();
    let distinct = net.output.iter().enumerate().all(|(k, o)| !net.output[..k].contains(o));
    if groups.len() < 2 || with_free < 1 || !covered || !distinct {
        return None;
    }
    let mut scalars: Vec<Expr> = Vec::new();
    let mut pieces: Vec<(Expr, Vec<usize>)> = Vec::new();
    for members in groups.values() {
        let output: Vec<usize> =
            net.output.iter().copied().filter(|o| members.iter().any(|&f| net.factors[f].slots.contains(o))).collect();
        // The part's own indices only, renumbered.
        let mut used: Vec<usize> = Vec::new();
        for &f in members {
            for &s in &net.factors[f].slots {
                if !used.contains(&s) {
                    used.push(s);
                }
            }
        }
        let at = |s: &usize| used.iter().position(|u| u == s).unwrap_or(0);
        let sub = Network {
            factors: members
                .iter()
                .map(|&f| Factor {
                    expr: net.factors[f].expr.clone(),
                    slots: net.factors[f].slots.iter().map(at).collect(),
                })
                .collect(),
            indices: used.iter().map(|&s| net.indices[s].clone()).collect(),
            output: output.iter().map(at).collect(),
            origin: net.origin.clone(),
        };
        let value = raise(&sub).or_else(|| crate::network::as_outer_product(&sub))?;
        if output.is_empty() {
            scalars.push(value);
        } else {
            pieces.push((value, output));
        }
    }
    // Parts in the order their dims first appear in the result: `x ⊗ I`, not `(I ⊗ x)_{312}`.
    pieces.sort_by_key(|(_, free)| free.iter().filter_map(|s| net.output.iter().position(|o| o == s)).min());
    let mut acc: Option<(Expr, Vec<usize>)> = None;
    for (value, free) in pieces {
        acc = Some(match acc {
            None => (value, free),
            Some((a, mut fa)) => {
                let mut shape = a.shape.clone();
                shape.extend(value.shape.iter().cloned());
                fa.extend(free);
                (Expr::new(Kind::Kron(Box::new(a), Box::new(value)), shape), fa)
            }
        });
    }
    let (body, slots) = acc?;
    let mut body = crate::ir::build::arranged(body, &slots, &net.output)?;
    for s in scalars {
        body = product(s, body);
    }
    Some(body)
}

/// `F ⊙ R` where F is a factor on exactly the result's dims and R the rest:
/// `[B_1 G_1][Ḡ_2 W_2][B_2 W_1]` → `B ⊙ (GWᵀ)` (tutorial eq. 48).
fn raise_hadamard(net: &Network) -> Option<Expr> {
    if net.output.len() != 2 || net.output[0] == net.output[1] {
        return None;
    }
    for (k, f) in net.factors.iter().enumerate() {
        let swapped = f.slots.len() == 2 && f.slots[0] == net.output[1] && f.slots[1] == net.output[0];
        if f.slots != net.output && !swapped {
            continue;
        }
        let mut rest = net.clone();
        rest.factors.remove(k);
        if rest.factors.iter().all(|g| g.expr.order() == 0) {
            continue;
        }
        if let Some(r) = raise(&rest) {
            let left = if swapped { transpose(f.expr.clone()) } else { f.expr.clone() };
            let shape = left.shape.clone();
            if r.shape != shape {
                continue;
            }
            return Some(Expr::new(Kind::Hadamard(Box::new(left), Box::new(r)), shape));
        }
    }
    None
}

fn raise_chains(net: &Network) -> Option<Expr> {
    let mut net = fuse(net.clone());
    if net.indices.contains(&Dim::Iota) || net.factors.iter().any(|f| f.expr.order() > 2) {
        return None;
    }
    let mut touches: Vec<Vec<(usize, usize)>> = vec![vec![]; net.indices.len()];
    for (f, factor) in net.factors.iter().enumerate() {
        for (s, &i) in factor.slots.iter().enumerate() {
            touches[i].push((f, s));
        }
    }
    // A summed dim on one slot is a product with the ones vector; a result dim on no
    // slot is a ones vector of its own.
    for i in 0..net.indices.len() {
        let free = net.output.contains(&i);
        match (touches[i].len(), free) {
            (0, true) => {
                let f = net.factors.len();
                net.factors.push(Factor { expr: Expr::new(Kind::Ones, vec![net.indices[i].clone()]), slots: vec![i] });
                touches[i].push((f, 0));
            }
            (1, false) => {
                let f = net.factors.len();
                net.factors.push(Factor { expr: Expr::new(Kind::Ones, vec![net.indices[i].clone()]), slots: vec![i] });
                touches[i].push((f, 0));
            }
            // An index no slot uses any more (summed away by fusing) is not there.
            (2, false) | (1, true) | (0, false) => {}
            _ => return None,
        }
    }
    let mut scalars: Vec<Expr> = Vec::new();
    let mut seen = vec![false; net.factors.len()];
    let mut parts: Vec<(Expr, Vec<usize>)> = Vec::new(); // value and its free indices in order
    for start in 0..net.factors.len() {
        if seen[start] {
            continue;
        }
        if net.factors[start].expr.order() == 0 {
            seen[start] = true;
            scalars.push(net.factors[start].expr.clone());
            continue;
        }
        // Orientation: a two-dim chain starts at the result's first dim; of an outer
        // product's two chains, the second is built as a row.
        let members = component(&net, &touches, start);
        let free_here: Vec<usize> =
            net.output.iter().copied().filter(|o| members.iter().any(|&f| net.factors[f].slots.contains(o))).collect();
        let want_row = free_here.len() == 1 && net.output.len() == 2 && free_here[0] == net.output[1];
        let prefer = net.output.first().copied();
        let (value, free) = chain(&net, &touches, start, &mut seen, prefer, want_row)?;
        if free.is_empty() {
            scalars.push(value);
        } else {
            parts.push((value, free));
        }
    }
    let body = match parts.as_slice() {
        [] => None,
        [(v, free)] if *free == net.output => Some(v.clone()),
        [(v, free)] if free.len() == 2 && free[0] == net.output[1] && free[1] == net.output[0] => {
            Some(transpose(v.clone()))
        }
        [(a, fa), (c, fc)] if fa.len() == 1 && fc.len() == 1 => {
            let row = |e: &Expr| if e.order() == 1 { transpose(e.clone()) } else { e.clone() };
            if net.output == [fa[0], fc[0]] {
                Some(product(a.clone(), row(c)))
            } else if net.output == [fc[0], fa[0]] {
                Some(product(c.clone(), row(a)))
            } else {
                None
            }
        }
        _ => return None,
    };
    let mut acc: Option<Expr> = None;
    for s in scalars {
        acc = Some(match acc {
            None => s,
            Some(a) => product(a, s),
        });
    }
    match (acc, body) {
        (None, None) => None,
        (Some(s), None) => Some(s),
        (None, Some(b)) => Some(b),
        (Some(s), Some(b)) => Some(product(s, b)),
    }
}

/// Walks the chain through `start`: its classic value and its free indices, in the
/// order the value's dims take them.
/// The factors connected to `start`.
fn component(net: &Network, touches: &[Vec<(usize, usize)>], start: usize) -> Vec<usize> {
    let mut component = vec![start];
    let mut k = 0;
    while k < component.len() {
        let f = component[k];
        for &i in &net.factors[f].slots {
            for &(g, _) in &touches[i] {
                if !component.contains(&g) {
                    component.push(g);
                }
            }
        }
        k += 1;
    }
    component
}

fn chain(
    net: &Network,
    touches: &[Vec<(usize, usize)>],
    start: usize,
    seen: &mut [bool],
    prefer: Option<usize>,
    want_row: bool,
) -> Option<(Expr, Vec<usize>)> {
    let next_of = |f: usize, s: usize| -> Option<(usize, usize)> {
        let i = net.factors[f].slots[s];
        touches[i].iter().copied().find(|&(g, t)| (g, t) != (f, s))
    };
    let component = component(net, touches, start);
    // The ends: a vector, or a matrix with a slot that leads nowhere (a free dim).
    let ends: Vec<usize> = component
        .iter()
        .copied()
        .filter(|&f| {
            let n = net.factors[f].slots.len();
            n == 1 || (0..n).any(|s| next_of(f, s).is_none())
        })
        .collect();
    let dangling =
        |f: usize| (0..net.factors[f].slots.len()).find(|&s| next_of(f, s).is_none()).map(|s| net.factors[f].slots[s]);
    let end = if want_row {
        ends.iter().copied().find(|&f| net.factors[f].slots.len() == 1).or(ends.first().copied())
    } else {
        ends.iter()
            .copied()
            .find(|&f| net.factors[f].slots.len() == 2 && prefer.is_some() && dangling(f) == prefer)
            .or(ends.first().copied())
    };
    let Some(first) = end else {
        // A cycle: tr(M1 M2 …), entered through slot 1 of the first matrix.
        let (value, _) = walk(net, touches, start, 0, seen, &next_of)?;
        let value = Expr::new(Kind::Trace(Box::new(value)), vec![]);
        return Some((value, vec![]));
    };
    // Enter the end through its dangling slot (a free index, or nothing for a vector).
    let n = net.factors[first].slots.len();
    let entry = if n == 1 { None } else { (0..n).find(|&s| next_of(first, s).is_none()) };
    match entry {
        None => {
            // A vector start: it is a row (vᵀ) unless it stands alone.
            seen[first] = true;
            let v = net.factors[first].expr.clone();
            let slot = 0;
            let free_alone = next_of(first, slot).is_none();
            if free_alone {
                return Some((v, vec![net.factors[first].slots[0]]));
            }
            let (g, t) = next_of(first, slot)?;
            let (rest, tail_free) = walk_from(net, touches, g, t, seen, &next_of)?;
            let value = product(transpose(v), rest);
            let value =
                if !want_row && value.order() == 2 && value.shape[0] == Dim::Iota { transpose(value) } else { value };
            Some((value, tail_free))
        }
        Some(s) => {
            let head_free = net.factors[first].slots[s];
            let (value, mut tail_free) = walk_from(net, touches, first, s, seen, &next_of)?;
            tail_free.insert(0, head_free);
            Some((value, tail_free))
        }
    }
}

type NextOf<'a> = dyn Fn(usize, usize) -> Option<(usize, usize)> + 'a;

/// From factor `f` entered through slot `s`: the product up to the chain's end, and the
/// free index it ends on (if any).
fn walk_from(
    net: &Network,
    touches: &[Vec<(usize, usize)>],
    f: usize,
    s: usize,
    seen: &mut [bool],
    next_of: &NextOf,
) -> Option<(Expr, Vec<usize>)> {
    let (value, end) = walk(net, touches, f, s, seen, next_of)?;
    Some((value, end.into_iter().collect()))
}

fn walk(
    net: &Network,
    _touches: &[Vec<(usize, usize)>],
    mut f: usize,
    mut s: usize,
    seen: &mut [bool],
    next_of: &NextOf,
) -> Option<(Expr, Option<usize>)> {
    let mut acc: Option<Expr> = None;
    loop {
        if seen[f] {
            return acc.map(|a| (a, None));
        }
        seen[f] = true;
        let e = net.factors[f].expr.clone();
        let n = net.factors[f].slots.len();
        let (piece, exit) = if n == 1 {
            (e, None)
        } else {
            let piece = if s == 0 { e } else { transpose(e) };
            (piece, Some(1 - s))
        };
        acc = Some(match acc {
            None => piece,
            Some(a) => product(a, piece),
        });
        let Some(out) = exit else { return acc.map(|a| (a, None)) };
        match next_of(f, out) {
            None => return acc.map(|a| (a, Some(net.factors[f].slots[out]))),
            Some((g, t)) => {
                if seen[g] {
                    return acc.map(|a| (a, None));
                }
                f = g;
                s = t;
            }
        }
    }
}

/// Joins factors on the same indices into one: `A(i,j) B(i,j)` → `(A ⊙ B)(i,j)`,
/// `A(i,j) B(j,i)` → `(A ⊙ Bᵀ)(i,j)`, and `v(i) I(i,j)` → `diag(v)(i,j)`.
/// The (factor, slot) pairs on index `i`.
fn slots_at(net: &Network, i: usize) -> Vec<(usize, usize)> {
    net.factors
        .iter()
        .enumerate()
        .flat_map(|(f, a)| a.slots.iter().enumerate().filter(|(_, &s)| s == i).map(move |(p, _)| (f, p)))
        .collect()
}

/// The vector factor `fv` on index `i` becomes diag(v) on `i` and a new summed index,
/// which replaces `i` on slot `so` of factor `fo`: `v_i M_{i…}` → `diag(v)_{ij} M_{j…}`.
fn scale_slot(net: &mut Network, i: usize, fv: usize, (fo, so): (usize, usize)) {
    let new = net.indices.len();
    net.indices.push(net.indices[i].clone());
    let v = net.factors[fv].expr.clone();
    let d = v.shape[0].clone();
    net.factors[fv] = Factor { expr: Expr::new(Kind::Diag(Box::new(v)), vec![d.clone(), d]), slots: vec![i, new] };
    net.factors[fo].slots[so] = new;
}

fn fuse(mut net: Network) -> Network {
    'again: loop {
        let n = net.factors.len();
        for f in 0..n {
            for g in 0..n {
                if f == g {
                    continue;
                }
                let (a, c) = (&net.factors[f], &net.factors[g]);
                // v(i) I(i,j) → diag(v)(i,j)
                if a.expr.order() == 1 && c.expr.kind == Kind::Identity && c.slots[0] != c.slots[1] {
                    if let Some(p) = c.slots.iter().position(|&s| s == a.slots[0]) {
                        let d = a.expr.shape[0].clone();
                        let diag = Expr::new(Kind::Diag(Box::new(a.expr.clone())), vec![d.clone(), d]);
                        let slots = if p == 0 { c.slots.clone() } else { vec![c.slots[1], c.slots[0]] };
                        net.factors[g] = Factor { expr: diag, slots };
                        net.factors.remove(f);
                        continue 'again;
                    }
                }
                if a.expr.order() == 0 || a.expr.order() != c.expr.order() {
                    continue;
                }
                let same = a.slots == c.slots;
                let swapped = a.slots.len() == 2 && a.slots[0] == c.slots[1] && a.slots[1] == c.slots[0];
                let distinct = a.slots.len() < 2 || a.slots[0] != a.slots[1];
                if (same || swapped) && distinct && f < g {
                    let other = if same { c.expr.clone() } else { transpose(c.expr.clone()) };
                    let fused = contract::ordered_hadamard(a.expr.clone(), other);
                    let slots = a.slots.clone();
                    net.factors[f] = Factor { expr: fused, slots };
                    net.factors.remove(g);
                    continue 'again;
                }
            }
        }
        // M(i,i) → diag(M)(i): the diagonal of a matrix, where i goes on (a trace, i on
        // nothing else, stays a cycle).
        let slots_on = |i: usize| net.factors.iter().flat_map(|a| a.slots.iter()).filter(|&&s| s == i).count();
        if let Some(f) = net.factors.iter().position(|a| {
            a.slots.len() == 2
                && a.slots[0] == a.slots[1]
                && (net.output.contains(&a.slots[0]) || slots_on(a.slots[0]) > 2)
        }) {
            let a = &net.factors[f];
            let d = a.expr.shape[0].clone();
            let diag = Expr::new(Kind::Diag(Box::new(a.expr.clone())), vec![d]);
            net.factors[f] = Factor { expr: diag, slots: vec![a.slots[0]] };
            continue 'again;
        }
        // A result index on a vector v and on one other slot scales that slot: v becomes
        // diag(v), joined to the other slot by a new summed index (`diag(v)M`).
        for i in 0..net.indices.len() {
            let touching = slots_at(&net, i);
            if !net.output.contains(&i) || touching.len() != 2 {
                continue;
            }
            let Some(&(fv, _)) = touching.iter().find(|(f, _)| net.factors[*f].expr.order() == 1) else { continue };
            let Some(&(fo, so)) = touching.iter().find(|(f, _)| *f != fv) else { continue };
            scale_slot(&mut net, i, fv, (fo, so));
            continue 'again;
        }
        // A summed index on three or more slots (a hyperedge, as a row-wise softmax
        // makes): a matrix whose other index is summed on it alone is its row sums
        // (`F1`), and a vector on the hyperedge becomes diag(v) joined to one of the other
        // slots by a new summed index, until the index is on two slots.
        for i in 0..net.indices.len() {
            let touching = slots_at(&net, i);
            if net.output.contains(&i) || touching.len() < 3 {
                continue;
            }
            let lone = |j: usize| {
                !net.output.contains(&j)
                    && net.factors.iter().flat_map(|a| a.slots.iter()).filter(|&&s| s == j).count() == 1
            };
            if let Some(&(f, p)) = touching.iter().find(|&&(f, p)| {
                let a = &net.factors[f];
                a.expr.order() == 2 && a.slots[0] != a.slots[1] && lone(a.slots[1 - p])
            }) {
                let a = net.factors[f].expr.clone();
                let other = net.indices[net.factors[f].slots[1 - p]].clone();
                let rows = if p == 0 { a } else { transpose(a) };
                let ones = Expr::new(Kind::Ones, vec![other]);
                net.factors[f] = Factor { expr: product(rows, ones), slots: vec![i] };
                continue 'again;
            }
            let Some(&(fv, _)) = touching.iter().find(|(f, _)| net.factors[*f].expr.order() == 1) else { continue };
            let Some(&(fo, so)) = touching.iter().rev().find(|(f, _)| *f != fv) else { continue };
            scale_slot(&mut net, i, fv, (fo, so));
            continue 'again;
        }
        return net;
    }
}
