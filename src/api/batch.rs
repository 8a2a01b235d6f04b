//! Batch mode: one JSON query per input line, one JSON answer per output line, with the
//! in-process time of each. A bad line gives an `"error"` object and the batch goes on.
//!
//! A query: `{"command": "grad", "expr": "x^T A x", "wrt": ["x"], "check": false}`;
//! commands are `simplify`, `grad`, `jacobian`, `d`, `derive`, `backprop` and `eval` (with
//! `"at": {"x": [1, 2]}` and `"seed"`).

use crate::error::{line_col, Error, ErrorCode, Result};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::time::Instant;

/// The JSON of derivatives (the `--format json` of `grad` and `jacobian`).
pub fn derivatives_json(text: &str, wrt: &[String], jacobian: bool, check: bool) -> Result<Value> {
    derivatives_json_with(text, wrt, jacobian, check, &crate::egraph::Options::default())
}

/// [`derivatives_json`] with e-graph options (limits, sizes for a FLOP cost).
pub fn derivatives_json_with(
    text: &str,
    wrt: &[String],
    jacobian: bool,
    check: bool,
    options: &crate::egraph::Options,
) -> Result<Value> {
    let ds = if jacobian {
        crate::api::jacobian_with(text, wrt, options)?
    } else {
        crate::api::grad_with(text, wrt, options)?
    };
    let mut list = Vec::new();
    for d in &ds {
        let mut v = d.answer.json();
        v["wrt"] = Value::String(d.wrt.clone());
        if check {
            let c = crate::eval::check::check_derivative(&d.answer.model, &d.function, &d.wrt, &d.answer.expr, 3)
                .unwrap_or_else(|e| crate::eval::check::Check::not_possible(e.message));
            v["check"] = c.json();
        }
        list.push(v);
    }
    let mut v = json!({"input": text, "derivatives": list});
    add_notes(&mut v, text, wrt);
    Ok(v)
}

/// The JSON of backpropagation equations (the `--format json` of `grad PROGRAM`), with
/// each parameter's check when asked.
pub fn backprop_json(text: &str, check: bool) -> Result<Value> {
    let eqs = crate::calculus::backprop::backprop_with(text, crate::calculus::derive::Explain::Result)?;
    let checks = check.then(|| {
        crate::calculus::backprop::check_program(text, &eqs, 3).unwrap_or_else(|e| {
            let c = crate::eval::check::Check::not_possible(e.message);
            eqs.iter().filter(|eq| eq.parameter).map(|eq| (eq.target.clone(), c.clone())).collect()
        })
    });
    let list: Vec<Value> = eqs
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
    let mut v = json!({"input": text, "equations": list});
    add_notes(&mut v, text, &[]);
    Ok(v)
}

/// Adds `"notes"`: how the input was read where that may not be what was meant (see
/// [`crate::api::notes`]), when there are any.
pub fn add_notes(v: &mut Value, text: &str, wrt: &[String]) {
    let notes = crate::api::notes(text, wrt);
    if !notes.is_empty() && v.get("notes").is_none() {
        v["notes"] = json!(notes);
    }
}

/// An error as JSON: code, message, 1-based line and column (when about the input), hint.
pub fn error_json(e: &Error, source: &str) -> Value {
    let mut v = json!({"code": e.code.as_str(), "message": e.message});
    if let Some(span) = e.span {
        let (line, column) = line_col(source, span.start);
        v["line"] = json!(line);
        v["column"] = json!(column);
    }
    if let Some(h) = &e.hint {
        v["hint"] = json!(h);
    }
    v
}

fn usage(message: String) -> Error {
    Error::bare(ErrorCode::Usage, message)
}

/// Answers one query line.
pub fn batch_line(line: &str) -> Value {
    let start = Instant::now();
    let query: Value = match serde_json::from_str(line) {
        Ok(q) => q,
        Err(e) => return json!({"error": error_json(&usage(format!("not a JSON object: {e}")), "")}),
    };
    let expr = query.get("expr").and_then(Value::as_str).unwrap_or("").to_string();
    let result = answer(&query, &expr);
    let elapsed = start.elapsed().as_micros() as u64;
    match result {
        Ok(mut v) => {
            if v.is_object() {
                let wrt: Vec<String> = match query.get("wrt") {
                    Some(Value::String(w)) => vec![w.clone()],
                    Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
                    _ => vec![],
                };
                add_notes(&mut v, &expr, &wrt);
            }
            v["elapsed_us"] = json!(elapsed);
            v
        }
        Err(e) => json!({"error": error_json(&e, &expr), "elapsed_us": elapsed}),
    }
}

fn answer(query: &Value, expr: &str) -> Result<Value> {
    let command =
        query.get("command").and_then(Value::as_str).ok_or_else(|| usage("the query has no \"command\"".into()))?;
    if query.get("expr").and_then(Value::as_str).is_none() {
        return Err(usage("the query has no \"expr\" string".into()));
    }
    let wrt: Vec<String> = match query.get("wrt") {
        None => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        Some(_) => return Err(usage("\"wrt\" must be a name or a list of names".into())),
    };
    let check = query.get("check").and_then(Value::as_bool).unwrap_or(false);
    match command {
        "simplify" => {
            let a = crate::api::simplify(expr)?;
            let mut v = a.json();
            v["input"] = json!(expr);
            Ok(v)
        }
        "grad" | "jacobian" if wrt.is_empty() => backprop_json(expr, check),
        "grad" => derivatives_json(expr, &wrt, false, check),
        "jacobian" => derivatives_json(expr, &wrt, true, check),
        "backprop" => backprop_json(expr, check),
        "derive" => {
            let x = wrt.first().ok_or_else(|| usage("\"derive\" needs \"wrt\"".into()))?;
            let mut v = crate::api::derive(expr, x)?.json();
            v["input"] = json!(expr);
            Ok(v)
        }
        "d" => {
            let a = crate::api::differential_taken_out(expr)?;
            let mut v = a.json();
            v["input"] = json!(expr);
            Ok(v)
        }
        "eval" => {
            let given: Vec<(String, String)> = match query.get("at") {
                None => vec![],
                Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect(),
                Some(_) => return Err(usage("\"at\" must be an object of values".into())),
            };
            let seed = query.get("seed").and_then(Value::as_u64).unwrap_or(1);
            let v = crate::api::evaluate(expr, &given, seed)?;
            Ok(json!({"input": expr, "value": v.value, "exact": v.exact, "random": v.random}))
        }
        other => {
            Err(usage(format!("unknown command `{other}`; use simplify, grad, jacobian, d, derive, backprop or eval")))
        }
    }
}

/// Runs a batch: every non-empty input line is a query; every answer is one line.
pub fn run_batch(input: impl BufRead, mut output: impl Write) -> std::io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = if line.len() > crate::limits::MAX_INPUT_BYTES {
            json!({"error": error_json(&usage("the line is longer than the input limit".into()), "")})
        } else {
            batch_line(&line)
        };
        writeln!(output, "{answer}")?;
    }
    Ok(())
}
