//! A region's rational function written by its tensor operands: the terms of the
//! numerator gathered by the tensors they multiply, each scaled by its own polynomial in
//! the scalars, and the scalar denominator divided into each coefficient as far as it
//! goes. `(kε y − ε1 − ky + kp)/(Nk)` is `((ε − 1)y + p − ε1/k)/N`: the form a person
//! writes for a linear combination with scalar coefficients (label smoothing's
//! `P − (1 − ε)Y − (ε/k)11ᵀ`), which one fraction over the whole denominator hides.

use super::poly::{Monomial, Poly, Rational};
use super::{from_poly, Atoms};
use crate::ir::build::{product, scale};
use crate::ir::expr::{Expr, Kind};
use crate::ir::shape::Shape;
use num_rational::BigRational;
use num_traits::{One, Signed};
use std::collections::BTreeMap;

/// As [`super::cancelled`], also trying each region written by its tensor operands
/// with coefficients in the scalars.
fn cancelled_by_tensors(e: &Expr) -> Option<Expr> {
    if !super::worth_trying(e) {
        return None;
    }
    ASKED.with(|a| a.set(true));
    let out = super::rewrite_uncached(e);
    ASKED.with(|a| a.set(false));
    (out != *e).then_some(out)
}

/// `best`, or `r` by its tensor operands where that is fewer operations and asked for.
/// (Only where asked: in the starting forms it also gathers by `yᵀ1` what a fact makes
/// 1, and the run then ends farther from the answer.)
pub(super) fn or_by_tensor_terms(r: &Rational, shape: &Shape, atoms: &Atoms, best: Expr) -> Expr {
    if !ASKED.with(|a| a.get()) {
        return best;
    }
    match by_tensor_terms(r, shape, atoms) {
        Some(grouped) if crate::egraph::operations(&grouped) < crate::egraph::operations(&best) => grouped,
        _ => best,
    }
}

