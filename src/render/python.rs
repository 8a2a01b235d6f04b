//! Python code from expressions: a function body of assignments in which every
//! subexpression used more than once is computed once (`t_0 = np.linalg.inv(X)`), the
//! argument of an element-wise function or softmax is a name (NumPy's printer repeats
//! it), and `A⁻¹B` is `np.linalg.solve(A, B)` where A⁻¹ is needed nowhere else.

use crate::ir::expr::{Expr, Kind};
use crate::ir::shape::Dim;
use crate::read::elaborate::Model;
use crate::render::numpy::diagonal_of;
use crate::render::{py_name, render_numpy_in_module as render_numpy};
use indexmap::IndexMap;
use num_rational::BigRational;
use num_traits::{One, Signed};

/// One output of a body: a Python name and the expression it holds.
#[derive(Clone, Debug)]
pub struct Output {
    /// The Python name.
    pub name: String,
    /// The value.
    pub expr: Expr,
}

/// How a body is written.
#[derive(Clone, Copy, Debug)]
pub struct BodyOptions {
    /// `np.linalg.solve(A, B)` for `A⁻¹B` where A⁻¹ is used once.
    pub solve: bool,
}

/// The assignments computing `outputs` in order, shared subexpressions first each time
/// they are first needed, as lines of Python (without indentation).
pub fn body(outputs: &[Output], model: &Model, options: BodyOptions) -> Vec<String> {
    let outputs: Vec<Output> = outputs
        .iter()
        .map(|o| Output { name: o.name.clone(), expr: vector_chains_inward(&powers_applied(&o.expr)) })
        .collect();
    let outputs = chains_shared(&outputs, model);
    let outputs = &outputs[..];
    let mut counts: IndexMap<String, (usize, usize)> = IndexMap::new();
    for o in outputs {
        count(&o.expr, model, &mut counts);
    }
    // A subexpression inside a shared one is counted once for all its uses.
    let mut shared: Vec<(String, usize, usize)> =
        counts.iter().filter(|(_, (n, _))| *n >= 2).map(|(k, (n, size))| (k.clone(), *n, *size)).collect();
    shared.sort_by(|a, b| b.2.cmp(&a.2));
    // (By its uses left after the larger ones took theirs: `σ(a)` inside `−σ(a)`, itself
    // used twice, is computed once for those two and once more for each other use.)
    for (key, _, _) in &shared {
        let n = counts.get(key).map_or(0, |(m, _)| *m);
        if n >= 2 {
            let e = find(outputs, key).expect("counted");
            let mut inner = IndexMap::new();
            for c in computed_from(e, model) {
                count(c, model, &mut inner);
            }
            for (k, (m, _)) in inner {
                if let Some(entry) = counts.get_mut(&k) {
                    entry.0 = entry.0.saturating_sub(m * (n - 1));
                }
            }
        }
    }
    let mut writer = Writer { model, options, counts, names: IndexMap::new(), made: 0, lines: Vec::new() };
    for o in outputs {
        let e = writer.rewrite(&o.expr, false);
        let text = render_numpy(&e, model);
        writer.lines.push(format!("{} = {text}", o.name));
    }
    writer.lines.iter().map(|l| tidy(l)).collect()
}

/// Each product of three or more factors bracketed around a product of some of them
/// that stands elsewhere in the outputs: `yᵀXw` beside `exp(Xw)` as `yᵀ(Xw)`, so that
/// Xw is computed once and the value costs N more multiply-adds, not Nd. (The longest
/// such run of factors, the first of equal length; a chain's own bracketing of it does
/// not count.)
///
/// A run one output is bracketed around may then stand in another only after that
/// rebracketing (`2aaᵀX` as `2a(aᵀX)` beside `aᵀXXᵀa`): the outputs are bracketed again
/// until nothing changes, at most three times.
fn chains_shared(outputs: &[Output], model: &Model) -> Vec<Output> {
    let symmetric = model.symmetric_names();
    let known = |n: &str| symmetric.contains(n);
    let mut outputs = outputs.to_vec();
    for _ in 0..3 {
        let mut stands: IndexMap<Vec<String>, (usize, Expr)> = IndexMap::new();
        for o in &outputs {
            products_in(&o.expr, &mut stands);
        }
        let next: Vec<Output> = outputs
            .iter()
            .map(|o| Output { name: o.name.clone(), expr: bracketed_within(&o.expr, &stands, &known, 0) })
            .collect();
        if next.iter().zip(&outputs).all(|(a, b)| a.expr == b.expr) {
            break;
        }
        outputs = next;
    }
    outputs
}

