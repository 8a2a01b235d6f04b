//! `elementwise-cancel`: element-wise expressions (sums, rational multiples, `⊙`, `⊘`,
//! the ones tensor) over the same shape are rational functions of their operands, entry
//! by entry. This module puts such a region over one denominator, cancels the factors
//! that divide the numerator exactly, and writes the result back when it has fewer
//! operations: `σ'(z) ⊙ y ⊘ σ(z) + (σ'(z) ⊙ y − σ'(z)) ⊘ (1 − σ(z))` is `y − σ(z)`.
//! Scalars are such regions too, with products and quotients of scalars as their `⊙`
//! and `⊘`: `σ'(z)(−y/σ(z) + (1 − y)/(1 − σ(z)))` is `σ(z) − y`.
//!
//! Derivatives of known functions enter by their identities: `σ' = σ ⊙ (1 − σ)`,
//! `tanh' = 1 − tanh²`, `exp' = exp`, `ln'(z) = 1 ⊘ z`, `abs' = sign`, and `|z|` enters
//! as `sign(z) ⊙ z` (true everywhere), so that `sign(z) ⊘ |z|` is `1 ⊘ z`. Anything else is an opaque
//! operand, identified by its printed form. The result is an alternative form for the
//! e-graph, which keeps whichever is simpler. Cancelling a factor of a denominator is
//! exact wherever the input is defined (the input divides by that factor).

use crate::ir::expr::*;
use crate::ir::shape::{Dim, Shape};
use crate::render::Format;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::BTreeMap;

mod atoms;
mod grouped;
mod poly;
use atoms::Atoms;
pub use grouped::product_factored;
use poly::*;

/// The element-wise region of `e` as a rational function, if it is one.
fn to_rational(e: &Expr, shape: &Shape, atoms: &mut Atoms) -> Option<Rational> {
    let same = e.shape == *shape;
    match &e.kind {
        Kind::Add(ts) if same => {
            let mut acc = Rational::poly(Poly(BTreeMap::new()));
            for t in ts {
                let t = to_rational(t, shape, atoms)?;
                acc = atoms.reduce(acc.add(t)?)?;
            }
            Some(acc)
        }
        Kind::Scale(c, a) if same => {
            let r = to_rational(a, shape, atoms)?;
            Some(Rational { num: r.num.scale(c), den: r.den })
        }
        Kind::Hadamard(a, b) if same => {
            let (a, b) = (to_rational(a, shape, atoms)?, to_rational(b, shape, atoms)?);
            atoms.reduce(a.mul(b)?)
        }
        Kind::HDiv(a, b) if same => {
            let a = to_rational(a, shape, atoms)?;
            divided(a, b, shape, atoms)
        }
        // Whole and half powers, element-wise or of a scalar: `E^{k/2}` is `sqrt(E)` to the k.
        Kind::HPower(a, p) | Kind::Power(a, p)
            if same
                && (matches!(e.kind, Kind::HPower(..)) || shape.is_empty())
                && (p * BigRational::from_integer(2.into())).is_integer()
                && p.abs() <= BigRational::from_integer(MAX_POWER.into()) =>
        {
            let (base, times) = match p.is_integer() {
                true => (to_rational(a, shape, atoms)?, p.abs().to_integer()),
                false => {
                    let root = Expr::new(Kind::Func { func: Func::Sqrt, derivative: 0, arg: a.clone() }, shape.clone());
                    let k = atoms.root(&root, a, shape)?;
                    (Rational::poly(Poly::atom(k)), (p.abs() * BigRational::from_integer(2.into())).to_integer())
                }
            };
            // A negative power divides by the base once per unit, so that each stays a
            // factor of its own (`1 ⊘ (s ⊙ s ⊙ s)` is recognised as a power of a root).
            let mut acc = Rational::poly(Poly::constant(BigRational::one()));
            for _ in 0..times.try_into().unwrap_or(0u32) {
                acc = match p.is_negative() {
                    true => atoms.reduce(acc.div(base.clone())?)?,
                    false => atoms.reduce(acc.mul(base.clone())?)?,
                };
            }
            Some(acc)
        }
        Kind::Func { func: Func::Sqrt, derivative: 0, arg } if same => {
            Some(Rational::poly(Poly::atom(atoms.root(e, arg, shape)?)))
        }
        Kind::Ones if same => Some(Rational::poly(Poly::constant(BigRational::one()))),
        // `11ᵀ`: the ones matrix, as a gradient writes it.
        Kind::Product(a, b)
            if same && a.kind == Kind::Ones && matches!(&b.kind, Kind::Transpose(o) if o.kind == Kind::Ones) =>
        {
            Some(Rational::poly(Poly::constant(BigRational::one())))
        }
        // A scalar in a tensor region is the same in every entry: an operand like any other.
        Kind::Product(a, b) if same && !shape.is_empty() && a.is_scalar() != b.is_scalar() => {
            let (a, b) = (to_rational(a, &a.shape, atoms)?, to_rational(b, &b.shape, atoms)?);
            atoms.reduce(a.mul(b)?)
        }
        Kind::DivScalar(a, b) if same && !shape.is_empty() => {
            let a = to_rational(a, shape, atoms)?;
            divided(a, b, &b.shape, atoms)
        }
        // A scalar region: products and quotients of scalars are its `⊙` and `⊘`.
        Kind::Product(a, b) if same && a.is_scalar() && b.is_scalar() => {
            let (a, b) = (to_rational(a, shape, atoms)?, to_rational(b, shape, atoms)?);
            atoms.reduce(a.mul(b)?)
        }
        Kind::DivScalar(a, b) if same && shape.is_empty() => {
            let a = to_rational(a, shape, atoms)?;
            divided(a, b, shape, atoms)
        }
        // A scalar's inverse is its reciprocal: `(ρ⁷)⁻¹(qρ) = q/ρ⁶`.
        Kind::Inverse(a) if same && shape.is_empty() => {
            divided(Rational::poly(Poly::constant(BigRational::one())), a, shape, atoms)
        }
        Kind::Const(c) if same => Some(Rational::poly(Poly::constant(c.clone()))),
        Kind::Func { func, derivative: 1, arg } if same => {
            let plain = Expr::new(Kind::Func { func: func.clone(), derivative: 0, arg: arg.clone() }, shape.clone());
            let one = Poly::constant(BigRational::one());
            match func {
                // σ of a negated argument is 1 − σ(A), below, so that σ'(−A) and σ(−A)
                // meet σ(A) as one operand.
                Func::Sigmoid => {
                    let s = match negated(arg) {
                        Some(_) => to_rational(&plain, shape, atoms)?.num,
                        None => Poly::atom(atoms.index(&plain)?),
                    };
                    Some(Rational::poly(s.add(&s.mul(&s)?.scale(&-BigRational::one()))))
                }
                Func::Tanh => {
                    let t = Poly::atom(atoms.index(&plain)?);
                    Some(Rational::poly(one.add(&t.mul(&t)?.scale(&-BigRational::one()))))
                }
                Func::Exp => Some(Rational::poly(Poly::atom(atoms.index(&plain)?))),
                Func::Abs => sign_of(arg, shape, atoms),
                Func::Ln => Rational::poly(one).div(to_rational(arg, shape, atoms)?),
                // sqrt'(E) = 1 ⊘ (2 sqrt(E)).
                Func::Sqrt => {
                    let root = Poly::atom(atoms.root(&plain, arg, shape)?);
                    let half = BigRational::new(1.into(), 2.into());
                    Some(Rational { num: Poly::constant(half), den: vec![root] })
                }
                _ => Some(Rational::poly(Poly::atom(atoms.index(e)?))),
            }
        }
        // |A| = sign(A) ⊙ A, everywhere: `sign(A) ⊘ |A|` (of ln|A|'s derivative) is 1 ⊘ A.
        Kind::Func { func: Func::Abs, derivative: 0, arg } if same && atoms.abs_as_sign => {
            let s = sign_of(arg, shape, atoms)?;
            let a = to_rational(arg, shape, atoms)?;
            atoms.reduce(s.mul(a)?)
        }
        // σ(−A) = 1 − σ(A): a quotient by one cancels against σ'(A) = σ(A) ⊙ σ(−A).
        Kind::Func { func: Func::Sigmoid, derivative: 0, arg } if same && negated(arg).is_some() => {
            let inner = negated(arg)?.clone();
            let plain =
                Expr::new(Kind::Func { func: Func::Sigmoid, derivative: 0, arg: Box::new(inner) }, shape.clone());
            let s = Poly::atom(atoms.index(&plain)?);
            Some(Rational::poly(Poly::constant(BigRational::one()).add(&s.scale(&-BigRational::one()))))
        }
        _ if same => Some(Rational::poly(Poly::atom(atoms.index(e)?))),
        _ => None,
    }
}

