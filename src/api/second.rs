//! Second derivatives at the front door: `hessian` (every block by pairs of variables)
//! and `hvp` (the Hessian along a direction), each with the gradient it comes from so
//! that a check covers both steps.

use crate::api::{variable, Answer};
use crate::calculus::hessian::{hessian_block, hvp as hvp_of, Second};
use crate::error::{Error, ErrorCode, Result, Span};
use crate::eval::check::{check_derivative, Check};
use crate::ir::expr::{Expr, Kind};
use crate::ir::shape::show_shape;
use crate::read::elaborate::NameInfo;

/// A second derivative of a scalar function.
#[derive(Clone, Debug)]
pub struct SecondDerivative {
    /// The function.
    pub function: Expr,
    /// The first variable (the gradient's).
    pub wrt: String,
    /// What the gradient is differentiated by: a second variable (a Hessian block), or
    /// along a direction (a Hessian-vector product).
    pub by: By,
    /// The gradient by `wrt`, in its simplest form.
    pub gradient: Answer,
    /// The Hessian block (the gradient's dims, then the second variable's), or the
    /// Hessian-vector product (the variable's shape).
    pub answer: Answer,
}

/// The second differentiation of a [`SecondDerivative`].
#[derive(Clone, Debug, PartialEq)]
pub enum By {
    /// By this variable: the block `∂²f/∂X∂Y`.
    Variable(String),
    /// Along this direction, a name of the variable's shape: `∇²f[V]`.
    Direction(String),
}

impl SecondDerivative {
    /// Checks the gradient against finite differences of the function, and the second
    /// derivative against finite differences of the gradient (a Hessian-vector product
    /// as the gradient of `∇f · V`, which is `∇²f[V]` for a symmetric Hessian); the
    /// worse of the two.
    pub fn check(&self, points: u64) -> Check {
        let model = &self.answer.model;
        let not_possible = |e: Error| Check::not_possible(e.message);
        let first = check_derivative(model, &self.function, &self.wrt, &self.gradient.expr, points)
            .unwrap_or_else(not_possible);
        let g = &self.gradient.expr;
        let second = match &self.by {
            By::Variable(y) => check_derivative(model, g, y, &self.answer.expr, points),
            By::Direction(v) => {
                let v = Expr::new(Kind::Var(v.clone()), model.names[v].shape.clone());
                let along = Expr::new(Kind::Dot(Box::new(g.clone()), Box::new(v)), vec![]);
                check_derivative(model, &along, &self.wrt, &self.answer.expr, points)
            }
        }
        .unwrap_or_else(not_possible);
        first.worst(second)
    }

    /// The block's or product's name: `∇²_x`, `∇_y∇_x`, `∇²_x[V]`.
    pub fn label(&self) -> String {
        match &self.by {
            By::Variable(y) if *y == self.wrt => format!("∇²_{}", self.wrt),
            By::Variable(y) => format!("∇_{}∇_{}", y, self.wrt),
            By::Direction(v) => format!("∇²_{}[{v}]", self.wrt),
        }
    }
}

/// The scalar function of `text`, read with `words` as whole names.
fn scalar_function(text: &str, words: &[String]) -> Result<Answer> {
    // A program's function is its query's (`J = …; grad J wrt W`).
    let model = crate::api::read_program(text, words)?;
    let f = match (model.main_expr(), model.queries.first()) {
        (None, Some(q)) => Answer { expr: q.expr.clone(), model, saturation: None },
        _ => crate::api::read_scalar_answer(text, words)?,
    };
    crate::api::scalar_for(&f, text, words, "a Hessian")?;
    Ok(f)
}

/// The Hessian of the scalar function of `text`: for each pair of variables of `wrt`,
/// the block `∂²f/∂X∂Y`, the Jacobian by Y of the gradient by X.
///
/// ```
/// let h = bracket::hessian("x^T A x", &["x"]).unwrap();
/// assert_eq!(h[0].answer.render(bracket::Format::Unicode), "A + Aᵀ");
/// ```
pub fn hessian<S: AsRef<str>>(text: &str, wrt: &[S]) -> Result<Vec<SecondDerivative>> {
    hessian_with(text, wrt, &crate::egraph::Options::default())
}

