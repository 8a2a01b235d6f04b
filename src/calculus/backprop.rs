//! Backpropagation equations for programs: `name = expr` definitions and a
//! `grad J wrt W, b` query give `∇_Z J` for every intermediate Z, from the loss down,
//! and then each parameter's gradient, written with the named intermediates as the
//! tutorial writes them (§6.2–6.4).
//!
//! Each equation is one local step: the gradient arriving at a definition C is an
//! opaque tensor `∇_C J` (a seed of C's shape), and the contribution of C to an input Z
//! is dZ taken out of `d(∇_C J · C)`, with the other names held fixed.

use crate::calculus::answer::Answer;
use crate::calculus::derive::{derive_steps, Derivation, Explain, Through};
use crate::egraph::operations;
use crate::error::{Error, ErrorCode, Result};
use crate::ir::expr::{Expr, Kind};
use crate::read::elaborate::Model;
use indexmap::{IndexMap, IndexSet};

/// One backpropagation equation `∇_target J = expr`, with its derivation.
#[derive(Clone, Debug)]
pub struct Equation {
    /// The name whose gradient this is (an intermediate or a parameter).
    pub target: String,
    /// True for a parameter named after `wrt`.
    pub parameter: bool,
    /// The gradient, in terms of the seeds `∇_C J` of the names that use `target`.
    pub answer: Answer,
    /// How it is derived: the local step `d(Σ_C ∇_C J · C)` with dZ taken out, or, where
    /// that is shorter, the loss itself differentiated through the names between.
    pub derivation: Derivation,
}

/// The name of the seed variable holding `∇_name J`.
pub fn seed_name(name: &str, loss: &str) -> String {
    format!("∇_{{{name}}}{loss}")
}

fn uses(e: &Expr, out: &mut IndexSet<String>) {
    match &e.kind {
        Kind::Var(n) | Kind::Diff(n) => {
            out.insert(n.clone());
        }
        _ => e.children().into_iter().for_each(|c| uses(c, out)),
    }
}

/// A loss with the names between a target and it written out by their definitions is
/// differentiated directly only up to this many nodes.
const DIRECT_NODES: usize = 64;

/// True if `part` is `whole` or one of its sub-expressions.
fn occurs(part: &Expr, whole: &Expr) -> bool {
    part == whole || whole.children().iter().any(|c| occurs(part, c))
}

/// True if `value` occurs in `d`, or is an element-wise function whose derivative at the
/// same argument does (`tanh(Z)` where `tanh'(Z)` is: the e-graph writes it `1 − H ⊙ H`
/// for `H = tanh(Z)`).
fn occurs_or_derivative(value: &Expr, d: &Expr) -> bool {
    if occurs(value, d) {
        return true;
    }
    // Of a name, f'(A) is shorter than anything by value (`tanh'(A1)` over `1 − Z1 ⊙ Z1`).
    let Kind::Func { func, derivative: 0, arg } = &value.kind else { return false };
    if matches!(arg.kind, Kind::Var(_)) {
        return false;
    }
    let primed = Expr::new(Kind::Func { func: func.clone(), derivative: 1, arg: arg.clone() }, value.shape.clone());
    occurs(&primed, d)
}

/// The terms of a scalar sum `e` (under scalar factors) that use a name of `names`: the
/// others have no differential in a local step, and a derivation need not show them.
fn terms_using(e: &Expr, names: &IndexSet<String>) -> Expr {
    let using = |t: &Expr| t.names().iter().any(|n| names.contains(n));
    match &e.kind {
        Kind::Add(terms) => {
            let mut kept: Vec<Expr> = terms.iter().filter(|t| using(t)).map(|t| terms_using(t, names)).collect();
            match kept.len() {
                0 => e.clone(),
                1 => kept.pop().expect("one"),
                _ => Expr::new(Kind::Add(kept), e.shape.clone()),
            }
        }
        Kind::Scale(c, x) => Expr::new(Kind::Scale(c.clone(), Box::new(terms_using(x, names))), e.shape.clone()),
        Kind::Product(a, b) if a.is_scalar() && !using(a) => {
            Expr::new(Kind::Product(a.clone(), Box::new(terms_using(b, names))), e.shape.clone())
        }
        Kind::DivScalar(a, b) if !using(b) => {
            Expr::new(Kind::DivScalar(Box::new(terms_using(a, names)), b.clone()), e.shape.clone())
        }
        _ => e.clone(),
    }
}

