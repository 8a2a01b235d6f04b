//! A name read against its case where its default does not type-check.
//!
//! Names default by case: `N` is a matrix, `n` a vector and `μ` a scalar unless
//! declared. A count written in capitals (`N/2 ln(det(S)) + …`) then leaves the input
//! ill-typed. Where a sum adds a scalar to a tensor, each name read by default is tried
//! the other way, one at a time: a vector or matrix as a scalar, a Greek scalar as a
//! vector.
//! If exactly one such reading type-checks, it is taken, and a note says so (the CLI
//! prints it on stderr, JSON as `notes`). If several do, the error lists them, since
//! the input does not say which was meant; if none does, the error stands.
//!
//! Where the factors of a product do not fit (a vector left of a matrix in
//! `ln det(K + s I)`, a matrix left of a row in `C 1ᵀ…`), the readings are only
//! suggested: the error's hint names the declaration (`s: scalar`) beside the
//! transpose it already names, since `x A y` may as well have meant `xᵀAy`.
//!
//! The same readings explain a function that is not scalar where a gradient needs one
//! ([`scalar_readings`]): there the input does type-check, so nothing is read anew, but
//! the error says which names would make it scalar.

use super::{elaborate_as, elaborate_noting, Failure, Model};
use crate::error::{ErrorCode, Result};
use crate::ir::ast::Input;
use crate::ir::expr::{Expr, Kind};
use crate::limits;
use indexmap::IndexMap;

/// Elaborates `input`, reading one default-typed name the other way where only that
/// reading type-checks. Where `want_scalar` (a gradient or a Hessian is asked for), a
/// reading must also make the function scalar when several type-check, and where the
/// input type-checks as a tensor, the one name whose scalar reading makes it scalar is
/// read so (`N/2 ln det(C) + …` with `N` a count).
pub(super) fn elaborate(input: &Input, want_scalar: bool) -> Result<Model> {
    let Failure { mut error, names, take, transposed } = match elaborate_noting(input, &IndexMap::new()) {
        Ok((model, transposed)) => {
            let model = vector_reading(input, model, &transposed);
            return Ok(if want_scalar { scalar_reading(input, model) } else { model });
        }
        Err(failure) => failure,
    };
    if error.code != ErrorCode::Shape {
        return Err(error);
    }
    let mut readings: Vec<(String, usize, Model)> = Vec::new();
    // (A Greek name written transposed is tried as a vector where a product fails.)
    let mut names = names;
    for name in transposed.iter().filter(|_| !take) {
        if !names.iter().any(|(n, order)| n == name && *order == 1) {
            names.push((name.clone(), 1));
        }
    }
    for (name, order) in names.into_iter().take(limits::MAX_RETYPED_NAMES) {
        if let Ok(model) = elaborate_as(input, &IndexMap::from([(name.clone(), order)])) {
            readings.push((name, order, model));
        }
    }
    let scalar = |m: &Model| m.main_expr().is_some_and(|e| e.is_scalar());
    let mut not_scalar = Vec::new();
    if want_scalar && take && readings.len() > 1 && readings.iter().any(|(_, _, m)| scalar(m)) {
        not_scalar = readings
            .iter()
            .filter(|(_, _, m)| !scalar(m))
            .map(|(n, order, _)| format!("`{}: {}`", declared_name(n), word(*order)))
            .collect();
        readings.retain(|(_, _, m)| scalar(m));
    }
    // A Greek name written transposed that as a vector makes the input type-check is
    // one, product or sum (`(λᵀ1)x`), as where the input type-checks either way.
    let written_transposed = |(name, order, _): &(String, usize, Model)| *order == 1 && transposed.contains(name);
    if !take && readings.iter().filter(|r| written_transposed(r)).count() == 1 {
        if let Some(k) = readings.iter().position(written_transposed) {
            let (name, _, mut model) = readings.swap_remove(k);
            model.notes.push(format!(
                "`{name}` is read as a vector: it is written transposed (`{name}ᵀ`), and as a scalar the input \
                 does not type-check ({}); declare `{}: vector` to say so",
                error.message,
                declared_name(&name)
            ));
            return Ok(model);
        }
    }
    match readings.len() {
        0 => Err(error),
        // Where readings are only suggested, several are noise beside the transpose.
        n if n > 1 && !take => Err(error),
        1 if take => {
            let (name, order, mut model) = readings.pop().expect("one reading");
            model.notes.push(format!(
                "`{name}` is read as a {}: as {} (the default for {}) the input does not type-check ({}); \
                 declare `{}: {}` to say so",
                word(order),
                default_kind(&name),
                case_word(&name),
                error.message,
                declared_name(&name),
                word(order)
            ));
            if !not_scalar.is_empty() {
                let n = model.notes.len() - 1;
                model.notes[n].push_str(&format!(
                    " ({} would type-check too, but leaves the function not scalar)",
                    not_scalar.join(" or ")
                ));
            }
            Ok(model)
        }
        _ => {
            let declarations: Vec<String> =
                readings.iter().map(|(n, order, _)| format!("`{}: {}`", declared_name(n), word(*order))).collect();
            let more = match declarations.len() {
                1 => format!("or, if `{}` is a {}, declare {}", readings[0].0, word(readings[0].1), declarations[0]),
                _ => format!(
                    "any one of these would make it type-check; declare the one meant: {}",
                    declarations.join(" or ")
                ),
            };
            error.hint = Some(match error.hint.take() {
                Some(h) => format!("{h}; {more}"),
                None => more,
            });
            Err(error)
        }
    }
}

