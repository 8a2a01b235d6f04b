//! The library's front door: one function per CLI command, each taking text and giving
//! an [`Answer`] that renders in every format.

pub mod batch;
pub mod codegen;
pub mod command;
pub mod examples;
pub mod second;

use crate::error::{Error, ErrorCode, Result, Span};
use crate::eval::{eval, random_env_sized, Draw, Env, Number};
use crate::ir::expr::Expr;
use crate::ir::shape::{show_shape, Dim};
use crate::read::elaborate::{read, Model};

use ndarray::ArrayD;
use num_rational::BigRational;
use num_traits::ToPrimitive;
use serde_json::{json, Value};

pub use crate::calculus::answer::{Answer, Derivative};

/// Reads an expression and gives its simplest classic form (equality saturation over
/// the rules of `rules/`; a tensor network is raised to matrix operators where it can be).
///
/// ```
/// let a = bracket::simplify("einsum(\"ij,kj->ik\", A, B)").unwrap();
/// assert_eq!(a.render(bracket::Format::Unicode), "ABᵀ");
/// ```
pub fn simplify(text: &str) -> Result<Answer> {
    simplify_with(text, &crate::egraph::Options::default())
}

/// [`simplify`] with limits and, optionally, sizes for a FLOP cost.
pub fn simplify_with(text: &str, options: &crate::egraph::Options) -> Result<Answer> {
    let read = read_answer(text)?;
    let (expr, report) = crate::egraph::simplify_expr(&read.expr, &read.model, options);
    let answer = Answer { model: read.model, expr, saturation: Some(report) };
    defined_somewhere(&answer, text)?;
    Ok(answer)
}

/// An error where `answer` is defined nowhere: it needs a condition that never holds,
/// `0 ≠ 0`, because the input divides by what is zero for every value (`x ⊘ (x − x)`
/// simplifies to `x ⊘ 0`). The rules keep values, so only such an input gives one.
pub(crate) fn defined_somewhere(answer: &Answer, text: &str) -> Result<()> {
    let conditions = crate::render::conditions::condition_list(&answer.expr);
    let Some(never) = conditions.iter().find(|c| c.never_holds()) else { return Ok(()) };
    let shown = answer.render(crate::render::Format::Unicode);
    Err(defined_nowhere(never, text).hint(format!(
        "it simplifies to `{shown}`, defined only where {}",
        never.render(crate::render::Format::Unicode)
    )))
}

/// An error where the input itself is defined nowhere: its function, a definition or a
/// query divides by, inverts or takes the logarithm of what is zero for every value
/// (`1/(xᵀx − xᵀx)`), though its derivative may simplify to a plain `0`.
pub(crate) fn input_defined_somewhere(model: &Model, text: &str) -> Result<()> {
    let mut es: Vec<&Expr> = model.exprs.iter().collect();
    es.extend(model.queries.iter().map(|q| &q.expr));
    es.extend(model.definitions.iter().map(|(_, e)| e));
    let Some(never) = crate::egraph::defined::condition_holding_nowhere(model, &es) else { return Ok(()) };
    let subject = crate::render::render(&never.subject, crate::render::Format::Unicode);
    Err(defined_nowhere(&never, text).hint(format!(
        "`{subject}` is zero for every value, so the expression is defined only where {}, which never holds",
        never.render(crate::render::Format::Unicode)
    )))
}

/// A program (or formula) read as `grad` reads it, its function scalar where a name
/// read by default makes that so; an error where it is defined nowhere.
pub(crate) fn read_program(text: &str, words: &[String]) -> Result<Model> {
    let model = crate::read::elaborate::read_scalar_with(text, words)?;
    input_defined_somewhere(&model, text)?;
    Ok(model)
}

/// The error for a function defined nowhere, named by what fails (`0 ≠ 0`: a division).
fn defined_nowhere(never: &crate::render::conditions::Condition, text: &str) -> Error {
    use crate::render::conditions::Relation::*;
    let what = match never.relation {
        NonZero | NoZeroEntry => "division by zero: the expression divides by something that is zero for every value",
        Invertible => "inverse of zero: the expression inverts a matrix that is zero for every value",
        _ => "the expression needs something positive (a logarithm's argument, a divisor under a root) that is zero for every value",
    };
    Error::new(ErrorCode::Shape, what, Span::new(0, text.len()))
}