/// Derivations of local steps that differ only in their names (the same layer at
/// every time step of an unrolled RNN) are derived once.
struct Memo {
    /// Whether derivations show the e-graph's steps.
    explain: Explain,
    /// By the step written with canonical names: the derivation, and its names by the
    /// canonical ones.
    done: IndexMap<String, (Derivation, IndexMap<String, String>)>,
}

impl Memo {
    fn derive(&mut self, model: &Model, f: &Expr, wrt: &str) -> Result<Derivation> {
        // Every step after the first follows from f's differential, so that is the key,
        // written with canonical names: the target first, then in order of first use in
        // the differential and in the definitions the e-graph sees.
        let vars: IndexSet<String> = [wrt.to_string()].into_iter().collect();
        let Some(d) = crate::calculus::diff::local_differential(f, model, &vars)? else {
            return derive_steps(model, f, wrt, Through::Nothing, self.explain);
        };
        let mut order: IndexSet<String> = [wrt.to_string()].into_iter().collect();
        order.extend(d.names().into_iter().filter(|n| model.names.contains_key(n)));
        for (n, e) in &model.definitions {
            order.insert(n.clone());
            order.extend(e.names().into_iter().filter(|n| model.names.contains_key(n)));
        }
        let canonical: IndexMap<String, String> =
            order.iter().enumerate().map(|(k, n)| (n.clone(), format!("#{k}"))).collect();
        let mut key = format!("{:?}", d.renamed(&canonical));
        for (n, c) in &canonical {
            let info = &model.names[n];
            key.push_str(&format!("|{c}:{:?}:{}", info.shape, info.symmetric));
        }
        for (n, e) in &model.definitions {
            key.push_str(&format!("|{}={:?}", canonical[n], e.renamed(&canonical)));
        }
        // Facts about these names only (others cannot apply to them).
        for (l, r) in &model.facts {
            if l.names().iter().chain(r.names().iter()).all(|n| canonical.contains_key(n)) {
                key.push_str(&format!("|{:?}={:?}", l.renamed(&canonical), r.renamed(&canonical)));
            }
        }
        key.push_str(&format!("|{}", model.functions.iter().cloned().collect::<Vec<_>>().join(",")));
        if let Some((d, names)) = self.done.get(&key) {
            // From the first derivation's names, through the canonical ones, to these.
            let back: IndexMap<String, String> = canonical.iter().map(|(n, c)| (names[c].clone(), n.clone())).collect();
            let mut again = d.renamed(&back);
            again.function = f.clone();
            again.model = model.clone();
            again.result.model = model.clone();
            return Ok(again);
        }
        let d = derive_steps(model, f, wrt, Through::Nothing, self.explain)?;
        let names = canonical.iter().map(|(n, c)| (c.clone(), n.clone())).collect();
        self.done.insert(key, (d.clone(), names));
        Ok(d)
    }
}

/// The name of the loss in the seeds `∇_Z J`: the defined name the query asks about, or
/// `J` (or, where the program has a name `J`, `L`, then `J0`, `J1`, …) where the query is
/// an expression.
pub fn loss_name(model: &Model) -> String {
    match model.queries.first().map(|q| &q.expr.kind) {
        Some(Kind::Var(n)) if model.definitions.iter().any(|(m, _)| m == n) => n.clone(),
        _ => ["J".to_string(), "L".to_string()]
            .into_iter()
            .chain((0..).map(|k| format!("J{k}")))
            .find(|n| !model.names.contains_key(n))
            .expect("a free name"),
    }
}

/// The error for a query whose loss is a name never defined nor declared (read by its
/// case alone, `J` a matrix of its own, whose gradients are all zero), at the query.
pub fn undefined_loss(model: &Model, text: &str) -> Option<Error> {
    use crate::ir::ast::Statement;
    let query = model.queries.first()?;
    let Kind::Var(name) = &query.expr.kind else { return None };
    let info = model.names.get(name)?;
    if info.declared || info.defined {
        return None;
    }
    let statements = crate::read::parse::parse_with(text, &[]).map(|i| i.statements).unwrap_or_default();
    let span = statements
        .iter()
        .find_map(|s| match s {
            Statement::Grad { span, .. } => Some(*span),
            _ => None,
        })
        .unwrap_or(crate::error::Span::new(0, text.len()));
    let kind = crate::read::elaborate::default_kind(name);
    Some(
        Error::new(
            ErrorCode::Unknown,
            format!("the loss `{name}` is never defined, so it is read as {kind} of its own"),
            span,
        )
        .hint(format!("define it before the query: `{name} = …`")),
    )
}

