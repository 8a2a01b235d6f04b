//! The e-graph's language: leaves and functions keyed by text, and the analysis that
//! gives every class its shape, its constant value and its flags.

#[allow(unused_imports)]
use super::*;

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
    /// Holds a product with an identity factor (`AI`), which the analysis unions with
    /// its other factor. A flag of its own so that a factor becoming an identity after
    /// the product was made (`L⁻¹L = I` in `L⁻ᵀ(L⁻¹L)`) changes the product's data,
    /// and so reaches `modify`.
    pub unit_factor: bool,
    /// The operators of the class's nodes, one bit each ([`op_bit`]): a search can pass
    /// over a class whose child lacks the operator its pattern needs there. It decides
    /// nothing else: [`Tables::merge`] reports a change only for the other fields.
    pub ops: u32,
    /// Holds a function applied to a compound argument (`tanh(Xw)`), whose square is
    /// one power (`tanh(Xw)^{⊙2}`), unlike a function of a name (`sqrt(v) ⊙ sqrt(v)`).
    /// An index for the `compound` guard, as `ops` is.
    pub applied_to_compound: bool,
}

/// The bit of a node's operator in [`Data::ops`].
pub fn op_bit(n: &Node) -> u32 {
    let k = match n {
        Node::Add(_) => 0,
        Node::Mul(_) => 1,
        Node::Div(_) => 2,
        Node::Transpose(_) => 3,
        Node::Inverse(_) => 4,
        Node::Power(_) => 5,
        Node::HPower(_) => 6,
        Node::Hadamard(_) => 7,
        Node::HDiv(_) => 8,
        Node::Kron(_) => 9,
        Node::Dot(_) => 10,
        Node::Trace(_) => 11,
        Node::Det(_) => 12,
        Node::Diag(_) => 13,
        Node::Sum(_) => 14,
        Node::Norm(_) => 15,
        Node::Apply(_) => 16,
        Node::Num(_) => 17,
        Node::Fun(_) => 18,
        Node::Leaf(_) => 19,
    };
    1 << k
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
    /// The model's names in the order its definitions and expressions first use them
    /// (shared: a long sum's terms are simplified one by one with one model's).
    pub written: std::sync::Arc<indexmap::IndexSet<String>>,
    /// Leaf key → its classic raising (None where it has none), once worked out: the
    /// `raise-network` applier meets every opaque leaf again each iteration.
    pub raised: std::collections::HashMap<String, Option<Expr>>,
    /// Sizes that may stand as scalars (`1ᵀ1` of length N is N): every named size of the
    /// model but one that also names a vector or matrix.
    pub sizes: indexmap::IndexSet<String>,
}

impl Tables {
    /// Tables for simplifying expressions of `model`: the functions the rules mention
    /// and the names the model declares symmetric.
    pub fn for_model(model: &Model) -> Tables {
        let shared = SHARED.with(|s| {
            s.borrow().as_ref().filter(|(at, _)| *at == model as *const Model as usize).map(|(_, t)| t.clone())
        });
        let mut tables = Tables::default();
        for (k, v) in &crate::egraph::rules::rules().funs {
            tables.funs.insert(k.clone(), v.clone());
        }
        let names = shared.unwrap_or_else(|| std::sync::Arc::new(ModelNames::of(model)));
        tables.written = names.written.clone();
        tables.symmetric = names.symmetric.clone();
        tables.sizes = names.sizes.clone();
        tables
    }

    /// Runs `f` with the tables of `model` worked out once for every run in it over that
    /// model (by pointer: `model` is borrowed, so unchanged, throughout). A sum's gradient
    /// compared with its terms' (`gradient::by_terms`) simplifies each term with the whole
    /// model: 3000 terms walked a model of 3000 terms each.
    pub fn shared_for<R>(model: &Model, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<(usize, std::sync::Arc<ModelNames>)>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let before = self.0.take();
                SHARED.with(|s| *s.borrow_mut() = before);
            }
        }
        let names = std::sync::Arc::new(ModelNames::of(model));
        let before = SHARED.with(|s| s.borrow_mut().replace((model as *const Model as usize, names)));
        let _restore = Restore(before);
        f()
    }
}

/// What a model's tables take from its names, worked out once (see [`Tables::shared_for`]).
struct ModelNames {
    written: std::sync::Arc<indexmap::IndexSet<String>>,
    symmetric: indexmap::IndexSet<String>,
    sizes: indexmap::IndexSet<String>,
}

thread_local! {
    /// The model [`Tables::shared_for`] is running over (its address), and its names.
    static SHARED: std::cell::RefCell<Option<(usize, std::sync::Arc<ModelNames>)>> =
        const { std::cell::RefCell::new(None) };
}

