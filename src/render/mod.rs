//! Printing: typed expressions to text in the paper's Unicode style, the fixed ASCII
//! syntax, LaTeX, bracket notation and NumPy.
//!
//! Takes an [`Expr`]; gives a string. Guarantees: the Unicode and ASCII forms parse back
//! to an expression of equal value (with the same declarations); parentheses are
//! minimal for the precedence documented in docs/syntax.md; output is deterministic.

pub mod bracket;
pub mod conditions;
mod numpy;
mod ones;
pub mod python;

use crate::ir::expr::*;
use crate::ir::shape::Dim;
use crate::network;
use crate::read::elaborate::Model;
use indexmap::IndexMap;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
pub use numpy::*;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The paper's style: `(A + Aᵀ)x`.
    Unicode,
    /// The fixed ASCII syntax: `(A + A^T) x`.
    Ascii,
    /// LaTeX math.
    Latex,
    /// The paper's bracket notation: `A_1[Ā_2 B_1]B_2`.
    Bracket,
    /// A NumPy expression over the input names and `np`.
    Numpy,
}

/// Precedence levels, loosest first; see docs/syntax.md.
pub(crate) const SUM: u8 = 1;
pub(crate) const NEG: u8 = 2;
pub(crate) const DOT: u8 = 3;
pub(crate) const HAD: u8 = 4;
pub(crate) const PROD: u8 = 5;
pub(crate) const POST: u8 = 6;
pub(crate) const ATOM: u8 = 7;

/// Renders an expression in a format. NumPy output needs the model for sizes of ones
/// and identity tensors; [`render_numpy`] takes it.
///
/// ```
/// use bracket::{read, render, Format};
/// let m = read("x^T (A + A^T)").unwrap();
/// assert_eq!(render(m.main_expr().unwrap(), Format::Unicode), "xᵀ(A + Aᵀ)");
/// ```
pub fn render(e: &Expr, format: Format) -> String {
    match format {
        Format::Unicode | Format::Ascii | Format::Latex => Printer::new(format).top(e),
        Format::Bracket => bracket::to_bracket(e, Format::Unicode),
        Format::Numpy => render_numpy_whole(e, &Model::default()),
    }
}

/// A classic printer in one style.
pub(crate) struct Printer {
    pub style: Format,
    /// The `1` and `I` leaves (by address) whose size nothing around them fixes: they
    /// are printed with their size (`I_n`, `1_n`, `eye(3)`), so that the text reads back
    /// with the same size. Filled by [`Printer::top`].
    pub sized: std::cell::RefCell<std::collections::HashSet<usize>>,
}

impl Printer {
    /// A printer in `style`.
    pub(crate) fn new(style: Format) -> Printer {
        Printer { style, sized: Default::default() }
    }
}

/// Text in one pair of parentheses, `(…)` or LaTeX's `\\left(…\\right)`, not `(Ax)ᵀAx`.
fn wrapped(text: &str) -> bool {
    group_end(text) == Some(text.len())
}

/// Where the parenthesis that opens `text` closes (the byte after it); LaTeX's
/// `\\left(` and `\\right)` count as parentheses. None where `text` does not open with one.
pub(crate) fn group_end(text: &str) -> Option<usize> {
    if !text.starts_with('(') && !text.starts_with("\\left(") {
        return None;
    }
    let mut depth = 0i32;
    for (k, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 && ch == ')' {
            return Some(k + 1);
        }
    }
    None
}

/// A scalar that is a product of tensors (`xᵀSx`, `uᵀw`).
fn inner_product(e: &Expr) -> bool {
    matches!(&e.kind, Kind::Product(p, q) if e.is_scalar() && !p.is_scalar() && !q.is_scalar())
}

/// A term that prints with a leading minus: a negative multiple, or a quotient or
/// product that opens with one (`(−xxᵀ)/‖x‖³` is `−(xxᵀ/‖x‖³)`), so that a sum prints
/// `I/‖x‖ − xxᵀ/‖x‖³` rather than `I/‖x‖ + (−xxᵀ)/‖x‖³`.
fn is_negative(e: &Expr) -> bool {
    match &e.kind {
        Kind::Scale(c, _) => c.is_negative(),
        Kind::Const(c) => c.is_negative(),
        Kind::DivScalar(a, _) | Kind::Product(a, _) => is_negative(a),
        _ => false,
    }
}

/// `|(|A|x)|`: bars inside bars need parentheses to read back.
fn pad_bars(s: String) -> String {
    if s.contains('|') {
        format!("({s})")
    } else {
        s
    }
}