/// `sign(arg)` as an operand: abs' and |·|'s sign are one operand.
fn sign_of(arg: &Expr, shape: &Shape, atoms: &mut Atoms) -> Option<Rational> {
    let sign = Expr::new(Kind::Func { func: Func::Sign, derivative: 0, arg: Box::new(arg.clone()) }, shape.clone());
    Some(Rational::poly(Poly::atom(atoms.index(&sign)?)))
}

/// A of `−A`, a scaling by −1.
fn negated(e: &Expr) -> Option<&Expr> {
    match &e.kind {
        Kind::Scale(c, a) if *c == -BigRational::one() => Some(a),
        _ => None,
    }
}

/// `a` divided by the expression `b` (of shape `shape`). A whole element-wise power
/// `E^{⊙k}` divides by E once per unit, each a factor of its own, as a negative power
/// does: multiplied out,
/// `(a + b)^{⊙3}` came back as eight terms, and `2(a + b)^{⊙−2} − 8b ⊘ (a + b)^{⊙3}`
/// could not become `2(a − 3b) ⊘ (a + b)^{⊙3}`.
fn divided(a: Rational, b: &Expr, shape: &Shape, atoms: &mut Atoms) -> Option<Rational> {
    // (Only element-wise powers: a scalar's `s³` in a quotient reads better whole, and
    // split it took `cᵀgc/s³` to `−(1/s³)(cᵀg)c` in a layer norm's gradient.)
    if let Kind::HPower(base, p) = &b.kind {
        let whole = p.is_integer() && p.is_positive() && *p <= BigRational::from_integer(MAX_POWER.into());
        // (And only a sum's power: the power of a root reduces by its square already,
        // and split, the pseudo-Huber Hessian's `r² ⊘ sqrt³(E)/δ²` came out as
        // `(−r²) ⊘ δ²sqrt³(E)`.)
        if whole && base.shape == *shape && matches!(base.kind, Kind::Add(_)) {
            let base = to_rational(base, shape, atoms)?;
            let mut acc = a;
            for _ in 0..p.to_integer().try_into().unwrap_or(0u32) {
                acc = atoms.reduce(acc.div(base.clone())?)?;
            }
            return Some(acc);
        }
    }
    let b = to_rational(b, shape, atoms)?;
    atoms.reduce(a.div(b)?)
}

