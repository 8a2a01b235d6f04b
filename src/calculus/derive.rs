//! Derivations: the chain of `=` steps from `d(f)` to `G · dX`, as the tutorial writes
//! them (§5): the differential by the product and chain rules, the same in bracket
//! notation, dX taken out of each term, like terms merged, and G in classic notation.
//!
//! Every step is an expression, so a test can evaluate consecutive steps on random
//! tensors (with random dX) and check that they are equal.

use crate::calculus::answer::Answer;
pub use crate::calculus::gradient::Through;
use crate::calculus::gradient::{differential_by, starting_forms, symmetric_gradient};
use crate::calculus::takeout::take_out;
use crate::egraph::raise::{merge_terms, terms_to_expr};
use crate::egraph::{operations, Rewritten};
use crate::error::{Error, ErrorCode, Result};
use crate::ir::build::scale;
use crate::ir::expr::{Expr, GenForm, Kind, Pos};
use crate::network::lower;
use crate::read::elaborate::Model;
use crate::render::{render, Format};
use indexmap::IndexMap;
use serde_json::{json, Value};

/// One step: an expression and why it equals the previous one.
#[derive(Clone, Debug)]
pub struct Step {
    /// The expression (a differential, linear in dX).
    pub expr: Expr,
    /// The rule that gives it from the previous step.
    pub why: String,
}

/// A derivation of ∇_X f (or the Jacobian) step by step.
#[derive(Clone, Debug)]
pub struct Derivation {
    /// The function's model (names, shapes).
    pub model: Model,
    /// The function.
    pub function: Expr,
    /// The variable.
    pub wrt: String,
    /// The steps, from `d(f)` to `G · dX`.
    pub steps: Vec<Step>,
    /// G.
    pub result: Answer,
    /// How the result is named, such as `∇_{A1}J` in backpropagation; `∇_X` (or `J_X`
    /// for a Jacobian) when `None`.
    pub label: Option<String>,
}

/// Derives ∇_X f for an expression `f` of `model`, where X (`wrt`) is a name of it.
pub fn derive_in(model: &Model, f: &Expr, wrt: &str, through: Through) -> Result<Derivation> {
    // Where `grad` takes the gradient assembled from backpropagation (a program whose
    // differential has too many terms to take dX out of, or whose e-graph answer keeps
    // bracket notation), the derivation ends there too, in one step named so.
    let assembled = |classic: bool| {
        let through_definitions = through == Through::Definitions;
        through_definitions.then(|| crate::calculus::gradient::assembled(model, f, wrt, classic)).flatten()
    };
    // The step that ends at it: G · dX.
    let step = |answer: &Answer| {
        let x_shape = model.names[wrt].shape.clone();
        let dx = Expr::new(Kind::Diff(wrt.to_string()), x_shape.clone());
        let expr = contract(answer.expr.clone(), dx, f.is_scalar(), x_shape.len(), &f.shape);
        Step { expr, why: "backpropagation through the definitions, each ∇ written out".into() }
    };
    let derived = match derive_steps(model, f, wrt, through, Explain::Rules) {
        Err(e) if e.code == crate::error::ErrorCode::Unsupported => {
            let Some(result) = assembled(false) else { return Err(e) };
            let steps = vec![step(&result)];
            Ok(Derivation { model: model.clone(), function: f.clone(), wrt: wrt.into(), steps, result, label: None })
        }
        Ok(mut d) if !crate::egraph::appliers::is_classic(&d.result.expr) => {
            if let Some(result) = assembled(true) {
                d.steps.push(step(&result));
                d.result = result;
            }
            Ok(d)
        }
        d => d,
    };
    // Where `grad` takes its terms' gradients added (`gradient::by_terms`), so does the
    // derivation, in a last step.
    derived.map(|mut d| {
        if through == Through::Definitions {
            let options = crate::egraph::Options::default();
            if let Some(sum) = crate::calculus::gradient::by_terms(model, f, wrt, &d.result.expr, &options) {
                let x_shape = model.names[wrt].shape.clone();
                let dx = Expr::new(Kind::Diff(wrt.to_string()), x_shape.clone());
                let expr = contract(sum.clone(), dx, f.is_scalar(), x_shape.len(), &f.shape);
                d.steps.push(Step { expr, why: "each term's gradient simplified on its own, added".into() });
                d.result = Answer { expr: sum, ..d.result };
            }
        }
        d
    })
}

