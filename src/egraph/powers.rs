//! Appliers that merge powers of one base: `XʲXᵏ = Xʲ⁺ᵏ` in products, and
//! `A^{⊙j} ⊙ A^{⊙k} = A^{⊙(j+k)}` in Hadamard products.

#[allow(unused_imports)]
use super::*;

/// `product-power`: `Xʲ Xᵏ = Xʲ⁺ᵏ` for integer powers of one square matrix (or scalar),
/// `X` counting as `X¹` and `X⁻¹` as `X⁻¹`; a zero exponent is left alone.
pub struct PowerMerge;

pub(super) fn powers(egraph: &EGraph, id: Id) -> Vec<(Id, BigRational)> {
    let mut out = vec![(egraph.find(id), BigRational::one())];
    // A constant's powers are not merged (`PowerMerge` passes over a constant base), and
    // a class equal to a number (xᵀx where `xᵀx = 1`) gathers powers by the dozen.
    if egraph[id].data.constant.is_some() {
        return out;
    }
    for n in &egraph[id].nodes {
        match n {
            Node::Power([x, k]) => {
                if let Some(k) = &egraph[*k].data.constant {
                    out.push((egraph.find(*x), k.clone()));
                    // A whole power of a power multiplies the exponents: `(ρ⁷)⁻¹ = ρ⁻⁷`.
                    // (Not a fractional one: `(ρ²)^(1/2)` is |ρ|.) Not of a constant, nor
                    // of the class itself, and only for small exponents: with `xᵀx = 1`,
                    // xxᵀ is idempotent and its class holds its every power, and pairing
                    // them, with exponents that grew each iteration, made one apply of
                    // the Rayleigh quotient's Hessian 26 s (survey 11).
                    let bound = BigRational::from_integer(crate::limits::MAX_POWER.into());
                    let small = |r: &BigRational| r.abs() <= bound && *r.denom() <= 12.into();
                    let own = egraph.find(*x) == egraph.find(id);
                    if k.is_integer() && small(k) && egraph[*x].data.constant.is_none() && !own {
                        for m in &egraph[*x].nodes {
                            match m {
                                Node::Power([y, j]) => {
                                    if let Some(j) = egraph[*j].data.constant.as_ref().filter(|j| small(j)) {
                                        let jk = j * k;
                                        if jk.abs() <= bound {
                                            out.push((egraph.find(*y), jk));
                                        }
                                    }
                                }
                                // And of an inverse: `(X⁻¹)³ = X⁻³`.
                                Node::Inverse(y) => out.push((egraph.find(*y), -k.clone())),
                                _ => {}
                            }
                        }
                    }
                }
            }
            Node::Inverse(x) => {
                out.push((egraph.find(*x), -BigRational::one()));
                for m in &egraph[*x].nodes {
                    if let Node::Power([y, k]) = m {
                        if let Some(k) = &egraph[*k].data.constant {
                            out.push((egraph.find(*y), -k.clone()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

impl Applier<Node, Tables> for PowerMerge {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let from = matched(egraph, eclass, ast, subst);
        let (Some(a), Some(b)) = (bound(subst, "?a"), bound(subst, "?b")) else { return vec![] };
        // Factors with no power or inverse among their terms merge only when they are one
        // class (most products: their powers were 3–4% of the Rayleigh quotient's HVP).
        let powered = |x: Id| egraph[x].data.ops & (op_bit(&Node::Power([x, x])) | op_bit(&Node::Inverse(x))) != 0;
        if egraph.find(a) != egraph.find(b) && !powered(a) && !powered(b) {
            return vec![];
        }
        let mut changed = vec![];
        for (xa, j) in powers(egraph, a) {
            for (xb, k) in powers(egraph, b) {
                let sum = &j + &k;
                let shape = &egraph[xa].data.shape;
                let square = shape.is_empty() || (shape.len() == 2 && shape[0] == shape[1]);
                // Powers of I are I (identity rules); exponents stay bounded so that a
                // class that holds its own product (b = Ib) cannot breed powers forever.
                let bounded = sum.abs() <= BigRational::from_integer(crate::limits::MAX_POWER.into());
                // Scalars take any rational power; matrices integer ones.
                let integral = sum.is_integer() || (shape.is_empty() && *sum.denom() <= 12.into());
                // Constants fold by themselves; merging their powers would breed huge numbers.
                let constant = egraph[xa].data.constant.is_some();
                if xa != xb || !square || sum.is_zero() || !integral || !bounded || egraph[xa].data.identity || constant
                {
                    continue;
                }
                let p = if sum.is_one() {
                    xa
                } else if sum == -BigRational::one() {
                    // The way the input language writes `X⁻¹`, so that rules about inverses match.
                    egraph.add(Node::Inverse(xa))
                } else {
                    let n = egraph.add(Node::Num(sum.clone()));
                    egraph.add(Node::Power([xa, n]))
                };
                changed.extend(union_by(egraph, from, p, rule));
            }
        }
        changed
    }
}

/// `hadamard-power`: `A^{⊙j} ⊙ A^{⊙k} = A^{⊙(j+k)}` for integer powers of one tensor,
/// `A` counting as `A^{⊙1}` and `A ⊙ A` as `A^{⊙2}`: `Xw ⊙ (Xw)^{⊙2}` is `(Xw)^{⊙3}`,
/// `x ⊙ x ⊙ x` is `x^{⊙3}`. A square of two equal factors is left to the rules
/// (`hadamard-square`, which keeps a name's `h ⊙ h`), a zero sum alone (`A^{⊙-1} ⊙ A`
/// is 1 only where A has no zero entry), and fractional powers too (`√a ⊙ √a` is `a`
/// only where a ≥ 0).
pub struct HadamardPowerMerge;

/// The integer Hadamard powers a class is: itself to the 1st, `B^{⊙k}`, `B ⊙ B`.
fn hadamard_powers(egraph: &EGraph, id: Id) -> Vec<(Id, BigRational)> {
    let mut out = vec![(egraph.find(id), BigRational::one())];
    if egraph[id].data.constant.is_some() {
        return out;
    }
    let bound = BigRational::from_integer(crate::limits::MAX_POWER.into());
    for n in &egraph[id].nodes {
        match n {
            Node::HPower([x, k]) => {
                if let Some(k) = egraph[*k].data.constant.as_ref().filter(|k| k.is_integer() && k.abs() <= bound) {
                    out.push((egraph.find(*x), k.clone()));
                }
            }
            Node::Hadamard([x, y]) if egraph.find(*x) == egraph.find(*y) => {
                out.push((egraph.find(*x), BigRational::from_integer(2.into())));
            }
            _ => {}
        }
    }
    out
}

impl Applier<Node, Tables> for HadamardPowerMerge {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let (Some(a), Some(b)) = (bound(subst, "?a"), bound(subst, "?b")) else { return vec![] };
        // Only where a factor is a power or a square of its own (most Hadamard products
        // have none).
        let powered =
            |x: Id| egraph[x].data.ops & (op_bit(&Node::HPower([x, x])) | op_bit(&Node::Hadamard([x, x]))) != 0;
        if egraph.find(a) == egraph.find(b) || !(powered(a) || powered(b)) {
            return vec![];
        }
        let of_b = hadamard_powers(egraph, b);
        let pairs: Vec<(Id, BigRational)> = hadamard_powers(egraph, a)
            .into_iter()
            .flat_map(|(xa, j)| of_b.iter().filter(move |(xb, _)| *xb == xa).map(move |(_, k)| (xa, &j + k)))
            .collect();
        let bounded = |s: &BigRational| s.abs() <= BigRational::from_integer(crate::limits::MAX_POWER.into());
        let pairs: Vec<(Id, BigRational)> = pairs
            .into_iter()
            .filter(|(x, sum)| !sum.is_zero() && bounded(sum) && egraph[*x].data.constant.is_none())
            .collect();
        if pairs.is_empty() {
            return vec![];
        }
        let from = matched(egraph, eclass, ast, subst);
        let mut changed = vec![];
        for (x, sum) in pairs {
            let p = if sum.is_one() {
                x
            } else {
                let n = egraph.add(Node::Num(sum));
                egraph.add(Node::HPower([x, n]))
            };
            changed.extend(union_by(egraph, from, p, rule));
        }
        changed
    }
}
