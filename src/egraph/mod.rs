//! The e-graph: equality saturation over classic operators, from any expression to the
//! simplest classic form.
//!
//! Takes a typed [`Expr`]; gives an equal [`Expr`] of least cost and a [`Report`] of the
//! run. Guarantees: every rewrite keeps the value (each rule is tested numerically); a
//! rewrite whose result would not have the matched class's shape is never applied; the
//! run stops at node, iteration and time limits and still returns a correct form.
//!
//! Following the design's pitfall note, egg works at the classic-operator level and the
//! network code is called from appliers: a tensor network (bracket term, einsum, fused
//! subscript) is an opaque leaf keyed on id-free data (its printed form), and the
//! `raise-network` applier lowers it, canonicalises it and unions its classic raising.
//! Leaves and functions are keyed by text, never by egg ids, so merges cannot break them.

pub mod cancel;
pub mod raise;
pub mod rules;

use crate::ir::expr::{Expr, Func, Kind};
use crate::ir::shape::{Dim, Shape};
use crate::read::elaborate::Model;
use egg::{
    define_language, Analysis, Applier, CostFunction, DidMerge, ENodeOrVar, Id, Language, PatternAst, RecExpr,
    Searcher, Subst, Symbol, Var,
};
use indexmap::IndexMap;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The key of a leaf: a name, a differential, or the printed form of an opaque tensor.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeafName(pub String);

impl fmt::Display for LeafName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for LeafName {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        s.strip_prefix('%').map(|k| LeafName(k.to_string())).ok_or(())
    }
}

/// The key of a function applied with `app`: `tanh`, `tanh'`, `f''`, `softmax^1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunName(pub String);

impl fmt::Display for FunName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for FunName {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        s.strip_prefix('@').map(|k| FunName(k.to_string())).ok_or(())
    }
}

define_language! {
    /// The e-graph's nodes: the classic operators, rational constants, functions and
    /// leaves (names, differentials, `1`, `I`, and opaque tensors such as networks).
    pub enum Node {
        "+" = Add([Id; 2]),
        "*" = Mul([Id; 2]),
        "/" = Div([Id; 2]),
        "T" = Transpose(Id),
        "inv" = Inverse(Id),
        "pow" = Power([Id; 2]),
        "hpow" = HPower([Id; 2]),
        "had" = Hadamard([Id; 2]),
        "hdiv" = HDiv([Id; 2]),
        "kron" = Kron([Id; 2]),
        "dot" = Dot([Id; 2]),
        "tr" = Trace(Id),
        "det" = Det(Id),
        "diag" = Diag(Id),
        "sum" = Sum(Id),
        "norm" = Norm(Id),
        "app" = Apply([Id; 2]),
        Num(BigRational),
        Fun(FunName),
        Leaf(LeafName),
    }
}

/// What a function key stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum FunSpec {
    /// An element-wise function or one of its derivatives.
    Elementwise(Func, u8),
    /// Softmax with these positions.
    Softmax(Vec<usize>),
}

/// What the analysis knows of an e-class.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// The shape of every term in the class.
    pub shape: Shape,
    /// The value, if the class is a rational constant.
    pub constant: Option<BigRational>,
    /// Known to be a symmetric matrix (or a scalar).
    pub symmetric: bool,
    /// Holds an identity matrix.
    pub identity: bool,
    /// Holds a tensor of ones.
    pub ones: bool,
    /// Known to be zero.
    pub zero: bool,
    /// A function key rather than a tensor.
    pub function: bool,
}

/// The analysis: per-class [`Data`], and the tables the leaves and functions key into.
#[derive(Default)]
pub struct Tables {
    /// Leaf key → the tensor it stands for.
    pub leaves: IndexMap<String, Expr>,
    /// Function key → what it computes.
    pub funs: IndexMap<String, FunSpec>,
    /// Names declared symmetric.
    pub symmetric: indexmap::IndexSet<String>,
}

impl Tables {
    /// Tables for simplifying expressions of `model`: the functions the rules mention
    /// and the names the model declares symmetric.
    pub fn for_model(model: &Model) -> Tables {
        let mut tables = Tables::default();
        for (k, v) in &crate::egraph::rules::rules().funs {
            tables.funs.insert(k.clone(), v.clone());
        }
        for (name, info) in &model.names {
            if info.symmetric {
                tables.symmetric.insert(name.clone());
            }
        }
        tables
    }
}

/// The e-graph of this crate.
pub type EGraph = egg::EGraph<Node, Tables>;
/// A rewrite of this crate's e-graph.
pub type Rewrite = egg::Rewrite<Node, Tables>;

/// The shape of `node` given its children's shapes (in `children()` order), or `None`
/// when the node would be ill-typed.
pub fn node_shape(node: &Node, kids: &[Shape], t: &Tables) -> Option<Shape> {
    let sq = |s: &Shape| s.len() == 2 && s[0] == s[1] && s[0] != Dim::Iota;
    match node {
        Node::Leaf(k) => t.leaves.get(&k.0).map(|e| e.shape.clone()),
        Node::Num(_) | Node::Fun(_) => Some(vec![]),
        Node::Add(_) => (kids[0] == kids[1]).then(|| kids[0].clone()),
        Node::Mul(_) => product_shape(&kids[0], &kids[1]),
        Node::Div(_) => kids[1].is_empty().then(|| kids[0].clone()),
        Node::Transpose(_) => transpose_shape(&kids[0]),
        Node::Inverse(_) => (kids[0].is_empty() || sq(&kids[0])).then(|| kids[0].clone()),
        Node::Power(_) => (kids[1].is_empty() && (kids[0].is_empty() || sq(&kids[0]))).then(|| kids[0].clone()),
        Node::HPower(_) => kids[1].is_empty().then(|| kids[0].clone()),
        Node::Hadamard(_) | Node::HDiv(_) => (kids[0] == kids[1] && !kids[0].is_empty()).then(|| kids[0].clone()),
        Node::Kron(_) => {
            let mut s = kids[0].clone();
            s.extend(kids[1].iter().cloned());
            (s.len() <= crate::limits::MAX_ORDER).then_some(s)
        }
        Node::Dot(_) => (kids[0] == kids[1]).then(Vec::new),
        Node::Trace(_) | Node::Det(_) => sq(&kids[0]).then(Vec::new),
        Node::Diag(_) => match kids[0].len() {
            1 if kids[0][0] != Dim::Iota => Some(vec![kids[0][0].clone(), kids[0][0].clone()]),
            2 if sq(&kids[0]) => Some(vec![kids[0][0].clone()]),
            _ => None,
        },
        Node::Sum(_) | Node::Norm(_) => Some(vec![]),
        Node::Apply([f, _]) => {
            let _ = f;
            Some(kids[1].clone())
        }
    }
}

/// The shape of `app f x` needs the function: softmax may move dims.
fn apply_shape(spec: &FunSpec, arg: &Shape) -> Option<Shape> {
    match spec {
        FunSpec::Elementwise(..) => Some(arg.clone()),
        FunSpec::Softmax(positions) => {
            if positions.iter().any(|&p| p == 0 || p > arg.len()) {
                return None;
            }
            let mut shape: Shape = positions.iter().map(|&p| arg[p - 1].clone()).collect();
            for (k, d) in arg.iter().enumerate() {
                if !positions.contains(&(k + 1)) {
                    shape.push(d.clone());
                }
            }
            Some(shape)
        }
    }
}

/// The classic product's shape: a matrix product (vectors are columns, `[ι, n]` rows),
/// or scaling when a side is a scalar.
pub fn product_shape(a: &Shape, b: &Shape) -> Option<Shape> {
    if a.is_empty() {
        return Some(b.clone());
    }
    if b.is_empty() {
        return Some(a.clone());
    }
    if a.len() > 2 || b.len() > 2 {
        return None;
    }
    let inner_a = if a.len() == 1 { Dim::Iota } else { a[1].clone() };
    if inner_a != b[0] {
        return None;
    }
    let row = a[0].clone();
    let col = if b.len() == 2 { b[1].clone() } else { Dim::Iota };
    Some(match (row == Dim::Iota, col == Dim::Iota) {
        (true, true) => vec![],
        (false, true) => vec![row],
        _ => vec![row, col],
    })
}