/// How much of the e-graph's work a derivation shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Explain {
    /// Its steps from egg's explanation, each naming its rules.
    Rules,
    /// One step to the simplest form (cheaper: egg records no explanation).
    Result,
}

/// As [`derive_in`], with the e-graph's steps shown or summed up in one.
pub fn derive_steps(model: &Model, f: &Expr, wrt: &str, through: Through, explain: Explain) -> Result<Derivation> {
    let model = model.clone();
    let f = Answer { model: model.clone(), expr: f.clone(), saturation: None };
    let Some(info) = model.names.get(wrt) else {
        return Err(Error::bare(ErrorCode::Unknown, format!("`{wrt}` does not occur in the function")));
    };
    let x_shape = info.shape.clone();
    let dx = Expr::new(Kind::Diff(wrt.to_string()), x_shape.clone());
    let mut steps = Vec::new();
    let d = differential_by(&model, &f.expr, wrt, through)?;
    let Some(d) = d else {
        let zero = crate::ir::build::zero(f.expr.shape.clone());
        let result = Answer { model: model.clone(), expr: crate::ir::build::zero(x_shape), saturation: None };
        steps.push(Step { expr: zero, why: format!("{wrt} does not occur").into() });
        return Ok(Derivation { model, function: f.expr, wrt: wrt.to_string(), steps, result, label: None });
    };
    steps.push(Step { expr: d.clone(), why: "product and chain rules".into() });
    // Sums without dX stay whole in the bracket steps, as the tutorial keeps a residual
    // `Z = h − Y` one factor: they stand in as names while lowering and taking out.
    let full = d.clone();
    let mut frozen: IndexMap<String, Expr> = IndexMap::new();
    let d = freeze(&d, &mut frozen);
    let thaw = |e: Expr| -> Expr { thawed(&e, &frozen) };
    // The same terms in bracket notation.
    let terms = lower(&d);
    let as_networks = sum_of(
        terms
            .iter()
            .map(|t| {
                let body = if t.net.factors.is_empty() {
                    Expr::new(Kind::Const(num_rational::BigRational::from_integer(1.into())), vec![])
                } else {
                    Expr::new(Kind::Network(Box::new(t.net.clone())), f.expr.shape.clone())
                };
                scale(t.coef.clone(), body)
            })
            .collect(),
        &f.expr.shape,
    );
    steps.push(Step { expr: thaw(as_networks), why: "in bracket notation".into() });
    // dX taken out of every term, before and after like terms merge.
    let taken = take_out(&d, wrt)?;
    let raw: Vec<crate::network::Term> = {
        let mut all = Vec::new();
        for t in terms {
            let single = Expr::new(Kind::Network(Box::new(t.net.clone())), f.expr.shape.clone());
            for mut g in take_out(&single, wrt)? {
                g.coef = &g.coef * &t.coef;
                all.push(g);
            }
        }
        all
    };
    let mut g_shape = f.expr.shape.clone();
    g_shape.extend(x_shape.iter().cloned());
    let with_dx = |g: Expr| -> Expr { contract(g, dx.clone(), f.expr.is_scalar(), x_shape.len(), &f.expr.shape) };
    let networks_of = |terms: &[crate::network::Term]| -> Expr {
        sum_of(
            terms
                .iter()
                .map(|t| scale(t.coef.clone(), Expr::new(Kind::Network(Box::new(t.net.clone())), g_shape.clone())))
                .collect(),
            &g_shape,
        )
    };
    steps.push(Step { expr: thaw(with_dx(networks_of(&raw))), why: format!("take out d{wrt}") });
    if merge_terms(raw.clone()).len() < raw.len() {
        steps.push(Step { expr: thaw(with_dx(networks_of(&taken))), why: "like terms merge".into() });
    }
    let g = thaw(terms_to_expr(&taken, &g_shape));
    steps.push(Step { expr: with_dx(g.clone()), why: "classic notation".into() });
    // The simplest form is `grad`'s: from the terms with every sum multiplied out. By a
    // symmetric matrix dX is symmetric too, so G · dX = sym(G) · dX: the gradient in
    // the space of symmetric matrices (docs/symmetric.md), which `grad` gives.
    let symmetric = f.expr.is_scalar() && model.names.get(wrt).is_some_and(|i| i.symmetric);
    let mut labelled = starting_forms(&model, &full, wrt, &g_shape, symmetric)?;
    if through == Through::Definitions {
        labelled.extend(crate::calculus::gradient::folded_forms(&model, &f.expr, wrt, &g_shape, symmetric));
    }
    let forms: Vec<Expr> = labelled.iter().map(|(f, _)| f.clone()).collect();
    let mut start = g.clone();
    if symmetric {
        start = symmetric_gradient(&model, start);
        match steps.last_mut() {
            // G is symmetric already: the step to G says so (a step to the same form
            // would not be shown).
            Some(last) if start == g => {
                last.why = format!("{}; d{wrt} is symmetric and so is G: ½(G + Gᵀ) · d{wrt} = G · d{wrt}", last.why)
            }
            _ => {
                let why = format!("d{wrt} is symmetric: G · d{wrt} = ½(G + Gᵀ) · d{wrt}");
                steps.push(Step { expr: with_dx(start.clone()), why });
            }
        }
    }
    // The way from the form just shown to grad's answer. On small forms, one run of
    // grad's (its forms in its order, so the answer is grad's) with explanations on; on
    // large ones, where explanations cost a run half as much again, grad's run without
    // them, then a run that stops once it reaches the answer. Where the way goes by
    // another starting form (a jump a reader cannot follow by rules), or where only the
    // second kind of run is made, the way is from the form shown by rules alone where
    // they reach the answer, else by way of the other starting forms, each step to one
    // named for how it was made. (An answer remade after grad's run, cancelled or with
    // numbers in front, is reached as the run's own answer, the remaking after it.)
    // The rules see the facts `grad`'s run sees.
    let inherited = crate::calculus::gradient::with_inherited_row_sums(&model);
    let rules_model = inherited.as_ref().unwrap_or(&model);
    let from = forms.iter().position(|f| *f == start);
    let small = forms.iter().map(operations).sum::<usize>() < EXPLAINED_IN_ONE_RUN;
    let (best, report, explained) = match (explain, from) {
        (Explain::Rules, Some(k)) if small => {
            let (best, report, rewrites) = crate::egraph::simplify_explained(&labelled, rules_model, k);
            let jumps = rewrites.iter().any(|r| labelled.iter().any(|(_, label)| r.rule == *label));
            (best, report, (!jumps).then_some(rewrites))
        }
        _ => {
            let (best, report) = crate::egraph::simplify_alternatives(&forms, rules_model, &Default::default());
            (best, report, (explain == Explain::Result).then(Vec::new))
        }
    };
    let rewrites = explained.unwrap_or_else(|| {
        let target = report.remade.as_ref().map_or(&best, |(before, _, _)| before);
        let reaches = |path: &[Rewritten]| {
            path.last().is_some_and(|r| render(&r.expr, Format::Unicode) == render(target, Format::Unicode))
        };
        let alone = crate::egraph::explain_to(&[(start.clone(), "")], rules_model, target);
        let mut path = if reaches(&alone) || labelled.len() <= 1 {
            alone
        } else {
            let mut from = vec![(start.clone(), "")];
            from.extend(labelled.into_iter().filter(|(f, _)| *f != start));
            crate::egraph::explain_to(&from, rules_model, target)
        };
        if reaches(&path) || (path.is_empty() && start == *target) {
            path.extend(report.remade_steps(&best));
        }
        path
    });
    let condensed = condense(&start, rewrites);
    match condensed.last() {
        // The explanation's last term is the result up to bracketing of long chains.
        Some(last) if render(&last.0, Format::Unicode) == render(&best, Format::Unicode) => {
            steps.extend(condensed.into_iter().map(|(e, why)| Step { expr: with_dx(e), why }));
        }
        _ => steps.push(Step { expr: with_dx(best.clone()), why: "simplest form (e-graph, rules/)".into() }),
    }
    let (g, saturation) = (best, Some(report));
    // Drop steps that print the same as the one before (each printed once).
    let mut shown: Option<String> = None;
    steps.retain(|s| {
        let text = render(&s.expr, Format::Unicode);
        let repeated = shown.as_ref() == Some(&text);
        shown = Some(text);
        !repeated
    });
    Ok(Derivation {
        model: model.clone(),
        function: f.expr,
        wrt: wrt.to_string(),
        steps,
        result: Answer { model, expr: g, saturation },
        label: None,
    })
}

