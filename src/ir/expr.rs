//! The typed expression: every node knows its shape.
//!
//! Made by `elaborate`; read by `eval`, `render` and the later stages. Classic operators
//! stay classic nodes (so they print as typed); bracket terms, einsum and fused
//! subscripts are [`Network`]s: tensor networks whose factors are expressions.

use crate::ir::shape::{Dim, Shape};
use num_rational::BigRational;

/// A typed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it computes.
    pub kind: Kind,
    /// Its shape, fully resolved.
    pub shape: Shape,
}

/// Element-wise functions ℝ → ℝ.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Func {
    /// `exp`.
    Exp,
    /// `ln`.
    Ln,
    /// `tanh`.
    Tanh,
    /// `sigmoid`.
    Sigmoid,
    /// `sqrt`.
    Sqrt,
    /// `sin`.
    Sin,
    /// `cos`.
    Cos,
    /// `abs`.
    Abs,
    /// `relu`.
    Relu,
    /// `sign`: −1, 0 or 1 (abs' away from 0).
    Sign,
    /// A declared element-wise function such as `f`.
    Declared(String),
}

impl Func {
    /// The `k`th derivative of tanh or σ as a polynomial in the function's value
    /// (coefficients from the constant up): tanh' = 1 − tanh², σ' = σ(1 − σ), and each
    /// further step differentiates in the value and multiplies by that (the chain rule).
    /// `None` for other functions.
    pub fn derivative_in_value(&self, k: u8) -> Option<Vec<f64>> {
        let p: &[f64] = match self {
            Func::Tanh => &[1.0, 0.0, -1.0],
            Func::Sigmoid => &[0.0, 1.0, -1.0],
            _ => return None,
        };
        let mut q = vec![0.0, 1.0];
        for _ in 0..k {
            let derivative: Vec<f64> = q.iter().enumerate().skip(1).map(|(j, c)| c * j as f64).collect();
            let mut next = vec![0.0; derivative.len() + p.len()];
            for (a, ca) in derivative.iter().enumerate() {
                for (b, cb) in p.iter().enumerate() {
                    next[a + b] += ca * cb;
                }
            }
            q = next;
        }
        Some(q)
    }

    /// The name as typed.
    pub fn name(&self) -> &str {
        match self {
            Func::Exp => "exp",
            Func::Ln => "ln",
            Func::Tanh => "tanh",
            Func::Sigmoid => "sigmoid",
            Func::Sqrt => "sqrt",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Abs => "abs",
            Func::Relu => "relu",
            Func::Sign => "sign",
            Func::Declared(name) => name,
        }
    }
}

/// How a generalized product was written, so that it prints back the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenForm {
    /// `A^{P} ⊙^{Q} B` with explicit positions.
    Explicit,
    /// `A ⊙_k B` or `A ·_k B`.
    K(usize),
    /// `A ·_> B`.
    Right,
    /// `A ·_< B`.
    Left,
}

/// A position of a generalized product (1-based) and whether it is barred (summed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    /// 1-based position.
    pub at: usize,
    /// Summed over.
    pub bar: bool,
}