fn from_poly(p: &Poly, shape: &Shape, atoms: &Atoms) -> Expr {
    // A polynomial in scalars alone over a tensor's shape is one scalar times ones:
    // `(ν + 1)1`, not `ν1 + 1`.
    let scalar_only = p.0.keys().all(|m| m.iter().enumerate().all(|(k, &e)| e == 0 || atoms.exprs[k].is_scalar()));
    if !shape.is_empty() && scalar_only && p.0.len() > 1 {
        return times(from_poly(p, &vec![], atoms), ones(shape), shape);
    }
    let mut terms = Vec::new();
    // Highest degree first reads as people write (`y − σ(z)` has the operand first).
    for (m, c) in p.0.iter().rev() {
        let mut factors: Vec<Expr> = Vec::new();
        for (k, &e) in m.iter().enumerate().filter(|(_, &e)| e > 0) {
            let atom = &atoms.exprs[k];
            // A scalar's power as one: `s³`, not `sss`; so a compound operand's:
            // `(Xw − y)^{⊙2}`, not `(Xw − y) ⊙ (Xw − y)`.
            if e >= 2 && atom.is_scalar() {
                factors
                    .push(Expr::new(Kind::Power(Box::new(atom.clone()), BigRational::from_integer(e.into())), vec![]));
                continue;
            }
            if e >= 2 && matches!(atom.kind, Kind::Add(_)) {
                let power = Kind::HPower(Box::new(atom.clone()), BigRational::from_integer(e.into()));
                factors.push(Expr::new(power, atom.shape.clone()));
                continue;
            }
            for _ in 0..e {
                factors.push(atom.clone());
            }
        }
        // Scalar operands alone still make a tensor of the region's shape: `s1`.
        if !shape.is_empty() && factors.iter().all(Expr::is_scalar) && !factors.is_empty() {
            factors.push(ones(shape));
        }
        let Some(body) = factors.into_iter().reduce(|a, b| times(a, b, shape)) else {
            terms.push(match shape.is_empty() {
                true => Expr::new(Kind::Const(c.clone()), vec![]),
                false => crate::ir::build::scale(c.clone(), Expr::new(Kind::Ones, shape.clone())),
            });
            continue;
        };
        terms.push(crate::ir::build::scale(c.clone(), body));
    }
    // A sum opens with a positive term where it can.
    if let Some(k) = terms.iter().position(|t| !matches!(&t.kind, Kind::Scale(c, _) if c.is_negative())) {
        let t = terms.remove(k);
        terms.insert(0, t);
    }
    match terms.len() {
        0 if shape.is_empty() => Expr::new(Kind::Const(BigRational::zero()), vec![]),
        0 => crate::ir::build::scale(BigRational::zero(), Expr::new(Kind::Ones, shape.clone())),
        1 => terms.remove(0),
        _ => Expr::new(Kind::Add(terms), shape.clone()),
    }
}

fn from_rational(r: &Rational, shape: &Shape, atoms: &Atoms) -> Expr {
    let plain = fraction_or_split(r, shape, atoms);
    let best = match atoms.over_roots(r).map(|rooted| fraction_or_split(&rooted, shape, atoms)) {
        Some(rooted) if crate::egraph::operations(&rooted) < crate::egraph::operations(&plain) => rooted,
        _ => plain,
    };
    grouped::or_by_tensor_terms(r, shape, atoms, best)
}

/// `r` as one quotient, or as a quotient and the terms its monomial denominator divides.
fn fraction_or_split(r: &Rational, shape: &Shape, atoms: &Atoms) -> Expr {
    let whole = one_fraction(r, shape, atoms);
    // Over one monomial, the terms it divides come out whole: `(WH − X) ⊘ WH` is
    // `1 − X ⊘ WH`, one product fewer.
    if let [d] = r.den.as_slice() {
        if let Some(m) = d.0.keys().next().filter(|_| d.0.len() == 1) {
            let divides = |t: &Monomial| t.iter().zip(m).all(|(a, b)| a >= b);
            let c = d.0.values().next().expect("one term");
            let (q, rest): (Vec<_>, Vec<_>) = r.num.0.iter().partition(|(t, _)| divides(t));
            if !q.is_empty() && !rest.is_empty() {
                let q =
                    Poly(q.into_iter().map(|(t, k)| (t.iter().zip(m).map(|(a, b)| a - b).collect(), k / c)).collect());
                // `1 − X ⊘ WH`, not `1 + (−X) ⊘ WH`.
                let negative = rest.iter().all(|(_, k)| k.is_negative());
                let sign = if negative { -BigRational::one() } else { BigRational::one() };
                let rest = Poly(rest.into_iter().map(|(t, k)| (t.clone(), k * &sign)).collect());
                let rest_first = rest.0.keys().filter_map(|m| m.iter().position(|&e| e > 0)).min();
                let mut fraction = one_fraction(&Rational { num: rest, den: r.den.clone() }, shape, atoms);
                if negative {
                    fraction = Expr::new(Kind::Scale(sign, Box::new(fraction)), shape.clone());
                }
                // The parts come in the order their operands were written, a negative part last.
                let first = |p: &Poly| p.0.keys().filter_map(|m| m.iter().position(|&e| e > 0)).min();
                let fraction_first = !negative && rest_first.min(first(d)) < first(&q);
                let quotient = from_poly(&q, shape, atoms);
                let parts = if fraction_first { vec![fraction, quotient] } else { vec![quotient, fraction] };
                let split = Expr::new(Kind::Add(parts), shape.clone());
                if crate::egraph::operations(&split) < crate::egraph::operations(&whole) {
                    return split;
                }
            }
        }
    }
    whole
}

/// The denominators of `r` as `E^{k/2}` for one operand `sqrt(E)`, when that is all
/// they are: the operand k₁ times and E itself k₂ times give k = k₁ + 2k₂.
fn root_power(r: &Rational, atoms: &Atoms) -> Option<(Expr, i64)> {
    let mut found: Option<(usize, i64)> = None;
    for f in &r.den {
        let (k, n) =
            match atoms.roots.iter().position(|root| root.as_ref().is_some_and(|r| r.den.is_empty() && r.num == *f)) {
                Some(k) => (k, 2),
                None => {
                    let (m, c) = f.0.iter().next().filter(|_| f.0.len() == 1)?;
                    let k = m.iter().position(|&e| e > 0)?;
                    let only = m.iter().enumerate().all(|(j, &e)| j == k || e == 0);
                    (only && c.is_one() && atoms.roots[k].is_some()).then_some((k, i64::from(m[k])))?
                }
            };
        found = match found {
            None => Some((k, n)),
            Some((j, total)) if j == k => Some((k, total + n)),
            Some(_) => return None,
        };
    }
    let (k, total) = found.filter(|&(_, total)| total >= 2)?;
    match &atoms.exprs[k].kind {
        Kind::Func { func: Func::Sqrt, derivative: 0, arg } => Some(((**arg).clone(), total)),
        _ => None,
    }
}

