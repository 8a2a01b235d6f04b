//! A program's Hessian-vector product as a second pass (forward over reverse): every
//! definition and every backpropagation equation differentiated along the parameters'
//! directions `dW`, in the order the program computes them. The tangents of the
//! forward values come first (`dA1 = X dW1 + 1 db1ᵀ`), then those of the seeds
//! (`d∇_{Z1}J = …`); the tangent of a parameter's gradient, `d∇_{W}J`, is the Hessian
//! applied to the directions, `(∇²J dθ)_W`.

use crate::calculus::answer::Answer;
use crate::calculus::backprop::{backprop_of, loss_name, seed_name, Equation};
use crate::calculus::derive::Explain;
use crate::calculus::diff::local_differential;
use crate::error::{Error, ErrorCode, Result};
use crate::eval::check::Check;
use crate::eval::{eval, random_env, Draw, Env};
use crate::ir::expr::Expr;
use crate::read::elaborate::{Model, NameInfo};
use indexmap::{IndexMap, IndexSet};
use ndarray::ArrayD;

/// One equation of the tangent pass: `d{name} = answer`.
#[derive(Clone, Debug)]
pub struct Tangent {
    /// The name whose tangent this is: a definition, or a seed `∇_{Z}J`.
    pub of: String,
    /// True for the tangent of a parameter's gradient: a block of `∇²J dθ`.
    pub parameter: bool,
    /// The tangent, in terms of the parameters' directions `dW` and earlier tangents.
    pub answer: Answer,
}

/// The program's backpropagation equations and their tangent pass.
pub struct SecondPass {
    /// The model, with every seed `∇_{Z}J` a name of Z's shape.
    pub model: Model,
    /// The backpropagation equations.
    pub equations: Vec<Equation>,
    /// The tangents: the definitions', then the equations'.
    pub tangents: Vec<Tangent>,
    /// The loss's name.
    pub loss: String,
    /// The parameters.
    pub parameters: Vec<String>,
}

/// The tangent pass of the program `text` (it must end with `grad J wrt …`).
pub fn second_pass(text: &str, options: &crate::egraph::Options) -> Result<SecondPass> {
    let mut model = crate::read::elaborate::read_scalar_with(text, &[])?;
    let query = model.queries.first().cloned().ok_or_else(|| {
        Error::bare(ErrorCode::Usage, "a program's HVP needs its `grad J wrt …` query".to_string())
            .hint("end the program with `grad J wrt W, b`, or give --wrt X --dir V")
    })?;
    let loss = loss_name(&model);
    // Equations taken with a fact on a parameter (`Y1 = 1` of labels Y) hold only where
    // it holds, and their differentials along a dY that breaks it drop terms (∇_Y of
    // ½‖Y1‖² is 11ᵀ there, whose dY-tangent is 0, not (dY 1)1ᵀ): they are taken without
    // such facts, as a Hessian is (`calculus::hessian`), and the tangents simplified with all.
    let wrt: Vec<&str> = query.wrt.iter().map(String::as_str).collect();
    let free = crate::calculus::hessian::without_facts_on(&model, &wrt);
    let equations = backprop_of(free.as_ref().unwrap_or(&model), text, Explain::Result)?;
    for eq in &equations {
        let seed = seed_name(&eq.target, &loss);
        let shape = model.names[&eq.target].shape.clone();
        model.names.entry(seed).or_insert(NameInfo { shape, symmetric: false, declared: false, defined: false });
    }
    let mut vars: IndexSet<String> = query.wrt.iter().cloned().collect();
    vars.extend(model.definitions.iter().map(|(n, _)| n.clone()));
    vars.extend(equations.iter().map(|eq| seed_name(&eq.target, &loss)));
    let mut tangents = Vec::new();
    let along = |e: &Expr, model: &Model, vars: &IndexSet<String>| -> Result<Answer> {
        let d = local_differential(e, model, vars)?.unwrap_or_else(|| crate::ir::build::zero(e.shape.clone()));
        let (expr, report) = crate::egraph::simplify_expr(&d, model, options);
        Ok(Answer { model: model.clone(), expr, saturation: Some(report) })
    };
    // A value whose tangent is zero (batch norm's mean when only its scale moves) is a
    // constant of the pass: it is no longer differentiated, and its line is left out,
    // so that no zero is carried through the lines after it.
    let is_zero = |e: &Expr| *e == crate::ir::build::zero(e.shape.clone());
    for (name, e) in &model.definitions {
        let answer = along(e, &model, &vars)?;
        if is_zero(&answer.expr) {
            vars.shift_remove(name);
            continue;
        }
        tangents.push(Tangent { of: name.clone(), parameter: false, answer });
    }
    for eq in &equations {
        let answer = along(&eq.answer.expr, &model, &vars)?;
        let of = seed_name(&eq.target, &loss);
        if is_zero(&answer.expr) && !eq.parameter {
            vars.shift_remove(&of);
            continue;
        }
        tangents.push(Tangent { of, parameter: eq.parameter, answer });
    }
    Ok(SecondPass { model, equations, tangents, loss, parameters: query.wrt })
}