/// Reads and types the expression of `text`, unchanged.
pub fn read_answer(text: &str) -> Result<Answer> {
    read_answer_with(text, &[])
}

/// As [`read_answer`], with `words` (the variables asked for) read as one name each.
pub fn read_answer_with(text: &str, words: &[String]) -> Result<Answer> {
    answer_of(crate::read::elaborate::read_with(text, words)?, text)
}

/// As [`read_answer_with`], for a function that must be scalar: where a name read by its
/// case's default makes it a tensor, and reading that one name as a scalar makes it scalar,
/// it is read so, with a note.
pub fn read_scalar_answer(text: &str, words: &[String]) -> Result<Answer> {
    answer_of(crate::read::elaborate::read_scalar_with(text, words)?, text)
}

fn answer_of(model: Model, text: &str) -> Result<Answer> {
    let expr = model.main_expr().cloned().ok_or_else(|| {
        if text.trim().is_empty() {
            Error::new(ErrorCode::Syntax, "the input is empty", crate::error::Span::new(0, 0))
                .hint("write an expression such as `x^T A x`")
        } else if !model.queries.is_empty() {
            Error::new(
                ErrorCode::Unsupported,
                "the input ends with its own query, `grad … wrt …`, where an expression was expected",
                crate::error::Span::new(0, text.len()),
            )
            .hint(
                "`bracket grad` answers a program's query without `--wrt` (drop it); `bracket simplify` \
                 takes an expression after the definitions",
            )
        } else if let Some((last, _)) = model.definitions.last() {
            Error::new(
                ErrorCode::Syntax,
                "the program has definitions but no expression after them, and no `grad … wrt …` query",
                crate::error::Span::new(text.len(), text.len()),
            )
            .hint(format!(
                "end it with a query such as `grad {last} wrt …` naming the variables, or with the line `{last}`"
            ))
        } else {
            Error::new(
                ErrorCode::Syntax,
                "the input has declarations but no expression",
                crate::error::Span::new(text.len(), text.len()),
            )
            .hint("write the expression after the declarations, e.g. `A: matrix; tr(A)`")
        }
    })?;
    input_defined_somewhere(&model, text)?;
    Ok(Answer { model, expr, saturation: None })
}

/// How `text` is read where that may not be what was meant (a word read as a product of
/// one-letter names, a transposed Greek scalar): the notes the CLI prints on stderr.
pub fn notes(text: &str, words: &[String]) -> Vec<String> {
    // Where the input does not read, the error's hint carries the notes.
    crate::read::elaborate::read_with(text, words).map(|model| model.notes).unwrap_or_default()
}

/// As [`notes`], for a command whose function must be scalar (`grad`, `hessian`, `hvp`),
/// which may read a name against its case's default (see [`read_scalar_answer`]).
pub fn notes_for_scalar(text: &str, words: &[String]) -> Vec<String> {
    crate::read::elaborate::read_scalar_with(text, words).map(|model| model.notes).unwrap_or_default()
}

/// A value computed by [`evaluate`]: exact when it could be, with the inputs used.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The value as nested JSON lists (exact rationals as strings `"1/2"`).
    pub value: Value,
    /// True if computed exactly in rationals.
    pub exact: bool,
    /// The sizes used for each symbolic dim.
    pub sizes: Vec<(String, usize)>,
    /// Names that were not given and got random values.
    pub random: Vec<String>,
    /// Sizes that nothing given or declared fixed, drawn at random (`1ᵀ1` is one of
    /// them): a symbolic dim by its name, an unnamed one (a `1` alone) as `?`.
    pub drawn: Vec<(String, usize)>,
}

