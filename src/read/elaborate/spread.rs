//! Scalars and numbers spread over tensors, and NumPy's 1-D `@`: where an operand's shape
//! is read from the other's, as MATLAB's and NumPy's element-wise operators read it, each
//! with a note that says so.

use super::*;

impl Elab {
    /// The literal `1` added to a tensor of shape `like` is a ones tensor of that shape;
    /// so are `c 1` (c times it, as `x + 2 1` prints) and `0` (the zero tensor, as a zero
    /// gradient prints).
    pub(super) fn broadcast_one(&mut self, node: &Node, e: Expr, like: &[Dim], role: Role) -> Expr {
        match scaled_one(node) {
            Some(c) if e.is_scalar() && !like.is_empty() => {
                // A bare number other than 0 and 1 says how it was read: `A + 2` may
                // have meant 2I.
                if matches!(node.kind, NodeKind::Number { .. }) && !c.is_zero() && !c.is_one() {
                    let what = if like.len() == 2 && role == Role::Added {
                        format!("; for a multiple of the identity write `{c} I`")
                    } else {
                        String::new()
                    };
                    let does = match role {
                        Role::Added => "is added to every entry",
                        Role::Factor => "multiplies every entry",
                        Role::Dividend => "is divided by every entry",
                        Role::Divisor => "divides every entry",
                        Role::Paired => "stands for a tensor of that number",
                    };
                    self.notes.push(format!("`{c}` {does} (read as `{c} 1`){what}"));
                }
                let ones = Expr::new(Kind::Ones, like.to_vec());
                if c.is_zero() {
                    Expr::new(Kind::Scale(c, boxed(ones)), like.to_vec())
                } else {
                    scale(c, ones)
                }
            }
            _ => e,
        }
    }

    /// `u @ B` with u a vector, read as NumPy reads a 1-D array on the left of `@`: uᵀB,
    /// with a note. None where u is not a vector or uᵀB does not multiply either.
    pub(super) fn numpy_row_product(&mut self, lhs: &Node, rhs: &Node) -> Result<Option<Expr>> {
        let (notes, mismatch) = (self.notes.len(), self.product_mismatch);
        let a = self.expr(lhs)?;
        if a.order() != 1 {
            self.notes.truncate(notes);
            return Ok(None);
        }
        let b = self.expr(rhs)?;
        let row = crate::ir::build::transpose(a);
        let product = self.product(row, b, lhs.span, rhs.span).ok();
        // What elaborating the operands again noted, it noted the first time.
        self.notes.truncate(notes);
        self.product_mismatch = mismatch;
        if product.is_some() {
            let l = self.source_of(lhs.span);
            self.notes.push(format!(
                "`{l}`, a vector on the left of `@`, is read as a row (its transpose), as NumPy reads a 1-D array"
            ));
        }
        Ok(product)
    }

    pub(super) fn source_of(&self, span: Span) -> String {
        self.source.get(span.start..span.end).unwrap_or("").trim().to_string()
    }

    /// `a ⊙ b` or `a ⊘ b` where exactly one of a and b is a scalar: a scaling, a
    /// quotient by the scalar, or the scalar's ones tensor divided entry by entry; with a
    /// note that says so.
    pub(super) fn spread_scalar(&mut self, a: Expr, b: Expr, hadamard: bool, lhs: &Node, rhs: &Node) -> Expr {
        let (l, r) = (self.source_of(lhs.span), self.source_of(rhs.span));
        let scalar = if a.is_scalar() { l.clone() } else { r.clone() };
        let (e, reads) = if hadamard {
            let shape = if a.is_scalar() { b.shape.clone() } else { a.shape.clone() };
            (Expr::new(Kind::Product(boxed(a), boxed(b)), shape), "multiplies every entry")
        } else if b.is_scalar() {
            let shape = a.shape.clone();
            (Expr::new(Kind::DivScalar(boxed(a), boxed(b)), shape), "divides every entry")
        } else {
            let shape = b.shape.clone();
            let ones = Expr::new(Kind::Ones, shape.clone());
            let spread = Expr::new(Kind::Product(boxed(a), boxed(ones)), shape.clone());
            (Expr::new(Kind::HDiv(boxed(spread), boxed(b)), shape), "is divided by every entry")
        };
        self.notes.push(format!("`{scalar}`, a scalar, {reads} in `{l} {} {r}`", if hadamard { ".*" } else { "./" }));
        e
    }
}

/// What to write instead of NumPy's broadcasting of a vector across a matrix, for a
/// shape error between operands of these orders.
pub(super) fn broadcast_note(a: usize, b: usize) -> &'static str {
    match (a, b) {
        (2, 1) | (1, 2) => {
            "; nothing is broadcast: a vector v spread across the columns (one entry per row) is `v 1ᵀ`, \
             across the rows `1 vᵀ`"
        }
        _ => "",
    }
}

/// What a number spread over a tensor does there, as its note says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// A term of a sum.
    Added,
    /// An operand of `⊙`.
    Factor,
    /// The left operand of `⊘`.
    Dividend,
    /// The right operand of `⊘`.
    Divisor,
    /// An operand of a contraction (`1 ·_1 X`).
    Paired,
}
