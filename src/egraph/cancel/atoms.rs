//! The operands of a region, identified by their printed form, with what is known of
//! the roots among them (`sqrt(E)`, whose square is E).

use super::poly::*;
use super::to_rational;
use crate::ir::expr::*;
use crate::ir::shape::Shape;
use crate::render::{Format, Printer};
use num_rational::BigRational;
use num_traits::One;

/// The operands of a region.
#[derive(Clone, Default)]
pub(super) struct Atoms {
    pub(super) keys: Vec<String>,
    pub(super) exprs: Vec<Expr>,
    /// For an operand `sqrt(E)` whose E is a polynomial in the other operands, or one
    /// over monomials (`1 + r^{⊙2}/d²`): E, so that its square reduces
    /// (`sqrt(E) ⊙ sqrt(E) = E`).
    pub(super) roots: Vec<Option<Rational>>,
    /// `|z|` read as `sign(z) ⊙ z` (true everywhere), so that `sign(z) ⊘ |z|` is
    /// `1 ⊘ z`; else an operand of its own, which it reads better as elsewhere.
    pub(super) abs_as_sign: bool,
}

impl Atoms {
    pub(super) fn index(&mut self, e: &Expr) -> Option<usize> {
        // Without the sizes of `1` and `I`, which print only where their scope does not fix them.
        let key = Printer::new(Format::Ascii).at(e, 0);
        if let Some(k) = self.keys.iter().position(|x| *x == key) {
            return Some(k);
        }
        if self.keys.len() >= MAX_ATOMS {
            return None;
        }
        self.keys.push(key);
        self.exprs.push(e.clone());
        self.roots.push(None);
        Some(self.keys.len() - 1)
    }

    /// `sqrt(arg)` as an operand whose square is `arg`'s rational function, when that is
    /// a polynomial over monomials.
    pub(super) fn root(&mut self, e: &Expr, arg: &Expr, shape: &Shape) -> Option<usize> {
        let before = self.keys.len();
        let inner =
            to_rational(arg, shape, self).filter(|r| r.den.iter().all(|f| f.0.len() == 1) && !r.num.0.is_empty());
        if inner.is_none() {
            self.keys.truncate(before);
            self.exprs.truncate(before);
            self.roots.truncate(before);
        }
        let k = self.index(e)?;
        if self.roots[k].is_none() {
            self.roots[k] = inner;
        }
        Some(k)
    }

    /// `r` with every square of a root replaced by what is under it, in the numerator
    /// and in each denominator factor, and cancelled again.
    pub(super) fn reduce(&self, r: Rational) -> Option<Rational> {
        if self.roots.iter().all(Option::is_none) {
            return Some(r);
        }
        let mut out = self.reduce_poly(r.num)?;
        for f in r.den {
            out = out.div(self.reduce_poly(f)?)?;
        }
        Some(out)
    }

    fn reduce_poly(&self, p: Poly) -> Option<Rational> {
        let mut r = Rational::poly(p);
        for _ in 0..MAX_STEPS {
            let found = r.num.0.iter().find_map(|(m, c)| {
                let k = (0..m.len()).find(|&k| m[k] >= 2 && self.roots.get(k).is_some_and(Option::is_some))?;
                Some((m.clone(), c.clone(), k))
            });
            let Some((m, c, k)) = found else { return Some(r) };
            let mut rest = m.clone();
            rest[k] -= 2;
            let root = self.roots[k].as_ref()?;
            r.num.0.remove(&m);
            let term = Rational { num: Poly([(rest, c)].into_iter().collect()), den: r.den.clone() };
            let term = term.mul(root.clone())?;
            r = r.add(term)?;
        }
        None
    }

    /// `r` with each denominator factor that is, up to a monomial, a power of the
    /// polynomial P of a root `s = sqrt(P/m)` over monomials written through `s ⊙ s ⊙ m`
    /// (P = s²m), and cancelled: `d² ⊘ (s ⊙ (d² + r²))` for `s = sqrt(1 + r²/d²)` is
    /// `1 ⊘ (s ⊙ s ⊙ s)`. (Over no monomial, a factor P is a power of the root as it
    /// stands: `root_power`.)
    pub(super) fn over_roots(&self, r: &Rational) -> Option<Rational> {
        let mut num = r.num.clone();
        let mut den = Vec::new();
        let mut changed = false;
        for f in &r.den {
            // A factor that is a power of P times a monomial: `s ⊙ (d² + r²)` holds
            // P = d² + r² once, `d⁸ + 3d⁶r² + 3d⁴r⁴ + d²r⁶` is d²P³.
            let found = self.roots.iter().enumerate().find_map(|(k, root)| {
                let root = root.as_ref().filter(|root| !root.den.is_empty())?;
                let (mut rest, mut times) = (f.clone(), 0);
                while times < MAX_POWER {
                    match rest.divide(&root.num) {
                        Some(q) => (rest, times) = (q, times + 1),
                        None => break,
                    }
                }
                let (m, c) = rest.0.iter().next().filter(|_| rest.0.len() == 1 && times > 0)?;
                Some((k, root, times, m.clone(), c.clone()))
            });
            match found {
                Some((k, root, times, m, c)) => {
                    num = num.scale(&c.recip());
                    den.push(Poly([(m, BigRational::one())].into_iter().collect()));
                    for _ in 0..times {
                        den.push(Poly::atom(k));
                        den.push(Poly::atom(k));
                        den.extend(root.den.iter().cloned());
                    }
                    changed = true;
                }
                None => den.push(f.clone()),
            }
        }
        changed.then(|| Rational { num, den }.cancel())
    }
}
