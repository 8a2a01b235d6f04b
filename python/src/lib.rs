//! The native half of the Python package `bracket` (python/package/bracket): each call
//! builds one [`bracket::Command`] (or a code-generation request), runs it on a worker
//! thread with a large stack while the GIL is released, and answers in JSON, the same
//! objects as `bracket batch`. An error comes back as `{"error": {...}}` with its line,
//! column, hint and the caret message; the Python side raises `BracketError` from it.
//!
//! The time limit always holds: the caller waits at most `timeout` seconds and then gets
//! an `E-limit` error. The worker cannot be interrupted; it finishes (bounded by the
//! library's own limits) in the background and its answer is dropped.

use bracket::{Command, Error, ErrorCode, Layout};
use pyo3::prelude::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

/// What a worker sends back: the answer, or an error and the text it is about.
type Outcome = std::result::Result<Value, (Error, String)>;

/// An error as JSON, as `bracket batch` writes it (code, message, line, column, hint),
/// with the caret message as the CLI prints it.
fn error_json(e: &Error, source: &str) -> Value {
    let mut v = bracket::error_json(e, source);
    v["rendered"] = json!(e.render(source));
    v
}

fn usage(message: String) -> (Error, String) {
    (Error::bare(ErrorCode::Usage, message), String::new())
}

/// Runs `work` on a worker thread with the CLI's stack, waiting at most `timeout`
/// seconds with the GIL released.
fn run_limited(py: Python<'_>, timeout: f64, work: impl FnOnce() -> Outcome + Send + 'static) -> String {
    if !timeout.is_finite() || timeout <= 0.0 {
        let e = usage(format!("timeout must be a positive number of seconds, not {timeout}"));
        return json!({"error": error_json(&e.0, &e.1)}).to_string();
    }
    let limit = Duration::from_secs_f64(timeout.min(86_400.0));
    let outcome = py.detach(move || {
        let (send, receive) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("bracket-worker".into())
            .stack_size(bracket::limits::WORKER_STACK)
            .spawn(move || {
                let _ = send.send(work());
            });
        if spawned.is_err() {
            return Err((Error::bare(ErrorCode::Limit, "cannot start a worker thread".to_string()), String::new()));
        }
        match receive.recv_timeout(limit) {
            Ok(outcome) => outcome,
            Err(mpsc::RecvTimeoutError::Timeout) => Err((
                Error::bare(ErrorCode::Limit, format!("no answer within {timeout} s"))
                    .hint("raise timeout=, or split the input"),
                String::new(),
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err((
                Error::bare(ErrorCode::Limit, "internal failure (please report the input)".to_string()),
                String::new(),
            )),
        }
    });
    match outcome {
        Ok(v) => v.to_string(),
        Err((e, source)) => json!({"error": error_json(&e, &source)}).to_string(),
    }
}

/// The library's options from `sizes=`.
fn options_of(sizes: Option<HashMap<String, f64>>) -> std::result::Result<bracket::Options, (Error, String)> {
    let mut options = bracket::Options::default();
    if let Some(sizes) = sizes {
        let mut map = indexmap::IndexMap::new();
        let mut names: Vec<_> = sizes.into_iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, n) in names {
            if name.is_empty() || !n.is_finite() || n < 1.0 {
                return Err(usage(format!("sizes: `{name}` = {n} is not a size; each size is at least 1")));
            }
            map.insert(name, n);
        }
        options.sizes = Some(map);
    }
    Ok(options)
}

/// One query of the library (`command`: simplify, grad, jacobian, hessian, hvp, d,
/// derive, backprop), answered as the JSON of `bracket batch`.
#[pyfunction]
#[pyo3(signature = (command, expr, wrt=Vec::new(), check=false, layout="tensor", order=1, dir=None, sizes=None, timeout=30.0))]
#[allow(clippy::too_many_arguments)]
fn query(
    py: Python<'_>,
    command: &str,
    expr: String,
    wrt: Vec<String>,
    check: bool,
    layout: &str,
    order: u8,
    dir: Option<String>,
    sizes: Option<HashMap<String, f64>>,
    timeout: f64,
) -> String {
    let layout = match layout {
        "tensor" => Ok(Layout::Tensor),
        "vec" => Ok(Layout::Vec),
        other => Err(usage(format!("unknown layout `{other}`; use \"tensor\" or \"vec\""))),
    };
    let command = layout.and_then(|layout| {
        Ok(match command {
            "simplify" => Command::Simplify { expr },
            "grad" | "jacobian" => Command::Grad { expr, wrt, jacobian: command == "jacobian", check, layout },
            "hessian" => Command::Hessian { expr, wrt, check, layout },
            "hvp" => {
                let w = wrt.into_iter().next().unwrap_or_default();
                Command::Hvp { expr, wrt: w, dir: dir.unwrap_or_default(), check }
            }
            "backprop" => Command::Backprop { expr, check },
            "derive" => Command::Derive { expr, wrt: wrt.into_iter().next(), order: order.max(1) },
            "d" => Command::Differential { expr, raw: false },
            other => return Err(usage(format!("unknown command `{other}`"))),
        })
    });
    run_limited(py, timeout, move || {
        let command = command?;
        let options = options_of(sizes)?;
        let text = command.text().to_string();
        match command.run(&options) {
            Ok(reply) => {
                let mut v = reply.json(&text, &command.wrt());
                if let Value::Object(m) = &mut v {
                    m.insert("passed".into(), json!(reply.passed()));
                }
                Ok(v)
            }
            Err(e) => Err((e, text)),
        }
    })
}

/// A Python module computing the value and the gradients (`bracket codegen`), as
/// `{"source": "..."}`; with `statements`, only the statements that compute them
/// (`--format numpy` of a program), as `{"lines": [...]}`.
#[pyfunction]
#[pyo3(signature = (expr, wrt=Vec::new(), target="numpy", with_check=false, solve=true, statements=false, timeout=30.0))]
#[allow(clippy::too_many_arguments)]
fn codegen(
    py: Python<'_>,
    expr: String,
    wrt: Vec<String>,
    target: &str,
    with_check: bool,
    solve: bool,
    statements: bool,
    timeout: f64,
) -> String {
    let target = match target {
        "numpy" => Ok(bracket::Target::Numpy),
        "jax" => Ok(bracket::Target::Jax),
        other => Err(usage(format!("unknown target `{other}`; use \"numpy\" or \"jax\""))),
    };
    run_limited(py, timeout, move || {
        let options = bracket::CodegenOptions { target: target?, solve, with_check };
        let made = if statements {
            bracket::statements(&expr, &wrt, &options).map(|lines| json!({ "lines": lines }))
        } else {
            bracket::codegen(&expr, &wrt, &options).map(|source| json!({ "source": source }))
        };
        made.map_err(|e| (e, expr))
    })
}

/// The native module `bracket._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(query, m)?)?;
    m.add_function(wrap_pyfunction!(codegen, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
