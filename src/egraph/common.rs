//! Factoring a sum of networks by the part all its terms share.
//!
//! Terms of a derivative often differ only deep inside: `Σ T_{ik} W2_{kl} (P_{il} r_i)`
//! and `Σ T_{ik} W2_{kl} Y_{il}` share T and W2, wired the same way, and differ in a
//! tensor on the indices i and l where the rest meets them. Their sum is the shared
//! part with one hole, filled by the sum of the rests: `T ⊙ (diag(r)P − Y)W2ᵀ`, summed.
//! This is distributivity on networks, wherever the shared factors stand; raising
//! each term alone cannot find it, as each term raises to its own shape.
//!
//! The shared part is found greedily: starting from the result's indices, a factor of
//! the first term joins when every other term has an equal factor on the corresponding
//! indices. The hole must have at most two indices (a classic tensor). A scalar has no
//! result index to start from: there the part also grows from each factor the terms
//! share, `D · (K⁻¹ ⊙ E) − yᵀK⁻¹(D ⊙ E)K⁻¹y` → `(K⁻¹ − K⁻¹yyᵀK⁻¹) · (D ⊙ E)`.

use crate::egraph::contract;
use crate::egraph::raise::{raise, terms_to_expr};
use crate::ir::expr::*;
use crate::ir::shape::Shape;
use crate::network::Term;
use num_traits::Signed;

/// Most terms factored together.
pub const MAX_TERMS: usize = 16;

/// Σ coefficient · G as the shared part of all terms with one hole, when they share one.
pub fn common_terms_to_expr(terms: &[Term], shape: &Shape) -> Option<Expr> {
    let mut best: Option<Expr> = None;
    let mut seeded = false;
    for part in shared_parts(terms) {
        // Both orders of a two-index hole: the filler reads best one way round.
        let mut orders = vec![part.hole.clone()];
        if part.hole.len() == 2 {
            orders.push(vec![part.hole[1], part.hole[0]]);
        }
        for hole in orders {
            let Some(e) = fill(terms, &part.factors, &part.phi, hole, shape, part.seeded) else { continue };
            if best.as_ref().is_none_or(|b| contract::size(&e) < contract::size(b)) {
                best = Some(e);
                seeded = part.seeded;
            }
        }
    }
    // A part found from a seed must pay for itself: its form smaller than the terms
    // raised one by one (else a tie between two readings of one sum goes to whichever
    // extraction meets first: `2(Xv A⁻¹w)ᵀ(yv − Xv w)` for `2(yv − Xv w)ᵀXv A⁻¹w`).
    if seeded {
        let plain = contract::size(&terms_to_expr(terms, shape));
        return best.filter(|b| contract::size(b) < plain);
    }
    best
}

/// The part all terms share: per term, its shared factors and the correspondence of
/// the first term's indices to its own; and the hole the rests fill.
struct Shared {
    factors: Vec<Vec<usize>>,
    phi: Vec<Vec<Option<usize>>>,
    hole: Vec<usize>,
    /// Whether the part grew from a seed factor rather than from the result's indices.
    seeded: bool,
}

/// The parts all `terms` share with a hole of at most two indices: the one grown from
/// the result's indices, and for a full contraction (a scalar), which has none to start
/// from, also one grown from each factor of the first term lying on an equal factor of
/// every other term (`D · (K⁻¹ ⊙ E)` and `yᵀK⁻¹(D ⊙ E)K⁻¹y` share D ⊙ E, and sum to
/// `(K⁻¹ − K⁻¹yyᵀK⁻¹) · (D ⊙ E)`). The caller fills each and keeps the smallest.
fn shared_parts(terms: &[Term]) -> Vec<Shared> {
    if terms.len() < 2 || terms.len() > MAX_TERMS {
        return Vec::new();
    }
    let first = &terms[0].net;
    let n_out = first.output.len();
    if terms.iter().any(|t| t.net.output.len() != n_out || has_lone_index(&t.net)) {
        return Vec::new();
    }
    // φ[t][i]: the index of term t that index i of the first term corresponds to.
    let mut phi: Vec<Vec<Option<usize>>> = Vec::new();
    for t in terms {
        let mut map = vec![None; first.indices.len()];
        for (k, &o) in first.output.iter().enumerate() {
            match map[o] {
                Some(x) if x != t.net.output[k] => return Vec::new(),
                _ => map[o] = Some(t.net.output[k]),
            }
        }
        phi.push(map);
    }
    let mut shared: Vec<Vec<usize>> = vec![Vec::new(); terms.len()]; // factor ids, per term
    grow(terms, &mut shared, &mut phi);
    let mut parts: Vec<Shared> = with_hole(terms, shared.clone(), phi.clone()).into_iter().collect();
    if n_out > 0 {
        return parts;
    }
    for (f, factor) in first.factors.iter().enumerate() {
        if factor.slots.is_empty() || shared[0].contains(&f) {
            continue;
        }
        let (mut shared, mut phi) = (shared.clone(), phi.clone());
        if !join(terms, f, &mut shared, &mut phi) {
            continue;
        }
        grow(terms, &mut shared, &mut phi);
        let mut mine = shared[0].clone();
        mine.sort_unstable();
        let known = parts.iter().any(|p| {
            let mut theirs = p.factors[0].clone();
            theirs.sort_unstable();
            theirs == mine
        });
        // A seed is for writing a factor once: it takes out every occurrence of its
        // factors (taking one K⁻¹ of `yᵀK⁻³y − tr(K⁻²)/2` out leaves K⁻¹ · (K⁻²yyᵀ −
        // K⁻¹/2)). And a matrix hole only: a vector's is the end of a product chain,
        // which the chain factoring gathers already (`2(y − Xw)ᵀXA⁻¹w`).
        let whole = terms.iter().zip(&shared).all(|(t, mine)| {
            let taken = |e: &Expr| mine.iter().any(|&g| t.net.factors[g].expr == *e);
            t.net.factors.iter().enumerate().all(|(g, f)| mine.contains(&g) || !taken(&f.expr))
        });
        match with_hole(terms, shared, phi).filter(|s| s.hole.len() == 2) {
            Some(found) if whole && !known => parts.push(Shared { seeded: true, ..found }),
            _ => {}
        }
    }
    parts
}

