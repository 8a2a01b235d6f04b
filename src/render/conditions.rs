//! Conditions a result needs: where an expression divides, inverts or takes a logarithm,
//! it is only valid where that is defined. Each is stated with the answer, never assumed
//! silently (`∇|X| = |X|X⁻ᵀ` needs X invertible).

use crate::ir::expr::{Expr, Func, Kind};
use crate::render::{render, Format};
use indexmap::IndexSet;
use num_traits::Signed;

/// The conditions under which `e` is defined, in order of first appearance.
pub fn conditions(e: &Expr) -> Vec<String> {
    let mut out = IndexSet::new();
    collect(e, &mut out);
    out.into_iter().collect()
}

fn show(e: &Expr) -> String {
    render(e, Format::Unicode)
}

fn collect(e: &Expr, out: &mut IndexSet<String>) {
    match &e.kind {
        Kind::Inverse(x) if x.is_scalar() => {
            out.insert(format!("{} ≠ 0", show(x)));
        }
        Kind::Inverse(x) => {
            out.insert(format!("{} is invertible", show(x)));
        }
        Kind::Power(x, k) if k.is_negative() && !x.is_scalar() => {
            out.insert(format!("{} is invertible", show(x)));
        }
        Kind::Power(x, k) if k.is_negative() => {
            out.insert(format!("{} ≠ 0", show(x)));
        }
        Kind::HPower(x, k) if k.is_negative() => {
            out.insert(format!("{} has no zero entry", show(x)));
        }
        Kind::HDiv(_, b) => {
            out.insert(format!("{} has no zero entry", show(b)));
        }
        Kind::DivScalar(_, s) if !matches!(s.kind, Kind::Const(_)) => {
            out.insert(format!("{} ≠ 0", show(s)));
        }
        Kind::Func { func: Func::Ln, arg, .. } => {
            let what = if arg.is_scalar() { "> 0" } else { "has positive entries" };
            out.insert(format!("{} {what}", show(arg)));
        }
        Kind::Func { func: Func::Sqrt, derivative, arg } => {
            let what = match (arg.is_scalar(), *derivative > 0) {
                (true, true) => "> 0",
                (true, false) => "≥ 0",
                (false, true) => "has positive entries",
                (false, false) => "has no negative entry",
            };
            out.insert(format!("{} {what}", show(arg)));
        }
        Kind::Norm(x) => {
            // Its derivative divides by the norm.
            out.insert(format!("{} ≠ 0", show(e)));
            collect(x, out);
            return;
        }
        _ => {}
    }
    for c in e.children() {
        collect(c, out);
    }
}
