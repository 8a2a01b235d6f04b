//! Exact polynomials and rational functions in a region's operands, for
//! [`super::cancelled`]: sums, products, powers, division with remainder and the
//! cancelling of common factors.

use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::BTreeMap;

/// Most monomials of a polynomial, operands of a region, and steps of one division.
pub(super) const MAX_TERMS: usize = 64;
pub(super) const MAX_ATOMS: usize = 12;
pub(super) const MAX_STEPS: usize = 2000;
/// Largest whole power expanded.
pub(super) const MAX_POWER: u32 = 8;

/// A monomial: one exponent per operand.
pub(super) type Monomial = Vec<u32>;

/// A polynomial in the operands, with exact coefficients.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Poly(pub(super) BTreeMap<Monomial, BigRational>);

/// `num ⊘ (den₁ ⊙ den₂ ⊙ …)`, denominators kept as factors.
#[derive(Clone, Debug)]
pub(super) struct Rational {
    pub(super) num: Poly,
    pub(super) den: Vec<Poly>,
}

/// `a·b`. Most coefficients are whole numbers, whose product needs none of the three
/// greatest common divisors `Ratio`'s product takes (they were a third of cancelling).
fn times(a: &BigRational, b: &BigRational) -> BigRational {
    if a.is_integer() && b.is_integer() {
        BigRational::from_integer(a.numer() * b.numer())
    } else {
        a * b
    }
}

/// `a + b`, whole numbers without a greatest common divisor.
fn plus(a: &BigRational, b: &BigRational) -> BigRational {
    if a.is_integer() && b.is_integer() {
        BigRational::from_integer(a.numer() + b.numer())
    } else {
        a + b
    }
}

impl Poly {
    /// The monomial all of a sum's terms share, and the sum divided by it; None for a
    /// single term or where they share none.
    pub(super) fn monomial_content(&self) -> Option<(Poly, Poly)> {
        if self.0.len() < 2 {
            return None;
        }
        let mut common: Monomial = self.0.keys().next()?.clone();
        for m in self.0.keys() {
            for (c, e) in common.iter_mut().zip(m) {
                *c = (*c).min(*e);
            }
        }
        if common.iter().all(|&e| e == 0) {
            return None;
        }
        let lower = |m: &Monomial| m.iter().zip(&common).map(|(e, c)| e - c).collect::<Monomial>();
        let rest = Poly(self.0.iter().map(|(m, c)| (lower(m), c.clone())).collect());
        Some((Poly([(common, BigRational::one())].into_iter().collect()), rest))
    }

    pub(super) fn constant(c: BigRational) -> Poly {
        let mut m = BTreeMap::new();
        if !c.is_zero() {
            m.insert(vec![0; MAX_ATOMS], c);
        }
        Poly(m)
    }

    pub(super) fn atom(k: usize) -> Poly {
        let mut mono = vec![0; MAX_ATOMS];
        mono[k] = 1;
        Poly([(mono, BigRational::one())].into_iter().collect())
    }

    pub(super) fn add(&self, other: &Poly) -> Poly {
        let mut out = self.clone();
        out.add_assign(other);
        out
    }

    /// `self += other`, in place.
    pub(super) fn add_assign(&mut self, other: &Poly) {
        for (m, c) in &other.0 {
            self.add_term(m, c.clone());
        }
    }

    /// `self += c·m`, in place.
    fn add_term(&mut self, m: &Monomial, c: BigRational) {
        match self.0.get_mut(m) {
            Some(v) => {
                *v = plus(v, &c);
                if v.is_zero() {
                    self.0.remove(m);
                }
            }
            None if !c.is_zero() => {
                self.0.insert(m.clone(), c);
            }
            None => {}
        }
    }

    pub(super) fn scale(&self, c: &BigRational) -> Poly {
        if c.is_zero() {
            return Poly(BTreeMap::new());
        }
        Poly(self.0.iter().map(|(m, v)| (m.clone(), times(v, c))).collect())
    }