/// Evaluates the expression of `text` with the given values (`name`, JSON array text);
/// names without a value get seeded random ones. Exact when no value or operation
/// needs floating point.
pub fn evaluate(text: &str, given: &[(String, String)], seed: u64) -> Result<Evaluation> {
    let answer = read_answer(text)?;
    let parsed: Vec<(String, Value)> = given
        .iter()
        .map(|(n, v)| (greek_letters(n.trim()), v))
        .map(|(n, v)| {
            serde_json::from_str::<Value>(v)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::bare(ErrorCode::Usage, format!("the value of `{n}` is not a JSON array: {e}")))
        })
        .collect::<Result<_>>()?;
    // Exactly where every value and operation allows it; where one does not (a root, an
    // exponential), in floating point, which says why if it fails too.
    match evaluate_in::<BigRational>(&answer, &parsed, seed) {
        Ok(v) => Ok(v),
        Err(e) if e.code == ErrorCode::Eval => evaluate_in::<f64>(&answer, &parsed, seed),
        Err(e) => Err(e),
    }
}

fn evaluate_in<T: Number + ToJson>(answer: &Answer, given: &[(String, Value)], seed: u64) -> Result<Evaluation> {
    let model = &answer.model;
    for (name, _) in given {
        let differential = name.strip_prefix('d').is_some_and(|b| model.names.contains_key(b));
        if !model.names.contains_key(name) && !differential {
            return Err(Error::bare(ErrorCode::Usage, format!("`{name}` does not occur in the expression")));
        }
    }
    // Sizes from the given values first, then random ones for the rest.
    let mut fixed: Vec<(Dim, usize)> = Vec::new();
    for (name, value) in given {
        let array = to_array::<T>(value, name)?;
        let base = if model.names.contains_key(name) { name.as_str() } else { &name[1..] };
        let shape = &model.names[base].shape;
        let dims: Vec<&Dim> = shape.iter().filter(|d| **d != Dim::Iota).collect();
        if dims.len() != array.ndim() {
            return Err(Error::bare(
                ErrorCode::Usage,
                format!("`{name}` has {} dims, but the value given has {}", dims.len(), array.ndim()),
            ));
        }
        for (d, &n) in dims.into_iter().zip(array.shape()) {
            if let Some((_, m)) = fixed.iter().find(|(e, _)| e == d) {
                if *m != n {
                    return Err(Error::bare(ErrorCode::Usage, format!("dimension `{d}` is given sizes {m} and {n}")));
                }
            }
            if let Dim::Int(k) = d {
                if *k as usize != n {
                    return Err(Error::bare(ErrorCode::Usage, format!("`{name}` is declared with size {k}, not {n}")));
                }
            }
            fixed.push((d.clone(), n));
        }
    }
    let mut env: Env<T> = random_env_sized(model, Draw { seed, ..Draw::default() }, &fixed)?;
    // The values drawn that the value reads: its names and differentials (`dx` is drawn,
    // and said, for `xᵀdx`; x is not said for `dx` alone), and those of the definitions.
    let mut read: indexmap::IndexSet<String> = answer.expr.names().into_iter().collect();
    for (_, e) in &model.definitions {
        read.extend(e.names());
    }
    let drawn = |n: &str| model.names.get(n).is_none_or(|i| !i.defined);
    let mut random: Vec<String> = read.into_iter().filter(|n| drawn(n)).collect();
    for (name, v) in given {
        let key = name.clone();
        let shape =
            match key.strip_prefix('d').filter(|b| !model.names.contains_key(&key) && model.names.contains_key(*b)) {
                Some(base) => model.names[base].shape.clone(),
                None => model.names[&key].shape.clone(),
            };
        let a = to_array::<T>(v, name)?;
        let sizes = env.sizes_of(&shape)?;
        let a = a
            .into_shape_with_order(ndarray::IxDyn(&sizes))
            .map_err(|e| Error::bare(ErrorCode::Usage, format!("the value of `{name}` does not fit its shape: {e}")))?;
        // A matrix declared symmetric is given a symmetric value: the declaration is what
        // answers were simplified with.
        if model.names.get(&key).is_some_and(|i| i.symmetric) && a.ndim() == 2 {
            let asymmetric = a.indexed_iter().find(|(ij, v)| {
                let w = &a[[ij[1], ij[0]]];
                (v.approx() - w.approx()).abs() > 1e-9 * v.approx().abs().max(w.approx().abs()).max(1.0)
            });
            if let Some((ij, _)) = asymmetric {
                let (i, j) = (ij[0] + 1, ij[1] + 1);
                return Err(Error::bare(
                    ErrorCode::Usage,
                    format!(
                        "`{name}` is declared symmetric, but the value given has entry ({i}, {j}) unlike ({j}, {i})"
                    ),
                )
                .hint(format!("give a symmetric value, or declare `{name}: matrix` if it is not")));
            }
        }
        env.values.insert(key.clone(), a);
        random.retain(|n| n != &key);
    }
    // A value that is not a finite number (1/0 in floating point, ln 0) is an error, never
    // a `null` entry in an answer that exits 0.
    let finite = |name: &str, v: &ArrayD<T>| -> Result<()> {
        match v.iter().position(|x| !x.approx().is_finite()) {
            None => Ok(()),
            Some(k) => {
                let at = if v.ndim() == 0 { String::new() } else { format!(" (entry {} of {})", k + 1, v.len()) };
                Err(Error::bare(ErrorCode::Eval, format!("{name} is not a finite number{at}")).hint(
                    "a division by zero, a logarithm of zero or less, a root of a negative number, or an overflow",
                ))
            }
        }
    };
    for (name, e) in &model.definitions {
        let v = eval(e, &env)?;
        finite(&format!("the value of `{name}`"), &v)?;
        env.values.insert(name.clone(), v);
    }
    let value = eval(&answer.expr, &env)?;
    finite("the value", &value)?;
    let sizes = env.sizes.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    let drawn = env
        .sizes
        .iter()
        .filter(|(d, _)| !fixed.iter().any(|(f, _)| f == *d))
        .filter_map(|(d, n)| match d {
            Dim::Sym(name) => Some((name.clone(), *n)),
            Dim::Var(_) => Some(("?".to_string(), *n)),
            _ => None,
        })
        .collect();
    Ok(Evaluation { value: to_json(&value), exact: <T as Number>::EXACT, sizes, random, drawn })
}

