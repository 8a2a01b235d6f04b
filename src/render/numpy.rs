//! The NumPy printer: an expression as NumPy code, vectors as 1-D arrays.

use super::*;

/// Renders an expression as a NumPy expression. Vectors are 1-D arrays; a row vector
/// `xᵀ` is the same 1-D array; sizes of `1` and `I` come from the model's names.
/// Declared element-wise functions `f` are called as `f(x)`, their derivatives as
/// `f_prime(x)`.
pub fn render_numpy(e: &Expr, model: &Model) -> String {
    Numpy::of(model, false).go(&super::python::vector_chains_inward(e))
}

/// [`render_numpy`] of a whole result: where its shape has `ι` dims (a row vector `wᵀ`,
/// `M_1 ι M_2`), the array gets those size-one axes back (`np.expand_dims`), so that its
/// NumPy shape is the result's. Inside an expression a row vector stays a 1-D array,
/// which `@` treats as a row.
pub fn render_numpy_whole(e: &Expr, model: &Model) -> String {
    let text = render_numpy(e, model);
    let axes: Vec<String> = e
        .shape
        .iter()
        .enumerate()
        .filter(|(_, d)| matches!(d, crate::ir::shape::Dim::Iota))
        .map(|(k, _)| k.to_string())
        .collect();
    match axes.len() {
        0 => text,
        1 => format!("np.expand_dims({text}, {})", axes[0]),
        _ => format!("np.expand_dims({text}, ({}))", axes.join(", ")),
    }
}

/// [`render_numpy`] for a generated module, which defines `softmax(a, axis)` (stable,
/// the maximum subtracted) and calls it rather than repeating its argument.
pub fn render_numpy_in_module(e: &Expr, model: &Model) -> String {
    Numpy::of(model, true).go(&super::python::vector_chains_inward(e))
}

