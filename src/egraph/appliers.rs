//! The Rust appliers of rules that a pattern cannot say: checked unions, raising
//! networks, unit scales, and the rest; and the class searcher they use (powers are in
//! `powers.rs`).

#[allow(unused_imports)]
use super::*;

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

/// The class of `pat` under `subst` if the e-graph already holds every node of it.
pub fn lookup_instantiation(egraph: &EGraph, pat: &PatternAst<Node>, subst: &Subst) -> Option<Id> {
    let nodes = pat.as_ref();
    let mut ids: Vec<Id> = Vec::with_capacity(nodes.len());
    for n in nodes {
        let id = match n {
            ENodeOrVar::Var(v) => *subst.get(*v)?,
            ENodeOrVar::ENode(node) => {
                let node = node.clone().map_children(|c| ids[usize::from(c)]);
                egraph.lookup(node)?
            }
        };
        ids.push(id);
    }
    ids.pop()
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
        // A match seen in an earlier iteration is usually there already: then its class
        // gives the shape, and when it is this class there is nothing to do.
        match lookup_instantiation(egraph, &self.rhs, subst) {
            Some(id) if egraph.find(id) == egraph.find(eclass) => return vec![],
            Some(id) => {
                if egraph[id].data.shape != egraph[eclass].data.shape {
                    return vec![];
                }
            }
            None => {
                let Some(shape) = instantiated_shape(egraph, &self.rhs, subst) else { return vec![] };
                if shape != egraph[eclass].data.shape {
                    return vec![];
                }
            }
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

pub(super) fn raisable(e: &Expr) -> bool {
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
        let keys: Vec<String> = egraph[eclass]
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Leaf(k) if egraph.analysis.leaves.contains_key(&k.0) => Some(k.0.clone()),
                _ => None,
            })
            .collect();
        let mut changed = vec![];
        for key in keys {
            let leaf = egraph.analysis.leaves[&key].clone();
            let raised = match egraph.analysis.raised.get(&key) {
                Some(r) => r.clone(),
                None => {
                    let r = raise_opaque(&leaf);
                    egraph.analysis.raised.insert(key, r.clone());
                    r
                }
            };
            let Some(raised) = raised else { continue };
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
pub(super) fn matched(egraph: &mut EGraph, eclass: Id, ast: Option<&PatternAst<Node>>, subst: &Subst) -> Id {
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
pub(super) fn union_by(egraph: &mut EGraph, eclass: Id, id: Id, rule: Symbol) -> Vec<Id> {
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
pub(super) fn union_expr(egraph: &mut EGraph, eclass: Id, e: &Expr, rule: Symbol) -> Vec<Id> {
    let mut rec = RecExpr::default();
    Encoder { tables: &mut egraph.analysis }.encode(e, &mut rec);
    let id = egraph.add_expr(&rec);
    union_by(egraph, eclass, id, rule)
}

/// The class a pattern variable such as `?a` is bound to.
pub(super) fn bound(subst: &Subst, name: &'static str) -> Option<Id> {
    // Each name is read (and interned) once per thread, not at every match.
    thread_local! {
        static VARS: std::cell::RefCell<Vec<(&'static str, Var)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let var = VARS.with(|vars| {
        let mut vars = vars.borrow_mut();
        match vars.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => *v,
            None => {
                let v = name.parse::<Var>().expect("a variable name");
                vars.push((name, v));
                v
            }
        }
    });
    subst.get(var).copied()
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
/// network `NETWORK_COST`: the measure the simplest-form tests compare.
pub fn operations(e: &Expr) -> usize {
    let own = match &e.kind {
        Kind::Var(_) | Kind::Diff(_) | Kind::Const(_) | Kind::Ones | Kind::Identity => 0,
        Kind::Add(ts) => ts.len() - 1,
        Kind::Network(_) => NETWORK_COST as usize,
        _ => 1,
    };
    own + e.children().iter().map(|c| operations(c)).sum::<usize>()
}

/// True if `e` is written with classic operators only, with no raw bracket term. The
/// tutorial's tensor operators count: `⊗`, permutations and the generalized products
/// `A^{P} ⊙^{Q} B`, `A ⊙_k B`, `A ·_k B`.
pub fn is_classic(e: &Expr) -> bool {
    !contains_network(e)
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

/// `trace-cycle`: `tr(ABC) = tr(CAB)`, but only between traces the e-graph holds
/// already: the rotations of a trace's product are looked up, never added. So
/// `tr(ABC) − tr(CAB)` meets as like terms, while `tr(AX⁻¹B)` keeps the rotation it
/// was written in (every rotation costs the same, and nothing else could choose).
pub struct TraceRotations;

/// The factors of the matrix product in `class`, left to right (the class itself when
/// it holds no such product, or holds a name); at most [`LONG_CHAIN`] of them.
pub(super) fn chain_factors(egraph: &EGraph, class: Id, out: &mut Vec<Id>, depth: usize) {
    let class = egraph.find(class);
    let product = egraph[class].nodes.iter().find_map(|n| match n {
        Node::Mul([a, b]) if !egraph[*a].data.shape.is_empty() && !egraph[*b].data.shape.is_empty() => Some((*a, *b)),
        _ => None,
    });
    let named = egraph[class].nodes.iter().any(|n| matches!(n, Node::Leaf(_)));
    match product {
        Some((a, b)) if !named && depth < LONG_CHAIN && out.len() < LONG_CHAIN => {
            chain_factors(egraph, a, out, depth + 1);
            chain_factors(egraph, b, out, depth + 1);
        }
        _ => out.push(class),
    }
}

impl Applier<Node, Tables> for TraceRotations {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        _ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let Some(a) = bound(subst, "?a") else { return vec![] };
        let mut factors = Vec::new();
        chain_factors(egraph, a, &mut factors, 0);
        let mut out = Vec::new();
        for k in 1..factors.len() {
            let rotated = factors[k..].iter().chain(&factors[..k]).copied();
            let product = rotated.map(Some).reduce(|acc, f| egraph.lookup(Node::Mul([acc?, f?])));
            let Some(Some(product)) = product else { continue };
            if let Some(trace) = egraph.lookup(Node::Trace(product)) {
                if egraph.find(trace) != egraph.find(eclass) {
                    out.extend(union_by(egraph, eclass, trace, rule));
                }
            }
        }
        out
    }
}

/// `hadamard-divide-self`: `A ⊘ A = 1`, the ones tensor of A's shape (the input was
/// divided by A, so its conditions already say A has no zero entry).
pub struct SelfDivide;

impl Applier<Node, Tables> for SelfDivide {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let from = matched(egraph, eclass, ast, subst);
        let shape = egraph[eclass].data.shape.clone();
        if shape.is_empty() {
            return vec![];
        }
        union_expr(egraph, from, &Expr::new(Kind::Ones, shape), rule)
    }
}

/// `identity-diag-ones`: `diag(1) = I` for a ones vector, and the diagonal of a ones
/// matrix is a ones vector (`diag(1 ⊘ P ⊙ P)` in the InfoNCE gradient). A rule's right
/// side cannot name an identity or ones tensor of the matched size.
pub struct DiagOnes;

impl Applier<Node, Tables> for DiagOnes {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let from = matched(egraph, eclass, ast, subst);
        let Some(a) = bound(subst, "?a") else { return vec![] };
        if !egraph[a].data.ones {
            return vec![];
        }
        let shape = egraph[eclass].data.shape.clone();
        let kind = match shape.len() {
            1 => Kind::Ones,
            2 => Kind::Identity,
            _ => return vec![],
        };
        union_expr(egraph, from, &Expr::new(kind, shape), rule)
    }
}

/// `scalar-sum-vector`: `sum(x) = 1ᵀx` for a vector x, so that the two spellings meet
/// (`sum(x) − 1ᵀx` is 0) and the rules on `1ᵀ(…)` see a sum (`sum(a ⊙ b)` is `aᵀb`);
/// the ones vector takes x's shape, which a rule's right side cannot name. `sum(x)` is
/// the cheaper of the two, so an answer found as one stays one.
pub struct SumOnes;

impl Applier<Node, Tables> for SumOnes {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let from = matched(egraph, eclass, ast, subst);
        let Some(a) = bound(subst, "?a") else { return vec![] };
        let shape = egraph[a].data.shape.clone();
        if shape.len() != 1 || egraph[a].data.function {
            return vec![];
        }
        let ones = add_ones(egraph, shape);
        let row = egraph.add(Node::Transpose(ones));
        let inner = egraph.add(Node::Mul([row, a]));
        union_by(egraph, from, inner, rule)
    }
}

/// `scalar-ones-count`: `1ᵀ1` is the vector's length, a number or the named size
/// (`1_Nᵀ1_N P` is `NP`, which reads back as it is: a size used alone is that size).
pub struct OnesCount;

impl Applier<Node, Tables> for OnesCount {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let (Some(row), Some(b)) = (bound(subst, "?r"), bound(subst, "?b")) else { return vec![] };
        if !egraph[row].data.ones {
            return vec![];
        }
        let (rs, bs) = (&egraph[row].data.shape, &egraph[b].data.shape);
        if !egraph[b].data.ones || rs.len() != 1 || rs != bs {
            return vec![];
        }
        let Some(count) = count_of(egraph, &rs[0]) else { return vec![] };
        let from = matched(egraph, eclass, ast, subst);
        union_expr(egraph, from, &count, rule)
    }
}