/// Conversion of computed numbers to JSON.
pub trait ToJson {
    /// The number as JSON.
    fn json(&self) -> Value;
    /// Reads a JSON number.
    fn from_json(v: &Value) -> Option<Self>
    where
        Self: Sized;
}

impl ToJson for f64 {
    fn json(&self) -> Value {
        json!(self)
    }
    fn from_json(v: &Value) -> Option<f64> {
        match v {
            // "1/2" as for exact values (an input with exp or a root is evaluated in
            // floating point, and its values were refused).
            Value::String(_) => BigRational::from_json(v).and_then(|r| r.to_f64()),
            _ => v.as_f64(),
        }
    }
}

impl ToJson for BigRational {
    fn json(&self) -> Value {
        if self.is_integer() {
            match self.to_integer().to_i64() {
                Some(n) => json!(n),
                None => json!(self.to_string()),
            }
        } else {
            json!(self.to_string())
        }
    }
    fn from_json(v: &Value) -> Option<BigRational> {
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return None,
        };
        crate::read::parse::read_number(text.trim(), crate::error::Span::default()).ok()
    }
}

fn to_array<T: Number + ToJson>(v: &Value, name: &str) -> Result<ArrayD<T>> {
    // Err(Some(entry)) for an entry that is not a number, Err(None) for a ragged array.
    fn walk<T: ToJson>(
        v: &Value,
        depth: usize,
        shape: &mut Vec<usize>,
        out: &mut Vec<T>,
    ) -> Result<(), Option<String>> {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                } else if shape[depth] != items.len() {
                    return Err(None);
                }
                for i in items {
                    walk(i, depth + 1, shape, out)?;
                }
                Ok(())
            }
            other => {
                if depth != shape.len() {
                    return Err(None);
                }
                out.push(T::from_json(other).ok_or_else(|| Some(other.to_string()))?);
                Ok(())
            }
        }
    }
    let mut shape = Vec::new();
    let mut out = Vec::new();
    let ragged = || Error::bare(ErrorCode::Usage, format!("the value of `{name}` is not a regular array of numbers"));
    walk::<T>(v, 0, &mut shape, &mut out).map_err(|entry| match entry {
        Some(entry) => Error::bare(ErrorCode::Usage, format!("`{entry}` in the value of `{name}` is not a number"))
            .hint("write numbers as 2, -0.5, 1e-3 or \"1/2\""),
        None => ragged(),
    })?;
    ArrayD::from_shape_vec(ndarray::IxDyn(&shape), out).map_err(|_| ragged())
}