/// `e` with each chain of three or more matrix factors that ends in a column applied
/// to it from the right: `Xᵀ(X v)`, `Xᵀ(O⁻¹r)`, where `(XᵀX)v` forms an n×n matrix (a
/// Hessian-vector product's point is not to) and hides the solve `O⁻¹r`.
pub(super) fn vector_chains_inward(e: &Expr) -> Expr {
    if matches!(e.kind, Kind::Product(..)) {
        let factors = chain(e);
        // (One that opens with a row is as cheap either way round: `(xᵀA)x`.)
        let row = factors[0].shape.first() == Some(&Dim::Iota);
        if factors.len() >= 3 && !row && factors.last().is_some_and(|f| f.shape.len() == 1) {
            let inward = factors
                .iter()
                .rev()
                .map(|f| vector_chains_inward(f))
                .reduce(|acc, f| crate::ir::build::product(f, acc));
            return inward.expect("three factors");
        }
    }
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = vector_chains_inward(c);
    }
    out
}

/// The factors of a product, in order, through its products that are links of a
/// matrix chain. A scalar times a vector or matrix (`(sᵀHt)1`) is a scaling, not one:
/// as matrices, 1×1 by T×1, which no rebracketing may split (`sᵀH(t1)` is no
/// product), so it stands as one factor.
fn chain(e: &Expr) -> Vec<&Expr> {
    fn go<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match &e.kind {
            Kind::Product(a, b) if links(a, b) => {
                go(a, out);
                go(b, out);
            }
            _ => out.push(e),
        }
    }
    let mut out = Vec::new();
    go(e, &mut out);
    out
}

/// Whether `ab` is a matrix product: `a`'s columns meet `b`'s rows, a scalar read as
/// 1×1, a vector as a column and `uᵀ` as a row (tensors of higher order always link).
fn links(a: &Expr, b: &Expr) -> bool {
    let one = |d: Option<&Dim>| d.is_none_or(|d| *d == Dim::Iota);
    let (sa, sb) = (&a.shape, &b.shape);
    if sa.len() > 2 || sb.len() > 2 {
        return true;
    }
    let columns = if sa.len() == 2 { sa.get(1) } else { None };
    one(columns) == one(sb.first())
}

/// Every product node of `e`, by its factors' keys, with how many times it stands.
fn products_in(e: &Expr, out: &mut IndexMap<Vec<String>, (usize, Expr)>) {
    if matches!(e.kind, Kind::Product(..)) {
        let keys = chain(e).into_iter().map(key).collect();
        out.entry(keys).or_insert_with(|| (0, e.clone())).0 += 1;
    }
    for c in e.children() {
        products_in(c, out);
    }
}

/// How deep [`bracketed_within`] goes into the runs it brackets around (each is
/// bracketed in turn): a bound on what the recursion can reach.
const CHAIN_DEPTH: usize = 8;