/// The length a ones vector of `dim` sums to: a number, or a size that stands as a scalar.
fn count_of(egraph: &EGraph, dim: &Dim) -> Option<Expr> {
    match dim {
        Dim::Int(n) => Some(Expr::new(Kind::Const(BigRational::from_integer((*n).into())), vec![])),
        Dim::Sym(size) if egraph.analysis.sizes.contains(size) => Some(Expr::new(Kind::Var(size.clone()), vec![])),
        _ => None,
    }
}

/// The products in `eclass` of a ones matrix by a ones vector or matrix, with the length
/// their inner dim sums to: `1_{N×k} 1_k = k 1_N` (a label-smoothing target's `11ᵀ`
/// meets the row sums of a softmax).
fn ones_products(egraph: &EGraph, eclass: Id) -> Vec<(Expr, Shape)> {
    let mut out = Vec::new();
    for n in &egraph[eclass].nodes {
        let Node::Mul([a, b]) = n else { continue };
        let (da, db) = (&egraph[*a].data, &egraph[*b].data);
        if !(da.ones && db.ones && da.shape.len() == 2 && !db.shape.is_empty() && da.shape[1] == db.shape[0]) {
            continue;
        }
        if let Some(count) = count_of(egraph, &da.shape[1]) {
            out.push((count, egraph[eclass].data.shape.clone()));
        }
    }
    out
}