fn to_json<T: ToJson>(a: &ArrayD<T>) -> Value {
    fn go<T: ToJson>(a: ndarray::ArrayViewD<T>) -> Value {
        if a.ndim() == 0 {
            return a.iter().next().map_or(Value::Null, ToJson::json);
        }
        Value::Array(a.outer_iter().map(|s| go(s)).collect())
    }
    go(a.view())
}

/// `lambda` → `λ`, as names are kept.
pub(crate) fn greek_letters(name: &str) -> String {
    let (base, rest) = match name.find(|c: char| !c.is_ascii_alphabetic()) {
        Some(at) => name.split_at(at),
        None => (name, ""),
    };
    let (d, word) = match base.strip_prefix('d') {
        Some(w) if crate::read::parse::greek_letter(w).is_some() => ("d", w),
        _ => ("", base),
    };
    match crate::read::parse::greek_letter(word) {
        Some(letter) => format!("{d}{letter}{rest}"),
        None => name.to_string(),
    }
}

/// `name` with its trailing subscript digits written as the input reads them: `W₁` is
/// `W_1`, `x₁₂` is `x_12`.
fn subscript_digits(name: &str) -> String {
    let digit = |c: char| ('₀'..='₉').contains(&c);
    let base = name.trim_end_matches(digit);
    if base.len() == name.len() || base.is_empty() || base.ends_with('_') {
        return name.to_string();
    }
    let digits: String = name[base.len()..].chars().map(|c| char::from(b'0' + (c as u32 - '₀' as u32) as u8)).collect();
    format!("{base}_{digits}")
}

/// Gradients of the scalar function of `text` by each variable in `wrt`.
///
/// ```
/// let g = bracket::grad("x^T A x", &["x"]).unwrap();
/// assert_eq!(g[0].answer.render(bracket::Format::Unicode), "(A + Aᵀ)x");
/// ```
pub fn grad<S: AsRef<str>>(text: &str, wrt: &[S]) -> Result<Vec<Derivative>> {
    grad_with(text, wrt, &crate::egraph::Options::default())
}

/// [`grad`] with e-graph limits and, optionally, sizes for a FLOP cost.
pub fn grad_with<S: AsRef<str>>(text: &str, wrt: &[S], options: &crate::egraph::Options) -> Result<Vec<Derivative>> {
    let words: Vec<String> = wrt.iter().map(|w| w.as_ref().to_string()).collect();
    let f = read_scalar_answer(text, &words)?;
    scalar_for(&f, text, &words, "a gradient")?;
    derivatives_with(&f, text, wrt, options)
}

/// An error unless `f` is scalar, as `what` (a gradient, a Hessian) needs.
/// Where names read by their case's default make it non-scalar, the hint says which.
pub(crate) fn scalar_for(f: &Answer, text: &str, words: &[String], what: &str) -> Result<()> {
    if f.expr.is_scalar() {
        return Ok(());
    }
    let shown = show_shape(&f.expr.shape);
    let readings = crate::read::elaborate::scalar_readings(text, words);
    let hint = match readings.first() {
        Some(name) => format!(
            "`{name}` is {}, as an undeclared name of its case is, and makes it so; \
             declare `{name}: scalar` if it is a number, or use `bracket jacobian`",
            crate::read::elaborate::default_kind(name)
        ),
        None => "use `bracket jacobian` for a non-scalar function".to_string(),
    };
    Err(Error::new(
        ErrorCode::Shape,
        format!("{what} needs a scalar function, but this has shape {shown}"),
        crate::error::Span::new(0, text.len()),
    )
    .hint(hint))
}

/// Jacobians of the function of `text` (its dims first, then each variable's).
pub fn jacobian<S: AsRef<str>>(text: &str, wrt: &[S]) -> Result<Vec<Derivative>> {
    jacobian_with(text, wrt, &crate::egraph::Options::default())
}

