//! One command type for every front end: the CLI builds a [`Command`] from its
//! arguments, `batch` from a JSON line, and both run it the same way. A [`Reply`] holds
//! the result values; the CLI prints them in the chosen format, and [`Reply::json`]
//! gives the JSON that `--format json` and `batch` print.

use crate::api::second::{By, Layout, SecondDerivative, VecDerivative};
use crate::api::{Answer, Derivative, Evaluation};
use crate::calculus::backprop::{backprop_of, check_program, loss_name, Equation};
use crate::calculus::derive::{Derivation, Explain};
use crate::egraph::Options;
use crate::error::{Error, ErrorCode, Result};
use crate::eval::check::{check_derivative, Check};
use indexmap::IndexMap;
use serde_json::{json, Value};

/// A query.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// The simplest classic form of an expression.
    Simplify {
        /// The input.
        expr: String,
    },
    /// Gradients (or Jacobians) by each variable; with no variable, a program's
    /// backpropagation equations.
    Grad {
        /// The input.
        expr: String,
        /// The variables.
        wrt: Vec<String>,
        /// Jacobians rather than gradients.
        jacobian: bool,
        /// Check each answer against finite differences.
        check: bool,
        /// The layout of a derivative by a matrix.
        layout: Layout,
    },
    /// The Hessian of a scalar function: a block for each pair of variables.
    Hessian {
        /// The input.
        expr: String,
        /// The variables.
        wrt: Vec<String>,
        /// Check each gradient and block against finite differences.
        check: bool,
        /// The layout of a block by a matrix.
        layout: Layout,
    },
    /// The Hessian-vector product along a direction.
    Hvp {
        /// The input.
        expr: String,
        /// The variable.
        wrt: String,
        /// The direction: a name of the variable's shape.
        dir: String,
        /// Check the gradient and the product against finite differences.
        check: bool,
    },
    /// The backpropagation equations of a program's `grad J wrt …` query.
    Backprop {
        /// The program.
        expr: String,
        /// Check each parameter's gradient against finite differences of the program.
        check: bool,
    },
    /// The derivation step by step; with no variable, of every backpropagation equation.
    Derive {
        /// The input.
        expr: String,
        /// The variable.
        wrt: Option<String>,
        /// 2: the gradient's derivation, then the Hessian's from the gradient.
        order: u8,
    },
    /// The differential in all variables.
    Differential {
        /// The input.
        expr: String,
        /// As the product and chain rules give it, before dX is taken out.
        raw: bool,
    },
    /// The value, exact where possible.
    Eval {
        /// The input.
        expr: String,
        /// Given values: name and JSON text.
        at: Vec<(String, String)>,
        /// Seed of the random values of the other names.
        seed: u64,
    },
}

/// What a command gives.
#[derive(Clone, Debug)]
pub enum Reply {
    /// One expression.
    Answer(Answer),
    /// One derivative per variable, each with its check when asked.
    Derivatives(Vec<(Derivative, Option<Check>)>),
    /// Backpropagation equations, with the loss's name and each parameter's check.
    Equations {
        /// The equations, from the loss down, then the parameters.
        equations: Vec<Equation>,
        /// The loss in the seeds `∇_Z J`.
        loss: String,
        /// Each parameter's check, when asked.
        checks: Option<IndexMap<String, Check>>,
    },
    /// Second derivatives, each with its check when asked.
    Seconds(Vec<(SecondDerivative, Option<Check>)>),
    /// Derivatives in the vec layout, each with its check when asked (of the tensor
    /// against finite differences and of the matrix against the tensor).
    Matrices(Vec<(VecDerivative, Option<Check>)>),
    /// A program's tangent pass: each `dZ` and `d∇_{Z}J` in order (true for a
    /// parameter's, a block of the HVP), with the check of the blocks when asked.
    Tangents {
        /// Left side, whether it is a parameter's block, and the tangent.
        tangents: Vec<(String, bool, Answer)>,
        /// The check against differences of the gradient.
        check: Option<Check>,
    },
    /// Derivations step by step.
    Derivations(Vec<Derivation>),
    /// A value.
    Value(Evaluation),
}

impl Command {
    /// The input text.
    pub fn text(&self) -> &str {
        match self {
            Command::Simplify { expr }
            | Command::Grad { expr, .. }
            | Command::Backprop { expr, .. }
            | Command::Hessian { expr, .. }
            | Command::Hvp { expr, .. }
            | Command::Derive { expr, .. }
            | Command::Differential { expr, .. }
            | Command::Eval { expr, .. } => expr,
        }
    }

