//! Structured random expressions through the whole pipeline: a scalar function built
//! from the operators of docs/syntax.md over x, y (vectors n), A, B, X (matrices n×n),
//! s (a scalar) and f (a declared element-wise function), printed in the ASCII syntax
//! (and some bracket notation), then `simplify`, `grad` by x or X, and `derive`.
//! Expressions are mostly well shaped, but not always (`det` of a non-square product,
//! `ln` of a negative constant, singular inverses): an `Err` is a fine answer; a
//! panic, an abort or a hang is a finding.

#![no_main]

use arbitrary::Arbitrary;
use bracket::Format;
use libfuzzer_sys::fuzz_target;

/// Below this depth every sub-expression is a leaf, so each input is small and fast.
const MAX_DEPTH: usize = 6;

const DECLS: &str = "x, y: vector(n); A, B, X: matrix(n, n); s: scalar; f: elementwise; ";

const FORMATS: [Format; 5] = [Format::Unicode, Format::Ascii, Format::Latex, Format::Bracket, Format::Numpy];

/// A rational constant `num/den` (den 0: the integer `num`).
#[derive(Arbitrary, Debug)]
struct Rational {
    num: i8,
    den: u8,
}

impl Rational {
    fn print(&self) -> String {
        let text = if self.den == 0 {
            self.num.unsigned_abs().to_string()
        } else {
            format!("{}/{}", self.num.unsigned_abs(), self.den)
        };
        if self.num < 0 {
            format!("(-{text})")
        } else {
            format!("({text})")
        }
    }
}

/// Element-wise functions.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Func {
    Tanh,
    Exp,
    Ln,
    Sigmoid,
    Sqrt,
    Sin,
    Cos,
    Abs,
    Relu,
    /// The declared `f`.
    F,
    /// Its derivative `f'`.
    FPrime,
    /// A built-in derivative.
    TanhPrime,
}

impl Func {
    fn name(self) -> &'static str {
        match self {
            Func::Tanh => "tanh",
            Func::Exp => "exp",
            Func::Ln => "ln",
            Func::Sigmoid => "sigmoid",
            Func::Sqrt => "sqrt",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Abs => "abs",
            Func::Relu => "relu",
            Func::F => "f",
            Func::FPrime => "f'",
            Func::TanhPrime => "tanh'",
        }
    }
}

/// Scalar-valued shapes. Leaves come first: when the fuzzer's bytes run out,
/// `arbitrary` picks the first variant, so generation always ends.
#[derive(Arbitrary, Debug)]
enum Scalar {
    S,
    Const(Rational),
    Add(Box<Scalar>, Box<Scalar>),
    Sub(Box<Scalar>, Box<Scalar>),
    Mul(Box<Scalar>, Box<Scalar>),
    Div(Box<Scalar>, Box<Scalar>),
    Neg(Box<Scalar>),
    Square(Box<Scalar>),
    Apply(Func, Box<Scalar>),
    Dot(Box<Vector>, Box<Vector>),
    Quadratic(Box<Vector>, Box<Matrix>, Box<Vector>),
    Trace(Box<Matrix>),
    Det(Box<Matrix>),
    LnDet(Box<Matrix>),
    Sum(Box<Matrix>),
    Frobenius(Box<Matrix>, Box<Matrix>),
    Norm2(Box<Vector>),
    /// `[~{u} {v}]`: the dot product in bracket notation.
    BracketDot(Box<Vector>, Box<Vector>),
    /// `einsum("ij,ij->", M, N)`.
    EinsumDot(Box<Matrix>, Box<Matrix>),
}

/// Vector-valued shapes (length n).
#[derive(Arbitrary, Debug)]
enum Vector {
    X,
    Y,
    Add(Box<Vector>, Box<Vector>),
    Sub(Box<Vector>, Box<Vector>),
    Neg(Box<Vector>),
    Scale(Box<Scalar>, Box<Vector>),
    MatVec(Box<Matrix>, Box<Vector>),
    Hadamard(Box<Vector>, Box<Vector>),
    Divide(Box<Vector>, Box<Vector>),
    Apply(Func, Box<Vector>),
    Softmax(Box<Vector>),
    Diag(Box<Matrix>),
    /// `einsum("ij,j->i", M, v)`.
    EinsumMatVec(Box<Matrix>, Box<Vector>),
    /// `{M}_1 [~{M}_2 {v}]`: M v in bracket notation.
    BracketMatVec(Box<Matrix>, Box<Vector>),
    /// `1 + v`: the ones vector.
    PlusOnes(Box<Vector>),
}

