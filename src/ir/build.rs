//! Smart constructors: the typed expressions every stage builds, each with its shape
//! computed once, here (`c · e` folds nested scalings; `a b` gives vectors as columns
//! and `ι` rows; a zero of any shape).

use crate::ir::expr::*;
use crate::ir::shape::{Dim, Shape};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// `e` with the names of `inline` replaced by their definitions in `defs`, recursively.
pub fn inlined(e: &Expr, defs: &indexmap::IndexMap<String, Expr>, inline: &indexmap::IndexSet<String>) -> Expr {
    if let Kind::Var(n) = &e.kind {
        if inline.contains(n) {
            return inlined(&defs[n], defs, inline);
        }
    }
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = inlined(c, defs, inline);
    }
    out
}

/// `c · e`, folding nested scalings.
pub fn scale(c: BigRational, e: Expr) -> Expr {
    if c.is_one() {
        return e;
    }
    let shape = e.shape.clone();
    match e.kind {
        Kind::Scale(c2, inner) => {
            let c = c * c2;
            if c.is_one() {
                *inner
            } else {
                Expr::new(Kind::Scale(c, inner), shape)
            }
        }
        Kind::Const(v) if !c.is_zero() || v.is_zero() => Expr::new(Kind::Const(c * v), shape),
        kind => Expr::new(Kind::Scale(c, Box::new(Expr { kind, shape: shape.clone() })), shape),
    }
}

/// The classic product `a b` with its shape (vectors as columns, `ι` rows).
pub fn product(a: Expr, b: Expr) -> Expr {
    if a.is_scalar() || b.is_scalar() {
        let shape = if a.is_scalar() { b.shape.clone() } else { a.shape.clone() };
        return Expr::new(Kind::Product(Box::new(a), Box::new(b)), shape);
    }
    let row = a.shape[0].clone();
    let col = if b.order() == 2 { b.shape[1].clone() } else { Dim::Iota };
    let shape = match (row == Dim::Iota, col == Dim::Iota) {
        (true, true) => vec![],
        (false, true) => vec![row],
        _ => vec![row, col],
    };
    Expr::new(Kind::Product(Box::new(a), Box::new(b)), shape)
}

/// `eᵀ` with its shape.
pub fn transpose(e: Expr) -> Expr {
    let shape = match e.order() {
        0 => return e,
        1 => vec![Dim::Iota, e.shape[0].clone()],
        _ if e.shape[0] == Dim::Iota => vec![e.shape[1].clone()],
        _ => vec![e.shape[1].clone(), e.shape[0].clone()],
    };
    Expr::new(Kind::Transpose(Box::new(e)), shape)
}

/// `e`, whose dim k carries index `slots[k]`, with its dims put in the order of `output`:
/// itself, a transpose, or a permutation. None unless `output` names each slot once.
pub fn arranged(e: Expr, slots: &[usize], output: &[usize]) -> Option<Expr> {
    let perm: Vec<usize> = output.iter().map(|o| slots.iter().position(|s| s == o)).collect::<Option<_>>()?;
    if perm.len() != slots.len() {
        return None;
    }
    if perm.iter().enumerate().all(|(k, &p)| k == p) {
        return Some(e);
    }
    let shape: Vec<Dim> = perm.iter().map(|&p| e.shape[p].clone()).collect();
    if perm == [1, 0] && e.shape.first() != Some(&Dim::Iota) {
        return Some(Expr::new(Kind::Transpose(Box::new(e)), shape));
    }
    Some(Expr::new(Kind::Permute(Box::new(e), perm), shape))
}

/// `a ⊙ b` (a product where `a` is a scalar).
pub fn hadamard(a: Expr, b: Expr) -> Expr {
    let shape = a.shape.clone();
    if a.is_scalar() {
        return product(a, b);
    }
    Expr::new(Kind::Hadamard(Box::new(a), Box::new(b)), shape)
}

/// Pairs of equal terms that a definition `name = value` gives, `leaf` being the name:
/// the name and its value (in each order of a Hadamard product's factors, see
/// [`hadamard_reorderings`]), and for a value divided by a size or a number, the name
/// times it and the dividend (`N v = (C ⊙ C)ᵀ1` for `v = (C ⊙ C)ᵀ1/N`), so that the
/// dividend, written out in a derivative, meets the name.
pub fn definition_spellings(leaf: &Expr, value: &Expr) -> Vec<(Expr, Expr)> {
    let mut out = vec![(leaf.clone(), value.clone())];
    out.extend(hadamard_reorderings(value).into_iter().map(|v| (leaf.clone(), v)));
    let nonzero = |s: &Expr| match &s.kind {
        Kind::Var(n) => value.size_names().contains(n),
        Kind::Const(c) => !c.is_zero(),
        _ => false,
    };
    match &value.kind {
        Kind::DivScalar(a, s) if nonzero(s) => out.push((product((**s).clone(), leaf.clone()), (**a).clone())),
        Kind::Scale(c, a) if !c.is_zero() => out.push((scale(c.recip(), leaf.clone()), (**a).clone())),
        _ => {}
    }
    // A scalar's reciprocal `h = 1/s`, squared, is the `1/s²` of its derivative
    // (d(1/s) = −ds/s²), which then reads `−h²ds`.
    let reciprocal = match &value.kind {
        Kind::DivScalar(one, s) if matches!(&one.kind, Kind::Const(c) if c.is_one()) => Some(s),
        Kind::Inverse(s) => Some(s),
        Kind::Power(s, k) if *k == -BigRational::one() => Some(s),
        _ => None,
    };
    if let Some(s) = reciprocal.filter(|_| leaf.is_scalar()) {
        let two = BigRational::from_integer(2.into());
        let square = |x: Expr| Expr::new(Kind::Power(Box::new(x), two.clone()), vec![]);
        let one = Expr::new(Kind::Const(BigRational::one()), vec![]);
        let over = Expr::new(Kind::DivScalar(Box::new(one), Box::new(square((**s).clone()))), vec![]);
        out.push((square(leaf.clone()), over));
    }
    out
}