/// `e` with every largest sum that holds no differential replaced by a name of its own
/// (recorded in `frozen`).
fn freeze(e: &Expr, frozen: &mut IndexMap<String, Expr>) -> Expr {
    if matches!(e.kind, Kind::Add(_)) && !holds_differential(e) {
        // The same sum twice is one name, so that like terms still merge.
        let name = match frozen.iter().find(|(_, x)| *x == e) {
            Some((n, _)) => n.clone(),
            None => format!("⟨frozen {}⟩", frozen.len()),
        };
        frozen.insert(name.clone(), e.clone());
        return Expr::new(Kind::Var(name), e.shape.clone());
    }
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = freeze(c, frozen);
    }
    out
}

/// `e` with the frozen names replaced by their sums again.
fn thawed(e: &Expr, frozen: &IndexMap<String, Expr>) -> Expr {
    if let Kind::Var(n) = &e.kind {
        if let Some(x) = frozen.get(n) {
            return x.clone();
        }
    }
    let mut out = e.clone();
    for c in out.children_mut() {
        *c = thawed(c, frozen);
    }
    out
}

fn holds_differential(e: &Expr) -> bool {
    matches!(e.kind, Kind::Diff(_) | Kind::DiffOf(_)) || e.children().iter().any(|c| holds_differential(c))
}

