//! Tensor networks: lowering classic expressions to sums of networks, and writing a
//! network in the paper's bracket notation.
//!
//! [`lower`] takes an [`Expr`] and gives `Σ coefficient · network` whose factors are
//! atoms (names, `dX`, and non-multilinear sub-expressions kept whole), with `I` and `1`
//! eliminated where they can be. [`render_network`] writes a network as a bracket term
//! (`A_1[Ā_2 B_1]B_2`) that parses back to the same network, adding occurrence tags
//! (`X@2_1`) only where the order of portions would be ambiguous.

use crate::ir::expr::*;
use crate::ir::shape::Dim;
use crate::render::{needs_space, Format, Printer};
use indexmap::{IndexMap, IndexSet};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

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

/// Puts two networks side by side; returns the offset of `b`'s indices.
fn merge(a: &Network, b: &Network) -> (Network, usize) {
    let offset = a.indices.len();
    let mut out = a.clone();
    out.indices.extend(b.indices.iter().cloned());
    for f in &b.factors {
        out.factors.push(Factor { expr: f.expr.clone(), slots: f.slots.iter().map(|s| s + offset).collect() });
    }
    out.output = vec![];
    (out, offset)
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

fn cross(a: Vec<Term>, b: Vec<Term>, join: impl Fn(&Network, &Network) -> Network) -> Option<Vec<Term>> {
    if a.len().saturating_mul(b.len()) > MAX_TERMS {
        return None;
    }
    let mut out = Vec::new();
    for x in &a {
        for y in &b {
            out.push(Term { coef: &x.coef * &y.coef, net: join(&x.net, &y.net) });
        }
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
    let terms = lower_or_keep(e);
    terms.into_iter().map(|t| Term { coef: t.coef, net: tidy(t.net) }).collect()
}

fn keep(e: &Expr) -> Vec<Term> {
    vec![Term { coef: BigRational::one(), net: atom(e) }]
}

fn lower_or_keep(e: &Expr) -> Vec<Term> {
    lower_inner(e).unwrap_or_else(|| keep(e))
}

fn lower_inner(e: &Expr) -> Option<Vec<Term>> {
    Some(match &e.kind {
        Kind::Const(c) => vec![Term { coef: c.clone(), net: empty() }],
        Kind::Scale(c, x) => lower_or_keep(x).into_iter().map(|t| Term { coef: &t.coef * c, net: t.net }).collect(),
        // A sum adds terms one for one: only products multiply them, so only those are limited.
        Kind::Add(terms) => terms.iter().flat_map(lower_or_keep).collect(),
        Kind::Product(a, b) => {
            let (ao, bo, eo) = (a.order(), b.order(), e.order());
            cross(lower_or_keep(a), lower_or_keep(b), |x, y| {
                let (mut m, off) = merge(x, y);
                let yo: Vec<usize> = y.output.iter().map(|i| i + off).collect();
                if ao == 0 || bo == 0 {
                    m.output = if ao == 0 { yo } else { x.output.clone() };
                    return identify(m, &[]);
                }
                let mut pairs = vec![];
                if ao == 2 {
                    pairs.push((x.output[1], yo[0]));
                }
                let mut out = vec![x.output[0]];
                if bo == 2 {
                    out.push(yo[1]);
                }
                let net = identify(Network { output: out, ..m }, &pairs);
                identify(fit_output(net, eo), &[])
            })?
        }
        Kind::DivScalar(a, s) if matches!(&s.kind, Kind::Const(c) if !c.is_zero()) => {
            let Kind::Const(c) = &s.kind else { unreachable!() };
            lower_or_keep(a).into_iter().map(|t| Term { coef: &t.coef / c, net: t.net }).collect()
        }
        Kind::DivScalar(a, s) => {
            // `a/(2N)`: the number goes to the coefficient, 1/N stays a scalar factor.
            let (c, rest) = split_number(s);
            let one = Expr::new(Kind::Const(BigRational::one()), vec![]);
            let inv = Expr::new(Kind::DivScalar(Box::new(one), Box::new(rest)), vec![]);
            let terms = cross(lower_or_keep(a), keep(&inv), |x, y| {
                let (mut m, _) = merge(x, y);
                m.output = x.output.clone();
                m
            })?;
            terms.into_iter().map(|t| Term { coef: t.coef / &c, net: t.net }).collect()
        }
        Kind::Transpose(x) => {
            let xo = x.order();
            lower_or_keep(x)
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
        Kind::Hadamard(a, b) => cross(lower_or_keep(a), lower_or_keep(b), |x, y| {
            let (mut m, off) = merge(x, y);
            let pairs: Vec<(usize, usize)> = x.output.iter().zip(&y.output).map(|(&p, &q)| (p, q + off)).collect();
            m.output = x.output.clone();
            identify(m, &pairs)
        })?,
        Kind::HDiv(a, b) => {
            // a ⊘ b = a ⊙ b^{⊙-1}: linear in a.
            let inv = Expr::new(Kind::HPower(b.clone(), -BigRational::one()), b.shape.clone());
            cross(lower_or_keep(a), keep(&inv), |x, y| {
                let (mut m, off) = merge(x, y);
                let pairs: Vec<(usize, usize)> = x.output.iter().zip(&y.output).map(|(&p, &q)| (p, q + off)).collect();
                m.output = x.output.clone();
                identify(m, &pairs)
            })?
        }
        Kind::Kron(a, b) => cross(lower_or_keep(a), lower_or_keep(b), |x, y| {
            let (mut m, off) = merge(x, y);
            m.output = x.output.iter().copied().chain(y.output.iter().map(|q| q + off)).collect();
            m
        })?,
        Kind::Dot(a, b) => cross(lower_or_keep(a), lower_or_keep(b), |x, y| {
            let (m, off) = merge(x, y);
            let pairs: Vec<(usize, usize)> = x.output.iter().zip(&y.output).map(|(&p, &q)| (p, q + off)).collect();
            identify(m, &pairs)
        })?,
        Kind::Gen { lhs, rhs, left, right, .. } => cross(lower_or_keep(lhs), lower_or_keep(rhs), |x, y| {
            let (mut m, off) = merge(x, y);
            let pairs: Vec<(usize, usize)> =
                left.iter().zip(right).map(|(p, q)| (x.output[p.at - 1], y.output[q.at - 1] + off)).collect();
            let mut out: Vec<usize> = Vec::new();
            for (k, &i) in x.output.iter().enumerate() {
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
        })?,
        Kind::Trace(x) => lower_or_keep(x)
            .into_iter()
            .map(|t| {
                let pair = (t.net.output[0], t.net.output[1]);
                let net = Network { output: vec![], ..t.net };
                Term { coef: t.coef, net: identify(net, &[pair]) }
            })
            .collect(),
        Kind::Sum(x) => lower_or_keep(x)
            .into_iter()
            .map(|t| Term { coef: t.coef, net: Network { output: vec![], ..t.net } })
            .collect(),
        Kind::Diag(x) if x.order() == 1 => lower_or_keep(x)
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
        Kind::Diag(x) => lower_or_keep(x)
            .into_iter()
            .map(|t| {
                let pair = (t.net.output[0], t.net.output[1]);
                let net = Network { output: vec![t.net.output[0]], ..t.net };
                Term { coef: t.coef, net: identify(net, &[pair]) }
            })
            .collect(),
        Kind::Permute(x, perm) => lower_or_keep(x)
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
                let terms = lower_or_keep(&f.expr);
                if acc.len().saturating_mul(terms.len()) > MAX_TERMS {
                    return None;
                }
                let mut next = Vec::with_capacity(acc.len() * terms.len());
                for (c, m, pairs) in &acc {
                    for t in &terms {
                        let (merged, off) = merge(m, &t.net);
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

/// An einsum specification for a network: letters in order of first use.
pub fn einsum_spec(net: &Network, skip_iota: bool) -> String {
    const LETTERS: &str = "ijklmnopqrstuvwxyzabcdefghIJKLMNOPQRSTUVWXYZABCDEFGH";
    let letters: Vec<char> = LETTERS.chars().collect();
    let mut names: IndexMap<usize, char> = IndexMap::new();
    let mut letter = |i: usize| {
        let n = names.len();
        *names.entry(i).or_insert_with(|| letters.get(n).copied().unwrap_or('?'))
    };
    let keep = |i: usize| !(skip_iota && net.indices[i] == Dim::Iota);
    let inputs: Vec<String> =
        net.factors.iter().map(|f| f.slots.iter().filter(|&&s| keep(s)).map(|&s| letter(s)).collect()).collect();
    let output: String = net.output.iter().filter(|&&o| keep(o)).map(|&o| letter(o)).collect();
    format!("{}->{output}", inputs.join(","))
}

/// Writes a whole expression in bracket notation: `Σ coefficient · bracket term`.
pub fn to_bracket(e: &Expr, style: Format) -> String {
    let terms = lower(e);
    let printer = Printer::new(style);
    let minus = if style == Format::Unicode { "−" } else { "-" };
    let mut out = String::new();
    for (k, t) in terms.iter().enumerate() {
        let negative = t.coef.is_negative();
        let c = t.coef.abs();
        let body = if t.net.factors.is_empty() && t.net.indices.is_empty() {
            None
        } else {
            match render_network(&t.net, style, false) {
                Some(text) => Some(text),
                // Only ones in this term, or a size the text cannot carry: stay classic.
                None => return printer.top(e),
            }
        };
        let coef = match (&body, c.is_one()) {
            (Some(_), true) => String::new(),
            _ if c.is_integer() => c.to_string(),
            _ if style == Format::Latex => format!("\\frac{{{}}}{{{}}}", c.numer(), c.denom()),
            _ => format!("({}/{})", c.numer(), c.denom()),
        };
        let text = match body {
            Some(b) if coef.is_empty() => b,
            Some(b) => join(style, &coef, &b),
            None => coef,
        };
        match (k, negative) {
            (0, false) => out.push_str(&text),
            (0, true) => out.push_str(&format!("{minus}{text}")),
            (_, false) => out.push_str(&format!(" + {text}")),
            (_, true) => out.push_str(&format!(" {minus} {text}")),
        }
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

fn join(style: Format, a: &str, b: &str) -> String {
    if a.is_empty() {
        return b.to_string();
    }
    match style {
        Format::Unicode if !needs_space(a, b) => format!("{a}{b}"),
        _ => format!("{a} {b}"),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Item {
    /// A portion of factor `f` at 1-based positions.
    Portion { f: usize, positions: Vec<usize>, bar: bool },
    /// `[…]` with members (factor, positions); the bar goes on member `bar_on`.
    Square { members: Vec<(usize, Vec<usize>)>, bar: Option<usize> },
    /// `ι`.
    Iota,
    /// A `1` that stands alone (summed: `1̄`).
    One { bar: bool },
}

impl Item {
    fn factors(&self) -> Vec<usize> {
        match self {
            Item::Portion { f, .. } => vec![*f],
            Item::Square { members, .. } => members.iter().map(|(f, _)| *f).collect(),
            _ => vec![],
        }
    }
}

/// Writes a network as a bracket term. With `require_marker`, returns `None` when the
/// term would have no square bracket, bar or `ι` (it would then read as classic
/// notation); without it, such a term gets occurrence tags instead.
pub fn render_network(net: &Network, style: Format, require_marker: bool) -> Option<String> {
    render_network_checked(net, style, require_marker, true)
}

/// As [`render_network`]; with `keep_sizes`, returns `None` when a summed dim is touched
/// only by `1` or `I`, whose size the text would not carry.
pub(crate) fn render_network_checked(
    net: &Network,
    style: Format,
    require_marker: bool,
    keep_sizes: bool,
) -> Option<String> {
    let n_idx = net.indices.len();
    let mut touches: Vec<Vec<(usize, usize)>> = vec![vec![]; n_idx];
    for (f, factor) in net.factors.iter().enumerate() {
        for (s, &i) in factor.slots.iter().enumerate() {
            touches[i].push((f, s + 1));
        }
    }
    let is_ones = |f: usize| matches!(net.factors[f].expr.kind, Kind::Ones);
    let is_diff = |f: usize| matches!(net.factors[f].expr.kind, Kind::Diff(_));
    let free: IndexSet<usize> = net.output.iter().copied().collect();
    let item_of = |i: usize| -> Item {
        let summed = !free.contains(&i);
        let t = &touches[i];
        match t.len() {
            0 if net.indices[i] == Dim::Iota && !summed => Item::Iota,
            0 => Item::One { bar: summed },
            1 if is_ones(t[0].0) => Item::One { bar: summed },
            1 => Item::Portion { f: t[0].0, positions: vec![t[0].1], bar: summed },
            _ => {
                let members: Vec<(usize, Vec<usize>)> = t.iter().map(|&(f, s)| (f, vec![s])).collect();
                let bar = summed.then(|| members.iter().position(|(f, _)| is_diff(*f)).unwrap_or(0));
                Item::Square { members, bar }
            }
        }
    };
    let mut seq: Vec<Item> = net.output.iter().map(|&i| item_of(i)).collect();
    let mut summed: Vec<(usize, usize, Item)> = (0..n_idx)
        .filter(|i| !free.contains(i))
        .map(|i| {
            let key_f = touches[i].iter().map(|t| t.0).min().unwrap_or(usize::MAX);
            let key_s = touches[i].iter().map(|t| t.1).min().unwrap_or(0);
            (key_f, key_s, item_of(i))
        })
        .collect();
    summed.sort_by_key(|(f, s, _)| (*f, *s));
    for (_, _, item) in summed {
        let fs = item.factors();
        let at = seq.iter().position(|x| x.factors().iter().any(|f| fs.contains(f)));
        match at {
            Some(p) => seq.insert(p + 1, item),
            None => seq.push(item),
        }
    }
    // A summed dim that no tensor but `1` touches would lose its size in the text.
    let sizeless = |f: usize| matches!(net.factors[f].expr.kind, Kind::Ones | Kind::Identity);
    let lost_size = (0..n_idx)
        .any(|i| !free.contains(&i) && net.indices[i] != Dim::Iota && touches[i].iter().all(|&(f, _)| sizeless(f)));
    if lost_size && keep_sizes {
        return None;
    }
    let seq = merge_items(seq, net);
    let has_marker =
        seq.iter().any(|x| {
            matches!(x, Item::Square { .. } | Item::Iota | Item::One { bar: true } | Item::Portion { bar: true, .. })
        }) || net.factors.iter().any(|f| !simple_name(&f.expr) && f.expr.order() > 0 && f.expr.kind != Kind::Ones);
    // A single whole tensor reads the same in both notations.
    let lone_whole = matches!(seq.as_slice(), [Item::Portion { f, positions, bar: false }]
        if positions.iter().enumerate().all(|(k, &p)| p == k + 1) && positions.len() == net.factors[*f].expr.order());
    let has_marker = has_marker || lone_whole;
    if !has_marker && require_marker {
        return None;
    }
    let keys: Vec<String> = net.factors.iter().map(|f| factor_key(&f.expr, style)).collect();
    let mut tagged = ambiguous_keys(&seq, net, &keys);
    if !has_marker && tagged.is_empty() {
        // One tagged name is enough to make the term read as bracket notation.
        let mut counts: IndexMap<&str, usize> = IndexMap::new();
        for item in &seq {
            for f in item.factors() {
                *counts.entry(keys[f].as_str()).or_insert(0) += 1;
            }
        }
        let fewest = counts.iter().min_by_key(|(_, n)| **n).map(|(k, _)| k.to_string());
        match fewest {
            Some(k) => {
                tagged.insert(k);
            }
            None => return None,
        }
    }
    let rank = occurrence_ranks(net, &keys);
    let printer = Printer::new(style);
    let mut parts: Vec<String> = Vec::new();
    for f in net.factors.iter().filter(|f| f.expr.order() == 0) {
        // A scalar named like a portion (`λ_1`) is embedded so that it stays a name.
        let text = printer.at(&f.expr, crate::render::POST);
        let digit_named = matches!(&f.expr.kind, Kind::Var(n) if digit_subscripted(n));
        parts.push(if digit_named { format!("{{{text}}}") } else { text });
    }
    let tag = |f: usize| tagged.contains(&keys[f]).then(|| rank[f]);
    for item in &seq {
        let text = match item {
            Item::Portion { f, positions, bar } => portion(net, *f, positions, *bar, tag(*f), style),
            Item::Square { members, bar } => {
                let inner: Vec<String> = members
                    .iter()
                    .enumerate()
                    .map(|(k, (f, p))| {
                        if is_ones(*f) {
                            one(*bar == Some(k), style)
                        } else {
                            portion(net, *f, p, *bar == Some(k), tag(*f), style)
                        }
                    })
                    .collect();
                // In LaTeX a thin space keeps `[a dX̄_1]` from reading as `[adX̄_1]`.
                let gap = if style == Format::Latex { " \\, " } else { " " };
                format!("[{}]", inner.join(gap))
            }
            Item::Iota => match style {
                Format::Unicode => "ι".into(),
                Format::Latex => "\\iota".into(),
                _ => "iota".into(),
            },
            Item::One { bar } => one(*bar, style),
        };
        parts.push(text);
    }
    // Items stand side by side; a blank separates two items unless one is a bracket.
    let mut out = String::new();
    for p in parts {
        let glued = out.ends_with(']') || p.starts_with('[') || out.is_empty();
        out = if style == Format::Unicode && glued {
            join(style, &out, &p)
        } else {
            format!("{out} {p}").trim_start().to_string()
        };
    }
    Some(out)
}

fn one(bar: bool, style: Format) -> String {
    match (bar, style) {
        (false, Format::Latex) => "\\mathbf{1}".into(),
        (false, _) => "1".into(),
        (true, Format::Unicode) => "1\u{304}".into(),
        (true, Format::Latex) => "\\bar{\\mathbf{1}}".into(),
        (true, _) => "~1".into(),
    }
}

/// Joins neighbouring items that continue each other, as the tutorial writes them:
/// portions with ascending consecutive positions (`X_2 X_3` → `X_{23}`, `A_1 A_2` → `A`),
/// and square brackets whose members become whole tensors (`[A_1 B_1][A_2 B_2]` → `[A B]`).
fn merge_items(seq: Vec<Item>, net: &Network) -> Vec<Item> {
    let merged = merge_pairs(seq);
    let order = |f: usize| net.factors[f].expr.order();
    let whole = |f: usize, p: &[usize]| p.len() == order(f) && p.iter().enumerate().all(|(k, &x)| x == k + 1);
    let mut out = Vec::new();
    for item in merged {
        match item {
            Item::Square { members, bar } if members[0].1.len() > 1 && !members.iter().all(|(f, p)| whole(*f, p)) => {
                // Split back into one bracket per fused dim.
                for j in 0..members[0].1.len() {
                    let m: Vec<(usize, Vec<usize>)> = members.iter().map(|(f, p)| (*f, vec![p[j]])).collect();
                    out.push(Item::Square { members: m, bar });
                }
            }
            Item::Portion { f, positions, bar } => {
                // Keep runs of ascending consecutive positions together.
                let mut run = vec![positions[0]];
                for &p in &positions[1..] {
                    if p == run[run.len() - 1] + 1 {
                        run.push(p);
                    } else {
                        out.push(Item::Portion { f, positions: std::mem::take(&mut run), bar });
                        run.push(p);
                    }
                }
                out.push(Item::Portion { f, positions: run, bar });
            }
            other => out.push(other),
        }
    }
    out
}

fn merge_pairs(seq: Vec<Item>) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for item in seq {
        if let Some(last) = out.last_mut() {
            match (last, &item) {
                (Item::Portion { f, positions, bar }, Item::Portion { f: g, positions: q, bar: b2 })
                    if f == g && bar == b2 && !positions.iter().any(|p| q.contains(p)) =>
                {
                    positions.extend(q.iter().copied());
                    continue;
                }
                (Item::Square { members, bar }, Item::Square { members: m2, bar: b2 })
                    if bar.is_some() == b2.is_some()
                        && (bar.is_none() || bar == b2)
                        && members.len() == m2.len()
                        && members
                            .iter()
                            .zip(m2)
                            .all(|((f, p), (g, q))| f == g && !p.iter().any(|x| q.contains(x))) =>
                {
                    for ((_, p), (_, q)) in members.iter_mut().zip(m2) {
                        p.extend(q.iter().copied());
                    }
                    continue;
                }
                _ => {}
            }
        }
        out.push(item);
    }
    out
}

/// A name (`A`, `x1`, `λ`, `dX`, `W_1`): it can carry a portion subscript.
fn simple_name(e: &Expr) -> bool {
    match &e.kind {
        // A backpropagation seed `∇_{Z}J` is embedded: `{∇_{Z}J}_1`.
        Kind::Var(n) => !n.starts_with('∇'),
        Kind::Diff(_) | Kind::Identity => true,
        _ => false,
    }
}

/// A name whose own subscript would read as a portion in a bracket term (`W_1`).
fn digit_subscripted(n: &str) -> bool {
    n.split_once('_').is_some_and(|(_, sub)| {
        let sub = sub.trim_start_matches('{').trim_end_matches('}');
        !sub.is_empty() && sub.chars().all(|c| c.is_ascii_digit())
    })
}

fn factor_key(e: &Expr, style: Format) -> String {
    match &e.kind {
        Kind::Var(n) if simple_name(e) => n.clone(),
        Kind::Diff(n) if simple_name(e) => format!("d{n}"),
        Kind::Identity => "I".into(),
        _ => format!("{{{}}}", Printer::new(style).top(e)).chars().filter(|c| !c.is_whitespace()).collect(),
    }
}

/// The rank of each factor among the factors with the same key (1-based).
fn occurrence_ranks(net: &Network, keys: &[String]) -> Vec<usize> {
    let mut count: IndexMap<&str, usize> = IndexMap::new();
    (0..net.factors.len())
        .map(|f| {
            let c = count.entry(keys[f].as_str()).or_insert(0);
            *c += 1;
            *c
        })
        .collect()
}

/// Keys whose portions the parser's occurrence rule would group differently.
fn ambiguous_keys(seq: &[Item], net: &Network, keys: &[String]) -> IndexSet<String> {
    let mut walk: Vec<(usize, Vec<usize>)> = Vec::new();
    for item in seq {
        match item {
            Item::Portion { f, positions, .. } => walk.push((*f, positions.clone())),
            Item::Square { members, .. } => {
                walk.extend(members.iter().filter(|(f, _)| !matches!(net.factors[*f].expr.kind, Kind::Ones)).cloned())
            }
            _ => {}
        }
    }
    let mut current: IndexMap<&str, (usize, Vec<usize>)> = IndexMap::new();
    let mut bad = IndexSet::new();
    let mut seen_factor_of_occurrence: IndexMap<(String, usize), usize> = IndexMap::new();
    let mut occurrence_count: IndexMap<&str, usize> = IndexMap::new();
    for (f, positions) in walk {
        let key = keys[f].as_str();
        let fresh = match current.get(key) {
            Some((_, used)) => positions.iter().any(|p| used.contains(p)),
            None => true,
        };
        if fresh {
            let n = occurrence_count.entry(key).or_insert(0);
            *n += 1;
            current.insert(key, (*n, positions.clone()));
        } else if let Some((_, used)) = current.get_mut(key) {
            used.extend(positions.iter().copied());
        }
        let occ = current[key].0;
        let entry = seen_factor_of_occurrence.entry((key.to_string(), occ)).or_insert(f);
        if *entry != f {
            bad.insert(key.to_string());
        }
    }
    // A factor split over two occurrences is ambiguous too.
    let mut factor_occ: IndexMap<usize, usize> = IndexMap::new();
    for ((key, occ), f) in &seen_factor_of_occurrence {
        if let Some(prev) = factor_occ.insert(*f, *occ) {
            if prev != *occ {
                bad.insert(key.clone());
            }
        }
    }
    bad
}

fn portion(net: &Network, f: usize, positions: &[usize], bar: bool, tag: Option<usize>, style: Format) -> String {
    let e = &net.factors[f].expr;
    let n = e.order();
    let whole = positions.len() == n && positions.iter().enumerate().all(|(k, &p)| p == k + 1);
    let sub = if whole {
        String::new()
    } else {
        let text = crate::render::positions_text(positions);
        if text.chars().count() == 1 {
            format!("_{text}")
        } else {
            format!("_{{{text}}}")
        }
    };
    let tag = tag.map(|t| format!("@{t}")).unwrap_or_default();
    let printer = Printer::new(style);
    let subscripted = matches!(&e.kind, Kind::Var(n) | Kind::Diff(n) if n.contains('_'));
    let sub = if subscripted && !whole && sub.is_empty() { String::new() } else { sub };
    let whole_digit_name = whole && matches!(&e.kind, Kind::Var(n) | Kind::Diff(n) if digit_subscripted(n));
    if simple_name(e) && !whole_digit_name {
        let (prefix, name) = match &e.kind {
            Kind::Diff(n) => ("d", printer.name(n)),
            Kind::Var(n) => ("", printer.name(n)),
            _ => ("", "I".to_string()),
        };
        // In LaTeX a subscripted name takes its portion subscript in braces: `{W_1}_2`.
        let name =
            if style == Format::Latex && name.contains('_') && !sub.is_empty() { format!("{{{name}}}") } else { name };
        let name = if bar {
            match style {
                Format::Unicode => {
                    let mut chars = name.chars();
                    let first = chars.next().unwrap_or('?');
                    format!("{}{}", barred(first), chars.as_str())
                }
                Format::Latex => format!("\\bar{{{name}}}"),
                _ => name,
            }
        } else {
            name
        };
        let lead = if bar && !matches!(style, Format::Unicode | Format::Latex) { "~" } else { "" };
        format!("{lead}{prefix}{name}{tag}{sub}")
    } else {
        let inner = printer.top(e);
        match (bar, style) {
            (false, Format::Latex) => format!("\\{{{inner}\\}}{tag}{sub}"),
            (true, Format::Latex) => format!("\\overline{{\\{{{inner}\\}}}}{tag}{sub}"),
            (false, _) => format!("{{{inner}}}{tag}{sub}"),
            (true, Format::Unicode) => format!("{{{inner}}}\u{304}{tag}{sub}"),
            (true, _) => format!("~{{{inner}}}{tag}{sub}"),
        }
    }
}

/// A network that only places its factors side by side (every index free and on one
/// slot) as the classic `a ⊗ b ⊗ …`, permuted if needed (`Aᵀ`, `(a ⊗ B)_{213}`).
pub fn as_outer_product(net: &Network) -> Option<Expr> {
    let slots: Vec<usize> = net.factors.iter().flat_map(|f| f.slots.iter().copied()).collect();
    let distinct: IndexSet<usize> = slots.iter().copied().collect();
    let ones = net.factors.iter().any(|f| f.expr.kind == Kind::Ones);
    if ones || net.factors.is_empty() || distinct.len() != slots.len() || net.output.len() != slots.len() {
        return None;
    }
    // Factors in the order their dims first appear in the result: `x ⊗ I`, not `(I ⊗ x)_{312}`.
    let mut order: Vec<&Factor> = net.factors.iter().collect();
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
    let e = acc?;
    let perm: Vec<usize> = net.output.iter().map(|o| slots.iter().position(|s| s == o)).collect::<Option<_>>()?;
    if perm.iter().enumerate().all(|(k, &p)| k == p) {
        return Some(e);
    }
    let shape: Vec<Dim> = perm.iter().map(|&p| e.shape[p].clone()).collect();
    if perm == [1, 0] && e.shape.first() != Some(&Dim::Iota) {
        return Some(Expr::new(Kind::Transpose(Box::new(e)), shape));
    }
    Some(Expr::new(Kind::Permute(Box::new(e), perm), shape))
}

/// A letter with a bar: the precomposed character where Unicode has one (`Ā`), else the
/// letter and a combining macron.
fn barred(c: char) -> String {
    const PRECOMPOSED: [(char, char); 12] = [
        ('A', 'Ā'),
        ('a', 'ā'),
        ('E', 'Ē'),
        ('e', 'ē'),
        ('I', 'Ī'),
        ('i', 'ī'),
        ('O', 'Ō'),
        ('o', 'ō'),
        ('U', 'Ū'),
        ('u', 'ū'),
        ('Y', 'Ȳ'),
        ('y', 'ȳ'),
    ];
    match PRECOMPOSED.iter().find(|(l, _)| *l == c) {
        Some((_, p)) => p.to_string(),
        None => format!("{c}\u{304}"),
    }
}