/// [`jacobian`] with e-graph limits and, optionally, sizes for a FLOP cost.
pub fn jacobian_with<S: AsRef<str>>(
    text: &str,
    wrt: &[S],
    options: &crate::egraph::Options,
) -> Result<Vec<Derivative>> {
    let words: Vec<String> = wrt.iter().map(|w| w.as_ref().to_string()).collect();
    let f = read_answer_with(text, &words)?;
    derivatives_with(&f, text, wrt, options)
}

/// Derivatives of `f` (an expression of `model`) by each variable: the gradient for a
/// scalar f, else the Jacobian.
pub fn derivatives_of<S: AsRef<str>>(model: &Model, f: &Expr, wrt: &[S]) -> Result<Vec<Derivative>> {
    let answer = Answer { model: model.clone(), expr: f.clone(), saturation: None };
    derivatives(&answer, &model.source, wrt)
}

fn derivatives<S: AsRef<str>>(f: &Answer, text: &str, wrt: &[S]) -> Result<Vec<Derivative>> {
    derivatives_with(f, text, wrt, &crate::egraph::Options::default())
}

fn derivatives_with<S: AsRef<str>>(
    f: &Answer,
    text: &str,
    wrt: &[S],
    options: &crate::egraph::Options,
) -> Result<Vec<Derivative>> {
    let mut out = Vec::new();
    for w in wrt {
        let name = variable(&f.model, w.as_ref(), text)?;
        let answer = crate::calculus::gradient::gradient(&f.model, &f.expr, &name, options)?;
        defined_somewhere(&answer, text)?;
        out.push(Derivative { function: f.expr.clone(), wrt: name, answer });
    }
    Ok(out)
}

/// The variable `w` names (`lambda` is `λ`): one of the function's, not a defined one.
pub(crate) fn variable(model: &Model, w: &str, text: &str) -> Result<String> {
    let name = subscript_digits(&greek_letters(w.trim()));
    let Some(info) = model.names.get(&name) else {
        // The variables one may name, the one that differs only in case first.
        let mut names: Vec<&String> = model.names.iter().filter(|(_, i)| !i.defined).map(|(n, _)| n).collect();
        names.sort_by_key(|n| !n.eq_ignore_ascii_case(&name));
        let hint = match names.first() {
            Some(n) if n.eq_ignore_ascii_case(&name) => format!("did you mean `{n}`? (names are case-sensitive)"),
            Some(_) => {
                let list: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
                format!("name one of the function's variables: {}", list.join(", "))
            }
            None => "name one of the function's variables after --wrt".to_string(),
        };
        return Err(Error::new(
            ErrorCode::Unknown,
            format!("`{name}` does not occur in the function"),
            crate::error::Span::new(0, text.len()),
        )
        .hint(hint));
    };
    if info.defined {
        return Err(Error::new(
            ErrorCode::Unsupported,
            format!("`{name}` is defined by `{name} = …`; differentiate by the variables it is made of"),
            crate::error::Span::new(0, text.len()),
        ));
    }
    if is_size(model, &name) {
        return Err(Error::new(
            ErrorCode::Unsupported,
            format!("`{name}` is a size: a whole number that fixes shapes, with no derivative"),
            crate::error::Span::new(0, text.len()),
        )
        .hint("differentiate by a tensor or scalar of the function; a sum over N entries also changes with N"));
    }
    Ok(name)
}

/// Whether `name` is a size of some name's shape (`N` in `X: matrix(N, p)`), which the
/// function may also use as a scalar (`1/(2N)`).
fn is_size(model: &Model, name: &str) -> bool {
    model.names.values().any(|i| i.shape.iter().any(|d| matches!(d, Dim::Sym(n) if n == name)))
}

/// Derives ∇_X f step by step.
///
/// ```
/// let d = bracket::derive("a^T X b", "X").unwrap();
/// assert_eq!(d.result.render(bracket::Format::Unicode), "abᵀ");
/// assert!(d.steps.len() >= 3);
/// ```
pub fn derive(text: &str, wrt: &str) -> Result<crate::calculus::derive::Derivation> {
    let f = read_answer_with(text, &[wrt.to_string()])?;
    // `--wrt beta` names β, as for grad.
    let wrt = variable(&f.model, wrt, text)?;
    crate::calculus::derive::derive_in(&f.model, &f.expr, &wrt, crate::calculus::derive::Through::Definitions)
}

