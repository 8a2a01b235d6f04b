//! Code you can run: a Python module with one function that returns the value and the
//! gradients, the forward values computed once and reused, every shared subexpression
//! named once, shape assertions on entry, and, with `with_check`, a random-data
//! generator and a finite-difference check.

use crate::calculus::backprop::{backprop_with, loss_name, seed_name, undefined_loss};
use crate::calculus::derive::Explain;
use crate::error::{Error, ErrorCode, Result, Span};
use crate::ir::expr::{Expr, Func, Kind};
use crate::ir::shape::Dim;
use crate::read::elaborate::Model;
use crate::render::python::{body, ident, to_jax, BodyOptions, Output};
use crate::render::{render, Format};
use std::fmt::Write as _;

/// The array library the module uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// NumPy.
    #[default]
    Numpy,
    /// `jax.numpy`, ready for `jax.jit`.
    Jax,
}

/// How a module is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodegenOptions {
    /// The array library.
    pub target: Target,
    /// `np.linalg.solve(A, b)` for `A⁻¹b`.
    pub solve: bool,
    /// Add `generate_random_data(seed)` and `check_gradient()`.
    pub with_check: bool,
}

impl Default for CodegenOptions {
    fn default() -> CodegenOptions {
        CodegenOptions { target: Target::Numpy, solve: true, with_check: false }
    }
}

/// The module for `text`: gradients by `wrt`, or, with no variable, a program's
/// backpropagation equations for its `grad J wrt …` query.
///
/// ```
/// let code = bracket::codegen("x^T A x", &["x".to_string()], &Default::default()).unwrap();
/// assert!(code.contains("def f_and_grad(x, A):"));
/// ```
pub fn codegen(text: &str, wrt: &[String], options: &CodegenOptions) -> Result<String> {
    let p = plan(text, wrt, options)?;
    Ok(module(&p, options))
}

/// The statements that compute the value and the gradients, as Python lines: the
/// definitions, then the gradients (a program's backpropagation equations, each seed
/// `grad_Z_J` named), shared work computed once. `--format numpy` of a program.
pub fn statements(text: &str, wrt: &[String], options: &CodegenOptions) -> Result<Vec<String>> {
    let p = plan(text, wrt, options)?;
    let jax = options.target == Target::Jax;
    Ok(p.lines.iter().map(|l| if jax { to_jax(l) } else { l.clone() }).collect())
}

/// The helpers NumPy statements may call, by the call that needs each.
const HELPERS: [(&str, &str); 3] = [
    ("logsumexp(", crate::render::python::LOGSUMEXP),
    ("log_softmax(", crate::render::python::LOG_SOFTMAX),
    ("softmax(", crate::render::python::SOFTMAX),
];

/// The definitions of the helpers `lines` call, in [`HELPERS`]' order.
fn called_helpers(lines: &[String]) -> impl Iterator<Item = &'static str> + '_ {
    HELPERS.iter().filter(|(call, _)| lines.iter().any(|l| calls(l, call))).map(|(_, code)| *code)
}

/// The helpers NumPy statements call (`softmax`, `logsumexp`), defined, so that the
/// statements run as printed: a program's NumPy output starts with them.
pub fn helpers(lines: &[String]) -> Vec<String> {
    called_helpers(lines).flat_map(|code| code.lines().map(str::to_string)).collect()
}