    /// The variables asked for (read as one name each, `--wrt Wq`).
    pub fn wrt(&self) -> Vec<String> {
        match self {
            Command::Grad { wrt, .. } | Command::Hessian { wrt, .. } => wrt.clone(),
            Command::Hvp { wrt, dir, .. } => vec![wrt.clone(), dir.clone()],
            Command::Derive { wrt: Some(w), .. } => vec![w.clone()],
            _ => Vec::new(),
        }
    }

    /// Whether the command's function must be scalar (a gradient, a Hessian), which
    /// decides how names read by their case's default may be read instead.
    pub fn wants_scalar(&self) -> bool {
        match self {
            // (A program's loss too, where no --wrt is given: `grad J wrt W` in it.)
            Command::Grad { jacobian, layout, .. } => !*jacobian && !matches!(layout, Layout::Vec),
            Command::Hessian { .. } | Command::Hvp { .. } => true,
            _ => false,
        }
    }

    /// Runs the command. A check that fails or cannot be made is part of the reply,
    /// never an error: the answer always comes back. An answer defined nowhere is an
    /// error ([`crate::api::defined_somewhere`]).
    pub fn run(&self, options: &Options) -> Result<Reply> {
        let reply = self.run_unchecked(options)?;
        let answers: Vec<&Answer> = match &reply {
            Reply::Matrices(ds) => ds.iter().map(|(d, _)| &d.tensor).collect(),
            Reply::Tangents { tangents, .. } => tangents.iter().map(|(_, _, a)| a).collect(),
            Reply::Derivations(ds) => ds.iter().map(|d| &d.result).collect(),
            _ => vec![],
        };
        for a in answers {
            crate::api::defined_somewhere(a, self.text())?;
        }
        Ok(reply)
    }

