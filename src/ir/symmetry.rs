//! Which expressions are symmetric matrices by their form alone: what a definition such
//! as `Σ = WWᵀ + diag(ψ)` or `K = α exp(−D/ℓ²) + sI` (D symmetric) is, so that the name
//! it defines can be simplified as one declared symmetric.

use crate::ir::expr::{Expr, Kind};

/// True when `e` is a symmetric matrix (or a scalar) for every value of its names,
/// given which names are known to be symmetric. False means "not shown", never
/// "asymmetric".
pub fn is_symmetric(e: &Expr, known: &dyn Fn(&str) -> bool) -> bool {
    if e.is_scalar() {
        return !matches!(e.kind, Kind::Network(_) | Kind::Gen { .. } | Kind::Permute(..));
    }
    if e.order() != 2 || e.shape[0] != e.shape[1] {
        return false;
    }
    let sym = |x: &Expr| is_symmetric(x, known);
    match &e.kind {
        Kind::Var(n) => known(n),
        // A square ones matrix (`ε1` added to a symmetric Θ) is symmetric.
        Kind::Identity | Kind::Ones => true,
        // Term by term, or in pairs of a term and its transpose: `v1ᵀ + 1vᵀ − 2XXᵀ`, the
        // squared distances of an RBF kernel.
        Kind::Add(terms) => {
            let mut paired = vec![false; terms.len()];
            (0..terms.len()).all(|i| {
                if paired[i] || sym(&terms[i]) {
                    return true;
                }
                let partner = (i + 1..terms.len()).find(|&j| !paired[j] && transposed(&terms[i], &terms[j], known));
                partner.map(|j| paired[j] = true).is_some()
            })
        }
        Kind::Scale(_, x) | Kind::Transpose(x) | Kind::Inverse(x) | Kind::Power(x, _) | Kind::HPower(x, _) => sym(x),
        Kind::DivScalar(x, _) => sym(x),
        Kind::Hadamard(a, b) | Kind::HDiv(a, b) => sym(a) && sym(b),
        Kind::Func { arg, .. } => sym(arg),
        Kind::Diag(v) => v.order() == 1,
        Kind::Product(..) => {
            let mut chain = Vec::new();
            factors(e, &mut chain);
            // Scalars commute out; what is left must read the same transposed and
            // reversed: `AAᵀ`, `XᵀSX` with S symmetric.
            let chain: Vec<&Expr> = chain.into_iter().filter(|f| !f.is_scalar()).collect();
            let k = chain.len();
            // (A symmetric factor is its own transpose: `S⁻¹vvᵀS⁻¹`.)
            let mirrored = |a: &Expr, b: &Expr| transposes(a, b) || (a == b && sym(a));
            (0..k / 2).all(|i| mirrored(chain[i], chain[k - 1 - i])) && (k % 2 == 0 || sym(chain[k / 2]))
        }
        _ => false,
    }
}

/// `e` with the transpose of every symmetric part dropped (`Σ⁻ᵀ` is `Σ⁻¹` for a symmetric
/// Σ): the same value, written as a reader would.
pub fn without_symmetric_transposes(e: &Expr, known: &dyn Fn(&str) -> bool) -> Expr {
    if let Kind::Transpose(x) = &e.kind {
        if is_symmetric(x, known) {
            return without_symmetric_transposes(x, known);
        }
    }
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = without_symmetric_transposes(c, known);
    }
    out
}

/// The factors of a product chain, left to right.
pub fn factors<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match &e.kind {
        Kind::Product(a, b) => {
            factors(a, out);
            factors(b, out);
        }
        _ => out.push(e),
    }
}

/// `b` equals `aᵀ` as written: one is the other transposed, or they are products whose
/// factors mirror each other (`v1ᵀ` and `1vᵀ`), or multiples of such by one number.
fn transposed(a: &Expr, b: &Expr, known: &dyn Fn(&str) -> bool) -> bool {
    if transposes(a, b) {
        return true;
    }
    match (&a.kind, &b.kind) {
        (Kind::Scale(c, x), Kind::Scale(d, y)) => c == d && transposed(x, y, known),
        (Kind::Product(..), Kind::Product(..)) => {
            let (mut fa, mut fb) = (Vec::new(), Vec::new());
            factors(a, &mut fa);
            factors(b, &mut fb);
            let mirrored = |x: &Expr, y: &Expr| {
                x.is_scalar() && x == y || transposed(x, y, known) || x == y && is_symmetric(x, known)
            };
            fa.len() == fb.len() && fa.iter().zip(fb.iter().rev()).all(|(x, y)| mirrored(x, y))
        }
        _ => false,
    }
}

/// `b` is `aᵀ` (or `a` is `bᵀ`).
fn transposes(a: &Expr, b: &Expr) -> bool {
    matches!(&b.kind, Kind::Transpose(x) if **x == *a) || matches!(&a.kind, Kind::Transpose(x) if **x == *b)
}