/// `e` with each chain bracketed as [`chains_shared`] says, `depth` runs down.
fn bracketed_within(
    e: &Expr,
    stands: &IndexMap<Vec<String>, (usize, Expr)>,
    symmetric: &dyn Fn(&str) -> bool,
    depth: usize,
) -> Expr {
    if depth > CHAIN_DEPTH {
        return e.clone();
    }
    if !matches!(e.kind, Kind::Product(..)) {
        let mut out = e.clone();
        for c in out.children_mut() {
            *c = bracketed_within(c, stands, symmetric, depth);
        }
        return out;
    }
    let factors = chain(e);
    let keys: Vec<String> = factors.iter().map(|f| key(f)).collect();
    let mut own = IndexMap::new();
    products_in(e, &mut own);
    // The keys of the factors transposed, in the order a transposed run has them (a
    // symmetric factor its own).
    let flipped: Vec<String> = factors
        .iter()
        .map(|f| match &f.kind {
            Kind::Transpose(x) => key(x),
            _ if f.order() == 2 && crate::ir::symmetry::is_symmetric(f, symmetric) => key(f),
            _ => key(&crate::ir::build::transpose((*f).clone())),
        })
        .collect();
    let elsewhere = |run: &[String]| stands.get(run).map_or(0, |(n, _)| *n) > own.get(run).map_or(0, |(n, _)| *n);
    let chain =
        Chain { factors: &factors, keys: &keys, flipped: &flipped, stands, elsewhere: &elsewhere, symmetric, depth };
    match chain.around(0, factors.len()) {
        Some(out) => out,
        None => {
            let mut out = e.clone();
            for c in out.children_mut() {
                *c = bracketed_within(c, stands, symmetric, depth);
            }
            out
        }
    }
}

/// A product's factors, their keys and their transposes' keys, for [`Chain::around`].
struct Chain<'a> {
    factors: &'a [&'a Expr],
    keys: &'a [String],
    flipped: &'a [String],
    stands: &'a IndexMap<Vec<String>, (usize, Expr)>,
    elsewhere: &'a dyn Fn(&[String]) -> bool,
    symmetric: &'a dyn Fn(&str) -> bool,
    depth: usize,
}

impl Chain<'_> {
    /// The factors `lo..hi` bracketed around their longest run (the first of equal
    /// length) that stands as a product elsewhere, or whose transpose does (`yᵀXw`
    /// beside the gradient `Xᵀy`), and the factors before and after it likewise (`aᵀXXᵀa`
    /// beside `aᵀX` is `(aᵀX)(aᵀX)ᵀ`); None where no run does.
    fn around(&self, lo: usize, hi: usize) -> Option<Expr> {
        let product = crate::ir::build::product;
        // (The whole chain is a run only as a transpose: `K⁻¹y` beside `yᵀK⁻¹` for a
        // symmetric K.)
        let whole = self.factors.len();
        let (start, len, middle) = (2..=hi - lo).rev().find_map(|len| {
            (lo..=hi - len).find_map(|start| {
                let run = &self.keys[start..start + len];
                if len < whole && (self.elsewhere)(run) {
                    return Some((start, len, self.stands[run].1.clone()));
                }
                let mut back: Vec<String> = self.flipped[start..start + len].to_vec();
                back.reverse();
                // (A whole chain and its transpose each stand: the one met first is kept.)
                let first = len < whole || self.stands.get_index_of(&back) < self.stands.get_index_of(self.keys);
                ((self.elsewhere)(&back) && first)
                    .then(|| (start, len, crate::ir::build::transpose(self.stands[&back].1.clone())))
            })
        })?;
        let middle = bracketed_within(&middle, self.stands, self.symmetric, self.depth + 1);
        let part = |a: usize, b: usize| {
            self.around(a, b).or_else(|| {
                self.factors[a..b]
                    .iter()
                    .map(|f| bracketed_within(f, self.stands, self.symmetric, self.depth))
                    .reduce(product)
            })
        };
        let with = match part(lo, start) {
            Some(before) => product(before, middle),
            None => middle,
        };
        Some(match part(start + len, hi) {
            Some(after) => product(with, after),
            None => with,
        })
    }
}