/// The error for a query whose loss is not a scalar: at the loss's definition (or the
/// query), with its shape.
fn not_scalar(model: &Model, text: &str, loss: &Expr) -> Error {
    use crate::ir::ast::{NodeKind, Statement};
    let shown = crate::ir::shape::show_shape(&loss.shape);
    let name = loss_name(model);
    let statements = crate::read::parse::parse_with(text, &[]).map(|i| i.statements).unwrap_or_default();
    let defined = statements.iter().find_map(|s| match s {
        Statement::Equation { lhs, span, .. } if matches!(&lhs.kind, NodeKind::Name(n) if n.full() == name) => {
            Some(*span)
        }
        _ => None,
    });
    let queried = statements.iter().find_map(|s| match s {
        Statement::Grad { span, .. } => Some(*span),
        _ => None,
    });
    if let Some(e) = undefined_loss(model, text) {
        return e;
    }
    let (what, span) = match (defined, queried) {
        (Some(span), _) => (format!("the loss `{name}` has shape {shown}"), span),
        (None, Some(span)) => (format!("the loss has shape {shown}"), span),
        (None, None) => (format!("the loss has shape {shown}"), crate::error::Span::new(0, text.len())),
    };
    Error::new(ErrorCode::Shape, format!("{what}, but backpropagation needs a scalar loss"), span)
        .hint("make it a scalar (`sum(…)`, `‖…‖²`, `dot(G, …)`), or use `bracket jacobian` for a non-scalar function")
}

/// The backpropagation equations of the program's first `grad … wrt …` query.
///
/// Each intermediate's gradient is one local step from the seeds of the names that use
/// it, unless differentiating the loss through the names in between gives a form with
/// fewer operations (as `∇_{A}J = (softmax(A) − Y)/N` for a softmax output under
/// cross-entropy). Seeds that no later equation uses are left out.
///
/// ```
/// let eqs = bracket::backprop("h = A x; J = h^T h; grad J wrt x").unwrap();
/// let names: Vec<&str> = eqs.iter().map(|e| e.target.as_str()).collect();
/// assert_eq!(names, ["h", "x"]);
/// ```
pub fn backprop(text: &str) -> Result<Vec<Equation>> {
    backprop_with(text, Explain::Rules)
}

/// As [`backprop`]; with [`Explain::Result`] the derivations sum the e-graph's part up
/// in one step, which is faster (the equations are the same).
pub fn backprop_with(text: &str, explain: Explain) -> Result<Vec<Equation>> {
    // Read as `grad` reads a function: a name that is a tensor by its case alone and
    // leaves the loss not scalar is read as a scalar (`J = N/2 ln det(S) + …`).
    backprop_of(&crate::read::elaborate::read_scalar_with(text, &[])?, text, explain)
}

