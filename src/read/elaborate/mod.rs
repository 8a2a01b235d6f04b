//! Syntax tree to typed expressions: names get shapes, operators get checked, bracket
//! terms become tensor networks.
//!
//! Takes an [`Input`]; gives a [`Model`] whose every [`Expr`] has a resolved shape, or
//! an [`Error`] with a span and a hint. Does not import egg. Rules it applies (all in
//! docs/syntax.md): naming defaults (lowercase = vector, uppercase = matrix, Greek and
//! names in a denominator = scalar, `I` = identity), when `X_12` is a portion rather
//! than a name, when a product is a bracket term, and where a literal `1` is a ones
//! tensor.

use crate::error::{Error, ErrorCode, Result, Span};
use crate::ir::ast::*;
use crate::ir::build::scale;
use crate::ir::expr::*;
use crate::ir::shape::{Dim, Shape, Unifier};
use crate::limits;
use indexmap::{IndexMap, IndexSet};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

mod bracket;
mod call;
mod operators;
mod reads;
mod retype;
mod spread;
mod statements;
mod symmetric;

use bracket::{read_number, read_superscript_power};
pub use bracket::{read_positions, PosGroup};
pub use retype::{default_kind, scalar_readings};

/// What the input declares and computes, fully typed.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Every tensor name used or declared, with its shape and properties.
    pub names: IndexMap<String, NameInfo>,
    /// Declared element-wise functions (`f: elementwise`), and those used as `f'(…)`.
    pub functions: IndexSet<String>,
    /// `h = …` definitions, in order.
    pub definitions: Vec<(String, Expr)>,
    /// Stated facts `lhs = rhs` (such as `Y1 = 1`).
    pub facts: Vec<(Expr, Expr)>,
    /// `grad J wrt W, b` queries.
    pub queries: Vec<Query>,
    /// The expressions, in order.
    pub exprs: Vec<Expr>,
    /// Where each `h = …` stands in the source: the span of its left side.
    pub definition_spans: IndexMap<String, Span>,
    /// The source text.
    pub source: String,
    /// How the input was read where that may not be what was meant (`Wq` as the
    /// product W q); the CLI prints them on stderr, JSON as `notes`.
    pub notes: Vec<String>,
}

/// What is known about a name.
#[derive(Clone, Debug, PartialEq)]
pub struct NameInfo {
    /// Its shape.
    pub shape: Shape,
    /// Declared symmetric.
    pub symmetric: bool,
    /// Declared (rather than typed by the defaults).
    pub declared: bool,
    /// Defined by `name = …`.
    pub defined: bool,
}

/// A `grad … wrt …` query.
#[derive(Clone, Debug)]
pub struct Query {
    /// The function.
    pub expr: Expr,
    /// The variables.
    pub wrt: Vec<String>,
}

impl Model {
    /// The last expression of the input, if any.
    pub fn main_expr(&self) -> Option<&Expr> {
        self.exprs.last()
    }

    /// Where `name = …` defines `name` in the source (its left side).
    pub fn definition_span(&self, name: &str) -> Option<Span> {
        self.definition_spans.get(name).copied()
    }