/// Starting forms of fewer operations than this (in all) are simplified and explained in
/// one run; larger ones are simplified without explanations first (`tr(AX⁻¹B)` is 17,
/// the Gaussian likelihood by its covariance 144).
const EXPLAINED_IN_ONE_RUN: usize = 100;

/// The most e-graph steps a derivation shows; more are merged.
const EGRAPH_STEPS: usize = 4;

/// The most rule names one step lists.
const RULES_SHOWN: usize = 4;

/// Rules that only re-bracket, reorder or do arithmetic: a reader needs no step of its
/// own for them, so they join the next step that changes something else.
fn minor(rule: &str) -> bool {
    rule.contains("assoc") || rule.contains("comm") || rule == "arithmetic"
}

/// egg's explanation (one rewrite at a time, from `start`) condensed into a few steps.
/// The path an explanation takes through the e-graph can pass through larger terms on
/// its way, so a step is shown only where the term gets smaller than every term before
/// it (in operations), and at the end; the rules of the rewrites between join it. A step
/// whose rules the step before already names joins that one. Then neighbours merge until at most [`EGRAPH_STEPS`] are left. Each step names its rules,
/// minor ones (bracketing, order, arithmetic) last.
fn condense(start: &Expr, rewrites: Vec<crate::egraph::Rewritten>) -> Vec<(Expr, String)> {
    fn add(rules: &mut Vec<String>, r: &str) {
        if !rules.iter().any(|x| x == r) {
            rules.push(r.to_string());
        }
    }
    let mut groups: Vec<(Expr, Vec<String>)> = Vec::new();
    let mut carried: Vec<String> = Vec::new();
    let mut smallest = operations(start);
    let shown = render(start, Format::Unicode);
    let n = rewrites.len();
    for (k, r) in rewrites.into_iter().enumerate() {
        add(&mut carried, &r.rule);
        let size = operations(&r.expr);
        let last = k + 1 == n;
        if size < smallest || (last && render(&r.expr, Format::Unicode) != shown) {
            smallest = smallest.min(size);
            // A run of one rule (minor ones aside) is one step.
            match groups.last_mut() {
                Some(prev) if carried.iter().filter(|r| !minor(r)).all(|r| prev.1.contains(r)) => {
                    prev.0 = r.expr;
                    carried.drain(..).for_each(|r| add(&mut prev.1, &r));
                }
                _ => groups.push((r.expr, std::mem::take(&mut carried))),
            }
        }
    }
    while groups.len() > EGRAPH_STEPS {
        // Merge the neighbours that name the fewest rules between them.
        let k = (0..groups.len() - 1).min_by_key(|&k| groups[k].1.len() + groups[k + 1].1.len()).expect("two");
        let (expr, rules) = groups.remove(k + 1);
        groups[k].0 = expr;
        rules.iter().for_each(|r| add(&mut groups[k].1, r));
    }
    groups
        .into_iter()
        .map(|(e, rules)| {
            // What the reader most needs first: definitions and facts used, then the
            // rules, then the minor ones.
            let mut names: Vec<&str> = rules.iter().map(String::as_str).collect();
            names.sort_by_key(|r| match *r {
                r if r.starts_with("definition of") || r.starts_with("fact-") => 0,
                r if minor(r) => 2,
                _ => 1,
            });
            let more = names.len().saturating_sub(RULES_SHOWN);
            names.truncate(RULES_SHOWN);
            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
            (e, format!("{}{tail}", names.join(", ")))
        })
        .collect()
}