/// As [`backprop_with`], for a program already read from `text`.
pub fn backprop_of(model: &Model, text: &str, explain: Explain) -> Result<Vec<Equation>> {
    let query = model.queries.first().ok_or_else(|| {
        let whole = crate::error::Span::new(0, text.len());
        // A formula, not a program: the variables are named on the command line.
        let names: Vec<&String> = model
            .main_expr()
            .map(|_| model.names.iter())
            .into_iter()
            .flatten()
            .filter(|(_, i)| !i.defined)
            .map(|(n, _)| n)
            .collect();
        match (model.definitions.is_empty(), names.first()) {
            (true, Some(first)) => {
                Error::new(ErrorCode::Usage, "name the variables to differentiate by", whole).hint(format!(
                    "give --wrt for each, e.g. `--wrt {}`; a program ends with `grad J wrt W, b` instead",
                    crate::render::ascii_name(first)
                ))
            }
            _ => Error::new(ErrorCode::Usage, "the program has no `grad J wrt …` query", whole)
                .hint("end the program with a line such as `grad J wrt W, b`"),
        }
    })?;
    if !query.expr.is_scalar() {
        return Err(not_scalar(model, text, &query.expr));
    }
    // The equations are one backward pass, of one loss: a second query was passed over.
    if model.queries.len() > 1 {
        let at = text.rfind("grad").unwrap_or(0);
        return Err(Error::new(
            ErrorCode::Unsupported,
            format!("the program asks {} queries; its equations answer one", model.queries.len()),
            crate::error::Span::new(at, text.len()),
        )
        .hint("ask for every variable in one query (`grad J wrt W, b`); for another loss, run it on its own"));
    }
    // The loss: a defined name (J) or an expression.
    let loss_name = loss_name(&model);
    let top = match model.definitions.iter().find(|(m, _)| *m == loss_name) {
        Some((_, def)) if matches!(&query.expr.kind, Kind::Var(n) if *n == loss_name) => def.clone(),
        _ => query.expr.clone(),
    };
    let defs: IndexMap<String, Expr> =
        model.definitions.iter().filter(|(n, _)| *n != loss_name).map(|(n, e)| (n.clone(), e.clone())).collect();
    // Which definitions each expression uses directly.
    let mut direct: IndexMap<String, IndexSet<String>> = IndexMap::new();
    for (n, e) in &defs {
        let mut u = IndexSet::new();
        uses(e, &mut u);
        direct.insert(n.clone(), u);
    }
    let mut top_uses = IndexSet::new();
    uses(&top, &mut top_uses);
    // The definitions the loss depends on, in reverse order of definition.
    let mut needed: IndexSet<String> = IndexSet::new();
    let mut stack: Vec<String> = top_uses.iter().filter(|n| defs.contains_key(*n)).cloned().collect();
    while let Some(n) = stack.pop() {
        if needed.insert(n.clone()) {
            stack.extend(direct[&n].iter().filter(|m| defs.contains_key(*m)).cloned());
        }
    }
    let order: Vec<String> = defs.keys().rev().filter(|n| needed.contains(*n)).cloned().collect();
    // The names that depend on each name, transitively (its consumers and theirs).
    let consumers =
        |target: &str| -> Vec<String> { order.iter().filter(|c| direct[*c].contains(target)).cloned().collect() };
    let downstream = |target: &str| -> IndexSet<String> {
        let mut out = IndexSet::new();
        let mut stack = consumers(target);
        while let Some(c) = stack.pop() {
            if out.insert(c.clone()) {
                stack.extend(consumers(&c));
            }
        }
        out
    };
    // The model of one local step: its definitions are those of `keep` that occur in f's
    // differential by `target` (the e-graph can then write them by name, softmax(A) as
    // Z, and does not grow with definitions it has no use for); every other name is a
    // free tensor, as a local step holds for any value of it.
    // The facts every step sees: the stated ones and the row sums definitions inherit
    // from them (as `grad` and `derive` see them).
    let mut facts =
        crate::calculus::gradient::with_inherited_row_sums(model).map_or_else(|| model.facts.clone(), |m| m.facts);
    // And a name defined as a softmax by rows sums to one along them (`Q1 = 1`), as its
    // definition does where the step sees it: distillation's `diag(Q1)P` is P.
    for (name, value) in &model.definitions {
        if let (Kind::Softmax { positions, .. }, [rows, columns]) = (&value.kind, value.shape.as_slice()) {
            if positions.as_slice() == [1] {
                let q = Expr::new(Kind::Var(name.clone()), value.shape.clone());
                let sums = crate::ir::build::product(q, Expr::new(Kind::Ones, vec![columns.clone()]));
                facts.push((sums, Expr::new(Kind::Ones, vec![rows.clone()])));
            }
        }
    }
    let local_model = |m: &Model, keep: &IndexSet<String>, f: &Expr, target: &str| -> Result<Model> {
        let vars: IndexSet<String> = [target.to_string()].into_iter().collect();
        let d = crate::calculus::diff::local_differential(f, m, &vars)?;
        let definitions: Vec<(String, Expr)> = m
            .definitions
            .iter()
            .filter(|(n, e)| keep.contains(n) && d.as_ref().is_some_and(|d| occurs_or_derivative(e, d)))
            .cloned()
            .collect();
        // Only the names the step can see: a deep program's hundreds of others would be
        // copied with every model of every step.
        let mut seen: IndexSet<String> = f.names().into_iter().collect();
        seen.insert(target.to_string());
        for (n, e) in &definitions {
            seen.insert(n.clone());
            seen.extend(e.names());
        }
        let names = m
            .names
            .iter()
            .filter(|(n, _)| seen.contains(*n))
            .map(|(n, info)| {
                let mut info = info.clone();
                info.defined = definitions.iter().any(|(k, _)| k == n);
                (n.clone(), info)
            })
            .collect();
        let facts = facts
            .iter()
            .filter(|(l, r)| l.names().iter().chain(r.names().iter()).all(|n| seen.contains(n)))
            .cloned()
            .collect();
        Ok(Model {
            names,
            functions: m.functions.clone(),
            definitions,
            facts,
            queries: Vec::new(),
            exprs: Vec::new(),
            definition_spans: Default::default(),
            source: String::new(),
            notes: Vec::new(),
        })
    };
    let mut seeded = model.clone();
    // A name defined as a symmetric form (`Σ = WWᵀ + diag(ψ)`) is symmetric, and so is
    // every change of it: its seed may be the symmetric part of the gradient, as for a
    // declared symmetric matrix (docs/symmetric.md), which is the seed itself, and the
    // steps below it read the same (`∇_{W}J = 2(∇_{Σ}J)W`).
    for name in model.symmetric_definitions() {
        if let Some(info) = seeded.names.get_mut(&name) {
            info.symmetric = true;
        }
    }
    let mut equations: Vec<Equation> = Vec::new();
    let mut memo = Memo { explain, done: IndexMap::new() };
    let mut exact = Exact::default();
    let mut zeros: IndexSet<String> = IndexSet::new();
    let targets: Vec<(String, bool)> =
        order.iter().map(|n| (n.clone(), false)).chain(query.wrt.iter().map(|w| (w.clone(), true))).collect();
    for (target, parameter) in targets.clone() {
        if parameter && defs.contains_key(&target) {
            continue;
        }
        let shape = seeded.names.get(&target).map(|i| i.shape.clone()).unwrap_or_default();
        // The local step: the loss (where it uses the target directly), then every
        // definition that uses the target, with its seed.
        let mut parts: Vec<Expr> = Vec::new();
        if top_uses.contains(&target) {
            parts.push(terms_using(&top, &[target.clone()].into_iter().collect()));
        }
        let users = consumers(&target);
        // C's part of the step: its seed times C, which stands for its definition one
        // level deep: every other name in it is held fixed (its own adjoint carries the
        // paths through it).
        let seeded_part = |c: &String| {
            let seed = Expr::new(Kind::Var(seed_name(c, &loss_name)), defs[c].shape.clone());
            let def = defs[c].clone();
            if defs[c].is_scalar() {
                crate::ir::build::product(seed, def)
            } else {
                Expr::new(Kind::Dot(Box::new(seed), Box::new(def)), vec![])
            }
        };
        // A seed that is zero everywhere carries nothing.
        parts.extend(users.iter().filter(|c| !zeros.contains(*c)).map(seeded_part));
        let sum = |mut parts: Vec<Expr>| match parts.len() {
            0 => crate::ir::build::zero(vec![]),
            1 => parts.pop().expect("one"),
            _ => Expr::new(Kind::Add(parts), vec![]),
        };
        let local = sum(parts);
        let users: IndexSet<String> = users.into_iter().collect();
        let mut derivation = memo.derive(&local_model(&seeded, &users, &local, &target)?, &local, &target)?;
        // Users next to the loss among others (a tied embedding E under H = tanh(XEW)
        // and P = softmax(HEᵀ); a GAN's discriminator under its real and fake outputs),
        // whose seeds divide by them (`−Y ⊘ P`, `−1 ⊘ pr`): the loss written through
        // those, the others by their seeds, where that is no larger, so that a softmax
        // meets its cross-entropy and a sigmoid its log-likelihood. A seed that divides
        // by nothing has nothing to cancel (an RNN's outputs: the try cost its τ = 8
        // program half its time).
        let divides =
            |c: &String| equations.iter().any(|eq| !eq.parameter && eq.target == *c && divides_by(&eq.answer.expr, c));
        // The operations of the seeds of `names` that divide by their names: the loss
        // written through them does that work in its own equation (and leaves no division
        // by a probability to generated code), so its size is set against the step's and
        // theirs together. Only a seed this target alone needs (its name's definition
        // uses no other name whose equation is wanted) is saved: a GP's ∇_{K}J serves α
        // and ℓ as well as the noise s, whose `tr(∇_{K}J)` stays.
        let dividing_seeds = |names: &IndexSet<String>| -> usize {
            equations
                .iter()
                .filter(|eq| !eq.parameter && names.contains(&eq.target) && divides_by(&eq.answer.expr, &eq.target))
                .filter(|eq| direct[&eq.target].iter().all(|t| *t == target || !targets.iter().any(|(w, _)| w == t)))
                .map(|eq| operations(&eq.answer.expr))
                .sum()
        };
        let fusable: IndexSet<String> =
            users.iter().filter(|c| top_uses.contains(*c) && consumers(c).is_empty() && divides(c)).cloned().collect();
        if !fusable.is_empty() && users.len() > 1 {
            let mut uses_target = fusable.clone();
            uses_target.insert(target.clone());
            let mut parts = vec![crate::ir::build::inlined(&terms_using(&top, &uses_target), &defs, &fusable)];
            parts.extend(users.iter().filter(|c| !fusable.contains(*c)).map(seeded_part));
            let mixed = sum(parts);
            if mixed.node_count() <= DIRECT_NODES {
                let through = memo.derive(&local_model(&seeded, &users, &mixed, &target)?, &mixed, &target)?;
                if operations(&through.result.expr) <= operations(&derivation.result.expr) + dividing_seeds(&fusable) {
                    derivation = through;
                }
            }
        }
        // The loss differentiated through every name between, where that is shorter.
        // Tried where one name is in between and the loss alone uses it (a softmax
        // output under its loss): deeper, the loss written out is rarely shorter and its
        // e-graph is costly; and through several names (an RNN's output bias c, under
        // O1, O2 and O3) it is the sum of what their own seeds give, which those seeds
        // have fused already (the τ = 3 RNN spent 60 of its 115 ms on it for c and V).
        // And only where the seed of the name between divides by it, as above, or is a
        // name itself (`∇_{Y}J = G` under `dot(G, Y)`, which the loss written through
        // leaves out): else that is the seed's value where its name stands, never
        // shorter (the τ = 3 RNN spent 10 of its 21 ms on its three outputs' steps).
        let atom = |c: &String| {
            let simple = |e: &Expr| match &e.kind {
                Kind::Scale(_, x) => operations(x) == 0,
                _ => operations(e) == 0,
            };
            equations.iter().any(|eq| !eq.parameter && eq.target == *c && simple(&eq.answer.expr))
        };
        let between = downstream(&target);
        let next_to_loss =
            between.iter().all(|c| top_uses.contains(c) && consumers(c).is_empty() && (divides(c) || atom(c)));
        if between.len() == 1 && next_to_loss {
            let mut uses_target = between.clone();
            uses_target.insert(target.clone());
            let whole = crate::ir::build::inlined(&terms_using(&top, &uses_target), &defs, &between);
            if whole.node_count() <= DIRECT_NODES {
                // The name between keeps its definition, which the answer may spell it by
                // (`K⁻¹y` is a: a GP's ∇_{K}J is `(1/2)(K⁻¹ − aaᵀ)`), though its value need
                // not stand whole in the differential (`K⁻¹dKK⁻¹y`).
                let mut local = local_model(&seeded, &between, &whole, &target)?;
                for c in &between {
                    if !local.definitions.iter().any(|(n, _)| n == c) {
                        local.definitions.push((c.clone(), defs[c].clone()));
                        if let Some(info) = seeded.names.get(c) {
                            let mut info = info.clone();
                            info.defined = true;
                            local.names.insert(c.clone(), info);
                        }
                    }
                }
                let through = memo.derive(&local, &whole, &target)?;
                // At equal size the loss written through wins: it needs no seed of the
                // name between, so `∇_{w2}J = Hᵀ(p − y)/N` for `p = σ(Hw2)` under a
                // cross-entropy, not `Hᵀ(∇_{p}J ⊙ σ'(Hw2))` with `∇_{p}J` dividing by p(1 − p).
                if operations(&through.result.expr) <= operations(&derivation.result.expr) + dividing_seeds(&between) {
                    derivation = through;
                }
            }
        }
        derivation.label = Some(seed_name(&target, &loss_name));
        if !parameter && exact.vanishes(model, &derivation.result.expr) {
            derivation = exact.zeroed(model, derivation);
            zeros.insert(target.clone());
        }
        // The seed of this target is a name of its own in the equations that follow.
        if !parameter {
            let symmetric = seeded.names.get(&target).is_some_and(|i| i.symmetric);
            let info =
                crate::read::elaborate::NameInfo { shape: shape.clone(), symmetric, declared: false, defined: false };
            seeded.names.insert(seed_name(&target, &loss_name), info);
        }
        let answer = Answer {
            model: derivation.model.clone(),
            expr: derivation.result.expr.clone(),
            saturation: derivation.result.saturation.clone(),
        };
        equations.push(Equation { target, parameter, answer, derivation });
    }
    // Seeds that no equation uses are left out, from the loss down.
    loop {
        let mut used = IndexSet::new();
        for eq in &equations {
            uses(&eq.answer.expr, &mut used);
        }
        let before = equations.len();
        // A seed found zero stays: it says why the names under it lost a term.
        equations.retain(|eq| {
            eq.parameter || zeros.contains(&eq.target) || used.contains(&seed_name(&eq.target, &loss_name))
        });
        if equations.len() == before {
            break;
        }
    }
    Ok(equations)
}