/// `e` with a small whole power of a matrix applied to a vector (or a row) as that many
/// products: `yᵀM⁻²y` as `((yᵀM⁻¹)M⁻¹)y`, O(n²) once M⁻¹ is known, where `M⁻¹M⁻¹` is
/// another O(n³) product (survey 15: a GP's gradient by its noise, 1.38 s against
/// 0.97 s at N = 2000).
fn powers_applied(e: &Expr) -> Expr {
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = powers_applied(c);
    }
    let Kind::Product(a, b) = &out.kind else { return out };
    let narrow = |x: &Expr| x.order() <= 1 || x.shape.contains(&crate::ir::shape::Dim::Iota);
    let factors = |m: &Expr| -> Option<(Expr, i64)> {
        let Kind::Power(x, p) = &m.kind else { return None };
        let times = num_traits::ToPrimitive::to_i64(&p.abs().to_integer()).filter(|k| (2..=4).contains(k))?;
        if !p.is_integer() || x.order() != 2 {
            return None;
        }
        let base = match p.is_negative() {
            true => Expr::new(Kind::Inverse(x.clone()), x.shape.clone()),
            false => (**x).clone(),
        };
        Some((base, times))
    };
    let product = crate::ir::build::product;
    if let (true, Some((base, times))) = (narrow(b), factors(a)) {
        return (0..times).fold((**b).clone(), |acc, _| product(base.clone(), acc));
    }
    if let (true, Some((base, times))) = (narrow(a), factors(b)) {
        return (0..times).fold((**a).clone(), |acc, _| product(acc, base.clone()));
    }
    out
}

/// True if the parentheses opening at `k` hold a comma of their own (a tuple or arguments).
fn top_level_comma(chars: &[char], partner: &[usize], k: usize) -> bool {
    let mut at = k + 1;
    while at < partner[k] {
        match chars[at] {
            ',' => return true,
            '(' if partner[at] != usize::MAX => at = partner[at] + 1,
            _ => at += 1,
        }
    }
    false
}

/// The helper a module defines when its code calls `softmax`.
pub const SOFTMAX: &str = "def softmax(a, axis):
    \"\"\"Softmax over `axis`, the maximum subtracted first so that exp cannot overflow.\"\"\"
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
";

/// The helper a module defines when its code calls `log_softmax`.
pub const LOG_SOFTMAX: &str = "def log_softmax(a, axis):
    \"\"\"ln of the softmax over `axis`, as `a` less its logsumexp, the maximum subtracted first
    so that exp can neither overflow nor leave ln a zero.\"\"\"
    t = a - np.max(a, axis=axis, keepdims=True)
    return t - np.log(np.sum(np.exp(t), axis=axis, keepdims=True))
";

/// `x = (…)` and `f((…))` without the parentheses that change nothing.
fn tidy(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    // The partner of each parenthesis.
    let mut partner = vec![usize::MAX; chars.len()];
    let mut open = Vec::new();
    for (k, c) in chars.iter().enumerate() {
        match c {
            '(' => open.push(k),
            ')' => {
                if let Some(o) = open.pop() {
                    partner[o] = k;
                    partner[k] = o;
                }
            }
            _ => {}
        }
    }
    let mut drop = vec![false; chars.len()];
    if let Some(eq) = line.find(" = ").map(|b| line[..b].chars().count() + 3) {
        if chars.get(eq) == Some(&'(') && partner[eq] == chars.len() - 1 {
            drop[eq] = true;
            drop[chars.len() - 1] = true;
        }
    }
    // `((x))` is `(x)`, unless the inner pair holds a tuple: `np.ones((n, m))`.
    for k in 1..chars.len() {
        let doubled = chars[k - 1] == '(' && chars[k] == '(' && partner[k] != usize::MAX;
        if doubled && partner[k] + 1 == partner[k - 1] && !top_level_comma(&chars, &partner, k) {
            drop[k] = true;
            drop[partner[k]] = true;
        }
    }
    let out: String = chars.iter().zip(drop).filter(|(_, d)| !d).map(|(c, _)| c).collect();
    unparenthesised_names(&out)
}

/// `-(t_0)` as `-t_0`: a name needs no parentheses after a sign.
fn unparenthesised_names(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("-(") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let inner = &tail[2..];
        let name_len = inner.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(inner.len());
        let is_name = name_len > 0
            && inner[..name_len].starts_with(|c: char| c.is_alphabetic() || c == '_')
            && inner[name_len..].starts_with(')');
        if is_name {
            out.push('-');
            out.push_str(&inner[..name_len]);
            rest = &inner[name_len + 1..];
        } else {
            out.push_str("-(");
            rest = inner;
        }
    }
    out.push_str(rest);
    out
}

fn key(e: &Expr) -> String {
    format!("{:?}", e)
}

