//! The gradient pipeline, one for `grad`, `jacobian`, `derive` and programs: the
//! differential, dX taken out of each term, the forms the e-graph starts from (the terms
//! factored, and unfactored when few), the `sym(G)` convention for a symmetric matrix,
//! and the e-graph's simplest form.

use crate::calculus::answer::Answer;
use crate::calculus::diff::{differential, local_differential};
use crate::calculus::takeout::{take_out, take_out_grouped};
use crate::egraph::common::{common_terms_to_expr, grouped_terms_to_expr};
use crate::egraph::raise::{readings, Readings};
use crate::error::Result;
use crate::ir::expr::{Expr, Func, Kind};
use crate::network::Term;
use crate::read::elaborate::Model;
use num_rational::BigRational;

/// The most terms of a derivative that also go to the e-graph unfactored.
pub const UNFACTORED_TERMS: usize = 8;

/// The most terms of a tensor-valued derivative whose groups sharing a part are
/// factored when not all terms share one (see `forms`).
pub const GROUPED_TERMS: usize = 4;

/// Whether defined names are differentiated through (`h = …` by its definition) or are
/// variables of their own, as in one local step of backpropagation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Through {
    /// `dh` is the differential of h's definition.
    Definitions,
    /// `dh` is a differential of its own.
    Nothing,
}

/// d(f) by `var` (`None` where f does not depend on it).
pub fn differential_by(model: &Model, f: &Expr, var: &str, through: Through) -> Result<Option<Expr>> {
    let vars = [var.to_string()].into_iter().collect();
    match through {
        Through::Definitions => differential(f, model, &vars),
        Through::Nothing => local_differential(f, model, &vars),
    }
}

/// The gradient by a symmetric matrix under the convention `sym(G) = (G + Gᵀ)/2`: the
/// gradient in the space of symmetric matrices (see docs/symmetric.md). G itself where
/// G is symmetric already (`S⁻¹(x − m)(S⁻¹(x − m))ᵀ`, which the rules would otherwise
/// have to show equal to its transpose before halving the sum of the two).
pub fn symmetric_gradient(model: &Model, g: Expr) -> Expr {
    if crate::eval::identity::symmetric_everywhere(model, &g) {
        g
    } else {
        symmetrized(g)
    }
}

/// `(G + Gᵀ)/2`.
fn symmetrized(g: Expr) -> Expr {
    let shape = g.shape.clone();
    let t = crate::ir::build::transpose(g.clone());
    let sum = Expr::new(crate::ir::expr::Kind::Add(vec![g, t]), shape);
    crate::ir::build::scale(BigRational::new(1.into(), 2.into()), sum)
}

/// How a starting form was made, as a derivation names the step to it.
pub const WRITTEN_OUT: &str = "terms written out";
/// A form whose terms were each raised by the contraction search.
pub const SEARCHED: &str = "each term raised by contraction order";
/// A form with the part every term shares taken out.
pub const SHARED: &str = "the part all terms share taken out";
/// A form from the terms with sums free of dX kept whole.
pub const GROUPED: &str = "sums without dX kept whole";