/// A Python identifier for a name: `W_1` stays, `Z_{L-1}` becomes `Z_L_1`, and a Greek
/// letter is the word it is typed as (`Σ` is `Sigma`, `μ0` is `mu0`), so that a module's
/// arguments and gradient keys are what the user wrote; `λ` is `lambda_`, since
/// `lambda` is a Python keyword.
pub fn py_name(name: &str) -> String {
    // A backpropagation seed `∇_{h}J` becomes `grad_h_J`.
    let name = name.replacen('∇', "grad", 1);
    let mut out = String::new();
    for c in name.chars() {
        if let Some(word) = crate::read::parse::greek_word(c) {
            out.push_str(word);
        } else if c.is_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('_') && c != '}' {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    // A keyword, or a name the generated code takes, its modules and the function's value,
    // which would hide or overwrite the caller's (survey 23). (Its temporaries `t_0`, …
    // pass over the caller's names instead.)
    if PYTHON_KEYWORDS.contains(&out.as_str()) || GENERATED.contains(&out.as_str()) {
        format!("{out}_")
    } else {
        out
    }
}

/// Names the generated code uses for itself.
const GENERATED: [&str; 4] = ["np", "jnp", "jax", "value"];

/// Python's keywords that a name can spell.
const PYTHON_KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

struct Numpy {
    /// Each dim's size, read from the first name with it (`X.shape[0]`).
    sizes: IndexMap<Dim, String>,
    /// In a module, which assigns each size it reads to its name (`N = X.shape[0]`):
    /// the model's names, which print as themselves.
    named: indexmap::IndexSet<String>,
    /// Call the module's `softmax` helper.
    helpers: bool,
    /// The model's definitions: a name defined as σ(z) has ln(σ(z))'s stable form.
    definitions: Vec<(String, Expr)>,
}

#[derive(PartialEq)]
enum Layout {
    Scalar,
    Col,
    Row,
    Mat,
    Other,
}

/// The vector v of `diag(v)`, or of `diag(v)⁻¹` (then `true`): a diagonal matrix, which
/// the generated code never builds as an array where it multiplies (see `go`).
pub(crate) fn diagonal_of(e: &Expr) -> Option<(&Expr, bool)> {
    match &e.kind {
        Kind::Diag(v) if v.shape.len() == 1 => Some((v, false)),
        Kind::Inverse(d) => diagonal_of(d).filter(|(_, inverse)| !inverse).map(|(v, _)| (v, true)),
        _ => None,
    }
}

/// `λdiag(v)` as λ and `diag(v)` (or a diagonal's inverse).
fn scaled_diagonal(e: &Expr) -> Option<(Expr, Expr)> {
    match &e.kind {
        Kind::Product(s, d) if s.is_scalar() && diagonal_of(d).is_some() => Some(((**s).clone(), (**d).clone())),
        Kind::Scale(c, d) if diagonal_of(d).is_some() => {
            Some((Expr::new(Kind::Const(c.clone()), vec![]), (**d).clone()))
        }
        _ => None,
    }
}

fn layout(e: &Expr) -> Layout {
    match e.shape.as_slice() {
        [] => Layout::Scalar,
        [Dim::Iota] => Layout::Scalar,
        [_] => Layout::Col,
        [Dim::Iota, _] => Layout::Row,
        [_, _] => Layout::Mat,
        _ => Layout::Other,
    }
}

impl Numpy {
    /// The printer for `model`'s names: each dim's size read from the first name with it.
    fn of(model: &Model, helpers: bool) -> Numpy {
        let mut sizes: IndexMap<Dim, String> = IndexMap::new();
        for (name, info) in &model.names {
            for (k, d) in info.shape.iter().filter(|d| **d != Dim::Iota).enumerate() {
                sizes.entry(d.clone()).or_insert_with(|| format!("{}.shape[{k}]", py_name(name)));
            }
        }
        let named = if helpers { model.names.keys().cloned().collect() } else { Default::default() };
        Numpy { sizes, named, helpers, definitions: model.definitions.clone() }
    }

    fn size(&self, d: &Dim) -> String {
        match d {
            Dim::Int(n) => n.to_string(),
            Dim::Iota => "1".into(),
            Dim::Sym(s) => self.sizes.get(d).cloned().unwrap_or_else(|| py_name(s)),
            Dim::Var(k) => self.sizes.get(d).cloned().unwrap_or_else(|| format!("n{k}")),
        }
    }

    fn dims(&self, shape: &[Dim]) -> String {
        let parts: Vec<String> = shape.iter().filter(|d| **d != Dim::Iota).map(|d| self.size(d)).collect();
        tuple(&parts)
    }

    fn go(&self, e: &Expr) -> String {
        let g = |x: &Expr| self.go(x);
        // ln(1 + exp(z)), ln(σ(z)), ln(1 − σ(z)) as log-add-exp, as the module `codegen`
        // writes computes them: finite where exp(z) overflows.
        if let Some((call, z)) = super::python::stable(e, &self.definitions).filter(|(c, _)| c.contains("np.")) {
            return format!("({})", call.replace("{}", &g(z)));
        }
        match &e.kind {
            // A size read as a scalar (`N/2 ln|S|`, `mean`'s 1/N) is the size of the first
            // tensor with that dim, as `codegen` computes it (`N = X.shape[0]`): the
            // expression reads no variable `N` (a module does, having assigned it).
            Kind::Var(n)
                if e.is_scalar() && !self.named.contains(n) && self.sizes.contains_key(&Dim::Sym(n.clone())) =>
            {
                self.size(&Dim::Sym(n.clone()))
            }
            Kind::Var(n) => py_name(n),
            Kind::Diff(n) => format!("d{}", py_name(n)),
            Kind::DiffOf(x) => format!("d({})", g(x)),
            Kind::Const(c) => {
                if c.is_integer() {
                    c.to_integer().to_string()
                } else {
                    format!("({}/{})", c.numer(), c.denom())
                }
            }
            Kind::Ones => format!("np.ones({})", self.dims(&e.shape)),
            Kind::Identity => format!("np.eye({})", self.size(&e.shape[0])),
            Kind::Add(terms) => {
                // A vector spread over rows or columns (`1bᵀ` in `XW + 1bᵀ`) is added by
                // broadcasting, `+ b`, not as an outer product with ones, where another
                // term gives the sum its shape; so is a ones tensor's scalar (`1 − H ⊙ H`
                // is `1 - H * H`, not `np.ones((N, h)) - H * H`).
                let spreads: Vec<Option<Broadcast>> =
                    terms.iter().map(|t| broadcast(&if is_negative(t) { negate(t) } else { t.clone() })).collect();
                let shaped = spreads.iter().any(Option::is_none);
                let mut out = String::new();
                for (k, (t, spread)) in terms.iter().zip(spreads).enumerate() {
                    let negative = is_negative(t);
                    let text = match spread.filter(|_| shaped) {
                        Some(Broadcast::Rows(v) | Broadcast::Scalar(v)) => g(&v),
                        Some(Broadcast::Columns(v)) => format!("{}[:, None]", self.atom(&v)),
                        None if negative => g(&negate(t)),
                        None => g(t),
                    };
                    match (k, negative) {
                        (0, false) => out.push_str(&text),
                        (0, true) => out.push_str(&format!("-{text}")),
                        (_, false) => out.push_str(&format!(" + {text}")),
                        (_, true) => out.push_str(&format!(" - {text}")),
                    }
                }
                format!("({out})")
            }
            Kind::Scale(c, _) if c.is_zero() && !e.is_scalar() => format!("np.zeros({})", self.dims(&e.shape)),
            Kind::Scale(c, x) if (-c).is_one() => format!("(-{})", g(x)),
            Kind::Scale(c, x) => {
                let c = Expr::new(Kind::Const(c.clone()), vec![]);
                format!("({} * {})", g(&c), g(x))
            }
            Kind::Product(a, b) => {
                let (la, lb) = (layout(a), layout(b));
                // A diagonal matrix scales rows or columns: never an n×n array (`Xᵀdiag(r)X`
                // over N samples), nor an O(n³) inverse.
                let diagonal = |x: &Expr| diagonal_of(x).map(|(v, inverse)| (g(v), inverse));
                let op = |inverse: bool| if inverse { "/" } else { "*" };
                if let (Some((v, inverse)), Layout::Mat | Layout::Col) = (diagonal(a), &lb) {
                    let v = if lb == Layout::Mat { format!("{v}[:, None]") } else { v };
                    return format!("({} {} {v})", g(b), op(inverse));
                }
                if let (Some((v, inverse)), Layout::Mat | Layout::Row) = (diagonal(b), &la) {
                    return format!("({} {} {v})", g(a), op(inverse));
                }
                // A multiple of a diagonal, `λdiag(v)W` (a group lasso's), scales as the
                // diagonal does, then by λ.
                let product = crate::ir::build::product;
                if let (Some((s, d)), Layout::Mat | Layout::Col) = (scaled_diagonal(a), &lb) {
                    return g(&product(s, product(d, (**b).clone())));
                }
                if let (Some((s, d)), Layout::Mat | Layout::Row) = (scaled_diagonal(b), &la) {
                    return g(&product(s, product((**a).clone(), d)));
                }
                // Sums as sums, not products with an array of ones: `1ᵀx`, `1ᵀA`, `A1`.
                let ones_row = matches!(&a.kind, Kind::Transpose(o) if o.kind == Kind::Ones && o.order() == 1);
                match (ones_row, &lb) {
                    (true, Layout::Col) => return format!("np.sum({})", g(b)),
                    (true, Layout::Mat) => return format!("np.sum({}, axis=0)", g(b)),
                    _ => {}
                }
                if b.kind == Kind::Ones && b.order() == 1 && la == Layout::Mat {
                    return match &a.kind {
                        Kind::Transpose(m) => format!("np.sum({}, axis=0)", g(m)),
                        _ => format!("np.sum({}, axis=1)", g(a)),
                    };
                }
                // A scalar factor of an operand multiplies the product once: `(1/2) * (t @ y)`,
                // not `((1/2) * t) @ y`, a multiply for each entry of t.
                if la != Layout::Scalar && lb != Layout::Scalar {
                    let scaled = match (scalar_factor(a), scalar_factor(b)) {
                        (Some((s, x)), _) => Some((s, product(x.clone(), (**b).clone()))),
                        (None, Some((s, y))) => Some((s, product((**a).clone(), y.clone()))),
                        (None, None) => None,
                    };
                    if let Some((s, rest)) = scaled {
                        return format!("({} * {})", g(s), g(&rest));
                    }
                }
                if la == Layout::Scalar || lb == Layout::Scalar {
                    format!("({} * {})", g(a), g(b))
                } else if la == Layout::Col && lb == Layout::Row {
                    format!("np.outer({}, {})", g(a), g(b))
                } else {
                    format!("({} @ {})", g(a), g(b))
                }
            }
            Kind::DivScalar(a, b) => format!("({} / {})", g(a), g(b)),
            Kind::Transpose(x) => match layout(x) {
                Layout::Mat => format!("{}.T", self.atom(x)),
                _ => g(x),
            },
            Kind::Inverse(x) => {
                if let Some((v, true)) = diagonal_of(e) {
                    format!("np.diag(1 / {})", g(v))
                } else if x.is_scalar() {
                    format!("(1 / {})", g(x))
                } else {
                    format!("np.linalg.inv({})", g(x))
                }
            }
            Kind::Power(x, k) => {
                // An even power of a norm without its root: `‖y‖²` is `np.sum(y ** 2)`
                // (the root squared back costs a sqrt and rounds).
                let two = num_rational::BigRational::from_integer(2.into());
                if let (Kind::Norm(y), true) = (&x.kind, (k / &two).is_integer() && k.is_positive()) {
                    let half = k / &two;
                    let sum = format!("np.sum({} ** 2)", g(y));
                    return if half.is_one() { sum } else { format!("({sum} ** {})", py_rational(&half)) };
                }
                if x.is_scalar() {
                    format!("({} ** {})", g(x), py_rational(k))
                } else {
                    format!("np.linalg.matrix_power({}, {})", g(x), k)
                }
            }
            Kind::HPower(x, p) => format!("({} ** {})", g(x), py_rational(p)),
            Kind::Hadamard(a, b) => format!("({} * {})", g(a), g(b)),
            Kind::HDiv(a, b) => format!("({} / {})", g(a), g(b)),
            Kind::Kron(a, b) => format!("np.multiply.outer({}, {})", g(a), g(b)),
            // A scalar factor of an operand multiplies the sum once, not every entry:
            // `(1/(2N)) * np.sum(r * r)`.
            Kind::Dot(a, b) => {
                let scaled = match (scalar_factor(a), scalar_factor(b)) {
                    (Some((s, a)), _) => Some((s, a, &**b)),
                    (None, Some((s, b))) => Some((s, &**a, b)),
                    (None, None) => None,
                };
                match scaled {
                    Some((s, a, b)) => format!("({} * np.sum({} * {}))", g(s), g(a), g(b)),
                    None => format!("np.sum({} * {})", g(a), g(b)),
                }
            }
            Kind::Gen { .. } => {
                let net = crate::network::gen_network(e).expect("a generalized product");
                self.einsum(&net)
            }
            // tr(AB) as the sum of A ⊙ Bᵀ: n² multiplications, where the product is n³.
            Kind::Trace(x) => match &x.kind {
                Kind::Product(a, b) if a.order() == 2 && b.order() == 2 => {
                    let bt = match &b.kind {
                        Kind::Transpose(c) => (**c).clone(),
                        _ => crate::ir::build::transpose((**b).clone()),
                    };
                    format!("np.sum({} * {})", g(a), g(&bt))
                }
                _ => format!("np.trace({})", g(x)),
            },
            Kind::Det(x) => format!("np.linalg.det({})", g(x)),
            Kind::Diag(x) => format!("np.diag({})", g(x)),
            Kind::Sum(x) => format!("np.sum({})", g(x)),
            Kind::Norm(x) => format!("np.sqrt(np.sum({} ** 2))", g(x)),
            // ln|X| from the sign and log of |det X|: det itself over- or underflows for
            // matrices of a few hundred rows. ln of the sign keeps ln's meaning (nan for
            // a negative determinant, −inf for a singular one). slogdet is called twice:
            // an expression has no name to hold its pair (ruff rejects a called lambda).
            Kind::Func { func, derivative, arg } => match (func, derivative, &arg.kind) {
                // ln(softmax(a)) as a − logsumexp(a): finite where a softmax entry underflows.
                (Func::Ln, 0, Kind::Softmax { positions, arg }) => self.softmax(positions, arg, true),
                (Func::Ln, 0, Kind::Det(x)) => {
                    let x = g(x);
                    format!("(np.log(np.linalg.slogdet({x})[0]) + np.linalg.slogdet({x})[1])")
                }
                // ln|det X| is slogdet's second half alone.
                (Func::Ln, 0, Kind::Func { func: Func::Abs, derivative: 0, arg: inner })
                    if matches!(inner.kind, Kind::Det(_)) =>
                {
                    let Kind::Det(x) = &inner.kind else { unreachable!() };
                    format!("np.linalg.slogdet({})[1]", g(x))
                }
                // σ(−x) = exp(−ln(1 + eˣ)): no double negation for ruff to flag (B002).
                (Func::Sigmoid, 0, Kind::Scale(c, x)) if *c == -BigRational::one() => {
                    format!("np.exp(-np.logaddexp(0, {}))", g(x))
                }
                _ => self.func(func, *derivative, &g(arg)),
            },
            Kind::Softmax { positions, arg } => self.softmax(positions, arg, false),
            Kind::Permute(x, perm) => {
                let kept: Vec<usize> = (0..x.order()).filter(|k| x.shape[*k] != Dim::Iota).collect();
                let perm: Vec<String> = perm
                    .iter()
                    .filter(|&&k| x.shape[k] != Dim::Iota)
                    .map(|&k| kept.iter().position(|&y| y == k).unwrap_or(0).to_string())
                    .collect();
                format!("np.transpose({}, {})", g(x), tuple(&perm))
            }
            Kind::Network(net) => self.einsum(net),
        }
    }

    fn atom(&self, e: &Expr) -> String {
        let s = self.go(e);
        if s.chars().all(|c| c.is_alphanumeric() || c == '_') {
            s
        } else {
            format!("({s})")
        }
    }

    /// `softmax(arg)` over all but `positions`, or with `log` its logarithm, the maximum
    /// subtracted first so that exp cannot overflow (nor, for the logarithm, underflow to
    /// ln 0).
    fn softmax(&self, positions: &[usize], arg: &Expr, log: bool) -> String {
        let a = self.go(arg);
        let kept: Vec<usize> = (0..arg.order()).filter(|k| arg.shape[*k] != Dim::Iota).collect();
        let axis_of = |k: usize| kept.iter().position(|&x| x == k).unwrap_or(0);
        let axes: Vec<String> = (0..arg.order())
            .filter(|k| !positions.contains(&(k + 1)) && arg.shape[*k] != Dim::Iota)
            .map(|k| axis_of(k).to_string())
            .collect();
        let axes = tuple(&axes);
        let t = match (self.helpers, log) {
            (true, false) => format!("softmax({a}, axis={axes})"),
            (true, true) => format!("log_softmax({a}, axis={axes})"),
            (false, false) => format!(
                "(lambda t: t / np.sum(t, axis={axes}, keepdims=True))(np.exp({a} - np.max({a}, axis={axes}, keepdims=True)))"
            ),
            (false, true) => format!(
                "(lambda t: t - np.log(np.sum(np.exp(t), axis={axes}, keepdims=True)))({a} - np.max({a}, axis={axes}, keepdims=True))"
            ),
        };
        let mut perm: Vec<usize> = positions.iter().map(|p| p - 1).collect();
        perm.extend((0..arg.order()).filter(|k| !positions.contains(&(k + 1))));
        let perm: Vec<String> =
            perm.iter().filter(|&&k| arg.shape[k] != Dim::Iota).map(|&k| axis_of(k).to_string()).collect();
        if perm.windows(2).all(|w| w[0] < w[1]) {
            t
        } else {
            format!("np.transpose({t}, {})", tuple(&perm))
        }
    }

    fn func(&self, f: &Func, d: u8, a: &str) -> String {
        // σ(a) = exp(−ln(1 + e⁻ᵃ)), by logaddexp: 1/(1 + e⁻ᵃ) is as exact, but e⁻ᵃ
        // overflows for a below −709 and NumPy warns of it.
        let sig = format!("np.exp(-np.logaddexp(0, -({a})))");
        // σ(−a), so that σ' = σ(a)σ(−a) keeps its digits where 1 − σ(a) would round to 0.
        let mirror = format!("np.exp(-np.logaddexp(0, {a}))");
        match (f, d) {
            (Func::Exp, _) => format!("np.exp({a})"),
            (Func::Ln, 0) => format!("np.log({a})"),
            (Func::Ln, 1) => format!("(1 / ({a}))"),
            (Func::Tanh, 0) => format!("np.tanh({a})"),
            (Func::Tanh, 1) => format!("(1 - np.tanh({a}) ** 2)"),
            (Func::Sigmoid, 0) => sig,
            (Func::Sigmoid, 1) => format!("({sig} * {mirror})"),
            (Func::Sqrt, 0) => format!("np.sqrt({a})"),
            (Func::Sqrt, 1) => format!("(0.5 / np.sqrt({a}))"),
            (Func::Sin, 0) => format!("np.sin({a})"),
            (Func::Sin, 1) => format!("np.cos({a})"),
            (Func::Cos, 0) => format!("np.cos({a})"),
            (Func::Cos, 1) => format!("(-np.sin({a}))"),
            (Func::Abs, 0) => format!("np.abs({a})"),
            (Func::Abs, 1) => format!("np.sign({a})"),
            (Func::Relu, 0) => format!("np.maximum({a}, 0)"),
            (Func::Relu, 1) => format!("np.heaviside({a}, 0)"),
            (Func::Sign, 0) => format!("np.sign({a})"),
            (Func::Ln, 2) => format!("(-1 / ({a}) ** 2)"),
            (Func::Tanh, 2) => format!("(-2 * np.tanh({a}) * (1 - np.tanh({a}) ** 2))"),
            (Func::Sigmoid, 2) => format!("({sig} * {mirror} * ({mirror} - {sig}))"),
            (Func::Sqrt, 2) => format!("(-0.25 / (({a}) * np.sqrt({a})))"),
            (Func::Sin | Func::Cos, k) => {
                let shift = if matches!(f, Func::Cos) { 1 } else { 0 };
                ["np.sin", "np.cos", "-np.sin", "-np.cos"][(k as usize + shift) % 4].to_string() + &format!("({a})")
            }
            (Func::Abs | Func::Relu | Func::Sign, _) => format!("(0 * ({a}))"),
            (Func::Declared(n), 0) => format!("{}({a})", py_name(n)),
            (Func::Declared(n), 1) => format!("{}_prime({a})", py_name(n)),
            (Func::Declared(n), k) => format!("{}_d{k}({a})", py_name(n)),
            // (−1)^{k−1}(k − 1)!/a^k.
            (Func::Ln, k) => {
                let factorial: u64 = (1..u64::from(k)).product();
                let sign = if k % 2 == 0 { "-" } else { "" };
                format!("({sign}{factorial} / ({a}) ** {k})")
            }
            // (1/2)(1/2 − 1)⋯(1/2 − k + 1) a^{1/2 − k}.
            (Func::Sqrt, k) => {
                let c: f64 = (0..i32::from(k)).map(|j| 0.5 - f64::from(j)).product();
                format!("({c:?} * np.sqrt({a}) / ({a}) ** {k})")
            }
            // A polynomial in the value (`Func::derivative_in_value`), by Horner's rule.
            (Func::Tanh | Func::Sigmoid, k) => {
                let value = if *f == Func::Tanh { format!("np.tanh({a})") } else { sig };
                let q = f.derivative_in_value(k).unwrap_or_default();
                let terms: Vec<String> = q
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c != 0.0)
                    .map(|(j, c)| match j {
                        0 => format!("{c:?}"),
                        1 => format!("{c:?} * v"),
                        j => format!("{c:?} * v ** {j}"),
                    })
                    .collect();
                format!("(lambda v: {})({value})", terms.join(" + ").replace("+ -", "- "))
            }
        }
    }

    fn einsum(&self, net: &Network) -> String {
        // An index no factor carries (the free index of a ones vector, `X 11ᵀ`, or a
        // summed one that counts its size) is carried by a ones vector of its own: einsum
        // rejects an output index that no operand has, and drops a summed one.
        let mut net = net.clone();
        for i in 0..net.indices.len() {
            let carried = net.factors.iter().any(|f| f.slots.contains(&i));
            if !carried && net.indices[i] != Dim::Iota {
                let d = net.indices[i].clone();
                let ones = Expr::new(Kind::Ones, vec![d]);
                net.factors.push(crate::ir::expr::Factor { expr: ones, slots: vec![i] });
            }
        }
        let net = &net;
        let spec = bracket::einsum_spec(net, true);
        let args: Vec<String> = net.factors.iter().map(|f| self.go(&f.expr)).collect();
        if args.is_empty() {
            // Nothing but dims of size one (`ι`): a product of no factors.
            return "np.ones(())".into();
        }
        format!("np.einsum('{spec}', {})", args.join(", "))
    }
}

/// A Python tuple of `parts`: `()`, `(a,)` or `(a, b)`.
fn tuple(parts: &[String]) -> String {
    match parts {
        [one] => format!("({one},)"),
        _ => format!("({})", parts.join(", ")),
    }
}

fn py_rational(k: &BigRational) -> String {
    if k.is_integer() {
        k.to_string()
    } else {
        format!("({}/{})", k.numer(), k.denom())
    }
}

/// `(v, true)` for `1vᵀ` (v in every row) and `(v, false)` for `v1ᵀ` (v in every column),
/// v a vector.
pub(crate) fn spread_vector(e: &Expr) -> Option<(&Expr, bool)> {
    let Kind::Product(a, b) = &e.kind else { return None };
    let Kind::Transpose(row) = &b.kind else { return None };
    let ones = |x: &Expr| x.kind == Kind::Ones && x.order() == 1;
    match (ones(a), ones(row)) {
        (true, false) if row.order() == 1 => Some((row, true)),
        (false, true) if a.order() == 1 => Some((a, false)),
        _ => None,
    }
}

/// How a term of a sum is added by broadcasting where another term gives the sum its
/// shape.
enum Broadcast {
    /// `1vᵀ`: v in every row, added as v.
    Rows(Expr),
    /// `v1ᵀ`: v in every column, added as `v[:, None]`.
    Columns(Expr),
    /// A ones tensor filled with a scalar (`1`, `c1`, `s1`), added as the scalar.
    Scalar(Expr),
}

/// How `e` broadcasts, if it is a spread vector or a filled ones tensor.
fn broadcast(e: &Expr) -> Option<Broadcast> {
    let ones = |x: &Expr| x.kind == Kind::Ones && x.order() >= 1;
    let filled = match &e.kind {
        _ if ones(e) => Some(Expr::new(Kind::Const(BigRational::one()), vec![])),
        Kind::Scale(c, x) if ones(x) => Some(Expr::new(Kind::Const(c.clone()), vec![])),
        Kind::Product(a, b) if a.is_scalar() && ones(b) => Some((**a).clone()),
        Kind::Product(a, b) if b.is_scalar() && ones(a) => Some((**b).clone()),
        _ => None,
    };
    filled.map(Broadcast::Scalar).or_else(|| {
        spread_vector(e).map(|(v, rows)| if rows { Broadcast::Rows(v.clone()) } else { Broadcast::Columns(v.clone()) })
    })
}

/// `(s, x)` for a tensor `x` times a scalar `s` (`s x`, `x s`).
fn scalar_factor(e: &Expr) -> Option<(&Expr, &Expr)> {
    match &e.kind {
        Kind::Product(a, b) if a.is_scalar() && !b.is_scalar() => Some((a, b)),
        Kind::Product(a, b) if b.is_scalar() && !a.is_scalar() => Some((b, a)),
        _ => None,
    }
}