fn transpose_shape(a: &Shape) -> Option<Shape> {
    match a.len() {
        1 => Some(vec![Dim::Iota, a[0].clone()]),
        2 if a[0] == Dim::Iota => Some(vec![a[1].clone()]),
        2 => Some(vec![a[1].clone(), a[0].clone()]),
        _ => None,
    }
}

/// The shape of a node in the e-graph from its children's classes.
fn shape_in(egraph: &EGraph, node: &Node) -> Option<Shape> {
    let kids: Vec<Shape> = node.children().iter().map(|&c| egraph[c].data.shape.clone()).collect();
    if let Node::Apply([f, _]) = node {
        let spec = fun_spec(egraph, *f)?;
        return apply_shape(&spec, &kids[1]);
    }
    node_shape(node, &kids, &egraph.analysis)
}

fn fun_spec(egraph: &EGraph, f: Id) -> Option<FunSpec> {
    egraph[f].nodes.iter().find_map(|n| match n {
        Node::Fun(k) => egraph.analysis.funs.get(&k.0).cloned(),
        _ => None,
    })
}

impl Analysis<Node> for Tables {
    type Data = Data;

    fn make(egraph: &mut EGraph, enode: &Node) -> Data {
        let shape = shape_in(egraph, enode).unwrap_or_default();
        let kid = |i: usize| &egraph[enode.children()[i]].data;
        let mut d = Data {
            shape,
            constant: None,
            symmetric: false,
            identity: false,
            ones: false,
            zero: false,
            function: false,
        };
        match enode {
            Node::Leaf(k) => {
                if let Some(e) = egraph.analysis.leaves.get(&k.0) {
                    d.identity = matches!(e.kind, Kind::Identity);
                    d.ones = matches!(e.kind, Kind::Ones);
                    d.symmetric = d.identity
                        || matches!(&e.kind, Kind::Var(n) if egraph.analysis.symmetric.contains(n))
                        || e.is_scalar();
                    d.zero = matches!(&e.kind, Kind::Scale(c, _) if c.is_zero());
                }
            }
            Node::Num(c) => {
                d.constant = Some(c.clone());
                d.zero = c.is_zero();
                d.symmetric = true;
            }
            Node::Fun(_) => d.function = true,
            Node::Add(_) => {
                d.constant = match (&kid(0).constant, &kid(1).constant) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => None,
                };
                d.symmetric = kid(0).symmetric && kid(1).symmetric;
                d.zero = kid(0).zero && kid(1).zero;
            }
            Node::Mul([a, b]) => {
                d.constant = match (&kid(0).constant, &kid(1).constant) {
                    (Some(x), Some(y)) => Some(x * y),
                    _ => None,
                };
                let (sa, sb) = (&kid(0).shape, &kid(1).shape);
                d.symmetric = (sa.is_empty() && kid(1).symmetric)
                    || (sb.is_empty() && kid(0).symmetric)
                    || egraph.lookup(Node::Transpose(*a)).map(|t| egraph.find(t)) == Some(egraph.find(*b));
                d.zero = kid(0).zero || kid(1).zero;
            }
            Node::Div(_) => {
                d.constant = match (&kid(0).constant, &kid(1).constant) {
                    (Some(x), Some(y)) if !y.is_zero() => Some(x / y),
                    _ => None,
                };
                d.zero = kid(0).zero;
            }
            Node::Transpose(_) => {
                d.symmetric = kid(0).symmetric;
                d.identity = kid(0).identity;
                d.zero = kid(0).zero;
            }
            Node::Inverse(_) => {
                d.symmetric = kid(0).symmetric;
                d.identity = kid(0).identity;
            }
            Node::Hadamard(_) => {
                d.symmetric = kid(0).symmetric && kid(1).symmetric;
                d.zero = kid(0).zero || kid(1).zero;
            }
            Node::Kron(_) => d.zero = kid(0).zero || kid(1).zero,
            Node::HDiv(_) => d.zero = kid(0).zero,
            Node::Diag(_) => {
                d.symmetric = kid(0).shape.len() == 1;
                d.zero = kid(0).zero;
            }
            Node::Trace(_) | Node::Det(_) | Node::Dot(_) | Node::Sum(_) | Node::Norm(_) => d.symmetric = true,
            _ => {}
        }
        if d.shape.is_empty() && !d.function {
            d.symmetric = true;
        }
        d
    }

    fn merge(&mut self, a: &mut Data, b: Data) -> DidMerge {
        let before = a.clone();
        if a.constant.is_none() {
            a.constant = b.constant.clone();
        }
        a.symmetric |= b.symmetric;
        a.identity |= b.identity;
        a.ones |= b.ones;
        a.zero |= b.zero;
        let changed_a = *a != before;
        let changed_b = *a != b;
        DidMerge(changed_a, changed_b)
    }

    fn modify(egraph: &mut EGraph, id: Id) {
        if egraph[id].data.zero && egraph[id].data.shape.is_empty() && egraph[id].data.constant.is_none() {
            egraph[id].data.constant = Some(BigRational::zero());
        }
        // Constant folding: a scalar class with a known value holds that number.
        if let Some(c) = egraph[id].data.constant.clone() {
            if egraph[id].data.shape.is_empty() && !egraph[id].nodes.iter().any(|n| matches!(n, Node::Num(_))) {
                let n = egraph.add(Node::Num(c));
                union_named(egraph, id, n, "arithmetic");
            }
        }
    }
}

// ---------------------------------------------------------------------------- encoding

/// Keys an expression's leaves and functions into `t` and writes it as egg nodes.
pub struct Encoder<'t> {
    /// The tables leaves and functions are registered in.
    pub tables: &'t mut Tables,
}

/// The leaf key of an expression that the e-graph treats as one atom.
pub fn leaf_key(e: &Expr) -> String {
    let dims = crate::ir::shape::show_shape(&e.shape);
    match &e.kind {
        Kind::Var(n) => format!("v:{n}"),
        Kind::Diff(n) => format!("d:{n}"),
        Kind::Ones => format!("1:{dims}"),
        Kind::Identity => format!("I:{dims}"),
        _ => format!("x:{dims}:{}", crate::render::bracket::to_bracket(e, crate::render::Format::Ascii)),
    }
}

/// The function key of an element-wise function or a softmax.
pub fn fun_key(spec: &FunSpec) -> String {
    match spec {
        FunSpec::Elementwise(f, k) => format!("{}{}", f.name(), "'".repeat(*k as usize)),
        FunSpec::Softmax(p) => {
            let p: Vec<String> = p.iter().map(|x| x.to_string()).collect();
            format!("softmax^{}", p.join(","))
        }
    }
}