/// A leaf or a view of one, never worth a name of its own; nor a leaf vector spread over
/// rows or columns (`1bᵀ`), which a sum adds by broadcasting.
fn trivial(e: &Expr) -> bool {
    if crate::render::numpy::spread_vector(e).is_some_and(|(v, _)| trivial(v)) {
        return true;
    }
    match &e.kind {
        Kind::Var(_) | Kind::Diff(_) | Kind::Const(_) | Kind::Ones | Kind::Identity => true,
        Kind::Transpose(x) | Kind::Scale(_, x) => trivial(x),
        _ => false,
    }
}

fn count(e: &Expr, model: &Model, counts: &mut IndexMap<String, (usize, usize)>) {
    if trivial(e) {
        return;
    }
    let entry = counts.entry(key(e)).or_insert((0, e.node_count()));
    entry.0 += 1;
    for c in computed_from(e, model) {
        count(c, model, counts);
    }
}

/// What the body computes `e` from: its children, or the argument of the stable call it
/// is written as (`ln(σ(Xw))` is `-np.logaddexp(0, -(Xw))`: it uses Xw, not σ(Xw), so
/// Xw shared with `σ(Xw)` elsewhere is computed once).
fn computed_from<'a>(e: &'a Expr, model: &'a Model) -> Vec<&'a Expr> {
    if let Some(z) = global_softmax(e) {
        return vec![z];
    }
    if let Some(Expr { kind: Kind::Softmax { arg: z, .. }, .. }) = log_of_softmax(e, &model.definitions) {
        return vec![z];
    }
    match stable(e, &model.definitions) {
        Some((_, z)) => vec![z],
        None => e.children(),
    }
}

fn find<'a>(outputs: &'a [Output], k: &str) -> Option<&'a Expr> {
    fn go<'a>(e: &'a Expr, k: &str) -> Option<&'a Expr> {
        if key(e) == k {
            return Some(e);
        }
        e.children().into_iter().find_map(|c| go(c, k))
    }
    outputs.iter().find_map(|o| go(&o.expr, k))
}

struct Writer<'a> {
    model: &'a Model,
    options: BodyOptions,
    counts: IndexMap<String, (usize, usize)>,
    names: IndexMap<String, String>,
    /// How many names it made.
    made: usize,
    lines: Vec<String>,
}

