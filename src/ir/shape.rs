//! Shapes: lists of symbolic dimensions, and the unifier that makes them agree.
//!
//! A dimension is a size symbol (`n`), an integer, `ι` (the size-one dim of a row
//! vector), or an anonymous size (`Var`) that nothing has fixed yet. During elaboration
//! every dim is a variable of a union-find [`Unifier`]; at the end they are resolved.

use crate::error::{Error, ErrorCode, Result, Span};
use std::fmt;

/// One dimension of a shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// A size symbol such as `n`.
    Sym(String),
    /// A fixed size.
    Int(u64),
    /// `ι`: size one, the extra dim of a row vector `uᵀ = ιu`.
    Iota,
    /// A size nothing has fixed, numbered in order of appearance.
    Var(u32),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Sym(s) => write!(f, "{s}"),
            Dim::Int(n) => write!(f, "{n}"),
            Dim::Iota => write!(f, "ι"),
            Dim::Var(k) => write!(f, "?{k}"),
        }
    }
}

/// The dims of a tensor, in order; `[]` is a scalar.
pub type Shape = Vec<Dim>;

/// Writes a shape as `[n, m]`.
pub fn show_shape(shape: &[Dim]) -> String {
    let dims: Vec<String> = shape.iter().map(Dim::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// Union-find over dimension variables, each class optionally bound to a fixed dim.
#[derive(Clone, Debug, Default)]
pub struct Unifier {
    parent: Vec<u32>,
    bound: Vec<Option<Dim>>,
}

impl Unifier {
    /// A fresh, unbound variable.
    pub fn fresh(&mut self) -> Dim {
        let id = self.parent.len() as u32;
        self.parent.push(id);
        self.bound.push(None);
        Dim::Var(id)
    }

    fn find(&mut self, mut v: u32) -> u32 {
        while self.parent[v as usize] != v {
            let up = self.parent[self.parent[v as usize] as usize];
            self.parent[v as usize] = up;
            v = up;
        }
        v
    }

    /// The dim a variable stands for now (itself, canonicalised, if unbound).
    pub fn resolve(&mut self, d: &Dim) -> Dim {
        match d {
            Dim::Var(v) => {
                let root = self.find(*v);
                self.bound[root as usize].clone().unwrap_or(Dim::Var(root))
            }
            other => other.clone(),
        }
    }

    /// Makes two dims equal, or explains why they cannot be.
    pub fn unify(&mut self, a: &Dim, b: &Dim, span: Span) -> Result<()> {
        let (a, b) = (self.resolve(a), self.resolve(b));
        match (&a, &b) {
            _ if a == b => Ok(()),
            (Dim::Var(x), Dim::Var(y)) => {
                let (x, y) = (self.find(*x), self.find(*y));
                let (keep, drop) = if x < y { (x, y) } else { (y, x) };
                self.parent[drop as usize] = keep;
                Ok(())
            }
            (Dim::Var(_), Dim::Iota) | (Dim::Iota, Dim::Var(_)) => Err(mismatch(&a, &b, span)),
            (Dim::Var(x), fixed) | (fixed, Dim::Var(x)) => {
                let root = self.find(*x);
                self.bound[root as usize] = Some(fixed.clone());
                Ok(())
            }
            _ => Err(mismatch(&a, &b, span)),
        }
    }

    /// Unifies two shapes dim by dim; orders must agree.
    pub fn unify_shapes(&mut self, a: &[Dim], b: &[Dim], span: Span) -> Result<()> {
        if a.len() != b.len() {
            return Err(Error::new(
                ErrorCode::Shape,
                format!("shapes do not match: {} has {} dims, {} has {}", self.show(a), a.len(), self.show(b), b.len()),
                span,
            ));
        }
        for (x, y) in a.iter().zip(b) {
            self.unify(x, y, span).map_err(|e| {
                Error::new(
                    ErrorCode::Shape,
                    format!("shapes do not match: {} and {}", self.show(a), self.show(b)),
                    span,
                )
                .hint(e.message)
            })?;
        }
        Ok(())
    }

    /// A shape as currently known, for messages.
    pub fn show(&mut self, shape: &[Dim]) -> String {
        let resolved: Vec<Dim> = shape.iter().map(|d| self.resolve(d)).collect();
        show_shape(&resolved)
    }
}

fn mismatch(a: &Dim, b: &Dim, span: Span) -> Error {
    let what = |d: &Dim| match d {
        Dim::Iota => "ι (the size-one dim of a row vector)".to_string(),
        Dim::Var(_) => "a size".to_string(),
        other => format!("`{other}`"),
    };
    Error::new(ErrorCode::Shape, format!("dimension {} does not match {}", what(a), what(b)), span)
}