/// Grows the shared part: a factor of the first term joins when it touches an index
/// the shared part has mapped, or none at all, and every other term has an equal factor
/// on the corresponding indices.
fn grow(terms: &[Term], shared: &mut [Vec<usize>], phi: &mut [Vec<Option<usize>>]) {
    let first = &terms[0].net;
    loop {
        let mut grew = false;
        for (f, factor) in first.factors.iter().enumerate() {
            if shared[0].contains(&f) {
                continue;
            }
            let anchored = factor.slots.is_empty() || factor.slots.iter().any(|&s| phi[0][s].is_some());
            if anchored && join(terms, f, shared, phi) {
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
}

/// Adds factor `f` of the first term to the shared part, lying on an equal factor of
/// every other term; false (and nothing changed) where some term has none.
fn join(terms: &[Term], f: usize, shared: &mut [Vec<usize>], phi: &mut [Vec<Option<usize>>]) -> bool {
    let factor = &terms[0].net.factors[f];
    let mut picks = vec![f];
    let mut maps = vec![phi[0].clone()];
    for (t, term) in terms.iter().enumerate().skip(1) {
        let found = term.net.factors.iter().enumerate().find_map(|(g, other)| {
            if shared[t].contains(&g) || other.expr != factor.expr {
                return None;
            }
            extend(&phi[t], factor, other).map(|m| (g, m))
        });
        let Some((g, m)) = found else { return false };
        picks.push(g);
        maps.push(m);
    }
    // The first term maps to itself.
    for &s in &factor.slots {
        maps[0][s] = Some(s);
    }
    for t in 0..terms.len() {
        shared[t].push(picks[t]);
        phi[t] = maps[t].clone();
    }
    true
}

/// The shared part with its hole: the indices of the first term's rest that meet the
/// shared part or the result. None where nothing is shared or the hole has more than
/// two indices.
fn with_hole(terms: &[Term], shared: Vec<Vec<usize>>, phi: Vec<Vec<Option<usize>>>) -> Option<Shared> {
    let first = &terms[0].net;
    if shared[0].is_empty() {
        return None;
    }
    let mut hole: Vec<usize> = Vec::new();
    for (t, term) in terms.iter().enumerate() {
        let inverse = |j: usize| phi[t].iter().position(|&x| x == Some(j));
        for (g, factor) in term.net.factors.iter().enumerate() {
            if shared[t].contains(&g) {
                continue;
            }
            for &s in &factor.slots {
                if let Some(i) = inverse(s) {
                    if !hole.contains(&i) {
                        hole.push(i);
                    }
                }
            }
        }
    }
    if hole.len() > 2 {
        return None;
    }
    hole.sort_by_key(|i| (first.output.iter().position(|o| o == i).unwrap_or(usize::MAX), *i));
    Some(Shared { factors: shared, phi, hole, seeded: false })
}

/// As [`common_terms_to_expr`] where not all terms share a part: each group of terms
/// that do is factored, and the rest are raised together beside them (the Hessian of
/// `−ln det Θ + λ sum(sqrt(Θ ⊙ Θ + ε11ᵀ))` has two element-wise terms on `I ⊗ I`, whose
/// sum cancels to one, beside a Kronecker product). None where no two terms share one.
pub fn grouped_terms_to_expr(terms: &[Term], shape: &Shape) -> Option<Expr> {
    if terms.len() < 3 || terms.len() > MAX_TERMS {
        return None;
    }
    let mut left: Vec<usize> = (0..terms.len()).collect();
    let (mut parts, mut alone) = (Vec::new(), Vec::new());
    while !left.is_empty() {
        let i = left.remove(0);
        // (Partners by the shared part alone: filling the hole raises networks.)
        let pair = |j: usize| !shared_parts(&[terms[i].clone(), terms[j].clone()]).is_empty();
        let partners: Vec<usize> = left.iter().copied().filter(|&j| pair(j)).collect();
        let mut group = vec![terms[i].clone()];
        group.extend(partners.iter().map(|&j| terms[j].clone()));
        match common_terms_to_expr(&group, shape).filter(|_| !partners.is_empty()) {
            Some(e) => {
                parts.push(e);
                left.retain(|j| !partners.contains(j));
            }
            None => alone.push(terms[i].clone()),
        }
    }
    if parts.is_empty() {
        return None;
    }
    if !alone.is_empty() {
        parts.push(terms_to_expr(&alone, shape));
    }
    Some(Expr::new(Kind::Add(parts), shape.clone()))
}

/// The shared part with the hole on `hole` filled by the sum of the terms' rests.
fn fill(
    terms: &[Term],
    shared: &[Vec<usize>],
    phi: &[Vec<Option<usize>>],
    hole: Vec<usize>,
    shape: &Shape,
    seeded: bool,
) -> Option<Expr> {
    let first = &terms[0].net;
    // Each term's rest, as a network whose result is the hole's indices.
    let mut rests: Vec<Term> = Vec::new();
    for (t, term) in terms.iter().enumerate() {
        let factors: Vec<&Factor> =
            term.net.factors.iter().enumerate().filter(|(g, _)| !shared[t].contains(g)).map(|(_, f)| f).collect();
        let output: Vec<usize> = hole.iter().map(|&i| phi[t][i].expect("mapped")).collect();
        rests.push(Term { coef: term.coef.clone(), net: compact(&term.net, &factors, &output) });
    }
    let hole_shape: Shape = hole.iter().map(|&i| first.indices[i].clone()).collect();
    // From a seed, terms that add first, so that the filler reads `K⁻¹ − K⁻¹yyᵀK⁻¹`,
    // not a negated difference; elsewhere the terms' order, which is the input's.
    if seeded {
        rests.sort_by_key(|t| t.coef.is_negative());
    }
    let filler = terms_to_expr(&rests, &hole_shape);
    if crate::egraph::contains_network(&filler) {
        return None;
    }
    // The shared factors and the filled hole, on the first term's indices they use (an
    // index only the rests used is summed inside the filler).
    let mut factors: Vec<Factor> = shared[0].iter().map(|&f| first.factors[f].clone()).collect();
    factors.push(Factor { expr: filler, slots: hole });
    let net = compact(first, &factors.iter().collect::<Vec<_>>(), &first.output);
    let raised = contract::raise_by_contraction(&net).or_else(|| raise(&net))?;
    (raised.shape == *shape).then_some(raised)
}

/// Whether a network sums an index that no factor carries (a constant factor).
fn has_lone_index(net: &Network) -> bool {
    (0..net.indices.len()).any(|i| !net.output.contains(&i) && !net.factors.iter().any(|f| f.slots.contains(&i)))
}

/// The correspondence `map` extended so that `ours` lies on `theirs`, if it can be.
fn extend(map: &[Option<usize>], ours: &Factor, theirs: &Factor) -> Option<Vec<Option<usize>>> {
    let mut map = map.to_vec();
    for (&s, &t) in ours.slots.iter().zip(&theirs.slots) {
        match map[s] {
            Some(x) if x != t => return None,
            Some(_) => {}
            None => {
                if map.contains(&Some(t)) {
                    return None;
                }
                map[s] = Some(t);
            }
        }
    }
    Some(map)
}

/// The sub-network of `factors` with result `output`, with only the indices it uses.
fn compact(net: &Network, factors: &[&Factor], output: &[usize]) -> Network {
    let mut used: Vec<usize> = output.to_vec();
    used.dedup();
    for f in factors {
        for &s in &f.slots {
            if !used.contains(&s) {
                used.push(s);
            }
        }
    }
    let at = |s: &usize| used.iter().position(|u| u == s).expect("used");
    Network {
        factors: factors
            .iter()
            .map(|f| Factor { expr: f.expr.clone(), slots: f.slots.iter().map(at).collect() })
            .collect(),
        indices: used.iter().map(|&s| net.indices[s].clone()).collect(),
        output: output.iter().map(at).collect(),
        origin: net.origin.clone(),
    }
}