impl Writer<'_> {
    /// `e` with its shared subexpressions (and, with `named`, itself) replaced by names,
    /// emitting each name's assignment the first time.
    fn rewrite(&mut self, e: &Expr, named: bool) -> Expr {
        if trivial(e) {
            return e.clone();
        }
        let k = key(e);
        if let Some(name) = self.names.get(&k) {
            return Expr::new(Kind::Var(name.clone()), e.shape.clone());
        }
        // `A(m − x)` beside a named `A(x − m)`: its negation, not a second product.
        if let Some(name) = crate::ir::build::negated_end(e).and_then(|o| self.names.get(&key(&o))) {
            let named = Expr::new(Kind::Var(name.clone()), e.shape.clone());
            return crate::ir::build::scale(-num_rational::BigRational::from_integer(1.into()), named);
        }
        let shared = self.counts.get(&k).is_some_and(|(n, _)| *n >= 2);
        // `A⁻¹B` as a solve, where A⁻¹ is not wanted elsewhere.
        if let (true, Kind::Product(a, b)) = (self.options.solve, &e.kind) {
            if let Kind::Inverse(m) = &a.kind {
                let once = self.counts.get(&key(a)).is_none_or(|(n, _)| *n <= 1);
                // A diagonal's inverse divides rows instead (`render::numpy`).
                if once && diagonal_of(a).is_none() && !b.shape.is_empty() && b.shape[0] != crate::ir::shape::Dim::Iota
                {
                    let (m, b) = (self.rewrite(m, false), self.rewrite(b, false));
                    let text =
                        format!("np.linalg.solve({}, {})", render_numpy(&m, self.model), render_numpy(&b, self.model));
                    return self.assign(k, text, e);
                }
            }
        }
        // `BA⁻¹` as a solve too, by Aᵀ: `aᵀA⁻¹` is `np.linalg.solve(A.T, a)` (a row is a
        // 1-D array), `BA⁻¹` is `np.linalg.solve(A.T, B.T).T`.
        if let (true, Kind::Product(b, a)) = (self.options.solve, &e.kind) {
            if let Kind::Inverse(m) = &a.kind {
                let once = self.counts.get(&key(a)).is_none_or(|(n, _)| *n <= 1);
                if once && diagonal_of(a).is_none() && !b.shape.is_empty() {
                    let (m, b) = (self.rewrite(m, false), self.rewrite(b, false));
                    let row = b.shape.first() == Some(&crate::ir::shape::Dim::Iota);
                    let (mt, bt) = (crate::ir::build::transpose(m), crate::ir::build::transpose(b));
                    let solved = format!(
                        "np.linalg.solve({}, {})",
                        render_numpy(&mt, self.model),
                        render_numpy(&bt, self.model)
                    );
                    let text = if row { solved } else { format!("{solved}.T") };
                    return self.assign(k, text, e);
                }
            }
        }
        // A negative power of a matrix whose inverse is computed already is a product of
        // that inverse: `t_1 @ t_1` for M⁻² beside M⁻¹, not a second inversion.
        if let Kind::Power(m, p) = &e.kind {
            let inverse = Expr::new(Kind::Inverse(m.clone()), e.shape.clone());
            let times = num_traits::ToPrimitive::to_i64(&(-p).to_integer()).unwrap_or(0);
            if p.is_integer() && (2..=4).contains(&times) && m.order() == 2 {
                if let Some(name) = self.names.get(&key(&inverse)) {
                    let factor = Expr::new(Kind::Var(name.clone()), e.shape.clone());
                    let mut out = factor.clone();
                    for _ in 1..times {
                        out = crate::ir::build::product(out, factor.clone());
                    }
                    let text = render_numpy(&out, self.model);
                    return self.assign(k, text, e);
                }
            }
        }
        // ln|M| from one slogdet, whose pair a body can name (an expression alone calls it
        // twice).
        if let Kind::Func { func: crate::ir::expr::Func::Ln, derivative: 0, arg } = &e.kind {
            // ln|det M|, its second half alone: det M over- or underflows at a few hundred rows.
            if let Kind::Func { func: crate::ir::expr::Func::Abs, derivative: 0, arg: inner } = &arg.kind {
                if let Kind::Det(m) = &inner.kind {
                    let m = self.rewrite(m, false);
                    let pair = format!("np.linalg.slogdet({})", render_numpy(&m, self.model));
                    let pair = render_numpy(&self.assign(format!("slogdet {k}"), pair, e), self.model);
                    return self.assign(k, format!("{pair}[1]"), e);
                }
            }
            if let Kind::Det(m) = &arg.kind {
                let m = self.rewrite(m, false);
                let pair = format!("np.linalg.slogdet({})", render_numpy(&m, self.model));
                let pair = render_numpy(&self.assign(format!("slogdet {k}"), pair, e), self.model);
                return self.assign(k, format!("np.log({pair}[0]) + {pair}[1]"), e);
            }
        }
        // exp(Z)/sum(exp(Z)), the softmax over every entry, as one: exp(Z) alone overflows.
        if let Some(z) = global_softmax(e) {
            let z = self.rewrite(z, false);
            let softmax = Expr::new(Kind::Softmax { positions: vec![], arg: Box::new(z) }, e.shape.clone());
            let text = render_numpy(&softmax, self.model);
            return if shared || named { self.assign(k, text, e) } else { softmax };
        }
        // ln(softmax(z)) from z, not from the softmax (which may be named, for the
        // gradient or by the program): a softmax entry that underflows to 0 has a finite
        // logarithm.
        if let Some(softmax) = log_of_softmax(e, &self.model.definitions) {
            let Kind::Softmax { positions, arg: z } = &softmax.kind else { unreachable!() };
            let z = self.rewrite(z, false);
            let softmax =
                Expr::new(Kind::Softmax { positions: positions.clone(), arg: Box::new(z) }, softmax.shape.clone());
            let log = Expr::new(
                Kind::Func { func: crate::ir::expr::Func::Ln, derivative: 0, arg: Box::new(softmax) },
                e.shape.clone(),
            );
            let text = render_numpy(&log, self.model);
            return if shared || named { self.assign(k, text, e) } else { log };
        }
        // Stable forms: ln(1 + exp(z)), ln(sigmoid(z)), ln(1 − sigmoid(z)), ln(1ᵀexp(x)).
        if let Some((call, z)) = stable(e, &self.model.definitions) {
            let z = self.rewrite(z, false);
            let text = call.replace("{}", &render_numpy(&z, self.model));
            return self.assign(k, text, e);
        }
        let mut out = e.clone();
        // NumPy's printer writes the argument of a derivative such as tanh' more than once.
        let name_arguments = matches!(e.kind, Kind::Func { derivative: 1.., .. });
        for c in out.children_mut() {
            *c = self.rewrite(c, name_arguments);
        }
        // A diagonal matrix (or its inverse) is not named, however often it is used: each
        // product with it scales rows or columns (`render::numpy`), where a name would
        // hold an n × n array.
        if !(shared || named) || (diagonal_of(e).is_some() && !named) {
            return out;
        }
        let text = render_numpy(&out, self.model);
        self.assign(k, text, e)
    }

    fn assign(&mut self, k: String, text: String, e: &Expr) -> Expr {
        // A value that is a name made already (a vector's transpose: `t_2` for `t_2ᵀ`)
        // is that name, not a second one.
        if self.names.values().any(|n| *n == text) {
            self.names.insert(k, text.clone());
            return Expr::new(Kind::Var(text), e.shape.clone());
        }
        // Past the caller's names (`t_0` may be an argument).
        while self.model.names.keys().any(|n| py_name(n) == format!("t_{}", self.made)) {
            self.made += 1;
        }
        self.made += 1;
        let name = format!("t_{}", self.made - 1);
        self.lines.push(format!("{name} = {text}"));
        self.names.insert(k, name.clone());
        Expr::new(Kind::Var(name), e.shape.clone())
    }
}