/// `p` with its numeric factor and the operands all its terms share in front, where that
/// is smaller: `2ν(ν1 − r^{⊙2})`, not `2ν²1 − 2νr^{⊙2}`; `XV ⊙ (ν1 − r^{⊙2})`.
fn factored(p: &Poly, shape: &Shape, atoms: &Atoms) -> Expr {
    let plain = from_poly(p, shape, atoms);
    if p.0.len() < 2 {
        return plain;
    }
    // The operands every term has (a tensor one only in a tensor region: `XV` in
    // `νXV − XV ⊙ r²`).
    let mut common: Monomial = vec![u32::MAX; MAX_ATOMS];
    for m in p.0.keys() {
        for (k, (c, e)) in common.iter_mut().zip(m).enumerate() {
            *c = if k < atoms.exprs.len() { (*c).min(*e) } else { 0 };
        }
    }
    let scalar = |k: usize| atoms.exprs[k].is_scalar();
    let part = |keep: &dyn Fn(usize) -> bool| -> Monomial {
        common.iter().enumerate().map(|(k, &e)| if k < atoms.exprs.len() && keep(k) { e } else { 0 }).collect()
    };
    let (scalars, tensors) = (part(&scalar), part(&|k| !scalar(k)));
    // The numeric factor: the greatest common divisor of the numerators over the least
    // common multiple of the denominators (`(1/2)α(a − b)` for `(1/2)αa − (1/2)αb`).
    let (mut g, mut l) = (num_bigint::BigInt::from(0), num_bigint::BigInt::from(1));
    for c in p.0.values() {
        g = num_integer::Integer::gcd(&g, c.numer());
        l = num_integer::Integer::lcm(&l, c.denom());
    }
    let content = if g.is_zero() { BigRational::one() } else { BigRational::new(g, l) };
    let shared = |k: usize| k < atoms.exprs.len() && scalar(k);
    if common.iter().all(|&e| e == 0) && content.is_one() && p.univariate_factor(&shared).is_none() {
        return plain;
    }
    let rest =
        Poly(p.0.iter().map(|(m, c)| (m.iter().zip(&common).map(|(e, k)| e - k).collect(), c / &content)).collect());
    let monomial = |m: Monomial| Poly([(m, BigRational::one())].into_iter().collect());
    // What is left of scalars alone scales the tensor operands: `(ν + 1)r`, not
    // `r ⊙ (ν + 1)1`.
    let rest_scalar = rest.0.keys().all(|m| m.iter().enumerate().all(|(k, &e)| e == 0 || scalar(k)));
    let rest_shape = match rest_scalar && tensors.iter().any(|&e| e > 0) {
        true => vec![],
        false => shape.clone(),
    };
    // The part left over, with the operands and the number all terms share around it.
    let assembled = |mut rest: Expr, content: BigRational| -> Expr {
        if tensors.iter().any(|&e| e > 0) {
            let tensor = from_poly(&monomial(tensors.clone()), shape, atoms);
            rest = match rest_scalar {
                true => times(rest, tensor, shape),
                false => times(tensor, rest, shape),
            };
        }
        let front = from_poly(&monomial(scalars.clone()), &vec![], atoms);
        // Of two scalars, the smaller first: `(ν + 1)(aᵀb)`.
        let out = match scalars.iter().all(|&e| e == 0) {
            true => rest,
            false if rest.is_scalar() && crate::egraph::operations(&rest) < crate::egraph::operations(&front) => {
                times(rest, front, shape)
            }
            false => times(front, rest, shape),
        };
        crate::ir::build::scale(content, out)
    };
    let smaller = |out: &Expr| written_operations(out) < written_operations(&plain);
    // What is left that shares a factor in one scalar operand across its terms has it in
    // front: `(1 − t²)(u − 2t(uᵀw)z)`, not `2(t³ − t)(uᵀw)z − t²u + u`.
    if let Some((f, q)) = rest.univariate_factor(&shared) {
        let oriented_f = oriented(f.clone());
        let q = if oriented_f == f { q } else { q.scale(&-BigRational::one()) };
        let front = from_poly(&oriented_f, &vec![], atoms);
        let out = assembled(times(front, factored(&q, &rest_shape, atoms), &rest_shape), content.clone());
        if smaller(&out) {
            return out;
        }
    }
    // What is left that is a square, or a square negated, is written as one:
    // `−(1 − t²)²`, not `2t² − t⁴ − 1`.
    // (Of three terms or more: a binomial that is a square is a monomial's square.)
    let square = |q: &Poly| (q.0.len() >= 3).then(|| q.sqrt()).flatten();
    let out = match (square(&rest), square(&rest.scale(&-BigRational::one()))) {
        (Some(root), _) => assembled(even_power(root, &rest_shape, atoms), content),
        (None, Some(root)) => assembled(even_power(root, &rest_shape, atoms), -content),
        (None, None) => assembled(from_poly(&rest, &rest_shape, atoms), content),
    };
    if smaller(&out) {
        out
    } else {
        plain
    }
}

/// A sum that holds a positive number, with the number first: a denominator reads
/// `1 + c(uᵀw)`, as `1 + exp(−z)` is written.
fn number_first(e: Expr) -> Expr {
    let Expr { kind: Kind::Add(mut ts), shape } = e else { return e };
    let number = |t: &Expr| match &t.kind {
        Kind::Const(c) => c.is_positive(),
        Kind::Scale(c, o) => c.is_positive() && o.kind == Kind::Ones,
        Kind::Ones => true,
        _ => false,
    };
    if let Some(k) = ts.iter().position(number) {
        let t = ts.remove(k);
        ts.insert(0, t);
    }
    Expr::new(Kind::Add(ts), shape)
}

/// `p` or its negation, whichever has more positive terms, then a positive number:
/// the base of a square, whose sign is free (`(1 − t²)²`, not `(t² − 1)²`).
fn oriented(p: Poly) -> Poly {
    let positive = |q: &Poly| {
        let constant = q.0.iter().any(|(m, c)| m.iter().all(|&e| e == 0) && c.is_positive());
        (q.0.values().filter(|c| c.is_positive()).count(), constant)
    };
    let negated = p.scale(&-BigRational::one());
    if positive(&negated) > positive(&p) {
        negated
    } else {
        p
    }
}

