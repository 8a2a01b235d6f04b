//! Scalar factors of a product gathered into one monomial: `(1/‖x‖) · 3 · ‖x‖² x xᵀ /
//! ‖x‖⁶` is `3 x xᵀ/‖x‖⁵`. A second derivative scatters such factors through long
//! products, and the rules move them one step an iteration (each step a new bracketing
//! of the chain), so the e-graph can reach its limits before the powers meet. This form
//! goes in as one more form of the same class; the extractor keeps whichever is smaller.
//!
//! Integer powers of the same base add up (`s^a s^b = s^{a+b}`, true for every s where
//! both sides are defined); a fractional power is kept whole, as `sqrt(s)²` is not `s`
//! for every s.

use crate::ir::build::{hadamard, negated_difference, negated_end, product, scale};
use crate::ir::expr::{Expr, Kind};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// A product split up: a number, scalar bases with integer exponents, and what is not
/// scalar (None for a scalar product).
struct Split {
    coef: BigRational,
    powers: Vec<(Expr, BigRational)>,
    rest: Option<Expr>,
}

impl Split {
    fn of_rest(e: Expr) -> Split {
        Split { coef: BigRational::one(), powers: Vec::new(), rest: Some(e) }
    }

    fn times(mut self, other: Split, merged: &mut bool) -> Split {
        *merged |= meet(&self.coef, &other.coef);
        self.coef *= other.coef;
        for (b, k) in other.powers {
            add_power(&mut self.powers, b, k, merged);
        }
        self.rest = match (self.rest, other.rest) {
            (Some(a), Some(b)) => Some(product(a, b)),
            (a, b) => a.or(b),
        };
        self
    }
}

/// Whether two numbers of one monomial make a form worth its own: neither is ±1
/// (`2 · 3`), or both are negative (`−(−1/k²)N`, a double negative the rules reach
/// only after rebracketing the product).
fn meet(a: &BigRational, b: &BigRational) -> bool {
    (!a.abs().is_one() && !b.abs().is_one()) || (a.is_negative() && b.is_negative())
}

/// Adds `base^k` to `powers`; `merged` records that two powers of one base met.
fn add_power(powers: &mut Vec<(Expr, BigRational)>, base: Expr, k: BigRational, merged: &mut bool) {
    match powers.iter_mut().find(|(b, _)| *b == base) {
        Some((_, e)) => {
            *e += k;
            *merged = true;
        }
        None => powers.push((base, k)),
    }
}

/// `e` with the scalar factors of each product gathered in front, their powers merged,
/// and those with negative powers under one division, where two powers of one base
/// meet; None where none do (the form would only reorder factors, and a reordering
/// the rules reach anyway is not worth a form of its own).
pub(super) fn merged_scalars(e: &Expr) -> Option<Expr> {
    let mut merged = false;
    let out = gathered_scalars(e, &mut merged);
    merged.then_some(out)
}

/// `e` with the scalar factors of each product gathered in front, where some product
/// or transpose holds a number that is not in front (`A(−1)`, `A(−B)`, `(2A)B`, `(−A)ᵀ`),
/// or where two numbers or two powers of one base meet (`(1/4)(e(2s))/t³`, whose numbers
/// the rules bring together only while `scalar-combine` is not banned); None otherwise.
pub(super) fn numbers_in_front(e: &Expr) -> Option<Expr> {
    fn inside(e: &Expr) -> bool {
        let number = |x: &Expr| matches!(x.kind, Kind::Const(_) | Kind::Scale(..));
        let here = match &e.kind {
            Kind::Product(a, b) => !e.is_scalar() && (number(b) || (number(a) && !a.is_scalar())),
            Kind::Transpose(a) => number(a),
            Kind::Diag(a) => a.order() == 1 && number(a),
            // `sum(4A)`, `tr(2AB)`.
            Kind::Sum(a) | Kind::Trace(a) => number(a) || matches!(&a.kind, Kind::Product(l, _) if number(l)),
            Kind::Hadamard(a, b) => !e.is_scalar() && (number(a) || number(b)),
            // `B · 2A`.
            Kind::Dot(a, b) => number(a) || number(b),
            _ => false,
        };
        here || e.children().iter().any(|c| inside(c))
    }
    let mut merged = false;
    let gathered = gathered_scalars(e, &mut merged);
    (merged || inside(e)).then_some(gathered).filter(|g| g != e)
}