/// [`hessian`] with e-graph limits and, optionally, sizes for a FLOP cost.
pub fn hessian_with<S: AsRef<str>>(
    text: &str,
    wrt: &[S],
    options: &crate::egraph::Options,
) -> Result<Vec<SecondDerivative>> {
    let mut words: Vec<String> = wrt.iter().map(|w| w.as_ref().to_string()).collect();
    let f = scalar_function(text, &words)?;
    // With no variable named, a program's query names them.
    if words.is_empty() {
        words = f.model.queries.first().map(|q| q.wrt.clone()).unwrap_or_default();
    }
    if words.is_empty() {
        return Err(Error::new(ErrorCode::Usage, "name the variables with --wrt", Span::new(0, text.len()))
            .hint("e.g. `bracket hessian 'x^T A x' --wrt x`"));
    }
    let names: Vec<String> = words.iter().map(|w| variable(&f.model, w, text)).collect::<Result<_>>()?;
    let mut out = Vec::new();
    for x in &names {
        for y in &names {
            let Second { gradient, answer } = hessian_block(&f.model, &f.expr, x, y, options)?;
            crate::api::defined_somewhere(&gradient, text)?;
            crate::api::defined_somewhere(&answer, text)?;
            let by = By::Variable(y.clone());
            out.push(SecondDerivative { function: f.expr.clone(), wrt: x.clone(), by, gradient, answer });
        }
    }
    twins_alike(&mut out, &names, &f.model);
    Ok(out)
}

/// Each mixed block by a scalar and another variable, ∇_σ∇_w and ∇_w∇_σ, in the shorter
/// of the two forms the runs found: the blocks are equal (the Hessian is symmetric and,
/// with σ a scalar, of one shape), but each comes from its own gradient, and one run may
/// stop short of the other's form (Welsch's `σXᵀ(r ⊙ e ⊙ (r²/σ⁶ − 2/σ⁴))` beside
/// `Xᵀ(r ⊙ e ⊙ (r²/σ² − 2))/σ³`, survey 11). Blocks of two tensors are transposes of
/// each other and keep their own forms.
fn twins_alike(blocks: &mut [SecondDerivative], names: &[String], model: &crate::read::elaborate::Model) {
    let n = names.len();
    let scalar = |v: &String| model.names.get(v).is_some_and(|i| i.shape.is_empty());
    for i in 0..n {
        for j in i + 1..n {
            if !(scalar(&names[i]) || scalar(&names[j])) {
                continue;
            }
            let (a, b) = (i * n + j, j * n + i);
            let size = |k: usize| blocks[k].answer.render(crate::render::Format::Unicode).chars().count();
            let (from, to) = match size(a).cmp(&size(b)) {
                // (Of one size, the first block's form is the other's too: Weibull
                // regression's two blocks by (w, k) differed only in their terms' order.)
                std::cmp::Ordering::Less | std::cmp::Ordering::Equal => (a, b),
                std::cmp::Ordering::Greater => (b, a),
            };
            if blocks[from].answer.expr.shape == blocks[to].answer.expr.shape {
                blocks[to].answer.expr = blocks[from].answer.expr.clone();
            }
        }
    }
}

/// The Hessian-vector product `∇²f[V]` of the scalar function of `text` by `wrt` along
/// the direction `dir`: a name of the variable's shape, declared in `text` or new.
///
/// ```
/// let p = bracket::hvp("x^T A x", "x", "v").unwrap();
/// assert_eq!(p.answer.render(bracket::Format::Unicode), "(A + Aᵀ)v");
/// ```
pub fn hvp(text: &str, wrt: &str, dir: &str) -> Result<SecondDerivative> {
    hvp_with(text, wrt, dir, &crate::egraph::Options::default())
}

/// [`hvp`] with e-graph limits and, optionally, sizes for a FLOP cost.
pub fn hvp_with(text: &str, wrt: &str, dir: &str, options: &crate::egraph::Options) -> Result<SecondDerivative> {
    let dir = crate::api::greek_letters(dir.trim());
    let whole = |m: &str| Error::new(ErrorCode::Usage, m.to_string(), Span::new(0, text.len()));
    let mut chars = dir.chars();
    if !chars.next().is_some_and(char::is_alphabetic) || !chars.all(|c| c.is_alphanumeric() || c == '_') {
        return Err(whole(&format!("`--dir {dir}` is not a name")).hint("name the direction, e.g. `--dir V`"));
    }
    let f = scalar_function(text, &[wrt.to_string(), dir.clone()])?;
    let x = variable(&f.model, wrt, text)?;
    let mut model = f.model.clone();
    let shape = model.names[&x].shape.clone();
    match model.names.get(&dir) {
        _ if dir == x => {
            return Err(whole(&format!("the direction `{dir}` is the variable itself"))
                .hint("name a new tensor of the variable's shape, e.g. `--dir V`"))
        }
        // `--dir p` where p is a size (`w: vector(p)`): the answer `XᵀXp` would read back
        // with p a number.
        _ if f.model.names.values().any(|i| i.shape.contains(&crate::ir::shape::Dim::Sym(dir.clone()))) => {
            return Err(whole(&format!("the direction `{dir}` is the name of a size")).hint(format!(
                "name a new tensor, e.g. `--dir V`: `{dir}` is a dimension, and the answer would read it as one"
            )))
        }
        Some(info) if info.shape != shape || info.defined => {
            return Err(Error::new(
                ErrorCode::Shape,
                format!(
                    "the direction `{dir}` has shape {}, but `{x}` has shape {}",
                    show_shape(&info.shape),
                    show_shape(&shape)
                ),
                Span::new(0, text.len()),
            )
            .hint("declare the direction with the variable's shape, or name a new one"))
        }
        // A symmetric variable moves only along symmetric directions: its gradient is
        // taken with X = Xᵀ, and along another the check would fail a right answer.
        Some(info) if model.names[&x].symmetric && !info.symmetric => {
            return Err(whole(&format!("the direction `{dir}` is not symmetric, but `{x}` is declared symmetric"))
                .hint(format!("declare `{dir}: symmetric`, or leave it undeclared (it is then symmetric too)")))
        }
        // A name the function reads is a direction only by a slip, most often.
        Some(_) if f.expr.names().contains(&dir) => model.notes.push(format!(
            "the direction `{dir}` also occurs in the function, and the product is along its value there; name a \
             new tensor (`--dir U`) to move along another"
        )),
        Some(_) => {}
        None => {
            let symmetric = model.names[&x].symmetric;
            let info = NameInfo { shape, symmetric, declared: false, defined: false };
            model.names.insert(dir.clone(), info);
        }
    }
    let Second { gradient, answer } = hvp_of(&model, &f.expr, &x, &dir, options)?;
    crate::api::defined_somewhere(&gradient, text)?;
    crate::api::defined_somewhere(&answer, text)?;
    Ok(SecondDerivative { function: f.expr, wrt: x, by: By::Direction(dir), gradient, answer })
}