/// `root` squared, as a power of the smallest base: a root that is a square itself
/// makes a fourth power (`(1 − p)^{⊙4}`, not `(p ⊙ p − 2p + 1)^{⊙2}`), and so on. A
/// scalar's power, or an element-wise one.
fn even_power(root: Poly, shape: &Shape, atoms: &Atoms) -> Expr {
    let (mut base, mut times) = (root, 2);
    while let Some(r) = (base.0.len() >= 3 && times < MAX_POWER).then(|| base.sqrt()).flatten() {
        (base, times) = (r, times * 2);
    }
    let base = from_poly(&oriented(base), shape, atoms);
    let k = BigRational::from_integer(times.into());
    match base.is_scalar() {
        true => Expr::new(Kind::Power(Box::new(base), k), vec![]),
        false => {
            let s = base.shape.clone();
            Expr::new(Kind::HPower(Box::new(base), k), s)
        }
    }
}

/// Operations as printed: a term negated in a sum is subtracted, no operation of its
/// own (`2(ν1 − r²)` has one fewer than `2ν1 − 2r²`, where `operations` counts the −1
/// that a factored number leaves as one).
fn written_operations(e: &Expr) -> usize {
    fn subtracted(e: &Expr) -> usize {
        let here = match &e.kind {
            Kind::Add(ts) => {
                ts.iter().skip(1).filter(|t| matches!(&t.kind, Kind::Scale(c, _) if *c == -BigRational::one())).count()
            }
            _ => 0,
        };
        here + e.children().iter().map(|c| subtracted(c)).sum::<usize>()
    }
    crate::egraph::operations(e) - subtracted(e)
}

/// `r` as one quotient, numerator over the product of its denominators.
fn one_fraction(r: &Rational, shape: &Shape, atoms: &Atoms) -> Expr {
    let num = factored(&r.num, shape, atoms);
    // Over a power of a root, a power: `x ⊘ (E ⊙ sqrt(E))` is `x ⊙ E^{⊙−3/2}`.
    // Over a whole power of E, a quotient: `x ⊘ (sqrt(E) ⊙ sqrt(E))` is `x ⊘ E`.
    let den = match root_power(r, atoms) {
        Some((base, 2)) => Some(base),
        Some((base, k)) => return half_power_times(num, base, k, shape),
        None => {
            // A denominator of scalars alone is a scalar: `x/(ns)`, not `x ⊘ (n1 ⊙ s1)`.
            let scalars =
                |f: &Poly| f.0.keys().all(|m| m.iter().enumerate().all(|(k, &e)| e == 0 || atoms.exprs[k].is_scalar()));
            // A factor that repeats is a power: `(ν1 + r^{⊙2})^{⊙2}`.
            // A factor that is a square is that power of its root: `ν² + 2νr² + r⁴`
            // is `(ν + r²)²`.
            let mut counted: Vec<(Poly, u32)> = Vec::new();
            for f in &r.den {
                let (f, k) = match f.0.len() > 1 {
                    true => f.sqrt().map_or((f.clone(), 1), |root| (root, 2)),
                    false => (f.clone(), 1),
                };
                match counted.iter_mut().find(|(g, _)| *g == f) {
                    Some((_, n)) => *n += k,
                    None => counted.push((f, k)),
                }
            }
            counted
                .into_iter()
                .map(|(f, n)| {
                    // An even power's base has a free sign.
                    let f = if n % 2 == 0 { oriented(f) } else { f };
                    let base = number_first(from_poly(&f, &if scalars(&f) { vec![] } else { shape.clone() }, atoms));
                    // An element-wise root's power is its radicand's half power: `E^{⊙7/2}`,
                    // not `sqrt(E)⁷`. (A scalar's `sqrt(s)³` stays: the rules take a
                    // `sqrt(s)` out of it beside other terms over `sqrt(s)`.)
                    if let (Kind::Func { func: Func::Sqrt, derivative: 0, arg }, true) = (&base.kind, n >= 2) {
                        if !arg.is_scalar() {
                            let half = BigRational::new(n.into(), 2.into());
                            return Expr::new(Kind::HPower(arg.clone(), half), arg.shape.clone());
                        }
                    }
                    match n {
                        1 => base,
                        n if base.is_scalar() => {
                            Expr::new(Kind::Power(Box::new(base), BigRational::from_integer(n.into())), vec![])
                        }
                        n => {
                            let s = base.shape.clone();
                            Expr::new(Kind::HPower(Box::new(base), BigRational::from_integer(n.into())), s)
                        }
                    }
                })
                .reduce(|a, b| times(a, b, shape))
        }
    };
    match den {
        None => num,
        Some(d) if d.is_scalar() => Expr::new(Kind::DivScalar(Box::new(num), Box::new(d)), shape.clone()),
        Some(d) => Expr::new(Kind::HDiv(Box::new(num), Box::new(d)), shape.clone()),
    }
}

/// `num ⊙ base^{⊙−k/2}` (or a scalar power), a number or ones numerator as a multiple.
fn half_power_times(num: Expr, base: Expr, k: i64, shape: &Shape) -> Expr {
    let p = BigRational::new((-k).into(), 2.into());
    let base_shape = base.shape.clone();
    let kind = match base_shape.is_empty() {
        true => Kind::Power(Box::new(base), p),
        false => Kind::HPower(Box::new(base), p),
    };
    let power = Expr::new(kind, base_shape);
    match &num.kind {
        Kind::Const(c) if power.shape == *shape => crate::ir::build::scale(c.clone(), power),
        Kind::Ones if power.shape == *shape => power,
        Kind::Scale(c, o) if o.kind == Kind::Ones && power.shape == *shape => crate::ir::build::scale(c.clone(), power),
        _ => times(num, power, shape),
    }
}

/// A ones tensor of `shape` for a product with scalars; a matrix of ones as `11ᵀ`, since
/// `s 1` after a scalar chain (`1ᵀσ(X)(x ⊙ y) 1`) reads back as a vector. A number's
/// ones tensor alone in a sum (`1 − X ⊘ WH`) reads back as it is.
fn ones(shape: &Shape) -> Expr {
    match shape.as_slice() {
        [m, n] if *m != Dim::Iota => {
            let row = crate::ir::build::transpose(Expr::new(Kind::Ones, vec![n.clone()]));
            crate::ir::build::product(Expr::new(Kind::Ones, vec![m.clone()]), row)
        }
        _ => Expr::new(Kind::Ones, shape.clone()),
    }
}