    pub(super) fn mul(&self, other: &Poly) -> Option<Poly> {
        let mut out = Poly(BTreeMap::new());
        for (m1, c1) in &self.0 {
            for (m2, c2) in &other.0 {
                let m: Monomial = m1.iter().zip(m2).map(|(a, b)| a + b).collect();
                out.add_term(&m, times(c1, c2));
            }
        }
        (out.0.len() <= MAX_TERMS).then_some(out)
    }

    pub(super) fn leading(&self) -> Option<(&Monomial, &BigRational)> {
        self.0.iter().next_back()
    }

    /// `self / f` if f divides self exactly (lexicographic leading terms).
    pub(super) fn divide(&self, f: &Poly) -> Option<Poly> {
        let (lf, cf) = f.leading()?;
        let mut rest = self.clone();
        let mut quotient = Poly(BTreeMap::new());
        for _ in 0..MAX_STEPS {
            let Some((lr, cr)) = rest.leading() else { return Some(quotient) };
            if lr.iter().zip(lf).any(|(a, b)| a < b) {
                return None;
            }
            let m: Monomial = lr.iter().zip(lf).map(|(a, b)| a - b).collect();
            let t = Poly([(m, cr / cf)].into_iter().collect());
            quotient.add_assign(&t);
            rest.add_assign(&t.mul(f)?.scale(&-BigRational::one()));
        }
        None
    }

    /// `self` as A·Q with A a polynomial in one operand and Q free of it, where the
    /// coefficients of the powers of some operand are all multiples of one polynomial Q
    /// (not a constant): `ρ − ρr + r − 1` is `(ρ − 1)(1 − r)`, a scalar's factor and a
    /// vector's, each of which may then meet the numerator. None otherwise.
    pub(super) fn split(&self) -> Option<(Poly, Poly)> {
        let width = self.0.keys().next()?.len();
        for k in 0..width {
            // The coefficient of each power of operand k.
            let mut by_power: BTreeMap<u32, Poly> = BTreeMap::new();
            for (m, c) in &self.0 {
                let mut rest = m.clone();
                rest[k] = 0;
                by_power.entry(m[k]).or_insert_with(|| Poly(BTreeMap::new())).0.insert(rest, c.clone());
            }
            if by_power.len() < 2 {
                continue;
            }
            let q = by_power.values().next()?.clone();
            if q.0.len() < 2 && q.0.keys().all(|m| m.iter().all(|&e| e == 0)) {
                continue;
            }
            let (qm, qc) = q.0.iter().next()?;
            let mut a = Poly(BTreeMap::new());
            let proportional = by_power.iter().all(|(&power, p)| {
                let Some(c) = p.0.get(qm).map(|c| c / qc) else { return false };
                let same = p.0.len() == q.0.len() && q.0.iter().all(|(m, v)| p.0.get(m) == Some(&times(v, &c)));
                if same {
                    let mut mono = vec![0; width];
                    mono[k] = power;
                    a.0.insert(mono, c);
                }
                same
            });
            if proportional {
                return Some((a, q));
            }
        }
        None
    }