fn starts_with_one(s: &str) -> bool {
    s.starts_with('1') && !s[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

fn ends_with_one(s: &str) -> bool {
    s.ends_with('1') && !s[..s.len() - 1].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.')
}

/// The scalar constant 1, which must not be printed next to a tensor (it would read
/// as a ones vector).
fn is_one(e: &Expr) -> bool {
    matches!(&e.kind, Kind::Const(c) if c.is_one())
}

/// The ones leaf of a ones tensor times constants (`1`, `−1`, `(−1)1`), if `e` is one.
pub(super) fn ones_leaf(e: &Expr) -> Option<&Expr> {
    match &e.kind {
        Kind::Ones => Some(e),
        Kind::Scale(_, x) => ones_leaf(x),
        Kind::Product(a, b) if matches!(a.kind, Kind::Const(_)) => ones_leaf(b),
        _ => None,
    }
}

/// A ones tensor, possibly scaled: what `1` stands for in a sum.
fn lone_ones(e: &Expr) -> bool {
    match &e.kind {
        Kind::Ones => true,
        Kind::Scale(_, x) => lone_ones(x),
        _ => false,
    }
}

fn negate(e: &Expr) -> Expr {
    match &e.kind {
        Kind::Scale(c, x) if (-c).is_one() => (**x).clone(),
        Kind::Scale(c, x) => Expr::new(Kind::Scale(-c, x.clone()), e.shape.clone()),
        Kind::Const(c) => Expr::new(Kind::Const(-c), e.shape.clone()),
        Kind::DivScalar(a, b) if is_negative(a) => {
            Expr::new(Kind::DivScalar(Box::new(negate(a)), b.clone()), e.shape.clone())
        }
        Kind::Product(a, b) if is_negative(a) => {
            Expr::new(Kind::Product(Box::new(negate(a)), b.clone()), e.shape.clone())
        }
        _ => e.clone(),
    }
}

/// The name a product's rendering ends (`last`) or starts with, where it is a name.
/// A differential counts by its variable's name: `dWh h1`, not `dWhh1`.
fn edge_name(e: &Expr, last: bool) -> Option<&str> {
    match &e.kind {
        Kind::Var(n) | Kind::Diff(n) => Some(n),
        Kind::Product(a, b) => edge_name(if last { b } else { a }, last),
        _ => None,
    }
}

/// A name of two or more letters (`Kinv`, `Wq`; not `W1` or `λ`).
fn wordy(name: Option<&str>) -> bool {
    name.is_some_and(|n| n.chars().filter(char::is_ascii_alphabetic).count() >= 2)
}

/// Does `a` followed directly by `b` read as something else? (Unicode juxtaposition.)
pub(crate) fn needs_space(a: &str, b: &str) -> bool {
    let (Some(x), Some(y)) = (a.chars().last(), b.chars().next()) else { return false };
    let superscript = |c: char| "ᵀ⁻⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c);
    if y.is_ascii_digit() && ((x.is_alphanumeric() && !superscript(x)) || x == '.' || x == '_') {
        // `1` then `1ᵀ` reads as the ones vectors of `11ᵀ`.
        let lone_one = a.ends_with('1')
            && !a[..a.len() - 1].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        return !(lone_one && (b.starts_with("1ᵀ")));
    }
    if x == '|' && y == '|' {
        return true;
    }
    // `d(…)` is a differential: a size or scalar `d` before a parenthesis is `d (…)`.
    if x == 'd' && y == '(' {
        return true;
    }
    if !(x.is_alphabetic() && y.is_alphabetic()) {
        return false;
    }
    let tail: String = {
        let rev: String = a.chars().rev().take_while(|c| c.is_ascii_alphabetic()).collect();
        rev.chars().rev().collect()
    };
    if tail.ends_with('d') {
        return true;
    }
    let head: String = b.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    if tail.is_empty() || head.is_empty() {
        return false;
    }
    // A name before a function reads as one word: `n softmax(z)`, not `nsoftmax(z)`
    // (nor `Xtanh²(A)`).
    let called = b[head.len()..].starts_with(['(', '\'', '⁻', '⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹']);
    if called && KEYWORDS[..FUNCTION_KEYWORDS].contains(&head.as_str()) {
        return true;
    }
    let joined = format!("{tail}{head}");
    KEYWORDS.iter().any(|k| joined.match_indices(k).any(|(at, _)| at < tail.len() && at + k.len() >= tail.len()))
}

/// The first keywords are the functions a form writes by name, `f(…)` or `f'(…)`.
const FUNCTION_KEYWORDS: usize = 16;

/// Words the grammar reads as keywords.
const KEYWORDS: [&str; 45] = [
    "tr", "det", "ln", "log", "exp", "tanh", "sigmoid", "sqrt", "sin", "cos", "abs", "relu", "sign", "softmax", "diag",
    "sum", "dot", "kron", "einsum", "iota", "odot", "cdot", "oslash", "otimes", "wrt", "grad", "alpha", "beta",
    "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau",
    "phi", "psi", "softplus",
];

impl Printer {
    pub(crate) fn top(&self, e: &Expr) -> String {
        // A term `11ᵀ` of a sum prints as `1` (`exp(S) − 1`), and a matrix of ones in a
        // product as `11ᵀ`: a lone `1` there reads back as a vector.
        let collapsed = ones::outer_terms_as_ones(e);
        let e = collapsed.as_ref().unwrap_or(e);
        let expanded;
        let e = if ones::has_ones_matrix_factor(e) {
            expanded = ones::ones_factors_as_products(e);
            &expanded
        } else {
            e
        };
        // (A term printed inside this one, a bracket term's `{…}`, prints with its own
        // set: this one's is put back after it.)
        let outer = self.sized.replace(ones::unanchored(e));
        let text = self.at(e, 0);
        *self.sized.borrow_mut() = outer;
        text
    }

    /// `print` of `derived`, an expression made from `original` here (its negation, a
    /// quotient regrouped) with the same `1` and `I` leaves in the same order, as copies:
    /// a copy of a leaf that prints its size prints it too (`−1_Nᵀ1_N μ` in a sum).
    fn derived<T>(&self, original: &Expr, derived: &Expr, print: impl FnOnce(&Expr) -> T) -> T {
        fn leaves(e: &Expr, out: &mut Vec<usize>) {
            if matches!(e.kind, Kind::Ones | Kind::Identity) {
                out.push(e as *const Expr as usize);
            }
            for c in e.children() {
                leaves(c, out);
            }
        }
        let (mut from, mut to) = (Vec::new(), Vec::new());
        leaves(original, &mut from);
        leaves(derived, &mut to);
        let added: Vec<usize> = if from.len() == to.len() {
            let sized = self.sized.borrow();
            from.iter().zip(&to).filter(|(f, _)| sized.contains(f)).map(|(_, t)| *t).collect()
        } else {
            Vec::new()
        };
        self.sized.borrow_mut().extend(added.iter().copied());
        let out = print(derived);
        // (The copies are dropped after this: their addresses may be reused.)
        let mut sized = self.sized.borrow_mut();
        for a in added {
            sized.remove(&a);
        }
        out
    }

    /// A number in front of a factor: `2`, `(1/2)` (LaTeX `\\frac{1}{2}`).
    fn coefficient(&self, c: &BigRational) -> String {
        let (coef, _) = self.rational(c);
        if c.is_integer() || self.style == Format::Latex {
            coef
        } else {
            self.paren(&coef)
        }
    }

    /// The size of a `1` or `I` leaf where it must be printed: `n` or `3`.
    fn size_of(&self, e: &Expr) -> Option<String> {
        if !self.sized.borrow().contains(&(e as *const Expr as usize)) {
            return None;
        }
        let ((Kind::Ones, [d]) | (Kind::Identity, [d, _])) = (&e.kind, e.shape.as_slice()) else { return None };
        match d {
            Dim::Sym(n) if n.starts_with(|c: char| c.is_alphabetic()) => Some(n.clone()),
            Dim::Int(k) => Some(k.to_string()),
            _ => None,
        }
    }

    /// `1_n`, `I_n`, `ones(3)`, `eye(3)` (LaTeX `\mathbf{1}_{n}`, `I_{3}`).
    fn sized(&self, e: &Expr, size: &str) -> String {
        let identity = e.kind == Kind::Identity;
        let numeric = size.chars().all(|c| c.is_ascii_digit());
        match self.style {
            Format::Latex => format!("{}_{{{}}}", if identity { "I" } else { "\\mathbf{1}" }, latex_name(size)),
            _ if numeric => format!("{}({size})", if identity { "eye" } else { "ones" }),
            _ => {
                let size = if self.style == Format::Ascii { ascii_name(size) } else { size.to_string() };
                let sub = if size.chars().count() == 1 { size } else { format!("{{{size}}}") };
                format!("{}_{sub}", if identity { "I" } else { "1" })
            }
        }
    }

    /// Renders `e` so that it binds at least as tightly as `min`.
    pub(crate) fn at(&self, e: &Expr, min: u8) -> String {
        let (text, prec) = self.go(e);
        if prec < min {
            self.paren(&text)
        } else {
            text
        }
    }

    fn paren(&self, s: &str) -> String {
        match self.style {
            Format::Latex => format!("\\left({s}\\right)"),
            _ => format!("({s})"),
        }
    }

    fn minus(&self) -> &'static str {
        match self.style {
            Format::Unicode => "−",
            _ => "-",
        }
    }

    /// Juxtaposes two rendered operands.
    fn juxt(&self, a: &str, b: &str) -> String {
        match self.style {
            Format::Unicode if !needs_space(a, b) => format!("{a}{b}"),
            _ => format!("{a} {b}"),
        }
    }

    pub(crate) fn name(&self, name: &str) -> String {
        // A backpropagation seed `∇_{Z}J` reads as one symbol only in parentheses.
        if let Some(rest) = name.strip_prefix('∇') {
            return match self.style {
                Format::Ascii => format!("(nabla{rest})"),
                Format::Latex => format!("\\left({}\\right)", latex_name(name)),
                _ => format!("({name})"),
            };
        }
        match self.style {
            Format::Ascii => ascii_name(name),
            Format::Latex => latex_name(name),
            _ => name.to_string(),
        }
    }

    /// A backpropagation seed's name without the parentheses [`Self::name`] puts round it.
    fn seed(&self, name: &str) -> String {
        let rest = name.trim_start_matches('∇');
        match self.style {
            Format::Ascii => format!("nabla{rest}"),
            Format::Latex => latex_name(name),
            _ => name.to_string(),
        }
    }

    fn rational(&self, c: &BigRational) -> (String, u8) {
        if c.is_negative() {
            let (t, _) = self.rational(&-c);
            return (format!("{}{t}", self.minus()), NEG);
        }
        if c.is_integer() {
            return (c.to_integer().to_string(), ATOM);
        }
        match self.style {
            Format::Latex => (format!("\\frac{{{}}}{{{}}}", c.numer(), c.denom()), ATOM),
            // A fraction inside a product is parenthesised: `A (1/2) x`.
            _ => (format!("{}/{}", c.numer(), c.denom()), NEG),
        }
    }

    fn call(&self, name: &str, args: &[&Expr]) -> (String, u8) {
        let args: Vec<String> = args.iter().map(|a| self.at(a, 0)).collect();
        let head = match self.style {
            Format::Latex if !name.starts_with('\\') => latex_function(name),
            _ => name.to_string(),
        };
        let open = if self.style == Format::Latex { "\\left(" } else { "(" };
        let close = if self.style == Format::Latex { "\\right)" } else { ")" };
        (format!("{head}{open}{}{close}", args.join(", ")), ATOM)
    }

    fn postfix(&self, e: &Expr, unicode: &str, ascii: &str, latex: &str) -> (String, u8) {
        self.postfix_on(e, unicode, ascii, latex, false)
    }

    /// As [`Printer::postfix`], with a transposed or inverted base in parentheses where
    /// `wrapped` (a Hadamard power: `(Cᵀ)^{⊙2}`, not `Cᵀ^{⊙2}`).
    fn postfix_on(&self, e: &Expr, unicode: &str, ascii: &str, latex: &str, wrapped: bool) -> (String, u8) {
        // A power of a power needs parentheses: `(B²)²`, `(X^2).^2`.
        let powered = matches!(e.kind, Kind::Power(..) | Kind::HPower(..))
            || (wrapped && matches!(e.kind, Kind::Transpose(..) | Kind::Inverse(..)));
        let base = if powered { self.at(e, ATOM) } else { self.at(e, POST) };
        let base = if self.style == Format::Latex && base.ends_with('}') && base.contains('^') {
            format!("{{{base}}}")
        } else {
            base
        };
        let op = match self.style {
            Format::Unicode => unicode,
            Format::Ascii => ascii,
            _ => latex,
        };
        (format!("{base}{op}"), POST)
    }

    fn infix(&self, a: &Expr, b: &Expr, prec: u8, unicode: &str, ascii: &str, latex: &str) -> (String, u8) {
        let op = match self.style {
            Format::Unicode => unicode,
            Format::Ascii => ascii,
            _ => latex,
        };
        (format!("{} {op} {}", self.at(a, prec), self.at(b, prec + 1)), prec)
    }

    fn go(&self, e: &Expr) -> (String, u8) {
        match &e.kind {
            // A backpropagation seed `∇_{Z}J` reads as one symbol where nothing stands
            // next to it: `∇_{H}J ⊙ (1 − H ⊙ H)`, `tr(∇_{K}J)`, but `(∇_{R}J)W2ᵀ`.
            Kind::Var(n) if n.starts_with('∇') => (self.seed(n), PROD),
            Kind::Var(n) => (self.name(n), ATOM),
            // The tangent of a seed prints as its equation's left side does: `d∇_{H}J`.
            Kind::Diff(n) if n.starts_with('∇') => (format!("d{}", self.seed(n)), PROD),
            Kind::Diff(n) => (format!("d{}", self.name(n)), ATOM),
            Kind::DiffOf(x) => {
                let (open, close) = if self.style == Format::Latex { ("\\left(", "\\right)") } else { ("(", ")") };
                (format!("d{open}{}{close}", self.at(x, 0)), ATOM)
            }
            Kind::Const(c) => self.rational(c),
            Kind::Ones | Kind::Identity if self.size_of(e).is_some() => {
                (self.sized(e, &self.size_of(e).expect("checked")), ATOM)
            }
            Kind::Ones => (if self.style == Format::Latex { "\\mathbf{1}".into() } else { "1".into() }, ATOM),
            Kind::Identity => ("I".into(), ATOM),
            Kind::Add(terms) => {
                // A sum may not open with a negated ones tensor (`−1 + x` reads `−1` as a
                // number): a term that is not negated goes first, or the whole sum is
                // negated (`−(1 + 2x)`).
                let negated_ones = |t: &Expr| {
                    is_negative(t)
                        && !t.is_scalar()
                        && matches!(&negate(t).kind, Kind::Ones | Kind::Scale(_, _) if lone_ones(&negate(t)))
                };
                if terms.first().is_some_and(negated_ones) {
                    let mut reordered = terms.clone();
                    if let Some(k) = terms.iter().position(|t| !is_negative(t)) {
                        let t = reordered.remove(k);
                        reordered.insert(0, t);
                        return self.go(&Expr::new(Kind::Add(reordered), e.shape.clone()));
                    }
                    let positive: Vec<Expr> = terms.iter().map(negate).collect();
                    let inner = Expr::new(Kind::Add(positive), e.shape.clone());
                    return (format!("{}({})", self.minus(), self.derived(e, &inner, |d| self.at(d, 0))), NEG);
                }
                let mut out = String::new();
                for (k, t) in terms.iter().enumerate() {
                    if is_negative(t) {
                        let pos = self.derived(t, &negate(t), |d| self.at(d, DOT));
                        if k == 0 {
                            out.push_str(&format!("{}{pos}", self.minus()));
                        } else {
                            out.push_str(&format!(" {} {pos}", self.minus()));
                        }
                    } else if k == 0 {
                        out.push_str(&self.at(t, NEG));
                    } else {
                        out.push_str(&format!(" + {}", self.at(t, NEG)));
                    }
                }
                (out, SUM)
            }
            // A zero tensor prints as `0` only where `0` reads back with its shape: a
            // scalar, or zero times ones (whose size is inferred); else as `0A`.
            Kind::Scale(c, x) if c.is_zero() && (e.is_scalar() || x.kind == Kind::Ones) => ("0".into(), ATOM),
            Kind::Scale(c, x) => {
                // −x prints x itself, not a copy: a ones leaf that must carry its size
                // (`−1_n`) is known by its address.
                if (-c).is_one() {
                    return (format!("{}{}", self.minus(), self.at(x, DOT)), NEG);
                }
                if c.is_negative() {
                    let pos = self.derived(e, &negate(e), |d| self.at(d, DOT));
                    return (format!("{}{pos}", self.minus()), NEG);
                }
                // A unit fraction of a quotient joins its divisor, as a person writes it:
                // `D/(2ρ²)`, not `(1/2)D/ρ²`.
                if let (Kind::DivScalar(a, s), Some(q)) = (&x.kind, unit_denominator(c)) {
                    return self.derived(x, &over_multiple(a, q, s), |d| self.go(d));
                }
                let coef = self.coefficient(c);
                let inner = match &x.kind {
                    Kind::Network(n) if n.origin == Origin::Bracket && c.is_integer() => {
                        let (t, _) = self.go(x);
                        t
                    }
                    _ => self.at(x, PROD),
                };
                (self.juxt(&coef, &inner), PROD)
            }
            Kind::Product(a, b) if is_one(a) => self.go(b),
            Kind::Product(a, b) if is_one(b) => self.go(a),
            Kind::Product(a, b) => {
                // `(1/N)(Y − Z)`, not `1/N(Y − Z)`: same value, but read as the paper writes it.
                let seed = matches!(&a.kind, Kind::Var(n) | Kind::Diff(n) if n.starts_with('∇'));
                let mut left =
                    if matches!(a.kind, Kind::DivScalar(..)) || seed { self.at(a, POST) } else { self.at(a, PROD) };
                // Products group to the left; a product-level right operand keeps its
                // parentheses (`A(xᵀx)x` is not `(Axᵀ)(xx)`).
                // (A scalar times `11ᵀ` needs none: `ε11ᵀ` reads as `(ε1)1ᵀ`, the same.)
                let ones_outer = a.is_scalar() && ones::is_ones_outer(b);
                let mut right = self.at(b, if ones_outer { PROD } else { POST });
                // A `1` standing next to a tensor would read as a ones vector.
                if !a.is_scalar() && b.is_scalar() && starts_with_one(&right) {
                    right = self.paren(&right);
                }
                if !b.is_scalar() && a.is_scalar() && ends_with_one(&left) {
                    left = self.paren(&left);
                }
                // A product of tensors that is a scalar keeps its parentheses before a
                // tensor: `2(xᵀSx)xxᵀ`, not `2xᵀSxxxᵀ`, which no one can read.
                if !b.is_scalar() && !wrapped(&left) {
                    match &a.kind {
                        // `2(xᵀx)(Axxᵀ)`, the number outside.
                        Kind::Scale(c, x) if c.is_positive() && inner_product(x) => {
                            left = self.juxt(&self.coefficient(c), &self.paren(&self.at(x, PROD)));
                        }
                        _ if inner_product(a) => left = self.paren(&left),
                        _ => {}
                    }
                }
                // A name of several letters is spaced from a name next to it (`Kinv y`,
                // not `Kinvy`, which reads as one word; `Wv1 Wo1`).
                if self.style == Format::Unicode && (wordy(edge_name(a, true)) || wordy(edge_name(b, false))) {
                    let letters = left.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
                        && right.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
                    if letters {
                        return (format!("{left} {right}"), PROD);
                    }
                }
                (self.juxt(&left, &right), PROD)
            }
            // `−2y/‖y‖⁴`, not `(−2y)/‖y‖⁴`.
            Kind::DivScalar(a, _) if is_negative(a) => {
                (format!("{}{}", self.minus(), self.derived(e, &negate(e), |d| self.at(d, DOT))), NEG)
            }
            // A unit fraction of a numerator joins the divisor: `D/(2ρ²)`, not `(1/2)D/ρ²`.
            Kind::DivScalar(a, b) if unit_fraction(a).is_some() => {
                let (q, top) = unit_fraction(a).expect("a unit fraction");
                self.derived(e, &over_multiple(&top, q, b), |d| self.go(d))
            }
            Kind::DivScalar(a, b) => {
                // `1/s` reads its 1 as a number: a ones tensor over a scalar has its size.
                let named = match (&a.kind, a.shape.first()) {
                    (Kind::Ones, Some(Dim::Sym(n))) if n.starts_with(|c: char| c.is_alphabetic()) => Some(n.clone()),
                    (Kind::Ones, Some(Dim::Int(k))) => Some(k.to_string()),
                    _ => None,
                };
                let top = |min: u8| match &named {
                    Some(n) if a.order() == 1 => self.sized(a, n),
                    _ => self.at(a, min),
                };
                let ones = a.kind == Kind::Ones && a.order() >= 1;
                match self.style {
                    // With no name for its size, the ones tensor follows the quotient.
                    Format::Latex if ones && named.is_none() => {
                        (format!("\\frac{{1}}{{{}}} \\mathbf{{1}}", self.at(b, 0)), PROD)
                    }
                    Format::Latex => (format!("\\frac{{{}}}{{{}}}", top(0), self.at(b, 0)), ATOM),
                    _ if ones && named.is_none() => (self.juxt(&format!("(1/{})", self.at(b, POST)), &top(PROD)), PROD),
                    _ => {
                        let (top, under) = (top(PROD), self.at(b, POST));
                        // A bare exponent against a number reads as a fractional power
                        // (`A^-1/5` is A^(−1/5), `A^2/5` an error): spaced, the quotient.
                        let exponent = top.rsplit_once('^').is_some_and(|(_, k)| {
                            let k = k.trim_start_matches('-');
                            !k.is_empty() && k.chars().all(|c| c.is_ascii_digit())
                        });
                        let number = matches!(b.kind, Kind::Const(_));
                        match self.style {
                            Format::Ascii if exponent && number => (format!("{top} / {under}"), PROD),
                            _ => (format!("{top}/{under}"), PROD),
                        }
                    }
                }
            }
            Kind::Transpose(x) => match &x.kind {
                Kind::Inverse(y) => self.postfix(y, "⁻ᵀ", "^-T", "^{-\\top}"),
                _ => self.postfix(x, "ᵀ", "^T", "^{\\top}"),
            },
            // A power of an inverse in parentheses, as any power of a power (`A^-1^-1`
            // is refused as input).
            Kind::Inverse(x) => self.postfix_on(x, "⁻¹", "^-1", "^{-1}", matches!(x.kind, Kind::Inverse(_))),
            Kind::Power(x, k) => {
                let sup = superscript(k);
                let ascii = if k.is_integer() { format!("^{}", k) } else { format!("^({k})") };
                let latex = format!("^{{{}}}", latex_rational(k));
                let unicode = sup.unwrap_or_else(|| ascii.clone());
                self.postfix_on(x, &unicode, &ascii, &latex, matches!(x.kind, Kind::Inverse(_)))
            }
            Kind::HPower(x, p) => {
                if let Kind::Func { func, derivative: 0, arg } = &x.kind {
                    if p.is_integer() && p.is_positive() && !matches!(func, Func::Declared(_)) {
                        let name = func.name();
                        let head = match self.style {
                            Format::Unicode => format!("{name}{}", superscript(p).unwrap_or_default()),
                            Format::Ascii => format!("{name}^{p}"),
                            _ => format!("{}^{{{p}}}", latex_function(name)),
                        };
                        let (call, _) = self.call(&head, &[arg]);
                        return (call, ATOM);
                    }
                }
                let ascii = if p.is_integer() { format!(".^{p}") } else { format!(".^({p})") };
                let unicode = format!("^{{⊙{p}}}");
                let latex = format!("^{{\\odot {}}}", latex_rational(p));
                self.postfix_on(x, &unicode, &ascii, &latex, true)
            }
            Kind::Hadamard(a, b) => self.infix(a, b, HAD, "⊙", ".*", "\\odot"),
            Kind::HDiv(a, b) => self.infix(a, b, HAD, "⊘", "./", "\\oslash"),
            Kind::Kron(a, b) => {
                // A ones operand (`a ⊗ 1`) carries its size: reading takes a lone `1`
                // there for the number. (Marked here, on the nodes printed: a term may be
                // a rebuilt copy of the one `unanchored` saw.)
                for x in [a, b] {
                    if let Some(leaf) = ones_leaf(x) {
                        self.sized.borrow_mut().insert(leaf as *const Expr as usize);
                    }
                }
                match self.style {
                    Format::Ascii => self.call("kron", &[a, b]),
                    _ => self.infix(a, b, HAD, "⊗", "", "\\otimes"),
                }
            }
            Kind::Dot(a, b) => match self.style {
                Format::Ascii => self.call("dot", &[a, b]),
                _ => self.infix(a, b, DOT, "·", "", "\\cdot"),
            },
            Kind::Gen { lhs, rhs, left, right, dot, form } => self.gen(lhs, rhs, left, right, *dot, *form),
            Kind::Trace(x) => self.call("tr", &[x]),
            Kind::Det(x) => match self.style {
                Format::Ascii => self.call("det", &[x]),
                Format::Unicode => (format!("|{}|", pad_bars(self.at(x, 0))), ATOM),
                _ => (format!("\\left|{}\\right|", self.at(x, 0)), ATOM),
            },
            Kind::Diag(x) => self.call("diag", &[x]),
            Kind::Sum(x) => self.call("sum", &[x]),
            Kind::Norm(x) => match self.style {
                Format::Latex => (format!("\\left\\lVert {}\\right\\rVert", self.at(x, 0)), ATOM),
                _ => (format!("||{}||", pad_bars(self.at(x, 0))), ATOM),
            },
            Kind::Func { func, derivative, arg } => {
                let primes = "'".repeat(*derivative as usize);
                let name = match func {
                    Func::Declared(n) => self.name(n),
                    other => other.name().to_string(),
                };
                let head = match (self.style, func) {
                    (Format::Latex, Func::Declared(_)) => format!("{name}{primes}"),
                    (Format::Latex, _) => format!("{}{primes}", latex_function(&name)),
                    _ => format!("{name}{primes}"),
                };
                let open = if self.style == Format::Latex { "\\left(" } else { "(" };
                let close = if self.style == Format::Latex { "\\right)" } else { ")" };
                (format!("{head}{open}{}{close}", self.at(arg, 0)), ATOM)
            }
            Kind::Softmax { positions, arg } => {
                let default: Vec<usize> = (1..arg.order()).collect();
                if *positions == default {
                    self.call("softmax", &[arg])
                } else {
                    let sup = positions_text(positions);
                    let head = match self.style {
                        Format::Latex => format!("\\operatorname{{softmax}}^{{{sup}}}"),
                        _ => format!("softmax^{{{sup}}}"),
                    };
                    let (open, close) = if self.style == Format::Latex { ("\\left(", "\\right)") } else { ("(", ")") };
                    (format!("{head}{open}{}{close}", self.at(arg, 0)), ATOM)
                }
            }
            Kind::Permute(x, perm) => {
                let p: Vec<usize> = perm.iter().map(|p| p + 1).collect();
                (format!("{}_{{{}}}", self.paren(&self.at(x, 0)), positions_text(&p)), POST)
            }
            Kind::Network(net) => self.network(net),
        }
    }

    fn gen(&self, lhs: &Expr, rhs: &Expr, left: &[Pos], right: &[Pos], dot: bool, form: GenForm) -> (String, u8) {
        let prec = if dot { DOT } else { HAD };
        let sym = match (self.style, dot) {
            (Format::Unicode, true) => "·",
            (Format::Unicode, false) => "⊙",
            (Format::Ascii, true) => "cdot",
            (Format::Ascii, false) => "odot",
            (_, true) => "\\cdot",
            (_, false) => "\\odot",
        };
        let shortcut = match form {
            GenForm::K(k) => Some(k.to_string()),
            GenForm::Right => Some(">".into()),
            GenForm::Left => Some("<".into()),
            GenForm::Explicit => None,
        };
        if let Some(k) = shortcut {
            let k = if self.style == Format::Latex { format!("{{{k}}}") } else { k };
            return (format!("{} {sym}_{k} {}", self.at(lhs, prec), self.at(rhs, prec + 1)), prec);
        }
        let mut left_base = self.at(lhs, POST);
        if matches!(lhs.kind, Kind::Power(..) | Kind::HPower(..)) || left_base.ends_with('}') {
            left_base = self.paren(&left_base);
        }
        // Bars go on the left operand's positions; with `·` every pair is summed anyway.
        let l: Vec<String> = left.iter().map(|p| self.position(p.at, p.bar && !dot)).collect();
        let r: Vec<String> = right.iter().map(|q| self.position(q.at, false)).collect();
        let sep = if left.iter().chain(right).any(|p| p.at > 9) { "," } else { "" };
        (format!("{left_base}^{{{}}} {sym}^{{{}}} {}", l.join(sep), r.join(sep), self.at(rhs, prec + 1)), prec)
    }

    fn position(&self, at: usize, bar: bool) -> String {
        match (bar, self.style) {
            (false, _) => at.to_string(),
            (true, Format::Unicode) => format!("{at}\u{304}"),
            (true, Format::Ascii) => format!("~{at}"),
            (true, _) => format!("\\bar{{{at}}}"),
        }
    }

    fn network(&self, net: &Network) -> (String, u8) {
        // No factors over distinct free indices: the ones tensor (`1`, `11ᵀ`), which an
        // einsum would write with no operand at all.
        let distinct: std::collections::HashSet<usize> = net.output.iter().copied().collect();
        // (Not `ι`, which reads as itself and would read back as the number 1.)
        let iota = net.output.iter().any(|&i| net.indices[i] == crate::ir::shape::Dim::Iota);
        if net.factors.is_empty() && distinct.len() == net.output.len() && (1..=2).contains(&net.output.len()) && !iota
        {
            let dims: Vec<_> = net.output.iter().map(|&i| net.indices[i].clone()).collect();
            let one = |d: &crate::ir::shape::Dim| Expr::new(Kind::Ones, vec![d.clone()]);
            let ones = match dims.as_slice() {
                [m, n] => crate::ir::build::product(one(m), crate::ir::build::transpose(one(n))),
                _ => Expr::new(Kind::Ones, dims),
            };
            return self.go(&ones);
        }
        match &net.origin {
            Origin::Einsum(spec) => self.einsum(net, Some(spec)),
            Origin::Subscript(text) => {
                let f = &net.factors[0].expr;
                (format!("{}_{{{text}}}", self.paren(&self.at(f, 0))), POST)
            }
            // The user's own bracket term: its free sizes were free in the input too.
            Origin::Bracket => match bracket::render_network_checked(net, self.style, true, false) {
                Some(text) => (text, HAD),
                None => match network::as_outer_product(net) {
                    Some(e) => self.go(&e),
                    None => self.einsum(net, None),
                },
            },
        }
    }

    /// A network as `einsum("…", …)`.
    pub(crate) fn einsum(&self, net: &Network, spec: Option<&str>) -> (String, u8) {
        let spec = match spec {
            Some(s) => s.to_string(),
            None => bracket::einsum_spec(net, false),
        };
        let args: Vec<String> = net.factors.iter().map(|f| self.at(&f.expr, 0)).collect();
        match self.style {
            Format::Latex => {
                (format!("\\operatorname{{einsum}}\\left(\\texttt{{{spec}}}, {}\\right)", args.join(", ")), ATOM)
            }
            _ => (format!("einsum(\"{spec}\", {})", args.join(", ")), ATOM),
        }
    }
}

/// Positions as digits, or comma-separated when any exceeds 9.
pub(crate) fn positions_text(p: &[usize]) -> String {
    let parts: Vec<String> = p.iter().map(|x| x.to_string()).collect();
    if p.iter().any(|&x| x > 9) {
        parts.join(",")
    } else {
        parts.concat()
    }
}

fn superscript(k: &BigRational) -> Option<String> {
    if !k.is_integer() {
        return None;
    }
    let n = k.to_integer();
    let digits = n.abs().to_string();
    let mut out = String::new();
    if n.is_negative() {
        out.push('⁻');
    }
    for c in digits.chars() {
        out.push(match c {
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        });
    }
    Some(out)
}

fn latex_rational(k: &BigRational) -> String {
    if k.is_integer() {
        k.to_string()
    } else {
        let sign = if k.is_negative() { "-" } else { "" };
        format!("{sign}\\frac{{{}}}{{{}}}", k.numer().abs(), k.denom())
    }
}

/// The paper's symbols that prose (a derivation step's reason, a label) holds, each as
/// the ASCII syntax and as LaTeX's math mode write it.
const PROSE_SYMBOLS: [(char, &str, &str); 15] = [
    ('∇', "nabla", "\\nabla"),
    ('½', "1/2", "\\tfrac12"),
    ('ᵀ', "^T", "^\\top"),
    ('·', ".", "\\cdot"),
    ('⊙', ".*", "\\odot"),
    ('⊘', "./", "\\oslash"),
    ('⊗', "(x)", "\\otimes"),
    ('−', "-", "-"),
    ('≠', "!=", "\\neq"),
    ('≥', ">=", "\\geq"),
    ('→', "->", "\\to"),
    ('…', "...", "\\ldots"),
    ('²', "^2", "^2"),
    ('⁻', "^-", "^{-}"),
    ('¹', "1", "^1"),
];

/// Prose in ASCII: the paper's symbols spelt as the ASCII syntax writes them
/// (`½(G + Gᵀ) · dS` as `1/2(G + G^T) . dS`), Greek letters as words.
pub fn ascii_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match PROSE_SYMBOLS.iter().find(|(s, _, _)| *s == c) {
            Some((_, ascii, _)) => out.push_str(ascii),
            None => match crate::read::parse::greek_word(c) {
                Some(word) => out.push_str(word),
                None => out.push(c),
            },
        }
    }
    out
}