/// `a ⊙ b`, or `ab` where either is a scalar (scalars first).
fn times(a: Expr, b: Expr, shape: &Shape) -> Expr {
    let shape = if a.is_scalar() && b.is_scalar() { vec![] } else { shape.clone() };
    let kind = match (a.is_scalar(), b.is_scalar()) {
        (false, false) => Kind::Hadamard(Box::new(a), Box::new(b)),
        (false, true) => Kind::Product(Box::new(b), Box::new(a)),
        _ => Kind::Product(Box::new(a), Box::new(b)),
    };
    Expr::new(kind, shape)
}

/// A term divided by a scalar, with or without a number in front.
fn quotient(e: &Expr) -> bool {
    match &e.kind {
        Kind::DivScalar(..) => true,
        Kind::Scale(_, x) => quotient(x),
        _ => false,
    }
}

/// True for the operators of an element-wise region that cancelling may simplify.
fn worth_trying(e: &Expr) -> bool {
    match &e.kind {
        Kind::HDiv(..) | Kind::Func { func: Func::Sqrt, .. } => true,
        // An element-wise reciprocal is a quotient too: `2E^{⊙−1} − 4r ⊙ r ⊘ (νE ⊙ E)`.
        Kind::HPower(_, p) if p.is_negative() => true,
        // And a scalar's inverse: `(ρ⁷)⁻¹(qρ)`.
        Kind::Inverse(_) if e.shape.is_empty() => true,
        // Quotients by scalars over one denominator: `1/(νs³) + 1/s³` is `(ν + 1)/(νs³)`.
        Kind::Add(ts) if ts.iter().filter(|t| quotient(t)).count() >= 2 => true,
        // Like terms, which a run may end with when the rules that gather them are banned
        // by the time they meet (`σ ⊙ (1 − y + y) − y`).
        Kind::Add(ts) if like_terms(ts) => true,
        // Terms scaled by scalar expressions that share an operand, whose coefficients may
        // meet: `(ε − 1)(y − s) + ε(Ks − 1)/K` is `s − (1 − ε)y − (ε/K)1`.
        Kind::Add(ts) if !e.shape.is_empty() && scaled_share(ts) => true,
        // `1 ⊙ y`, which a run may end with when `σ − 1 − σ` cancels late.
        Kind::Hadamard(a, b) if a.kind == Kind::Ones || b.kind == Kind::Ones => true,
        Kind::Func { func: Func::Sigmoid | Func::Tanh | Func::Ln | Func::Exp, derivative: 1, .. } => true,
        _ => e.children().iter().any(|c| worth_trying(c)),
    }
}

/// Two terms of a sum, each a sum of tensors scaled by a scalar expression (not a number
/// alone), that name a variable in common.
fn scaled_share(ts: &[Expr]) -> bool {
    fn scaled(t: &Expr) -> Option<&Expr> {
        let inner = match &t.kind {
            Kind::Product(a, b) if a.is_scalar() && !b.is_scalar() && !matches!(a.kind, Kind::Const(_)) => b,
            Kind::DivScalar(a, _) => return scaled(a).or(Some(a)).filter(|x| matches!(x.kind, Kind::Add(_))),
            Kind::Scale(_, x) => return scaled(x),
            _ => return None,
        };
        matches!(inner.kind, Kind::Add(_)).then_some(&**inner)
    }
    fn vars(e: &Expr, out: &mut Vec<String>) {
        match &e.kind {
            Kind::Var(n) if !e.is_scalar() => out.push(n.clone()),
            _ => e.children().iter().for_each(|c| vars(c, out)),
        }
    }
    let names: Vec<Vec<String>> = ts
        .iter()
        .filter_map(scaled)
        .map(|b| {
            let mut v = Vec::new();
            vars(b, &mut v);
            v
        })
        .collect();
    (0..names.len()).any(|i| names[i + 1..].iter().any(|other| other.iter().any(|n| names[i].contains(n))))
}

/// Two terms of a sum that are multiples of one expression (`−y` and `y`), also where
/// one stands in a sum within the sum (`(a1 − v) + a1`).
fn like_terms(ts: &[Expr]) -> bool {
    fn collect(ts: &[Expr], out: &mut Vec<Expr>) {
        for t in ts {
            match &t.kind {
                Kind::Add(inner) => collect(inner, out),
                Kind::Scale(_, x) => out.push((**x).clone()),
                _ => out.push(t.clone()),
            }
        }
    }
    let mut bases = Vec::new();
    collect(ts, &mut bases);
    (0..bases.len()).any(|i| bases[i + 1..].contains(&bases[i]))
}

/// `e` with each element-wise region that cancels to fewer operations rewritten, or
/// `None` if none does.
pub fn cancelled(e: &Expr) -> Option<Expr> {
    if !worth_trying(e) {
        return None;
    }
    let out = rewrite(e);
    (out != *e).then_some(out)
}

/// The sums in `e` that are linear in the region's operands (`Xw − y` where `Xw` and `y`
/// are operands), as their polynomials, at most [`MAX_COMBINATIONS`], first written first.
fn combinations(e: &Expr, atoms: &Atoms, out: &mut Vec<(Expr, Vec<(usize, BigRational)>)>, tried: &mut usize) {
    if out.len() >= MAX_COMBINATIONS || *tried >= MAX_SUMS_TRIED {
        return;
    }
    if let Kind::Add(_) = e.kind {
        *tried += 1;
        let mut own = atoms.clone();
        let linear = to_rational(e, &e.shape, &mut own)
            .filter(|r| r.den.is_empty() && own.keys.len() == atoms.keys.len())
            .and_then(|r| r.num.linear());
        if let Some(terms) = linear {
            if !out.iter().any(|(x, _)| x == e) {
                out.push((e.clone(), terms));
            }
            return;
        }
    }
    for c in e.children() {
        combinations(c, atoms, out, tried);
    }
}

/// Most sums tried as operands of their own.
const MAX_COMBINATIONS: usize = 4;

/// Most sums of a region looked at for them.
const MAX_SUMS_TRIED: usize = 8;