    /// A polynomial of degree one or more in one operand k (one that `allowed` lets) that
    /// divides every coefficient once `self` is grouped by its other operands, with the
    /// quotient: `u − t²u + 2(t³ − t)sz` is `(t² − 1)(−u + 2tsz)`. None where none does,
    /// or where `self` is a polynomial in k alone (whose factors are not common ones).
    pub(super) fn univariate_factor(&self, allowed: &dyn Fn(usize) -> bool) -> Option<(Poly, Poly)> {
        let width = self.0.keys().next()?.len();
        for k in (0..width).filter(|&k| allowed(k)) {
            let mut groups: BTreeMap<Monomial, Vec<BigRational>> = BTreeMap::new();
            for (m, c) in &self.0 {
                let mut rest = m.clone();
                rest[k] = 0;
                let coefs = groups.entry(rest).or_default();
                let e = m[k] as usize;
                if coefs.len() <= e {
                    coefs.resize(e + 1, BigRational::zero());
                }
                coefs[e] = c.clone();
            }
            if groups.len() < 2 {
                continue;
            }
            let mut common: Option<Vec<BigRational>> = None;
            for coefs in groups.values() {
                let coefs = trimmed(coefs.clone());
                common = Some(match common {
                    None => coefs,
                    Some(g) => gcd(g, coefs),
                });
            }
            let Some(common) = common.filter(|g| g.len() >= 2) else { continue };
            let mut factor = Poly(BTreeMap::new());
            for (e, c) in common.iter().enumerate().filter(|(_, c)| !c.is_zero()) {
                let mut m = vec![0; width];
                m[k] = e as u32;
                factor.0.insert(m, c.clone());
            }
            if let Some(quotient) = self.divide(&factor) {
                return Some((factor, quotient));
            }
        }
        None
    }

    /// The polynomial with operand `k` replaced by `q`.
    pub(super) fn substitute(&self, k: usize, q: &Poly) -> Option<Poly> {
        let mut out = Poly(BTreeMap::new());
        for (m, c) in &self.0 {
            let mut rest = m.clone();
            rest[k] = 0;
            let mut term = Poly([(rest, c.clone())].into_iter().collect());
            for _ in 0..m[k] {
                term = term.mul(q)?;
            }
            out.add_assign(&term);
            if out.0.len() > MAX_TERMS {
                return None;
            }
        }
        Some(out)
    }

    /// The coefficients of a sum of two or more operands, each to the first power, with
    /// no constant: `Xw − y`.
    pub(super) fn linear(&self) -> Option<Vec<(usize, BigRational)>> {
        let terms: Vec<(usize, BigRational)> = self
            .0
            .iter()
            .map(|(m, c)| {
                let k = m.iter().position(|&e| e == 1)?;
                (m.iter().sum::<u32>() == 1).then(|| (k, c.clone()))
            })
            .collect::<Option<_>>()?;
        (terms.len() >= 2).then_some(terms)
    }

    /// The polynomial whose square this is, if there is one: term by term from the
    /// leading one, as a square root is taken by hand.
    pub(super) fn sqrt(&self) -> Option<Poly> {
        let (lead, c) = self.leading()?;
        if lead.iter().any(|e| e % 2 == 1) || c.is_negative() {
            return None;
        }
        let root = |n: &num_bigint::BigInt| Some(n.sqrt()).filter(|r| r * r == *n);
        let first = BigRational::new(root(c.numer())?, root(c.denom())?);
        let mut out = Poly([(lead.iter().map(|e| e / 2).collect::<Monomial>(), first)].into_iter().collect());
        let two = BigRational::from_integer(2.into());
        for _ in 0..=self.0.len() {
            let rest = self.add(&out.mul(&out)?.scale(&-BigRational::one()));
            let Some((m, c)) = rest.leading() else { return Some(out) };
            let (lo, co) = out.leading()?;
            if m.iter().zip(lo).any(|(a, b)| a < b) {
                return None;
            }
            let term: Monomial = m.iter().zip(lo).map(|(a, b)| a - b).collect();
            out.add_term(&term, c / (co * &two));
        }
        None
    }

    pub(super) fn product(factors: &[Poly]) -> Option<Poly> {
        factors.iter().try_fold(Poly::constant(BigRational::one()), |acc, f| acc.mul(f))
    }
}

/// A polynomial in one operand as its coefficients by power, lowest first, without
/// zeros at the top.
fn trimmed(mut p: Vec<BigRational>) -> Vec<BigRational> {
    while p.last().is_some_and(Zero::is_zero) {
        p.pop();
    }
    p
}