/// `e` with each scalar that stands between two tensors of a product put in front of
/// them: `x‖Ax‖²xᵀ` is `‖Ax‖²xxᵀ`, and `xᵀS(vᵀx)x` is `vᵀx(xᵀSx)`. (Such a scalar
/// scales the product wherever it stands, so extraction weighs the placements alike;
/// between a column and a row it reads as a product of three vectors.)
pub(super) fn scalars_in_front(e: Expr) -> Expr {
    let Expr { kind, shape } = e;
    let Kind::Product(a, b) = kind else {
        let mut out = Expr { kind, shape };
        for c in out.children_mut() {
            *c = scalars_in_front(std::mem::replace(c, Expr::new(Kind::Ones, vec![])));
        }
        return out;
    };
    let (a, b) = (scalars_in_front(*a), scalars_in_front(*b));
    let tensor = |x: &Expr| !x.is_scalar();
    // The scalar goes in front of the whole product where that is a scalar too
    // (`vᵀx(xᵀSx)`), else in front of its first factor (`‖Ax‖²xxᵀ`, not `‖Ax‖²(xxᵀ)`).
    let fronted = |s: Expr, p: Expr, q: Expr| {
        if crate::ir::build::product(p.clone(), q.clone()).is_scalar() {
            crate::ir::build::product(s, crate::ir::build::product(p, q))
        } else {
            scalars_in_front(crate::ir::build::product(scaling_first(s, p), q))
        }
    };
    match (a, b) {
        (Expr { kind: Kind::Product(p, s), .. }, q) if tensor(&p) && s.is_scalar() && tensor(&q) => fronted(*s, *p, q),
        (p, Expr { kind: Kind::Product(s, q), .. }) if tensor(&p) && s.is_scalar() && tensor(&q) => fronted(*s, p, *q),
        (a, b) => Expr::new(Kind::Product(Box::new(a), Box::new(b)), shape),
    }
}

/// `e` with each scalar product or quotient written as a textbook writes a monomial,
/// where that takes no more operations: its factors in the order [`rank`] gives, and its
/// number's denominator under its division (`α(a − b)/(2ℓ²)`, not
/// `(1/2)(a − b)(α/ℓ²)`). Scalar multiplication commutes, and the rules do not reorder
/// scalar factors (a product of n of them has n! orders), so extraction takes whichever
/// order the run happened to make.
pub(super) fn scalar_monomials(e: Expr) -> Expr {
    let monomial = e.is_scalar() && matches!(e.kind, Kind::Product(..) | Kind::DivScalar(..) | Kind::Scale(..));
    let mut out = if monomial {
        let mut m = Monomial { coef: BigRational::one(), up: Vec::new(), down: Vec::new() };
        m.take(&e, false);
        // Only factors out of the written order, or a number in front of a quotient by
        // names (`(1/2)(a/s)`), are rewritten: `x/2`, `(1/2)x` and `(1/(2c))x` stay.
        let ranks: Vec<u8> = m.up.iter().map(rank).collect();
        let unordered = ranks.windows(2).any(|w| w[0] > w[1]);
        let fraction = matches!(&e.kind, Kind::Scale(c, _) if !c.denom().is_one()) && !m.down.is_empty();
        // And a number's quotient, a sign or a whole number over an expression, that a
        // factor multiplies: `(−1/(a + r)²)c` is `−c/(a + r)²`. (`(1/(2c))x` and `(λ/2)x`
        // stay as written.)
        let quotient = |x: &Expr| {
            matches!(&x.kind, Kind::DivScalar(n, d)
                if matches!(&n.kind, Kind::Const(c) if !c.is_one()) && !matches!(d.kind, Kind::Const(_)))
        };
        let multiplied = matches!(&e.kind, Kind::Product(a, b) if quotient(a) || quotient(b));
        let written = (unordered || fraction || multiplied).then(|| m.written());
        if let Some(written) = written.filter(|w| crate::egraph::operations(w) <= crate::egraph::operations(&e)) {
            written
        } else {
            e
        }
    } else {
        e
    };
    // Inside each factor too (a monomial in a sum, or under a root).
    for c in out.children_mut() {
        *c = scalar_monomials(std::mem::replace(c, Expr::new(Kind::Ones, vec![])));
    }
    out
}

/// Where a scalar factor stands in a monomial as a textbook writes it: names, numbers
/// and calls first, then sums in parentheses, then contractions of tensors (`xᵀAx`,
/// `A · B`), which read as a product of their own: `α(a − b)`, `(ν + 1)rᵀr`.
fn rank(f: &Expr) -> u8 {
    match &f.kind {
        Kind::Add(_) => 1,
        Kind::Product(a, b) | Kind::Dot(a, b) if !a.is_scalar() || !b.is_scalar() => 2,
        _ => 0,
    }
}

/// A scalar product's factors, as written: a number, those multiplied, those divided by.
struct Monomial {
    coef: BigRational,
    up: Vec<Expr>,
    down: Vec<Expr>,
}

impl Monomial {
    fn take(&mut self, e: &Expr, divides: bool) {
        match &e.kind {
            Kind::Const(c) if !c.is_zero() => self.number(c, divides),
            Kind::Scale(c, x) if !c.is_zero() => {
                self.number(c, divides);
                self.take(x, divides);
            }
            Kind::Product(a, b) if a.is_scalar() && b.is_scalar() => {
                self.take(a, divides);
                self.take(b, divides);
            }
            Kind::DivScalar(a, b) => {
                self.take(a, divides);
                self.take(b, !divides);
            }
            _ if divides => self.down.push(e.clone()),
            _ => self.up.push(e.clone()),
        }
    }

    fn number(&mut self, c: &BigRational, divides: bool) {
        if divides {
            self.coef /= c;
        } else {
            self.coef *= c;
        }
    }

