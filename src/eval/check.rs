//! Numeric checks of derivatives: five-point central differences at random points.
//!
//! Takes the function, the variable and the claimed gradient or Jacobian G (with
//! `df = G ·_k dX`, k = order of X) and gives a [`Check`]: a verdict, the largest
//! relative error over a few random points and directions, and how many points it used.
//! Definitions are re-evaluated at every perturbed point.
//!
//! Points are drawn from the function's domain: symmetric matrices positive definite,
//! entries positive, or a mix (see [`Domain`]), resampled until the function is defined
//! and finite at the point and at every finite-difference neighbour, the claimed
//! derivative is finite there, and the differences themselves are reliable. A check that
//! finds no such point says so; it never passes vacuously.

use crate::error::{Error, ErrorCode, Result};
use crate::eval::{eval, random_array, random_env, Domain, Draw, Env};
use crate::ir::expr::Expr;
use crate::read::elaborate::Model;
use ndarray::ArrayD;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Step of the five-point central differences (error of order STEP⁴).
const STEP: f64 = 1e-4;

/// A check passes when the largest relative error is below this.
pub const TOLERANCE: f64 = 1e-6;

/// Random points tried, over all domains, before the check is declared not possible.
const MAX_ATTEMPTS: u64 = 90;

/// The outcome of a numeric check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every point agreed with finite differences to within `TOLERANCE` (1e-6).
    Verified,
    /// At least one point did not.
    Failed,
    /// No point was found where the function and the answer are defined and finite
    /// differences are reliable.
    NotPossible,
}

impl Verdict {
    /// `verified`, `failed` or `not possible`, as JSON and the CLI say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Failed => "failed",
            Verdict::NotPossible => "not possible",
        }
    }
}

/// A numeric check of a derivative against finite differences.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The verdict.
    pub verdict: Verdict,
    /// The largest relative error over the points (always finite); `None` when no point
    /// could be used.
    pub relative_error: Option<f64>,
    /// How many random points were compared.
    pub points: usize,
    /// Why the check was not possible.
    pub reason: Option<String>,
}

impl Check {
    /// A check that could not be made, with the reason.
    pub fn not_possible(reason: impl Into<String>) -> Check {
        Check { verdict: Verdict::NotPossible, relative_error: None, points: 0, reason: Some(reason.into()) }
    }

    /// True when verified.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Verified
    }

    /// The relative error, or NaN where there is none (for comparisons in tests).
    pub fn error(&self) -> f64 {
        self.relative_error.unwrap_or(f64::NAN)
    }

    /// The worse of two checks (of several variables): a failure over a check that could
    /// not be made, that over a pass.
    pub fn worst(self, other: Check) -> Check {
        let rank = |c: &Check| match c.verdict {
            Verdict::Verified => 0,
            Verdict::NotPossible => 1,
            Verdict::Failed => 2,
        };
        let (mut a, b) = if rank(&other) > rank(&self) { (other, self) } else { (self, other) };
        if a.verdict == b.verdict {
            a.relative_error = match (a.relative_error, b.relative_error) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            };
            a.points = a.points.min(b.points);
        }
        a
    }

    /// The line the CLI prints: `check: relative error 2.6e-10 (…)`,
    /// `check: FAILED: relative error 7.3e-1 (…)` or `check: not possible: …`.
    pub fn line(&self, against: &str) -> String {
        let points = match self.points {
            1 => "1 random point".to_string(),
            n => format!("{n} random points"),
        };
        match (self.verdict, self.relative_error) {
            (Verdict::Verified, Some(e)) => format!("check: relative error {e:.1e} ({against} at {points})"),
            (Verdict::Failed, Some(e)) => {
                format!("check: FAILED: relative error {e:.1e} is above {TOLERANCE:.0e} ({against} at {points})")
            }
            _ => format!("check: not possible: {}", self.reason.as_deref().unwrap_or("no usable point")),
        }
    }

    /// `{"verdict", "relative_error", "points", "method"}`, with `reason` where not possible.
    pub fn json(&self) -> Value {
        let mut v = json!({
            "verdict": self.verdict.as_str(),
            "relative_error": self.relative_error,
            "points": self.points,
            "tolerance": TOLERANCE,
            "method": "five-point central differences at random points",
        });
        if let Some(r) = &self.reason {
            v["reason"] = Value::String(r.clone());
        }
        v
    }
}