/// Tells a seed that is zero wherever the program's definitions hold: the gradient by a
/// name defined as the loss's minimiser, as the evidence of Bayesian linear regression
/// defines its posterior mean `m = βA⁻¹Xᵀy`, whose `∇_{m}J = αm + βXᵀ(Xm − y)` is 0.
/// The rules cannot see it (it needs m's definition written out and A's inverse
/// cancelled against A), so the seed is evaluated exactly at two random points of the
/// whole program ([`crate::eval::exact_env`]): zero at both, it is zero everywhere but
/// by a negligible chance, and `--check` still compares the equations with finite
/// differences of the program.
#[derive(Default)]
struct Exact {
    /// The two points, made on first use; empty where they cannot be.
    envs: Option<Vec<crate::eval::Env<num_rational::BigRational>>>,
}

impl Exact {
    /// True where `e`, a seed that uses no other seed and a defined name, is not written
    /// as zero but evaluates to exactly zero at both points.
    fn vanishes(&mut self, model: &Model, e: &Expr) -> bool {
        let names = e.names();
        if names.iter().any(|n| n.starts_with("∇_")) || defined_in(model, e).is_empty() {
            return false;
        }
        // Only a rational function of rational definitions has an exact value: the
        // definitions it rests on, found without evaluating any (an RNN's outputs rest on
        // tanh, and evaluating its steps in rationals cost its τ = 8 program 7%).
        let resting = definitions_under(model, e);
        if !e.is_rational() || resting.iter().any(|(_, value)| !value.is_rational()) {
            return false;
        }
        if *e == crate::ir::build::zero(e.shape.clone()) {
            return false;
        }
        let envs = self.envs.get_or_insert_with(|| {
            [(1, false), (2, true)]
                .into_iter()
                .filter_map(|(seed, reversed)| crate::eval::exact_env(model, seed, reversed).ok())
                .collect()
        });
        envs.len() == 2
            && envs.iter().all(|env| crate::eval(e, env).is_ok_and(|v| v.iter().all(num_traits::Zero::is_zero)))
    }