    /// `p · (factors, ranked) / (q · divisors)` for the number p/q; q stays in front
    /// (`(1/2)(a − b)`) where nothing divides.
    fn written(self) -> Expr {
        let mut up = self.up;
        up.sort_by_key(rank);
        let numerator = up.into_iter().reduce(product);
        let one = || Expr::new(Kind::Const(BigRational::one()), vec![]);
        let Some(denominator) = self.down.into_iter().reduce(product) else {
            return scale(self.coef, numerator.unwrap_or_else(one));
        };
        let p = BigRational::from(self.coef.numer().clone());
        let q = BigRational::from(self.coef.denom().clone());
        let denominator =
            if q.is_one() { denominator } else { product(Expr::new(Kind::Const(q), vec![]), denominator) };
        let quotient =
            Expr::new(Kind::DivScalar(Box::new(numerator.unwrap_or_else(one)), Box::new(denominator)), vec![]);
        scale(p, quotient)
    }
}

/// `e` with each identity factor of a product dropped, and a scaled one's number kept
/// (`(kI)P` is `kP`). The rules drop them too, but `identity-left` matches in every class
/// that holds a product and is the first rule banned on a large e-graph: a label-smoothed
/// cross-entropy's gradient kept `(eps Xᵀ/(Nk))(kI softmax(XW) − 1)`, and NumPy code an
/// N × N identity.
pub(super) fn identities_dropped(e: Expr) -> Expr {
    let mut out = e;
    for c in out.children_mut() {
        *c = identities_dropped(std::mem::replace(c, Expr::new(Kind::Ones, vec![])));
    }
    // The identity, or a number or scalar times it: what multiplies the other factor.
    let unit = |x: &Expr| -> Option<Option<Expr>> {
        match &x.kind {
            Kind::Identity => Some(None),
            Kind::Scale(c, i) if i.kind == Kind::Identity => Some(Some(Expr::new(Kind::Const(c.clone()), vec![]))),
            Kind::Product(s, i) if i.kind == Kind::Identity && s.is_scalar() => Some(Some((**s).clone())),
            _ => None,
        }
    };
    let times = |s: Option<Expr>, x: &Expr| match s {
        None => x.clone(),
        Some(Expr { kind: Kind::Const(c), .. }) => scale(c, x.clone()),
        Some(s) => product(s, x.clone()),
    };
    let Kind::Product(a, b) = &out.kind else { return out };
    let kept = match (unit(a), unit(b)) {
        (Some(s), _) if !b.is_scalar() => times(s, b),
        (_, Some(s)) if !a.is_scalar() => times(s, a),
        _ => return out,
    };
    if kept.shape == out.shape {
        kept
    } else {
        out
    }
}

/// `s p` with the scalar `s` on the first factor of the product `p` (`s(SX)` is `(sS)X`,
/// printed `sSX`).
fn scaling_first(s: Expr, p: Expr) -> Expr {
    match p.kind {
        Kind::Product(a, b) if !a.is_scalar() => crate::ir::build::product(scaling_first(s, *a), *b),
        _ => crate::ir::build::product(s, p),
    }
}

fn gathered_scalars(e: &Expr, merged: &mut bool) -> Expr {
    rebuild(split(e, merged), e)
}

fn rebuild(s: Split, original: &Expr) -> Expr {
    if s.coef.is_zero() {
        return crate::ir::build::zero(original.shape.clone());
    }
    let power = |b: &Expr, k: &BigRational| -> Expr {
        if k.is_one() {
            b.clone()
        } else {
            Expr::new(Kind::Power(Box::new(b.clone()), k.clone()), vec![])
        }
    };
    let up: Vec<Expr> = s.powers.iter().filter(|(_, k)| k.is_positive()).map(|(b, k)| power(b, k)).collect();
    let down: Vec<Expr> = s.powers.iter().filter(|(_, k)| k.is_negative()).map(|(b, k)| power(b, &-k)).collect();
    let mut out = up.into_iter().reduce(product);
    out = match (out, s.rest) {
        (Some(a), Some(r)) => Some(product(a, r)),
        (a, r) => a.or(r),
    };
    let mut out = out.unwrap_or_else(|| Expr::new(Kind::Const(BigRational::one()), vec![]));
    if let Some(d) = down.into_iter().reduce(product) {
        let shape = out.shape.clone();
        out = Expr::new(Kind::DivScalar(Box::new(out), Box::new(d)), shape);
    }
    let out = scale(s.coef, out);
    if out.shape == original.shape {
        out
    } else {
        original.clone()
    }
}