/// Whether `eclass` holds a product [`OnesContract`] rewrites.
pub fn holds_ones_product(egraph: &EGraph, eclass: Id) -> bool {
    !ones_products(egraph, eclass).is_empty()
}

/// `scalar-ones-contract`: a ones matrix times a ones vector or matrix is the inner
/// length times ones, `1_{N×k} 1_k = k 1_N`.
pub struct OnesContract;

impl Applier<Node, Tables> for OnesContract {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        _subst: &Subst,
        _ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let mut out = Vec::new();
        for (count, shape) in ones_products(egraph, eclass) {
            let e = crate::ir::build::product(count, Expr::new(Kind::Ones, shape));
            out.extend(union_expr(egraph, eclass, &e, rule));
        }
        out
    }
}

/// `function-softmax-row-sums`: the rows of a row-wise softmax sum to one,
/// `softmax(A)1 = 1` (NCA's `(C ⊙ P)1 ⊙ P1` with P such a softmax); the ones vector
/// takes the rows' size, which a rule's right side cannot name.
pub struct SoftmaxRowSums;

impl Applier<Node, Tables> for SoftmaxRowSums {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let Some(o) = bound(subst, "?o") else { return vec![] };
        let shape = egraph[eclass].data.shape.clone();
        if !egraph[o].data.ones || egraph[o].data.shape.len() != 1 || shape.len() != 1 {
            return vec![];
        }
        let from = matched(egraph, eclass, ast, subst);
        let ones = add_ones(egraph, shape);
        union_by(egraph, from, ones, rule)
    }
}

/// The ones tensor of `shape`, added to the e-graph: a rule's right side cannot name one
/// of the matched size, so the appliers that need it make it here.
fn add_ones(egraph: &mut EGraph, shape: Shape) -> Id {
    let mut rec = RecExpr::default();
    Encoder { tables: &mut egraph.analysis }.encode(&Expr::new(Kind::Ones, shape), &mut rec);
    egraph.add_expr(&rec)
}