/// Matrix-valued shapes (n×n, except where an operator of the wrong shape is chosen
/// on purpose).
#[derive(Arbitrary, Debug)]
enum Matrix {
    A,
    B,
    X,
    /// The defined `H` when the case has a definition, else `A`.
    H,
    Identity,
    Add(Box<Matrix>, Box<Matrix>),
    Sub(Box<Matrix>, Box<Matrix>),
    Neg(Box<Matrix>),
    Scale(Box<Scalar>, Box<Matrix>),
    Mul(Box<Matrix>, Box<Matrix>),
    Transpose(Box<Matrix>),
    Inverse(Box<Matrix>),
    InverseTranspose(Box<Matrix>),
    Power(Box<Matrix>, i8),
    Hadamard(Box<Matrix>, Box<Matrix>),
    Divide(Box<Matrix>, Box<Matrix>),
    Apply(Func, Box<Matrix>),
    Softmax(Box<Matrix>),
    Outer(Box<Vector>, Box<Vector>),
    Diag(Box<Vector>),
    /// `einsum("ij,kj->ik", M, N)`: M Nᵀ.
    EinsumMul(Box<Matrix>, Box<Matrix>),
    /// `kron(u, v)`.
    Kron(Box<Vector>, Box<Vector>),
    /// `x 1^T`: broadcast, a matrix that is not square when x and 1 differ.
    Broadcast(Box<Vector>),
}

/// One input: an optional definition `H = …`, the function, and the variable.
#[derive(Arbitrary, Debug)]
struct Case {
    definition: Option<Matrix>,
    function: Scalar,
    by_matrix: bool,
}

fn p(s: String) -> String {
    format!("({s})")
}

struct Printer {
    defined: bool,
}

impl Printer {
    fn scalar(&self, e: &Scalar, d: usize) -> String {
        if d >= MAX_DEPTH {
            return "s".to_string();
        }
        let d = d + 1;
        match e {
            Scalar::S => "s".to_string(),
            Scalar::Const(r) => r.print(),
            Scalar::Add(a, b) => format!("{} + {}", p(self.scalar(a, d)), p(self.scalar(b, d))),
            Scalar::Sub(a, b) => format!("{} - {}", p(self.scalar(a, d)), p(self.scalar(b, d))),
            Scalar::Mul(a, b) => format!("{} {}", p(self.scalar(a, d)), p(self.scalar(b, d))),
            Scalar::Div(a, b) => format!("{}/{}", p(self.scalar(a, d)), p(self.scalar(b, d))),
            Scalar::Neg(a) => format!("-{}", p(self.scalar(a, d))),
            Scalar::Square(a) => format!("{}^2", p(self.scalar(a, d))),
            Scalar::Apply(g, a) => format!("{}({})", g.name(), self.scalar(a, d)),
            Scalar::Dot(u, v) => format!("{}^T {}", p(self.vector(u, d)), p(self.vector(v, d))),
            Scalar::Quadratic(u, m, v) => {
                format!("{}^T {} {}", p(self.vector(u, d)), p(self.matrix(m, d)), p(self.vector(v, d)))
            }
            Scalar::Trace(m) => format!("tr({})", self.matrix(m, d)),
            Scalar::Det(m) => format!("det({})", self.matrix(m, d)),
            Scalar::LnDet(m) => format!("ln(det({}))", self.matrix(m, d)),
            Scalar::Sum(m) => format!("sum({})", self.matrix(m, d)),
            Scalar::Frobenius(a, b) => format!("{} cdot {}", p(self.matrix(a, d)), p(self.matrix(b, d))),
            Scalar::Norm2(v) => format!("||{}||^2", self.vector(v, d)),
            Scalar::BracketDot(u, v) => format!("[~{{{}}} {{{}}}]", self.vector(u, d), self.vector(v, d)),
            Scalar::EinsumDot(a, b) => format!("einsum(\"ij,ij->\", {}, {})", self.matrix(a, d), self.matrix(b, d)),
        }
    }