fn split(e: &Expr, merged: &mut bool) -> Split {
    let s = match &e.kind {
        Kind::Const(c) => return Split { coef: c.clone(), powers: Vec::new(), rest: None },
        Kind::Scale(c, x) => {
            let mut s = split(x, merged);
            *merged |= meet(&s.coef, c);
            s.coef *= c;
            s
        }
        Kind::Product(a, b) => {
            let a = split(a, merged);
            a.times(split(b, merged), merged)
        }
        Kind::DivScalar(a, d) => {
            let d = split(d, merged);
            if d.coef.is_zero() || d.rest.is_some() {
                return Split::of_rest(whole(e, merged));
            }
            let mut s = split(a, merged);
            // A number under the division meets the numerator's: `2/(4s²)` is `(1/2)/s²`.
            *merged |= meet(&d.coef, &s.coef);
            s.coef /= d.coef;
            for (b, k) in d.powers {
                add_power(&mut s.powers, b, -k, merged);
            }
            s
        }
        Kind::Power(b, k) if b.is_scalar() && k.is_integer() => {
            let inner = split(b, merged);
            if inner.rest.is_some() || (inner.coef.is_zero() && k.is_negative()) {
                return atom(whole(e, merged));
            }
            let n = k.to_integer();
            let Ok(n) = i32::try_from(n) else { return atom(whole(e, merged)) };
            if !crate::limits::power_fits(&inner.coef, n.into()) {
                return atom(whole(e, merged));
            }
            // A number raised to the power is one number: `(2s)²` is `4s²`.
            *merged |= !inner.coef.abs().is_one();
            Split {
                coef: num_traits::pow::Pow::pow(&inner.coef, n),
                powers: inner.powers.into_iter().map(|(b, p)| (b, p * k)).collect(),
                rest: None,
            }
        }
        Kind::Transpose(x) if !x.is_scalar() => {
            let mut s = split(x, merged);
            s.rest = s.rest.map(crate::ir::build::transpose);
            s
        }
        // A Hadamard product's numbers multiply: `(1/2)A ⊙ B` is `(1/2)(A ⊙ B)`.
        Kind::Hadamard(a, b) if !e.is_scalar() => match bilinear(a, b, &e.shape, merged, Kind::Hadamard) {
            Some(s) => s,
            None => return Split::of_rest(whole(e, merged)),
        },
        // So do a Frobenius product's: `B · 2A` is `2(B · A)`.
        Kind::Dot(a, b) => match bilinear(a, b, &e.shape, merged, Kind::Dot) {
            Some(s) => s,
            None => return atom(whole(e, merged)),
        },
        // diag(v) is linear in v: `diag((1/2)u)` is `(1/2)diag(u)`.
        Kind::Diag(x) if x.order() == 1 => {
            let mut s = split(x, merged);
            let Some(rest) = s.rest.take() else { return Split::of_rest(whole(e, merged)) };
            s.rest = Some(Expr::new(Kind::Diag(Box::new(rest)), e.shape.clone()));
            s
        }
        // A sum of entries and a trace are linear: `sum(4A)` is `4sum(A)`.
        Kind::Sum(x) | Kind::Trace(x) if !x.is_scalar() => {
            let mut s = split(x, merged);
            let Some(rest) = s.rest.take() else { return atom(whole(e, merged)) };
            let kind = match &e.kind {
                Kind::Sum(_) => Kind::Sum(Box::new(rest)),
                _ => Kind::Trace(Box::new(rest)),
            };
            s.rest = Some(Expr::new(kind, e.shape.clone()));
            s
        }
        _ if e.is_scalar() => return atom(whole(e, merged)),
        _ => return Split::of_rest(whole(e, merged)),
    };
    // A scalar product of tensors (`aᵀx`) is one base.
    match s.rest {
        Some(r) if e.is_scalar() => {
            let mut t = Split { coef: s.coef, powers: s.powers, rest: None };
            add_power(&mut t.powers, r, BigRational::one(), merged);
            t
        }
        _ => s,
    }
}

/// The split of an operator linear in each of two tensors (`⊙`, `·`): their numbers and
/// scalar powers multiply, and the rest is `op` of theirs; None where one is all scalar.
fn bilinear(
    a: &Expr,
    b: &Expr,
    shape: &crate::ir::shape::Shape,
    merged: &mut bool,
    op: fn(Box<Expr>, Box<Expr>) -> Kind,
) -> Option<Split> {
    let (sa, sb) = (split(a, merged), split(b, merged));
    let (ra, rb) = (sa.rest?, sb.rest?);
    let mut s = Split { coef: sa.coef, powers: sa.powers, rest: None };
    *merged |= meet(&s.coef, &sb.coef);
    s.coef *= sb.coef;
    for (base, k) in sb.powers {
        add_power(&mut s.powers, base, k, merged);
    }
    s.rest = Some(Expr::new(op(Box::new(ra), Box::new(rb)), shape.clone()));
    Some(s)
}

fn atom(e: Expr) -> Split {
    Split { coef: BigRational::one(), powers: vec![(e, BigRational::one())], rest: None }
}

/// `e` with its operands gathered, as one factor.
fn whole(e: &Expr, merged: &mut bool) -> Expr {
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = gathered_scalars(c, merged);
    }
    out
}

/// `e` with the sign of each negatively scaled product moved into the difference it
/// ends with: `−2Aᵀ(Xw − y)` is `2Aᵀ(y − Xw)`, which the rules reach only by a long
/// walk (a coefficient's class holds only its number, so `−2` is never `2 · (−1)`).
/// None where no product ends with a difference. The extractor decides between both.
pub(super) fn sign_into_difference(e: &Expr) -> Option<Expr> {
    fn go(e: &Expr, changed: &mut bool) -> Expr {
        if let Kind::Scale(c, x) = &e.kind {
            if c.is_negative() {
                if let Some(flipped) = negated_end(x) {
                    *changed = true;
                    return scale(-c.clone(), go(&flipped, changed));
                }
            }
        }
        let mut out = e.clone();
        for child in out.children_mut() {
            *child = go(child, changed);
        }
        out
    }
    let mut changed = false;
    let out = go(e, &mut changed);
    changed.then_some(out)
}