    /// `derivation` ending in zero, with the definitions that make it so in its model (its
    /// steps hold where they hold).
    fn zeroed(&self, model: &Model, mut derivation: Derivation) -> Derivation {
        let result = &derivation.result.expr;
        let defined = defined_in(model, result);
        let resting = definitions_under(model, result);
        let local = &mut derivation.model;
        let mut wanted: IndexSet<String> = result.names().into_iter().collect();
        for (_, value) in &resting {
            wanted.extend(value.names());
        }
        for name in &wanted {
            if let Some(info) = model.names.get(name) {
                local.names.insert(name.clone(), info.clone());
            }
        }
        local.definitions = resting;
        let zero = crate::ir::build::zero(result.shape.clone());
        let why = match defined.as_slice() {
            [one] => format!("zero by the definition of {one}"),
            [most @ .., last] => format!("zero by the definitions of {} and {last}", most.join(", ")),
            [] => "zero".to_string(),
        };
        derivation.steps.push(crate::calculus::derive::Step { expr: crate::ir::build::zero(vec![]), why });
        derivation.result.expr = zero;
        derivation
    }
}

/// The names `e` uses that the program defines.
fn defined_in(model: &Model, e: &Expr) -> Vec<String> {
    e.names().into_iter().filter(|n| model.definitions.iter().any(|(d, _)| d == n)).collect()
}