/// Expression kinds.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum Kind {
    /// A named tensor (a scalar if its shape is `[]`).
    Var(String),
    /// `dX`: the differential of a named tensor.
    Diff(String),
    /// `d(e)` before differentiation.
    DiffOf(Box<Expr>),
    /// A rational constant (a scalar).
    Const(BigRational),
    /// A tensor of ones of this node's shape.
    Ones,
    /// The identity matrix.
    Identity,
    /// A sum of at least two terms.
    Add(Vec<Expr>),
    /// `c · e` with a rational c (−1 is negation).
    Scale(BigRational, Box<Expr>),
    /// The classic product: matrix product, or scaling when a side is a scalar.
    Product(Box<Expr>, Box<Expr>),
    /// `e / s` with s a scalar.
    DivScalar(Box<Expr>, Box<Expr>),
    /// `eᵀ`.
    Transpose(Box<Expr>),
    /// `e⁻¹`.
    Inverse(Box<Expr>),
    /// `e^k`: integer matrix power, or any rational power of a scalar.
    Power(Box<Expr>, BigRational),
    /// `e.^p`: element-wise power.
    HPower(Box<Expr>, BigRational),
    /// `a ⊙ b`.
    Hadamard(Box<Expr>, Box<Expr>),
    /// `a ⊘ b`.
    HDiv(Box<Expr>, Box<Expr>),
    /// `a ⊗ b`.
    Kron(Box<Expr>, Box<Expr>),
    /// `a · b`: full contraction of equal shapes.
    Dot(Box<Expr>, Box<Expr>),
    /// `a^{P} ⊙^{Q} b` (or `·` when every pair is summed).
    Gen { lhs: Box<Expr>, rhs: Box<Expr>, left: Vec<Pos>, right: Vec<Pos>, dot: bool, form: GenForm },
    /// `tr e`.
    Trace(Box<Expr>),
    /// `|e|`: determinant.
    Det(Box<Expr>),
    /// `diag(v)` (vector to matrix) or `diag(M)` (matrix to its diagonal).
    Diag(Box<Expr>),
    /// `sum(e)`: all entries.
    Sum(Box<Expr>),
    /// `||e||`: the 2-norm (Frobenius for matrices).
    Norm(Box<Expr>),
    /// `f(e)` element-wise; `derivative` counts primes (`f'` is 1).
    Func { func: Func, derivative: u8, arg: Box<Expr> },
    /// `s^P(e)`: softmax over the dims not in P, P's dims first in the result.
    Softmax { positions: Vec<usize>, arg: Box<Expr> },
    /// `(e)_{P}`: a permutation of dims; `perm[k]` is the source position of result dim k.
    Permute(Box<Expr>, Vec<usize>),
    /// A tensor network: bracket terms, einsum, fused subscripts.
    Network(Box<Network>),
}

/// A tensor network: factors whose slots are indices, and the order of free indices.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// The factors (occurrences), each an expression with one index per dim.
    pub factors: Vec<Factor>,
    /// The size of each index.
    pub indices: Vec<Dim>,
    /// Free indices in result order; every other index is summed.
    pub output: Vec<usize>,
    /// How it was written.
    pub origin: Origin,
}

/// One factor of a network.
#[derive(Clone, Debug, PartialEq)]
pub struct Factor {
    /// The tensor.
    pub expr: Expr,
    /// `slots[p]` is the index on dim p+1 of the tensor.
    pub slots: Vec<usize>,
}

/// Where a network came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// Bracket notation (or built by the library).
    Bracket,
    /// `einsum("spec", …)`, with the spec as typed.
    Einsum(String),
    /// A subscript on one tensor such as `A_{1[23]}`, with the subscript as typed.
    Subscript(String),
}

impl Expr {
    /// An expression of a kind and shape.
    pub fn new(kind: Kind, shape: Shape) -> Expr {
        Expr { kind, shape }
    }