/// `r` with the sum `sum` (coefficients `terms`) as one operand: its first operand `a`
/// is written through it, `a = (sum − rest)/c`, so that `(Xw − y)²` over `ν + (Xw − y)²`
/// cancels as a function of `Xw − y`, where in `Xw` and `y` it only grows.
fn through_combination(
    r: &Rational,
    atoms: &Atoms,
    sum: &Expr,
    terms: &[(usize, BigRational)],
) -> Option<(Rational, Atoms)> {
    let (k, c) = terms.first()?;
    let mut atoms = atoms.clone();
    let t = atoms.index(sum)?;
    let mut q = Poly::atom(t);
    for (j, cj) in &terms[1..] {
        q = q.add(&Poly::atom(*j).scale(&-cj));
    }
    let q = q.scale(&c.recip());
    let num = r.num.substitute(*k, &q)?;
    let den = r.den.iter().map(|f| f.substitute(*k, &q)).collect::<Option<Vec<_>>>()?;
    for root in atoms.roots.iter_mut() {
        if let Some(p) = root {
            p.num = p.num.substitute(*k, &q)?;
            p.den = p.den.iter().map(|f| f.substitute(*k, &q)).collect::<Option<Vec<_>>>()?;
        }
    }
    // Only where the region is a function of the sum alone: `Xw` and `y` are gone, not
    // traded for one another (`(eᶻ − e⁻ᶻ)/(eᶻ + e⁻ᶻ)` stays as it is, and meets tanh).
    let used = |p: &Poly| p.0.keys().any(|m| terms.iter().any(|(j, _)| m[*j] > 0));
    if used(&num) || den.iter().any(used) {
        return None;
    }
    Some((Rational { num, den }.cancel(), atoms))
}

/// The smallest form of `r`: as it is, or with one of the sums of `e` as an operand.
fn smallest_form(r: &Rational, e: &Expr, atoms: &Atoms) -> Expr {
    let mut best = from_rational(r, &e.shape, atoms);
    // A sum as an operand helps where a sum divides, or where the numerator is a sum
    // of three or more terms (the square of a difference written out); elsewhere the
    // quotient is as small as it gets, and the search is a fifth of a Hessian's time.
    if r.den.iter().all(|f| f.0.len() <= 1) && r.num.0.len() <= 2 {
        return best;
    }
    let mut sums = Vec::new();
    combinations(e, atoms, &mut sums, &mut 0);
    for (sum, terms) in &sums {
        if let Some((r, atoms)) = through_combination(r, atoms, sum, terms) {
            let candidate = from_rational(&r, &e.shape, &atoms);
            if crate::egraph::operations(&candidate) < crate::egraph::operations(&best) {
                best = candidate;
            }
        }
    }
    best
}

/// Rewritten forms of the expressions [`rewrite`] has seen on this thread, by a
/// fingerprint of each (its operators and names; equality decides). A run's starting
/// forms share most of their subterms (a Hessian's ten forms each hold
/// `ln'(1 + (Xw − y)^{⊙2}/ν)`), and each was cancelled anew; the rewrite is a function
/// of the expression alone, so a remembered one is the same answer.
type Remembered = std::collections::HashMap<u64, Vec<(Expr, Expr)>>;

thread_local! {
    static REWRITTEN: std::cell::RefCell<(Remembered, usize)> = std::cell::RefCell::new(Default::default());
}

/// Most expressions [`REWRITTEN`] holds; past it, it starts again empty (a server
/// thread answers many queries).
const MAX_REWRITTEN: usize = 4096;

fn rewrite(e: &Expr) -> Expr {
    let key = e.fingerprint();
    let known = REWRITTEN.with(|m| {
        let m = m.borrow();
        m.0.get(&key).and_then(|v| v.iter().find(|(x, _)| x == e).map(|(_, out)| out.clone()))
    });
    if let Some(out) = known {
        return out;
    }
    let out = rewrite_uncached(e);
    REWRITTEN.with(|m| {
        let (map, count) = &mut *m.borrow_mut();
        if *count >= MAX_REWRITTEN {
            map.clear();
            *count = 0;
        }
        map.entry(key).or_default().push((e.clone(), out.clone()));
        *count += 1;
    });
    out
}

fn rewrite_uncached(e: &Expr) -> Expr {
    let mut out = rewrite_region(e);
    // A division by a scalar of a product with one element-wise factor (or diagonal) may
    // go inside it, where the region may cancel it: `Xᵀdiag(2ν(ν1 − r²) ⊘ (ν1 + r²)²)X/ν`
    // is `Xᵀdiag(2(ν1 − r²) ⊘ …)X`. So may the division the region's own rewrite puts in
    // front, where its numerator mentions the divisor (`(1/ν)(ν + 1)Xᵀ(r ⊙ ln'(…))` is
    // `(ν + 1)Xᵀ(r ⊙ ln'(…))/ν`).
    let own = matches!(&out.kind, Kind::DivScalar(a, d) if mentions(a, d)).then(|| out.clone());
    for from in std::iter::once(e.clone()).chain(own) {
        if let Some(alt) = divided_into_region(&from).map(|inside| rewrite_region(&inside)) {
            if crate::egraph::operations(&alt) < crate::egraph::operations(&out) {
                out = alt;
            }
        }
    }
    out
}

/// Whether `part` occurs in `e`.
fn mentions(e: &Expr, part: &Expr) -> bool {
    e == part || e.children().iter().any(|c| mentions(c, part))
}