/// How a derivative by a matrix is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// The function's dims, then the variable's (the default).
    #[default]
    Tensor,
    /// The Magnus–Neudecker matrix with column-stacking vec: `d vec(F) = J d vec(X)`.
    Vec,
}

/// A derivative in the vec layout.
#[derive(Clone, Debug)]
pub struct VecDerivative {
    /// `∇_x`, `∇²_x`, `∇_y∇_x`: what it is the derivative of.
    pub label: String,
    /// The variable (the first one differentiated by, as in the tensor layout).
    pub wrt: String,
    /// For a Hessian block, the second variable.
    pub by: Option<String>,
    /// The matrix.
    pub form: crate::calculus::vec::VecForm,
    /// The same derivative in the tensor layout.
    pub tensor: Answer,
    /// The function's order (the tensor's first dims).
    pub f_order: usize,
}

impl VecDerivative {
    /// The vec form of a tensor-layout derivative of a function of `f_order` dims.
    pub fn of(
        label: String,
        wrt: &str,
        tensor: &Answer,
        f_order: usize,
        options: &crate::egraph::Options,
    ) -> Result<VecDerivative> {
        let x_order = tensor.expr.order() - f_order;
        let form = crate::calculus::vec::vec_form(&tensor.expr, f_order, x_order, &tensor.model, options)?;
        let vec = VecDerivative { label, wrt: wrt.to_string(), by: None, form, tensor: tensor.clone(), f_order };
        // The matrix is built from the tensor layout term by term, a step apart from the
        // derivative itself: it is compared with the tensor at one random point every
        // time, so that a wrong matrix is refused, never printed (`--check` adds
        // finite differences and more points).
        if vec.check(1).verdict == crate::eval::check::Verdict::Failed {
            return Err(Error::bare(
                ErrorCode::Unsupported,
                format!("bracket's Kronecker form of {} disagrees with the tensor layout (a bug)", vec.label),
            )
            .hint("use --layout tensor (the default), and report the input"));
        }
        Ok(vec)
    }

    /// The form in one format (NumPy: an expression giving the 2-D array).
    pub fn render(&self, format: crate::render::Format) -> String {
        self.form.render(format, &self.tensor.model)
    }

    /// The matrix at the values of `env` (definitions evaluated).
    pub fn value(&self, env: &crate::eval::Env<f64>) -> Result<ndarray::Array2<f64>> {
        self.form.value(env)
    }

    /// Compares the form with the tensor layout at random points.
    pub fn check(&self, points: u64) -> Check {
        crate::calculus::vec::check_vec(&self.tensor.model, &self.tensor.expr, self.f_order, &self.form, points)
    }

    /// Every rendering, as JSON.
    pub fn json(&self) -> serde_json::Value {
        use crate::render::Format;
        let mut v = serde_json::json!({
            "layout": "vec",
            "label": self.label,
            "wrt": self.wrt,
            "unicode": self.render(Format::Unicode),
            "ascii": self.render(Format::Ascii),
            "latex": self.render(Format::Latex),
            "numpy": self.render(Format::Numpy),
            "tensor": self.tensor.render(Format::Unicode),
            "conditions": self.tensor.conditions(Format::Unicode),
            "conditions_ascii": self.tensor.conditions(Format::Ascii),
            "conditions_latex": self.tensor.conditions(Format::Latex),
        });
        // As in the tensor layout: the block ∇_y∇_x is by x, then y.
        if let Some(by) = &self.by {
            v["by"] = serde_json::json!(by);
        }
        v
    }
}