    /// A hash of the operators, names and shapes' orders of this expression, for finding
    /// equal expressions among many without comparing every pair: equal expressions have
    /// equal fingerprints (equality decides among those that share one).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        fn go(e: &Expr, h: &mut std::collections::hash_map::DefaultHasher) {
            std::mem::discriminant(&e.kind).hash(h);
            e.shape.len().hash(h);
            match &e.kind {
                Kind::Var(n) | Kind::Diff(n) => n.hash(h),
                Kind::Func { func, derivative, .. } => (func, derivative).hash(h),
                _ => {}
            }
            let children = e.children();
            children.len().hash(h);
            for c in children {
                go(c, h);
            }
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        go(self, &mut h);
        h.finish()
    }

    /// The number of dims.
    pub fn order(&self) -> usize {
        self.shape.len()
    }

    /// True for shape `[]`.
    pub fn is_scalar(&self) -> bool {
        self.shape.is_empty()
    }

    /// The direct sub-expressions, in order.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            Kind::Var(_) | Kind::Diff(_) | Kind::Const(_) | Kind::Ones | Kind::Identity => vec![],
            Kind::DiffOf(e)
            | Kind::Scale(_, e)
            | Kind::Transpose(e)
            | Kind::Inverse(e)
            | Kind::Power(e, _)
            | Kind::HPower(e, _)
            | Kind::Trace(e)
            | Kind::Det(e)
            | Kind::Diag(e)
            | Kind::Sum(e)
            | Kind::Norm(e)
            | Kind::Func { arg: e, .. }
            | Kind::Softmax { arg: e, .. }
            | Kind::Permute(e, _) => vec![e],
            Kind::Add(terms) => terms.iter().collect(),
            Kind::Product(a, b)
            | Kind::DivScalar(a, b)
            | Kind::Hadamard(a, b)
            | Kind::HDiv(a, b)
            | Kind::Kron(a, b)
            | Kind::Dot(a, b)
            | Kind::Gen { lhs: a, rhs: b, .. } => vec![a, b],
            Kind::Network(n) => n.factors.iter().map(|f| &f.expr).collect(),
        }
    }

    /// The direct sub-expressions, in order, to change in place.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match &mut self.kind {
            Kind::Var(_) | Kind::Diff(_) | Kind::Const(_) | Kind::Ones | Kind::Identity => vec![],
            Kind::DiffOf(e)
            | Kind::Scale(_, e)
            | Kind::Transpose(e)
            | Kind::Inverse(e)
            | Kind::Power(e, _)
            | Kind::HPower(e, _)
            | Kind::Trace(e)
            | Kind::Det(e)
            | Kind::Diag(e)
            | Kind::Sum(e)
            | Kind::Norm(e)
            | Kind::Func { arg: e, .. }
            | Kind::Softmax { arg: e, .. }
            | Kind::Permute(e, _) => vec![e],
            Kind::Add(terms) => terms.iter_mut().collect(),
            Kind::Product(a, b)
            | Kind::DivScalar(a, b)
            | Kind::Hadamard(a, b)
            | Kind::HDiv(a, b)
            | Kind::Kron(a, b)
            | Kind::Dot(a, b)
            | Kind::Gen { lhs: a, rhs: b, .. } => vec![a, b],
            Kind::Network(n) => n.factors.iter_mut().map(|f| &mut f.expr).collect(),
        }
    }

    /// `self` with names (of tensors and their differentials) replaced by `map`; names
    /// not in `map` stay.
    pub fn renamed(&self, map: &indexmap::IndexMap<String, String>) -> Expr {
        let mut out = self.clone();
        out.rename_in_place(map);
        out
    }

    fn rename_in_place(&mut self, map: &indexmap::IndexMap<String, String>) {
        match &mut self.kind {
            Kind::Var(n) | Kind::Diff(n) => {
                if let Some(m) = map.get(n.as_str()) {
                    *n = m.clone();
                }
            }
            _ => self.children_mut().into_iter().for_each(|c| c.rename_in_place(map)),
        }
    }

    /// The number of nodes of the tree.
    pub fn node_count(&self) -> usize {
        1 + self.children().iter().map(|c| c.node_count()).sum::<usize>()
    }

    /// True where the value is a rational function of the entries: sums, products,
    /// quotients, inverses and integer powers, no element-wise function, root or norm
    /// (it can be evaluated exactly in rationals).
    pub fn is_rational(&self) -> bool {
        let own = match &self.kind {
            Kind::Power(_, k) | Kind::HPower(_, k) => k.is_integer(),
            kind => matches!(
                kind,
                Kind::Var(_)
                    | Kind::Const(_)
                    | Kind::Ones
                    | Kind::Identity
                    | Kind::Add(_)
                    | Kind::Scale(..)
                    | Kind::Product(..)
                    | Kind::DivScalar(..)
                    | Kind::Transpose(_)
                    | Kind::Inverse(_)
                    | Kind::Hadamard(..)
                    | Kind::HDiv(..)
                    | Kind::Kron(..)
                    | Kind::Dot(..)
                    | Kind::Trace(_)
                    | Kind::Det(_)
                    | Kind::Diag(_)
                    | Kind::Sum(_)
            ),
        };
        own && self.children().iter().all(|c| c.is_rational())
    }

    /// The names of the sizes in the shapes of this term and its subterms (`N` and `d` in
    /// `X: matrix(N, d)`), in order of first use.
    pub fn size_names(&self) -> indexmap::IndexSet<String> {
        fn go(e: &Expr, out: &mut indexmap::IndexSet<String>) {
            for d in &e.shape {
                if let Dim::Sym(n) = d {
                    out.insert(n.clone());
                }
            }
            e.children().into_iter().for_each(|c| go(c, out));
        }
        let mut out = indexmap::IndexSet::new();
        go(self, &mut out);
        out
    }

    /// Every name (variables and differentials, as `dX`) used, in order of first use.
    pub fn names(&self) -> Vec<String> {
        let mut out = indexmap::IndexSet::new();
        self.collect_names(&mut out);
        out.into_iter().collect()
    }

    fn collect_names(&self, out: &mut indexmap::IndexSet<String>) {
        match &self.kind {
            Kind::Var(n) => {
                out.insert(n.clone());
            }
            Kind::Diff(n) => {
                out.insert(format!("d{n}"));
            }
            _ => self.children().into_iter().for_each(|c| c.collect_names(out)),
        }
    }
}