fn sum_of(mut terms: Vec<Expr>, shape: &[crate::ir::shape::Dim]) -> Expr {
    match terms.len() {
        0 => crate::ir::build::zero(shape.to_vec()),
        1 => terms.pop().expect("one"),
        _ => Expr::new(Kind::Add(terms), shape.to_vec()),
    }
}

/// `G · dX` for a scalar function, `G ·_k dX` otherwise.
fn contract(g: Expr, dx: Expr, scalar: bool, k: usize, f_shape: &[crate::ir::shape::Dim]) -> Expr {
    if scalar {
        return Expr::new(Kind::Dot(Box::new(g), Box::new(dx)), vec![]);
    }
    let n = g.order();
    let left = (n - k + 1..=n).map(|at| Pos { at, bar: true }).collect();
    let right = (1..=k).map(|at| Pos { at, bar: true }).collect();
    Expr::new(
        Kind::Gen { lhs: Box::new(g), rhs: Box::new(dx), left, right, dot: true, form: GenForm::K(k) },
        f_shape.to_vec(),
    )
}

impl Derivation {
    /// The same derivation with names replaced by `map` (a derivation of a function
    /// that differs from this one's only in its names).
    pub fn renamed(&self, map: &indexmap::IndexMap<String, String>) -> Derivation {
        let wrt = map.get(&self.wrt).cloned().unwrap_or_else(|| self.wrt.clone());
        let why = |w: &str| {
            if w == format!("take out d{}", self.wrt) {
                format!("take out d{wrt}")
            } else if w == format!("{} does not occur", self.wrt) {
                format!("{wrt} does not occur")
            } else {
                w.to_string()
            }
        };
        Derivation {
            model: self.model.clone(),
            function: self.function.renamed(map),
            wrt: wrt.clone(),
            steps: self.steps.iter().map(|s| Step { expr: s.expr.renamed(map), why: why(&s.why) }).collect(),
            result: Answer {
                model: self.result.model.clone(),
                expr: self.result.expr.renamed(map),
                saturation: self.result.saturation.clone(),
            },
            label: self.label.clone(),
        }
    }

    /// The derivation as lines: `d(f) = …` then `= …  (why)`, and the result.
    pub fn render(&self, format: Format) -> String {
        let f = render(&self.function, format);
        let x = &self.wrt;
        let grad = if self.function.is_scalar() { "∇" } else { "J" };
        match format {
            Format::Latex => {
                let mut out = String::from("\\begin{align*}\n");
                for (k, s) in self.steps.iter().enumerate() {
                    let lead = if k == 0 { format!("d\\left({f}\\right) &= ") } else { "&= ".to_string() };
                    let why = crate::render::latex_text(&s.why);
                    out.push_str(&format!("{lead}{} && \\text{{{why}}} \\\\\n", render(&s.expr, format)));
                }
                let g = render(&self.result.expr, format);
                let sym = if self.function.is_scalar() { "\\nabla" } else { "J" };
                let label = match &self.label {
                    Some(l) => crate::render::latex_name(l),
                    None => format!("{sym}_{{{}}}", crate::render::latex_name(x)),
                };
                out.push_str(&format!("{label} &= {g}\n\\end{{align*}}"));
                out
            }
            _ => {
                // ASCII output is ASCII: the reasons and the label spelt out too.
                let prose = |s: &str| match format {
                    Format::Ascii => crate::render::ascii_text(s),
                    _ => s.to_string(),
                };
                let mut out = String::new();
                for (k, s) in self.steps.iter().enumerate() {
                    let lead = if k == 0 { format!("d({f}) = ") } else { "  = ".to_string() };
                    out.push_str(&format!("{lead}{}    ({})\n", render(&s.expr, format), prose(&s.why)));
                }
                let label = self.label.clone().unwrap_or_else(|| format!("{grad}_{x}"));
                out.push_str(&format!("{} = {}", prose(&label), self.result.render(format)));
                out
            }
        }
    }

    /// The derivation as JSON: every step in every format, and the result.
    pub fn json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "why": s.why,
                    "unicode": render(&s.expr, Format::Unicode),
                    "ascii": render(&s.expr, Format::Ascii),
                    "latex": render(&s.expr, Format::Latex),
                })
            })
            .collect();
        json!({"wrt": self.wrt, "steps": steps, "result": self.result.json()})
    }
}