/// `a` modulo `b` (b not zero), polynomials in one operand.
fn remainder(mut a: Vec<BigRational>, b: &[BigRational]) -> Vec<BigRational> {
    let Some(lead) = b.last() else { return a };
    while a.len() >= b.len() && !a.is_empty() {
        let q = a.last().expect("not empty") / lead;
        let shift = a.len() - b.len();
        for (i, c) in b.iter().enumerate() {
            a[shift + i] = &a[shift + i] - times(&q, c);
        }
        a = trimmed(a);
    }
    a
}

/// The monic greatest common divisor of two polynomials in one operand (Euclid's).
fn gcd(mut a: Vec<BigRational>, mut b: Vec<BigRational>) -> Vec<BigRational> {
    for _ in 0..MAX_STEPS {
        if b.is_empty() {
            break;
        }
        let r = remainder(a, &b);
        a = std::mem::replace(&mut b, r);
    }
    if let Some(lead) = a.last().cloned() {
        a.iter_mut().for_each(|c| *c = &*c / &lead);
    }
    a
}

impl Rational {
    pub(super) fn poly(p: Poly) -> Rational {
        Rational { num: p, den: vec![] }
    }

    pub(super) fn add(self, other: Rational) -> Option<Rational> {
        // The least common denominator as a multiset of factors.
        let mut lcd = self.den.clone();
        let mut missing_in_self = Vec::new();
        let mut left = self.den.clone();
        for f in &other.den {
            match left.iter().position(|g| g == f) {
                Some(k) => {
                    left.remove(k);
                }
                None => {
                    lcd.push(f.clone());
                    missing_in_self.push(f.clone());
                }
            }
        }
        let mut missing_in_other = other.den.clone();
        let mut extra = Vec::new();
        for f in &lcd {
            match missing_in_other.iter().position(|g| g == f) {
                Some(k) => {
                    missing_in_other.remove(k);
                }
                None => extra.push(f.clone()),
            }
        }
        let a = self.num.mul(&Poly::product(&missing_in_self)?)?;
        let b = other.num.mul(&Poly::product(&extra)?)?;
        Some(Rational { num: a.add(&b), den: lcd }.cancel())
    }

    pub(super) fn mul(self, other: Rational) -> Option<Rational> {
        let mut den = self.den;
        den.extend(other.den);
        Some(Rational { num: self.num.mul(&other.num)?, den }.cancel())
    }

    pub(super) fn div(self, other: Rational) -> Option<Rational> {
        if other.num.0.is_empty() {
            return None;
        }
        let num = self.num.mul(&Poly::product(&other.den)?)?;
        let mut den = self.den;
        den.push(other.num);
        Some(Rational { num, den }.cancel())
    }

    /// Divides the numerator and the monomial denominator factor `k` by their greatest
    /// common monomial (the least exponent of each operand over both).
    pub(super) fn cancel_monomial(&mut self, k: usize) {
        let f = &self.den[k];
        if f.0.len() != 1 {
            return;
        }
        let mut common: Monomial = f.0.keys().next().expect("one term").clone();
        for m in self.num.0.keys() {
            for (c, e) in common.iter_mut().zip(m) {
                *c = (*c).min(*e);
            }
        }
        if common.iter().all(|&e| e == 0) {
            return;
        }
        let lower = |m: &Monomial| m.iter().zip(&common).map(|(e, c)| e - c).collect::<Monomial>();
        self.num = Poly(self.num.0.iter().map(|(m, c)| (lower(m), c.clone())).collect());
        self.den[k] = Poly(self.den[k].0.iter().map(|(m, c)| (lower(m), c.clone())).collect());
    }

    /// Each denominator factor that `split` takes apart in place of its two parts, which
    /// may split again (at most [`MAX_TERMS`] factors).
    fn split_factors(&mut self, split: impl Fn(&Poly) -> Option<(Poly, Poly)>) {
        let mut k = 0;
        while k < self.den.len() && self.den.len() < MAX_TERMS {
            match split(&self.den[k]) {
                Some((a, b)) => {
                    self.den[k] = a;
                    self.den.insert(k + 1, b);
                }
                None => k += 1,
            }
        }
    }

