//! Raising a network by searching its contraction orders.
//!
//! A network of vectors and matrices has a classic form exactly when its factors can be
//! combined two at a time (or one at a time) by classic operations until one item is
//! left on the result's indices. The operations, each on items of order ≤ 2:
//!
//! - a matrix product over an index that only the two items carry (`AB`, `Aᵀb`, `aᵀb`);
//! - a Hadamard product of two items on the same indices (`A ⊙ Bᵀ`, `a ⊙ b`);
//! - `diag(a)B` or `B diag(a)`: a vector on one index of a matrix that others carry too;
//! - `tr(AB)` or `tr(AᵀB)`: two matrices on the same two indices, carried by no one else;
//! - alone: `A1` or `Aᵀ1` for an index only one item carries, `1ᵀa`, `tr(A)`, `diag(A)`.
//!
//! Every classic expression over the factors is built by such steps, in some order; the
//! search tries the orders (depth first, each state once, cut off when it cannot beat
//! the best found, and bounded by [`MAX_STATES`]) and keeps the smallest result. Steps
//! every smallest order takes are made before the search branches: vectors on one
//! index that a third item carries are multiplied entrywise, and a Hadamard product is
//! one state whatever the order and bracketing of its operands.
//! `raise.rs` has the older, direct raisers; the smaller of both is kept.

use crate::ir::build::{product, transpose};
use crate::ir::expr::*;
use crate::ir::shape::Dim;
use std::collections::HashSet;

/// Most search states for one network; the best form found by then is kept.
pub const MAX_STATES: usize = 3000;

/// Most factors a network may have for the search (more is left to the direct raisers).
pub const MAX_FACTORS: usize = 12;

#[derive(Clone, Debug)]
struct Item {
    expr: Expr,
    slots: Vec<usize>,
    /// A key of how the item was built, for recognising states met before.
    key: String,
    /// For a Hadamard product of items on the same indices, the keys of its operands,
    /// nested products flattened, sorted: `(a ⊙ b) ⊙ c` and `a ⊙ (c ⊙ b)` are one item
    /// (the same size, on the same indices), so the search meets it once.
    parts: Vec<String>,
}

impl Item {
    fn new(expr: Expr, slots: Vec<usize>, key: String) -> Item {
        Item { expr, slots, key, parts: Vec::new() }
    }

    /// `x ⊙ y` of two items on the same indices, keyed by its operands as a multiset.
    fn hadamard(x: &Item, y: &Item) -> Item {
        let mut parts: Vec<String> = Vec::new();
        for it in [x, y] {
            if it.parts.is_empty() {
                parts.push(it.key.clone());
            } else {
                parts.extend(it.parts.iter().cloned());
            }
        }
        parts.sort();
        let key = format!("had{{{}}}", parts.join(";"));
        Item { expr: hadamard(&x.expr, &y.expr), slots: x.slots.clone(), key, parts }
    }
}

#[derive(Clone, Debug)]
struct State {
    items: Vec<Item>,
    scalars: Vec<Item>,
}

struct Search<'a> {
    output: &'a [usize],
    indices: &'a [Dim],
    /// The factors; items refer to factor k by a placeholder name `#k`, so that states
    /// clone small trees, and the factors are put in once, in the result.
    leaves: Vec<Expr>,
    leaf_sizes: Vec<f64>,
    seen: HashSet<String>,
    best: Option<(f64, Expr)>,
    states: usize,
}

/// The size the search minimises: nodes, with a transposed name counted as half.
pub fn size(e: &Expr) -> f64 {
    size_with(e, &|_| None)
}

/// [`size`], with `leaf` giving the size of the sub-expressions it knows and whether
/// each is an atom (as a placeholder knows its factor).
fn size_with(e: &Expr, leaf: &dyn Fn(&Expr) -> Option<(f64, bool)>) -> f64 {
    if let Some((s, _)) = leaf(e) {
        return s;
    }
    match &e.kind {
        Kind::Transpose(x) if leaf(x).map_or(x.children().is_empty(), |(_, atom)| atom) => 1.5,
        Kind::Network(_) => f64::INFINITY,
        _ => 1.0 + e.children().iter().map(|c| size_with(c, leaf)).sum::<f64>(),
    }
}