/// The definitions `e` rests on, directly or through other definitions, in program order.
fn definitions_under(model: &Model, e: &Expr) -> Vec<(String, Expr)> {
    let mut wanted: IndexSet<String> = e.names().into_iter().collect();
    for (name, value) in model.definitions.iter().rev() {
        if wanted.contains(name) {
            wanted.extend(value.names());
        }
    }
    model.definitions.iter().filter(|(n, _)| wanted.contains(n)).cloned().collect()
}

/// True where `e` divides by an expression that uses `name` (`−Y ⊘ P` by P).
fn divides_by(e: &Expr, name: &str) -> bool {
    let uses = |d: &Expr| d.names().iter().any(|n| n == name);
    let here = match &e.kind {
        Kind::HDiv(_, d) | Kind::DivScalar(_, d) | Kind::Inverse(d) => uses(d),
        Kind::HPower(d, k) | Kind::Power(d, k) => num_traits::Signed::is_negative(k) && uses(d),
        _ => false,
    };
    here || e.children().into_iter().any(|c| divides_by(c, name))
}

/// ∇_var f for a scalar f of `model`, assembled from the backpropagation equations of
/// `grad f wrt var`: each seed `∇_C J` written out by its own equation. The answer is in
/// terms of the program's names; its size grows with the paths from var to the loss (an
/// RNN's ∇_W J holds the seed of every later step once per step). None where f is not
/// scalar or the equations give no gradient of var.
pub(crate) fn assembled_gradient(model: &Model, f: &Expr, var: &str) -> Result<Option<Answer>> {
    if !f.is_scalar() {
        return Ok(None);
    }
    let mut program = model.clone();
    program.queries = vec![crate::read::elaborate::Query { expr: f.clone(), wrt: vec![var.to_string()] }];
    let loss = loss_name(&program);
    let equations = backprop_of(&program, "", Explain::Result)?;
    let seeds: IndexMap<String, Expr> = equations
        .iter()
        .filter(|eq| !eq.parameter)
        .map(|eq| (seed_name(&eq.target, &loss), eq.answer.expr.clone()))
        .collect();
    let Some(eq) = equations.iter().find(|eq| eq.parameter && eq.target == var) else {
        return Ok(None);
    };
    let names: IndexSet<String> = seeds.keys().cloned().collect();
    let expr = crate::ir::build::inlined(&eq.answer.expr, &seeds, &names);
    Ok(Some(Answer { model: model.clone(), expr, saturation: None }))
}