    /// The vectors the facts say sum to a number, with it: `yᵀ1 = c` (also read from
    /// `1ᵀy = c` and `sum(y) = c`).
    pub fn vectors_summing_to(&self) -> impl Iterator<Item = (&str, &num_rational::BigRational)> {
        self.facts.iter().filter_map(|(lhs, rhs)| match (&lhs.kind, &rhs.kind) {
            (Kind::Product(row, ones), Kind::Const(c)) if ones.kind == Kind::Ones => match &row.kind {
                Kind::Transpose(y) => match &y.kind {
                    Kind::Var(name) => Some((name.as_str(), c)),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
    }

    /// The vectors the facts give a squared length, with it: `xᵀx = c`, `‖x‖² = c`,
    /// `dot(x, x) = c`, `sum(x ⊙ x) = c`, and `‖x‖ = r` (as r²).
    pub fn vectors_of_squared_norm(&self) -> impl Iterator<Item = (&str, num_rational::BigRational)> {
        fn var(e: &Expr) -> Option<&str> {
            match &e.kind {
                Kind::Var(name) if e.order() == 1 => Some(name.as_str()),
                _ => None,
            }
        }
        fn same<'a>(a: &'a Expr, b: &Expr) -> Option<&'a str> {
            var(a).filter(|n| var(b) == Some(*n))
        }
        self.facts.iter().filter_map(|(lhs, rhs)| {
            let Kind::Const(c) = &rhs.kind else { return None };
            let two = num_rational::BigRational::from_integer(2.into());
            let name = match &lhs.kind {
                Kind::Product(row, x) => match &row.kind {
                    Kind::Transpose(y) => same(y, x),
                    _ => None,
                },
                Kind::Dot(a, b) => same(a, b),
                Kind::Sum(h) => match &h.kind {
                    Kind::Hadamard(a, b) => same(a, b),
                    _ => None,
                },
                Kind::Power(n, k) if *k == two => match &n.kind {
                    Kind::Norm(x) => var(x),
                    _ => None,
                },
                Kind::Norm(x) => return var(x).map(|n| (n, c * c)),
                _ => None,
            }?;
            Some((name, c.clone()))
        })
    }

    /// The names of the matrices whose rows the facts say sum to one (`Y1 = 1`).
    pub fn rows_summing_to_one(&self) -> impl Iterator<Item = &str> {
        self.facts.iter().filter_map(|(lhs, rhs)| match (&lhs.kind, &rhs.kind) {
            (Kind::Product(y, ones), Kind::Ones) if ones.kind == Kind::Ones => match &y.kind {
                Kind::Var(name) => Some(name.as_str()),
                _ => None,
            },
            _ => None,
        })
    }
}

/// Parses and elaborates a text.
///
/// ```
/// let model = bracket::read("x^T A x").unwrap();
/// assert!(model.main_expr().unwrap().is_scalar());
/// ```
pub fn read(source: &str) -> Result<Model> {
    read_with(source, &[])
}

/// As [`read`], with `words` read as one name each even where undeclared (the `--wrt`
/// names of a query: `--wrt Wq` makes `Wq` a name).
pub fn read_with(source: &str, words: &[String]) -> Result<Model> {
    let input = crate::read::parse::parse_with(source, words)?;
    elaborate(&input)
}

/// As [`read_with`], for a function that must be scalar (a gradient's, a Hessian's): of
/// the readings of default-typed names (see `retype`), those that make it scalar.
pub fn read_scalar_with(source: &str, words: &[String]) -> Result<Model> {
    let input = crate::read::parse::parse_with(source, words)?;
    let mut model =
        stacker::maybe_grow(limits::ELABORATE_STACK, limits::ELABORATE_STACK, || retype::elaborate(&input, true))?;
    retype::note_summed_defaults(&mut model, words);
    Ok(model)
}

/// Elaborates a parsed input.
pub fn elaborate(input: &Input) -> Result<Model> {
    stacker::maybe_grow(limits::ELABORATE_STACK, limits::ELABORATE_STACK, || retype::elaborate(input, false))
}

/// Elaborates with some undeclared names read against their defaults: each as a tensor
/// of the order given (0 a scalar, 1 a vector). On an error that adds a scalar to a
/// tensor or multiplies factors that do not fit, the failure also gives the names a second
/// reading may take the other way (see `retype`).
fn elaborate_as(input: &Input, retyped: &IndexMap<String, usize>) -> std::result::Result<Model, Failure> {
    elaborate_noting(input, retyped).map(|(model, _)| model)
}

/// As [`elaborate_as`], with the Greek names read as scalars by default and written
/// transposed (`μᵀ`), which `retype` may read as vectors.
fn elaborate_noting(
    input: &Input,
    retyped: &IndexMap<String, usize>,
) -> std::result::Result<(Model, Vec<String>), Failure> {
    let mut e = Elab::new(input);
    e.retyped = retyped.clone();
    if let Err(error) = e.run(input) {
        let defaults = if e.scalar_sum || e.product_mismatch { e.retypable() } else { vec![] };
        let transposed = std::mem::take(&mut e.transposed_scalars).into_iter().collect();
        return Err(Failure {
            error: e.explained(error, &input.notes),
            names: defaults,
            take: e.scalar_sum,
            transposed,
        });
    }
    let mut notes = input.notes.clone();
    // Each note once, where it is first made (two `*` between matrices are one note).
    for n in std::mem::take(&mut e.notes) {
        if !notes.contains(&n) {
            notes.push(n);
        }
    }
    let transposed = std::mem::take(&mut e.transposed_scalars).into_iter().collect();
    Ok((e.finish(notes), transposed))
}

/// Why an elaboration failed, and what `retype` may try.
struct Failure {
    error: Error,
    /// The names read by default that a second reading may take the other way, in
    /// order of use, each with that other order.
    names: Vec<(String, usize)>,
    /// Whether a single reading that type-checks is taken (a scalar added to a tensor),
    /// or only suggested (factors of a product that do not fit, which may as well want a
    /// transpose).
    take: bool,
    /// The Greek names written transposed (`λᵀ`), which a second reading takes as
    /// vectors even in a product: the transpose says which was meant.
    transposed: Vec<String>,
}

#[derive(Clone, Debug)]
enum DeclKind {
    Scalar,
    Tensor(Vec<Option<Dim>>),
    Square(Option<Dim>, bool),
    Elementwise,
    Like(String, Span),
}

struct Elab {
    u: Unifier,
    source: String,
    decls: IndexMap<String, (DeclKind, Span)>,
    vars: IndexMap<String, NameInfo>,
    functions: IndexSet<String>,
    bare_names: IndexSet<String>,
    /// Every name the statements use (not the declarations), as written in full.
    used_names: IndexSet<String>,
    denominators: IndexSet<String>,
    /// Names of declared sizes (`N` in `X: matrix(N, d)`): used alone, each is a scalar.
    size_names: IndexSet<String>,
    definitions: Vec<(String, Expr)>,
    /// Where each definition's name stands.
    defined_at: IndexMap<String, Span>,
    facts: Vec<(Expr, Expr)>,
    queries: Vec<Query>,
    exprs: Vec<Expr>,
    like_depth: usize,
    notes: Vec<String>,
    /// Greek names scalar by default and written transposed (`μᵀ`).
    transposed_scalars: IndexSet<String>,
    /// Undeclared names read against their defaults, with their orders (see `retype`).
    retyped: IndexMap<String, usize>,
    /// Set where a sum adds a scalar to a tensor.
    scalar_sum: bool,
    /// Set where the factors of a product do not fit: a vector left of a matrix (`s I`),
    /// or a matrix left of a row (`C 1ᵀ…`).
    product_mismatch: bool,
}

fn err(code: ErrorCode, message: impl Into<String>, span: Span) -> Error {
    Error::new(code, message, span)
}

fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

/// The vector `y` of `yᵀ1`, `1ᵀy` or `sum(y)`.
fn sum_of_vector(e: &Expr) -> Option<Expr> {
    let vector = |v: &Expr| v.order() == 1 && matches!(v.kind, Kind::Var(_));
    match &e.kind {
        Kind::Sum(y) if vector(y) => Some((**y).clone()),
        Kind::Product(a, b) => match (&a.kind, &b.kind) {
            (Kind::Transpose(y), Kind::Ones) if vector(y) => Some((**y).clone()),
            (Kind::Transpose(o), _) if o.kind == Kind::Ones && vector(b) => Some((**b).clone()),
            _ => None,
        },
        _ => None,
    }
}

/// c for a term that, added to a tensor, is c times the ones tensor: the literal `1`
/// (c = 1), `0` (the zero tensor), and a number times the literal `1` (`2 1`).
fn scaled_one(n: &Node) -> Option<BigRational> {
    // A number, or a fraction of numbers in parentheses, as `(1/4) 1` prints.
    fn number(n: &Node) -> Option<BigRational> {
        match &n.kind {
            NodeKind::Number { value, barred: false, .. } => Some(value.clone()),
            NodeKind::Paren(inner) => number(inner),
            NodeKind::Neg(inner) => number(inner).map(|v| -v),
            NodeKind::Binary { op: BinOp::Div, lhs, rhs, .. } => {
                let (a, b) = (number(lhs)?, number(rhs)?);
                (!b.is_zero()).then(|| a / b)
            }
            _ => None,
        }
    }
    match &n.kind {
        _ if is_literal_one(n) => Some(BigRational::one()),
        // Any number added to a tensor is added to each entry, as `1` is (`x − 0.5`).
        NodeKind::Number { value, barred: false, .. } => Some(value.clone()),
        NodeKind::Neg(inner) => number(inner).map(|v| -v),
        NodeKind::Paren(inner) => scaled_one(inner),
        NodeKind::Juxt(items) => match items.as_slice() {
            [c, one] | [one, c] if is_literal_one(one) => number(c),
            _ => None,
        },
        _ => None,
    }
}

/// Where the plain name `full` occurs in `n`, if it does.
fn occurrence(n: &Node, full: &str) -> Option<Span> {
    match &n.kind {
        NodeKind::Name(name) if !name.diff && !name.bar && name.tag.is_none() && name.full() == full => Some(n.span),
        _ => n.children().find_map(|c| occurrence(c, full)),
    }
}

/// Is this node the literal `1` (which may stand for a ones tensor)?
fn is_literal_one(n: &Node) -> bool {
    match &n.kind {
        NodeKind::Number { text, barred: false, .. } => text == "1",
        NodeKind::OnesLead => true,
        NodeKind::Paren(inner) => is_literal_one(inner),
        _ => false,
    }
}

impl Elab {
    fn new(input: &Input) -> Elab {
        let mut e = Elab {
            u: Unifier::default(),
            source: input.source.clone(),
            decls: IndexMap::new(),
            vars: IndexMap::new(),
            functions: IndexSet::new(),
            bare_names: IndexSet::new(),
            used_names: IndexSet::new(),
            denominators: IndexSet::new(),
            size_names: IndexSet::new(),
            definitions: Vec::new(),
            defined_at: IndexMap::new(),
            facts: Vec::new(),
            queries: Vec::new(),
            exprs: Vec::new(),
            like_depth: 0,
            notes: Vec::new(),
            transposed_scalars: IndexSet::new(),
            retyped: IndexMap::new(),
            scalar_sum: false,
            product_mismatch: false,
        };
        for s in &input.statements {
            match s {
                Statement::Expr(n) => e.scan(n, false),
                Statement::Equation { lhs, rhs, .. } => {
                    e.scan(lhs, false);
                    e.scan(rhs, false);
                }
                Statement::Grad { expr, .. } => e.scan(expr, false),
                Statement::Declaration(_) => {}
            }
        }
        e
    }

    /// Collects names used without a subscript and names in denominators.
    fn scan(&mut self, n: &Node, denominator: bool) {
        match &n.kind {
            NodeKind::Name(name) => {
                self.used_names.insert(name.full());
                if name.sub.is_none() {
                    self.bare_names.insert(name.base.clone());
                }
                if denominator && !name.diff {
                    self.denominators.insert(name.full());
                }
            }
            NodeKind::Binary { op: BinOp::Div, lhs, rhs, .. } => {
                self.scan(lhs, denominator);
                // In a divisor made only of names, numbers, sums, products, powers and
                // element-wise functions (`2N`, `N^2`, `N + 1`, `sqrt(N)`), names are scalars.
                let scalar_like = is_scalar_like(rhs);
                self.scan(rhs, scalar_like);
            }
            NodeKind::Paren(inner) | NodeKind::Neg(inner) => self.scan(inner, denominator),
            NodeKind::Sum(terms) => terms.iter().for_each(|(_, t)| self.scan(t, denominator)),
            NodeKind::Postfix { op: PostOp::Power(_), arg, .. } => self.scan(arg, denominator),
            NodeKind::Call { args, .. } if args.len() == 1 => self.scan(&args[0], denominator),
            NodeKind::Juxt(items) => items.iter().for_each(|i| self.scan(i, denominator)),
            NodeKind::Binary { op: BinOp::MatMul, lhs, rhs, .. } => {
                self.scan(lhs, denominator);
                self.scan(rhs, denominator);
            }
            _ => {
                let children: Vec<&Node> = n.children().collect();
                for c in children {
                    self.scan(c, false);
                }
            }
        }
    }

    fn declare(&mut self, d: &Declaration) -> Result<()> {
        if let Some((text, span)) =
            d.args.iter().find(|(t, _)| t.chars().all(|c| c.is_ascii_digit()) && t.parse::<u64>().is_err())
        {
            return Err(Error::new(ErrorCode::Limit, format!("the size {text} is too large"), *span)
                .hint("sizes up to 2⁶⁴ − 1 are read as numbers; use a name such as n for a symbolic size"));
        }
        let size = |(text, _span): &(String, Span)| -> Dim {
            match text.parse::<u64>() {
                Ok(n) => Dim::Int(n),
                Err(_) => Dim::Sym(text.clone()),
            }
        };
        let args: Vec<Dim> = d.args.iter().map(size).collect();
        // (The Z of `like(Z)` is a name, not a size.)
        for a in args.iter().filter(|_| d.kind != "like") {
            if let Dim::Sym(name) = a {
                self.size_names.insert(name.clone());
            }
        }
        let arity = |want: &[usize]| -> Result<()> {
            if want.contains(&args.len()) {
                Ok(())
            } else {
                Err(err(
                    ErrorCode::Syntax,
                    format!("`{}` takes {} sizes, not {}", d.kind, show_counts(want), args.len()),
                    d.kind_span,
                ))
            }
        };
        let kind = match d.kind.as_str() {
            "scalar" => {
                arity(&[0])?;
                DeclKind::Scalar
            }
            "vector" => {
                arity(&[0, 1])?;
                DeclKind::Tensor(vec![args.first().cloned()])
            }
            "matrix" => {
                arity(&[0, 1, 2])?;
                match args.len() {
                    0 => DeclKind::Tensor(vec![None, None]),
                    1 => DeclKind::Square(Some(args[0].clone()), false),
                    _ => DeclKind::Tensor(args.iter().cloned().map(Some).collect()),
                }
            }
            "square" => {
                arity(&[0, 1])?;
                DeclKind::Square(args.first().cloned(), false)
            }
            "symmetric" => {
                arity(&[0, 1])?;
                DeclKind::Square(args.first().cloned(), true)
            }
            "tensor" => {
                if args.is_empty() || args.len() > limits::MAX_ORDER {
                    return Err(err(
                        ErrorCode::Syntax,
                        format!("`tensor` takes between 1 and {} sizes", limits::MAX_ORDER),
                        d.kind_span,
                    )
                    .hint("write `T: tensor(2, 3, 4)` or `T: tensor(n, m, k)`"));
                }
                DeclKind::Tensor(args.iter().cloned().map(Some).collect())
            }
            "elementwise" | "function" => {
                arity(&[0])?;
                DeclKind::Elementwise
            }
            "like" => {
                arity(&[1])?;
                DeclKind::Like(d.args[0].0.clone(), d.args[0].1)
            }
            other => {
                return Err(err(ErrorCode::Unknown, format!("unknown kind `{other}`"), d.kind_span).hint(
                    "kinds are scalar, vector, vector(n), matrix, matrix(n, m), square, symmetric, \
                     tensor(n, m, …), elementwise, like(Z)",
                ))
            }
        };
        for (name, span) in &d.names {
            statements::reserved(name, *span)?;
            if let Some((_, before)) = self.decls.get(name) {
                let (line, _) = crate::error::line_col(&self.source, before.start);
                return Err(err(ErrorCode::Unknown, format!("`{name}` is declared twice"), *span)
                    .hint(format!("the first declaration is on line {line}")));
            }
            if matches!(kind, DeclKind::Elementwise) {
                self.functions.insert(name.clone());
            }
            self.decls.insert(name.clone(), (kind.clone(), *span));
        }
        Ok(())
    }

    fn finish(mut self, notes: Vec<String>) -> Model {
        let notes = crate::read::words::sizes_said(notes, |p| self.size_names.contains(p));
        let mut fin = Finisher { numbering: IndexMap::new() };
        let mut names = IndexMap::new();
        // Declared names first, in declaration order, then the rest in order of use.
        let mut order: Vec<String> = self.decls.keys().filter(|n| self.vars.contains_key(*n)).cloned().collect();
        order.extend(self.vars.keys().filter(|n| !self.decls.contains_key(*n)).cloned());
        for name in order {
            let mut info = self.vars[&name].clone();
            info.shape = fin.shape(&mut self.u, &info.shape);
            names.insert(name, info);
        }
        let mut fix = |e: &Expr, u: &mut Unifier| fin.expr(u, e);
        let definitions = self.definitions.iter().map(|(n, e)| (n.clone(), fix(e, &mut self.u))).collect();
        let facts = self.facts.iter().map(|(l, r)| (fix(l, &mut self.u), fix(r, &mut self.u))).collect();
        let queries =
            self.queries.iter().map(|q| Query { expr: fix(&q.expr, &mut self.u), wrt: q.wrt.clone() }).collect();
        let exprs = self.exprs.iter().map(|e| fix(e, &mut self.u)).collect();
        Model {
            names,
            functions: self.functions,
            definitions,
            facts,
            queries,
            exprs,
            definition_spans: self.defined_at,
            source: self.source,
            notes,
        }
    }

    /// An error, with what may explain it: a word read as a product, or a Greek letter
    /// read as a scalar.
    fn explained(&self, mut e: Error, notes: &[String]) -> Error {
        if !matches!(e.code, ErrorCode::Shape | ErrorCode::Unknown | ErrorCode::Bracket) {
            return e;
        }
        // `grad J w.r.t. W`: the query's keyword as people write it in prose.
        if self.source.contains("w.r.t") {
            return e.hint("the query is written `grad J wrt W` (`wrt` without dots)");
        }
        // `W_out`, `tanh_prime`: what the rest of the word was read as explains little.
        if let Some(long) = crate::read::hints::long_subscript(&self.source) {
            e.hint = Some(e.hint.take().map_or_else(|| long.clone(), |h| format!("{long}; {h}")));
            return e;
        }
        let mut more: Vec<String> = Vec::new();
        let unknown_function = e.message.starts_with("unknown function");
        if !notes.is_empty() && !unknown_function {
            // The word of the first note (`` `lam` is read as the product l a m ``), declared
            // as its case reads best: a capital word a matrix, another a scalar.
            let word = notes[0].split('`').nth(1).unwrap_or("Wq");
            let (kind, others) = if word.starts_with(char::is_uppercase) {
                ("matrix", "`scalar`, `vector`")
            } else {
                ("scalar", "`vector`, `matrix`")
            };
            more.push(format!(
                "{}, one name a letter: declare a word to keep it whole (`{word}: {kind}`, or {others})",
                notes.join("; ")
            ));
        }
        let greek: Vec<&String> = self
            .vars
            .iter()
            .filter(|(n, i)| {
                !i.declared && !i.defined && i.shape.is_empty() && n.chars().next().is_some_and(|c| !c.is_ascii())
            })
            .map(|(n, _)| n)
            .collect();
        if !greek.is_empty() {
            let names: Vec<String> = greek.iter().map(|n| format!("`{n}`")).collect();
            let word =
                crate::read::parse::GREEK.iter().find(|(_, l)| greek[0].starts_with(l)).map_or("beta", |(w, _)| w);
            more.push(format!(
                "{} {} a scalar, as Greek letters are unless declared (`{word}: vector`, or `matrix`)",
                names.join(", "),
                if names.len() == 1 { "is" } else { "are" }
            ));
        }
        if more.is_empty() {
            return e;
        }
        let hint = match e.hint.take() {
            Some(h) => format!("{h}; {}", more.join("; ")),
            None => more.join("; "),
        };
        e.hint = Some(hint);
        e
    }

    // ------------------------------------------------------------------ names

    fn var_shape(&mut self, name: &str, span: Span) -> Result<Shape> {
        if let Some(info) = self.vars.get(name) {
            return Ok(info.shape.clone());
        }
        let (shape, symmetric, declared) = match self.decls.get(name).cloned() {
            Some((kind, _)) => match kind {
                DeclKind::Scalar => (vec![], false, true),
                DeclKind::Tensor(dims) => {
                    (dims.into_iter().map(|d| d.unwrap_or_else(|| self.u.fresh())).collect(), false, true)
                }
                DeclKind::Square(d, symmetric) => {
                    let d = d.unwrap_or_else(|| self.u.fresh());
                    (vec![d.clone(), d], symmetric, true)
                }
                DeclKind::Like(other, other_span) => {
                    self.like_depth += 1;
                    if other == name || self.like_depth > 32 {
                        return Err(err(
                            ErrorCode::Unknown,
                            format!("`{name}` is declared like itself, through `like(…)`"),
                            other_span,
                        )
                        .hint("`G: like(Z)` needs Z to have a shape of its own"));
                    }
                    // A name declared nowhere and used nowhere has no shape to lend
                    // (`like(bta)`, a typo, was read as a scalar).
                    if !self.decls.contains_key(&other)
                        && !self.used_names.contains(&other)
                        && !self.size_names.contains(&other)
                    {
                        let known = self.decls.keys().chain(self.used_names.iter()).filter(|k| *k != name);
                        let hint = match crate::read::hints::closest(&other, known.map(|s| s.as_str())) {
                            Some(near) => format!("did you mean `like({near})`?"),
                            None => format!("declare `{other}` first, or give `{name}` a kind such as `matrix(n, m)`"),
                        };
                        return Err(err(
                            ErrorCode::Unknown,
                            format!("`{other}` in `like({other})` is neither declared nor used"),
                            other_span,
                        )
                        .hint(hint));
                    }
                    let shape = self.var_shape(&other, other_span);
                    self.like_depth -= 1;
                    (shape?, false, true)
                }
                DeclKind::Elementwise => {
                    return Err(err(
                        ErrorCode::Shape,
                        format!("`{name}` is declared element-wise, a function, but is used as a tensor"),
                        span,
                    )
                    .hint(format!("apply it: `{name}(X)`")))
                }
            },
            None => (self.default_shape(name), false, false),
        };
        self.vars.insert(name.to_string(), NameInfo { shape: shape.clone(), symmetric, declared, defined: false });
        Ok(shape)
    }

    /// Names read by default (undeclared, undefined, whole) that could be read the other
    /// way, with that order: a vector or matrix as a scalar, a Greek scalar as a vector.
    fn retypable(&self) -> Vec<(String, usize)> {
        self.vars
            .iter()
            .filter(|(n, i)| !i.declared && !i.defined && self.bare_names.contains(*n))
            .filter_map(|(n, i)| match i.shape.len() {
                0 if !self.denominators.contains(n) && !self.size_names.contains(n) => Some((n.clone(), 1)),
                1 | 2 => Some((n.clone(), 0)),
                _ => None,
            })
            .collect()
    }

    fn default_shape(&mut self, name: &str) -> Shape {
        if let Some(&order) = self.retyped.get(name) {
            return (0..order).map(|_| self.u.fresh()).collect();
        }
        let first = name.chars().next().unwrap_or('x');
        let greek = !first.is_ascii() || is_greek_word(name);
        if self.denominators.contains(name) || self.size_names.contains(name) || (greek && !first.is_uppercase()) {
            vec![]
        } else if first.is_lowercase() {
            vec![self.u.fresh()]
        } else {
            vec![self.u.fresh(), self.u.fresh()]
        }
    }

    /// Is `X_12` here a portion of X (rather than a tensor named `X_12`)?
    fn is_portion(&self, name: &NameRef, bracket_context: bool) -> bool {
        let Some(sub) = &name.sub else { return false };
        if !is_structural_subscript(sub) {
            return false;
        }
        if sub.contains('[') || sub.contains('~') || sub.contains('\u{304}') || sub.contains('\u{305}') {
            return true;
        }
        if self.decls.contains_key(&name.full()) {
            return false;
        }
        bracket_context || self.decls.contains_key(&name.base) || self.bare_names.contains(&name.base)
    }
}

/// `(X)ᵀ⁻¹` → the parenthesised argument and the postfix operators, innermost last.
fn peel_postfix(n: &Node) -> Option<(&Node, Vec<(&PostOp, Span)>)> {
    let mut ops = Vec::new();
    let mut cur = n;
    while let NodeKind::Postfix { op, op_span, arg } = &cur.kind {
        ops.push((op, *op_span));
        cur = arg;
    }
    match &cur.kind {
        NodeKind::Paren(inner) => Some((inner.as_ref(), ops)),
        _ => None,
    }
}

/// A divisor that can only be a scalar expression of its names.
fn is_scalar_like(n: &Node) -> bool {
    match &n.kind {
        NodeKind::Number { barred: false, .. } => true,
        NodeKind::Name(name) => !name.diff && !name.bar && name.tag.is_none() && name.portion.is_none(),
        NodeKind::Paren(x) | NodeKind::Neg(x) => is_scalar_like(x),
        NodeKind::Sum(terms) => terms.iter().all(|(_, t)| is_scalar_like(t)),
        NodeKind::Juxt(items) => items.iter().all(is_scalar_like),
        NodeKind::Postfix { op: PostOp::Power(_), arg, .. } => is_scalar_like(arg),
        NodeKind::Binary { op: BinOp::Div | BinOp::MatMul, lhs, rhs, .. } => is_scalar_like(lhs) && is_scalar_like(rhs),
        NodeKind::Call { func, args, sup: None, .. } => {
            args.len() == 1
                && matches!(
                    func,
                    Builtin::Sqrt
                        | Builtin::Exp
                        | Builtin::Ln
                        | Builtin::Abs
                        | Builtin::Tanh
                        | Builtin::Sigmoid
                        | Builtin::Sin
                        | Builtin::Cos
                )
                && is_scalar_like(&args[0])
        }
        _ => false,
    }
}

/// Subscripts made of digits, bars and fusing brackets describe positions.
fn is_structural_subscript(sub: &str) -> bool {
    !sub.is_empty()
        && sub.chars().any(|c| c.is_ascii_digit())
        && sub.chars().all(|c| c.is_ascii_digit() || "[]~, \u{304}\u{305}".contains(c))
}

fn is_plain_name(n: &Node) -> bool {
    matches!(&n.kind, NodeKind::Name(name) if !name.diff && !name.bar && name.tag.is_none() && name.sub.is_none() && name.portion.is_none())
}

/// A parenthesised group of bracket members (as opposed to classic notation).
fn is_group(inner: &Node) -> bool {
    let member = |n: &Node| {
        matches!(
            n.kind,
            NodeKind::Name(_)
                | NodeKind::Square(_)
                | NodeKind::Bar(_)
                | NodeKind::Iota
                | NodeKind::Embed { .. }
                | NodeKind::Number { .. }
                | NodeKind::OnesLead
                | NodeKind::Paren(_)
        )
    };
    match &inner.kind {
        NodeKind::Juxt(items) => items.iter().all(member),
        _ => member(inner),
    }
}

/// A Greek word (`lambda`, `Sigma`), from the one list the parser reads them by.
fn is_greek_word(name: &str) -> bool {
    let base = name.split('_').next().unwrap_or(name);
    crate::read::parse::greek_letter(base).is_some()
}

fn show_counts(want: &[usize]) -> String {
    let parts: Vec<String> = want.iter().map(|n| n.to_string()).collect();
    match parts.len() {
        1 => parts[0].clone(),
        _ => format!("{} or {}", parts[..parts.len() - 1].join(", "), parts[parts.len() - 1]),
    }
}

pub(crate) fn builtin_name(func: Builtin) -> &'static str {
    match func {
        Builtin::Trace => "tr",
        Builtin::Det => "det",
        Builtin::Ln => "ln",
        Builtin::Exp => "exp",
        Builtin::Tanh => "tanh",
        Builtin::Sigmoid => "sigmoid",
        Builtin::Sqrt => "sqrt",
        Builtin::Sin => "sin",
        Builtin::Cos => "cos",
        Builtin::Abs => "abs",
        Builtin::Relu => "relu",
        Builtin::Sign => "sign",
        Builtin::Softmax => "softmax",
        Builtin::Diag => "diag",
        Builtin::Sum => "sum",
        Builtin::Dot => "dot",
        Builtin::Kron => "kron",
        Builtin::Inv => "inv",
        Builtin::LogDet => "logdet",
        Builtin::Eye => "eye",
        Builtin::LogSumExp => "logsumexp",
        Builtin::Norm => "norm",
        Builtin::Ones => "ones",
        Builtin::Mean => "mean",
        Builtin::Softplus => "softplus",
        Builtin::LogSigmoid => "logsigmoid",
        Builtin::LogSoftmax => "logsoftmax",
        Builtin::Log1p => "log1p",
        Builtin::Expm1 => "expm1",
        Builtin::Log10 => "log10",
        Builtin::Log2 => "log2",
        Builtin::Cosh => "cosh",
        Builtin::Sinh => "sinh",
    }
}

fn builtin_func(func: Builtin) -> Option<Func> {
    Some(match func {
        Builtin::Ln => Func::Ln,
        Builtin::Exp => Func::Exp,
        Builtin::Tanh => Func::Tanh,
        Builtin::Sigmoid => Func::Sigmoid,
        Builtin::Sqrt => Func::Sqrt,
        Builtin::Sin => Func::Sin,
        Builtin::Cos => Func::Cos,
        Builtin::Abs => Func::Abs,
        Builtin::Relu => Func::Relu,
        Builtin::Sign => Func::Sign,
        _ => return None,
    })
}

/// Resolves dims after elaboration and numbers the free sizes in order of appearance.
struct Finisher {
    numbering: IndexMap<u32, u32>,
}

impl Finisher {
    fn dim(&mut self, u: &mut Unifier, d: &Dim) -> Dim {
        match u.resolve(d) {
            Dim::Var(root) => {
                let n = self.numbering.len() as u32 + 1;
                Dim::Var(*self.numbering.entry(root).or_insert(n))
            }
            other => other,
        }
    }