/// `A diag(v) B / s` as `A diag(v/s) B`, and `A(u ⊘ w)/s` as `A((u ⊘ w)/s)`, when the
/// product has exactly one such factor, where the division can meet its region.
fn divided_into_region(e: &Expr) -> Option<Expr> {
    let Kind::DivScalar(a, s) = &e.kind else { return None };
    // A factor whose entries are an element-wise region (or the diagonal of one).
    fn region(e: &Expr) -> bool {
        match &e.kind {
            Kind::Diag(v) => v.shape.len() == 1,
            Kind::HDiv(..) | Kind::Hadamard(..) => true,
            _ => false,
        }
    }
    fn count(e: &Expr) -> usize {
        match &e.kind {
            Kind::Product(x, y) => count(x) + count(y),
            Kind::Transpose(x) | Kind::Scale(_, x) => count(x),
            _ => usize::from(region(e)),
        }
    }
    fn divide(e: &Expr, s: &Expr) -> Expr {
        let over = |x: &Expr| Expr::new(Kind::DivScalar(Box::new(x.clone()), Box::new(s.clone())), x.shape.clone());
        let kind = match &e.kind {
            Kind::Product(x, y) => Kind::Product(Box::new(divide(x, s)), Box::new(divide(y, s))),
            Kind::Transpose(x) => Kind::Transpose(Box::new(divide(x, s))),
            Kind::Scale(c, x) => Kind::Scale(c.clone(), Box::new(divide(x, s))),
            Kind::Diag(v) if v.shape.len() == 1 => Kind::Diag(Box::new(over(v))),
            _ if region(e) => return over(e),
            other => other.clone(),
        };
        Expr::new(kind, e.shape.clone())
    }
    (count(a) == 1 && !e.shape.is_empty()).then(|| divide(a, s))
}

fn rewrite_region(e: &Expr) -> Expr {
    let elementwise = match &e.kind {
        Kind::Add(_) | Kind::Scale(..) => true,
        Kind::Hadamard(..) | Kind::HDiv(..) => !e.shape.is_empty(),
        Kind::Product(a, b) => {
            a.is_scalar() && b.is_scalar() || !e.shape.is_empty() && (a.is_scalar() || b.is_scalar())
        }
        Kind::DivScalar(..) => true,
        _ => false,
    };
    // Inner regions first (an operand of this region may hold one), then this region whole.
    let inside = rewrite_children(e);
    if elementwise && worth_trying(e) {
        // With |z| an operand, and where there is one, as sign(z) ⊙ z: the fewer
        // operations (`sign(x) ⊘ (1 + |x|)²` keeps its |x|; `sign(s) ⊘ |s|` is `1 ⊘ s`).
        let candidate = |abs_as_sign: bool| {
            let mut atoms = Atoms { abs_as_sign, ..Atoms::default() };
            to_rational(&inside, &inside.shape, &mut atoms).map(|r| smallest_form(&r, &inside, &atoms))
        };
        let plain = candidate(false);
        let signed = holds_abs(&inside).then(|| candidate(true)).flatten();
        let best = match (plain, signed) {
            (Some(p), Some(s)) if crate::egraph::operations(&s) < crate::egraph::operations(&p) => Some(s),
            (Some(p), _) => Some(p),
            (None, s) => s,
        };
        if let Some(candidate) = best.filter(|c| crate::egraph::operations(c) < crate::egraph::operations(&inside)) {
            debug(&inside, &candidate);
            return candidate;
        }
        if let Some(candidate) = cancelled_within(&inside) {
            debug(&inside, &candidate);
            return candidate;
        }
    }
    inside
}

/// Whether `e` takes an absolute value.
fn holds_abs(e: &Expr) -> bool {
    matches!(e.kind, Kind::Func { func: Func::Abs, derivative: 0, .. }) || e.children().iter().any(|c| holds_abs(c))
}

fn debug(from: &Expr, to: &Expr) {
    if std::env::var_os("BRACKET_CANCEL_DEBUG").is_some() {
        let p = |x: &Expr| crate::render::render(x, Format::Unicode);
        eprintln!("cancel: {} => {}", p(from), p(to));
    }
}

/// A sum whose terms over a shared denominator operand cancel among themselves, where
/// the whole sum over one denominator would not get smaller: in
/// `XᵀXv/N + αv ⊘ r − αw ⊙ w ⊙ v ⊘ r³ + βv` (r = sqrt(w ⊙ w + ε1)) the middle two are
/// `αεv ⊘ r³`. Terms are grouped where their denominators share an operand.
fn cancelled_within(e: &Expr) -> Option<Expr> {
    let Kind::Add(ts) = &e.kind else { return None };
    if ts.len() < 3 {
        return None;
    }
    let mut atoms = Atoms::default();
    let operands = |r: &Rational| -> Vec<usize> {
        let mut out: Vec<usize> =
            r.den.iter().flat_map(|f| f.0.keys()).flat_map(|m| (0..m.len()).filter(|&k| m[k] > 0)).collect();
        out.sort_unstable();
        out.dedup();
        out
    };
    let dens: Vec<Vec<usize>> =
        ts.iter().map(|t| to_rational(t, &e.shape, &mut atoms).map(|r| operands(&r)).unwrap_or_default()).collect();
    // Groups of terms linked by a shared denominator operand, each named by its first.
    let mut group: Vec<Option<usize>> = vec![None; ts.len()];
    for k in (0..ts.len()).filter(|&k| !dens[k].is_empty()) {
        let mut shared = dens[k].clone();
        group[k] = group[k].or(Some(k));
        while let Some(j) =
            (k + 1..ts.len()).find(|&j| group[j].is_none() && dens[j].iter().any(|a| shared.contains(a)))
        {
            group[j] = group[k];
            shared.extend(dens[j].iter().copied());
        }
    }
    let (mut out, mut changed) = (Vec::new(), false);
    for k in 0..ts.len() {
        if group[k].is_none() {
            out.push(ts[k].clone());
            continue;
        }
        let members: Vec<Expr> = (k..ts.len()).filter(|&j| group[j] == Some(k)).map(|j| ts[j].clone()).collect();
        if members.len() < 2 || members.len() == ts.len() {
            out.extend(members);
            continue;
        }
        let sum = Expr::new(Kind::Add(members.clone()), e.shape.clone());
        let mut atoms = Atoms::default();
        match to_rational(&sum, &e.shape, &mut atoms).map(|r| smallest_form(&r, &sum, &atoms)) {
            Some(c) if crate::egraph::operations(&c) < crate::egraph::operations(&sum) => {
                changed = true;
                out.push(c);
            }
            _ => out.extend(members),
        }
    }
    changed.then(|| Expr::new(Kind::Add(out), e.shape.clone()))
}

/// `e` with each child rewritten.
fn rewrite_children(e: &Expr) -> Expr {
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = rewrite(c);
    }
    out
}