/// `model`, or, where its function is not scalar and exactly one default-typed tensor
/// read as a scalar makes it so, the model read that way (with a note).
/// `model` with the one Greek name written transposed (`1μᵀ`) read as a vector, where
/// that reading type-checks and keeps a scalar function scalar, with a note: a scalar
/// by default, `μᵀ` is `μ`, and `X − 1μᵀ` typed with a ones matrix, a gradient of
/// another function (survey 22). Where several or none do, the model as read, whose note
/// says `μᵀ` is `μ`.
fn vector_reading(input: &Input, model: Model, transposed: &[String]) -> Model {
    let scalar = function(&model).is_some_and(|e| e.is_scalar());
    let mut readings: Vec<(&String, Model)> = transposed
        .iter()
        .take(limits::MAX_RETYPED_NAMES)
        .filter_map(|name| {
            let m = elaborate_as(input, &IndexMap::from([(name.clone(), 1)])).ok()?;
            (!scalar || function(&m).is_some_and(|e| e.is_scalar())).then_some((name, m))
        })
        .collect();
    if readings.len() != 1 {
        return model;
    }
    let (name, mut m) = readings.pop().expect("one reading");
    m.notes.push(format!(
        "`{name}` is read as a vector: it is written transposed (`{name}ᵀ`), which a scalar need not be, though \
         Greek letters are scalars unless declared; declare `{}: scalar` if it is one",
        declared_name(name)
    ));
    m
}

fn scalar_reading(input: &Input, model: Model) -> Model {
    let Some(main) = function(&model) else { return model };
    if main.is_scalar() {
        return model;
    }
    let mut readings = scalar_models(input, &model);
    if readings.is_empty() {
        return greek_vector_reading(input, model);
    }
    if readings.len() != 1 {
        return model;
    }
    let (name, mut m) = readings.pop().expect("one reading");
    m.notes.push(format!(
        "`{name}` is read as a scalar: as {} (the default for {}) the function is not scalar, \
         and only a scalar function has a gradient; declare `{}: scalar` to say so",
        default_kind(&name),
        case_word(&name),
        declared_name(&name)
    ));
    m
}

/// Where no tensor read as a scalar makes the function scalar, the one Greek name read
/// as a vector that does (`yᵀXθ − 1ᵀexp(Xθ)`, a row with θ a scalar), with a note.
fn greek_vector_reading(input: &Input, model: Model) -> Model {
    let greek = model
        .names
        .iter()
        .filter(|(n, i)| !i.declared && !i.defined && i.shape.is_empty() && default_kind(n) == "a scalar")
        .map(|(n, _)| n.clone())
        .collect();
    let mut readings = models_with_scalar_function(input, greek, 1);
    if readings.len() != 1 {
        return model;
    }
    let (name, mut m) = readings.pop().expect("one reading");
    m.notes.push(format!(
        "`{name}` is read as a vector: as a scalar (the default for lowercase Greek letters) the function is \
         not scalar, and only a scalar function has a gradient; declare `{}: vector` to say so",
        declared_name(&name)
    ));
    m
}

/// The function that must be scalar: the expression, or a program's loss (the first
/// query's where it is a defined name: `J` in `J = …; grad J wrt W`). A query of an
/// expression (`grad X^-1 wrt X`, the tutorial's Jacobian) is read as written.
fn function(model: &Model) -> Option<&Expr> {
    let loss = model.queries.first().map(|q| &q.expr).filter(|e| match &e.kind {
        Kind::Var(n) => model.names.get(n).is_some_and(|i| i.defined),
        _ => false,
    });
    model.main_expr().or(loss)
}