    fn run_unchecked(&self, options: &Options) -> Result<Reply> {
        let text = self.text();
        // A name given twice would be answered twice (`--wrt x --wrt x`), and a value
        // given twice would be the last one, without a word.
        let named: Vec<String> = match self {
            Command::Eval { at, .. } => at.iter().map(|(n, _)| n.trim().to_string()).collect(),
            // (One variable and a direction, which `hvp` tells apart itself.)
            Command::Hvp { .. } => Vec::new(),
            _ => self.wrt().iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect(),
        };
        if let Some(twice) = named.iter().enumerate().find(|(k, n)| named[..*k].contains(n)).map(|(_, n)| n) {
            let message = if matches!(self, Command::Eval { .. }) {
                format!("`{twice}` is given two values by --at")
            } else {
                format!("`{twice}` is named twice in --wrt")
            };
            return Err(Error::bare(ErrorCode::Usage, message).hint("name each once"));
        }
        match self {
            Command::Simplify { .. } => crate::api::simplify_with(text, options).map(Reply::Answer),
            Command::Grad { wrt, check, .. } if wrt.is_empty() => equations(text, *check),
            Command::Grad { wrt, check, layout: Layout::Vec, .. } => {
                let ds = crate::api::jacobian_with(text, wrt, options)?;
                let mut out = Vec::new();
                for d in ds {
                    let label = format!("∇_{}", d.wrt);
                    let v = VecDerivative::of(label, &d.wrt, &d.answer, d.function.order(), options)?;
                    let c = check.then(|| {
                        check_derivative(&d.answer.model, &d.function, &d.wrt, &d.answer.expr, 3)
                            .unwrap_or_else(|e| Check::not_possible(e.message))
                            .worst(v.check(3))
                    });
                    out.push((v, c));
                }
                Ok(Reply::Matrices(out))
            }
            Command::Grad { wrt, jacobian, check, .. } => {
                let ds = if *jacobian {
                    crate::api::jacobian_with(text, wrt, options)?
                } else {
                    crate::api::grad_with(text, wrt, options)?
                };
                let checked = ds
                    .into_iter()
                    .map(|d| {
                        let c = check.then(|| {
                            check_derivative(&d.answer.model, &d.function, &d.wrt, &d.answer.expr, 3)
                                .unwrap_or_else(|e| Check::not_possible(e.message))
                        });
                        (d, c)
                    })
                    .collect();
                Ok(Reply::Derivatives(checked))
            }
            Command::Backprop { check, .. } => equations(text, *check),
            Command::Hessian { wrt, check, layout: Layout::Vec, .. } => {
                let blocks = crate::api::second::hessian_with(text, wrt, options)?;
                let mut out = Vec::new();
                for b in blocks {
                    let f_order = b.gradient.expr.order();
                    let by = match &b.by {
                        By::Variable(y) | By::Direction(y) => y.clone(),
                    };
                    let mut v = VecDerivative::of(b.label(), &b.wrt, &b.answer, f_order, options)?;
                    v.by = Some(by);
                    let c = check.then(|| b.check(3).worst(v.check(3)));
                    out.push((v, c));
                }
                Ok(Reply::Matrices(out))
            }
            Command::Hessian { wrt, check, .. } => {
                let blocks = crate::api::second::hessian_with(text, wrt, options)?;
                Ok(Reply::Seconds(blocks.into_iter().map(|b| (b.clone(), check.then(|| b.check(3)))).collect()))
            }
            Command::Hvp { wrt, dir, check, .. } if wrt.is_empty() && dir.is_empty() => {
                crate::api::read_program(text, &[])?;
                let pass = crate::calculus::tangent::second_pass(text, options)?;
                let c = check.then(|| pass.check(3));
                let tangents =
                    pass.tangents.iter().map(|t| (format!("d{}", t.of), t.parameter, t.answer.clone())).collect();
                Ok(Reply::Tangents { tangents, check: c })
            }
            Command::Hvp { wrt, dir, .. } if wrt.is_empty() || dir.is_empty() => Err(Error::bare(
                ErrorCode::Usage,
                "give both --wrt X and --dir V, or neither for a program's HVP along every parameter".to_string(),
            )),
            Command::Hvp { wrt, dir, check, .. } => {
                let p = crate::api::second::hvp_with(text, wrt, dir, options)?;
                let c = check.then(|| p.check(3));
                Ok(Reply::Seconds(vec![(p, c)]))
            }
            Command::Derive { wrt: Some(w), order: 2, .. } => {
                let first = crate::api::derive(text, w)?;
                let mut second = crate::calculus::derive::derive_in(
                    &first.result.model,
                    &first.result.expr,
                    &first.wrt,
                    crate::calculus::derive::Through::Definitions,
                )?;
                second.label = Some(format!("∇²_{}", first.wrt));
                Ok(Reply::Derivations(vec![first, second]))
            }
            Command::Derive { order: 3.., .. } | Command::Derive { order: 0, .. } => {
                Err(Error::bare(ErrorCode::Usage, "`--order` is 1 (the gradient) or 2 (the Hessian)".to_string()))
            }
            Command::Derive { wrt: Some(w), .. } => Ok(Reply::Derivations(vec![crate::api::derive(text, w)?])),
            Command::Derive { wrt: None, .. } => {
                // Without a query the way on is to give one; any other error keeps its own hint.
                crate::api::read_program(text, &[])?;
                let equations = crate::calculus::backprop::backprop(text).map_err(|e| match e.code {
                    ErrorCode::Usage => e.hint("give --wrt X, or end a program with `grad J wrt W, b`"),
                    _ => e,
                })?;
                Ok(Reply::Derivations(equations.into_iter().map(|eq| eq.derivation).collect()))
            }
            Command::Differential { raw, .. } => {
                let answer =
                    if *raw { crate::api::differential_of(text)? } else { crate::api::differential_taken_out(text)? };
                Ok(Reply::Answer(answer))
            }
            Command::Eval { at, seed, .. } => crate::api::evaluate(text, at, *seed).map(Reply::Value),
        }
    }