impl SecondPass {
    /// Every value of the program at `env` (its inputs set): the definitions, then the
    /// seeds, then, with the directions `dW` set, the tangents; by name (`dZ` for a tangent).
    fn run(&self, env: &mut Env<f64>, tangents: bool) -> Result<()> {
        for (name, e) in &self.model.definitions {
            let v = eval(e, env)?;
            env.values.insert(name.clone(), v);
        }
        for eq in &self.equations {
            let v = eval(&eq.answer.expr, env)?;
            env.values.insert(seed_name(&eq.target, &self.loss), v);
        }
        if tangents {
            for t in &self.tangents {
                let v = eval(&t.answer.expr, env)?;
                env.values.insert(format!("d{}", t.of), v);
            }
        }
        Ok(())
    }

    /// Compares each `d∇_{W}J` with central differences of the gradient (the equations
    /// evaluated at θ ± h dθ) at random points and directions.
    pub fn check(&self, points: u64) -> Check {
        crate::eval::check::worst_over_draws(points, 700, 3, |draw| self.compare(draw))
    }

    fn compare(&self, draw: Draw) -> Result<f64> {
        let mut env: Env<f64> = random_env(&self.model, draw)?;
        let facts = crate::eval::check::facts_hold(&self.model, &env);
        // The directions: the random dW the draw gave each parameter.
        let directions: IndexMap<String, ArrayD<f64>> = self
            .parameters
            .iter()
            .map(|p| Ok((p.clone(), env.values.get(&format!("d{p}")).cloned().ok_or_else(|| missing(p))?)))
            .collect::<Result<_>>()?;
        let base = env.clone();
        self.run(&mut env, true)?;
        let h = 1e-3;
        let gradient_at = |t: f64| -> Result<IndexMap<String, ArrayD<f64>>> {
            let mut moved = base.clone();
            for (p, d) in &directions {
                let x = &moved.values[p] + &(d * t);
                moved.values.insert(p.clone(), x);
            }
            self.run(&mut moved, false)?;
            Ok(self.parameters.iter().map(|p| (p.clone(), moved.values[&seed_name(p, &self.loss)].clone())).collect())
        };
        // Five-point differences at steps h and h/2: where they disagree past rounding
        // the gradient bends too sharply there to judge by (a nearly singular Σ), and
        // another draw is tried; elsewhere the finer one is compared.
        let stencil = |h: f64| -> Result<IndexMap<String, ArrayD<f64>>> {
            let (m2, m1, p1, p2) = (gradient_at(-2.0 * h)?, gradient_at(-h)?, gradient_at(h)?, gradient_at(2.0 * h)?);
            Ok(self
                .parameters
                .iter()
                .map(|p| (p.clone(), (&m2[p] - &p2[p] + (&p1[p] - &m1[p]) * 8.0) / (12.0 * h)))
                .collect())
        };
        let (coarse, fine) = (stencil(h)?, stencil(h / 2.0)?);
        let mut worst: f64 = 0.0;
        for p in &self.parameters {
            let numeric = &fine[p];
            let claimed = &env.values[&format!("d{}", seed_name(p, &self.loss))];
            if numeric.len() != claimed.len() {
                return Ok(f64::INFINITY);
            }
            let scale = numeric.iter().chain(claimed.iter()).fold(1.0f64, |m, v| m.max(v.abs()));
            let spread = numeric.iter().zip(coarse[p].iter()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            if !(spread / scale <= 1e-8) {
                return Err(Error::bare(
                    ErrorCode::Eval,
                    "finite differences are unreliable there (the gradient bends too sharply)".to_string(),
                ));
            }
            let diff = numeric.iter().zip(claimed.iter()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            worst = worst.max(diff / scale);
        }
        // Where a fact is false, a disagreement may be the fact's use: no verdict there.
        match facts {
            Err(e) if worst > crate::eval::check::TOLERANCE => Err(e),
            _ => Ok(worst),
        }
    }
}

fn missing(p: &str) -> Error {
    Error::bare(ErrorCode::Eval, format!("no direction for `{p}`"))
}