    fn shape(&mut self, u: &mut Unifier, s: &[Dim]) -> Shape {
        s.iter().map(|d| self.dim(u, d)).collect()
    }

    fn expr(&mut self, u: &mut Unifier, e: &Expr) -> Expr {
        let shape = self.shape(u, &e.shape);
        let b = |f: &mut Finisher, u: &mut Unifier, x: &Expr| Box::new(f.expr(u, x));
        let kind = match &e.kind {
            Kind::Var(_) | Kind::Diff(_) | Kind::Const(_) | Kind::Ones | Kind::Identity => e.kind.clone(),
            Kind::DiffOf(x) => Kind::DiffOf(b(self, u, x)),
            Kind::Add(ts) => Kind::Add(ts.iter().map(|t| self.expr(u, t)).collect()),
            Kind::Scale(c, x) => Kind::Scale(c.clone(), b(self, u, x)),
            Kind::Product(x, y) => Kind::Product(b(self, u, x), b(self, u, y)),
            Kind::DivScalar(x, y) => Kind::DivScalar(b(self, u, x), b(self, u, y)),
            Kind::Transpose(x) => Kind::Transpose(b(self, u, x)),
            Kind::Inverse(x) => Kind::Inverse(b(self, u, x)),
            Kind::Power(x, k) => Kind::Power(b(self, u, x), k.clone()),
            Kind::HPower(x, k) => Kind::HPower(b(self, u, x), k.clone()),
            Kind::Hadamard(x, y) => Kind::Hadamard(b(self, u, x), b(self, u, y)),
            Kind::HDiv(x, y) => Kind::HDiv(b(self, u, x), b(self, u, y)),
            Kind::Kron(x, y) => Kind::Kron(b(self, u, x), b(self, u, y)),
            Kind::Dot(x, y) => Kind::Dot(b(self, u, x), b(self, u, y)),
            Kind::Gen { lhs, rhs, left, right, dot, form } => Kind::Gen {
                lhs: b(self, u, lhs),
                rhs: b(self, u, rhs),
                left: left.clone(),
                right: right.clone(),
                dot: *dot,
                form: *form,
            },
            Kind::Trace(x) => Kind::Trace(b(self, u, x)),
            Kind::Det(x) => Kind::Det(b(self, u, x)),
            Kind::Diag(x) => Kind::Diag(b(self, u, x)),
            Kind::Sum(x) => Kind::Sum(b(self, u, x)),
            Kind::Norm(x) => Kind::Norm(b(self, u, x)),
            Kind::Func { func, derivative, arg } => {
                Kind::Func { func: func.clone(), derivative: *derivative, arg: b(self, u, arg) }
            }
            Kind::Softmax { positions, arg } => Kind::Softmax { positions: positions.clone(), arg: b(self, u, arg) },
            Kind::Permute(x, p) => Kind::Permute(b(self, u, x), p.clone()),
            Kind::Network(n) => {
                let factors =
                    n.factors.iter().map(|f| Factor { expr: self.expr(u, &f.expr), slots: f.slots.clone() }).collect();
                let indices = n.indices.iter().map(|d| self.dim(u, d)).collect();
                Kind::Network(Box::new(Network {
                    factors,
                    indices,
                    output: n.output.clone(),
                    origin: n.origin.clone(),
                }))
            }
        };
        Expr { kind, shape }
    }
}