/// Evaluates the equations in order at `env` (seeds computed from earlier equations)
/// and returns each parameter's value: the check that backpropagation is right.
pub fn evaluate_backprop(
    equations: &[Equation],
    loss: &str,
    env: &crate::eval::Env<f64>,
) -> Result<IndexMap<String, ndarray::ArrayD<f64>>> {
    let mut env = env.clone();
    let mut out = IndexMap::new();
    for eq in equations {
        let v = crate::eval(&eq.answer.expr, &env)?;
        if eq.parameter {
            out.insert(eq.target.clone(), v);
        } else {
            env.values.insert(seed_name(&eq.target, loss), v);
        }
    }
    Ok(out)
}

/// Checks a program's backpropagation equations: each parameter's gradient, as the
/// equations give it evaluated in order, against finite differences of the whole program
/// (every definition re-evaluated at each perturbed point).
pub fn check_program(
    text: &str,
    equations: &[Equation],
    points: u64,
) -> Result<IndexMap<String, crate::eval::check::Check>> {
    let model = crate::read::elaborate::read_scalar_with(text, &[])?;
    let query =
        model.queries.first().ok_or_else(|| Error::bare(ErrorCode::Usage, "the program has no `grad` query"))?;
    let loss = loss_name(&model);
    let mut out = indexmap::IndexMap::new();
    for eq in equations.iter().filter(|eq| eq.parameter) {
        let target = eq.target.clone();
        let mut gradient = |env: &crate::eval::Env<f64>| -> Result<ndarray::ArrayD<f64>> {
            let values = evaluate_backprop(equations, &loss, env)?;
            values
                .get(&target)
                .cloned()
                .ok_or_else(|| Error::bare(ErrorCode::Eval, format!("internal: no equation for `{target}`")))
        };
        let check = crate::eval::check::check_with(&model, &query.expr, &eq.target, &mut gradient, points)?;
        out.insert(eq.target.clone(), check);
    }
    Ok(out)
}