/// `e` with each product that holds a difference and its negation (`(X − M)V⁻¹(M − X)ᵀ`,
/// the sign hidden in the orientation) written with one orientation and its sign in
/// front: `−(X − M)V⁻¹(X − M)ᵀ`; which orientation stays, [`pick`] says. None where no
/// product holds both. The extractor decides between both.
pub(super) fn opposite_differences(e: &Expr, rank: &dyn Fn(&str) -> usize) -> Option<Expr> {
    use crate::ir::symmetry::factors;
    /// The product `e` with the factor `k` (a difference, maybe transposed) negated.
    fn with_negated(e: &Expr, k: &mut usize) -> Expr {
        match &e.kind {
            Kind::Product(a, b) => {
                let a = with_negated(a, k);
                let b = with_negated(b, k);
                product(a, b)
            }
            _ => {
                let out = if *k == 0 { negated_factor(e).expect("a difference") } else { e.clone() };
                *k = k.wrapping_sub(1);
                out
            }
        }
    }
    fn go(e: &Expr, whole: &Expr, rank: &dyn Fn(&str) -> usize, changed: &mut bool) -> Expr {
        if matches!(e.kind, Kind::Product(..)) {
            let mut fs = Vec::new();
            factors(e, &mut fs);
            if let Some(mut k) = opposite_factor(&fs, whole, rank) {
                *changed = true;
                return scale(-BigRational::one(), with_negated(e, &mut k));
            }
            // A difference inside a transposed product (`S⁻ᵀ(m − x)(S⁻¹(x − m))ᵀ`): the
            // chain with its transposes taken in, rebuilt with one factor negated.
            if let Some(spread) = spread_opposite(e, whole, rank) {
                *changed = true;
                return spread;
            }
        }
        let mut out = e.clone();
        for child in out.children_mut() {
            *child = go(child, whole, rank, changed);
        }
        // A sign brought out meets the number in front: `2(−A)` is `−2A`.
        if let Kind::Scale(c, x) = &out.kind {
            if let Kind::Scale(..) = &x.kind {
                out = scale(c.clone(), (**x).clone());
            }
        }
        // A sum does not open with the sign just brought out: `pU⁻¹ − U⁻¹(…)U⁻¹`.
        if let Kind::Add(ts) = &mut out.kind {
            let negative = |t: &Expr| matches!(&t.kind, Kind::Scale(c, _) if c.is_negative());
            if ts.first().is_some_and(negative) {
                if let Some(k) = ts.iter().position(|t| !negative(t)) {
                    let t = ts.remove(k);
                    ts.insert(0, t);
                }
            }
        }
        out
    }
    let mut changed = false;
    let out = go(e, e, rank, &mut changed);
    changed.then_some(out)
}

/// Of a product's factors `fs`, the one to negate where two are a difference and its
/// negation (either maybe transposed); None where no two are.
fn opposite_factor<F: std::borrow::Borrow<Expr>>(
    fs: &[F],
    whole: &Expr,
    rank: &dyn Fn(&str) -> usize,
) -> Option<usize> {
    let diffs: Vec<(usize, &Expr)> =
        fs.iter().enumerate().filter_map(|(k, f)| difference(f.borrow()).map(|d| (k, d))).collect();
    diffs.iter().enumerate().find_map(|(i, &(j, d))| {
        let negated = negated_difference(d)?;
        diffs[i + 1..]
            .iter()
            .find(|(_, other)| **other == negated || flipped(other) == negated)
            .map(|&(k, other)| pick(whole, (j, d), (k, other), rank))
    })
}

/// A factor that is a difference, or a transposed one, negated: `(C − B)ᵀ` for `(B − C)ᵀ`.
fn negated_factor(f: &Expr) -> Option<Expr> {
    match &f.kind {
        Kind::Transpose(x) => negated_difference(x).map(crate::ir::build::transpose),
        _ => negated_difference(f),
    }
}

/// Which of two opposite differences (factor index, difference) is negated: the one the
/// whole expression uses less (`x − m` stays where `(x − m)ᵀP(x − m)` is in the
/// denominator); on a tie the one whose positive term's first name comes later by
/// `rank` (`x − m` stays where x was declared first), else the second.
fn pick(whole: &Expr, first: (usize, &Expr), second: (usize, &Expr), rank: &dyn Fn(&str) -> usize) -> usize {
    fn occurrences(e: &Expr, d: &Expr) -> usize {
        if e == d || flipped(e) == *d {
            return 1;
        }
        e.children().iter().map(|c| occurrences(c, d)).sum()
    }
    let leading = |d: &Expr| -> usize {
        let d = match &d.kind {
            Kind::Transpose(x) => x,
            _ => d,
        };
        let Kind::Add(ts) = &d.kind else { return usize::MAX };
        ts.first().and_then(|t| t.names().first().map(|n| rank(n))).unwrap_or(usize::MAX)
    };
    let (a, b) = (occurrences(whole, first.1), occurrences(whole, second.1));
    if b > a || (a == b && leading(second.1) < leading(first.1)) {
        first.0
    } else {
        second.0
    }
}