/// `function-ln-prime-reciprocal` and `function-sqrt-prime-reciprocal`: `ln'(A) = 1 ⊘ A`
/// and `sqrt'(A) = (1/2)(1 ⊘ sqrt(A))` for a vector or matrix A (a scalar's are rules of
/// their own); the ones tensor takes A's shape, which a rule's right side cannot name.
pub struct PrimeReciprocal {
    /// `sqrt`, else `ln`.
    pub sqrt: bool,
}

impl Applier<Node, Tables> for PrimeReciprocal {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let from = matched(egraph, eclass, ast, subst);
        let shape = egraph[eclass].data.shape.clone();
        let Some(a) = bound(subst, "?a") else { return vec![] };
        if shape.is_empty() {
            return vec![];
        }
        let ones = add_ones(egraph, shape);
        let reciprocal = if self.sqrt {
            let spec = FunSpec::Elementwise(Func::Sqrt, 0);
            let key = fun_key(&spec);
            egraph.analysis.funs.entry(key.clone()).or_insert(spec);
            let f = egraph.add(Node::Fun(FunName(key)));
            let root = egraph.add(Node::Apply([f, a]));
            let quotient = egraph.add(Node::HDiv([ones, root]));
            let half = egraph.add(Node::Num(BigRational::new(1.into(), 2.into())));
            egraph.add(Node::Mul([half, quotient]))
        } else {
            egraph.add(Node::HDiv([ones, a]))
        };
        union_by(egraph, from, reciprocal, rule)
    }
}

/// `function-tanh-prime` and `function-sigmoid-prime`: `tanh'(A) = 1 − tanh(A) ⊙ tanh(A)`
/// and `σ'(A) = σ(A) ⊙ (1 − σ(A))` for a vector or matrix A. Larger than the derivative
/// alone, smaller where the function's value has a name (`1 − H ⊙ H` for
/// `H = tanh(XW + 1bᵀ)`); the ones tensor takes A's shape, which a rule's right side
/// cannot name.
pub struct PrimeByValue {
    /// `tanh`, else the sigmoid.
    pub tanh: bool,
}