impl ModelNames {
    fn of(model: &Model) -> ModelNames {
        let mut written = indexmap::IndexSet::new();
        let mut symmetric = indexmap::IndexSet::new();
        let mut sizes = indexmap::IndexSet::new();
        // Names in the order the model's definitions and expressions first use them,
        // then any other (declared but unused).
        fn uses(e: &Expr, out: &mut indexmap::IndexSet<String>) {
            if let Kind::Var(n) = &e.kind {
                // Looked up before cloned: a long sum names the same few many times.
                if !out.contains(n.as_str()) {
                    out.insert(n.clone());
                }
            }
            for c in e.children() {
                uses(c, out);
            }
        }
        for (_, e) in &model.definitions {
            uses(e, &mut written);
        }
        for e in model.exprs.iter().chain(model.queries.iter().map(|q| &q.expr)) {
            uses(e, &mut written);
        }
        for (name, info) in &model.names {
            if info.symmetric {
                symmetric.insert(name.clone());
            }
            written.insert(name.clone());
            for d in &info.shape {
                if let crate::ir::shape::Dim::Sym(size) = d {
                    sizes.insert(size.clone());
                }
            }
        }
        sizes.retain(|size| model.names.get(size).is_none_or(|info| info.shape.is_empty()));
        // A name defined as a symmetric form (`Σ = WWᵀ + diag(ψ)`) is one; its value is
        // computed, never drawn, so only the simplifier learns of it.
        symmetric.extend(model.symmetric_definitions());
        ModelNames { written: std::sync::Arc::new(written), symmetric, sizes }
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
pub(super) fn apply_shape(spec: &FunSpec, arg: &Shape) -> Option<Shape> {
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

pub(super) fn transpose_shape(a: &Shape) -> Option<Shape> {
    match a.len() {
        1 => Some(vec![Dim::Iota, a[0].clone()]),
        2 if a[0] == Dim::Iota => Some(vec![a[1].clone()]),
        2 => Some(vec![a[1].clone(), a[0].clone()]),
        _ => None,
    }
}

/// The shape of a node in the e-graph from its children's classes.
pub(super) fn shape_in(egraph: &EGraph, node: &Node) -> Option<Shape> {
    let kids: Vec<Shape> = node.children().iter().map(|&c| egraph[c].data.shape.clone()).collect();
    if let Node::Apply([f, _]) = node {
        let spec = fun_spec(egraph, *f)?;
        return apply_shape(&spec, &kids[1]);
    }
    node_shape(node, &kids, &egraph.analysis)
}

pub(super) fn fun_spec(egraph: &EGraph, f: Id) -> Option<FunSpec> {
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
            unit_factor: false,
            ops: op_bit(enode),
            applied_to_compound: false,
        };
        match enode {
            Node::Leaf(k) => {
                if let Some(e) = egraph.analysis.leaves.get(&k.0) {
                    d.identity = matches!(e.kind, Kind::Identity);
                    d.ones = matches!(e.kind, Kind::Ones);
                    // A square ones matrix is symmetric too (`Θ ⊙ Θ + ε1`).
                    let square = e.order() == 2 && e.shape[0] == e.shape[1];
                    d.symmetric = d.identity
                        || d.ones && square
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
                // `AᵀA` and `AAᵀ`: one factor's class holds the other's transpose.
                let transpose_of = |x: Id, y: Id| {
                    egraph[x].nodes.iter().any(|n| matches!(n, Node::Transpose(c) if egraph.find(*c) == egraph.find(y)))
                };
                d.symmetric = (sa.is_empty() && kid(1).symmetric)
                    || (sb.is_empty() && kid(0).symmetric)
                    || egraph.lookup(Node::Transpose(*a)).map(|t| egraph.find(t)) == Some(egraph.find(*b))
                    || transpose_of(*a, *b)
                    || transpose_of(*b, *a)
                    // `SS` for a symmetric S.
                    || (egraph.find(*a) == egraph.find(*b) && kid(0).symmetric);
                d.zero = kid(0).zero || kid(1).zero;
                d.unit_factor = (kid(0).identity && !sb.is_empty()) || (kid(1).identity && !sa.is_empty());
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
                // One's reciprocal is one (`x/1` as `1⁻¹x` is x); another number's stays a
                // quotient, `x/2` (as a number, `(1/2)x` would tie it).
                d.constant = kid(0).constant.clone().filter(|c| c.abs().is_one());
            }
            Node::Hadamard(_) => {
                d.symmetric = kid(0).symmetric && kid(1).symmetric;
                d.zero = kid(0).zero || kid(1).zero;
            }
            Node::Kron(_) => d.zero = kid(0).zero || kid(1).zero,
            Node::HDiv(_) => {
                d.symmetric = kid(0).symmetric && kid(1).symmetric;
                d.zero = kid(0).zero;
            }
            // A power of a symmetric matrix is one (`(S²)ᵀ = S²`, `S⁻²`); a whole power
            // of a number is a number (`1²`, once a fact made 1ᵀp one).
            Node::Power([x, k]) => {
                d.symmetric = egraph[*x].data.symmetric;
                d.constant = match (&egraph[*x].data.constant, &egraph[*k].data.constant) {
                    (Some(b), Some(k)) if k.is_integer() && k.numer().magnitude() <= &8u32.into() => {
                        let n = k.to_integer();
                        let whole = num_traits::ToPrimitive::to_i32(&n).unwrap_or(0);
                        if (b.is_zero() && whole < 0) || !crate::limits::power_fits(b, whole.into()) {
                            None
                        } else {
                            Some(num_traits::Pow::pow(b.clone(), whole))
                        }
                    }
                    _ => None,
                };
            }
            // Entry by entry, a symmetric matrix stays symmetric: `sqrt'(Θ ⊙ Θ + ε11ᵀ)`.
            Node::HPower([x, _]) => d.symmetric = egraph[*x].data.symmetric,
            Node::Apply([f, x]) => {
                let elementwise = matches!(fun_spec(egraph, *f), Some(FunSpec::Elementwise(..)));
                d.symmetric = elementwise && egraph[*x].data.symmetric;
                d.applied_to_compound = crate::egraph::rules::Guard::Compound.holds(&egraph[*x].data);
            }
            Node::Diag(_) => {
                d.symmetric = kid(0).shape.len() == 1;
                d.zero = kid(0).zero;
            }
            Node::Trace(_) | Node::Det(_) | Node::Dot(_) | Node::Sum(_) | Node::Norm(_) => d.symmetric = true,
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
        a.unit_factor |= b.unit_factor;
        // The operators are an index for searching, not a fact for the parents: a change
        // of them alone is no change (so the analysis runs exactly as without them).
        a.ops |= b.ops;
        a.applied_to_compound |= b.applied_to_compound;
        let same = |x: &Data, y: &Data| {
            x.shape == y.shape
                && x.constant == y.constant
                && (x.symmetric, x.identity, x.ones, x.zero, x.function, x.unit_factor)
                    == (y.symmetric, y.identity, y.ones, y.zero, y.function, y.unit_factor)
        };
        let changed_a = !same(a, &before);
        let changed_b = !same(a, &b);
        DidMerge(changed_a, changed_b)
    }

    fn modify(egraph: &mut EGraph, id: Id) {
        // The identity is a unit of products, whenever a factor comes to be one: the
        // rules `identity-left`/`-right` would find it too, unless banned by then.
        if egraph[id].data.unit_factor {
            let shape = egraph[id].data.shape.clone();
            let other = egraph[id].nodes.iter().find_map(|n| match n {
                Node::Mul([a, b]) if egraph[*a].data.identity && egraph[*b].data.shape == shape => {
                    Some((*b, "identity-left"))
                }
                Node::Mul([a, b]) if egraph[*b].data.identity && egraph[*a].data.shape == shape => {
                    Some((*a, "identity-right"))
                }
                _ => None,
            });
            if let Some((other, rule)) = other {
                if egraph.find(other) != egraph.find(id) {
                    union_named(egraph, id, other, rule);
                }
            }
        }
        if egraph[id].data.zero && egraph[id].data.shape.is_empty() && egraph[id].data.constant.is_none() {
            egraph[id].data.constant = Some(BigRational::zero());
        }
        // Constant folding: a scalar class with a known value holds that number.
        if let Some(c) = egraph[id].data.constant.clone() {
            if egraph[id].data.shape.is_empty() && !egraph[id].nodes.iter().any(|n| matches!(n, Node::Num(_))) {
                let n = egraph.add(Node::Num(c));
                union_named(egraph, id, n, "arithmetic");
            }
            // A number is its class: the products and sums that make it would only let
            // rules split it into every factorisation of every coefficient.
            if egraph[id].data.shape.is_empty() {
                egraph[id].nodes.retain(|n| matches!(n, Node::Num(_)));
            }
        }
    }
}

#[cfg(test)]
mod symmetry_tests {
    use crate::ir::symmetry::is_symmetric;

    fn symmetric(text: &str) -> bool {
        let model = crate::read::elaborate::read(text).unwrap();
        let known = |n: &str| model.names.get(n).is_some_and(|i| i.symmetric);
        is_symmetric(model.main_expr().unwrap(), &known)
    }

    #[test]
    fn forms_that_are_symmetric() {
        assert!(symmetric("W: matrix(p, k); psi: vector(p); W W^T + diag(psi)"));
        assert!(symmetric("X: matrix(N, p); lambda: scalar; X^T X + lambda I"));
        assert!(symmetric("X: matrix(N, p); S: symmetric(N); a: scalar; a X^T S X / 2"));
        assert!(symmetric("D: symmetric(N); a, l, s: scalar; a exp(-D / l^2) + s I"));
        assert!(symmetric("S: symmetric(n); (S^-1 + I)^-1"));
        // A symmetric factor mirrors itself: S⁻¹vvᵀS⁻¹, SAS with A symmetric.
        assert!(symmetric("S: symmetric(n); v: vector(n); S^-1 v v^T S^-1"));
        assert!(symmetric("S, A: symmetric(n); S A S"));
    }

    #[test]
    fn forms_not_shown_symmetric() {
        assert!(!symmetric("A: matrix(n, n); A + I"));
        assert!(!symmetric("A, B: matrix(n, n); A B^T"));
        assert!(!symmetric("X: matrix(N, p); S: matrix(N, N); X^T S X"));
        assert!(!symmetric("A: matrix(n, n); S: symmetric(n); A S"));
        assert!(!symmetric("A: matrix(n, n); S: symmetric(n); A S A"));
    }
}