/// The forms of G the e-graph starts from, each with how it was made: the terms
/// factored, and unfactored when there are few (a long unfactored sum mostly breeds
/// sign and bracketing variants), each term raised by contraction order, and the part
/// all terms share taken out; each symmetrized by a symmetric matrix.
pub fn forms(
    terms: &[Term],
    g_shape: &[crate::ir::shape::Dim],
    symmetric: Option<&Model>,
) -> Vec<(Expr, &'static str)> {
    let shape = g_shape.to_vec();
    let Readings { classic, sum, searched } = readings(terms, &shape);
    let mut forms = vec![(classic, "classic notation")];
    if terms.len() <= UNFACTORED_TERMS {
        forms.push((sum, WRITTEN_OUT));
    }
    forms.push((searched, SEARCHED));
    // Where not all terms share a part, groups that do are factored, for a tensor of
    // order 3 or more only: its terms raise to tensor operators, leaves the rules cannot
    // factor (a matrix's classic terms they factor themselves). And for a few terms
    // only: each group's raise simplifies its operands by runs of their own, where a
    // group that fails costs as much (an attention Hessian of 8 terms: 144 → 176 ms for
    // no other answer; one of 16 terms took 2.6× as long).
    let few = shape.len() >= 3 && terms.len() <= GROUPED_TERMS;
    let grouped = || few.then(|| grouped_terms_to_expr(terms, &shape)).flatten();
    if let Some(common) = common_terms_to_expr(terms, &shape).or_else(grouped) {
        forms.push((common, SHARED));
    }
    if let Some(model) = symmetric {
        forms = forms.into_iter().map(|(f, why)| (symmetric_gradient(model, f), why)).collect();
    }
    let mut distinct: Vec<(Expr, &'static str)> = Vec::new();
    for (f, why) in forms {
        add_new(&mut distinct, f, why);
    }
    distinct
}

/// Adds a form unless an equal one is there already.
fn add_new(forms: &mut Vec<(Expr, &'static str)>, f: Expr, why: &'static str) {
    if !forms.iter().any(|(g, _)| *g == f) {
        forms.push((f, why));
    }
}

/// Every form of G the e-graph starts from, for the differential `d`: [`forms`] of its
/// terms, and of its terms with sums free of dX kept whole.
pub fn starting_forms(
    model: &Model,
    d: &Expr,
    var: &str,
    g_shape: &[crate::ir::shape::Dim],
    symmetric: bool,
) -> Result<Vec<(Expr, &'static str)>> {
    let terms = take_out(d, var)?;
    let by_symmetric = symmetric.then_some(model);
    let mut all = forms(&terms, g_shape, by_symmetric);
    let grouped = take_out_grouped(d, var)?;
    if grouped != terms {
        for (f, _) in forms(&grouped, g_shape, by_symmetric) {
            add_new(&mut all, f, GROUPED);
        }
    }
    // Derivatives of functions whose values have names, by their identities: with
    // H = tanh(Z), tanh'(Z) is 1 − H ⊙ H, shorter once H is written by name.
    let named: Vec<Expr> = all.iter().filter_map(|(f, _)| by_identities(f, model)).collect();
    for f in named {
        add_new(&mut all, f, IDENTITIES);
    }
    Ok(all)
}

/// A form made from the function's own simplest form.
pub const FOLDED: &str = "the function simplified before it is differentiated";

/// The starting forms of the derivative of f's simplest form, where f nests element-wise
/// functions (in each other, or on both sides of a quotient) and its simplest form is
/// smaller: `exp(½ ln s)` is `sqrt(s)` and `e^{−z}/(1 + e^{−z})` is `sigmoid(−z)`, whose
/// derivatives are short, while the chain rule on the nested form leaves a long one that
/// the rules cannot always fold back. Empty otherwise.
pub fn folded_forms(
    model: &Model,
    f: &Expr,
    var: &str,
    g_shape: &[crate::ir::shape::Dim],
    symmetric: bool,
) -> Vec<(Expr, &'static str)> {
    if !nests_functions(f) {
        return Vec::new();
    }
    let (folded, _) = crate::egraph::simplify_expr(f, model, &crate::egraph::Options::default());
    if folded.shape != f.shape || crate::egraph::operations(&folded) >= crate::egraph::operations(f) {
        return Vec::new();
    }
    // The folded function is a second route; where it cannot be taken, the first stands.
    let Ok(Some(d)) = differential_by(model, &folded, var, Through::Definitions) else { return Vec::new() };
    match starting_forms(model, &d, var, g_shape, symmetric) {
        Ok(forms) => forms.into_iter().map(|(e, _)| (e, FOLDED)).collect(),
        Err(_) => Vec::new(),
    }
}

/// Whether an element-wise function is applied to another, or stands on both sides of a
/// quotient.
fn nests_functions(e: &Expr) -> bool {
    fn has_func(e: &Expr) -> bool {
        matches!(e.kind, Kind::Func { .. }) || e.children().iter().any(|c| has_func(c))
    }
    match &e.kind {
        Kind::Func { arg, .. } if has_func(arg) => true,
        Kind::DivScalar(a, b) | Kind::HDiv(a, b) if has_func(a) && has_func(b) => true,
        _ => e.children().iter().any(|c| nests_functions(c)),
    }
}

/// A form whose local derivatives were written by their functions' identities.
pub const IDENTITIES: &str = "tanh' = 1 − tanh², sigmoid' = sigmoid ⊙ (1 − sigmoid)";

/// `e` with `tanh'(Z)` written `1 − tanh(Z) ⊙ tanh(Z)` and `sigmoid'(Z)` written
/// `sigmoid(Z) ⊙ (1 − sigmoid(Z))` where a definition names `tanh(Z)` or `sigmoid(Z)`
/// (elsewhere the primed form is shorter); `None` if there is no such place.
fn by_identities(e: &Expr, model: &Model) -> Option<Expr> {
    fn go(e: &Expr, model: &Model, changed: &mut bool) -> Expr {
        if let Kind::Func { func: func @ (Func::Tanh | Func::Sigmoid), derivative: 1, arg } = &e.kind {
            let value = Expr::new(Kind::Func { func: func.clone(), derivative: 0, arg: arg.clone() }, e.shape.clone());
            // Shorter only where the argument is: `tanh'(XW + 1bᵀ)` against `1 − H ⊙ H`.
            if crate::egraph::contract::size(arg) > 4.0 && model.definitions.iter().any(|(_, v)| *v == value) {
                *changed = true;
                let ones = Expr::new(Kind::Ones, e.shape.clone());
                return crate::ir::build::derivative_by_value(func, value, ones).expect("tanh or sigmoid");
            }
        }
        let mut out = e.clone();
        for c in out.children_mut() {
            *c = go(c, model, changed);
        }
        out
    }
    let mut changed = false;
    let out = go(e, model, &mut changed);
    changed.then_some(out)
}

/// G with `df = G ·_k dX`, in its simplest form: the whole pipeline.
pub fn gradient(model: &Model, f: &Expr, var: &str, options: &crate::egraph::Options) -> Result<Answer> {
    let found = gradient_by_forms(model, f, var, options);
    match found.map(|(expr, saturation)| Answer { model: model.clone(), expr, saturation }) {
        // A deep program's differential (an RNN's loss over 16 steps) has more terms than
        // the take-out multiplies out: its gradient is assembled from backpropagation.
        // (Where that fails too, the take-out's error is the one reported.)
        Err(e) if e.code == crate::error::ErrorCode::Unsupported => assembled(model, f, var, false).ok_or(e),
        // Where the answer keeps bracket notation, backpropagation's classic one is taken.
        Ok(answer) if !crate::egraph::appliers::is_classic(&answer.expr) => {
            Ok(assembled(model, f, var, true).unwrap_or(answer))
        }
        answer => answer,
    }
}

/// For a program (a model with definitions), ∇_var f assembled from its backpropagation
/// equations (`backprop::assembled_gradient`), only a classic one with `classic`: what
/// `grad` and `derive` fall back on, one rule for both. None for a model without
/// definitions, or where backpropagation gives no answer.
pub(crate) fn assembled(model: &Model, f: &Expr, var: &str, classic: bool) -> Option<Answer> {
    if model.definitions.is_empty() {
        return None;
    }
    let answer = crate::calculus::backprop::assembled_gradient(model, f, var).ok().flatten()?;
    (!classic || crate::egraph::appliers::is_classic(&answer.expr)).then_some(answer)
}

/// Nodes of a program's differential by a variable from which its gradient is assembled
/// from backpropagation instead of simplified whole. On the unrolled RNN
/// (`benches/scaling.py`'s `rnn_direct`) the assembled answer is the smaller one there:
/// by b at τ = 4 (278 nodes) 527 characters against 769, and by W the same size 0.2 s
/// sooner. Not for a variable [`next_to_loss`]. A user's program differentiates to far
/// fewer nodes.
const ASSEMBLE_FROM: usize = 250;

/// Whether every definition that uses `var` is used by no other definition (an RNN's
/// output weights V, under each O_t = Z_tV + 1cᵀ): its differential is a sum of short
/// terms, simplified whole in milliseconds and smaller that way (`/N` taken out once).
fn next_to_loss(model: &Model, f: &Expr, var: &str) -> bool {
    let uses = |e: &Expr, name: &str| e.names().iter().any(|n| n == name);
    // The loss itself may be a definition (`J = …; J`).
    let loss = match &f.kind {
        Kind::Var(n) => Some(n.as_str()),
        _ => None,
    };
    model
        .definitions
        .iter()
        .filter(|(n, e)| Some(n.as_str()) != loss && uses(e, var))
        .all(|(user, _)| !model.definitions.iter().any(|(n, e)| Some(n.as_str()) != loss && uses(e, user)))
}

/// The gradient and what the e-graph did to reach it (none where it was assembled from
/// backpropagation). The model is not cloned: [`by_terms`] calls this once a term.
fn gradient_by_forms(
    model: &Model,
    f: &Expr,
    var: &str,
    options: &crate::egraph::Options,
) -> Result<(Expr, Option<crate::egraph::Report>)> {
    let info = &model.names[var];
    let mut shape = f.shape.clone();
    shape.extend(info.shape.iter().cloned());
    let symmetric = info.symmetric && f.is_scalar();
    let mut forms = match differential_by(model, f, var, Through::Definitions)? {
        // A deep program's differential (an RNN's by W: 258 nodes at τ = 4, 798 at τ = 8)
        // is taken out and simplified in 0.2 s or more, for an answer no smaller than
        // the one backpropagation assembles from its equations in milliseconds.
        Some(d) if d.node_count() > ASSEMBLE_FROM && !model.definitions.is_empty() && !next_to_loss(model, f, var) => {
            match assembled(model, f, var, true) {
                Some(answer) => return Ok((answer.expr, answer.saturation)),
                None => starting_forms(model, &d, var, &shape, symmetric)?,
            }
        }
        Some(d) => starting_forms(model, &d, var, &shape, symmetric)?,
        None => forms(&[], &shape, None),
    };
    for (g, why) in folded_forms(model, f, var, &shape, symmetric) {
        add_new(&mut forms, g, why);
    }
    let forms: Vec<Expr> = forms.into_iter().map(|(f, _)| f).collect();
    let inherited = with_inherited_row_sums(model);
    let (expr, report) = crate::egraph::simplify_alternatives(&forms, inherited.as_ref().unwrap_or(model), options);
    // A large answer of a sum may be larger than its terms' answers added: the one with
    // fewer operations by a clear margin is taken.
    let expr = match by_terms(model, f, var, &expr, options) {
        Some(g) => g,
        None => expr,
    };
    Ok((expr, Some(report)))
}

/// Operations from which the answer of a sum is compared with its terms' answers added
/// (below, the comparison would cost more than it could save), and the fewer operations
/// those must have to be taken.
const BY_TERMS_FROM: usize = 24;
const BY_TERMS_MARGIN: usize = 3;

/// For a scalar function that is a sum (a loss and its penalty) whose gradient `whole`
/// is large, the sum of its terms' gradients, each simplified on its own, where that has
/// clearly fewer operations: the run of the whole meets their differentials merged
/// (`Xᵀ(σ'(XW) ⊙ (A + B))`), where the penalty's own region no longer cancels (a sparse
/// autoencoder's KL penalty kept `Xᵀ + ρ(−2 + ρ)Xᵀ`, 38 operations more). None
/// otherwise.
pub(crate) fn by_terms(
    model: &Model,
    f: &Expr,
    var: &str,
    whole: &Expr,
    options: &crate::egraph::Options,
) -> Option<Expr> {
    let Kind::Add(terms) = &f.kind else { return None };
    if !f.is_scalar() || crate::egraph::operations(whole) < BY_TERMS_FROM {
        return None;
    }
    // The names that depend on var: var, and each definition that uses one of them.
    let mut reached = vec![var.to_string()];
    for (name, value) in &model.definitions {
        if value.names().iter().any(|n| reached.contains(n)) {
            reached.push(name.clone());
        }
    }
    let uses = |t: &Expr| t.names().iter().any(|n| reached.contains(n));
    let terms: Vec<&Expr> = terms.iter().filter(|t| uses(t)).collect();
    if terms.len() < 2 {
        return None;
    }
    let mut parts = Vec::new();
    // Each term's run takes the whole model's tables, worked out once.
    crate::egraph::language::Tables::shared_for(model, || {
        for t in terms {
            match gradient_by_forms(model, t, var, options).ok()?.0 {
                Expr { kind: Kind::Add(inner), .. } => parts.extend(inner),
                g => parts.push(g),
            }
        }
        Some(())
    })?;
    let shape = parts[0].shape.clone();
    let sum = Expr::new(Kind::Add(parts), shape);
    (crate::egraph::operations(&sum) + BY_TERMS_MARGIN <= crate::egraph::operations(whole)).then_some(sum)
}

/// Does `e` or a part of it satisfy `p`?
fn holds(e: &Expr, p: &dyn Fn(&Expr) -> bool) -> bool {
    p(e) || e.children().into_iter().any(|c| holds(c, p))
}

/// A negated part: what a difference is made of.
fn negated(e: &Expr) -> bool {
    matches!(&e.kind, Kind::Scale(c, _) | Kind::Const(c) if num_traits::Signed::is_negative(c))
}

/// Random points a definition's row sums are compared at.
const ROW_SUM_POINTS: u64 = 6;

/// `model` with the row sums its definitions inherit from the stated ones, or None where
/// none does: with `Y1 = 1`, label smoothing's `T = (1 − ε)Y + (ε/k)11ᵀ` has `T1 = 1`,
/// and the softmax loss then fuses (`softmax(XW) − T`), which the rules cannot see
/// because they never expand `T1`. Only a matrix defined by sums, products and
/// quotients (no function, root or norm) is tried: its row sums are rational functions of the
/// entries, and they are taken to be 1 when they are exactly 1, in exact rationals, at
/// each of [`ROW_SUM_POINTS`] random points with the stated facts imposed (a rational
/// function that is not 1 agrees with 1 at a random point with small probability, and at
/// all of them with a negligible one).
///
/// Likewise a vector defined by such operations whose entries sum to zero at every point
/// gets `cᵀ1 = 0` and `1ᵀc = 0`: a centred `c = x − (1ᵀx/n)1`, as a layer norm makes it.
pub(crate) fn with_inherited_row_sums(model: &Model) -> Option<Model> {
    let stated: Vec<&str> = model.rows_summing_to_one().collect();
    let candidates: Vec<&(String, Expr)> = model
        .definitions
        .iter()
        .filter(|(name, value)| {
            // A matrix is tried for rows summing to one where some are stated, and for
            // sums of zero where it subtracts something spread by ones (`X − m1ᵀ`): the
            // exact evaluation cost a two-layer network's gradient 15% otherwise.
            let rows = value.order() == 2
                && !stated.contains(&name.as_str())
                && (!stated.is_empty() || (holds(value, &|e| e.kind == Kind::Ones) && holds(value, &negated)));
            (rows || value.order() == 1) && value.is_rational()
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    // The same points for every candidate, in exact rationals, so with the functions'
    // definitions left out (a name defined by one has no value: its candidates get no
    // fact); no fact where a point cannot be drawn.
    // (Nor one that uses such a name: `J = gᵀz` with `z = c/sqrt(v + ε)`.)
    let mut exact = model.clone();
    let mut dropped: Vec<String> = Vec::new();
    exact.definitions.retain(|(name, value)| {
        let keep = value.is_rational() && !value.names().iter().any(|n| dropped.contains(n));
        if !keep {
            dropped.push(name.clone());
        }
        keep
    });
    // Each point with the definitions' values in order, so that a definition can use
    // another (`c = x − m1` with `m = 1ᵀx/n`).
    let points: Vec<crate::eval::Env<BigRational>> = (1..=ROW_SUM_POINTS)
        .map(|seed| {
            let mut env =
                crate::eval::random_env(&exact, crate::eval::Draw { seed: 0x5eed_0000 + seed, ..Default::default() })?;
            for (name, value) in &exact.definitions {
                if let Ok(v) = crate::eval::eval(value, &env) {
                    env.values.insert(name.clone(), v);
                }
            }
            Ok(env)
        })
        .collect::<Result<_>>()
        .ok()?;
    let mut out = model.clone();
    for (name, value) in candidates {
        if let [size] = value.shape.as_slice() {
            let ones = Expr::new(Kind::Ones, vec![size.clone()]);
            let sum = crate::ir::build::product(crate::ir::build::transpose(value.clone()), ones.clone());
            let zero = BigRational::from_integer(0.into());
            let zero_everywhere =
                points.iter().all(|env| crate::eval::eval(&sum, env).is_ok_and(|v| v.iter().all(|x| *x == zero)));
            if zero_everywhere {
                use crate::ir::build::{product, transpose};
                let named = Expr::new(Kind::Var(name.clone()), value.shape.clone());
                let zero = Expr::new(Kind::Const(zero), vec![]);
                out.facts.push((product(transpose(named.clone()), ones.clone()), zero.clone()));
                out.facts.push((product(transpose(ones), named), zero));
            }
            continue;
        }
        let [rows, cols] = value.shape.as_slice() else { continue };
        use crate::ir::build::{product, transpose, zero};
        let ones = Expr::new(Kind::Ones, vec![cols.clone()]);
        let sums = product(value.clone(), ones.clone());
        let one = BigRational::from_integer(1.into());
        let all_equal = |e: &Expr, c: &BigRational| {
            points.iter().all(|env| crate::eval::eval(e, env).is_ok_and(|v| v.iter().all(|x| x == c)))
        };
        let named = Expr::new(Kind::Var(name.clone()), value.shape.clone());
        if !stated.is_empty() && all_equal(&sums, &one) {
            out.facts.push((product(named, ones), Expr::new(Kind::Ones, vec![rows.clone()])));
            continue;
        }
        // A matrix centred by rows (`X − (X1/d)1ᵀ`, a layer norm's) or by columns
        // (`X − 1(Xᵀ1/N)ᵀ`, a batch norm's) sums to zero along them.
        let zero_value = BigRational::from_integer(0.into());
        let mut zero_fact = |lhs: Expr| {
            let shape = lhs.shape.clone();
            out.facts.push((lhs, zero(shape)));
        };
        if all_equal(&sums, &zero_value) {
            zero_fact(product(named.clone(), ones.clone()));
            zero_fact(product(transpose(ones), transpose(named.clone())));
        }
        let down = Expr::new(Kind::Ones, vec![rows.clone()]);
        if all_equal(&product(transpose(value.clone()), down.clone()), &zero_value) {
            zero_fact(product(transpose(named.clone()), down.clone()));
            zero_fact(product(transpose(down), named));
        }
    }
    (out.facts.len() > model.facts.len()).then_some(out)
}