/// Prose for LaTeX's `\text{…}` (a derivation step's reason): each symbol outside
/// ASCII as LaTeX writes it in math mode (`dτ` → `d$\tau$`, `½` → `$\tfrac12$`).
pub fn latex_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if let Some((_, _, math)) = PROSE_SYMBOLS.iter().find(|(s, _, _)| *s == c) {
            out.push_str(&format!("${math}$"));
        } else if matches!(c, '&' | '%' | '$' | '#' | '_' | '{' | '}') {
            out.push('\\');
            out.push(c);
        } else if c.is_ascii() {
            out.push(c);
        } else {
            match crate::read::parse::greek_word(c) {
                Some(word) => out.push_str(&format!("$\\{word}$")),
                None => out.push('?'),
            }
        }
    }
    out
}

/// A name in ASCII: Greek letters become words; a subscript that becomes longer than one
/// character gets braces (`W_λ` → `W_{lambda}`).
pub fn ascii_name(name: &str) -> String {
    let words = |s: &str| -> String {
        s.chars().map(|c| crate::read::parse::greek_word(c).map_or_else(|| c.to_string(), str::to_string)).collect()
    };
    match name.split_once('_') {
        None => words(name),
        Some((base, sub)) => {
            let inner = sub.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(sub);
            let inner = words(inner);
            if inner.chars().count() == 1 || inner.chars().all(|c| c.is_ascii_digit()) {
                format!("{}_{inner}", words(base))
            } else {
                format!("{}_{{{inner}}}", words(base))
            }
        }
    }
}