/// `eᵀ` with the transpose taken into sums, scalings and products (`(1mᵀ − X)ᵀ` is
/// `m1ᵀ − Xᵀ`), so that a difference is told from its transposed, distributed form.
fn flipped(e: &Expr) -> Expr {
    match &e.kind {
        Kind::Transpose(x) => (**x).clone(),
        Kind::Scale(c, x) => scale(c.clone(), flipped(x)),
        Kind::Product(a, b) if a.is_scalar() => product((**a).clone(), flipped(b)),
        Kind::Product(a, b) if b.is_scalar() => product(flipped(a), (**b).clone()),
        Kind::Product(a, b) => product(flipped(b), flipped(a)),
        Kind::Add(ts) if !ts.is_empty() => {
            let ts: Vec<Expr> = ts.iter().map(flipped).collect();
            let shape = ts[0].shape.clone();
            Expr::new(Kind::Add(ts), shape)
        }
        _ => crate::ir::build::transpose(e.clone()),
    }
}

/// [`opposite_differences`] for a product one of whose differences sits in a transposed
/// product: the factors with every transpose of a product taken in (`(S⁻¹d)ᵀ` is
/// `dᵀS⁻ᵀ`), and, where two are a difference and its negation, the chain rebuilt with the
/// less used orientation negated and the sign in front.
fn spread_opposite(e: &Expr, whole: &Expr, rank: &dyn Fn(&str) -> usize) -> Option<Expr> {
    /// The factors of `e`, or of `eᵀ` with `transposed`, each transpose taken in as far
    /// as a factor that is not a product (a difference stays `(x − m)ᵀ`).
    fn spread(e: &Expr, transposed: bool, out: &mut Vec<Expr>) {
        match &e.kind {
            Kind::Product(a, b) if !transposed => {
                spread(a, false, out);
                spread(b, false, out);
            }
            Kind::Product(a, b) => {
                spread(b, true, out);
                spread(a, true, out);
            }
            Kind::Transpose(x) if !x.is_scalar() => spread(x, !transposed, out),
            _ if transposed && !e.is_scalar() => out.push(crate::ir::build::transpose(e.clone())),
            _ => out.push(e.clone()),
        }
    }
    let Kind::Product(a, b) = &e.kind else { return None };
    let transposed = |x: &Expr| matches!(&x.kind, Kind::Transpose(y) if matches!(y.kind, Kind::Product(..)));
    if !transposed(a) && !transposed(b) {
        return None;
    }
    let mut fs = Vec::new();
    spread(e, false, &mut fs);
    let k = opposite_factor(&fs, whole, rank)?;
    fs[k] = negated_factor(&fs[k])?;
    let chain = fs.into_iter().reduce(product)?;
    (chain.shape == e.shape).then(|| scale(-BigRational::one(), chain))
}

/// A difference, looked at through one transpose (no more: the factor is negated as
/// `(C − B)ᵀ` for `(B − C)ᵀ`).
fn difference(e: &Expr) -> Option<&Expr> {
    let d = match &e.kind {
        Kind::Transpose(x) => x,
        _ => e,
    };
    match &d.kind {
        Kind::Add(ts) if ts.len() == 2 && negated_difference(d).is_some() => Some(d),
        _ => None,
    }
}

/// `e`, a sum whose terms' whole-number coefficients share a factor g > 1, as
/// `g(Σ tᵢ / g)`: `2S/(xᵀx) + (−4A − 2B)/(xᵀx)² + 8C/(xᵀx)³` is
/// `2(S/(xᵀx) + (−2A − B)/(xᵀx)² + 4C/(xᵀx)³)`, which the rules gather two terms at a
/// time, if the run lasts. A sum over a scalar is looked into: `(2x − 2 1(1ᵀx)/n)/n` is
/// `2(x − 1(1ᵀx)/n)/n`. None otherwise. The extractor decides between both.
pub(super) fn common_factor_out(e: &Expr) -> Option<Expr> {
    use num_integer::Integer;
    /// The whole number every coefficient of `e` is a multiple of (1 where unknown).
    fn content(e: &Expr) -> num_bigint::BigInt {
        let one = num_bigint::BigInt::one();
        match &e.kind {
            Kind::Scale(c, x) if c.is_integer() => c.numer().abs() * content(x),
            Kind::Const(c) if c.is_integer() && !c.is_zero() => c.numer().abs(),
            Kind::Add(ts) => ts.iter().map(content).reduce(|a, b| a.gcd(&b)).unwrap_or(one),
            Kind::DivScalar(a, _) => content(a),
            Kind::Product(a, b) => content(a) * content(b),
            _ => one,
        }
    }
    /// `e / g` where g divides content(e), pushed to the coefficients.
    fn divided(e: &Expr, g: &num_bigint::BigInt) -> Expr {
        let q = BigRational::from_integer(g.clone());
        match &e.kind {
            Kind::Scale(c, x) => {
                let inner = content(x);
                let from_c = c.numer().abs().gcd(g);
                let rest = g / &from_c;
                // rest divides content(x) (gcd(c/d, g/d) = 1 for d = gcd(c, g)); were it
                // not to, x is scaled, so the result is exact either way.
                let x = if rest.is_one() {
                    (**x).clone()
                } else if (&inner % &rest).is_zero() {
                    divided(x, &rest)
                } else {
                    scale(BigRational::one() / BigRational::from_integer(rest), (**x).clone())
                };
                scale(c / BigRational::from_integer(from_c), x)
            }
            Kind::Const(c) => Expr::new(Kind::Const(c / q), e.shape.clone()),
            Kind::Add(ts) => Expr::new(Kind::Add(ts.iter().map(|t| divided(t, g)).collect()), e.shape.clone()),
            Kind::DivScalar(a, b) => Expr::new(Kind::DivScalar(Box::new(divided(a, g)), b.clone()), e.shape.clone()),
            Kind::Product(a, b) if (content(a) % g).is_zero() => product(divided(a, g), (**b).clone()),
            Kind::Product(a, b) if (content(b) % g).is_zero() => product((**a).clone(), divided(b, g)),
            _ => scale(BigRational::one() / q, e.clone()),
        }
    }
    if let Kind::DivScalar(a, b) = &e.kind {
        let a = common_factor_out(a)?;
        return Some(Expr::new(Kind::DivScalar(Box::new(a), b.clone()), e.shape.clone()));
    }
    let Kind::Add(ts) = &e.kind else { return None };
    if ts.len() < 2 {
        return None;
    }
    let g = content(e);
    (g > num_bigint::BigInt::one()).then(|| scale(BigRational::from_integer(g.clone()), divided(e, &g)))
}