/// The value of `f` at `env`, definitions evaluated first.
fn value_at(model: &Model, env: &Env<f64>, f: &Expr) -> Result<ArrayD<f64>> {
    let mut env = env.clone();
    for (name, e) in &model.definitions {
        let v = eval(e, &env)?;
        env.values.insert(name.clone(), v);
    }
    eval(f, &env)
}

fn finite(a: &ArrayD<f64>) -> bool {
    a.iter().all(|v| v.is_finite())
}

/// Why a point was passed over, or the error that ends the check.
enum Skip {
    /// The point is outside the domain or the differences are unreliable there.
    Point(String),
    /// Something no other point can mend (a size limit, an unknown name).
    Fatal(Error),
    /// No verdict can be given: the answer disagrees where a fact is false.
    NoVerdict(String),
}

impl From<Error> for Skip {
    fn from(e: Error) -> Skip {
        // Evaluation errors depend on the point (a singular matrix, a zero divisor).
        if e.code == ErrorCode::Eval {
            Skip::Point(e.message.clone())
        } else {
            Skip::Fatal(e)
        }
    }
}

/// The largest relative error, over `points` random points, between the directional
/// derivative by finite differences and `G ·_k V`, with a verdict. A variable declared
/// symmetric moves in symmetric directions only. Dims are 2 to 4 long, and all 2 when
/// the Jacobian has eight or more dims (4¹⁵ entries would not fit).
pub fn check_derivative(model: &Model, f: &Expr, var: &str, g: &Expr, points: u64) -> Result<Check> {
    let mut gradient = |env: &Env<f64>| -> Result<ArrayD<f64>> {
        let mut at = env.clone();
        for (name, e) in &model.definitions {
            let val = eval(e, &at)?;
            at.values.insert(name.clone(), val);
        }
        eval(g, &at)
    };
    check_with(model, f, var, &mut gradient, points)
}

/// As [`check_derivative`], with the claimed derivative computed at each point by
/// `gradient` (as backpropagation equations evaluated in order).
pub fn check_with(
    model: &Model,
    f: &Expr,
    var: &str,
    gradient: &mut dyn FnMut(&Env<f64>) -> Result<ArrayD<f64>>,
    points: u64,
) -> Result<Check> {
    let var_order = model.names.get(var).map_or(0, |i| i.shape.len());
    let max_size = if f.order() + var_order >= 8 { 2 } else { 4 };
    let domains = [Domain::Any, Domain::Positive, Domain::Mixed];
    let mut worst: f64 = 0.0;
    let mut reliable = 0u64;
    let mut skipped: Vec<String> = Vec::new();
    // A domain is kept while its points can be used, and the next one tried after a
    // point that cannot.
    let mut domain = 0;
    for attempt in 0..MAX_ATTEMPTS {
        if reliable == points {
            break;
        }
        let seed = attempt + 1;
        let draw = Draw { seed: 1000 + seed, min_size: 2, max_size, domain: domains[domain] };
        match compare_at(model, f, var, gradient, draw, 7 + seed) {
            Ok(rel) => {
                worst = worst.max(rel);
                reliable += 1;
            }
            Err(Skip::Point(why)) => {
                skipped.push(why);
                domain = (domain + 1) % domains.len();
            }
            Err(Skip::Fatal(e)) => return Err(e),
            // Not tried again: another draw that happens to agree proves nothing.
            Err(Skip::NoVerdict(why)) => return Ok(Check::not_possible(why)),
        }
    }
    if reliable == 0 {
        // The most frequent reason is the one to tell.
        let mut counts: indexmap::IndexMap<&str, usize> = indexmap::IndexMap::new();
        for s in &skipped {
            *counts.entry(s.as_str()).or_default() += 1;
        }
        let common = counts.iter().max_by_key(|(_, n)| **n).map(|(s, _)| s.to_string()).unwrap_or_default();
        return Ok(Check::not_possible(format!(
            "no usable point among {MAX_ATTEMPTS} random points (general, positive and positive definite \
             values): {common}"
        )));
    }
    let verdict = if worst <= TOLERANCE { Verdict::Verified } else { Verdict::Failed };
    Ok(Check { verdict, relative_error: Some(worst), points: reliable as usize, reason: None })
}