    fn vector(&self, e: &Vector, d: usize) -> String {
        if d >= MAX_DEPTH {
            return "x".to_string();
        }
        let d = d + 1;
        match e {
            Vector::X => "x".to_string(),
            Vector::Y => "y".to_string(),
            Vector::Add(a, b) => format!("{} + {}", p(self.vector(a, d)), p(self.vector(b, d))),
            Vector::Sub(a, b) => format!("{} - {}", p(self.vector(a, d)), p(self.vector(b, d))),
            Vector::Neg(a) => format!("-{}", p(self.vector(a, d))),
            Vector::Scale(c, v) => format!("{} {}", p(self.scalar(c, d)), p(self.vector(v, d))),
            Vector::MatVec(m, v) => format!("{} {}", p(self.matrix(m, d)), p(self.vector(v, d))),
            Vector::Hadamard(a, b) => format!("{} .* {}", p(self.vector(a, d)), p(self.vector(b, d))),
            Vector::Divide(a, b) => format!("{} ./ {}", p(self.vector(a, d)), p(self.vector(b, d))),
            Vector::Apply(g, a) => format!("{}({})", g.name(), self.vector(a, d)),
            Vector::Softmax(a) => format!("softmax({})", self.vector(a, d)),
            Vector::Diag(m) => format!("diag({})", self.matrix(m, d)),
            Vector::EinsumMatVec(m, v) => format!("einsum(\"ij,j->i\", {}, {})", self.matrix(m, d), self.vector(v, d)),
            Vector::BracketMatVec(m, v) => {
                let m = self.matrix(m, d);
                format!("{{{m}}}_1 [~{{{m}}}_2 {{{}}}]", self.vector(v, d))
            }
            Vector::PlusOnes(a) => format!("1 + {}", p(self.vector(a, d))),
        }
    }

    fn matrix(&self, e: &Matrix, d: usize) -> String {
        if d >= MAX_DEPTH {
            return "X".to_string();
        }
        let d = d + 1;
        match e {
            Matrix::A => "A".to_string(),
            Matrix::B => "B".to_string(),
            Matrix::X => "X".to_string(),
            Matrix::H => if self.defined { "H" } else { "A" }.to_string(),
            Matrix::Identity => "I".to_string(),
            Matrix::Add(a, b) => format!("{} + {}", p(self.matrix(a, d)), p(self.matrix(b, d))),
            Matrix::Sub(a, b) => format!("{} - {}", p(self.matrix(a, d)), p(self.matrix(b, d))),
            Matrix::Neg(a) => format!("-{}", p(self.matrix(a, d))),
            Matrix::Scale(c, m) => format!("{} {}", p(self.scalar(c, d)), p(self.matrix(m, d))),
            Matrix::Mul(a, b) => format!("{} {}", p(self.matrix(a, d)), p(self.matrix(b, d))),
            Matrix::Transpose(a) => format!("{}^T", p(self.matrix(a, d))),
            Matrix::Inverse(a) => format!("{}^-1", p(self.matrix(a, d))),
            Matrix::InverseTranspose(a) => format!("{}^-T", p(self.matrix(a, d))),
            Matrix::Power(a, k) => format!("{}^{{{}}}", p(self.matrix(a, d)), k % 4),
            Matrix::Hadamard(a, b) => format!("{} .* {}", p(self.matrix(a, d)), p(self.matrix(b, d))),
            Matrix::Divide(a, b) => format!("{} ./ {}", p(self.matrix(a, d)), p(self.matrix(b, d))),
            Matrix::Apply(g, a) => format!("{}({})", g.name(), self.matrix(a, d)),
            Matrix::Softmax(a) => format!("softmax({})", self.matrix(a, d)),
            Matrix::Outer(u, v) => format!("{} {}^T", p(self.vector(u, d)), p(self.vector(v, d))),
            Matrix::Diag(v) => format!("diag({})", self.vector(v, d)),
            Matrix::EinsumMul(a, b) => format!("einsum(\"ij,kj->ik\", {}, {})", self.matrix(a, d), self.matrix(b, d)),
            Matrix::Kron(u, v) => format!("kron({}, {})", self.vector(u, d), self.vector(v, d)),
            Matrix::Broadcast(v) => format!("{} 1^T", p(self.vector(v, d))),
        }
    }
}

/// The program text of a case.
fn text_of(case: &Case) -> String {
    let printer = Printer { defined: case.definition.is_some() };
    let mut text = DECLS.to_string();
    if let Some(m) = &case.definition {
        // The definition itself may not mention H.
        let inner = Printer { defined: false };
        text.push_str(&format!("H = {}; ", inner.matrix(m, 1)));
    }
    text.push_str(&printer.scalar(&case.function, 0));
    text
}

fuzz_target!(|case: Case| {
    let text = text_of(&case);
    let wrt = if case.by_matrix { "X" } else { "x" };
    if let Ok(simple) = bracket::simplify(&text) {
        for format in FORMATS {
            let _ = simple.render(format);
        }
    }
    if let Ok(derivatives) = bracket::grad(&text, &[wrt]) {
        for d in &derivatives {
            for format in FORMATS {
                let _ = d.answer.render(format);
            }
        }
    }
    if let Ok(derivation) = bracket::derive(&text, wrt) {
        let _ = derivation.render(Format::Unicode);
        let _ = derivation.render(Format::Latex);
        let _ = derivation.json();
    }
});