thread_local! {
    /// Whether [`cancelled_by_tensors`] is cancelling (only it tries this form).
    static ASKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `r` by its tensor operands (see the module), where its denominator is a monomial in
/// scalars and some tensor term has a coefficient of two or more terms; else None.
fn by_tensor_terms(r: &Rational, shape: &Shape, atoms: &Atoms) -> Option<Expr> {
    if shape.is_empty() {
        return None;
    }
    let scalar = |k: usize| atoms.exprs.get(k).is_some_and(Expr::is_scalar);
    // The denominator: one monomial of scalars, with its number.
    let mut den: Option<Monomial> = None;
    let mut number = BigRational::one();
    for f in &r.den {
        let [(m, c)] = f.0.iter().collect::<Vec<_>>()[..] else { return None };
        if m.iter().enumerate().any(|(k, &e)| e > 0 && !scalar(k)) {
            return None;
        }
        number *= c;
        den = Some(match den {
            None => m.clone(),
            Some(d) => d.iter().zip(m).map(|(a, b)| a + b).collect(),
        });
    }
    let den = den.unwrap_or_else(|| vec![0; r.num.0.keys().next().map_or(0, Vec::len)]);
    // The numerator's terms by their tensor part.
    let mut groups: BTreeMap<Monomial, Poly> = BTreeMap::new();
    for (m, c) in &r.num.0 {
        let tensor: Monomial = m.iter().enumerate().map(|(k, &e)| if scalar(k) { 0 } else { e }).collect();
        let scalars: Monomial = m.iter().enumerate().map(|(k, &e)| if scalar(k) { e } else { 0 }).collect();
        groups.entry(tensor).or_insert_with(|| Poly(BTreeMap::new())).0.insert(scalars, c.clone());
    }
    if groups.len() < 2 || groups.values().all(|p| p.0.len() < 2) {
        return None;
    }
    // Each coefficient over what is left of the denominator once their common scalars
    // cancel; what all of those still share divides the whole sum.
    let lowest = |a: &Monomial, b: &Monomial| -> Monomial { a.iter().zip(b).map(|(x, y)| *x.min(y)).collect() };
    let minus = |a: &Monomial, b: &Monomial| -> Monomial { a.iter().zip(b).map(|(x, y)| x - y).collect() };
    let mut parts: Vec<(Monomial, Poly, Monomial)> = Vec::new();
    for (tensor, coefficient) in groups {
        let common = coefficient.0.keys().fold(den.clone(), |acc, m| lowest(&acc, m));
        let reduced = Poly(coefficient.0.iter().map(|(m, c)| (minus(m, &common), c.clone())).collect());
        parts.push((tensor, reduced, minus(&den, &common)));
    }
    let shared = parts.iter().fold(den.clone(), |acc, (_, _, d)| lowest(&acc, d));
    let monomial = |m: &Monomial, shape: &Shape| {
        let one = Poly([(m.clone(), BigRational::one())].into_iter().collect());
        from_poly(&one, shape, atoms)
    };
    let mut terms = Vec::new();
    for (tensor, coefficient, own) in parts.iter().rev() {
        let own = minus(own, &shared);
        let term = match coefficient.0.len() {
            // One scalar monomial: written with the tensor as one product (`−ε11ᵀ`).
            1 => {
                let (m, c) = coefficient.0.iter().next().expect("one term");
                let whole: Monomial = m.iter().zip(tensor).map(|(a, b)| a + b).collect();
                from_poly(&Poly([(whole, c.clone())].into_iter().collect()), shape, atoms)
            }
            _ => {
                let c = from_poly(coefficient, &vec![], atoms);
                crate::ir::build::product(c, monomial(tensor, shape))
            }
        };
        terms.push(match own.iter().any(|&e| e > 0) {
            true => divided(term, monomial(&own, &vec![])),
            false => term,
        });
    }
    // A sum opens with a positive term where it can.
    if let Some(k) = terms.iter().position(|t| !matches!(&t.kind, Kind::Scale(c, _) if c.is_negative())) {
        let t = terms.remove(k);
        terms.insert(0, t);
    }
    let mut out = Expr::new(Kind::Add(terms), shape.clone());
    if shared.iter().any(|&e| e > 0) {
        out = divided(out, monomial(&shared, &vec![]));
    }
    Some(crate::ir::build::scale(BigRational::one() / number, out))
}

/// `e / d` for a scalar d; a negated e keeps its sign outside (`−(x/d)`).
fn divided(e: Expr, d: Expr) -> Expr {
    let shape = e.shape.clone();
    match e.kind {
        Kind::Scale(c, x) if c.is_negative() => {
            crate::ir::build::scale(c, Expr::new(Kind::DivScalar(x, Box::new(d)), shape))
        }
        kind => Expr::new(Kind::DivScalar(Box::new(Expr { kind, shape: shape.clone() }), Box::new(d)), shape),
    }
}

/// `e` with a matrix factor that every term of a sum starts (or ends) with taken out
/// of it, where what that leaves inside cancels (`crate::egraph::cancel`):
/// `(ε − 1)Xᵀ(Y − P)/N + (εXᵀ/(Nk))(kP − 11ᵀ)` is `Xᵀ(P + (ε − 1)Y − ε11ᵀ/k)/N`. The
/// rules take such a factor out, but the sum left has like terms under scalar
/// coefficients (`(ε − 1)/N` and `ε/N` of P), which only the cancelling meets. None
/// where no sum has such a factor or nothing cancels.
pub fn product_factored(e: &Expr) -> Option<Expr> {
    /// A term as its number, scalar factors, scalar divisors and matrix chain.
    #[derive(Default)]
    struct Term {
        number: Option<BigRational>,
        scalars: Vec<Expr>,
        divisors: Vec<Expr>,
        chain: Vec<Expr>,
    }
    fn split(t: &Expr, out: &mut Term) {
        match &t.kind {
            Kind::Scale(c, x) => {
                out.number = Some(out.number.take().unwrap_or_else(BigRational::one) * c);
                split(x, out);
            }
            Kind::Product(a, b) if a.is_scalar() && !b.is_scalar() => {
                out.scalars.push((**a).clone());
                split(b, out);
            }
            Kind::Product(a, b) if b.is_scalar() && !a.is_scalar() => {
                split(a, out);
                out.scalars.push((**b).clone());
            }
            Kind::Product(a, b) if !a.is_scalar() && !b.is_scalar() => {
                split(a, out);
                split(b, out);
            }
            Kind::DivScalar(a, d) if !a.is_scalar() => {
                split(a, out);
                out.divisors.push((**d).clone());
            }
            _ => out.chain.push(t.clone()),
        }
    }
    /// `t` as the transpose of a term: `Aᵀ`, `cAᵀ`, `sAᵀ` or `Aᵀ/s` for a number c or a
    /// scalar s gives A with the same scaling.
    fn untransposed(t: &Expr) -> Option<Expr> {
        let inner = |x: &Expr| match &x.kind {
            Kind::Transpose(a) => Some((**a).clone()),
            _ => None,
        };
        match &t.kind {
            Kind::Transpose(a) => Some((**a).clone()),
            Kind::Scale(c, x) => inner(x).map(|a| scale(c.clone(), a)),
            Kind::Product(s, x) if s.is_scalar() && !x.is_scalar() => inner(x).map(|a| product((**s).clone(), a)),
            Kind::DivScalar(x, s) => inner(x).map(|a| {
                let shape = a.shape.clone();
                Expr::new(Kind::DivScalar(Box::new(a), s.clone()), shape)
            }),
            _ => None,
        }
    }
    /// The term again from its parts, the chain's end `from..to` only.
    fn joined(t: &Term, chain: &[Expr]) -> Expr {
        let mut out = chain.iter().cloned().reduce(product).expect("a factor left");
        for s in &t.scalars {
            out = product(s.clone(), out);
        }
        for d in &t.divisors {
            let shape = out.shape.clone();
            out = Expr::new(Kind::DivScalar(Box::new(out), Box::new(d.clone())), shape);
        }
        match &t.number {
            Some(c) => scale(c.clone(), out),
            None => out,
        }
    }
    fn go(e: &Expr, changed: &mut bool) -> Expr {
        let mut out = e.clone();
        for c in out.children_mut() {
            *c = go(c, changed);
        }
        let Kind::Add(ts) = &out.kind else { return out };
        if out.is_scalar() || ts.len() < 2 {
            return out;
        }
        // Terms that are all transposes (scaled): the transpose of their sum, where that
        // sum cancels (`(aᵀ + r²bᵀ)1` with b = 1 ⊘ r(μ + r1) and a's own 1 ⊘ (μ + r1)).
        if let Some(inners) = ts.iter().map(untransposed).collect::<Option<Vec<Expr>>>() {
            // One sum of all their terms, so that its quotients meet.
            let inners: Vec<Expr> = inners
                .into_iter()
                .flat_map(|t| match t.kind {
                    Kind::Add(parts) => parts,
                    _ => vec![t],
                })
                .collect();
            let shape = inners[0].shape.clone();
            if inners.iter().all(|t| t.shape == shape) {
                if let Some(inside) = cancelled_by_tensors(&Expr::new(Kind::Add(inners), shape)) {
                    *changed = true;
                    return crate::ir::build::transpose(inside);
                }
            }
        }
        let terms: Vec<Term> = ts
            .iter()
            .map(|t| {
                let mut parts = Term::default();
                split(t, &mut parts);
                parts
            })
            .collect();
        if terms.iter().any(|t| t.chain.len() < 2) {
            return out;
        }
        for first in [true, false] {
            let end = |t: &Term| if first { t.chain[0].clone() } else { t.chain[t.chain.len() - 1].clone() };
            let common = end(&terms[0]);
            if !terms.iter().all(|t| end(t) == common) {
                continue;
            }
            let rests: Vec<Expr> = terms
                .iter()
                .map(|t| {
                    let n = t.chain.len();
                    joined(t, if first { &t.chain[1..] } else { &t.chain[..n - 1] })
                })
                .collect();
            if rests.iter().any(|r| r.shape != rests[0].shape) {
                continue;
            }
            let shape = rests[0].shape.clone();
            let sum = Expr::new(Kind::Add(rests), shape);
            let Some(inside) = cancelled_by_tensors(&sum) else { continue };
            *changed = true;
            return if first { product(common, inside) } else { product(inside, common) };
        }
        out
    }
    let mut changed = false;
    let out = go(e, &mut changed);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text`'s expression, it with its common factor out, and whether they are equal at
    /// a random exact point.
    fn equal_values(text: &str) -> (Expr, Expr, bool) {
        crate::egraph::monomial::tests::equal_values(text, &product_factored)
    }

    #[test]
    fn a_matrix_factor_all_terms_share_comes_out_where_the_rest_cancels() {
        for (text, want) in [
            (
                "X: matrix(N, d); Y, P: matrix(N, k); e, k: scalar; \
                 (e - 1) X^T (Y - P)/N + (e X^T/(N k)) (k P - 1_N 1_k^T)",
                "Xᵀ(((e − 1)Y + P − e 11ᵀ/k)/N)",
            ),
            (
                "A: matrix(k, m); y, p: vector(k); e: scalar; (e - 1)(y - p)^T A / N + e (k p - 1)^T A / (N k)",
                "(((e − 1)(y − p)ᵀ + e(kp − 1)ᵀ/k)/N)A",
            ),
        ] {
            let (e, g, same) = equal_values(text);
            assert!(same, "{text}: {e:?} → {g:?}");
            let printed = crate::render::render(&crate::egraph::left_associated(g), crate::render::Format::Unicode);
            assert_eq!(printed, want, "{text}");
        }
        // Transposes all terms are: one transposed sum, where it cancels.
        let (e, g, same) = equal_values("a, m: vector(n); r: scalar; (a ./ (m + r 1))^T + r^2 (1 ./ (r (m + r 1)))^T");
        assert!(same, "{e:?} → {g:?}");
        let printed = crate::render::render(&g, crate::render::Format::Unicode);
        assert!(printed.ends_with(")ᵀ") && printed.matches('ᵀ').count() == 1, "{printed}");
        // No factor all terms share; or one, with nothing to cancel once it is out.
        for text in ["A, B: matrix(n, n); x: vector(n); A x + B x", "A: matrix(n, n); x, y: vector(n); A x + A y"] {
            let model = crate::read(text).expect("reads");
            assert_eq!(product_factored(model.exprs.last().expect("an expression")), None, "{text}");
        }
    }
}