impl Encoder<'_> {
    /// Appends `e` to `rec`, giving the id of its root.
    pub fn encode(&mut self, e: &Expr, rec: &mut RecExpr<Node>) -> Id {
        let two = |s: &mut Self, a: &Expr, b: &Expr, rec: &mut RecExpr<Node>| {
            let x = s.encode(a, rec);
            let y = s.encode(b, rec);
            [x, y]
        };
        match &e.kind {
            Kind::Const(c) => rec.add(Node::Num(c.clone())),
            Kind::Add(ts) => self.sum(ts, rec),
            Kind::Scale(c, x) => {
                let n = rec.add(Node::Num(c.clone()));
                let y = self.encode(x, rec);
                rec.add(Node::Mul([n, y]))
            }
            Kind::Product(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Mul(ids))
            }
            Kind::DivScalar(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Div(ids))
            }
            Kind::Transpose(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Transpose(x))
            }
            Kind::Inverse(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Inverse(x))
            }
            Kind::Power(a, k) | Kind::HPower(a, k) => {
                let x = self.encode(a, rec);
                let n = rec.add(Node::Num(k.clone()));
                if matches!(e.kind, Kind::Power(..)) {
                    rec.add(Node::Power([x, n]))
                } else {
                    rec.add(Node::HPower([x, n]))
                }
            }
            Kind::Hadamard(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Hadamard(ids))
            }
            Kind::HDiv(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::HDiv(ids))
            }
            Kind::Kron(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Kron(ids))
            }
            Kind::Dot(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Dot(ids))
            }
            Kind::Trace(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Trace(x))
            }
            Kind::Det(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Det(x))
            }
            Kind::Diag(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Diag(x))
            }
            Kind::Sum(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Sum(x))
            }
            Kind::Norm(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Norm(x))
            }
            Kind::Func { func, derivative, arg } => {
                self.apply(FunSpec::Elementwise(func.clone(), *derivative), arg, rec)
            }
            Kind::Softmax { positions, arg } => self.apply(FunSpec::Softmax(positions.clone()), arg, rec),
            _ => {
                let key = leaf_key(e);
                self.tables.leaves.entry(key.clone()).or_insert_with(|| e.clone());
                rec.add(Node::Leaf(LeafName(key)))
            }
        }
    }

    /// A sum as a balanced tree of `+`, so that long sums stay shallow (extraction and
    /// matching time grow with depth); short sums nest to the left as they read.
    fn sum(&mut self, ts: &[Expr], rec: &mut RecExpr<Node>) -> Id {
        if ts.len() <= 4 {
            let mut acc = self.encode(&ts[0], rec);
            for t in &ts[1..] {
                let y = self.encode(t, rec);
                acc = rec.add(Node::Add([acc, y]));
            }
            return acc;
        }
        let (left, right) = ts.split_at(ts.len() / 2);
        let x = self.sum(left, rec);
        let y = self.sum(right, rec);
        rec.add(Node::Add([x, y]))
    }

    fn apply(&mut self, spec: FunSpec, arg: &Expr, rec: &mut RecExpr<Node>) -> Id {
        let key = fun_key(&spec);
        self.tables.funs.entry(key.clone()).or_insert(spec);
        let f = rec.add(Node::Fun(FunName(key)));
        let x = self.encode(arg, rec);
        rec.add(Node::Apply([f, x]))
    }
}

/// Reads an extracted term back as a typed expression.
pub fn decode(rec: &RecExpr<Node>, t: &Tables) -> Option<Expr> {
    let nodes = rec.as_ref();
    // Children are moved out on their last use, so long sums decode in linear time.
    let mut uses = vec![0usize; nodes.len()];
    for node in nodes {
        for &c in node.children() {
            uses[usize::from(c)] += 1;
        }
    }
    let mut out: Vec<Option<Expr>> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut kids: Vec<Expr> = Vec::new();
        for &c in node.children() {
            let c = usize::from(c);
            uses[c] -= 1;
            let e = if uses[c] == 0 { out[c].take() } else { out[c].clone() };
            kids.push(e?);
        }
        let shapes: Vec<Shape> = kids.iter().map(|k| k.shape.clone()).collect();
        let shape = match node {
            Node::Apply(_) => {
                let Kind::Var(key) = &kids[0].kind else { return None };
                apply_shape(t.funs.get(key)?, &shapes[1])?
            }
            _ => node_shape(node, &shapes, t)?,
        };
        let mut it = kids.into_iter();
        let mut next = || it.next().map(Box::new);
        let kind = match node {
            Node::Leaf(k) => t.leaves.get(&k.0)?.kind.clone(),
            Node::Num(c) => Kind::Const(c.clone()),
            // A function key travels as a placeholder until its `app` reads it.
            Node::Fun(k) => Kind::Var(k.0.clone()),
            Node::Add(_) => {
                let mut terms = Vec::new();
                for _ in 0..2 {
                    match *next()? {
                        Expr { kind: Kind::Add(ts), .. } => terms.extend(ts),
                        other => terms.push(other),
                    }
                }
                // A sum opens with a term that is not negated where it has one:
                // `diag(s) − ssᵀ`, not `−ssᵀ + diag(s)` (the order of terms is free).
                let negative = |t: &Expr| matches!(&t.kind, Kind::Scale(c, _) if c < &BigRational::zero());
                if terms.first().is_some_and(negative) {
                    if let Some(k) = terms.iter().position(|t| !negative(t)) {
                        let t = terms.remove(k);
                        terms.insert(0, t);
                    }
                }
                Kind::Add(terms)
            }
            Node::Mul(_) => {
                let (a, b) = (next()?, next()?);
                if let Kind::Const(c) = &a.kind {
                    out.push(Some(crate::ir::build::scale(c.clone(), *b)));
                    continue;
                }
                Kind::Product(a, b)
            }
            Node::Div(_) => Kind::DivScalar(next()?, next()?),
            Node::Transpose(_) => Kind::Transpose(next()?),
            Node::Inverse(_) => Kind::Inverse(next()?),
            Node::Power(_) | Node::HPower(_) => {
                let x = next()?;
                let Kind::Const(k) = next()?.kind else { return None };
                if matches!(node, Node::Power(_)) {
                    Kind::Power(x, k)
                } else {
                    Kind::HPower(x, k)
                }
            }
            Node::Hadamard(_) => Kind::Hadamard(next()?, next()?),
            Node::HDiv(_) => Kind::HDiv(next()?, next()?),
            Node::Kron(_) => Kind::Kron(next()?, next()?),
            Node::Dot(_) => Kind::Dot(next()?, next()?),
            Node::Trace(_) => Kind::Trace(next()?),
            Node::Det(_) => Kind::Det(next()?),
            Node::Diag(_) => Kind::Diag(next()?),
            Node::Sum(_) => Kind::Sum(next()?),
            Node::Norm(_) => Kind::Norm(next()?),
            Node::Apply(_) => {
                let f = next()?;
                let Kind::Var(key) = &f.kind else { return None };
                let arg = next()?;
                match t.funs.get(key)? {
                    FunSpec::Elementwise(func, k) => Kind::Func { func: func.clone(), derivative: *k, arg },
                    FunSpec::Softmax(p) => Kind::Softmax { positions: p.clone(), arg },
                }
            }
        };
        out.push(Some(Expr::new(kind, shape)));
    }
    out.pop().flatten()
}

// ---------------------------------------------------------------------------- cost

/// The default cost: the size of the classic expression, with a transpose or inverse of
/// a name counted as half an operation (`Aᵀ`, `X⁻ᵀ` read nearly as atoms, so that
/// `(A + Aᵀ)x` keeps its transpose on the name while `(P ⊙ Q)ᵀ1` beats `(Pᵀ ⊙ Qᵀ)1`,
/// and a transposed product slightly less than one, so `−(X⁻¹BAX⁻¹)ᵀ`, with fewer
/// operations, beats `−X⁻ᵀAᵀBᵀX⁻ᵀ`), opaque tensors as
/// their printed size and networks so dear that a classic form always wins. Ties go to
/// fewer transposes, then to fewer parentheses (`aaᵀX` over `a(aᵀX)`).
pub struct Size<'a> {
    egraph: &'a EGraph,
}

/// A cost: size first, then transposes, then parentheses.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub struct Cost {
    /// Operations and atoms.
    pub size: f64,
    /// Transposes.
    pub transposes: u32,
    /// Products nested on the right.
    pub parens: u32,
    atom: bool,
    product: bool,
    scaled: bool,
    negated: bool,
}

/// Cost of a tensor network leaf: more than any classic form.
pub const NETWORK_COST: f64 = 1000.0;

fn expr_size(e: &Expr) -> f64 {
    match &e.kind {
        Kind::Network(n) => NETWORK_COST + n.factors.iter().map(|f| expr_size(&f.expr)).sum::<f64>(),
        _ => 1.0 + e.children().iter().map(|c| expr_size(c)).sum::<f64>(),
    }
}

impl CostFunction<Node> for Size<'_> {
    type Cost = Cost;
    fn cost<C>(&mut self, enode: &Node, mut costs: C) -> Cost
    where
        C: FnMut(Id) -> Cost,
    {
        // Every node costs strictly more than each of its children, so extraction can
        // never choose a cycle (a class holding its own product, as b = Ib).
        let mut c = self.node_cost(enode, &mut costs);
        c.size += 0.01;
        c
    }
}