/// A name in LaTeX: Greek letters become commands, and the digits that end a name are
/// its subscript, as the paper writes them (`W1` is `W_1`, `x12` is `x_{12}`).
pub fn latex_name(name: &str) -> String {
    // A second derivative's label: `∇²_x`, `∇²_x[V]`.
    if let Some(rest) = name.strip_prefix("∇²") {
        return format!("\\nabla^2{}", latex_name(rest));
    }
    if let Some(rest) = name.strip_prefix('∇') {
        // A seed `∇_{Z2}J`: its subscript and its loss are names too.
        if let Some((inner, tail)) = rest.strip_prefix("_{").and_then(|r| r.split_once('}')) {
            return format!("\\nabla_{{{}}}{}", latex_name(inner), latex_name(tail));
        }
        return format!("\\nabla{}", latex_name(rest));
    }
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if !base.is_empty() && base.len() < name.len() && !name.contains('_') {
        let digits = &name[base.len()..];
        let base = latex_name(base);
        return if digits.len() == 1 { format!("{base}_{digits}") } else { format!("{base}_{{{digits}}}") };
    }
    let mut out = String::new();
    for c in name.chars() {
        match crate::read::parse::greek_word(c) {
            Some(word) => out.push_str(&format!("\\{word} ")),
            None => out.push(c),
        }
    }
    out.trim_end().to_string()
}