/// The names of `model` that are tensors only by their case's default.
fn tensor_defaults(model: &Model) -> Vec<String> {
    model
        .names
        .iter()
        .filter(|(n, i)| !i.declared && !i.defined && !i.shape.is_empty() && !n.contains('_'))
        .map(|(n, _)| n.clone())
        .collect()
}

/// The default-typed names of `source` that, read as scalars one at a time, make its
/// expression scalar. Empty where it does not read.
pub fn scalar_readings(source: &str, words: &[String]) -> Vec<String> {
    let Ok(input) = crate::read::parse::parse_with(source, words) else { return vec![] };
    match elaborate_as(&input, &IndexMap::new()) {
        Ok(model) => scalar_models(&input, &model).into_iter().map(|(name, _)| name).collect(),
        Err(_) => vec![],
    }
}

/// Each tensor of `model` by default only, read as a scalar alone, where that makes the
/// function scalar: the name and the model read so.
fn scalar_models(input: &Input, model: &Model) -> Vec<(String, Model)> {
    models_with_scalar_function(input, tensor_defaults(model), 0)
}

/// Each of `names` read with `order` dims, alone, where that makes the function scalar:
/// the name and the model read so.
fn models_with_scalar_function(input: &Input, names: Vec<String>, order: usize) -> Vec<(String, Model)> {
    names
        .into_iter()
        .take(limits::MAX_RETYPED_NAMES)
        .filter_map(|name| {
            let m = elaborate_as(input, &IndexMap::from([(name.clone(), order)])).ok()?;
            function(&m).is_some_and(|e| e.is_scalar()).then_some((name, m))
        })
        .collect()
}

/// How `name` reads when undeclared: "a scalar", "a vector" or "a matrix".
pub fn default_kind(name: &str) -> &'static str {
    let first = name.chars().next().unwrap_or('x');
    if !first.is_ascii() && first.is_lowercase() {
        "a scalar"
    } else if first.is_uppercase() {
        "a matrix"
    } else {
        "a vector"
    }
}

fn word(order: usize) -> &'static str {
    if order == 0 {
        "scalar"
    } else {
        "vector"
    }
}

fn case_word(name: &str) -> &'static str {
    let first = name.chars().next().unwrap_or('x');
    if first.is_uppercase() {
        "capitals"
    } else if !first.is_ascii() {
        "lowercase Greek letters"
    } else {
        "lowercase names"
    }
}

/// The name as a declaration spells it: `mu` for `μ`.
fn declared_name(name: &str) -> String {
    crate::read::parse::GREEK
        .iter()
        .find(|(_, letter)| name == *letter)
        .map_or_else(|| name.to_string(), |(word, _)| word.to_string())
}

/// A note for each variable of the query (`words`) that is a tensor only by its case's
/// default and is added to a larger expression (`Xw + b`): NumPy would broadcast a
/// scalar there, so the reading taken, a tensor of the size of what it is added to, is
/// said, with the declaration that reads it the other way. Only where the input
/// declares names at all (else every name is read by default, and none is singled out).
pub(super) fn note_summed_defaults(model: &mut Model, words: &[String]) {
    if !model.names.values().any(|i| i.declared) {
        return;
    }
    let mut notes = Vec::new();
    for name in words {
        let Some(info) = model.names.get(name) else { continue };
        if info.declared || info.defined || info.shape.is_empty() {
            continue;
        }
        let exprs = model.main_expr().into_iter().chain(model.definitions.iter().map(|(_, e)| e));
        if !exprs.into_iter().any(|e| added_beside_more(e, name)) {
            continue;
        }
        let dims: Vec<String> = info.shape.iter().map(|d| d.to_string()).collect();
        let what = match dims.len() {
            1 => format!("a vector of size {}", dims[0]),
            _ => format!("a {} tensor", dims.join("×")),
        };
        notes.push(format!(
            "`{name}` is not declared, so it is read as {what}, the shape of what it is added to; \
             for one number added to every entry, declare `{}: scalar`",
            declared_name(name)
        ));
    }
    model.notes.extend(notes);
}

/// True where `e` holds a sum with `name` (or a multiple of it) as one term beside a
/// term that is not a name.
fn added_beside_more(e: &Expr, name: &str) -> bool {
    let bare = |t: &Expr| match &t.kind {
        Kind::Var(n) => n == name,
        Kind::Scale(_, x) => matches!(&x.kind, Kind::Var(n) if n == name),
        _ => false,
    };
    if let Kind::Add(terms) = &e.kind {
        let named = |t: &Expr| matches!(&t.kind, Kind::Var(_) | Kind::Const(_));
        if terms.iter().any(bare) && terms.iter().any(|t| !bare(t) && !named(t)) {
            return true;
        }
    }
    e.children().into_iter().any(|c| added_beside_more(c, name))
}