impl Size<'_> {
    fn node_cost<C>(&mut self, enode: &Node, costs: &mut C) -> Cost
    where
        C: FnMut(Id) -> Cost,
    {
        let kids: Vec<Cost> = enode.children().iter().map(|&c| costs(c)).collect();
        let sum = |extra: f64| kids.iter().map(|k| k.size).sum::<f64>() + extra;
        let transposes: u32 = kids.iter().map(|k| k.transposes).sum();
        let parens: u32 = kids.iter().map(|k| k.parens).sum();
        let base = Cost { size: 0.0, transposes, parens, atom: false, product: false, scaled: false, negated: false };
        match enode {
            Node::Leaf(k) => {
                let size = match self.egraph.analysis.leaves.get(&k.0) {
                    Some(e) if !matches!(e.kind, Kind::Var(_) | Kind::Diff(_) | Kind::Ones | Kind::Identity) => {
                        expr_size(e)
                    }
                    _ => 1.0,
                };
                Cost { size, atom: true, ..base }
            }
            // A sign is simpler than a number: `2(Vh − y)` over `2Vh − 2y`.
            Node::Num(c) if c == &-BigRational::one() => Cost { size: 0.5, atom: true, negated: true, ..base },
            // A sum reads better when it does not open with a minus: `Xw − y`.
            Node::Add(_) => Cost { size: sum(1.0), parens: parens + u32::from(kids[0].negated), ..base },
            Node::Num(_) | Node::Fun(_) => Cost { size: 1.0, atom: true, ..base },
            Node::Transpose(_) | Node::Inverse(_) | Node::Power(_) if kids[0].atom => Cost {
                size: sum(if matches!(enode, Node::Transpose(_)) { 0.5 } else { 0.0 }),
                atom: true,
                transposes: transposes + u32::from(matches!(enode, Node::Transpose(_))),
                // `X⁻ᵀ` reads better than the equal `Xᵀ⁻¹`.
                parens: parens + u32::from(!matches!(enode, Node::Transpose(_)) && kids[0].transposes > 0),
                ..base
            },
            // One transpose over a product is one operation, a transpose on each factor
            // is one each: `−(X⁻¹BAX⁻¹)ᵀ` has fewer operations than `−X⁻ᵀAᵀBᵀX⁻ᵀ`,
            // and `BᵀA` (one transpose) still beats `(AᵀB)ᵀ`.
            Node::Transpose(_) if kids[0].product => Cost { size: sum(0.9), transposes: transposes + 1, ..base },
            Node::Transpose(_) => Cost { size: sum(1.0), transposes: transposes + 1, ..base },
            // A zero tensor costs one whatever it multiplies; zero times a name (`0x`,
            // which reads back with its size) is best.
            Node::Mul([a, b]) if self.egraph[*a].data.constant.as_ref().is_some_and(|c| c.is_zero()) => {
                let named = self.egraph[*b].nodes.iter().any(|n| matches!(n, Node::Leaf(k) if k.0.starts_with("v:")));
                let size = if named { 1.0 } else { 1.5 } + kids[1].size;
                Cost { size, atom: true, scaled: true, transposes: 0, parens: 0, ..base }
            }
            // A rational coefficient costs as a number; the product sign is not written.
            Node::Mul([a, _]) if self.egraph[*a].data.constant.is_some() && kids[0].atom => {
                Cost { size: sum(0.0), scaled: true, negated: kids[0].negated, ..base }
            }
            Node::Mul([_, b]) => {
                let right_product = kids[1].product && !self.egraph[*b].data.shape.is_empty();
                let nested = u32::from(right_product) + u32::from(kids[0].scaled) + u32::from(kids[1].scaled);
                Cost { size: sum(1.0), parens: parens + nested, product: true, negated: kids[0].negated, ..base }
            }
            // The reciprocal of a scalar expression reads as `1/(…)`: `(2N)⁻¹` is no simpler.
            Node::Inverse(x) if self.egraph[*x].data.shape.is_empty() => Cost { size: sum(2.05), ..base },
            // A derivative `f'` reads as less simple than a named function.
            Node::Apply([f, _]) => {
                let primed = self.egraph[*f].nodes.iter().any(|n| matches!(n, Node::Fun(k) if k.0.ends_with('\'')));
                Cost { size: sum(if primed { 1.0 } else { 0.0 }), ..base }
            }
            _ => Cost { size: sum(1.0), ..base },
        }
    }
}

/// The FLOP cost used when sizes are given: the multiply-adds of evaluating the
/// expression in the order it is written, so that `2a(aᵀX)` wins when X is wide.
pub struct Flops<'a> {
    egraph: &'a EGraph,
    sizes: &'a IndexMap<String, f64>,
}

impl Flops<'_> {
    fn dim(&self, d: &Dim) -> f64 {
        match d {
            Dim::Sym(s) => self.sizes.get(s).copied().unwrap_or(100.0),
            Dim::Int(n) => *n as f64,
            Dim::Iota => 1.0,
            Dim::Var(_) => 100.0,
        }
    }
    fn entries(&self, s: &Shape) -> f64 {
        s.iter().map(|d| self.dim(d)).product()
    }
}

impl CostFunction<Node> for Flops<'_> {
    type Cost = Cost;
    fn cost<C>(&mut self, enode: &Node, mut costs: C) -> Cost
    where
        C: FnMut(Id) -> Cost,
    {
        let kids: Vec<Cost> = enode.children().iter().map(|&c| costs(c)).collect();
        let below: f64 = kids.iter().map(|k| k.size).sum();
        let shape = |i: usize| self.egraph[enode.children()[i]].data.shape.clone();
        let transposes: u32 = kids.iter().map(|k| k.transposes).sum();
        let work = match enode {
            Node::Leaf(_) | Node::Num(_) | Node::Fun(_) => 0.0,
            Node::Mul(_) => {
                let (a, b) = (shape(0), shape(1));
                if a.is_empty() || b.is_empty() {
                    self.entries(&a).max(1.0) * self.entries(&b).max(1.0)
                } else {
                    let inner = if a.len() == 2 { self.dim(&a[1]) } else { 1.0 };
                    self.entries(&a) / inner.max(1.0) * inner * self.entries(&b) / self.dim(&b[0]).max(1.0)
                }
            }
            Node::Transpose(_) => 0.0,
            Node::Inverse(_) | Node::Det(_) => self.entries(&shape(0)).powf(1.5),
            _ => enode.children().iter().map(|&c| self.entries(&self.egraph[c].data.shape)).sum::<f64>(),
        };
        let tie = u32::from(matches!(enode, Node::Transpose(_)));
        Cost {
            size: below + work + 1e-3,
            transposes: transposes + tie,
            parens: 0,
            atom: false,
            product: false,
            scaled: false,
            negated: false,
        }
    }
}

// ---------------------------------------------------------------------------- running

/// Limits of one saturation run. Only the node and iteration limits decide the answer
/// in practice; the time limit is a safety net (hitting it is reported).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most e-nodes.
    pub nodes: usize,
    /// Most iterations.
    pub iterations: usize,
    /// Most wall time.
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { nodes: 20_000, iterations: 24, time: Duration::from_secs(2) }
    }
}

/// What a saturation run did.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// E-nodes at the end.
    pub nodes: usize,
    /// E-classes at the end.
    pub classes: usize,
    /// Iterations run.
    pub iterations: usize,
    /// Why it stopped: `saturated`, `node limit`, `iteration limit`, `time limit`.
    pub stop: String,
    /// True when a limit cut the search short (the answer is correct, maybe not simplest).
    pub limited: bool,
}

impl Report {
    /// The report as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "nodes": self.nodes,
            "classes": self.classes,
            "iterations": self.iterations,
            "stop": self.stop,
            "limited": self.limited,
        })
    }
}

/// Options of a simplification.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Limits of the run.
    pub limits: Limits,
    /// Sizes of named dims: when given, extraction minimises FLOPs instead of size.
    pub sizes: Option<IndexMap<String, f64>>,
}