    /// A batch query: `{"command": "grad", "expr": "x^T A x", "wrt": ["x"], "check": true}`.
    pub fn from_json(query: &Value) -> Result<Command> {
        let usage = |m: &str| Error::bare(ErrorCode::Usage, m.to_string());
        let name = query.get("command").and_then(Value::as_str).ok_or_else(|| usage("the query has no \"command\""))?;
        let expr =
            query.get("expr").and_then(Value::as_str).ok_or_else(|| usage("the query has no \"expr\" string"))?;
        let expr = expr.to_string();
        let wrt: Vec<String> = match query.get("wrt") {
            None => vec![],
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| usage("\"wrt\" must be a name or a list of names"))?,
            Some(_) => return Err(usage("\"wrt\" must be a name or a list of names")),
        };
        // A key of the wrong type is an error, never passed over (`"check": "yes"`).
        let flag = |key: &str| match query.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(usage(&format!("\"{key}\" must be true or false"))),
        };
        let text_of = |key: &str| match query.get(key) {
            None => Ok(None),
            Some(Value::String(t)) => Ok(Some(t.as_str())),
            Some(_) => Err(usage(&format!("\"{key}\" must be a string"))),
        };
        let count = |key: &str| match query.get(key) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| usage(&format!("\"{key}\" must be a whole number"))),
        };
        if let Some(t) = query.get("timeout") {
            if !t.as_f64().is_some_and(|t| t.is_finite() && t > 0.0) {
                return Err(usage("\"timeout\" must be a positive number of seconds"));
            }
        }
        text_of("target")?;
        let check = flag("check")?;
        let layout = match text_of("layout")? {
            None | Some("tensor") => Layout::Tensor,
            Some("vec") => Layout::Vec,
            Some(other) => return Err(usage(&format!("unknown layout `{other}`; use tensor or vec"))),
        };
        // A command of one variable is not given several, of which it would answer one.
        if matches!(name, "hvp" | "derive") && wrt.len() > 1 {
            return Err(usage(&format!(
                "`{name}` takes one name in \"wrt\", not {}; send one query for each",
                wrt.len()
            )));
        }
        Ok(match name {
            "simplify" => Command::Simplify { expr },
            "grad" | "jacobian" => Command::Grad { expr, wrt, jacobian: name == "jacobian", check, layout },
            "backprop" => Command::Backprop { expr, check },
            "hessian" => Command::Hessian { expr, wrt, check, layout },
            "hvp" => {
                let dir = text_of("dir")?.unwrap_or_default();
                let w = wrt.into_iter().next().unwrap_or_default();
                Command::Hvp { expr, wrt: w, dir: dir.to_string(), check }
            }
            "derive" => {
                // Without "wrt", a program's derivations, one for each equation.
                let order = count("order")?.unwrap_or(1).min(255) as u8;
                Command::Derive { expr, wrt: wrt.into_iter().next(), order }
            }
            "d" => Command::Differential { expr, raw: flag("raw")? },
            "eval" => {
                let at: Vec<(String, String)> = match query.get("at") {
                    None => vec![],
                    Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect(),
                    Some(_) => return Err(usage("\"at\" must be an object of values")),
                };
                let seed = count("seed")?.unwrap_or(1);
                Command::Eval { expr, at, seed }
            }
            other => {
                return Err(usage(&format!(
                    "unknown command `{other}`; use simplify, grad, jacobian, hessian, hvp, d, derive, backprop or eval"
                )))
            }
        })
    }
}

/// Reads sizes of dims, `n=1000,m=10` (`--sizes`, a batch line's `"sizes"`): each at
/// least 1, each dim once.
pub fn read_sizes(text: &str) -> Result<IndexMap<String, f64>> {
    let mut map = IndexMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = part.split_once('=').and_then(|(d, n)| n.trim().parse::<f64>().ok().map(|n| (d.trim(), n)));
        match parsed {
            Some((d, n)) if !d.is_empty() && n.is_finite() && n >= 1.0 => {
                if map.insert(d.to_string(), n).is_some() {
                    return Err(Error::bare(ErrorCode::Usage, format!("sizes: `{d}` is given twice"))
                        .hint("give each dim one size"));
                }
            }
            _ => {
                return Err(Error::bare(ErrorCode::Usage, format!("sizes: `{part}` is not `name=size`"))
                    .hint("write sizes as `n=1000,m=10`, each size at least 1"))
            }
        }
    }
    Ok(map)
}

/// A program's equations (without the e-graph's explanations), checked when asked.
fn equations(text: &str, check: bool) -> Result<Reply> {
    let model = crate::api::read_program(text, &[])?;
    let equations = backprop_of(&model, text, Explain::Result)?;
    let loss = loss_name(&model);
    let checks = check.then(|| {
        check_program(text, &equations, 3).unwrap_or_else(|e| {
            let c = Check::not_possible(e.message);
            equations.iter().filter(|eq| eq.parameter).map(|eq| (eq.target.clone(), c.clone())).collect()
        })
    });
    Ok(Reply::Equations { equations, loss, checks })
}

impl Reply {
    /// True unless a check was asked for and did not pass (the exit code's 0 or 1).
    pub fn passed(&self) -> bool {
        match self {
            Reply::Derivatives(ds) => ds.iter().all(|(_, c)| c.as_ref().is_none_or(Check::passed)),
            Reply::Seconds(ds) => ds.iter().all(|(_, c)| c.as_ref().is_none_or(Check::passed)),
            Reply::Matrices(ds) => ds.iter().all(|(_, c)| c.as_ref().is_none_or(Check::passed)),
            Reply::Tangents { check, .. } => check.as_ref().is_none_or(Check::passed),
            Reply::Equations { checks: Some(checks), .. } => checks.values().all(Check::passed),
            _ => true,
        }
    }

