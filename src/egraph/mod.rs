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

pub mod appliers;
pub mod cancel;
pub mod clock;
pub mod common;
pub mod contract;
pub mod cost;
pub mod defined;
pub mod encode;
mod extract;
mod join;
pub mod language;
mod mirror;
mod monomial;
mod powers;
pub mod raise;
pub mod rules;
pub mod schedule;
mod seeds;
pub mod tensorops;

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
use seeds::{fold_definitions, unfolded_before_derivatives, zero_facts_applied};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use appliers::*;
pub use cost::*;
pub use encode::*;
pub use language::*;
pub use powers::*;

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
    /// Where the answer was made after the run (cancelled, numbers in front) and run once
    /// more: the run's own answer, how it was remade, and the form remade (the rules alone
    /// reach only the first).
    pub remade: Option<(Expr, &'static str, Expr)>,
}

impl Report {
    /// The steps of an answer remade after the run: to the remade form (named by how it
    /// was remade), then to `best` where the second run changed it. Empty otherwise.
    pub fn remade_steps(&self, best: &Expr) -> Vec<Rewritten> {
        let Some((_, rule, normal)) = &self.remade else { return Vec::new() };
        let mut steps = vec![Rewritten { expr: normal.clone(), rule: rule.to_string() }];
        if best != normal {
            steps.push(Rewritten { expr: best.clone(), rule: "rewrite".into() });
        }
        steps
    }

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

/// Past this many definitions, a run's e-graph holds only those its forms can meet.
const MANY_DEFINITIONS: usize = 32;

/// Products with more factors than this keep their bracketing in the e-graph.
pub const LONG_CHAIN: usize = 16;

/// Rules that rebracket a product or spread a transpose over one, one factor an
/// iteration: a chain past [`LONG_CHAIN`] starts gathered and keeps its bracketing.
fn rebrackets(rule: &str) -> bool {
    rule.starts_with("product-assoc") || rule == "transpose-product"
}

/// The most factors of one product (nested products) in `e`.
fn chain_length(e: &Expr) -> usize {
    fn go(e: &Expr, most: &mut usize) -> usize {
        let own = match &e.kind {
            Kind::Product(a, b) => {
                let side = |x: &Expr, most: &mut usize| {
                    let n = go(x, most);
                    if matches!(x.kind, Kind::Product(..)) {
                        n
                    } else {
                        1
                    }
                };
                side(a, most) + side(b, most)
            }
            _ => {
                e.children().iter().for_each(|c| {
                    go(c, most);
                });
                1
            }
        };
        *most = (*most).max(own);
        own
    }
    let mut most = 0;
    go(e, &mut most);
    most
}

/// The most factors of one product (nested `*` nodes) in `rec`.
pub(super) fn longest_chain(rec: &RecExpr<Node>) -> usize {
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
    let (best, report, _) = saturate(forms, &[], model, options, None, None);
    (best, report)
}

/// As [`simplify_alternatives`], in the same run also explaining how `forms[from]`
/// becomes the answer (egg's explanation, one rewrite at a time; empty where it would
/// be too long to read), the remaking after the run included: the same forms in the
/// same order as `grad`'s run, so the e-graph grows alike and the answer is `grad`'s.
pub fn simplify_explained(forms: &[(Expr, &str)], model: &Model, from: usize) -> (Expr, Report, Vec<Rewritten>) {
    let (exprs, labels): (Vec<Expr>, Vec<&str>) = forms.iter().cloned().unzip();
    let (best, report, mut steps) = saturate(&exprs, &labels, model, &Options::default(), Some(from), None);
    if !steps.is_empty() {
        steps.extend(report.remade_steps(&best));
    }
    (best, report, steps)
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
pub(super) const MAX_EXPLAINED: usize = 400;

/// The rewrites of an explanation once flattened (each shared sub-proof counted every
/// time it is used), from its shared tree, saturating.
pub(super) fn tree_rewrites(
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
pub fn explain_to(forms: &[(Expr, &str)], model: &Model, target: &Expr) -> Vec<Rewritten> {
    let (exprs, labels): (Vec<Expr>, Vec<&str>) = forms.iter().cloned().unzip();
    saturate(&exprs, &labels, model, &Options::default(), Some(0), Some(target)).2
}

pub(super) fn saturate(
    forms: &[Expr],
    labels: &[&str],
    model: &Model,
    options: &Options,
    explain: Option<usize>,
    target: Option<&Expr>,
) -> (Expr, Report, Vec<Rewritten>) {
    // Each run on its own clock (`clock.rs`).
    let (out, mut report, steps) =
        clock::os_timed(|| saturate_once(forms, labels, model, options, explain, target, Prefer::Cheapest));
    // An element-wise region the rules made (`1 − X ⊘ (WH ⊙ WH) ⊙ WH` in a KL
    // factorisation) is cancelled too, and the result run once more. Only the input forms
    // are cancelled before the run, where a region is not yet whole.
    if target.is_some() || report.limited {
        return (out, report, steps);
    }
    // And numbers inside products go in front (`S⁻¹(−1)(…)S⁻¹` → `−S⁻¹(…)S⁻¹`), which the
    // rules do too unless the scheduler has banned them by the time the sign appears.
    let cancelled = crate::egraph::cancel::cancelled(&out);
    let fronted = monomial::numbers_in_front(cancelled.as_ref().unwrap_or(&out));
    let rule = if cancelled.is_some() { "elementwise-cancel" } else { "scalar-inner" };
    let chained = match fronted.or(cancelled) {
        Some(normal) => Some((rule, normal)),
        // Else a sign goes into the difference a product ends with (`−2Aᵀ(Xw − y)` →
        // `2Aᵀ(y − Xw)`), where the extractor likes that better.
        None => match monomial::sign_into_difference(&out) {
            Some(flipped) => Some(("scalar-negate-difference", flipped)),
            // Else a whole number all terms of a sum share goes in front, or a number
            // goes into a sum where that saves operations.
            None => monomial::common_factor_out(&out).map(|gathered| ("scalar-factor", gathered)),
        },
    };
    // And, on top, one orientation for a difference and its negation in one product
    // (`(X − M)V⁻¹(M − X)ᵀ` as `−(X − M)V⁻¹(X − M)ᵀ`).
    // Names ranked as the cost ranks them: by first use in the model.
    // (Made only where two opposite differences are met.)
    let written = std::cell::OnceCell::new();
    let rank =
        |name: &str| written.get_or_init(|| Tables::for_model(model).written).get_index_of(name).unwrap_or(usize::MAX);
    let opposite = monomial::opposite_differences(chained.as_ref().map_or(&out, |(_, normal)| normal), &rank);
    // A sign moved into a difference is the form as a textbook writes it: it stands
    // where the run finds none cheaper but by a node or two (`a − b` holds two more
    // than `b' + a`).
    // One orientation with its sign in front (`−S⁻¹(x − μ)(x − μ)ᵀS⁻¹` over
    // `S⁻¹(x − μ)(μ − x)ᵀS⁻¹`) stands even at the cost of that sign.
    let prefer = if opposite.is_some() {
        Prefer::WithItsSign
    } else if chained.as_ref().is_some_and(|(rule, _)| *rule == "scalar-negate-difference") {
        Prefer::AsCheap
    } else {
        Prefer::Cheapest
    };
    let (rule, normal) = match (chained, opposite) {
        (Some((rule, _)), Some(oriented)) => (rule, oriented),
        (None, Some(oriented)) => ("scalar-negate-difference", oriented),
        (Some(chained), None) => chained,
        (None, None) => ("", out.clone()),
    };
    // And a number goes into a sum where that saves operations (`(1/4)(4A − 2B)` is
    // `A − (1/2)B`), unless a number was just taken out.
    let (rule, normal) = match monomial::numbers_distributed(&normal).filter(|_| rule != "scalar-factor") {
        Some(spread) => (if rule.is_empty() { "distribute-number" } else { rule }, spread),
        // Else a factor all terms of a sum hold entry by entry comes out of it.
        None if rule.is_empty() => match monomial::hadamard_factored(&out) {
            Some(factored) => ("distribute-hadamard", factored),
            // Else a matrix factor all terms share comes out, and the sum left cancels.
            None => match crate::egraph::cancel::product_factored(&out) {
                Some(factored) => ("elementwise-cancel", factored),
                None => return (out, report, steps),
            },
        },
        None => (rule, normal),
    };
    if std::env::var_os("BRACKET_EGRAPH_DEBUG").is_some() {
        eprintln!("{rule} after the run: {}", crate::render::render(&normal, crate::render::Format::Unicode));
    }
    // The number all its terms share in front of it goes in too (`2S/(xᵀx) + (−4A −
    // 2B)/(xᵀx)²` as `2(S/(xᵀx) − (2A + B)/(xᵀx)²)`), where the rules would gather it two
    // terms at a time.
    let mut seeds = vec![normal.clone(), out.clone()];
    if rule != "scalar-factor" {
        seeds.extend(monomial::common_factor_out(&normal));
    }
    let (again, second, _) = clock::os_timed(|| saturate_once(&seeds, &[], model, options, None, None, prefer));
    // `out` is a form of that run too, so its answer costs no more than `out`.
    if again == out {
        return (out, report, steps);
    }
    report.iterations += second.iterations;
    report.nodes = report.nodes.max(second.nodes);
    report.classes = report.classes.max(second.classes);
    report.remade = Some((out.clone(), rule, normal.clone()));
    (again, report, steps)
}

fn saturate_once(
    forms: &[Expr],
    labels: &[&str],
    model: &Model,
    options: &Options,
    explain: Option<usize>,
    target: Option<&Expr>,
    prefer_first: Prefer,
) -> (Expr, Report, Vec<Rewritten>) {
    let e = &forms[0];
    // Element-wise regions with their rational functions cancelled (crate::egraph::cancel) go in
    // as one more form of the same class.
    // Each form is cancelled with defined names folded in, so that `P` and its
    // definition `softmax(Z)` are one operand.
    let given = forms.len();
    let mut forms = forms.to_vec();
    for k in 0..given {
        let folded = fold_definitions(&forms[k], model);
        let cancelled = crate::egraph::cancel::cancelled(&folded);
        let none_cancelled = cancelled.is_none();
        if let Some(c) = cancelled {
            if !forms.contains(&c) {
                forms.push(c);
            }
        }
        // And with the model's zero facts put in first (`cᵀ1 = 0` of a centred c), so
        // that what they remove does not stand between the terms' common factors
        // (the layer norm's Jacobian kept n² over n²).
        if let Some(c) = zero_facts_applied(&folded, model).and_then(|z| crate::egraph::cancel::cancelled(&z)) {
            if !forms.contains(&c) {
                forms.push(c);
            }
        }
        // And with a name defined as an element-wise function written out where that
        // function's derivative appears (`(p − y) ⊘ (p ⊙ (1 − p)) ⊙ σ'(Xw)` for
        // `p = σ(Xw)`), so that σ' = σ ⊙ (1 − σ) meets p; the names go back after.
        // (Where nothing was written out nor folded, that is the form just cancelled.)
        let unfolded = unfolded_before_derivatives(&forms[k], model).filter(|u| *u != folded);
        if let Some(unfolded) = unfolded {
            if let Some(c) = crate::egraph::cancel::cancelled(&unfolded).map(|c| fold_definitions(&c, model)) {
                if !forms.contains(&c) {
                    forms.push(c);
                }
            }
        }
        // And with the scalar factors of each product gathered into one monomial: in
        // place of the form, except the first (which a derivation starts from and
        // which stands on a tie). Each seed's scattered factors are what the rules then
        // move one step an iteration, so a seed that has them gathered spares the
        // e-graph their every placement (a Hessian by x of `aᵀx/‖x‖`: 33 → 16 ms).
        if let Some(gathered) = monomial::merged_scalars(&forms[k]) {
            // Gathered, a product rule's `((1/(1 + s))c)w` is the quotient `cw/(1 + s)`
            // that a region over one denominator is made of: where the form as it came
            // did not cancel, it may so. (Where it did, a second cancelled form only grew
            // the e-graph: the pseudo-Huber Hessians took 2–5 times as long.)
            let more = none_cancelled.then(|| crate::egraph::cancel::cancelled(&fold_definitions(&gathered, model)));
            if let Some(c) = more.flatten() {
                if !forms.contains(&c) {
                    forms.push(c);
                }
            }
            if k > 0 {
                forms[k] = gathered;
            } else if !forms.contains(&gathered) {
                forms.push(gathered);
            }
        }
    }
    // Past LONG_CHAIN factors, chains start with their transposes gathered (the rules
    // gather one an iteration).
    let too_long = |f: &Expr| chain_length(f) > LONG_CHAIN;
    let gathered = forms.iter().any(too_long);
    if gathered {
        for f in forms.iter_mut() {
            *f = gathered_transposes(std::mem::replace(f, Expr::new(Kind::Ones, vec![])));
        }
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
    // A defined name equals its definition (in each spelling, `definition_spellings`): both
    // go in, in one class, so that `q` and `softmax(Vh)` meet; extraction keeps the name.
    // Past MANY_DEFINITIONS, only those the forms can meet: of a name they read, whose
    // value they hold, or whose value reads only names they read (`h = 1/(a + r)` meets
    // `−c/(a + r)²`). All went in: a 200-step program's tangent pass added 400 nodes to
    // each of its 400 runs. (Below, telling them apart costs more than it saves.)
    let read: std::collections::HashSet<String> = match model.definitions.len() > MANY_DEFINITIONS {
        true => forms.iter().flat_map(|f| f.names()).collect(),
        false => Default::default(),
    };
    let met: Vec<&(String, Expr)> = model
        .definitions
        .iter()
        .filter(|(name, value)| {
            model.definitions.len() <= MANY_DEFINITIONS
                || read.contains(name)
                || value.names().iter().all(|n| read.contains(n))
                || forms.iter().any(|f| seeds::holds(f, value))
        })
        .collect();
    let mut definitions: Vec<(RecExpr<Node>, RecExpr<Node>, &str)> = Vec::new();
    for (name, value) in met.iter().map(|d| (&d.0, &d.1)) {
        let leaf = Expr::new(Kind::Var(name.clone()), value.shape.clone());
        for (named, spelling) in crate::ir::build::definition_spellings(&leaf, value) {
            let (mut a, mut b) = (RecExpr::default(), RecExpr::default());
            Encoder { tables: &mut tables }.encode(&named, &mut a);
            Encoder { tables: &mut tables }.encode(&spelling, &mut b);
            definitions.push((a, b, name));
        }
    }
    let facts = crate::egraph::rules::fact_rewrites(model, &mut tables);
    let egraph = EGraph::new(tables);
    // Backoff bans a rule for a while once it matches too often, so one family (such as
    // scalars moving through long Hadamard chains) cannot crowd out the rest or blow the
    // e-graph up; after an idle iteration only the rules whose bans end search again.
    let scheduler = crate::egraph::schedule::Backoff::new(200, 3);
    let mut runner = egg::Runner::default()
        .with_scheduler(scheduler)
        .with_egraph(egraph)
        .with_node_limit(options.limits.nodes)
        .with_iter_limit(options.limits.iterations)
        .with_time_limit(options.limits.time);
    if explain.is_some() {
        // egg's greedy shortening of explanations walks the whole proof graph: 1 ms of
        // the 1.5 ms an explanation added to det(X⁻ᵀ). The path as proved is what the
        // derivation condenses anyway, and it keeps to the rules where the run found the
        // answer by them (shortening may jump through another starting form instead).
        runner = runner.with_explanations_enabled().without_explanation_length_optimization();
    }
    let kept: Kept = Default::default();
    if options.sizes.is_none() {
        runner = runner.with_hook(plateau(kept.clone()));
    }
    // An explanation run looks for one form only: it stops once that form is in the
    // class of the first root, and explains the path it found. (A form the run never
    // reaches is left out: the caller then shows one step.)
    let target_rec = target.map(|t| {
        let mut rec = RecExpr::default();
        Encoder { tables: &mut runner.egraph.analysis }.encode(t, &mut rec);
        rec
    });
    if let Some(rec) = target_rec.clone() {
        runner = runner.with_hook(move |runner| {
            let root = runner.roots[0];
            match runner.egraph.lookup_expr(&rec) {
                Some(id) if runner.egraph.find(id) == runner.egraph.find(root) => Err(REACHED.to_string()),
                _ => Ok(()),
            }
        });
    }
    for rec in &recs {
        runner = runner.with_expr(rec);
    }
    for (name, value, defined) in &definitions {
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
            let why =
                if k < given { labels.get(k).copied().unwrap_or("terms written out") } else { "elementwise-cancel" };
            union_named(&mut runner.egraph, a, b, why);
        }
    }
    for f in forms.iter().chain(met.iter().map(|(_, v)| v)) {
        seeds::mark_symmetric(&mut runner.egraph, f);
    }
    runner.egraph.rebuild();
    // Every bracketing of a product of k factors is O(k³) nodes: past LONG_CHAIN factors
    // the products keep the bracketing they came with.
    // (Gathering can shorten a chain below the bound: it still keeps its bracketing.)
    let long = gathered || recs.iter().any(|r| longest_chain(r) > LONG_CHAIN);
    // Rules that need an operator this e-graph can never hold are not searched (a rule
    // that cannot match changes nothing, so the e-graph grows the same).
    let possible = crate::egraph::rules::possible_rules(rules, &runner.egraph, &facts);
    let rewrites = rules
        .rewrites
        .iter()
        .enumerate()
        .filter(|(k, r)| possible.get(*k).copied().unwrap_or(true) && (!long || !rebrackets(r.name.as_str())))
        .map(|(_, r)| r);
    // The run's clock starts here: its first iteration's time is the run's, not the setup's.
    clock::sync();
    let runner = runner.run(rewrites.chain(facts.rewrites.iter()));
    if std::env::var_os("BRACKET_EGRAPH_DEBUG").is_some() {
        for rec in &recs {
            eprintln!("input: {rec}");
        }
        for (k, it) in runner.iterations.iter().enumerate() {
            let mut applied: Vec<_> = it.applied.iter().map(|(r, n)| (r.to_string(), *n)).collect();
            applied.sort();
            eprintln!(
                "iteration {k}: {} nodes; search {:.2}ms apply {:.2}ms rebuild {:.2}ms; {applied:?}",
                it.egraph_nodes,
                it.search_time * 1e3,
                it.apply_time * 1e3,
                it.rebuild_time * 1e3
            );
        }
    }
    let (stop, limited) = match &runner.stop_reason {
        Some(egg::StopReason::Saturated) => ("saturated".to_string(), false),
        Some(egg::StopReason::NodeLimit(_)) => ("node limit".to_string(), true),
        Some(egg::StopReason::IterationLimit(_)) => ("iteration limit".to_string(), true),
        Some(egg::StopReason::TimeLimit(_)) => ("time limit".to_string(), true),
        Some(egg::StopReason::Other(s)) if [PLATEAU, PLATEAU_ON_LARGE, BRED, REACHED].contains(&s.as_str()) => {
            (s.clone(), false)
        }
        Some(egg::StopReason::Other(s)) => (s.clone(), true),
        None => ("not run".to_string(), true),
    };
    let report = Report {
        nodes: runner.egraph.total_number_of_nodes(),
        classes: runner.egraph.number_of_classes(),
        iterations: runner.iterations.len(),
        stop,
        limited,
        remade: None,
    };
    let root = runner.roots[0];
    let best = match &options.sizes {
        None => {
            let (cost, best) = extract::Extracted::new(&runner.egraph, Size { egraph: &runner.egraph }).best(root);
            // The greedy extraction is not monotone in the order of terms (a class takes
            // its cheapest node, whose first name may put its parent's terms out of
            // order): a form a plateau check found cheaper than the final one is kept.
            let best = match kept.take() {
                Some((earlier, term)) if earlier < cost => term,
                _ => best,
            };
            // The first form (a sign moved into a difference) stands unless the run
            // found one cheaper by more than a few nodes' hundredths.
            let chosen = match prefer_first {
                Prefer::Cheapest => None,
                _ => term_cost(&runner.egraph, &recs[0]),
            };
            if std::env::var_os("BRACKET_EGRAPH_DEBUG").is_some() {
                eprintln!("first form's cost: {chosen:?} against {cost:?}");
            }
            match chosen {
                Some(first) if first.about_as_cheap(&cost) => recs[0].clone(),
                Some(first) if prefer_first == Prefer::WithItsSign && first.as_cheap_but_a_sign(&cost) => {
                    recs[0].clone()
                }
                _ => best,
            }
        }
        Some(sizes) => extract::Extracted::new(&runner.egraph, Flops { egraph: &runner.egraph, sizes }).best(root).1,
    };
    if std::env::var_os("BRACKET_EGRAPH_DEBUG").is_some() {
        eprintln!("best: {best}");
    }
    let mut decoded = decode(&best, &runner.egraph.analysis).filter(|x| x.shape == e.shape);
    let mut best = best;
    let mut runner = runner;
    if let (Some(t), Some(rec)) = (target, target_rec) {
        // The target, if the run reached it, is where the explanation goes.
        let id = runner.egraph.add_expr(&rec);
        runner.egraph.rebuild();
        if runner.egraph.find(id) != runner.egraph.find(root) {
            return (e.clone(), report, Vec::new());
        }
        best = rec;
        decoded = Some(t.clone());
    }
    let mut steps = Vec::new();
    if let (Some(from), true) = (explain, decoded.is_some()) {
        let mut explanation = runner.explain_equivalence(&recs[from], &best);
        // Counted on the shared tree first: flattening a long one is itself the cost.
        let rewrites = tree_rewrites(&explanation.explanation_trees, &mut HashMap::new());
        let flat: &[egg::FlatTerm<Node>] =
            if rewrites > MAX_EXPLAINED { &[] } else { explanation.make_flat_explanation() };
        // egg's path as proved may leave a term and come back to it: each such loop is
        // cut (keys: the terms, by their s-expressions; `keys[k]` is the term after
        // `steps[k - 1]`, `keys[0]` the first).
        let mut keys: Vec<String> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        if let Some(first) = flat.first() {
            let mut rec = RecExpr::default();
            flat_term(first, &mut rec);
            keys.push(rec.to_string());
            seen.insert(keys[0].clone(), 0);
        }
        for term in flat.iter().skip(1) {
            let mut rec = RecExpr::default();
            flat_term(term, &mut rec);
            let key = rec.to_string();
            if let Some(&k) = seen.get(&key) {
                for dropped in keys.drain(k + 1..) {
                    seen.remove(&dropped);
                }
                steps.truncate(k);
                continue;
            }
            seen.insert(key.clone(), keys.len());
            keys.push(key);
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
    let mut out = monomial::identities_dropped(zeroed(decoded.unwrap_or_else(|| e.clone())));
    // A chain the run could not rebracket in full (its bracketings grow as the Catalan
    // numbers) still prints without parentheses; by size every bracketing costs the same.
    if options.sizes.is_none() {
        out = left_associated(monomial::scalar_monomials(monomial::scalars_in_front(out)));
    }
    (out, report, steps)
}

/// The cheapest form a plateau check extracted, with its cost.
pub(super) type Kept = std::rc::Rc<std::cell::RefCell<Option<(Cost, RecExpr<Node>)>>>;

/// Why an explanation run stopped: the form it looked for is reached.
pub(super) const REACHED: &str = "the form looked for is reached";

/// Why a run stopped early because the best form no longer improved.
pub(super) const PLATEAU: &str = "no better form for 5 iterations";

/// Why a run stopped early because the e-graph only grew after its best form.
pub(super) const BRED: &str = "no better form for 2 iterations while the e-graph grew 4-fold";

/// How many iterations in a row the best form may fail to get cheaper before the run
/// stops. Once a product's rebracketing no longer counted as progress (`996cff6`), 6
/// and 5 gave the same answers on all 652 test and survey queries, 5 in 2% less time
/// (a median query 6% less); 4 changed one answer's order of terms.
pub(super) const PLATEAU_ITERATIONS: usize = 5;

/// The run also stops after [`PLATEAU_BRED_ITERATIONS`] iterations without a cheaper
/// form once the e-graph holds this many times the nodes it held when the best form was
/// found: the iterations after an answer is found are the largest, and where they only
/// breed bracketings and signs of sums (the Gaussian by its mean: the answer at 281
/// nodes, 3,444 when the plateau ended) no cheaper form came of them in the surveys.
/// Two such iterations (three before `3676506`) changed none of the 349 test queries'
/// answers (`benches/compare_answers.py`).
pub(super) const PLATEAU_GROWTH: usize = 4;

/// See [`PLATEAU_GROWTH`].
pub(super) const PLATEAU_BRED_ITERATIONS: usize = 2;

/// Why a run on a large e-graph stopped: see [`PLATEAU_LARGE_ITERATIONS`].
pub(super) const PLATEAU_ON_LARGE: &str = "no better form for 3 iterations on 500 nodes or more";

/// On an e-graph of [`PLATEAU_ON_LARGE_FROM`] nodes or more, the run stops after this
/// many iterations without a cheaper form. Each such iteration costs milliseconds, and
/// over the 462 runs of the test queries (cookbook, Hessians, classic answers) a
/// cheaper form came at most 4 iterations after the one before, except twice, 5 after,
/// on e-graphs of 381 and 564 nodes (ridge's validation loss by λ, in parentheses
/// only). Stopping there saved 13% of all iterations' time and changed no answer.
/// Three (four before `4bc896f`) cut the test queries' total by 6–8%; one of their 352
/// answers changed, to one of equal size (`S⁻ᵀ(m − x)(S⁻¹(x − m))ᵀ` for
/// `S⁻ᵀ(x − m)(S⁻¹(m − x))ᵀ`), and none of 226 survey queries did.
pub(super) const PLATEAU_LARGE_ITERATIONS: usize = 3;

/// See [`PLATEAU_LARGE_ITERATIONS`].
pub(super) const PLATEAU_ON_LARGE_FROM: usize = 500;

/// From this many nodes on, the plateau is checked every second iteration.
pub(super) const PLATEAU_LARGE: usize = 1_000;

/// A runner hook that stops the run (with [`PLATEAU`]) once the cheapest form of the
/// first root has not got cheaper for [`PLATEAU_ITERATIONS`] iterations that changed the
/// e-graph (with [`BRED`] after fewer where it has grown [`PLATEAU_GROWTH`]-fold since).
/// Large e-graphs otherwise run to the iteration limit breeding variants that never win
/// (the softmax loss: 24 iterations, 3,000 nodes, the answer found by the twelfth), and
/// small ones spend their last, largest iterations distributing products whose answer
/// they held from the start (`‖Ax − b‖²`). A check extracts: a pass over
/// the e-graph, small beside an iteration's search and apply while the e-graph is small,
/// a quarter of the run past [`PLATEAU_LARGE`] nodes, where it is made every second
/// iteration.
pub(super) fn plateau(
    kept: Kept,
) -> impl FnMut(&mut egg::Runner<Node, Tables>) -> std::result::Result<(), String> + 'static {
    let mut best: Option<Cost> = None;
    let mut stale = 0usize;
    let mut size = (0, 0);
    // Nodes when the best form last got cheaper.
    let mut at_best = 0usize;
    // Iterations that changed the e-graph since the last check.
    let mut unchecked = 0usize;
    move |runner| {
        // An iteration that changed nothing (rules waiting for their bans to end) tried
        // nothing: it does not count.
        let now = (runner.egraph.total_number_of_nodes(), runner.egraph.number_of_classes());
        if std::mem::replace(&mut size, now) == now {
            return Ok(());
        }
        unchecked += 1;
        let first = best.is_none();
        if !first && now.0 >= PLATEAU_LARGE && unchecked < 2 {
            return Ok(());
        }
        let root = runner.roots[0];
        let extracted = extract::Extracted::new(&runner.egraph, Size { egraph: &runner.egraph });
        let cost = extracted.cost(root);
        if std::env::var_os("BRACKET_EGRAPH_DEBUG").is_some() {
            eprintln!("plateau check at {}: {cost:?}", runner.iterations.len());
        }
        // A form cheaper only by a tie-break (order of terms, signs) is progress too:
        // counting only smaller forms stopped the one-line GP kernel's gradient by its
        // length scale before its smallest form, 5 iterations after the one before (it
        // saved 13% of the Hessian cases' time). But not one cheaper only by its
        // products' bracketing, which the rules reach one reassociation an iteration,
        // and which the answer gets anyway (`left_associated`): starting forms come
        // right-nested, and their rebracketing alone kept small runs going for 6
        // iterations after their answer (the Student-t Hessian: 28 → 14 ms). Nor, on
        // PLATEAU_ON_LARGE_FROM nodes or more, one cheaper only by the order of its
        // terms: the Rayleigh quotient's HVP found its answer's order a term at a time
        // and ran 4 more iterations of 1,000–1,700 nodes (17.7 → 12.9 ms; of 656 survey
        // answers one changed, to one of equal size with two terms swapped).
        let large = now.0 >= PLATEAU_ON_LARGE_FROM;
        let progress = |b: &Cost| if large { cost.beyond_order(b) } else { cost.beyond_bracketing(b) };
        if best.as_ref().is_none_or(progress) {
            best = Some(cost);
            stale = 0;
            at_best = now.0;
            *kept.borrow_mut() = Some((cost, extracted.best(root).1));
        } else {
            if best.as_ref().is_some_and(|b| cost < *b) {
                best = Some(cost);
                *kept.borrow_mut() = Some((cost, extracted.best(root).1));
            }
            stale += unchecked;
        }
        unchecked = 0;
        // An e-graph that has only bred since its best form stops sooner.
        let bred = stale >= PLATEAU_BRED_ITERATIONS && now.0 >= PLATEAU_GROWTH * at_best;
        if stale >= PLATEAU_ITERATIONS {
            Err(PLATEAU.to_string())
        } else if bred {
            Err(BRED.to_string())
        } else if stale >= PLATEAU_LARGE_ITERATIONS && now.0 >= PLATEAU_ON_LARGE_FROM {
            Err(PLATEAU_ON_LARGE.to_string())
        } else {
            Ok(())
        }
    }
}

/// Unions two classes for a reason an explanation can name.
pub(super) fn union_named(egraph: &mut EGraph, a: Id, b: Id, reason: &str) -> bool {
    if egraph.are_explanations_enabled() {
        egraph.union_trusted(a, b, reason)
    } else {
        egraph.union(a, b)
    }
}

/// A term of a flat explanation as a term of its own.
pub(super) fn flat_term(t: &egg::FlatTerm<Node>, rec: &mut RecExpr<Node>) -> Id {
    let ids: Vec<Id> = t.children.iter().map(|c| flat_term(c, rec)).collect();
    let mut node = t.node.clone();
    for (slot, id) in node.children_mut().iter_mut().zip(ids) {
        *slot = id;
    }
    rec.add(node)
}

/// The rule that rewrote some part of a flat explanation's term.
pub(super) fn rule_of(t: &egg::FlatTerm<Node>) -> Option<String> {
    t.forward_rule.or(t.backward_rule).map(|r| r.to_string()).or_else(|| t.children.iter().find_map(rule_of))
}

/// `a(bc)` as `(ab)c` for matrices a, b and a matrix or vector c, anywhere in `e`: a
/// long chain whose bracketing the e-graph kept prints as `abc`, not `a(b(c…))`. And a
/// scalar times a reciprocal after it, `N(1/s)`, as the quotient `N/s`.
pub(super) fn left_associated(e: Expr) -> Expr {
    let Expr { kind, shape } = e;
    if let Kind::Product(a, b) = kind {
        let (a, b) = (left_associated(*a), left_associated(*b));
        let reciprocal = |x: &Expr| match &x.kind {
            Kind::DivScalar(one, s) if matches!(&one.kind, Kind::Const(c) if c.is_one()) => Some((**s).clone()),
            _ => None,
        };
        if a.is_scalar() && b.is_scalar() {
            if let Some(s) = reciprocal(&b) {
                return Expr::new(Kind::DivScalar(Box::new(a), Box::new(s)), shape);
            }
        }
        // A reciprocal in front, `1/(2N)‖XW − Y‖²`, reads as written; but in front of a
        // sum or a scalar name it is a quotient: `(a + b)/ρ³`, `N/k²`.
        let over = matches!(b.kind, Kind::Add(_)) || (b.is_scalar() && matches!(b.kind, Kind::Var(_)));
        if let (true, true, Some(s)) = (a.is_scalar(), over, reciprocal(&a)) {
            return Expr::new(Kind::DivScalar(Box::new(b), Box::new(s)), shape);
        }
        // Only a true matrix product regroups: `a` and `c` matrices whose inner dims
        // meet (a scalar or a column on the left scales, and does not chain).
        // So does a matrix times an outer product: `A(b cᵀ)` is `(Ab)cᵀ`, and a column
        // times a row that is a product: `a(bᵀC)` is `(abᵀ)C`, printed `abᵀC`.
        let row = |c: &Expr| c.order() == 2 && c.shape[0] == crate::ir::shape::Dim::Iota;
        let outer = |c: &Expr, d: &Expr| c.order() == 1 && row(d);
        let chains = |a: &Expr, c: &Expr, d: &Expr| {
            (a.order() == 2
                && c.order() >= 1
                && a.shape[1] == c.shape[0]
                && ((c.order() == 2 && (1..=2).contains(&d.order())) || outer(c, d)))
                || (a.order() == 1 && row(c) && d.order() == 2)
        };
        return match b.kind {
            Kind::Product(ref c, ref d) if chains(&a, c, d) => {
                let (c, d) = (c.clone(), d.clone());
                let ac = crate::ir::build::product(a, *c);
                left_associated(Expr::new(Kind::Product(Box::new(ac), d), shape))
            }
            _ => Expr::new(Kind::Product(Box::new(a), Box::new(b)), shape),
        };
    }
    let mut out = Expr { kind, shape };
    for c in out.children_mut() {
        *c = left_associated(std::mem::replace(c, Expr::new(Kind::Ones, vec![])));
    }
    out
}

/// `e` with every run of two or more transposed matrices in a matrix product gathered
/// under one transpose: `Aᵀ Bᵀ Cᵀ` is `(C B A)ᵀ`. The rules gather one transpose per
/// iteration, and a chain too long for them to rebracket (past [`LONG_CHAIN`]) would
/// reach the iteration limit half gathered; such chains start gathered instead.
fn gathered_transposes(e: Expr) -> Expr {
    let matrix = |x: &Expr| x.order() == 2 && !x.shape.contains(&crate::ir::shape::Dim::Iota);
    let product_of_matrices = |x: &Expr| matches!(&x.kind, Kind::Product(a, b) if matrix(x) && matrix(a) && matrix(b));
    if !product_of_matrices(&e) {
        let mut out = e;
        for c in out.children_mut() {
            *c = gathered_transposes(std::mem::replace(c, Expr::new(Kind::Ones, vec![])));
        }
        return out;
    }
    fn flatten(x: Expr, out: &mut Vec<Expr>, is_product: &dyn Fn(&Expr) -> bool) {
        if is_product(&x) {
            if let Kind::Product(a, b) = x.kind {
                flatten(*a, out, is_product);
                flatten(*b, out, is_product);
            }
        } else {
            out.push(gathered_transposes(x));
        }
    }
    let mut factors = Vec::new();
    flatten(e, &mut factors, &product_of_matrices);
    let mut out: Vec<Expr> = Vec::new();
    let mut run: Vec<Expr> = Vec::new();
    let close = |run: &mut Vec<Expr>, out: &mut Vec<Expr>| {
        if run.len() >= 2 {
            let inner = run.drain(..).rev().reduce(crate::ir::build::product).expect("a run of two");
            out.push(crate::ir::build::transpose(inner));
        } else {
            out.extend(run.drain(..).map(crate::ir::build::transpose));
        }
    };
    for f in factors {
        match f.kind {
            Kind::Transpose(inner) if matrix(&inner) => run.push(*inner),
            kind => {
                close(&mut run, &mut out);
                out.push(Expr { kind, shape: f.shape });
            }
        }
    }
    close(&mut run, &mut out);
    out.into_iter().reduce(crate::ir::build::product).expect("a product has factors")
}

/// `e` with every term scaled by zero written as the zero tensor: `0A` is `0`.
pub(super) fn zeroed(e: Expr) -> Expr {
    let is_zero = |x: &Expr| matches!(&x.kind, Kind::Const(c) if c.is_zero());
    match &e.kind {
        Kind::Scale(c, x) if c.is_zero() && !matches!(x.kind, Kind::Ones) => {
            return crate::ir::build::zero(e.shape.clone())
        }
        Kind::Product(a, b) if is_zero(a) || is_zero(b) => return crate::ir::build::zero(e.shape.clone()),
        _ => {}
    }
    let mut out = e;
    for c in out.children_mut() {
        *c = zeroed(std::mem::replace(c, Expr::new(Kind::Ones, vec![])));
    }
    // And a linear function of a zero, or a product with one, is a zero of its own
    // shape: `diag(0)` (of `diag(x)diag(y) − diag(x ⊙ y)`) would not read back.
    let zero = |x: &Expr| is_zero(x) || matches!(&x.kind, Kind::Scale(c, o) if c.is_zero() && o.kind == Kind::Ones);
    // And a zero term of a sum drops out: `(0 − τa)bᵀ` is `−τabᵀ`.
    if let Kind::Add(ts) = &mut out.kind {
        if ts.iter().any(zero) && !ts.iter().all(zero) {
            ts.retain(|t| !zero(t));
            if ts.len() == 1 {
                return ts.pop().expect("one term");
            }
        }
    }
    let vanishes = match &out.kind {
        Kind::Diag(x) | Kind::Transpose(x) | Kind::Trace(x) | Kind::Sum(x) => zero(x),
        Kind::Hadamard(a, b) | Kind::Product(a, b) => zero(a) || zero(b),
        _ => false,
    };
    if vanishes {
        return crate::ir::build::zero(out.shape.clone());
    }
    out
}

/// The cost of the term `rec`, all of whose nodes the e-graph holds (a form it started
/// from), by the default cost; None where it does not hold one.
fn term_cost(egraph: &EGraph, rec: &RecExpr<Node>) -> Option<Cost> {
    let mut size = Size { egraph };
    let mut ids: Vec<Id> = Vec::with_capacity(rec.as_ref().len());
    let mut costs: Vec<Cost> = Vec::with_capacity(rec.as_ref().len());
    for node in rec.as_ref() {
        let mut kids = node.children().iter().map(|&i| costs[usize::from(i)]);
        let in_graph = node.clone().map_children(|i| ids[usize::from(i)]);
        let id = egraph.lookup(in_graph.clone())?;
        let cost = size.cost(&in_graph, |_| kids.next().expect("a cost for each child"));
        ids.push(id);
        costs.push(cost);
    }
    costs.last().copied()
}

/// The cheapest term of a class by the default cost.
pub fn best_term(egraph: &EGraph, id: Id) -> RecExpr<Node> {
    extract::Extracted::new(egraph, Size { egraph }).best(id).1
}
