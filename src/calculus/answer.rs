//! The results every front-door function gives: an expression with the model it
//! belongs to ([`Answer`]), and a derivative by one variable ([`Derivative`]).

use crate::ir::expr::Expr;
use crate::ir::shape::show_shape;
use crate::read::elaborate::Model;
use crate::render::{render, Format};
use serde_json::{json, Value};

/// A result expression with the model it belongs to.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The declarations, definitions and shapes of the input.
    pub model: Model,
    /// The result.
    pub expr: Expr,
    /// What the e-graph did to reach it, when it ran.
    pub saturation: Option<crate::egraph::Report>,
}

impl Answer {
    /// The result in one format.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Numpy => crate::render::render_numpy_whole(&self.expr, &self.model),
            other => render(&self.expr, other),
        }
    }

    /// The NumPy statements of the defined values the result reads, with those they read
    /// in turn, in the program's order (`K = …` for `np.linalg.inv(K)`); empty where it
    /// reads none.
    pub fn numpy_definitions(&self) -> Vec<String> {
        let py = |(name, value): &&(String, Expr)| {
            format!("{} = {}", crate::render::py_name(name), crate::render::render_numpy(value, &self.model))
        };
        self.model.definitions_read(&self.expr).iter().map(py).collect()
    }

    /// The conditions the result needs, with those of the definitions it reads, then
    /// those of the input it came from that simplifying may have cancelled: an answer
    /// holds only where its input is defined (`a/a` is 1 where a ≠ 0, `∇_X tr(AA⁻¹X)` is
    /// I where A is invertible).
    pub fn conditions(&self, format: Format) -> Vec<String> {
        let inputs: Vec<&Expr> = self.model.exprs.iter().chain(self.model.queries.iter().map(|q| &q.expr)).collect();
        // Two spellings of one scalar are told by their values at random points.
        let equal = |a: &Expr, b: &Expr| crate::eval::identity::equal_up_to_sign(&self.model, a, b);
        crate::render::conditions::conditions_reading_all(&self.expr, &inputs, &self.model, format, &equal)
    }

    /// Every rendering, the shape, and the conditions the result needs, as a JSON object.
    pub fn json(&self) -> Value {
        json!({
            "unicode": self.render(Format::Unicode),
            "ascii": self.render(Format::Ascii),
            "latex": self.render(Format::Latex),
            "bracket": self.render(Format::Bracket),
            "numpy": self.render(Format::Numpy),
            "shape": show_shape(&self.expr.shape),
            "conditions": self.conditions(Format::Unicode),
            "conditions_ascii": self.conditions(Format::Ascii),
            "conditions_latex": self.conditions(Format::Latex),
            "egraph": self.saturation.as_ref().map(|r| r.json()),
        })
    }
}

/// The derivative of a function by one variable: `df = G ·_k dX`.
#[derive(Clone, Debug)]
pub struct Derivative {
    /// The function differentiated.
    pub function: Expr,
    /// The variable.
    pub wrt: String,
    /// G: the gradient (shape of X) for a scalar function, else the Jacobian (the
    /// function's dims, then X's).
    pub answer: Answer,
}