/// Whether `line` calls the helper `call` (`softmax(`, not inside `log_softmax(`).
fn calls(line: &str, call: &str) -> bool {
    line.match_indices(call)
        .any(|(at, _)| line[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.')))
}

/// A program's definitions as NumPy statements in order (`K = …`), which a second
/// derivative printed as NumPy reads by name; none for a formula.
pub fn definitions(text: &str) -> Result<Vec<String>> {
    let model = crate::read::elaborate::read_with(text, &[])?;
    let line = |(name, e): &(String, Expr)| format!("{} = {}", ident(name), crate::render::render_numpy(e, &model));
    Ok(model.definitions.iter().map(line).collect())
}

/// What a module computes.
struct Plan {
    model: Model,
    /// The function, as the docstring shows it.
    function: String,
    lines: Vec<String>,
    value: String,
    gradients: Vec<(String, String)>,
    shown: Vec<Expr>,
}

fn plan(text: &str, wrt: &[String], options: &CodegenOptions) -> Result<Plan> {
    // Read as `grad` reads it (`N/2 ln det(S)`: N a scalar, with a note).
    let model = crate::api::read_program(text, wrt)?;
    let mut outputs: Vec<Output> =
        model.definitions.iter().map(|(name, e)| Output { name: ident(name), expr: e.clone() }).collect();
    let mut gradients: Vec<(String, String)> = Vec::new();
    let value: String;
    let mut shown: Vec<Expr> = Vec::new();
    // A program's equations when it has definitions and a query and no --wrt; else the
    // gradients of the function (or of the query's) by each variable.
    let program = wrt.is_empty() && !model.definitions.is_empty() && !model.queries.is_empty();
    if program {
        let query = &model.queries[0];
        let loss = loss_name(&model);
        value = match &query.expr.kind {
            Kind::Var(n) => ident(n),
            _ => {
                outputs.push(Output { name: "value".into(), expr: query.expr.clone() });
                "value".into()
            }
        };
        for eq in backprop_with(text, Explain::Result)? {
            let name = ident(&seed_name(&eq.target, &loss));
            if eq.parameter {
                gradients.push((eq.target.clone(), name.clone()));
            }
            shown.push(eq.answer.expr.clone());
            outputs.push(Output { name, expr: eq.answer.expr });
        }
    } else {
        // A query's loss that is never defined is an error, as in `grad` (else its
        // gradients are zero and the module checks).
        if let Some(e) = wrt.is_empty().then(|| undefined_loss(&model, text)).flatten() {
            return Err(e);
        }
        let (f, wrt) = match (model.main_expr(), model.queries.first()) {
            (Some(f), _) if !wrt.is_empty() => (f.clone(), wrt.to_vec()),
            (_, Some(q)) if wrt.is_empty() => (q.expr.clone(), q.wrt.clone()),
            (None, Some(_)) => {
                return Err(Error::new(
                    ErrorCode::Usage,
                    "the input ends with its own query, `grad … wrt …`, and --wrt names variables too",
                    Span::new(0, text.len()),
                )
                .hint(
                    "drop --wrt: the query names the variables; or end the input with an expression \
                     in place of the query",
                ))
            }
            _ => {
                return Err(Error::new(
                    ErrorCode::Usage,
                    "name the variables with --wrt, or end the input with `grad J wrt W, b`",
                    Span::new(0, text.len()),
                )
                .hint("e.g. `bracket codegen 'x^T A x' --wrt x`"))
            }
        };
        outputs.push(Output { name: "value".into(), expr: f.clone() });
        value = "value".into();
        for d in crate::api::derivatives_of(&model, &f, &wrt)? {
            // Past the caller's names (`grad_x` may be an argument).
            let mut name = format!("grad_{}", ident(&d.wrt));
            while model.names.keys().any(|n| ident(n) == name) {
                name.push('_');
            }
            gradients.push((d.wrt.clone(), name.clone()));
            shown.push(d.answer.expr.clone());
            outputs.push(Output { name, expr: d.answer.expr });
        }
    }
    let outputs = by_values(outputs, model.definitions.len());
    let lines = body(&outputs, &model, BodyOptions { solve: options.solve });
    let function = match model.definitions.iter().find(|(n, _)| ident(n) == value) {
        Some((n, e)) => format!("{n} = {}", render(e, Format::Unicode)),
        None => outputs.iter().find(|o| o.name == value).map(|o| render(&o.expr, Format::Unicode)).unwrap_or_default(),
    };
    Ok(Plan { model, function, lines, value, gradients, shown })
}

/// The outputs with each function's derivative written by its value where that is
/// cheaper (`tanh' = 1 − tanh²`, `sigmoid' = sigmoid(1 − sigmoid)`, `exp' = exp`), and
/// every value a definition (one of the first `defined` outputs) computes read from its
/// name, so that a forward value is computed once and reused by the backward pass.
fn by_values(outputs: Vec<Output>, defined: usize) -> Vec<Output> {
    fn derivative(e: &Expr) -> Expr {
        let mut out = e.clone();
        for c in out.children_mut() {
            *c = derivative(c);
        }
        // ‖x‖² is x · x: no root to square.
        if let Kind::Power(n, k) = &out.kind {
            if let (Kind::Norm(x), true) = (&n.kind, *k == num_rational::BigRational::from_integer(2.into())) {
                return Expr::new(Kind::Dot(x.clone(), x.clone()), vec![]);
            }
        }
        let Kind::Func { func, derivative: 1, arg } = &out.kind else { return out };
        let value = Expr::new(Kind::Func { func: func.clone(), derivative: 0, arg: arg.clone() }, out.shape.clone());
        // The number 1, which NumPy broadcasts, rather than an array of ones to allocate
        // (the expression is only printed, never typed again).
        let one = Expr::new(Kind::Const(num_rational::BigRational::from_integer(1.into())), vec![]);
        if *func == Func::Sigmoid {
            // σ(z)σ(−z) rather than σ(z)(1 − σ(z)): 1 − σ(z) rounds to 0 for z above about
            // 37, and a quotient by σ(−z) elsewhere (the focal loss) must meet it exactly.
            let minus = -<num_rational::BigRational as num_traits::One>::one();
            let negated = crate::ir::build::scale(minus, (**arg).clone());
            let mirror =
                Expr::new(Kind::Func { func: Func::Sigmoid, derivative: 0, arg: Box::new(negated) }, out.shape.clone());
            return match out.shape.is_empty() {
                true => crate::ir::build::product(value, mirror),
                false => crate::ir::build::hadamard(value, mirror),
            };
        }
        crate::ir::build::derivative_by_value(func, value, one).unwrap_or(out)
    }
    fn named(e: &Expr, definitions: &[(String, Expr)]) -> Expr {
        if let Some((name, _)) = definitions.iter().find(|(_, d)| d == e) {
            return Expr::new(Kind::Var(name.clone()), e.shape.clone());
        }
        let mut out = e.clone();
        for c in out.children_mut() {
            *c = named(c, definitions);
        }
        out
    }
    let mut definitions: Vec<(String, Expr)> = Vec::new();
    let mut out = Vec::new();
    for (k, o) in outputs.into_iter().enumerate() {
        let e = named(&derivative(&o.expr), &definitions);
        if k < defined {
            definitions.push((o.name.clone(), o.expr.clone()));
        }
        out.push(Output { name: o.name, expr: e });
    }
    out
}

/// The inputs of the function: every name that is not defined, in the model's order.
fn inputs<'a>(model: &'a Model, wrt: &[String]) -> Vec<(String, &'a crate::read::elaborate::NameInfo)> {
    let sizes = size_names(model, wrt);
    model
        .names
        .iter()
        .filter(|(n, i)| !i.defined && !sizes.iter().any(|(s, _)| s == *n))
        .map(|(n, i)| (n.clone(), i))
        .collect()
}

/// Scalars that are also sizes (`N` in `X: matrix(N, p)` and `1/N`): read from the first
/// argument with that dim rather than passed, so they always agree. Each with its source.
fn size_names(model: &Model, wrt: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (n, info) in &model.names {
        if !info.shape.is_empty() || info.defined || wrt.contains(n) {
            continue;
        }
        let dim = Dim::Sym(n.clone());
        let source = model.names.iter().filter(|(_, i)| !i.defined).find_map(|(m, i)| {
            let dims: Vec<&Dim> = i.shape.iter().filter(|d| **d != Dim::Iota).collect();
            dims.iter().position(|d| **d == dim).map(|k| format!("{}.shape[{k}]", ident(m)))
        });
        if let Some(source) = source {
            out.push((n.clone(), source));
        }
    }
    out
}

/// A dim as the module names it: `n`, `3`, or `d1` for a size nothing names.
fn dim_name(d: &Dim) -> String {
    match d {
        Dim::Var(k) => format!("d{k}"),
        other => other.to_string(),
    }
}

fn kind(info: &crate::read::elaborate::NameInfo) -> String {
    let dims: Vec<String> = info.shape.iter().filter(|d| **d != Dim::Iota).map(dim_name).collect();
    let what = match (dims.len(), info.symmetric) {
        (0, _) => return "scalar".into(),
        (1, _) => "vector",
        (2, true) => "symmetric matrix",
        (2, false) => "matrix",
        _ => "tensor",
    };
    format!("{what} of shape ({})", dims.join(", "))
}

fn module(plan: &Plan, options: &CodegenOptions) -> String {
    let Plan { model, function, lines, value, gradients, shown } = plan;
    let jax = options.target == Target::Jax;
    let code = |l: &str| if jax { to_jax(l) } else { l.to_string() };
    let wrt: Vec<String> = gradients.iter().map(|(n, _)| n.clone()).collect();
    let args = inputs(model, &wrt);
    let params: Vec<String> = args.iter().map(|(n, _)| ident(n)).collect();
    let mut s = String::new();
    let _ = writeln!(s, "\"\"\"Generated by bracket: the value of a function and its gradients.\"\"\"\n");
    if jax {
        let _ = writeln!(
            s,
            "import jax\nimport jax.numpy as jnp\nimport numpy as np\n\njax.config.update(\"jax_enable_x64\", True)\n"
        );
    } else {
        let _ = writeln!(s, "import numpy as np\n");
    }
    for helper in called_helpers(lines) {
        let _ = writeln!(s, "\n{}", code(helper));
    }
    // Declared element-wise functions are the caller's: f(x) and f_prime(x), to be set
    // on the module (`module.f = np.tanh`).
    let declared: Vec<&String> = model.functions.iter().collect();
    for f in &declared {
        // Its derivatives of higher orders where the module calls them (`f_d2`).
        let higher = (2..=9u8).filter(|k| lines.iter().any(|l| l.contains(&format!("{}_d{k}(", ident(f)))));
        let orders: Vec<(String, String)> = [(ident(f), "f".to_string()), (format!("{}_prime", ident(f)), "'".into())]
            .into_iter()
            .chain(higher.map(|k| (format!("{}_d{k}", ident(f)), "'".repeat(usize::from(k)))))
            .collect();
        for (name, what) in orders {
            let what = if what == "f" {
                format!("the element-wise function {f}")
            } else {
                format!("its derivative {f}{what}")
            };
            let _ = writeln!(
                s,
                "\ndef {name}(x):\n    \"\"\"{what}: set it on this module.\"\"\"\n    raise NotImplementedError(\"set {name} on this module\")\n"
            );
        }
    }
    let _ = writeln!(s, "\ndef f_and_grad({}):", params.join(", "));
    let _ = writeln!(s, "    \"\"\"The value of the function and its gradients.\n");
    let _ = writeln!(s, "    Function: {function}");
    let _ = writeln!(s, "\n    Arguments:");
    for (n, info) in &args {
        let _ = writeln!(s, "        {}: {}", ident(n), kind(info));
    }
    for (n, source) in size_names(model, &wrt) {
        let _ = writeln!(s, "        ({} is the size {n}, read from {source})", ident(&n));
    }
    if !model.facts.is_empty() {
        let _ = writeln!(s, "\n    Facts:");
        for (l, r) in &model.facts {
            let _ = writeln!(s, "        {} = {}", render(l, Format::Unicode), render(r, Format::Unicode));
        }
    }
    let mut needs: Vec<String> = Vec::new();
    for e in shown {
        for c in crate::render::conditions::conditions_reading(e, model, Format::Unicode) {
            if !needs.contains(&c) {
                needs.push(c);
            }
        }
    }
    if !needs.is_empty() {
        let _ = writeln!(s, "\n    Conditions: {}", needs.join(", "));
    }
    if !declared.is_empty() {
        let names: Vec<String> = declared.iter().map(|f| format!("{0} and {0}_prime", ident(f))).collect();
        let _ = writeln!(s, "\n    Element-wise functions defined by the caller's module: {}", names.join(", "));
    }
    let keys: Vec<String> = gradients.iter().map(|(n, _)| format!("\"{}\"", ident(n))).collect();
    let _ = writeln!(
        s,
        "\n    Returns:\n        (value, gradients), gradients a dict keyed by {}.\n    \"\"\"",
        keys.join(", ")
    );
    // Shape assertions, each dim's size taken from its first argument.
    let mut sizes: Vec<(Dim, String)> = Vec::new();
    for (n, info) in &args {
        let p = ident(n);
        let dims: Vec<&Dim> = info.shape.iter().filter(|d| **d != Dim::Iota).collect();
        let _ = writeln!(s, "    assert np.ndim({p}) == {}, \"{p} must be a {}\"", dims.len(), kind(info));
        for (k, d) in dims.iter().enumerate() {
            match (d, sizes.iter().find(|(e, _)| e == *d)) {
                (Dim::Int(v), _) => {
                    let _ = writeln!(s, "    assert {p}.shape[{k}] == {v}, \"{p}.shape[{k}] must be {v}\"");
                }
                (_, Some((_, first))) => {
                    let _ = writeln!(
                        s,
                        "    assert {p}.shape[{k}] == {first}, \"{p}.shape[{k}] must equal {first}, the size {}\"",
                        dim_name(d)
                    );
                }
                (_, None) => sizes.push(((*d).clone(), format!("{p}.shape[{k}]"))),
            }
        }
        // A gradient taken with S = Sᵀ is another function's off it. (Not under JAX, whose
        // traced values have no truth value.)
        if info.symmetric && dims.len() == 2 && !jax {
            let _ = writeln!(
                s,
                "    assert np.allclose({p}, {p}.T), \"{p} must be symmetric: it is declared so, and the gradients \
                 take {p} = {p}.T\""
            );
        }
    }
    for (n, source) in size_names(model, &wrt) {
        let _ = writeln!(s, "    {} = {source}", ident(&n));
    }
    for l in lines {
        let _ = writeln!(s, "    {}", code(l));
    }
    let dict: Vec<String> = gradients.iter().map(|(n, v)| format!("\"{}\": {v}", ident(n))).collect();
    let _ = writeln!(s, "    return {value}, {{{}}}", dict.join(", "));
    if options.with_check {
        s.push_str(&checks(model, &args, gradients));
    }
    s
}

/// The dims (rows, columns) of each declared matrix X whose Gram product XᵀX (or XᵀSX)
/// the model inverts or takes the determinant of: XᵀX is invertible only for a tall X.
fn tall_dims(model: &Model) -> Vec<(String, String)> {
    fn gram(e: &Expr, out: &mut Vec<(String, String)>) {
        if let Kind::Inverse(x) | Kind::Det(x) = &e.kind {
            let mut factors = Vec::new();
            crate::ir::symmetry::factors(x, &mut factors);
            if let Some(Kind::Transpose(t)) = factors.first().map(|f| &f.kind) {
                if let (Kind::Var(_), [r, c]) = (&t.kind, t.shape.as_slice()) {
                    out.push((dim_name(r), dim_name(c)));
                }
            }
        }
        for c in e.children() {
            gram(c, out);
        }
    }
    let mut out = Vec::new();
    for e in model.exprs.iter().chain(model.definitions.iter().map(|(_, v)| v)) {
        gram(e, &mut out);
    }
    out
}

fn checks(
    model: &Model,
    args: &[(String, &crate::read::elaborate::NameInfo)],
    gradients: &[(String, String)],
) -> String {
    let one_hot: Vec<&str> = model.rows_summing_to_one().collect();
    let summing: Vec<(&str, &num_rational::BigRational)> = model.vectors_summing_to().collect();
    let spheres: Vec<(&str, num_rational::BigRational)> = model.vectors_of_squared_norm().collect();
    let mut s = String::new();
    let mut dims: Vec<String> = Vec::new();
    for (_, info) in args {
        for d in &info.shape {
            if matches!(d, Dim::Sym(_) | Dim::Var(_)) && !dims.contains(&dim_name(d)) {
                dims.push(dim_name(d));
            }
        }
    }
    let _ = writeln!(s, "\n\ndef generate_random_data(seed=0):");
    let _ = writeln!(
        s,
        "    \"\"\"Random arguments for f_and_grad where the function and its derivatives are finite:\n    positive entries for an even seed, either sign for an odd one; scalars in (0.5, 1.5);\n    symmetric matrices positive definite; one-hot rows where a fact says so. Draws again\n    (at most 20 times) where a value is not finite, as ln(1 − ρ) is for ρ > 1, or a\n    matrix is singular.\"\"\""
    );
    let _ = writeln!(s, "    for attempt in range(20):");
    let _ = writeln!(s, "        data = _draw(np.random.default_rng([seed, attempt]), seed)");
    let _ = writeln!(s, "        if _finite(data) is not None:");
    let _ = writeln!(s, "            break");
    let _ = writeln!(s, "    return data");
    let _ = writeln!(s, "\n\ndef _finite(data):");
    let _ = writeln!(
        s,
        "    \"\"\"The value and the gradients at data, or None where one of them is not finite, or so\n    large (past 1e10) that a matrix inverted was singular to rounding.\"\"\""
    );
    let _ = writeln!(s, "    with np.errstate(all=\"ignore\"):");
    let _ = writeln!(s, "        try:");
    let _ = writeln!(s, "            value, gradients = f_and_grad(**data)");
    let _ = writeln!(s, "        except np.linalg.LinAlgError:");
    let _ = writeln!(s, "            return None");
    let _ = writeln!(s, "    parts = [np.asarray(p, dtype=float) for p in (value, *gradients.values())]");
    let _ = writeln!(s, "    if all(np.all(np.isfinite(p)) and np.all(np.abs(p) < 1e10) for p in parts):");
    let _ = writeln!(s, "        return value, gradients");
    let _ = writeln!(s, "    return None");
    let _ = writeln!(s, "\n\ndef _draw(rng, seed):");
    let _ = writeln!(s, "    low = 0.5 if seed % 2 == 0 else -1.5");
    // Sizes 3 to 5 in the order the dims are declared; where the function inverts a Gram
    // product XᵀX of X: matrix(r, c), r is drawn no smaller than c, so that X is tall.
    let mut base: Vec<usize> = (0..dims.len()).map(|k| 3 + k % 3).collect();
    for (r, c) in tall_dims(model) {
        if let (Some(i), Some(j)) = (dims.iter().position(|d| *d == r), dims.iter().position(|d| *d == c)) {
            if base[i] < base[j] {
                base.swap(i, j);
            }
        }
    }
    let sizes: Vec<String> = dims.iter().zip(&base).map(|(d, b)| format!("\"{d}\": {b}")).collect();
    let _ = writeln!(s, "    size = {{{}}}", sizes.join(", "));
    let _ = writeln!(s, "    data = {{}}");
    for (n, info) in args {
        let p = ident(n);
        let shape: Vec<String> = info
            .shape
            .iter()
            .filter(|d| **d != Dim::Iota)
            .map(|d| match d {
                Dim::Sym(_) | Dim::Var(_) => format!("size[\"{}\"]", dim_name(d)),
                other => other.to_string(),
            })
            .collect();
        let tuple = if shape.len() == 1 { format!("({},)", shape[0]) } else { format!("({})", shape.join(", ")) };
        if shape.is_empty() {
            let _ = writeln!(s, "    data[\"{p}\"] = float(rng.uniform(0.5, 1.5))");
        } else if let Some((_, c)) = summing.iter().find(|(v, _)| *v == n.as_str()).filter(|_| shape.len() == 1) {
            // Positive entries scaled to the stated sum.
            let scale = if num_traits::One::is_one(*c) {
                String::new()
            } else {
                format!("{} * ", crate::render::render_numpy(&Expr::new(Kind::Const((*c).clone()), vec![]), model))
            };
            let _ = writeln!(s, "    v = rng.uniform(0.5, 1.5, size={tuple})");
            let _ = writeln!(s, "    data[\"{p}\"] = {scale}v / v.sum()");
        } else if let Some((_, c)) = spheres.iter().find(|(v, _)| *v == n.as_str()).filter(|_| shape.len() == 1) {
            // On the sphere the fact states (`xᵀx = c`): the gradient used it.
            let c = crate::render::render_numpy(&Expr::new(Kind::Const(c.clone()), vec![]), model);
            let _ = writeln!(s, "    v = rng.uniform(low, 1.5, size={tuple})");
            let _ = writeln!(s, "    data[\"{p}\"] = np.sqrt({c}) * v / np.linalg.norm(v)");
        } else if one_hot.contains(&n.as_str()) && shape.len() == 2 {
            let _ = writeln!(
                s,
                "    data[\"{p}\"] = np.eye({})[rng.integers(0, {}, size={})]",
                shape[1], shape[1], shape[0]
            );
        } else if info.symmetric && shape.len() == 2 {
            let _ = writeln!(s, "    m = rng.standard_normal({tuple})");
            let _ = writeln!(s, "    data[\"{p}\"] = m @ m.T / {} + np.eye({})", shape[0], shape[0]);
        } else {
            let _ = writeln!(s, "    data[\"{p}\"] = rng.uniform(low, 1.5, size={tuple})");
        }
    }
    let _ = writeln!(s, "    return data");
    let symmetric: Vec<String> =
        args.iter().filter(|(_, i)| i.symmetric).map(|(n, _)| format!("\"{}\"", ident(n))).collect();
    let names = if symmetric.is_empty() { String::new() } else { symmetric.join(", ") + "," };
    // A vector on a sphere moves along it (to first order), where its fact still holds.
    let on_spheres: Vec<String> = spheres.iter().map(|(n, _)| format!("\"{}\"", ident(n))).collect();
    let on_spheres = if on_spheres.is_empty() { String::new() } else { on_spheres.join(", ") + "," };
    let _ = write!(
        s,
        r#"

def check_gradient(seed=0, tolerance=1e-6):
    """Compares each gradient with five-point central differences along a random direction,
    at two random points, one with positive entries and one of either sign; raises
    AssertionError on a failure. The error is relative to the derivative's size, or to
    1e-3 of the function's where the derivative is far smaller (a saturated network), so
    that a small gradient that is wrong fails too."""
    checked = 0
    for first in (seed, seed + 1):
        # Seeds of one parity draw values of one sign (see generate_random_data).
        for attempt in range(0, 8, 2):
            data = generate_random_data(first + attempt)
            at = _finite(data)
            if at is not None:
                _check_at(data, at, np.random.default_rng(first + 1000), tolerance)
                checked += 1
                break
    if checked == 0:
        raise AssertionError("no random point where the function is defined")
    return True


def _check_at(data, at, rng, tolerance):
    value, gradients = at
    floor = 1e-3 * max(1.0, float(np.max(np.abs(value))))
    for name, gradient in gradients.items():
        x = np.asarray(data[name], dtype=float)
        direction = rng.standard_normal(x.shape)
        if name in ({names}):
            direction = (direction + direction.T) / 2
        if name in ({on_spheres}):
            direction = direction - (direction @ x) / (x @ x) * x
        h = 1e-4 * max(1.0, float(np.max(np.abs(x))))

        def at(t, name=name, x=x, direction=direction):
            moved = dict(data)
            moved[name] = x + t * direction
            return np.asarray(f_and_grad(**moved)[0], dtype=float)

        numeric = (at(-2 * h) - at(2 * h) + 8 * (at(h) - at(-h))) / (12 * h)
        # A Jacobian (the function's dims, then the variable's) contracts with the direction.
        analytic = np.tensordot(np.asarray(gradient, dtype=float), direction, axes=direction.ndim)
        error = float(np.max(np.abs(numeric - analytic)))
        scale = max(floor, float(np.max(np.abs(numeric))), float(np.max(np.abs(analytic))))
        if error > tolerance * scale:
            raise AssertionError(f"derivative by {{name}}: off by {{error}} from finite differences")
"#
    );
    let _ = writeln!(s, "\n\nif __name__ == \"__main__\":");
    let _ = writeln!(s, "    check_gradient()");
    let _ = writeln!(s, "    print(\"all {} derivatives agree with finite differences\")", gradients.len());
    s
}