/// `e` with a factor every term of a sum holds entry by entry taken out of it, innermost
/// sums first: `Φ'' ⊙ Xv ⊙ a + Φ' ⊙ (y ⊙ Φ' ⊙ Xv ⊘ b + c ⊙ Φ' ⊙ Xv ⊘ d)` is
/// `Xv ⊙ (Φ'' ⊙ a + Φ' ⊙ Φ' ⊙ (y ⊘ b + c ⊘ d))`, which the rules reach only where the
/// factors stand in the same places. None where no sum has such a factor.
pub(super) fn hadamard_factored(e: &Expr) -> Option<Expr> {
    /// A term as its number, its ⊙ factors and its divisor.
    fn parts(t: &Expr) -> (BigRational, Vec<Expr>, Option<Expr>) {
        match &t.kind {
            Kind::Scale(c, x) => {
                let (k, f, d) = parts(x);
                (c * k, f, d)
            }
            Kind::HDiv(a, b) => match parts(a) {
                (k, f, None) => (k, f, Some((**b).clone())),
                _ => (BigRational::one(), vec![t.clone()], None),
            },
            Kind::Hadamard(a, b) => match (parts(a), parts(b)) {
                ((k1, mut f1, None), (k2, f2, None)) => {
                    f1.extend(f2);
                    (k1 * k2, f1, None)
                }
                _ => (BigRational::one(), vec![t.clone()], None),
            },
            _ => (BigRational::one(), vec![t.clone()], None),
        }
    }
    fn chained(factors: Vec<Expr>, shape: &[crate::ir::shape::Dim]) -> Expr {
        factors.into_iter().reduce(hadamard).unwrap_or_else(|| Expr::new(Kind::Ones, shape.to_vec()))
    }
    fn go(e: &Expr, changed: &mut bool) -> Expr {
        let mut out = e.clone();
        for c in out.children_mut() {
            *c = go(c, changed);
        }
        let Kind::Add(ts) = &out.kind else { return out };
        if e.is_scalar() {
            return out;
        }
        let mut terms: Vec<_> = ts.iter().map(parts).collect();
        let mut common = Vec::new();
        for f in terms[0].1.clone() {
            if matches!(f.kind, Kind::Ones | Kind::Const(_)) || !terms.iter().all(|(_, fs, _)| fs.contains(&f)) {
                continue;
            }
            for (_, fs, _) in terms.iter_mut() {
                let at = fs.iter().position(|g| *g == f).expect("held by every term");
                fs.remove(at);
            }
            common.push(f);
        }
        if common.is_empty() {
            return out;
        }
        *changed = true;
        let shape = out.shape.clone();
        let rest = terms
            .into_iter()
            .map(|(k, fs, d)| {
                let base = chained(fs, &shape);
                let base = match d {
                    Some(d) => Expr::new(Kind::HDiv(Box::new(base), Box::new(d)), shape.clone()),
                    None => base,
                };
                scale(k, base)
            })
            .collect();
        hadamard(chained(common, &shape), Expr::new(Kind::Add(rest), shape))
    }
    let mut changed = false;
    let out = go(e, &mut changed);
    changed.then_some(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use num_rational::BigRational;

    /// `e`'s value at a random exact point of its model, and the same of `f`.
    pub(in crate::egraph) fn equal_values(text: &str, f: &dyn Fn(&Expr) -> Option<Expr>) -> (Expr, Expr, bool) {
        let model = crate::read(text).expect("reads");
        let e = model.exprs.last().expect("an expression").clone();
        let g = f(&e).expect("rewritten");
        let env = crate::eval::random_env::<BigRational>(&model, crate::eval::Draw::default()).expect("an env");
        let same = crate::eval::eval(&e, &env).expect("evaluates") == crate::eval::eval(&g, &env).expect("evaluates");
        (e, g, same)
    }

    #[test]
    fn opposite_differences_turn_one_way_and_keep_the_value() {
        for text in [
            "X, M: matrix(n, p); U: symmetric(n); V: symmetric(p); c: scalar; c U + U (X - M) V (M - X)^T U",
            "X: matrix(N, p); m: vector(p); S: symmetric(p); S (X^T - m 1^T) (1 m^T - X) S",
            "x, m: vector(d); P: symmetric(d); 2 P (m - x) (x - m)^T P / (1 + (x - m)^T P (x - m))",
        ] {
            let (e, g, same) = equal_values(text, &|e| opposite_differences(e, &|_| 0));
            assert!(same, "{text}: {e:?} → {g:?}");
            let printed = crate::render::render(&g, crate::render::Format::Unicode);
            assert!(
                !(printed.contains("M − X") || printed.contains("1mᵀ − X") || printed.contains("m − x")),
                "{printed}"
            );
        }
        let model = crate::read("x, y: vector(n); A: matrix(n, n); (x - y)^T A (x - y)").expect("reads");
        assert_eq!(opposite_differences(model.exprs.last().expect("an expression"), &|_| 0), None);
    }

    #[test]
    fn hadamard_factors_every_term_holds_come_out_and_keep_the_value() {
        for (text, want) in [
            ("a, b, c, d: vector(n); a .* b + 2 c .* a ./ d", "a ⊙ (b + 2c ⊘ d)"),
            ("a, b, c, d: vector(n); a .* (b .* c ./ d - c .* b) + c .* a", "a ⊙ c ⊙ (b ⊙ (1 ⊘ d − 1) + 1)"),
            ("A, B: matrix(n, m); A .* B - A", "A ⊙ (B − 1)"),
        ] {
            let (e, g, same) = equal_values(text, &hadamard_factored);
            assert!(same, "{text}: {e:?} → {g:?}");
            assert_eq!(crate::render::render(&g, crate::render::Format::Unicode), want, "{text}");
        }
        let model = crate::read("a, b, c: vector(n); a .* b + c").expect("reads");
        assert_eq!(hadamard_factored(model.exprs.last().expect("an expression")), None);
    }

    #[test]
    fn scalars_between_tensors_go_in_front_and_keep_the_value() {
        for (text, want) in [
            ("x: vector(n); A: matrix(n, n); x det(A) x^T", "|A|xxᵀ"),
            ("x, v: vector(n); S: matrix(n, n); x^T S (v^T x) x x", "vᵀx(xᵀSx)x"),
            ("X: matrix(n, k); S: matrix(n, n); S X det(X^T S X) inv(X^T S X)", "|XᵀSX|SX(XᵀSX)⁻¹"),
            ("W: matrix(k, n); y, u: vector(k); W^T (y^T 1) u", "(yᵀ1)Wᵀu"),
        ] {
            let (e, g, same) = equal_values(text, &|e| Some(scalars_in_front(e.clone())));
            assert!(same, "{text}: {e:?} → {g:?}");
            let printed = crate::render::render(&super::super::left_associated(g), crate::render::Format::Unicode);
            assert_eq!(printed, want, "{text}");
        }
    }
}

/// `e` with a number multiplying a sum taken into its terms wherever that saves
/// operations: `(1/2)(2S⁻¹ − S⁻¹(C + Cᵀ)S⁻¹)` is `S⁻¹ − (1/2)S⁻¹(C + Cᵀ)S⁻¹` (the
/// symmetrised gradient halves a sum one of whose terms is doubled). None where nothing
/// is saved. The rules only ever factor numbers out.
pub(super) fn numbers_distributed(e: &Expr) -> Option<Expr> {
    let out = distributed(e);
    (crate::egraph::operations(&out) < crate::egraph::operations(e)).then_some(out)
}

fn distributed(e: &Expr) -> Expr {
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = distributed(c);
    }
    if let Kind::Scale(c, inner) = &out.kind {
        // (A sign stays in front of a product: `−(Xw − y)(Xw − y)ᵀ`, not `(y − Xw)(Xw − y)ᵀ`.)
        let sign = c.abs().is_one() && !matches!(inner.kind, Kind::Add(_));
        if let Some(spread) = into_first_sum(c, inner).filter(|_| !sign) {
            if crate::egraph::operations(&spread) < crate::egraph::operations(&out) {
                return spread;
            }
        }
    }
    out
}

/// `c` spread over the sum a product or quotient starts with: `(1/4)((4a − 2b)α)` is
/// `(a − (1/2)b)α`, and `(1/4)((4a − 2b)/s)` is `(a − (1/2)b)/s`.
fn into_first_sum(c: &BigRational, e: &Expr) -> Option<Expr> {
    let kind = match &e.kind {
        // Each term's numbers then meet (`2(x/(2N))` is `x/N`).
        Kind::Add(ts) => Kind::Add(
            ts.iter()
                .map(|t| {
                    let scaled = scale(c.clone(), t.clone());
                    merged_scalars(&scaled).unwrap_or(scaled)
                })
                .collect(),
        ),
        Kind::Product(a, b) => Kind::Product(Box::new(into_first_sum(c, a)?), b.clone()),
        Kind::DivScalar(a, s) => Kind::DivScalar(Box::new(into_first_sum(c, a)?), s.clone()),
        _ => return None,
    };
    Some(Expr::new(kind, e.shape.clone()))
}