/// Simplifies `e` (an expression of `model`): equality saturation with every rule of
/// `rules/`, the Rust appliers and the model's facts, then extraction of the cheapest
/// equal form.
pub fn simplify_expr(e: &Expr, model: &Model, options: &Options) -> (Expr, Report) {
    simplify_alternatives(std::slice::from_ref(e), model, options)
}

/// Products with more factors than this keep their bracketing in the e-graph.
pub const LONG_CHAIN: usize = 16;

/// The most factors of one product (nested `*` nodes) in `rec`.
fn longest_chain(rec: &RecExpr<Node>) -> usize {
    let nodes = rec.as_ref();
    let mut len = vec![1usize; nodes.len()];
    let mut most = 0;
    for (k, n) in nodes.iter().enumerate() {
        if let Node::Mul([a, b]) = n {
            let side =
                |id: &Id| if matches!(nodes[usize::from(*id)], Node::Mul(_)) { len[usize::from(*id)] } else { 1 };
            len[k] = side(a) + side(b);
            most = most.max(len[k]);
        }
    }
    most
}

/// As [`simplify_expr`] for several forms known to be equal (such as a sum with and
/// without its shared factors gathered): they start in one e-class.
pub fn simplify_alternatives(forms: &[Expr], model: &Model, options: &Options) -> (Expr, Report) {
    let (best, report, _) = saturate(forms, model, options, false, None);
    (best, report)
}

/// One rewrite of an explanation: the whole term after it, and the rule that made it.
#[derive(Clone, Debug)]
pub struct Rewritten {
    /// The term after the rewrite.
    pub expr: Expr,
    /// The rule's name (from rules/, a Rust applier, or `fact-k`).
    pub rule: String,
}

/// The longest explanation (in rewrites) that a derivation reads back: a path of
/// thousands (24,000 on a fuzzed input) takes seconds to flatten and no reader would
/// follow it, so such a run gets one step.
const MAX_EXPLAINED: usize = 400;

/// The rewrites of an explanation once flattened (each shared sub-proof counted every
/// time it is used), from its shared tree, saturating.
fn tree_rewrites(
    trees: &[std::rc::Rc<egg::TreeTerm<Node>>],
    memo: &mut HashMap<*const egg::TreeTerm<Node>, usize>,
) -> usize {
    let mut total = 0usize;
    for t in trees {
        let key = std::rc::Rc::as_ptr(t);
        let n = match memo.get(&key) {
            Some(&n) => n,
            None => {
                let own = usize::from(t.forward_rule.is_some()) + usize::from(t.backward_rule.is_some());
                let n = t.child_proofs.iter().fold(own, |acc, p| acc.saturating_add(tree_rewrites(p, memo)));
                memo.insert(key, n);
                n
            }
        };
        total = total.saturating_add(n);
    }
    total
}

/// How the first form becomes `target` (a form the e-graph should reach from them, such
/// as `grad`'s answer): egg's explanation, one rewrite at a time; empty if the run does
/// not reach it.
pub fn explain_to(forms: &[Expr], model: &Model, target: &Expr) -> Vec<Rewritten> {
    saturate(forms, model, &Options::default(), true, Some(target)).2
}

fn saturate(
    forms: &[Expr],
    model: &Model,
    options: &Options,
    explain: bool,
    target: Option<&Expr>,
) -> (Expr, Report, Vec<Rewritten>) {
    let e = &forms[0];
    // Element-wise regions with their rational functions cancelled (crate::egraph::cancel) go in
    // as one more form of the same class.
    let given = forms.len();
    let mut forms = forms.to_vec();
    if let Some(c) = crate::egraph::cancel::cancelled(e) {
        forms.push(c);
    }
    let forms = &forms[..];
    let rules = crate::egraph::rules::rules();
    let mut tables = Tables::for_model(model);
    let recs: Vec<RecExpr<Node>> = forms
        .iter()
        .map(|f| {
            let mut rec = RecExpr::default();
            Encoder { tables: &mut tables }.encode(f, &mut rec);
            rec
        })
        .collect();
    // A defined name equals its definition: both go in, in one class, so that `q` and
    // `softmax(Vh)` meet; extraction keeps the name where it is shorter.
    let mut definitions: Vec<(RecExpr<Node>, RecExpr<Node>)> = Vec::new();
    for (name, value) in &model.definitions {
        let leaf = Expr::new(Kind::Var(name.clone()), value.shape.clone());
        let (mut a, mut b) = (RecExpr::default(), RecExpr::default());
        Encoder { tables: &mut tables }.encode(&leaf, &mut a);
        Encoder { tables: &mut tables }.encode(value, &mut b);
        definitions.push((a, b));
    }
    let facts: Vec<Rewrite> = crate::egraph::rules::fact_rewrites(model, &mut tables);
    let egraph = EGraph::new(tables);
    // The backoff scheduler bans a rule for a while once it matches too often, so one
    // family (such as scalars moving through long Hadamard chains) cannot crowd out
    // the rest or blow the e-graph up.
    let scheduler = egg::BackoffScheduler::default().with_initial_match_limit(200).with_ban_length(3);
    let mut runner = egg::Runner::default()
        .with_scheduler(scheduler)
        .with_egraph(egraph)
        .with_node_limit(options.limits.nodes)
        .with_iter_limit(options.limits.iterations)
        .with_time_limit(options.limits.time);
    if explain {
        runner = runner.with_explanations_enabled();
    }
    if options.sizes.is_none() {
        runner = runner.with_hook(plateau());
    }
    for rec in &recs {
        runner = runner.with_expr(rec);
    }
    for ((name, value), (defined, _)) in definitions.iter().zip(&model.definitions) {
        let a = runner.egraph.add_expr(name);
        let b = runner.egraph.add_expr(value);
        if runner.egraph[a].data.shape == runner.egraph[b].data.shape {
            union_named(&mut runner.egraph, a, b, &format!("definition of {defined}"));
        }
    }
    for k in 1..runner.roots.len() {
        let (a, b) = (runner.roots[0], runner.roots[k]);
        if runner.egraph[a].data.shape == runner.egraph[b].data.shape {
            // An explanation names how the form was made: the caller's other forms are
            // the same terms written out, the last one elementwise-cancel's.
            let why = if k < given { "terms written out" } else { "elementwise-cancel" };
            union_named(&mut runner.egraph, a, b, why);
        }
    }
    runner.egraph.rebuild();
    // Every bracketing of a product of k factors is O(k³) nodes: past LONG_CHAIN factors
    // the products keep the bracketing they came with.
    let long = recs.iter().any(|r| longest_chain(r) > LONG_CHAIN);
    let rewrites = rules.rewrites.iter().filter(|r| !long || !r.name.as_str().starts_with("product-assoc"));
    let runner = runner.run(rewrites.chain(facts.iter()));
    if std::env::var_os("BRACKET_EGRAPH_DEBUG").is_some() {
        for rec in &recs {
            eprintln!("input: {rec}");
        }
        for (k, it) in runner.iterations.iter().enumerate() {
            let mut applied: Vec<_> = it.applied.iter().map(|(r, n)| (r.to_string(), *n)).collect();
            applied.sort();
            eprintln!("iteration {k}: {} nodes; {applied:?}", it.egraph_nodes);
        }
    }
    let (stop, limited) = match &runner.stop_reason {
        Some(egg::StopReason::Saturated) => ("saturated".to_string(), false),
        Some(egg::StopReason::NodeLimit(_)) => ("node limit".to_string(), true),
        Some(egg::StopReason::IterationLimit(_)) => ("iteration limit".to_string(), true),
        Some(egg::StopReason::TimeLimit(_)) => ("time limit".to_string(), true),
        Some(egg::StopReason::Other(s)) if s == PLATEAU => (s.clone(), false),
        Some(egg::StopReason::Other(s)) => (s.clone(), true),
        None => ("not run".to_string(), true),
    };
    let report = Report {
        nodes: runner.egraph.total_number_of_nodes(),
        classes: runner.egraph.number_of_classes(),
        iterations: runner.iterations.len(),
        stop,
        limited,
    };
    let root = runner.roots[0];
    let best = match &options.sizes {
        None => egg::Extractor::new(&runner.egraph, Size { egraph: &runner.egraph }).find_best(root).1,
        Some(sizes) => egg::Extractor::new(&runner.egraph, Flops { egraph: &runner.egraph, sizes }).find_best(root).1,
    };
    let mut decoded = decode(&best, &runner.egraph.analysis).filter(|x| x.shape == e.shape);
    let mut best = best;
    let mut runner = runner;
    if let Some(t) = target {
        // The target, if the run reached it, is where the explanation goes.
        let mut rec = RecExpr::default();
        Encoder { tables: &mut runner.egraph.analysis }.encode(t, &mut rec);
        let id = runner.egraph.add_expr(&rec);
        runner.egraph.rebuild();
        if runner.egraph.find(id) != runner.egraph.find(root) {
            return (e.clone(), report, Vec::new());
        }
        best = rec;
        decoded = Some(t.clone());
    }
    let mut steps = Vec::new();
    if explain && decoded.is_some() {
        let mut explanation = runner.explain_equivalence(&recs[0], &best);
        // Counted on the shared tree first: flattening a long one is itself the cost.
        let rewrites = tree_rewrites(&explanation.explanation_trees, &mut HashMap::new());
        let flat: &[egg::FlatTerm<Node>] =
            if rewrites > MAX_EXPLAINED { &[] } else { explanation.make_flat_explanation() };
        for term in flat.iter().skip(1) {
            let mut rec = RecExpr::default();
            flat_term(term, &mut rec);
            let Some(expr) = decode(&rec, &runner.egraph.analysis) else {
                steps.clear();
                break;
            };
            let rule = rule_of(term).unwrap_or_else(|| "rewrite".into());
            if std::env::var_os("BRACKET_EGRAPH_DEBUG").is_some() {
                eprintln!("rewrite {rule}: {}", crate::render::render(&expr, crate::render::Format::Unicode));
            }
            steps.push(Rewritten { expr, rule });
        }
    }
    let mut out = decoded.unwrap_or_else(|| e.clone());
    if long && options.sizes.is_none() {
        out = left_associated(out);
    }
    (out, report, steps)
}