/// The differential of the expression of `text` in all its variables, as d(…) gives it
/// (product rule, chain rule), before dX is taken out.
pub fn differential_of(text: &str) -> Result<Answer> {
    let f = read_answer(text)?;
    let vars: indexmap::IndexSet<String> =
        f.model.names.iter().filter(|(n, i)| !i.defined && !is_size(&f.model, n)).map(|(n, _)| n.clone()).collect();
    let d = crate::calculus::diff::differential(&f.expr, &f.model, &vars)?;
    let expr = d.unwrap_or_else(|| crate::ir::build::zero(f.expr.shape.clone()));
    Ok(Answer { model: f.model, expr, saturation: None })
}

/// The differential with each dX taken out: `Σ G_i · dX_i` (`G_i ·_k dX_i` for a
/// non-scalar function, k the order of X_i).
///
/// ```
/// let d = bracket::differential_taken_out("a^T X b").unwrap();
/// assert_eq!(d.render(bracket::Format::Unicode), "Xb · da + abᵀ · dX + Xᵀa · db");
/// ```
pub fn differential_taken_out(text: &str) -> Result<Answer> {
    let f = read_answer(text)?;
    // (Not a size used as a scalar, `1/(2N)`: it has no differential.)
    let vars: Vec<String> =
        f.model.names.iter().filter(|(n, i)| !i.defined && !is_size(&f.model, n)).map(|(n, _)| n.clone()).collect();
    let mut terms = Vec::new();
    for d in derivatives(&f, text, &vars)? {
        if matches!(&d.answer.expr.kind, crate::ir::expr::Kind::Scale(c, _) if num_traits::Zero::is_zero(c)) {
            continue;
        }
        let x = &f.model.names[&d.wrt];
        let dx = Expr::new(crate::ir::expr::Kind::Diff(d.wrt.clone()), x.shape.clone());
        let k = x.shape.len();
        let g = d.answer.expr;
        let term = if f.expr.is_scalar() {
            Expr::new(crate::ir::expr::Kind::Dot(Box::new(g), Box::new(dx)), vec![])
        } else {
            let n = g.order();
            let left = (n - k + 1..=n).map(|at| crate::ir::expr::Pos { at, bar: true }).collect();
            let right = (1..=k).map(|at| crate::ir::expr::Pos { at, bar: true }).collect();
            let kind = crate::ir::expr::Kind::Gen {
                lhs: Box::new(g),
                rhs: Box::new(dx),
                left,
                right,
                dot: true,
                form: crate::ir::expr::GenForm::K(k),
            };
            Expr::new(kind, f.expr.shape.clone())
        };
        terms.push(term);
    }
    let expr = match terms.len() {
        0 => crate::ir::build::zero(f.expr.shape.clone()),
        1 => terms.pop().expect("one"),
        _ => Expr::new(crate::ir::expr::Kind::Add(terms), f.expr.shape.clone()),
    };
    Ok(Answer { model: f.model, expr, saturation: None })
}

/// Answers the `grad J wrt W, b` queries of a program, in order.
///
/// ```
/// let ds = bracket::answer_queries("h = A x; J = h^T h; grad J wrt x").unwrap();
/// assert_eq!(ds[0].wrt, "x");
/// ```
pub fn answer_queries(text: &str) -> Result<Vec<Derivative>> {
    let model = read(text)?;
    if model.queries.is_empty() {
        return Err(Error::new(
            ErrorCode::Usage,
            "name the variables with --wrt, or end the input with `grad J wrt W, b`",
            crate::error::Span::new(0, text.len()),
        )
        .hint("e.g. `bracket grad 'x^T A x' --wrt x`"));
    }
    let mut out = Vec::new();
    for q in &model.queries {
        out.extend(derivatives_of(&model, &q.expr, &q.wrt)?);
    }
    Ok(out)
}