/// The smallest classic form of a network of vectors and matrices found by the search.
pub fn raise_by_contraction(net: &Network) -> Option<Expr> {
    if net.factors.len() > MAX_FACTORS
        || net.output.len() > 2
        || net.indices.contains(&Dim::Iota)
        || net.factors.iter().any(|f| f.expr.order() > 2 || f.slots.len() != f.expr.order())
    {
        return None;
    }
    let leaves: Vec<Expr> = net.factors.iter().map(|f| f.expr.clone()).collect();
    let mut items: Vec<Item> = net
        .factors
        .iter()
        .enumerate()
        .map(|(k, f)| Item::new(placeholder(k, &f.expr), f.slots.clone(), format!("f{k}")))
        .collect();
    // A result index on no factor is a ones vector; a summed one sums a constant: `1ᵀ1`.
    for (i, d) in net.indices.iter().enumerate() {
        if items.iter().any(|it| it.slots.contains(&i)) {
            continue;
        }
        let ones = Expr::new(Kind::Ones, vec![d.clone()]);
        if net.output.contains(&i) {
            if net.output.iter().filter(|&&o| o == i).count() == 1 {
                items.push(Item::new(ones, vec![i], format!("1@{i}")));
            }
        } else {
            let n = product(transpose(ones.clone()), ones);
            items.push(Item::new(n, vec![], format!("n@{i}")));
        }
    }
    let leaf_sizes = leaves.iter().map(size).collect();
    let mut search = Search {
        output: &net.output,
        indices: &net.indices,
        leaves,
        leaf_sizes,
        seen: HashSet::new(),
        best: None,
        states: 0,
    };
    let start = search.normalize(State { items, scalars: vec![] });
    search.visit(start);
    if std::env::var_os("BRACKET_CONTRACT_DEBUG").is_some() {
        eprintln!(
            "contract: {} factors, {} states, best {:?}",
            net.factors.len(),
            search.states,
            search.best.as_ref().map(|b| b.0)
        );
    }
    let (_, best) = search.best.take()?;
    Some(search.substitute(&best))
}

/// The name factor k stands under while searching.
fn placeholder(k: usize, e: &Expr) -> Expr {
    Expr::new(Kind::Var(format!("#{k}")), e.shape.clone())
}

/// The factor a placeholder stands for.
fn leaf_of(e: &Expr) -> Option<usize> {
    match &e.kind {
        Kind::Var(n) => n.strip_prefix('#').and_then(|k| k.parse().ok()),
        _ => None,
    }
}