/// Why a run stopped early because the best form no longer improved.
const PLATEAU: &str = "no better form for 6 iterations";

/// From this iteration on, the runner checks whether the best form still improves.
const PLATEAU_FROM: usize = 8;

/// A runner hook that stops the run (with [`PLATEAU`]) once the cheapest form of the
/// first root has not got cheaper for 6 iterations (two checks, three apart). Large e-graphs otherwise run to the
/// iteration limit breeding variants that never win (the softmax loss: 24 iterations,
/// 3,000 nodes, the answer found by the twelfth).
fn plateau() -> impl FnMut(&mut egg::Runner<Node, Tables>) -> std::result::Result<(), String> + 'static {
    let mut iteration = 0usize;
    let mut best: Option<Cost> = None;
    let mut stale = 0usize;
    move |runner| {
        iteration += 1;
        // Extracting costs a pass over the e-graph: every third iteration is enough, and
        // a small e-graph (a chain's) is cheaper to finish than to check.
        let small = runner.egraph.total_number_of_nodes() < 500;
        if iteration < PLATEAU_FROM || (iteration - PLATEAU_FROM) % 3 != 0 || small {
            return Ok(());
        }
        let root = runner.roots[0];
        let cost = egg::Extractor::new(&runner.egraph, Size { egraph: &runner.egraph }).find_best_cost(root);
        if best.as_ref().is_none_or(|b| cost < *b) {
            best = Some(cost);
            stale = 0;
        } else {
            stale += 1;
        }
        if stale >= 2 {
            Err(PLATEAU.to_string())
        } else {
            Ok(())
        }
    }
}

/// Unions two classes for a reason an explanation can name.
fn union_named(egraph: &mut EGraph, a: Id, b: Id, reason: &str) -> bool {
    if egraph.are_explanations_enabled() {
        egraph.union_trusted(a, b, reason)
    } else {
        egraph.union(a, b)
    }
}

/// A term of a flat explanation as a term of its own.
fn flat_term(t: &egg::FlatTerm<Node>, rec: &mut RecExpr<Node>) -> Id {
    let ids: Vec<Id> = t.children.iter().map(|c| flat_term(c, rec)).collect();
    let mut node = t.node.clone();
    for (slot, id) in node.children_mut().iter_mut().zip(ids) {
        *slot = id;
    }
    rec.add(node)
}

/// The rule that rewrote some part of a flat explanation's term.
fn rule_of(t: &egg::FlatTerm<Node>) -> Option<String> {
    t.forward_rule.or(t.backward_rule).map(|r| r.to_string()).or_else(|| t.children.iter().find_map(rule_of))
}

/// `a(bc)` as `(ab)c` for tensors a, b, c of order one or two: a long chain whose
/// bracketing the e-graph kept prints as `abc`, not `a(b(c…))`.
fn left_associated(e: Expr) -> Expr {
    let Expr { kind, shape } = e;
    let kind = match kind {
        Kind::Product(a, b) => {
            let (a, b) = (left_associated(*a), left_associated(*b));
            let matrix = |x: &Expr| (1..=2).contains(&x.order());
            match b.kind {
                Kind::Product(ref c, ref d) if matrix(&a) && matrix(c) && matrix(d) => {
                    let (c, d) = (c.clone(), d.clone());
                    let ac = crate::ir::build::product(a, *c);
                    return left_associated(Expr::new(Kind::Product(Box::new(ac), d), shape));
                }
                _ => Kind::Product(Box::new(a), Box::new(b)),
            }
        }
        Kind::Transpose(a) => Kind::Transpose(Box::new(left_associated(*a))),
        Kind::Scale(c, a) => Kind::Scale(c, Box::new(left_associated(*a))),
        Kind::Add(ts) => Kind::Add(ts.into_iter().map(left_associated).collect()),
        other => other,
    };
    Expr { kind, shape }
}

/// The cheapest term of a class by the default cost.
pub fn best_term(egraph: &EGraph, id: Id) -> RecExpr<Node> {
    egg::Extractor::new(egraph, Size { egraph }).find_best(id).1
}

// ---------------------------------------------------------------------------- appliers

/// The right side of a rule from `rules/`, applied only when its guards hold and its
/// instantiation has the shape of the matched class.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The right side.
    pub rhs: PatternAst<Node>,
    /// Guards: a predicate from [`crate::egraph::rules::Guard`] on a variable.
    pub guards: Vec<(crate::egraph::rules::Guard, Var)>,
}

/// The shape an instantiation of `pat` under `subst` would have, without adding it.
pub fn instantiated_shape(egraph: &EGraph, pat: &PatternAst<Node>, subst: &Subst) -> Option<Shape> {
    let nodes = pat.as_ref();
    let mut shapes: Vec<Option<Shape>> = Vec::with_capacity(nodes.len());
    let mut funs: Vec<Option<FunSpec>> = Vec::with_capacity(nodes.len());
    for n in nodes {
        let (s, f) = match n {
            ENodeOrVar::Var(v) => {
                let id = *subst.get(*v)?;
                (Some(egraph[id].data.shape.clone()), fun_spec(egraph, id))
            }
            ENodeOrVar::ENode(node) => {
                let kids: Option<Vec<Shape>> =
                    node.children().iter().map(|&c| shapes[usize::from(c)].clone()).collect();
                let kids = kids?;
                match node {
                    Node::Fun(k) => (Some(vec![]), egraph.analysis.funs.get(&k.0).cloned()),
                    Node::Apply([f, _]) => {
                        let spec = funs[usize::from(*f)].clone()?;
                        (apply_shape(&spec, &kids[1]), None)
                    }
                    _ => (node_shape(node, &kids, &egraph.analysis), None),
                }
            }
        };
        shapes.push(s);
        funs.push(f);
    }
    shapes.pop().flatten()
}