fn is_one(e: &Expr) -> bool {
    match &e.kind {
        Kind::Ones => true,
        Kind::Const(c) => *c == num_rational::BigRational::from_integer(1.into()),
        _ => false,
    }
}

fn negated(e: &Expr) -> Option<&Expr> {
    match &e.kind {
        Kind::Scale(c, x) if *c == -num_rational::BigRational::from_integer(1.into()) => Some(x),
        _ => None,
    }
}

fn func(e: &Expr, f: crate::ir::expr::Func) -> Option<&Expr> {
    match &e.kind {
        Kind::Func { func, derivative: 0, arg } if *func == f => Some(arg),
        _ => None,
    }
}

/// The softmax `e` is the logarithm of: its argument, or a name defined as one
/// (`P = softmax(HW)`, then `ln(P)`).
fn log_of_softmax<'a>(e: &'a Expr, definitions: &'a [(String, Expr)]) -> Option<&'a Expr> {
    let Kind::Func { func: crate::ir::expr::Func::Ln, derivative: 0, arg } = &e.kind else { return None };
    let softmax = match &arg.kind {
        Kind::Var(n) => &definitions.iter().find(|(m, _)| m == n)?.1,
        _ => arg,
    };
    matches!(softmax.kind, Kind::Softmax { .. }).then_some(softmax)
}

/// Z where `e` is exp(Z) divided by the sum of all its entries (`sum(exp(Z))` or
/// `1ᵀexp(z)`).
fn global_softmax(e: &Expr) -> Option<&Expr> {
    use crate::ir::expr::Func::Exp;
    let Kind::DivScalar(a, b) = &e.kind else { return None };
    let z = func(a, Exp)?;
    let summed = match &b.kind {
        Kind::Sum(x) => x,
        Kind::Product(o, x) if matches!(&o.kind, Kind::Transpose(t) if t.kind == Kind::Ones) && x.order() == 1 => x,
        _ => return None,
    };
    (**summed == **a).then_some(z)
}