/// The other orders of a Hadamard chain of two or three factors, each chained from the left
/// (`M ⊙ exp(QKᵀ)` for `exp(QKᵀ) ⊙ M`): the rules keep the order operands were written
/// in, and a derivative may write a definition's factors in another.
pub fn hadamard_reorderings(e: &Expr) -> Vec<Expr> {
    fn factors<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match &e.kind {
            Kind::Hadamard(a, b) => {
                factors(a, out);
                factors(b, out);
            }
            _ => out.push(e),
        }
    }
    let mut fs = Vec::new();
    factors(e, &mut fs);
    let orders: &[[usize; 3]] = match fs.len() {
        2 => &[[1, 0, 2]],
        3 => &[[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]],
        _ => &[],
    };
    let chained = |order: &[usize]| {
        let mut it = order.iter().map(|&k| fs[k].clone());
        let first = it.next().expect("a factor");
        it.fold(first, hadamard)
    };
    orders.iter().map(|o| chained(&o[..fs.len()])).collect()
}

/// A zero of a shape: the number 0, or `0 · 1` of that shape.
pub fn zero(shape: Shape) -> Expr {
    if shape.is_empty() {
        return Expr::new(Kind::Const(BigRational::zero()), vec![]);
    }
    scale(BigRational::zero(), Expr::new(Kind::Ones, shape))
}

/// `f'(z)` written by the value `v = f(z)` where an identity gives it: `tanh' = 1 − v ⊙ v`,
/// `sigmoid' = v ⊙ (1 − v)`, `exp' = v`. `one` is the 1 subtracted from: a ones tensor
/// of v's shape, or the number NumPy broadcasts. `None` for other functions.
pub fn derivative_by_value(func: &Func, value: Expr, one: Expr) -> Option<Expr> {
    let shape = value.shape.clone();
    let minus = |a: Expr, b: Expr| Expr::new(Kind::Add(vec![a, scale(-BigRational::one(), b)]), shape.clone());
    let times = |a: Expr, b: Expr| if shape.is_empty() { product(a, b) } else { hadamard(a, b) };
    match func {
        Func::Tanh => Some(minus(one, times(value.clone(), value))),
        Func::Sigmoid => Some(times(value.clone(), minus(one, value))),
        Func::Exp => Some(value),
        _ => None,
    }
}

/// `B − C` as `C − B`, the positive term first; None unless `e` is a sum of two terms
/// exactly one of which is negatively scaled.
pub fn negated_difference(e: &Expr) -> Option<Expr> {
    let Kind::Add(ts) = &e.kind else { return None };
    if ts.len() != 2 {
        return None;
    }
    let negative = |t: &Expr| matches!(&t.kind, Kind::Scale(c, _) if c.is_negative());
    if negative(&ts[0]) == negative(&ts[1]) {
        return None;
    }
    let minus_one = -BigRational::one();
    let mut terms: Vec<Expr> = ts.iter().map(|t| scale(minus_one.clone(), t.clone())).collect();
    if negative(&terms[0]) {
        terms.swap(0, 1);
    }
    Some(Expr::new(Kind::Add(terms), e.shape.clone()))
}

/// A product chain with its last factor, a difference `B − C`, negated to `C − B`;
/// else with its first, a transposed difference: `(Xw − y)ᵀA` to `(y − Xw)ᵀA`.
pub fn negated_end(x: &Expr) -> Option<Expr> {
    fn last(x: &Expr) -> Option<Expr> {
        match &x.kind {
            Kind::Product(a, b) => last(b).map(|b| product((**a).clone(), b)),
            // The positive term first: `y − Xw`.
            Kind::Add(_) => negated_difference(x),
            _ => None,
        }
    }
    last(x).or_else(|| negated_first(x))
}

/// A product chain with its first factor, a transposed difference, negated.
pub fn negated_first(x: &Expr) -> Option<Expr> {
    match &x.kind {
        Kind::Product(a, b) => negated_first(a).map(|a| product(a, (**b).clone())),
        Kind::Transpose(d) => negated_difference(d).map(transpose),
        _ => None,
    }
}