impl Applier<Node, Tables> for Checked {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        searcher_ast: Option<&PatternAst<Node>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        if !self.guards.iter().all(|(g, v)| subst.get(*v).is_some_and(|&id| g.holds(&egraph[id].data))) {
            return vec![];
        }
        let Some(shape) = instantiated_shape(egraph, &self.rhs, subst) else { return vec![] };
        if shape != egraph[eclass].data.shape {
            return vec![];
        }
        let (id, changed) = match searcher_ast {
            Some(ast) => egraph.union_instantiations(ast, &self.rhs, subst, rule_name),
            None => {
                let id = egraph.add_instantiation(&self.rhs, subst);
                (id, egraph.union(eclass, id))
            }
        };
        if changed {
            vec![id]
        } else {
            vec![]
        }
    }

    fn vars(&self) -> Vec<Var> {
        let mut vs = Vec::new();
        for n in self.rhs.as_ref() {
            if let ENodeOrVar::Var(v) = n {
                if !vs.contains(v) {
                    vs.push(*v);
                }
            }
        }
        vs
    }
}

/// `raise-network`: a class holding a tensor network gets the network's classic form:
/// the network is lowered, its like terms merged, and each term raised to matrix
/// products, transposes, Hadamard products, traces and sums with `1`.
pub struct RaiseNetwork;

/// Whether a class holds a network (or another raisable opaque tensor).
pub fn holds_network(egraph: &EGraph, eclass: Id) -> bool {
    egraph[eclass].nodes.iter().any(|n| match n {
        Node::Leaf(k) => egraph.analysis.leaves.get(&k.0).is_some_and(raisable),
        _ => false,
    })
}

fn raisable(e: &Expr) -> bool {
    matches!(e.kind, Kind::Network(_) | Kind::Gen { .. } | Kind::Permute(..) | Kind::DiffOf(_))
        && !matches!(e.kind, Kind::DiffOf(_))
}

/// The classic form of an opaque tensor by way of its network, if it has one.
pub fn raise_opaque(e: &Expr) -> Option<Expr> {
    if !raisable(e) {
        return None;
    }
    let terms = crate::egraph::raise::merge_terms(crate::network::lower(e));
    let raised = crate::egraph::raise::terms_to_expr(&terms, &e.shape);
    let classic = !contains_network(&raised);
    (classic && raised.shape == e.shape && raised != *e).then_some(raised)
}

/// True if a network occurs anywhere in `e`.
pub fn contains_network(e: &Expr) -> bool {
    matches!(e.kind, Kind::Network(_)) || e.children().iter().any(|c| contains_network(c))
}

impl Applier<Node, Tables> for RaiseNetwork {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        _: &Subst,
        _: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let leaves: Vec<Expr> = egraph[eclass]
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Leaf(k) => egraph.analysis.leaves.get(&k.0).cloned(),
                _ => None,
            })
            .collect();
        let mut changed = vec![];
        for leaf in leaves {
            let Some(raised) = raise_opaque(&leaf) else { continue };
            let mut rec = RecExpr::default();
            Encoder { tables: &mut egraph.analysis }.encode(&raised, &mut rec);
            let mut from = RecExpr::default();
            Encoder { tables: &mut egraph.analysis }.encode(&leaf, &mut from);
            // Only a union that changed something counts as applied, so that a raised
            // network does not keep the runner from seeing saturation.
            let (id, did) = if egraph.are_explanations_enabled() {
                let a = egraph.add_expr(&from);
                let b = egraph.add_expr(&rec);
                (b, egraph.union_trusted(a, b, rule))
            } else {
                let b = egraph.add_expr(&rec);
                (b, egraph.union(eclass, b))
            };
            if did {
                changed.push(id);
            }
        }
        changed
    }
}

/// The term an applier matched, as an id an explanation can start from: with
/// explanations on, the searcher's pattern instantiated node by node (as egg's own
/// `union_instantiations` does), so that a step reads `matched term = new term` rather
/// than `whatever the class first held = new term`; else the class.
fn matched(egraph: &mut EGraph, eclass: Id, ast: Option<&PatternAst<Node>>, subst: &Subst) -> Id {
    let Some(ast) = ast.filter(|_| egraph.are_explanations_enabled()) else { return eclass };
    let mut ids: Vec<Id> = Vec::with_capacity(ast.as_ref().len());
    for node in ast.as_ref() {
        let id = match node {
            ENodeOrVar::Var(v) => egraph.find(subst[*v]),
            ENodeOrVar::ENode(n) => egraph.add_uncanonical(n.clone().map_children(|c| ids[usize::from(c)])),
        };
        ids.push(id);
    }
    *ids.last().unwrap_or(&eclass)
}

/// Unions a class with a term an applier built, recording the rule when explanations
/// are on; gives the term's id if anything changed (what an applier returns).
fn union_by(egraph: &mut EGraph, eclass: Id, id: Id, rule: Symbol) -> Vec<Id> {
    let changed = if egraph.are_explanations_enabled() {
        egraph.union_trusted(eclass, id, rule)
    } else {
        egraph.union(eclass, id)
    };
    if changed {
        vec![id]
    } else {
        vec![]
    }
}

/// Adds a typed expression to the e-graph and unions it with `eclass` (see [`union_by`]).
fn union_expr(egraph: &mut EGraph, eclass: Id, e: &Expr, rule: Symbol) -> Vec<Id> {
    let mut rec = RecExpr::default();
    Encoder { tables: &mut egraph.analysis }.encode(e, &mut rec);
    let id = egraph.add_expr(&rec);
    union_by(egraph, eclass, id, rule)
}

/// The class a pattern variable such as `?a` is bound to.
fn bound(subst: &Subst, name: &str) -> Option<Id> {
    subst.get(name.parse::<Var>().expect("a variable name")).copied()
}

/// A searcher that matches whole classes by a predicate (no variables): the appliers
/// that look at a class's nodes or data rather than at a pattern.
pub struct ClassWhere(pub fn(&EGraph, Id) -> bool);

impl Searcher<Node, Tables> for ClassWhere {
    fn search_eclass_with_limit(
        &self,
        egraph: &EGraph,
        eclass: Id,
        limit: usize,
    ) -> Option<egg::SearchMatches<'_, Node>> {
        (limit > 0 && (self.0)(egraph, eclass)).then(|| egg::SearchMatches {
            eclass,
            substs: vec![Subst::default()],
            ast: None,
        })
    }

    fn vars(&self) -> Vec<Var> {
        vec![]
    }
}

/// `scalar-unit`: `1 · A = A`, for the ones that constant folding makes.
pub struct UnitScale;

impl Applier<Node, Tables> for UnitScale {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let from = matched(egraph, eclass, ast, subst);
        let (Some(c), Some(a)) = (bound(subst, "?c"), bound(subst, "?a")) else { return vec![] };
        if egraph[c].data.constant.as_ref().is_some_and(|v| v.is_one()) {
            return union_by(egraph, from, a, rule);
        }
        vec![]
    }
}

/// The number of operations of an expression as a reader counts them: each operator
/// node counts one (a sum of k terms k − 1), names and numbers none, and a tensor
/// network [`NETWORK_COST`]: the measure the simplest-form tests compare.
pub fn operations(e: &Expr) -> usize {
    let own = match &e.kind {
        Kind::Var(_) | Kind::Diff(_) | Kind::Const(_) | Kind::Ones | Kind::Identity => 0,
        Kind::Add(ts) => ts.len() - 1,
        Kind::Network(_) => NETWORK_COST as usize,
        _ => 1,
    };
    own + e.children().iter().map(|c| operations(c)).sum::<usize>()
}

/// True if `e` is written with classic operators only (tensor operators such as `⊗` and
/// permutations included), with no raw bracket term.
pub fn is_classic(e: &Expr) -> bool {
    !contains_network(e) && !matches!(e.kind, Kind::Gen { .. }) && e.children().iter().all(|c| is_classic(c))
}

/// `product-power`: `Xʲ Xᵏ = Xʲ⁺ᵏ` for integer powers of one square matrix (or scalar),
/// `X` counting as `X¹` and `X⁻¹` as `X⁻¹`; a zero exponent is left alone.
pub struct PowerMerge;