impl Applier<Node, Tables> for PrimeByValue {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        eclass: Id,
        subst: &Subst,
        ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let from = matched(egraph, eclass, ast, subst);
        let shape = egraph[eclass].data.shape.clone();
        let Some(a) = bound(subst, "?a") else { return vec![] };
        let name = if self.tanh { "tanh" } else { "sigmoid" };
        if shape.is_empty() {
            return vec![];
        }
        // Only where the function's value is in the e-graph already (a defined name's
        // class holds it): else the form by value is larger, and only grows the graph.
        let Some(plain) = egraph.lookup(Node::Fun(FunName(name.into()))) else { return vec![] };
        let Some(value) = egraph.lookup(Node::Apply([plain, a])) else { return vec![] };
        let ones = add_ones(egraph, shape);
        let minus = egraph.add(Node::Num(BigRational::from_integer((-1).into())));
        let by_value = if self.tanh {
            let square = egraph.add(Node::Hadamard([value, value]));
            let negated = egraph.add(Node::Mul([minus, square]));
            egraph.add(Node::Add([ones, negated]))
        } else {
            let negated = egraph.add(Node::Mul([minus, value]));
            let complement = egraph.add(Node::Add([ones, negated]));
            egraph.add(Node::Hadamard([value, complement]))
        };
        union_by(egraph, from, by_value, rule)
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

/// `hadamard-row-scaling-shared` (and `-column-`): beside a Hadamard product with S, a
/// scaled S is a Hadamard product too, `diag(v)S = v1ᵀ ⊙ S` (`S diag(v) = 1vᵀ ⊙ S`), so
/// that the two factor: `GVᵀ ⊙ S − diag(r)S = (GVᵀ − r1ᵀ) ⊙ S`, S written once less (the
/// attention gradient). Only there: elsewhere `diag(v)S` is the smaller, and a ones
/// tensor of S's size is what a rule's right side cannot name.
pub struct ScalingBesideHadamard {
    /// `S diag(v)`, else `diag(v) S`.
    pub column: bool,
}

impl Applier<Node, Tables> for ScalingBesideHadamard {
    fn apply_one(
        &self,
        egraph: &mut EGraph,
        _eclass: Id,
        subst: &Subst,
        _ast: Option<&PatternAst<Node>>,
        rule: Symbol,
    ) -> Vec<Id> {
        let [Some(a), Some(v), Some(s)] = ["?a", "?v", "?S"].map(|n| bound(subst, n)) else { return vec![] };
        if bound(subst, "?c").is_some_and(|c| egraph[c].data.constant.is_none()) {
            return vec![];
        }
        let (sv, ss) = (&egraph[v].data.shape, &egraph[s].data.shape);
        if sv.len() != 1 || sv[0] == Dim::Iota || ss.len() != 2 || ss.contains(&Dim::Iota) {
            return vec![];
        }
        let s = egraph.find(s);
        let beside = egraph[a].nodes.iter().any(|n| match n {
            Node::Hadamard([p, q]) => egraph.find(*p) == s || egraph.find(*q) == s,
            _ => false,
        });
        if !beside {
            return vec![];
        }
        let Some(diag) = egraph.lookup(Node::Diag(v)) else { return vec![] };
        let scaled = if self.column { Node::Mul([s, diag]) } else { Node::Mul([diag, s]) };
        let Some(scaled) = egraph.lookup(scaled) else { return vec![] };
        let ones = add_ones(egraph, vec![ss[usize::from(!self.column)].clone()]);
        let spread = if self.column {
            let row = egraph.add(Node::Transpose(v));
            egraph.add(Node::Mul([ones, row]))
        } else {
            let row = egraph.add(Node::Transpose(ones));
            egraph.add(Node::Mul([v, row]))
        };
        let product = egraph.add(Node::Hadamard([spread, s]));
        union_by(egraph, scaled, product, rule)
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

pub(super) fn sum_terms(egraph: &EGraph, id: Id, coef: BigRational, depth: usize, out: &mut Vec<(BigRational, Id)>) {
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
            // Most coefficients are ±1 or one number: multiply only two proper ones.
            let coef = if coef.is_one() {
                c
            } else if c.is_one() {
                coef
            } else {
                coef * c
            };
            return sum_terms(egraph, t, coef, depth - 1, out);
        }
    }
    out.push((coef, id));
}

/// The factors of the products in class `id` by which two terms are related: each side
/// of a matrix product (whose left side is not a number), each operand of a Hadamard
/// product; and a diagonal or a trace, which relates it to every other.
fn relating_factors(egraph: &EGraph, id: Id) -> Vec<(u8, Id)> {
    let mut out = Vec::new();
    for n in &egraph[id].nodes {
        match n {
            Node::Mul([l, r]) if egraph[*l].data.constant.is_none() => {
                out.extend([(0, egraph.find(*l)), (1, egraph.find(*r))]);
            }
            Node::Hadamard([l, r]) => out.extend([(2, egraph.find(*l)), (2, egraph.find(*r))]),
            // Diagonals add inside one (`diag(u) − diag(v)` → `diag(u − v)`), and traces
            // inside one: any two are related.
            Node::Diag(_) => out.push((3, Id::from(0usize))),
            Node::Trace(_) => out.push((4, Id::from(0usize))),
            _ => {}
        }
    }
    out
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
pub(super) fn regroup(egraph: &mut EGraph, eclass: Id, terms: &[(BigRational, Id)], rule: Symbol) -> Vec<Id> {
    // Each term is grouped with the first later term it is related to.
    // Two terms are related when they are alike or share a non-constant factor.
    let factors: Vec<Vec<(u8, Id)>> = terms.iter().map(|(_, t)| relating_factors(egraph, *t)).collect();
    let related = |i: usize, j: usize| terms[i].1 == terms[j].1 || factors[i].iter().any(|f| factors[j].contains(f));
    let mut partner: Vec<Option<usize>> = vec![None; terms.len()];
    let mut taken = vec![false; terms.len()];
    for i in 0..terms.len() {
        if taken[i] {
            continue;
        }
        if let Some(j) = (i + 1..terms.len()).find(|&j| !taken[j] && related(i, j)) {
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