    /// Drops every denominator factor that divides the numerator exactly, and
    /// denominators that are constants.
    pub(super) fn cancel(mut self) -> Rational {
        // A factor whose terms share a monomial goes in as that monomial and the rest
        // (`μ ⊙ μ + rμ` as μ and μ + r1), so that each can meet the numerator.
        self.split_factors(|f| f.monomial_content().map(|(content, rest)| (rest, content)));
        // A factor that splits into a polynomial in one operand and one free of it goes
        // in as both (`(ρ − 1)(1 − r)`, whose `ρ − 1` the numerator may share).
        self.split_factors(Poly::split);
        // A square factor goes in as its root twice, so that each can meet the numerator:
        // `(2c⁴ − 4c²r² − 6r⁴) ⊘ (c⁴ + 2c²r² + r⁴)` is `2(c² − 3r²) ⊘ (c² + r²)`.
        self.split_factors(|f| {
            f.sqrt().filter(|root| root.0.len() >= 2 && root.0.len() < f.0.len()).map(|root| (root.clone(), root))
        });
        let mut k = 0;
        while k < self.den.len() {
            let f = &self.den[k];
            let constant = f.0.len() == 1 && f.0.keys().next().is_some_and(|m| m.iter().all(|&e| e == 0));
            if constant {
                let c = f.0.values().next().cloned().unwrap_or_else(BigRational::one);
                self.num = self.num.scale(&c.recip());
                self.den.remove(k);
                continue;
            }
            if self.num.0.is_empty() {
                self.den.clear();
                break;
            }
            match self.num.divide(f) {
                Some(q) => {
                    self.num = q;
                    self.den.remove(k);
                }
                None => {
                    // A monomial denominator shares its common factor with the numerator:
                    // `x ⊙ w ⊘ (w ⊙ w)` is `x ⊘ w` (and one that cancels whole goes).
                    self.cancel_monomial(k);
                    let gone = self.den[k].0.len() == 1 && self.den[k].0.keys().all(|m| m.iter().all(|&e| e == 0));
                    if !gone {
                        k += 1;
                    }
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poly(terms: &[(&[u32], i64)]) -> Poly {
        let mut p = Poly(BTreeMap::new());
        for (m, c) in terms {
            let mut mono = vec![0; MAX_ATOMS];
            mono[..m.len()].copy_from_slice(m);
            p.add_term(&mono, BigRational::from_integer((*c).into()));
        }
        p
    }

    #[test]
    fn a_sum_s_shared_monomial_comes_out() {
        // μ² + rμ (operands μ, r) is μ(μ + r); μ + r shares none; nor does one term.
        let (content, rest) = poly(&[(&[2, 0], 1), (&[1, 1], 1)]).monomial_content().expect("shares μ");
        assert_eq!(content, poly(&[(&[1, 0], 1)]));
        assert_eq!(rest, poly(&[(&[1, 0], 1), (&[0, 1], 1)]));
        assert!(poly(&[(&[1, 0], 1), (&[0, 1], 1)]).monomial_content().is_none());
        assert!(poly(&[(&[2, 1], 3)]).monomial_content().is_none());
    }

    #[test]
    fn a_product_of_polynomials_in_separate_operands_splits() {
        // ρ − ρr + r − 1 (operands ρ, r) is (ρ − 1)(1 − r), in some order of the two.
        let p = poly(&[(&[1, 0], 1), (&[1, 1], -1), (&[0, 1], 1), (&[0, 0], -1)]);
        let (a, q) = p.split().expect("splits");
        assert_eq!(a.mul(&q).expect("small"), p);
        assert!(a.0.len() == 2 && q.0.len() == 2, "{a:?} {q:?}");
        // ρ² + r² does not.
        assert!(poly(&[(&[2, 0], 1), (&[0, 2], 1)]).split().is_none());
        // Nor does a polynomial in one operand.
        assert!(poly(&[(&[2, 0], 1), (&[0, 0], -1)]).split().is_none());
    }
}