/// A numerically stable call for `e`, with `{}` where its argument goes, and the argument.
/// A name the model defines as `sigmoid(z)` counts as that sigmoid: `r = σ(Dz + c)`
/// then `ln(1 − r)` is `-np.logaddexp(0, Dz + c)`, finite where r rounds to 1.
pub(super) fn stable<'a>(e: &'a Expr, definitions: &'a [(String, Expr)]) -> Option<(String, &'a Expr)> {
    use crate::ir::expr::Func::{Exp, Ln, Sigmoid};
    let sigmoid = |x: &'a Expr| -> Option<&'a Expr> {
        match &x.kind {
            Kind::Var(n) => definitions.iter().find(|(m, _)| m == n).and_then(|(_, d)| func(d, Sigmoid)),
            _ => func(x, Sigmoid),
        }
    };
    let inner = func(e, Ln)?;
    if let Some(z) = sigmoid(inner) {
        return Some(("-np.logaddexp(0, -({}))".to_string(), z));
    }
    // ln(c(eᵃ + e⁻ᵃ)), a log-cosh (cosh is read as its exponentials): finite where eᵃ
    // overflows.
    let (c, sum) = match &inner.kind {
        Kind::Scale(c, x) if c.is_positive() => (c.clone(), &**x),
        _ => (BigRational::one(), inner),
    };
    if let Kind::Add(terms) = &sum.kind {
        if let [a, b] = terms.as_slice() {
            if let (Some(x), Some(y)) = (func(a, Exp), func(b, Exp)) {
                if negated(y) == Some(x) || negated(x) == Some(y) {
                    let x = if negated(y) == Some(x) { x } else { y };
                    return Some(match c.is_one() {
                        true => ("np.logaddexp({}, -({}))".to_string(), x),
                        false => (format!("(np.logaddexp({{}}, -({{}})) + np.log({}/{}))", c.numer(), c.denom()), x),
                    });
                }
            }
        }
    }
    if let Kind::Add(terms) = &inner.kind {
        if let [a, b] = terms.as_slice() {
            let (one, other) = if is_one(a) { (a, b) } else { (b, a) };
            if is_one(one) {
                if let Some(z) = func(other, Exp) {
                    return Some(("np.logaddexp(0, {})".to_string(), z));
                }
                if let Some(z) = negated(other).and_then(sigmoid) {
                    return Some(("-np.logaddexp(0, {})".to_string(), z));
                }
            }
        }
    }
    // ln(sum(exp(X))), over every entry.
    if let Kind::Sum(x) = &inner.kind {
        if let Some(x) = func(x, Exp) {
            return Some(("logsumexp({})".to_string(), x));
        }
    }
    if let Kind::Product(a, b) = &inner.kind {
        let ones_row = matches!(&a.kind, Kind::Transpose(x) if x.kind == Kind::Ones);
        if ones_row && inner.shape.is_empty() && b.order() == 1 {
            if let Some(x) = func(b, Exp) {
                return Some(("logsumexp({})".to_string(), x));
            }
        }
        // By rows: `ln(exp(L)1)`, a mixture's or a CRF's log-partition per sample.
        if b.kind == Kind::Ones && inner.order() == 1 && a.order() == 2 {
            if let Some(x) = func(a, Exp) {
                return Some(("logsumexp({}, axis=1)".to_string(), x));
            }
        }
    }
    None
}

/// The helper a module defines when its code calls `logsumexp`.
pub const LOGSUMEXP: &str = "def logsumexp(x, axis=None):
    \"\"\"ln of the sum of exp(x), over `axis` (all entries by default), the maximum taken out
    first so that exp cannot overflow.\"\"\"
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))
";

/// `np.` as `jnp.` wherever it starts a name (not inside one such as `Wnp.`).
pub fn to_jax(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let bytes: Vec<char> = line.chars().collect();
    let mut k = 0;
    while k < bytes.len() {
        let starts = bytes[k..].starts_with(&['n', 'p', '.']);
        let boundary = k == 0 || !(bytes[k - 1].is_alphanumeric() || bytes[k - 1] == '_' || bytes[k - 1] == '.');
        if starts && boundary {
            out.push_str("jnp.");
            k += 3;
        } else {
            out.push(bytes[k]);
            k += 1;
        }
    }
    out
}

/// A Python identifier for a name (re-exported for the module writer).
pub fn ident(name: &str) -> String {
    py_name(name)
}