fn powers(egraph: &EGraph, id: Id) -> Vec<(Id, BigRational)> {
    let mut out = vec![(egraph.find(id), BigRational::one())];
    for n in &egraph[id].nodes {
        match n {
            Node::Power([x, k]) => {
                if let Some(k) = &egraph[*k].data.constant {
                    out.push((egraph.find(*x), k.clone()));
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

/// `scalar-zero-absorb`: a tensor known to be zero (a product, Hadamard product, tensor
/// product or transpose with a zero operand) is the zero tensor `0 · 1` of its shape,
/// so zeros never print inside larger forms.
pub struct ZeroAbsorb;

/// Whether a class is a tensor known to be zero.
pub fn is_zero_tensor(egraph: &EGraph, eclass: Id) -> bool {
    let d = &egraph[eclass].data;
    d.zero && !d.shape.is_empty() && !d.function
}

impl Applier<Node, Tables> for ZeroAbsorb {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let from = matched(egraph, eclass, ast, subst);
        // `0x` with a name of the same shape reads back with its size; `0` alone may not.
        let shape = egraph[eclass].data.shape.clone();
        let named =
            egraph.analysis.leaves.values().find(|e| matches!(e.kind, Kind::Var(_)) && e.shape == shape).cloned();
        let Some(x) = named else { return vec![] };
        let zero = Expr::new(Kind::Scale(BigRational::zero(), Box::new(x)), shape);
        union_expr(egraph, from, &zero, rule)
    }
}

/// `inverse-cancel`: `X⁻¹X = XX⁻¹ = I`, with `I` of the product's shape.
pub struct InverseCancel;

impl Applier<Node, Tables> for InverseCancel {
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
        let inverse_of = |x: Id, y: Id| {
            egraph[x].nodes.iter().any(|n| matches!(n, Node::Inverse(z) if egraph.find(*z) == egraph.find(y)))
        };
        let shape = egraph[eclass].data.shape.clone();
        if shape.len() != 2 || shape[0] != shape[1] || !(inverse_of(a, b) || inverse_of(b, a)) {
            return vec![];
        }
        union_expr(egraph, from, &Expr::new(Kind::Identity, shape), rule)
    }
}

/// `scalar-factor-opposite`: `cA − cB = c(A − B)` for a rational c (`2Vh − 2y` →
/// `2(Vh − y)`); written in Rust because it needs d = −c, a guard on two variables.
pub struct FactorOpposite;

impl Applier<Node, Tables> for FactorOpposite {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let from = matched(egraph, eclass, ast, subst);
        let [Some(c), Some(d), Some(a), Some(b)] = ["?c", "?d", "?a", "?b"].map(|v| bound(subst, v)) else {
            return vec![];
        };
        let (Some(x), Some(y)) = (egraph[c].data.constant.clone(), egraph[d].data.constant.clone()) else {
            return vec![];
        };
        if x.is_zero() || x != -y || egraph[a].data.shape != egraph[b].data.shape {
            return vec![];
        }
        let minus = egraph.add(Node::Num(-BigRational::one()));
        let nb = egraph.add(Node::Mul([minus, b]));
        let sum = egraph.add(Node::Add([a, nb]));
        let out = egraph.add(Node::Mul([c, sum]));
        union_by(egraph, from, out, rule)
    }
}

/// `sum-regroup`: in a sum of three or more terms, two terms that are alike or share a
/// factor (`AB` and `AC`, `BA` and `CA`, `A ⊙ B` and `A ⊙ C`) are brought next to each
/// other, `(t₁ + t₃) + t₂`, so that the two-term rules can combine them wherever they
/// stand. Sums are read through nested sums and rational coefficients, up to
/// [`REGROUP_TERMS`] terms; each match adds one regrouped sum.
pub struct SumRegroup;

/// The most terms a sum is read into for regrouping.
pub const REGROUP_TERMS: usize = 32;
/// The most of a class's sums that are read for regrouping.
pub const REGROUP_READINGS: usize = 4;

/// True if `eclass` holds a sum.
pub fn holds_sum(egraph: &EGraph, eclass: Id) -> bool {
    egraph[eclass].nodes.iter().any(|n| matches!(n, Node::Add(_)))
}

fn sum_terms(egraph: &EGraph, id: Id, coef: BigRational, depth: usize, out: &mut Vec<(BigRational, Id)>) {
    let id = egraph.find(id);
    if out.len() > REGROUP_TERMS {
        return;
    }
    let nodes = &egraph[id].nodes;
    if depth > 0 {
        if let Some(Node::Add([a, b])) = nodes.iter().find(|n| matches!(n, Node::Add(_))) {
            sum_terms(egraph, *a, coef.clone(), depth - 1, out);
            sum_terms(egraph, *b, coef, depth - 1, out);
            return;
        }
        let scaled = nodes.iter().find_map(|n| match n {
            Node::Mul([c, t]) => egraph[*c].data.constant.as_ref().filter(|c| !c.is_zero()).map(|c| (c.clone(), *t)),
            _ => None,
        });
        if let Some((c, t)) = scaled {
            return sum_terms(egraph, t, coef * c, depth - 1, out);
        }
    }
    out.push((coef, id));
}

/// True if the terms in classes `a` and `b` are alike or share a non-constant factor.
fn related(egraph: &EGraph, a: Id, b: Id) -> bool {
    if a == b {
        return true;
    }
    let factors = |id: Id| -> Vec<(u8, Id)> {
        egraph[id]
            .nodes
            .iter()
            .flat_map(|n| match n {
                Node::Mul([l, r]) if egraph[*l].data.constant.is_none() => {
                    vec![(0, egraph.find(*l)), (1, egraph.find(*r))]
                }
                Node::Hadamard([l, r]) => vec![(2, egraph.find(*l)), (2, egraph.find(*r))],
                _ => vec![],
            })
            .collect()
    };
    let fa = factors(a);
    let fb = factors(b);
    fa.iter().any(|f| fb.contains(f))
}

impl Applier<Node, Tables> for SumRegroup {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        _: &Subst,
        _: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let sums: Vec<[Id; 2]> = egraph[eclass]
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Add(ab) => Some(*ab),
                _ => None,
            })
            .take(REGROUP_READINGS)
            .collect();
        let mut out = Vec::new();
        for [a, b] in sums {
            let mut terms = Vec::new();
            sum_terms(egraph, a, BigRational::one(), 8, &mut terms);
            sum_terms(egraph, b, BigRational::one(), 8, &mut terms);
            if (3..=REGROUP_TERMS).contains(&terms.len()) {
                // An explanation starts from this reading of the sum.
                let from =
                    if egraph.are_explanations_enabled() { egraph.add_uncanonical(Node::Add([a, b])) } else { eclass };
                out.extend(regroup(egraph, from, &terms, rule));
            }
        }
        out
    }
}

/// Groups each term with the first later term it is related to, if any is, and unions
/// the regrouped sum with `eclass`.
fn regroup(egraph: &mut EGraph, eclass: Id, terms: &[(BigRational, Id)], rule: Symbol) -> Vec<Id> {
    // Each term is grouped with the first later term it is related to.
    let mut partner: Vec<Option<usize>> = vec![None; terms.len()];
    let mut taken = vec![false; terms.len()];
    for i in 0..terms.len() {
        if taken[i] {
            continue;
        }
        if let Some(j) = (i + 1..terms.len()).find(|&j| !taken[j] && related(egraph, terms[i].1, terms[j].1)) {
            partner[i] = Some(j);
            taken[j] = true;
        }
    }
    if partner.iter().all(Option::is_none) {
        return vec![];
    }
    let scaled = |egraph: &mut EGraph, (c, t): &(BigRational, Id)| {
        if c.is_one() {
            *t
        } else {
            let n = egraph.add(Node::Num(c.clone()));
            egraph.add(Node::Mul([n, *t]))
        }
    };
    let mut sum: Option<Id> = None;
    for i in 0..terms.len() {
        if taken[i] {
            continue;
        }
        let mut group = scaled(egraph, &terms[i]);
        if let Some(j) = partner[i] {
            let b = scaled(egraph, &terms[j]);
            group = egraph.add(Node::Add([group, b]));
        }
        sum = Some(match sum {
            Some(s) => egraph.add(Node::Add([s, group])),
            None => group,
        });
    }
    sum.map(|s| union_by(egraph, eclass, s, rule)).unwrap_or_default()
}