fn latex_function(name: &str) -> String {
    match name {
        "exp" | "ln" | "log" | "tanh" | "sin" | "cos" | "det" => format!("\\{name}"),
        _ => format!("\\operatorname{{{name}}}"),
    }
}

/// q where `c` is 1/q for a whole q > 1.
fn unit_denominator(c: &BigRational) -> Option<BigRational> {
    (c.numer().is_one() && !c.is_integer()).then(|| BigRational::from_integer(c.denom().clone()))
}

/// `a/(qs)`.
fn over_multiple(a: &Expr, q: BigRational, s: &Expr) -> Expr {
    let divisor = Expr::new(Kind::Scale(q, Box::new(s.clone())), s.shape.clone());
    Expr::new(Kind::DivScalar(Box::new(a.clone()), Box::new(divisor)), a.shape.clone())
}

/// `(1/q)A` as q and A, and the number 1/q as q and 1.
fn unit_fraction(e: &Expr) -> Option<(BigRational, Expr)> {
    match &e.kind {
        Kind::Scale(c, a) => unit_denominator(c).map(|q| (q, (**a).clone())),
        Kind::Const(c) => unit_denominator(c).map(|q| (q, Expr::new(Kind::Const(BigRational::one()), vec![]))),
        _ => None,
    }
}