    /// The reply as JSON (`--format json`, `batch`), with the input and its notes.
    pub fn json(&self, input: &str, wrt: &[String]) -> Value {
        let mut v = match self {
            Reply::Answer(a) => {
                let mut v = a.json();
                v["input"] = json!(input);
                v
            }
            Reply::Derivatives(ds) => {
                let list: Vec<Value> = ds
                    .iter()
                    .map(|(d, c)| {
                        let mut v = d.answer.json();
                        v["wrt"] = Value::String(d.wrt.clone());
                        with_numpy_definitions(&mut v, &d.answer);
                        if let Some(c) = c {
                            v["check"] = c.json();
                        }
                        v
                    })
                    .collect();
                json!({"input": input, "derivatives": list})
            }
            Reply::Seconds(ds) => {
                let list: Vec<Value> = ds
                    .iter()
                    .map(|(d, c)| {
                        let mut v = d.answer.json();
                        v["wrt"] = Value::String(d.wrt.clone());
                        with_numpy_definitions(&mut v, &d.answer);
                        match &d.by {
                            By::Variable(y) => v["by"] = Value::String(y.clone()),
                            By::Direction(dir) => v["dir"] = Value::String(dir.clone()),
                        }
                        v["label"] = Value::String(d.label());
                        v["gradient"] = Value::String(d.gradient.render(crate::render::Format::Unicode));
                        if let Some(c) = c {
                            v["check"] = c.json();
                        }
                        v
                    })
                    .collect();
                json!({"input": input, "derivatives": list})
            }
            Reply::Tangents { tangents, check } => {
                let list: Vec<Value> = tangents
                    .iter()
                    .map(|(lhs, parameter, a)| {
                        let mut v = a.json();
                        v["target"] = Value::String(lhs.clone());
                        v["parameter"] = Value::Bool(*parameter);
                        v
                    })
                    .collect();
                let mut v = json!({"input": input, "tangents": list});
                if let Some(c) = check {
                    v["check"] = c.json();
                }
                v
            }
            Reply::Matrices(ds) => {
                let list: Vec<Value> = ds
                    .iter()
                    .map(|(d, c)| {
                        let mut v = d.json();
                        with_numpy_definitions(&mut v, &d.tensor);
                        if let Some(c) = c {
                            v["check"] = c.json();
                        }
                        v
                    })
                    .collect();
                json!({"input": input, "derivatives": list})
            }
            Reply::Equations { equations, checks, loss } => {
                let list: Vec<Value> = equations
                    .iter()
                    .map(|eq| {
                        let mut v = eq.answer.json();
                        v["target"] = Value::String(eq.target.clone());
                        v["parameter"] = Value::Bool(eq.parameter);
                        if let Some(c) = checks.as_ref().and_then(|m| m.get(&eq.target)) {
                            v["check"] = c.json();
                        }
                        v
                    })
                    .collect();
                json!({"input": input, "loss": loss, "equations": list})
            }
            Reply::Derivations(ds) => match &ds[..] {
                [one] => {
                    let mut v = one.json();
                    v["input"] = json!(input);
                    v
                }
                all => json!({"input": input, "derivations": all.iter().map(|d| d.json()).collect::<Vec<_>>()}),
            },
            Reply::Value(e) => {
                let drawn: serde_json::Map<String, Value> =
                    e.drawn.iter().map(|(d, n)| (d.clone(), json!(n))).collect();
                json!({"input": input, "value": e.value, "exact": e.exact, "random": e.random, "random_sizes": drawn})
            }
        };
        if v.is_object() {
            // The model a derivative was taken in was read from this input with these
            // names, and holds its notes; other replies read it again.
            let model = match self {
                Reply::Derivatives(ds) => ds.first().map(|(d, _)| &d.answer.model),
                Reply::Derivations(ds) => ds.first().map(|d| &d.model),
                Reply::Seconds(ds) => ds.first().map(|(d, _)| &d.gradient.model),
                _ => None,
            };
            match model {
                Some(m) if !m.notes.is_empty() && v.get("notes").is_none() => v["notes"] = json!(m.notes),
                Some(_) => {}
                None => crate::api::batch::add_notes(&mut v, input, wrt),
            }
        }
        v
    }
}

/// `numpy_definitions` in a derivative's JSON, where its NumPy form reads defined values
/// (`np.linalg.inv(K)` for `K = XXᵀ + sI`): their statements, which the `numpy` field
/// alone leaves undefined.
fn with_numpy_definitions(v: &mut Value, answer: &Answer) {
    let definitions = answer.numpy_definitions();
    if !definitions.is_empty() {
        v["numpy_definitions"] = json!(definitions);
    }
}