impl Search<'_> {
    /// How many slots of all items carry index `i`, the result counted as one more.
    fn uses(&self, state: &State, i: usize) -> usize {
        let on_items: usize = state.items.iter().map(|it| it.slots.iter().filter(|&&s| s == i).count()).sum();
        on_items + usize::from(self.output.contains(&i))
    }

    /// Steps every order takes alike: scalars aside, diagonals, sums of lone indices.
    fn normalize(&self, mut state: State) -> State {
        'again: loop {
            // a ⊙ a^{⊙-1} = 1 (the input's conditions say a has no zero entry).
            for k in 0..state.items.len() {
                for j in 0..state.items.len() {
                    let (x, y) = (&state.items[k], &state.items[j]);
                    if k != j && x.slots == y.slots && self.reciprocal(&x.expr, &y.expr) {
                        let ones = Item::new(
                            Expr::new(Kind::Ones, x.expr.shape.clone()),
                            x.slots.clone(),
                            format!("1({})", x.key),
                        );
                        state.items[k] = ones;
                        state.items.remove(j);
                        continue 'again;
                    }
                }
            }
            // Vectors on one index that a third item (or the result) carries too are
            // multiplied entrywise first: a classic form can only use them as `u ⊙ v`
            // or as diagonals, and `diag(u ⊙ v)` is smaller than `diag(u)diag(v)`.
            for k in 0..state.items.len() {
                for j in k + 1..state.items.len() {
                    let (x, y) = (&state.items[k], &state.items[j]);
                    if x.slots.len() == 1 && x.slots == y.slots && self.uses(&state, x.slots[0]) > 2 {
                        state.items[k] = Item::hadamard(x, y);
                        state.items.remove(j);
                        continue 'again;
                    }
                }
            }
            for k in 0..state.items.len() {
                let it = &state.items[k];
                if it.slots.is_empty() {
                    let s = state.items.remove(k);
                    state.scalars.push(s);
                    continue 'again;
                }
                if it.slots.len() == 2 && it.slots[0] == it.slots[1] {
                    let i = it.slots[0];
                    let item = if self.uses(&state, i) == 2 {
                        Item::new(
                            Expr::new(Kind::Trace(Box::new(it.expr.clone())), vec![]),
                            vec![],
                            format!("tr({})", it.key),
                        )
                    } else {
                        let d = self.indices[i].clone();
                        Item::new(
                            Expr::new(Kind::Diag(Box::new(it.expr.clone())), vec![d]),
                            vec![i],
                            format!("dg({})", it.key),
                        )
                    };
                    state.items[k] = item;
                    continue 'again;
                }
                for p in 0..it.slots.len() {
                    let i = it.slots[p];
                    if self.uses(&state, i) != 1 {
                        continue;
                    }
                    let ones = Expr::new(Kind::Ones, vec![self.indices[i].clone()]);
                    let (expr, slots) = if it.slots.len() == 1 {
                        (product(transpose(ones), it.expr.clone()), vec![])
                    } else if p == 1 {
                        (product(it.expr.clone(), ones), vec![it.slots[0]])
                    } else {
                        (product(transpose(it.expr.clone()), ones), vec![it.slots[1]])
                    };
                    state.items[k] = Item::new(expr, slots, format!("Σ{p}({})", it.key));
                    continue 'again;
                }
            }
            return state;
        }
    }

    fn key(state: &State) -> String {
        let mut parts: Vec<String> = state.items.iter().map(|it| format!("{}{:?}", it.key, it.slots)).collect();
        parts.sort();
        let mut scalars: Vec<&str> = state.scalars.iter().map(|s| s.key.as_str()).collect();
        scalars.sort();
        format!("{}|{}", parts.join(";"), scalars.join(";"))
    }

    /// A lower bound of any result from this state: what is built so far.
    fn bound(&self, state: &State) -> f64 {
        state.items.iter().chain(&state.scalars).map(|it| self.size(&it.expr)).sum()
    }

    /// [`size`] of a tree over placeholders, each counted as its factor.
    fn size(&self, e: &Expr) -> f64 {
        size_with(e, &|x| leaf_of(x).map(|k| (self.leaf_sizes[k], self.leaves[k].children().is_empty())))
    }

    /// The tree with the factors put in for their placeholders; a local derivative goes
    /// last in each Hadamard product.
    fn substitute(&self, e: &Expr) -> Expr {
        if let Some(k) = leaf_of(e) {
            return self.leaves[k].clone();
        }
        let mut out = e.clone();
        for c in out.children_mut() {
            *c = self.substitute(c);
        }
        match out.kind {
            Kind::Hadamard(a, b) => ordered_hadamard(*a, *b),
            // A product with the identity (a δ the network kept) is the other factor.
            Kind::Product(a, b) if b.kind == Kind::Identity && a.shape == out.shape => *a,
            Kind::Product(a, b) if a.kind == Kind::Identity && b.shape == out.shape => *b,
            kind => Expr { kind, shape: out.shape },
        }
    }

    /// Whether item expression `q` is `p^{⊙-1}`, looking through placeholders.
    fn reciprocal(&self, p: &Expr, q: &Expr) -> bool {
        reciprocal(self.real(p), self.real(q))
    }

    /// The factor a placeholder stands for, or the expression itself.
    fn real<'e>(&'e self, e: &'e Expr) -> &'e Expr {
        leaf_of(e).map_or(e, |k| &self.leaves[k])
    }

    fn visit(&mut self, state: State) {
        if self.states >= MAX_STATES || !self.seen.insert(Self::key(&state)) {
            return;
        }
        self.states += 1;
        if self.best.as_ref().is_some_and(|(b, _)| self.bound(&state) >= *b) {
            return;
        }
        if let Some(e) = self.finish(&state) {
            let s = self.size(&e);
            if self.best.as_ref().is_none_or(|(b, _)| s < *b) {
                self.best = Some((s, e));
            }
        }
        for next in self.steps(&state) {
            let next = self.normalize(next);
            self.visit(next);
        }
    }

    /// The result, if the state is one item on the result's indices (or two vectors).
    fn finish(&self, state: &State) -> Option<Expr> {
        let body = match (state.items.as_slice(), self.output) {
            ([], []) => None,
            ([it], [o]) if it.slots == [*o] => Some(it.expr.clone()),
            ([it], [a, b]) if it.slots == [*a, *b] => Some(it.expr.clone()),
            ([it], [a, b]) if it.slots == [*b, *a] => Some(transpose(it.expr.clone())),
            ([it], [a, b]) if a == b && it.slots == [*a] => {
                let d = self.indices[*a].clone();
                Some(Expr::new(Kind::Diag(Box::new(it.expr.clone())), vec![d.clone(), d]))
            }
            ([x, y], [a, b]) if x.slots == [*a] && y.slots == [*b] => {
                Some(product(x.expr.clone(), transpose(y.expr.clone())))
            }
            ([x, y], [a, b]) if x.slots == [*b] && y.slots == [*a] => {
                Some(product(y.expr.clone(), transpose(x.expr.clone())))
            }
            _ => return None,
        };
        let mut acc: Option<Expr> = None;
        for s in &state.scalars {
            acc = Some(match acc {
                None => s.expr.clone(),
                Some(a) => product(a, s.expr.clone()),
            });
        }
        match (acc, body) {
            (None, None) => None,
            (Some(s), None) => Some(s),
            (None, Some(b)) => Some(b),
            (Some(s), Some(b)) => Some(product(s, b)),
        }
    }

    /// Every state one binary step away.
    fn steps(&self, state: &State) -> Vec<State> {
        let mut out = Vec::new();
        let n = state.items.len();
        for a in 0..n {
            for b in 0..n {
                if a == b {
                    continue;
                }
                for made in self.combine(state, a, b) {
                    let mut items: Vec<Item> = Vec::with_capacity(n - 1);
                    for (k, it) in state.items.iter().enumerate() {
                        if k == a {
                            items.push(made.clone());
                        } else if k != b {
                            items.push(it.clone());
                        }
                    }
                    out.push(State { items, scalars: state.scalars.clone() });
                }
            }
        }
        out
    }

    /// The items that `x` (item a) and `y` (item b) make together; ordered pairs, so each
    /// asymmetric step is tried once.
    fn combine(&self, state: &State, a: usize, b: usize) -> Vec<Item> {
        let (x, y) = (&state.items[a], &state.items[b]);
        let shared: Vec<usize> = x.slots.iter().copied().filter(|s| y.slots.contains(s)).collect();
        // Private: carried by these two items only, once each.
        let private = |i: usize| self.uses(state, i) == 2;
        let mut out = Vec::new();
        let key = |op: &str| format!("{op}({},{})", x.key, y.key);
        match (x.slots.len(), y.slots.len()) {
            (1, 1) if shared.len() == 1 => {
                if private(shared[0]) {
                    {
                        let e = product(transpose(x.expr.clone()), y.expr.clone());
                        out.push(Item::new(e, vec![], key("dot")));
                    }
                } else if a < b {
                    out.push(Item::hadamard(x, y));
                }
            }
            (2, 1) if shared.len() == 1 => {
                let i = shared[0];
                let p = x.slots.iter().position(|&s| s == i).expect("shared");
                let other = x.slots[1 - p];
                if private(i) {
                    // Aᵀv or Av: the matrix on the vector.
                    let m = if p == 0 { transpose(x.expr.clone()) } else { x.expr.clone() };
                    out.push(Item::new(product(m, y.expr.clone()), vec![other], key("mv")));
                } else if x.slots[0] != x.slots[1] {
                    // diag(v)A or A diag(v).
                    let d = self.indices[i].clone();
                    let dg = Expr::new(Kind::Diag(Box::new(y.expr.clone())), vec![d.clone(), d]);
                    let e = if p == 0 { product(dg, x.expr.clone()) } else { product(x.expr.clone(), dg) };
                    out.push(Item::new(e, x.slots.clone(), key(&format!("dg{p}"))));
                }
            }
            (2, 2) if shared.len() == 2 => {
                if a > b {
                    return out;
                }
                let same = x.slots == y.slots;
                let yy = if same { y.expr.clone() } else { transpose(y.expr.clone()) };
                if private(shared[0]) && private(shared[1]) {
                    // tr(AᵀB) = Σ A ⊙ B, tr(AB) = Σ A ⊙ Bᵀ.
                    let e = if same {
                        product(transpose(x.expr.clone()), y.expr.clone())
                    } else {
                        product(x.expr.clone(), y.expr.clone())
                    };
                    out.push(Item::new(Expr::new(Kind::Trace(Box::new(e)), vec![]), vec![], key("tr")));
                } else {
                    out.push(if same {
                        Item::hadamard(x, y)
                    } else {
                        Item::new(hadamard(&x.expr, &yy), x.slots.clone(), key("hadt"))
                    });
                }
            }
            (2, 2) if shared.len() == 1 && private(shared[0]) => {
                if a > b {
                    return out;
                }
                let i = shared[0];
                let px = x.slots.iter().position(|&s| s == i).expect("shared");
                let py = y.slots.iter().position(|&s| s == i).expect("shared");
                // x then y: x as [·, i], y as [i, ·]; or y then x; the order with fewer
                // transposes, or both when they tie.
                let t_xy = usize::from(px != 1) + usize::from(py != 0);
                let orders = [(x, px, y, py, t_xy <= 2 - t_xy, "mm"), (y, py, x, px, 2 - t_xy <= t_xy, "mm'")];
                for (first, pf, second, ps, wanted, name) in orders {
                    if !wanted {
                        continue;
                    }
                    let l = if pf == 1 { first.expr.clone() } else { transpose(first.expr.clone()) };
                    let r = if ps == 0 { second.expr.clone() } else { transpose(second.expr.clone()) };
                    out.push(Item::new(product(l, r), vec![first.slots[1 - pf], second.slots[1 - ps]], key(name)));
                }
            }
            _ => {}
        }
        out
    }
}

/// `a ⊙ b` (over placeholders; the order is settled when the factors go in).
fn hadamard(a: &Expr, b: &Expr) -> Expr {
    Expr::new(Kind::Hadamard(Box::new(a.clone()), Box::new(b.clone())), a.shape.clone())
}

/// `a ⊙ b` with a local derivative last, as the chain rule reads: `(h − Y) ⊙ f'(Z)`.
pub fn ordered_hadamard(a: Expr, b: Expr) -> Expr {
    let derivative = |e: &Expr| matches!(e.kind, Kind::Func { derivative, .. } if derivative > 0);
    let (a, b) = if derivative(&a) && !derivative(&b) { (b, a) } else { (a, b) };
    let shape = a.shape.clone();
    Expr::new(Kind::Hadamard(Box::new(a), Box::new(b)), shape)
}

/// Whether `q` is `p^{⊙-1}`.
fn reciprocal(p: &Expr, q: &Expr) -> bool {
    matches!(&q.kind, Kind::HPower(base, k) if **base == *p && *k == -num_rational::BigRational::from_integer(1.into()))
}