/// Whether the facts of the model hold at the point: an answer simplified with a fact
/// is right only where it holds, and the draw imposes only some facts
/// (`eval::random_env`); compared elsewhere, a right answer would fail. So where a fact
/// is false, an answer that agrees still counts (it did not need the fact), and one that
/// disagrees ends the check with no verdict (an error of code `Unsupported`): trying
/// other points until one agrees by chance (a direction of zero trace, say) would pass it.
pub fn facts_hold(model: &Model, env: &Env<f64>) -> Result<()> {
    for (l, r) in &model.facts {
        let (a, b) = (value_at(model, env, l)?, value_at(model, env, r)?);
        let size = a.iter().chain(b.iter()).fold(1.0f64, |m, v| m.max(v.abs()));
        let off = if a.shape() == b.shape() {
            a.iter().zip(b.iter()).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        } else {
            // A scalar side broadcast (`Y1 = 1`): every entry against it.
            let y = b.iter().next().copied().unwrap_or(0.0);
            a.iter().fold(0.0f64, |m, x| m.max((x - y).abs()))
        };
        if !(off <= 1e-9 * size) {
            return Err(Error::bare(
                ErrorCode::Unsupported,
                "the answer disagrees where a stated fact does not hold, and random points are drawn to \
                 satisfy only facts of the forms yᵀ1 = c, Y1 = 1 and xᵀx = c",
            ));
        }
    }
    Ok(())
}

/// How far a variable moves off a kink, each entry by up to 1.5 times this at random
/// (off the grid of quarters, so no sum of products cancels it): small beside the drawn
/// values (multiples of 1/4 up to 2), large beside the finite-difference step.
const KINK_STEP: f64 = 0.0137;

/// The relative error at one random point, or why the point cannot be used.
fn compare_at(
    model: &Model,
    f: &Expr,
    var: &str,
    gradient: &mut dyn FnMut(&Env<f64>) -> Result<ArrayD<f64>>,
    draw: Draw,
    direction_seed: u64,
) -> std::result::Result<f64, Skip> {
    let mut env: Env<f64> = random_env(model, draw)?;
    crate::eval::take_unresolved();
    let mut x = env.values.get(var).cloned().ok_or_else(|| {
        Skip::Fatal(Error::bare(ErrorCode::Eval, format!("`{var}` has no value to differentiate at")))
    })?;
    let mut rng = ChaCha8Rng::seed_from_u64(direction_seed);
    let mut v: ArrayD<f64> = random_array(&mut rng, x.shape());
    // A symmetric matrix moves only in symmetric directions, where its gradient (the
    // sym(G) convention) is checked.
    let symmetric = |a: ArrayD<f64>| {
        if model.names.get(var).is_some_and(|i| i.symmetric) && a.ndim() == 2 {
            let t = a.t().to_owned();
            (&a + &t) * 0.5
        } else {
            a
        }
    };
    v = symmetric(v);
    let mut value = value_at(model, &env, f)?;
    // A relu exactly at its kink (values on a grid of 1/4 make `Xw` exactly 0 in some
    // row): the variable moves off the grid.
    if crate::eval::take_unresolved() == crate::eval::Unresolved::Kink {
        let u = ArrayD::from_shape_simple_fn(x.shape(), || rng.gen_range(0.5..1.5) * KINK_STEP);
        x = &x + &symmetric(u);
        env.values.insert(var.to_string(), x.clone());
        // The definitions drawn with it move with it, as the answer reads them.
        for (name, e) in &model.definitions {
            let moved = eval(e, &env)?;
            env.values.insert(name.clone(), moved);
        }
        value = value_at(model, &env, f)?;
    }
    let facts = facts_hold(model, &env);
    if !finite(&value) {
        return Err(Skip::Point("the function is not defined at the point".into()));
    }
    let stencil = |h: f64| -> std::result::Result<Vec<f64>, Skip> {
        let at = |k: f64| -> std::result::Result<ArrayD<f64>, Skip> {
            let mut moved = env.clone();
            moved.values.insert(var.to_string(), &x + &(&v * (k * h)));
            let y = value_at(model, &moved, f)?;
            if !finite(&y) {
                return Err(Skip::Point("the function is not defined near the point".into()));
            }
            Ok(y)
        };
        let fd = (at(-2.0)? - at(2.0)? + (at(1.0)? - at(-1.0)?) * 8.0) / (12.0 * h);
        Ok(fd.iter().copied().collect())
    };
    let (coarse, numeric) = (stencil(STEP)?, stencil(STEP / 2.0)?);
    let gv = gradient(&env)?;
    if !finite(&gv) {
        return Err(Skip::Point("the answer is not defined at the point".into()));
    }
    // Contract G's last k dims (X's) with V.
    let k = v.ndim();
    if gv.ndim() < k || gv.shape()[gv.ndim() - k..] != *v.shape() {
        return Err(Skip::Fatal(Error::bare(ErrorCode::Eval, "internal: the derivative has the wrong shape")));
    }
    let lead: usize = gv.shape()[..gv.ndim() - k].iter().product();
    let inner = v.len();
    let gflat: Vec<f64> = gv.iter().copied().collect();
    let vflat: Vec<f64> = v.iter().copied().collect();
    let analytic: Vec<f64> = (0..lead).map(|r| (0..inner).map(|c| gflat[r * inner + c] * vflat[c]).sum()).collect();
    if numeric.len() != analytic.len() {
        return Err(Skip::Fatal(Error::bare(
            ErrorCode::Eval,
            "internal: the derivative has the wrong number of entries",
        )));
    }
    let norm = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
    let length = |a: &[f64]| a.iter().map(|x| x * x).sum::<f64>().sqrt();
    // Relative, except near zero: a derivative far smaller than the function is compared
    // with the function's size, since that is the size of the noise.
    let f_size = value.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let scale = length(&numeric).max(length(&analytic)).max(1e-3 * f_size);
    let uncertainty = norm(&coarse, &numeric) / scale;
    if !uncertainty.is_finite() || uncertainty > 1e-8 {
        return Err(Skip::Point("finite differences are unreliable there (the function bends too sharply)".into()));
    }
    let rel = norm(&numeric, &analytic) / scale;
    if !rel.is_finite() {
        return Err(Skip::Point("the comparison is not finite".into()));
    }
    // A saturated sigmoid is flat to the differences, not to the answer, and a relu at
    // its kink is half-sloped to them: a disagreement there says nothing of the answer.
    if rel > TOLERANCE && crate::eval::take_unresolved() != crate::eval::Unresolved::None {
        return Err(Skip::Point(
            "a sigmoid or tanh saturates, or a relu or abs is at its kink, there: finite differences do not \
             resolve it"
                .into(),
        ));
    }
    // An answer that agrees where a fact is false is right (it did not need the fact);
    // one that disagrees there may be right where the fact holds: no verdict.
    if rel > TOLERANCE {
        facts.map_err(|e| Skip::NoVerdict(e.message))?;
    }
    Ok(rel)
}

/// A comparison at up to `points` random draws (general, positive and mixed values in
/// turn, seeds from `seed`): `compare` gives the relative difference at a draw, a
/// non-finite one where the values are not defined there (another draw is tried), or an
/// error that says why the draw cannot be used. The worst difference makes the verdict.
pub fn worst_over_draws(
    points: u64,
    seed: u64,
    max_size: usize,
    mut compare: impl FnMut(Draw) -> Result<f64>,
) -> Check {
    let domains = [Domain::Any, Domain::Positive, Domain::Mixed];
    let mut worst: f64 = 0.0;
    let mut used = 0u64;
    let mut why = String::from("no point where the values are defined");
    for attempt in 0..30u64 {
        if used == points {
            break;
        }
        let draw = Draw { seed: seed + attempt, min_size: 2, max_size, domain: domains[attempt as usize % 3] };
        match compare(draw) {
            Ok(e) if e.is_finite() => {
                worst = worst.max(e);
                used += 1;
            }
            Ok(_) => why = "the values are not finite at the points tried".into(),
            // See `facts_hold`: no other draw is tried.
            Err(e) if e.code == ErrorCode::Unsupported => return Check::not_possible(e.message),
            Err(e) => why = e.message,
        }
    }
    if used == 0 {
        return Check::not_possible(why);
    }
    let verdict = if worst <= TOLERANCE { Verdict::Verified } else { Verdict::Failed };
    Check { verdict, relative_error: Some(worst), points: used as usize, reason: None }
}
