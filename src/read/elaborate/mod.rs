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

/// Elaborates a parsed input.
pub fn elaborate(input: &Input) -> Result<Model> {
    stacker::grow(64 << 20, || {
        let mut e = Elab::new(input);
        if let Err(error) = e.run(input) {
            return Err(e.explained(error, &input.notes));
        }
        let mut notes = input.notes.clone();
        notes.append(&mut e.notes);
        Ok(e.finish(notes))
    })
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
    denominators: IndexSet<String>,
    definitions: Vec<(String, Expr)>,
    facts: Vec<(Expr, Expr)>,
    queries: Vec<Query>,
    exprs: Vec<Expr>,
    like_depth: usize,
    notes: Vec<String>,
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

/// Is this node the literal `0` (which, added to a tensor, is the zero tensor)?
fn is_literal_zero(n: &Node) -> bool {
    match &n.kind {
        NodeKind::Number { value, barred: false, .. } => value.is_zero(),
        NodeKind::Paren(inner) => is_literal_zero(inner),
        _ => false,
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
            denominators: IndexSet::new(),
            definitions: Vec::new(),
            facts: Vec::new(),
            queries: Vec::new(),
            exprs: Vec::new(),
            like_depth: 0,
            notes: Vec::new(),
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

    fn run(&mut self, input: &Input) -> Result<()> {
        for s in &input.statements {
            if let Statement::Declaration(d) = s {
                self.declare(d)?;
            }
        }
        for s in &input.statements {
            match s {
                Statement::Declaration(_) => {}
                Statement::Expr(n) => {
                    let e = self.expr(n)?;
                    self.exprs.push(e);
                }
                Statement::Equation { lhs, rhs, span } => self.equation(lhs, rhs, *span)?,
                Statement::Grad { expr, wrt, .. } => {
                    let e = self.expr(expr)?;
                    for (name, span) in wrt {
                        if !self.vars.contains_key(name) {
                            return Err(err(
                                ErrorCode::Unknown,
                                format!("`{name}` does not occur before this query"),
                                *span,
                            )
                            .hint("name a variable the function depends on"));
                        }
                    }
                    let wrt = wrt.iter().map(|(n, _)| n.clone()).collect();
                    self.queries.push(Query { expr: e, wrt });
                }
            }
        }
        // Declared tensors that nothing uses still have a shape (and a zero gradient).
        let unused: Vec<(String, Span)> = self
            .decls
            .iter()
            .filter(|(n, (k, _))| !self.vars.contains_key(*n) && !matches!(k, DeclKind::Elementwise))
            .map(|(n, (_, span))| (n.clone(), *span))
            .collect();
        for (name, span) in unused {
            self.var_shape(&name, span)?;
        }
        Ok(())
    }

    fn equation(&mut self, lhs: &Node, rhs: &Node, span: Span) -> Result<()> {
        if let NodeKind::Name(name) = &lhs.kind {
            if !name.diff && !name.bar && name.tag.is_none() {
                let full = name.full();
                if self.vars.contains_key(&full) || self.decls.contains_key(&full) {
                    return Err(err(
                        ErrorCode::Unknown,
                        format!("`{full}` is already declared or used; a definition must come first"),
                        lhs.span,
                    )
                    .hint("pick a new name for the definition"));
                }
                let value = self.expr(rhs)?;
                self.vars.insert(
                    full.clone(),
                    NameInfo { shape: value.shape.clone(), symmetric: false, declared: false, defined: true },
                );
                self.definitions.push((full, value));
                return Ok(());
            }
        }
        let (l, r) = (self.expr(lhs)?, self.expr(rhs)?);
        let r = self.broadcast_one(rhs, r, &l.shape);
        self.u.unify_shapes(&l.shape, &r.shape, span)?;
        // `1ᵀy = 1` and `sum(y) = 1` say what `yᵀ1 = 1` says: all three are facts.
        if let (Some(y), Kind::Const(c)) = (sum_of_vector(&l), &r.kind) {
            let shape = y.shape.clone();
            let ones = Expr::new(Kind::Ones, shape.clone());
            let row = |v: Expr| Expr::new(Kind::Transpose(boxed(v)), vec![Dim::Iota, shape[0].clone()]);
            let forms = [
                Expr::new(Kind::Product(boxed(row(y.clone())), boxed(ones.clone())), vec![]),
                Expr::new(Kind::Product(boxed(row(ones)), boxed(y.clone())), vec![]),
                Expr::new(Kind::Sum(boxed(y.clone())), vec![]),
            ];
            for form in forms {
                if !self.facts.iter().any(|(a, _)| *a == form) {
                    self.facts.push((form, Expr::new(Kind::Const(c.clone()), vec![])));
                }
            }
            return Ok(());
        }
        self.facts.push((l, r));
        Ok(())
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
        Model { names, functions: self.functions, definitions, facts, queries, exprs, source: self.source, notes }
    }

    /// An error, with what may explain it: a word read as a product, or a Greek letter
    /// read as a scalar.
    fn explained(&self, mut e: Error, notes: &[String]) -> Error {
        if !matches!(e.code, ErrorCode::Shape | ErrorCode::Unknown | ErrorCode::Bracket) {
            return e;
        }
        let mut more: Vec<String> = Vec::new();
        let unknown_function = e.message.starts_with("unknown function");
        if !notes.is_empty() && !unknown_function {
            more.push(format!(
                "{}, one name a letter: declare a word to keep it whole (`Wq: matrix`)",
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

    fn default_shape(&mut self, name: &str) -> Shape {
        let first = name.chars().next().unwrap_or('x');
        let greek = !first.is_ascii() || is_greek_word(name);
        if self.denominators.contains(name) || (greek && !first.is_uppercase()) {
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

    // ------------------------------------------------------------------ expressions

    fn expr(&mut self, n: &Node) -> Result<Expr> {
        let span = n.span;
        let e = match &n.kind {
            NodeKind::Number { value, barred, .. } => {
                if *barred {
                    return self.bracket(std::slice::from_ref(n), span);
                }
                Expr::new(Kind::Const(value.clone()), vec![])
            }
            NodeKind::OnesLead => Expr::new(Kind::Ones, vec![self.u.fresh()]),
            NodeKind::Name(name) => {
                if name.bar || name.tag.is_some() || name.portion.is_some() || self.is_portion(name, false) {
                    return self.bracket(std::slice::from_ref(n), span);
                }
                self.name(name, span)?
            }
            NodeKind::Iota | NodeKind::Square(_) | NodeKind::Embed { .. } | NodeKind::Bar(_) => {
                return self.bracket(std::slice::from_ref(n), span)
            }
            NodeKind::Paren(inner) => self.expr(inner)?,
            NodeKind::Norm(inner, sub) => {
                let a = self.expr(inner)?;
                match sub.as_deref() {
                    None | Some("F" | "fro") => {}
                    Some("2") if a.order() <= 1 => {}
                    Some("2") => {
                        return Err(err(
                            ErrorCode::Unsupported,
                            "the spectral norm ‖X‖₂ of a matrix is not supported",
                            span,
                        )
                        .hint("‖X‖ and ‖X‖_F are the Frobenius norm, which is supported"))
                    }
                    Some(other) => {
                        return Err(err(ErrorCode::Unsupported, format!("the norm ‖·‖_{other} is not supported"), span)
                            .hint("‖x‖ (or ‖x‖_2) is the 2-norm, and ‖X‖ (or ‖X‖_F) the Frobenius norm"))
                    }
                }
                Expr::new(Kind::Norm(boxed(a)), vec![])
            }
            NodeKind::DetBars(inner) => {
                let a = self.expr(inner)?;
                if a.is_scalar() {
                    Expr::new(Kind::Func { func: Func::Abs, derivative: 0, arg: boxed(a) }, vec![])
                } else {
                    self.square(&a, "a determinant", inner.span)?;
                    Expr::new(Kind::Det(boxed(a)), vec![])
                }
            }
            NodeKind::Einsum { spec, spec_span, args } => self.einsum(spec, *spec_span, args)?,
            NodeKind::Call { func, prime, sup, args } => self.call(*func, *prime, sup.as_deref(), args, span)?,
            NodeKind::Diff(inner) => {
                let a = self.expr(inner)?;
                let shape = a.shape.clone();
                Expr::new(Kind::DiffOf(boxed(a)), shape)
            }
            NodeKind::SubCall { name, name_span, positions, arg } => {
                self.sub_call(name, *name_span, positions, arg, span)?
            }
            NodeKind::PrimeCall { name, arg, .. } => {
                let a = self.expr(arg)?;
                let full = name.full();
                self.functions.insert(full.clone());
                let shape = a.shape.clone();
                Expr::new(Kind::Func { func: Func::Declared(full), derivative: 1, arg: boxed(a) }, shape)
            }
            NodeKind::Neg(inner) => {
                let a = self.expr(inner)?;
                scale(-BigRational::one(), a)
            }
            NodeKind::Sum(terms) => self.sum(terms)?,
            NodeKind::Juxt(items) | NodeKind::Word(items) => self.juxt(items, span)?,
            NodeKind::Binary { op, op_span, lhs, rhs } => self.binary(op, *op_span, lhs, rhs)?,
            NodeKind::Postfix { op, op_span, arg } => self.postfix(op, *op_span, arg)?,
        };
        if e.order() > limits::MAX_ORDER {
            return Err(err(
                ErrorCode::Limit,
                format!("this has {} dims; the limit is {}", e.order(), limits::MAX_ORDER),
                span,
            ));
        }
        Ok(e)
    }

    fn name(&mut self, name: &NameRef, span: Span) -> Result<Expr> {
        let full = name.full();
        if name.diff {
            let shape = self.var_shape(&full, span)?;
            return Ok(Expr::new(Kind::Diff(full), shape));
        }
        if full == "I" && !self.decls.contains_key("I") {
            let d = self.u.fresh();
            return Ok(Expr::new(Kind::Identity, vec![d.clone(), d]));
        }
        // `I_n`: the identity of size n (a size starts with a letter).
        if let (Some(sub), "I") = (&name.sub, name.base.as_str()) {
            let size = sub.starts_with(|c: char| c.is_alphabetic()) && sub.chars().all(char::is_alphanumeric);
            if size
                && !self.decls.contains_key("I")
                && !self.decls.contains_key(&full)
                && !self.vars.contains_key(&full)
            {
                let d = Dim::Sym(sub.clone());
                return Ok(Expr::new(Kind::Identity, vec![d.clone(), d]));
            }
        }
        if self.functions.contains(&full) {
            return Err(err(ErrorCode::Shape, format!("`{full}` is a function; apply it to an argument"), span)
                .hint(format!("write `{full}(X)`")));
        }
        let shape = self.var_shape(&full, span)?;
        Ok(Expr::new(Kind::Var(full), shape))
    }

    fn square(&mut self, a: &Expr, what: &str, span: Span) -> Result<()> {
        if a.order() != 2 {
            return Err(err(
                ErrorCode::Shape,
                format!("{what} needs a square matrix, but this has shape {}", self.u.show(&a.shape)),
                span,
            ));
        }
        self.u.unify(&a.shape[0], &a.shape[1], span).map_err(|_| {
            let shown = self.u.show(&a.shape);
            err(ErrorCode::Shape, format!("{what} needs a square matrix, but this is {shown}"), span)
                .hint("only square matrices have a trace, determinant, inverse or power")
        })
    }

    /// The literal `1` next to a tensor of shape `like` is a ones tensor of that shape.
    fn broadcast_one(&mut self, node: &Node, e: Expr, like: &[Dim]) -> Expr {
        if is_literal_one(node) && e.is_scalar() && !like.is_empty() {
            Expr::new(Kind::Ones, like.to_vec())
        } else if is_literal_zero(node) && e.is_scalar() && !like.is_empty() {
            // `0` added to a tensor is the zero tensor (a zero gradient prints as `0`).
            let ones = Expr::new(Kind::Ones, like.to_vec());
            Expr::new(Kind::Scale(BigRational::zero(), boxed(ones)), like.to_vec())
        } else {
            e
        }
    }

    fn sum(&mut self, terms: &[(bool, Node)]) -> Result<Expr> {
        let mut elaborated = Vec::with_capacity(terms.len());
        for (negative, node) in terms {
            let e = self.expr(node)?;
            elaborated.push((*negative, node, e));
        }
        let like = elaborated
            .iter()
            .find(|(_, node, e)| !((is_literal_one(node) || is_literal_zero(node)) && e.is_scalar()))
            .map(|(_, _, e)| e.shape.clone())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(elaborated.len());
        for (negative, node, e) in elaborated {
            let e = self.broadcast_one(node, e, &like);
            self.u.unify_shapes(&like, &e.shape, node.span).map_err(|x| {
                let (a, b) = (self.u.show(&like), self.u.show(&e.shape));
                let mut x = err(ErrorCode::Shape, format!("cannot add shape {b} to shape {a}"), node.span)
                    .hint(x.hint.unwrap_or(x.message));
                if like.is_empty() != e.is_scalar() {
                    x = x.hint("a scalar and a tensor cannot be added; `1` alone stands for a ones tensor");
                }
                x
            })?;
            out.push(if negative { scale(-BigRational::one(), e) } else { e });
        }
        Ok(Expr::new(Kind::Add(out), like))
    }

    fn juxt(&mut self, items: &[Node], span: Span) -> Result<Expr> {
        if items.iter().any(|i| self.bracket_marker(i)) {
            return self.bracket(items, span);
        }
        match self.classic_product(items) {
            Ok(e) => Ok(e),
            Err(e) if e.code == ErrorCode::Shape && self.looks_like_call(items).is_some() => {
                let (name, at) = self.looks_like_call(items).expect("checked");
                let known =
                    "tr (trace, Tr), det, logdet, ln (log), exp, tanh, sigmoid (σ), sqrt, sin, cos, abs, relu, \
                             softmax, logsumexp, diag, sum, dot, kron, inv, norm (norm2), eye, einsum";
                let hint = if name.chars().count() == 1 {
                    format!("to apply a function of your own, declare it first: `{name}: elementwise; {name}(X)`")
                } else {
                    format!(
                        "the functions are {known}; for a function of your own, declare it: \
                         `{name}: elementwise; {name}(X)`"
                    )
                };
                Err(err(ErrorCode::Unknown, format!("unknown function `{name}`"), at).hint(hint))
            }
            Err(e) if e.code == ErrorCode::Shape && items.iter().all(|i| self.is_vector_name(i)) => {
                let saved = self.u.clone();
                let saved_vars = self.vars.clone();
                match self.bracket(items, span) {
                    Ok(b) => Ok(b),
                    Err(_) => {
                        self.u = saved;
                        self.vars = saved_vars;
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Does this juxtaposition apply a declared function (`f(X)`)?
    fn applies_function(&self, n: &Node) -> bool {
        match &n.kind {
            NodeKind::Juxt(items) => {
                items.iter().any(|i| matches!(&i.kind, NodeKind::Name(m) if self.functions.contains(&m.full())))
            }
            _ => false,
        }
    }

    /// A plain name of a vector: `u v w` of vectors is read as a tensor product.
    fn is_vector_name(&self, n: &Node) -> bool {
        is_plain_name(n)
            && matches!(&n.kind, NodeKind::Name(name) if self.vars.get(&name.full()).is_some_and(|v| v.shape.len() == 1))
    }

    /// Letters written together right before `(`, as in `foo(X)` or `f(X)`: the name and
    /// its span, if the product reads like a call of an unknown function.
    fn looks_like_call(&self, items: &[Node]) -> Option<(String, Span)> {
        for k in 0..items.len() {
            let NodeKind::Paren(_) = items[k].kind else { continue };
            let mut start = k;
            while start > 0 {
                let prev = &items[start - 1];
                let adjacent = prev.span.end == items[start].span.start;
                let letter = matches!(&prev.kind, NodeKind::Name(n)
                    if n.sub.is_none() && !n.diff && n.base.chars().count() == 1 && n.base.chars().all(|c| c.is_ascii_lowercase()));
                if adjacent && letter {
                    start -= 1;
                } else {
                    break;
                }
            }
            if start < k {
                let name: String = items[start..k]
                    .iter()
                    .filter_map(|n| match &n.kind {
                        NodeKind::Name(n) => Some(n.base.clone()),
                        _ => None,
                    })
                    .collect();
                return Some((name, items[start].span.join(items[k - 1].span)));
            }
        }
        None
    }

    fn bracket_marker(&self, n: &Node) -> bool {
        match &n.kind {
            NodeKind::Square(_) | NodeKind::Bar(_) | NodeKind::Iota | NodeKind::Embed { .. } => true,
            NodeKind::Number { barred, .. } => *barred,
            NodeKind::Name(name) => {
                name.bar || name.tag.is_some() || name.portion.is_some() || self.is_portion(name, false)
            }
            _ => false,
        }
    }

    fn classic_product(&mut self, items: &[Node]) -> Result<Expr> {
        // `f(X)` with f declared element-wise is an application, not a product.
        let mut factors: Vec<(Node, Option<Expr>)> = Vec::with_capacity(items.len());
        let mut i = 0;
        while i < items.len() {
            if let (NodeKind::Name(name), Some(next)) = (&items[i].kind, items.get(i + 1)) {
                // `f(X)ᵀ`, `f(X)⁻¹`: the call binds before the postfix operators.
                if let Some((arg, ops)) = peel_postfix(next) {
                    if !name.diff && self.functions.contains(&name.full()) && !ops.is_empty() {
                        let a = self.expr(arg)?;
                        let shape = a.shape.clone();
                        let func = Func::Declared(name.full());
                        let mut e = Expr::new(Kind::Func { func, derivative: 0, arg: boxed(a) }, shape);
                        for (op, op_span) in ops.into_iter().rev() {
                            e = self.apply_postfix(op, op_span, e, items[i].span.join(next.span))?;
                        }
                        let joined = Node::new(NodeKind::Iota, items[i].span.join(next.span));
                        factors.push((joined, Some(e)));
                        i += 2;
                        continue;
                    }
                }
                if let NodeKind::Paren(arg) = &next.kind {
                    if !name.diff && self.functions.contains(&name.full()) {
                        let a = self.expr(arg)?;
                        let shape = a.shape.clone();
                        let func = Func::Declared(name.full());
                        let e = Expr::new(Kind::Func { func, derivative: 0, arg: boxed(a) }, shape);
                        let joined = Node::new(NodeKind::Iota, items[i].span.join(next.span));
                        factors.push((joined, Some(e)));
                        i += 2;
                        continue;
                    }
                }
            }
            factors.push((items[i].clone(), None));
            i += 1;
        }
        let mut done: Vec<(Node, Expr)> = Vec::with_capacity(factors.len());
        for (node, e) in factors {
            let e = match e {
                Some(e) => e,
                None => self.expr(&node)?,
            };
            done.push((node, e));
        }
        // A literal 1 next to a tensor, or next to a scalar that is not a number (`λ1`),
        // is the ones vector.
        let ones_neighbour = |e: &Expr| !e.is_scalar() || !matches!(e.kind, Kind::Const(_));
        for k in 0..done.len() {
            if is_literal_one(&done[k].0) && done[k].1.is_scalar() {
                let left = k > 0 && ones_neighbour(&done[k - 1].1);
                let right = k + 1 < done.len() && ones_neighbour(&done[k + 1].1);
                if left || right {
                    done[k].1 = Expr::new(Kind::Ones, vec![self.u.fresh()]);
                }
            }
        }
        let mut iter = done.into_iter();
        let (first_node, mut acc) = iter.next().expect("a product has operands");
        let mut acc_span = first_node.span;
        for (node, e) in iter {
            acc = self.product(acc, e, acc_span, node.span)?;
            acc_span = acc_span.join(node.span);
        }
        Ok(acc)
    }

    /// The classic product `a b`: scaling if either is a scalar, else a matrix product
    /// with vectors as columns and `xᵀ` as a row.
    fn product(&mut self, a: Expr, b: Expr, a_span: Span, b_span: Span) -> Result<Expr> {
        let span = a_span.join(b_span);
        if a.is_scalar() || b.is_scalar() {
            let shape = if a.is_scalar() { b.shape.clone() } else { a.shape.clone() };
            return Ok(Expr::new(Kind::Product(boxed(a), boxed(b)), shape));
        }
        for (e, s) in [(&a, a_span), (&b, b_span)] {
            if e.order() > 2 {
                let shown = self.u.show(&e.shape);
                return Err(err(
                    ErrorCode::Shape,
                    format!("a matrix product needs vectors or matrices, but this has shape {shown}"),
                    s,
                )
                .hint("contract tensors with `·_k`, `⊙_k`, `A^{P}⊙^{Q}B` or einsum"));
            }
        }
        let as_matrix = |e: &Expr| -> (Dim, Dim) {
            if e.order() == 1 {
                (e.shape[0].clone(), Dim::Iota)
            } else {
                (e.shape[0].clone(), e.shape[1].clone())
            }
        };
        let (ar, ac) = as_matrix(&a);
        let (br, bc) = as_matrix(&b);
        if self.u.unify(&ac, &br, span).is_err() {
            let (sa, sb) = (self.u.show(&a.shape), self.u.show(&b.shape));
            let hint = if a.order() == 1 && b.order() == 1 {
                "for an inner product write xᵀy, for an outer product xyᵀ, for a tensor product x ⊗ y".to_string()
            } else if a.order() == 1 {
                "a vector is a column; to multiply from the left use its transpose, xᵀA".to_string()
            } else {
                "the columns of the left factor must match the rows of the right one".to_string()
            };
            return Err(err(
                ErrorCode::Shape,
                format!("cannot multiply shape {sa} by shape {sb}: inner dimensions differ"),
                b_span,
            )
            .hint(hint));
        }
        let (r0, r1) = (self.u.resolve(&ar), self.u.resolve(&bc));
        let shape = match (r0 == Dim::Iota, r1 == Dim::Iota) {
            (true, true) => vec![],
            (false, true) => vec![ar],
            _ => vec![ar, bc],
        };
        Ok(Expr::new(Kind::Product(boxed(a), boxed(b)), shape))
    }

    fn binary(&mut self, op: &BinOp, op_span: Span, lhs: &Node, rhs: &Node) -> Result<Expr> {
        if *op == BinOp::MatMul {
            return self.classic_product(&[lhs.clone(), rhs.clone()]);
        }
        let a = self.expr(lhs)?;
        let b = self.expr(rhs)?;
        match op {
            BinOp::MatMul => unreachable!(),
            BinOp::Div => {
                if !b.is_scalar() {
                    let shown = self.u.show(&b.shape);
                    return Err(err(
                        ErrorCode::Shape,
                        format!("`/` divides by a scalar, but the divisor has shape {shown}"),
                        rhs.span,
                    )
                    .hint("for element-wise division use `⊘` or `./`; for an inverse use `X⁻¹`"));
                }
                if let (Kind::Const(x), Kind::Const(y)) = (&a.kind, &b.kind) {
                    if y.is_zero() {
                        return Err(err(ErrorCode::Shape, "division by zero", rhs.span));
                    }
                    // `1/2` is the number one half.
                    return Ok(Expr::new(Kind::Const(x / y), vec![]));
                }
                let shape = a.shape.clone();
                Ok(Expr::new(Kind::DivScalar(boxed(a), boxed(b)), shape))
            }
            BinOp::Hadamard | BinOp::HDiv => {
                let b = self.broadcast_one(rhs, b, &a.shape.clone());
                let a = self.broadcast_one(lhs, a, &b.shape.clone());
                let symbol = if *op == BinOp::Hadamard { "⊙" } else { "⊘" };
                self.same_shape(&a, &b, symbol, op_span)?;
                let shape = a.shape.clone();
                let kind = if *op == BinOp::Hadamard {
                    Kind::Hadamard(boxed(a), boxed(b))
                } else {
                    Kind::HDiv(boxed(a), boxed(b))
                };
                Ok(Expr::new(kind, shape))
            }
            BinOp::Kron => {
                let mut shape = a.shape.clone();
                shape.extend(b.shape.iter().cloned());
                Ok(Expr::new(Kind::Kron(boxed(a), boxed(b)), shape))
            }
            BinOp::Dot => {
                self.same_shape(&a, &b, "·", op_span)?;
                Ok(Expr::new(Kind::Dot(boxed(a), boxed(b)), vec![]))
            }
            BinOp::DotK(k) | BinOp::HadK(k) => {
                let dot = matches!(op, BinOp::DotK(_));
                let (kk, form) = match k {
                    Shortcut::K(k) => (*k, GenForm::K(*k)),
                    Shortcut::Right => (b.order(), GenForm::Right),
                    Shortcut::Left => (a.order(), GenForm::Left),
                };
                if kk > a.order() || kk > b.order() {
                    return Err(err(
                        ErrorCode::Shape,
                        format!(
                            "`_{kk}` pairs the last {kk} dims of the left operand (it has {}) with the \
                             first {kk} of the right one (it has {})",
                            a.order(),
                            b.order()
                        ),
                        op_span,
                    ));
                }
                let n = a.order();
                let left = (n - kk + 1..=n).map(|at| Pos { at, bar: dot }).collect();
                let right = (1..=kk).map(|at| Pos { at, bar: dot }).collect();
                self.gen(a, b, left, right, dot, form, op_span)
            }
            BinOp::Gen { left, right, dot } => {
                let l = read_positions(left, op_span)?;
                let r = read_positions(right, op_span)?;
                let flat = |groups: Vec<PosGroup>| -> Result<Vec<Pos>> {
                    groups
                        .into_iter()
                        .map(|g| {
                            if g.positions.len() != 1 {
                                Err(err(ErrorCode::Syntax, "fused positions `[…]` are not allowed here", op_span))
                            } else {
                                Ok(Pos { at: g.positions[0], bar: g.bar || *dot })
                            }
                        })
                        .collect()
                };
                let (mut l, mut r) = (flat(l)?, flat(r)?);
                if l.len() != r.len() {
                    return Err(err(
                        ErrorCode::Shape,
                        format!("the two position lists have different lengths ({} and {})", l.len(), r.len()),
                        op_span,
                    )
                    .hint("`A^{P} ⊙^{Q} B` pairs the positions of P and Q one by one"));
                }
                for k in 0..l.len() {
                    let bar = l[k].bar || r[k].bar;
                    l[k].bar = bar;
                    r[k].bar = bar;
                }
                self.gen(a, b, l, r, *dot, GenForm::Explicit, op_span)
            }
        }
    }

    fn same_shape(&mut self, a: &Expr, b: &Expr, symbol: &str, span: Span) -> Result<()> {
        self.u.unify_shapes(&a.shape, &b.shape, span).map_err(|x| {
            let (sa, sb) = (self.u.show(&a.shape), self.u.show(&b.shape));
            err(ErrorCode::Shape, format!("`{symbol}` needs equal shapes, but they are {sa} and {sb}"), span)
                .hint(x.hint.unwrap_or(x.message))
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn gen(
        &mut self,
        a: Expr,
        b: Expr,
        left: Vec<Pos>,
        right: Vec<Pos>,
        dot: bool,
        form: GenForm,
        span: Span,
    ) -> Result<Expr> {
        for (list, e, side) in [(&left, &a, "left"), (&right, &b, "right")] {
            let mut seen = IndexSet::new();
            for p in list {
                if p.at == 0 || p.at > e.order() {
                    return Err(err(
                        ErrorCode::Shape,
                        format!("position {} is out of range: the {side} operand has {} dims", p.at, e.order()),
                        span,
                    ));
                }
                if !seen.insert(p.at) {
                    return Err(err(ErrorCode::Shape, format!("position {} is named twice", p.at), span));
                }
            }
        }
        for (p, q) in left.iter().zip(&right) {
            let (da, db) = (a.shape[p.at - 1].clone(), b.shape[q.at - 1].clone());
            self.u.unify(&da, &db, span).map_err(|x| {
                err(
                    ErrorCode::Shape,
                    format!("dim {} of the left operand does not match dim {} of the right one", p.at, q.at),
                    span,
                )
                .hint(x.message)
            })?;
        }
        let mut shape = Vec::new();
        for (k, d) in a.shape.iter().enumerate() {
            if !left.iter().any(|p| p.at == k + 1 && p.bar) {
                shape.push(d.clone());
            }
        }
        for (k, d) in b.shape.iter().enumerate() {
            if !right.iter().any(|q| q.at == k + 1) {
                shape.push(d.clone());
            }
        }
        Ok(Expr::new(Kind::Gen { lhs: boxed(a), rhs: boxed(b), left, right, dot, form }, shape))
    }

    fn postfix(&mut self, op: &PostOp, op_span: Span, arg: &Node) -> Result<Expr> {
        let a = self.expr(arg)?;
        let a = if matches!(op, PostOp::Transpose) && is_literal_one(arg) {
            Expr::new(Kind::Ones, vec![self.u.fresh()])
        } else {
            a
        };
        // `βᵀ` of a Greek letter that is a scalar only by default: say so.
        if let (PostOp::Transpose, NodeKind::Name(name), Kind::Var(v)) = (op, &arg.kind, &a.kind) {
            let by_default = self.vars.get(v).is_some_and(|i| !i.declared && !i.defined && i.shape.is_empty());
            if by_default && !name.base.starts_with(|c: char| c.is_ascii()) {
                let word =
                    crate::read::parse::GREEK.iter().find(|(_, l)| name.base.starts_with(l)).map_or("beta", |(w, _)| w);
                self.notes.push(format!(
                    "`{v}` is a scalar, as Greek letters are unless declared, so `{v}ᵀ` is `{v}`; \
                     declare `{word}: vector` if it is a vector"
                ));
            }
        }
        self.apply_postfix(op, op_span, a, arg.span)
    }

    fn apply_postfix(&mut self, op: &PostOp, op_span: Span, a: Expr, span: Span) -> Result<Expr> {
        let arg_span = span;
        match op {
            PostOp::Transpose => self.transpose(a, op_span),
            PostOp::Inverse => self.inverse(a, arg_span),
            PostOp::InvTranspose => {
                let inv = self.inverse(a, arg_span)?;
                self.transpose(inv, op_span)
            }
            PostOp::Power(k) => self.power(a, k, arg_span, op_span),
            PostOp::HPower(p) => {
                let shape = a.shape.clone();
                Ok(Expr::new(Kind::HPower(boxed(a), p.clone()), shape))
            }
            PostOp::Subscript(text) => self.rearrange(a, text, op_span, span),
        }
    }

    fn transpose(&mut self, a: Expr, span: Span) -> Result<Expr> {
        let shape = match a.order() {
            0 => return Ok(a),
            1 => vec![Dim::Iota, a.shape[0].clone()],
            2 if self.u.resolve(&a.shape[0]) == Dim::Iota => vec![a.shape[1].clone()],
            2 => vec![a.shape[1].clone(), a.shape[0].clone()],
            n => {
                let perm: String = (1..=n).rev().map(|k| k.to_string()).collect();
                return Err(err(
                    ErrorCode::Shape,
                    format!("`ᵀ` transposes vectors and matrices; this has {n} dims"),
                    span,
                )
                .hint(format!("permute the dims with a subscript, e.g. `(T)_{{{perm}}}`")));
            }
        };
        Ok(Expr::new(Kind::Transpose(boxed(a)), shape))
    }

    fn inverse(&mut self, a: Expr, span: Span) -> Result<Expr> {
        if !a.is_scalar() {
            self.square(&a, "an inverse", span)?;
        }
        let shape = a.shape.clone();
        Ok(Expr::new(Kind::Inverse(boxed(a)), shape))
    }

    fn power(&mut self, a: Expr, k: &BigRational, span: Span, op_span: Span) -> Result<Expr> {
        if a.is_scalar() {
            return Ok(Expr::new(Kind::Power(boxed(a), k.clone()), vec![]));
        }
        if a.order() == 1 {
            return Err(err(ErrorCode::Shape, "a vector has no matrix power", op_span)
                .hint("for an element-wise power write `x.^2`; for the squared norm `||x||^2`"));
        }
        self.square(&a, "a matrix power", span)?;
        let small = k.to_integer().abs() <= BigInt::from(limits::MAX_POWER);
        if !k.is_integer() || !small {
            return Err(err(
                ErrorCode::Shape,
                format!("a matrix power must be an integer from -{0} to {0}", limits::MAX_POWER),
                op_span,
            )
            .hint("for an element-wise power write `X.^p`"));
        }
        let shape = a.shape.clone();
        Ok(Expr::new(Kind::Power(boxed(a), k.clone()), shape))
    }

    /// `(e)_{P}`: a permutation, or with fused groups and bars, a one-factor network.
    fn rearrange(&mut self, a: Expr, text: &str, op_span: Span, span: Span) -> Result<Expr> {
        let groups = read_positions(text, op_span)?;
        let n = a.order();
        let mut used = vec![false; n];
        for g in &groups {
            for &p in &g.positions {
                if p == 0 || p > n {
                    return Err(err(
                        ErrorCode::Bracket,
                        format!("position {p} is out of range: the tensor has {n} dims"),
                        op_span,
                    ));
                }
                if std::mem::replace(&mut used[p - 1], true) {
                    return Err(err(ErrorCode::Bracket, format!("position {p} is used twice"), op_span));
                }
            }
        }
        if used.iter().any(|u| !u) {
            return Err(err(ErrorCode::Bracket, format!("the subscript must use each of the {n} dims once"), op_span)
                .hint("write every position, e.g. `_{21}` for a transpose"));
        }
        let simple = groups.iter().all(|g| g.positions.len() == 1 && !g.bar);
        if simple {
            let perm: Vec<usize> = groups.iter().map(|g| g.positions[0] - 1).collect();
            let shape = perm.iter().map(|&p| a.shape[p].clone()).collect();
            return Ok(Expr::new(Kind::Permute(boxed(a), perm), shape));
        }
        let mut indices = Vec::new();
        let mut slots = vec![0usize; n];
        let mut output = Vec::new();
        for g in &groups {
            let id = indices.len();
            indices.push(a.shape[g.positions[0] - 1].clone());
            for &p in &g.positions {
                self.u.unify(&a.shape[p - 1], &a.shape[g.positions[0] - 1], span)?;
                slots[p - 1] = id;
            }
            if !g.bar {
                output.push(id);
            }
        }
        let shape = output.iter().map(|&i| indices[i].clone()).collect();
        let net = Network {
            factors: vec![Factor { expr: a, slots }],
            indices,
            output,
            origin: Origin::Subscript(text.to_string()),
        };
        Ok(Expr::new(Kind::Network(Box::new(net)), shape))
    }

    fn call(&mut self, func: Builtin, prime: bool, sup: Option<&str>, args: &[Node], span: Span) -> Result<Expr> {
        let want = if matches!(func, Builtin::Dot | Builtin::Kron) { 2 } else { 1 };
        let name = builtin_name(func);
        if args.len() != want {
            return Err(err(
                ErrorCode::Shape,
                format!("`{name}` takes {want} argument{}, not {}", if want == 1 { "" } else { "s" }, args.len()),
                span,
            ));
        }
        if matches!(func, Builtin::Eye | Builtin::Ones) {
            let d = self.size_arg(func, &args[0], span)?;
            return Ok(match func {
                Builtin::Eye => Expr::new(Kind::Identity, vec![d.clone(), d]),
                _ => Expr::new(Kind::Ones, vec![d]),
            });
        }
        let elementwise = builtin_func(func);
        if prime && elementwise.is_none() {
            return Err(err(ErrorCode::Unsupported, format!("`{name}'` is not defined"), span)
                .hint("a prime is the derivative of an element-wise function"));
        }
        if sup.is_some() && elementwise.is_none() && func != Builtin::Softmax {
            return Err(err(ErrorCode::Syntax, format!("`{name}` takes no superscript"), span));
        }
        let mut a = self.expr(&args[0])?;
        // `diag(1)` is the diagonal of a ones vector: the identity.
        if func == Builtin::Diag && is_literal_one(&args[0]) {
            a = Expr::new(Kind::Ones, vec![self.u.fresh()]);
        }
        if let Some(f) = elementwise {
            let shape = a.shape.clone();
            let e = Expr::new(Kind::Func { func: f, derivative: u8::from(prime), arg: boxed(a) }, shape.clone());
            return match sup {
                None => Ok(e),
                Some(text) => {
                    let p = read_superscript_power(text, span)?;
                    Ok(Expr::new(Kind::HPower(boxed(e), p), shape))
                }
            };
        }
        let arg_span = args[0].span;
        match func {
            Builtin::Trace => {
                self.square(&a, "a trace", arg_span)?;
                Ok(Expr::new(Kind::Trace(boxed(a)), vec![]))
            }
            Builtin::Det => {
                self.square(&a, "a determinant", arg_span)?;
                Ok(Expr::new(Kind::Det(boxed(a)), vec![]))
            }
            Builtin::Softmax => {
                if a.is_scalar() {
                    return Err(err(ErrorCode::Shape, "softmax needs a vector or a tensor, not a scalar", arg_span));
                }
                let positions = match sup {
                    None => (1..a.order()).collect(),
                    Some(text) => self.sub_positions(text, a.order(), span)?,
                };
                self.softmax(a, positions)
            }
            Builtin::Diag => match a.order() {
                1 => {
                    let d = a.shape[0].clone();
                    Ok(Expr::new(Kind::Diag(boxed(a)), vec![d.clone(), d]))
                }
                2 => {
                    self.square(&a, "diag of a matrix", arg_span)?;
                    let d = a.shape[0].clone();
                    Ok(Expr::new(Kind::Diag(boxed(a)), vec![d]))
                }
                _ => Err(err(ErrorCode::Shape, "diag takes a vector or a square matrix", arg_span)),
            },
            Builtin::Sum => Ok(Expr::new(Kind::Sum(boxed(a)), vec![])),
            Builtin::Inv => {
                if a.is_scalar() {
                    return Ok(Expr::new(Kind::Inverse(boxed(a)), vec![]));
                }
                self.square(&a, "an inverse", arg_span)?;
                let shape = a.shape.clone();
                Ok(Expr::new(Kind::Inverse(boxed(a)), shape))
            }
            Builtin::LogDet => {
                self.square(&a, "a determinant", arg_span)?;
                let det = Expr::new(Kind::Det(boxed(a)), vec![]);
                Ok(Expr::new(Kind::Func { func: Func::Ln, derivative: 0, arg: boxed(det) }, vec![]))
            }
            Builtin::LogSumExp => {
                let shape = a.shape.clone();
                let exp = Expr::new(Kind::Func { func: Func::Exp, derivative: 0, arg: boxed(a) }, shape);
                let sum = Expr::new(Kind::Sum(boxed(exp)), vec![]);
                Ok(Expr::new(Kind::Func { func: Func::Ln, derivative: 0, arg: boxed(sum) }, vec![]))
            }
            Builtin::Norm => Ok(Expr::new(Kind::Norm(boxed(a)), vec![])),
            Builtin::Dot | Builtin::Kron => {
                let b = self.expr(&args[1])?;
                if func == Builtin::Dot {
                    self.same_shape(&a, &b, "dot", span)?;
                    Ok(Expr::new(Kind::Dot(boxed(a), boxed(b)), vec![]))
                } else {
                    let mut shape = std::mem::take(&mut a.shape);
                    a.shape = shape.clone();
                    shape.extend(b.shape.iter().cloned());
                    Ok(Expr::new(Kind::Kron(boxed(a), boxed(b)), shape))
                }
            }
            _ => unreachable!("element-wise functions handled above"),
        }
    }

    /// The size of `eye(n)`, `ones(3)`, `1_n`.
    fn size_arg(&mut self, func: Builtin, arg: &Node, span: Span) -> Result<Dim> {
        let size = match &arg.kind {
            NodeKind::Number { value, barred: false, .. } if value.is_integer() && value.is_positive() => {
                num_traits::ToPrimitive::to_u64(&value.to_integer()).map(Dim::Int)
            }
            NodeKind::Name(name) if !name.diff && !name.bar && name.tag.is_none() && name.portion.is_none() => {
                Some(Dim::Sym(name.full()))
            }
            _ => None,
        };
        let name = builtin_name(func);
        let Some(d) = size else {
            return Err(err(
                ErrorCode::Shape,
                format!("`{name}` takes a size: a positive whole number or a name"),
                arg.span,
            )
            .hint(format!("write `{name}(n)` or `{name}(3)`, or `I` and `1` to let the size be inferred")));
        };
        if let Dim::Int(n) = d {
            if n as usize > limits::MAX_EVAL_ENTRIES {
                return Err(err(ErrorCode::Limit, format!("the size {n} is too large"), span));
            }
        }
        Ok(d)
    }

    fn sub_positions(&mut self, text: &str, order: usize, span: Span) -> Result<Vec<usize>> {
        let groups = read_positions(text, span)?;
        let mut out = Vec::new();
        for g in groups {
            if g.positions.len() != 1 || g.bar {
                return Err(err(ErrorCode::Syntax, "sub-tensor positions are plain numbers", span));
            }
            let p = g.positions[0];
            if p == 0 || p >= order + 1 || out.contains(&p) {
                return Err(err(
                    ErrorCode::Shape,
                    format!("position {p} is out of range or repeated: the argument has {order} dims"),
                    span,
                ));
            }
            out.push(p);
        }
        if out.len() >= order {
            return Err(err(ErrorCode::Shape, "the positions leave no dims for the function to act on", span)
                .hint("`s^1(A)` applies softmax to each row of a matrix"));
        }
        Ok(out)
    }

    fn softmax(&mut self, a: Expr, positions: Vec<usize>) -> Result<Expr> {
        let mut shape: Shape = positions.iter().map(|&p| a.shape[p - 1].clone()).collect();
        for (k, d) in a.shape.iter().enumerate() {
            if !positions.contains(&(k + 1)) {
                shape.push(d.clone());
            }
        }
        Ok(Expr::new(Kind::Softmax { positions, arg: boxed(a) }, shape))
    }

    fn sub_call(&mut self, name: &NameRef, name_span: Span, positions: &str, arg: &Node, span: Span) -> Result<Expr> {
        let full = name.full();
        let declared_function = self.functions.contains(&full);
        let softmax = full == "s" && !self.decls.contains_key("s") && !self.vars.contains_key("s");
        if softmax || declared_function {
            let a = self.expr(arg)?;
            let positions = self.sub_positions(positions, a.order(), span)?;
            if softmax {
                return self.softmax(a, positions);
            }
            // An element-wise function applied to sub-tensors is element-wise; only the
            // order of dims changes.
            let mut perm: Vec<usize> = positions.iter().map(|p| p - 1).collect();
            perm.extend((0..a.order()).filter(|k| !positions.contains(&(k + 1))));
            let shape = a.shape.clone();
            let f = Expr::new(Kind::Func { func: Func::Declared(full), derivative: 0, arg: boxed(a) }, shape);
            let shape = perm.iter().map(|&p| f.shape[p].clone()).collect();
            return Ok(Expr::new(Kind::Permute(boxed(f), perm), shape));
        }
        // Not a function: `λ^2(A + B)` is a power times a parenthesised factor.
        let k = read_number(positions, name_span)?;
        let base = self.name(name, name_span)?;
        let powered = self.power(base, &k, name_span, name_span)?;
        let rest = self.expr(arg)?;
        self.product(powered, rest, name_span, arg.span).map_err(|e| e.or_span(span))
    }

    fn einsum(&mut self, spec: &str, spec_span: Span, args: &[Node]) -> Result<Expr> {
        let bad = |msg: String| err(ErrorCode::Syntax, msg, spec_span);
        let clean: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
        if clean.contains("...") || clean.contains('.') {
            return Err(bad("einsum ellipses `...` are not supported".into()).hint("name every index with a letter"));
        }
        let (inputs, output) = match clean.split_once("->") {
            Some((i, o)) => (i.to_string(), Some(o.to_string())),
            None => (clean.clone(), None),
        };
        let operands: Vec<&str> = inputs.split(',').collect();
        if operands.len() != args.len() {
            return Err(bad(format!(
                "the specification names {} operands but {} are given",
                operands.len(),
                args.len()
            ))
            .hint("write one comma-separated group of letters per operand, e.g. \"ij,jk->ik\""));
        }
        for c in clean.chars() {
            if !(c.is_alphabetic() || c == ',' || c == '-' || c == '>') {
                return Err(
                    bad(format!("`{c}` is not an index letter")).hint("indices are letters, e.g. \"ij,jk->ik\"")
                );
            }
        }
        let mut letters: IndexMap<char, usize> = IndexMap::new();
        let mut indices: Vec<Dim> = Vec::new();
        let mut factors = Vec::new();
        let mut counts: IndexMap<char, usize> = IndexMap::new();
        for (k, (letters_k, node)) in operands.iter().zip(args).enumerate() {
            let chars: Vec<char> = letters_k.chars().collect();
            // A `1` operand is a ones tensor with as many dims as it has letters.
            let e = if is_literal_one(node) {
                Expr::new(Kind::Ones, chars.iter().map(|_| self.u.fresh()).collect())
            } else {
                self.expr(node)?
            };
            if chars.len() != e.order() {
                let shown = self.u.show(&e.shape);
                return Err(bad(format!(
                    "operand {} has {} dims ({shown}) but \"{letters_k}\" names {}",
                    k + 1,
                    e.order(),
                    chars.len()
                )));
            }
            let mut slots = Vec::new();
            for (p, c) in chars.iter().enumerate() {
                *counts.entry(*c).or_insert(0) += 1;
                let id = match letters.get(c) {
                    Some(&id) => {
                        let d = indices[id].clone();
                        self.u.unify(&d, &e.shape[p], node.span).map_err(|x| {
                            err(
                                ErrorCode::Shape,
                                format!("index `{c}` has different sizes in different operands"),
                                node.span,
                            )
                            .hint(x.message)
                        })?;
                        id
                    }
                    None => {
                        letters.insert(*c, indices.len());
                        indices.push(e.shape[p].clone());
                        indices.len() - 1
                    }
                };
                slots.push(id);
            }
            factors.push(Factor { expr: e, slots });
        }
        let out_letters: Vec<char> = match output {
            Some(o) => o.chars().collect(),
            None => {
                let mut once: Vec<char> = counts.iter().filter(|(_, n)| **n == 1).map(|(c, _)| *c).collect();
                once.sort_unstable();
                once
            }
        };
        let mut output_ids = Vec::new();
        for c in out_letters {
            let Some(&id) = letters.get(&c) else {
                return Err(bad(format!("output index `{c}` appears in no operand")));
            };
            if output_ids.contains(&id) {
                return Err(bad(format!("output index `{c}` appears twice")));
            }
            output_ids.push(id);
        }
        let shape = output_ids.iter().map(|&i| indices[i].clone()).collect();
        let net = Network { factors, indices, output: output_ids, origin: Origin::Einsum(spec.to_string()) };
        Ok(Expr::new(Kind::Network(Box::new(net)), shape))
    }

    // ------------------------------------------------------------------ bracket terms

    fn bracket(&mut self, items: &[Node], span: Span) -> Result<Expr> {
        let mut b = BracketBuilder::default();
        let mut handles = Vec::new();
        for item in items {
            let h = self.member(&mut b, item, false)?;
            handles.extend(h);
        }
        b.check_complete(self)?;
        let mut output = Vec::new();
        for h in handles {
            let root = b.find(h);
            if b.summed[root] {
                continue;
            }
            if output.contains(&root) {
                return Err(err(ErrorCode::Bracket, "a dimension stands twice in the result", span)
                    .hint("a square bracket joins dims; a dim may stand in the result only once"));
            }
            output.push(root);
        }
        // Renumber the index roots densely, in order of first use.
        let mut renumber: IndexMap<usize, usize> = IndexMap::new();
        let mut factors = Vec::new();
        for f in &b.factors {
            let slots = f
                .slots
                .iter()
                .map(|&s| {
                    let r = b.find_const(s);
                    let n = renumber.len();
                    *renumber.entry(r).or_insert(n)
                })
                .collect();
            factors.push(Factor { expr: f.expr.clone(), slots });
        }
        for &r in &output {
            let n = renumber.len();
            renumber.entry(r).or_insert(n);
        }
        let indices: Vec<Dim> = renumber.keys().map(|&r| b.dims[r].clone()).collect();
        let output: Vec<usize> = output.iter().map(|r| renumber[r]).collect();
        let shape = output.iter().map(|&i| indices[i].clone()).collect();
        if factors.is_empty() && output.is_empty() {
            return Err(err(ErrorCode::Bracket, "this bracket term has no tensors", span));
        }
        let net = Network { factors, indices, output, origin: Origin::Bracket };
        Ok(Expr::new(Kind::Network(Box::new(net)), shape))
    }

    /// Elaborates one member of a bracket term; returns its dims as index handles.
    fn member(&mut self, b: &mut BracketBuilder, n: &Node, in_square: bool) -> Result<Vec<usize>> {
        match &n.kind {
            NodeKind::Bar(inner) => {
                let hs = self.member(b, inner, in_square)?;
                for &h in &hs {
                    let r = b.find(h);
                    b.summed[r] = true;
                }
                Ok(hs)
            }
            NodeKind::Name(name) if !self.functions.contains(&name.full()) => {
                let hs = self.portion(b, name, n.span)?;
                if name.bar {
                    for &h in &hs {
                        let r = b.find(h);
                        b.summed[r] = true;
                    }
                }
                Ok(hs)
            }
            NodeKind::Number { value, barred, text } => {
                if text == "1" {
                    // A ones tensor; its width is fixed by the enclosing square bracket.
                    let h = b.new_index(self.u.fresh());
                    if *barred {
                        b.summed[h] = true;
                    }
                    b.pending_ones.push((h, n.span));
                    return Ok(vec![h]);
                }
                if *barred {
                    return Err(err(ErrorCode::Bracket, "only `1` can be barred among numbers", n.span));
                }
                b.factors.push(BFactor {
                    expr: Expr::new(Kind::Const(value.clone()), vec![]),
                    slots: vec![],
                    used: vec![],
                    key: String::new(),
                    span: n.span,
                });
                Ok(vec![])
            }
            NodeKind::OnesLead => {
                let h = b.new_index(self.u.fresh());
                b.pending_ones.push((h, n.span));
                Ok(vec![h])
            }
            NodeKind::Iota => Ok(vec![b.new_index(Dim::Iota)]),
            NodeKind::Square(inner) => {
                let members: Vec<&Node> = match &inner.kind {
                    NodeKind::Juxt(items) => items.iter().collect(),
                    _ => vec![inner.as_ref()],
                };
                let mut lists = Vec::new();
                for m in &members {
                    let before = b.pending_ones.len();
                    let hs = self.member(b, m, true)?;
                    let ones_only = b.pending_ones.len() > before && hs.len() == 1 && is_literal_one(m);
                    lists.push((hs, ones_only, m.span));
                }
                let width = lists.iter().find(|(_, ones, _)| !ones).map(|(h, _, _)| h.len());
                let Some(width) = width else {
                    return Err(err(ErrorCode::Bracket, "a square bracket needs a tensor besides `1`", n.span));
                };
                // Widen ones members to the bracket's width.
                for (hs, _, _) in lists.iter_mut().filter(|(_, ones, _)| *ones) {
                    let first = hs[0];
                    let root = b.find(first);
                    let barred = b.summed[root];
                    while hs.len() < width {
                        let h = b.new_index(self.u.fresh());
                        b.summed[h] = barred;
                        b.ones_extra.insert(first, h);
                        hs.push(h);
                    }
                }
                let first = lists.iter().find(|(_, ones, _)| !ones).expect("width member").clone();
                for (hs, _, s) in &lists {
                    if hs.len() != width {
                        return Err(err(
                            ErrorCode::Bracket,
                            format!(
                                "the members of a square bracket must have the same number of dims, \
                                 but one has {} and another {}",
                                first.0.len(),
                                hs.len()
                            ),
                            *s,
                        )
                        .hint("every member contributes its dims to the shared indices one by one"));
                    }
                    for (x, y) in first.0.iter().zip(hs) {
                        b.union(self, *x, *y, *s)?;
                    }
                }
                Ok(first.0.iter().map(|&h| b.find(h)).collect())
            }
            NodeKind::Paren(inner) if is_group(inner) && !self.applies_function(inner) => {
                let items: Vec<&Node> = match &inner.kind {
                    NodeKind::Juxt(items) => items.iter().collect(),
                    _ => vec![inner.as_ref()],
                };
                let mut out = Vec::new();
                for m in items {
                    out.extend(self.member(b, m, in_square)?);
                }
                Ok(out)
            }
            NodeKind::Embed { inner, bar, tag, sub } => {
                let e = self.expr(inner)?;
                let text: String =
                    self.source[inner.span.start..inner.span.end].chars().filter(|c| !c.is_whitespace()).collect();
                let key = format!("{{{text}}}");
                let hs = self.occurrence_portion(b, e, key, *tag, sub.as_deref(), n.span)?;
                if *bar {
                    for &h in &hs {
                        let r = b.find(h);
                        b.summed[r] = true;
                    }
                }
                Ok(hs)
            }
            NodeKind::Neg(_) => Err(err(ErrorCode::Bracket, "a sign cannot stand inside a bracket term", n.span)
                .hint("put the sign in front of the whole term: `-[A B]`")),
            _ => {
                // Classic notation inside a bracket term: one whole occurrence.
                let e = self.expr(n)?;
                let key = format!("#{}", b.factors.len());
                self.occurrence_portion(b, e, key, None, None, n.span)
            }
        }
    }

    fn portion(&mut self, b: &mut BracketBuilder, name: &NameRef, span: Span) -> Result<Vec<usize>> {
        if name.portion.is_some() && name.sub.as_deref().is_some_and(is_structural_subscript) {
            return Err(err(ErrorCode::Bracket, format!("`{}` has two portion subscripts", name.full()), span)
                .hint("a second subscript is the portion of a subscripted name such as `W_1_2`"));
        }
        let (tensor, sub) = if name.portion.is_some() {
            (NameRef { portion: None, ..name.clone() }, name.portion.clone())
        } else if self.is_portion(name, true) {
            (NameRef { sub: None, ..name.clone() }, name.sub.clone())
        } else {
            (name.clone(), None)
        };
        let e = if self.functions.contains(&tensor.full()) {
            return Err(err(ErrorCode::Shape, format!("`{}` is a function", tensor.full()), span));
        } else {
            self.name(&NameRef { bar: false, tag: None, ..tensor.clone() }, span)?
        };
        let key = match &e.kind {
            Kind::Diff(n) => format!("d{n}"),
            Kind::Var(n) => n.clone(),
            _ => "I".to_string(),
        };
        self.occurrence_portion(b, e, key, name.tag, sub.as_deref(), span)
    }

    /// Adds a portion of an occurrence of `e` (keyed by name) and returns its handles.
    fn occurrence_portion(
        &mut self,
        b: &mut BracketBuilder,
        e: Expr,
        key: String,
        tag: Option<u32>,
        sub: Option<&str>,
        span: Span,
    ) -> Result<Vec<usize>> {
        let order = e.order();
        let groups = match sub {
            None => (1..=order).map(|p| PosGroup { positions: vec![p], bar: false }).collect(),
            Some(text) => read_positions(text, span)?,
        };
        for g in &groups {
            for &p in &g.positions {
                if p == 0 || p > order {
                    return Err(err(
                        ErrorCode::Bracket,
                        format!("portion position {p} is out of range: `{key}` has {order} dims"),
                        span,
                    )
                    .hint(format!("positions run from 1 to {order}")));
                }
            }
        }
        let wanted: Vec<usize> = groups.iter().flat_map(|g| g.positions.iter().copied()).collect();
        // Find the occurrence: by tag, or the current one unless a position repeats.
        let factor = match tag {
            Some(t) => {
                let k = format!("{key}@{t}");
                match b.tagged.get(&k) {
                    Some(&f) => f,
                    None => {
                        let f = b.new_factor(e, key.clone(), span);
                        b.tagged.insert(k, f);
                        f
                    }
                }
            }
            None => match b.current.get(&key) {
                Some(&f) if order > 0 && wanted.iter().all(|&p| !b.factors[f].used[p - 1]) && !key.starts_with('#') => {
                    f
                }
                _ => {
                    let f = b.new_factor(e, key.clone(), span);
                    b.current.insert(key.clone(), f);
                    f
                }
            },
        };
        let mut out = Vec::new();
        for g in &groups {
            let mut first = None;
            for &p in &g.positions {
                if std::mem::replace(&mut b.factors[factor].used[p - 1], true) {
                    return Err(err(
                        ErrorCode::Bracket,
                        format!("position {p} of `{key}` is used twice in one occurrence"),
                        span,
                    )
                    .hint("name the occurrence with a tag, e.g. `X@2_1`"));
                }
                let h = b.factors[factor].slots[p - 1];
                match first {
                    None => first = Some(h),
                    Some(f) => b.union(self, f, h, span)?,
                }
            }
            let h = b.find(first.expect("a group has a position"));
            if g.bar {
                b.summed[h] = true;
            }
            out.push(h);
        }
        Ok(out)
    }
}

/// Ones members waiting for their width, occurrences, and the index union-find.
#[derive(Default)]
struct BracketBuilder {
    factors: Vec<BFactor>,
    current: IndexMap<String, usize>,
    tagged: IndexMap<String, usize>,
    parent: Vec<usize>,
    dims: Vec<Dim>,
    summed: Vec<bool>,
    pending_ones: Vec<(usize, Span)>,
    ones_extra: IndexMap<usize, usize>,
}

struct BFactor {
    expr: Expr,
    slots: Vec<usize>,
    used: Vec<bool>,
    key: String,
    span: Span,
}

impl BracketBuilder {
    fn new_index(&mut self, d: Dim) -> usize {
        let id = self.parent.len();
        self.parent.push(id);
        self.dims.push(d);
        self.summed.push(false);
        id
    }

    fn new_factor(&mut self, e: Expr, key: String, span: Span) -> usize {
        let slots = e.shape.iter().map(|d| self.new_index(d.clone())).collect();
        let used = vec![false; e.order()];
        self.factors.push(BFactor { expr: e, slots, used, key, span });
        self.factors.len() - 1
    }

    fn find(&mut self, mut h: usize) -> usize {
        while self.parent[h] != h {
            self.parent[h] = self.parent[self.parent[h]];
            h = self.parent[h];
        }
        h
    }

    fn find_const(&self, mut h: usize) -> usize {
        while self.parent[h] != h {
            h = self.parent[h];
        }
        h
    }

    fn union(&mut self, el: &mut Elab, a: usize, b: usize, span: Span) -> Result<()> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Ok(());
        }
        let (da, db) = (self.dims[ra].clone(), self.dims[rb].clone());
        el.u.unify(&da, &db, span).map_err(|x| {
            err(ErrorCode::Shape, "dims joined by a square bracket have different sizes", span).hint(x.message)
        })?;
        let (keep, drop) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[drop] = keep;
        self.summed[keep] = self.summed[keep] || self.summed[drop];
        let resolved = el.u.resolve(&self.dims[keep]);
        self.dims[keep] = resolved;
        Ok(())
    }

    /// Every occurrence uses each of its dims once; ones tensors become factors.
    fn check_complete(&mut self, el: &mut Elab) -> Result<()> {
        for f in &self.factors {
            if f.used.iter().any(|u| !u) {
                let missing: Vec<String> =
                    f.used.iter().enumerate().filter(|(_, u)| !**u).map(|(k, _)| (k + 1).to_string()).collect();
                return Err(err(
                    ErrorCode::Bracket,
                    format!(
                        "unfinished occurrence: `{}` has {} dims but position{} {} {} not used",
                        f.key,
                        f.used.len(),
                        if missing.len() == 1 { "" } else { "s" },
                        missing.join(", "),
                        if missing.len() == 1 { "is" } else { "are" }
                    ),
                    f.span,
                )
                .hint("a bracket term must use every dim of every occurrence exactly once"));
            }
        }
        let pending = std::mem::take(&mut self.pending_ones);
        for (h, span) in pending {
            let mut slots = vec![h];
            let mut cur = h;
            while let Some(&next) = self.ones_extra.get(&cur) {
                slots.push(next);
                cur = next;
            }
            let shape: Shape = slots
                .iter()
                .map(|&s| {
                    let r = self.find(s);
                    el.u.resolve(&self.dims[r])
                })
                .collect();
            let used = vec![true; slots.len()];
            self.factors.push(BFactor { expr: Expr::new(Kind::Ones, shape), slots, used, key: "1".into(), span });
        }
        Ok(())
    }
}

/// A group of positions in a subscript or superscript: one result dim; several
/// positions in one group are fused (`[23]`); a barred group is summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosGroup {
    /// 1-based positions.
    pub positions: Vec<usize>,
    /// Summed.
    pub bar: bool,
}

/// Reads position lists: `12`, `1 2̄`, `1~2`, `1[23]`, `1,10`.
pub fn read_positions(text: &str, span: Span) -> Result<Vec<PosGroup>> {
    let comma = text.contains(',');
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<PosGroup> = Vec::new();
    let mut group: Option<PosGroup> = None;
    let mut pending_bar = false;
    let mut i = 0;
    let bad = |c: char| {
        err(ErrorCode::Syntax, format!("`{c}` cannot stand in a list of positions"), span)
            .hint("positions are digits, with `~` or an overline for a bar and `[…]` to fuse")
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | ',' => {}
            '~' => pending_bar = true,
            '\u{304}' | '\u{305}' => {
                // A bar after a position: on the last position read.
                let target = match group.as_mut() {
                    Some(g) => g,
                    None => out.last_mut().ok_or_else(|| bad(c))?,
                };
                target.bar = true;
            }
            '[' => {
                if group.is_some() {
                    return Err(bad(c));
                }
                group = Some(PosGroup { positions: vec![], bar: pending_bar });
                pending_bar = false;
            }
            ']' => {
                let g = group.take().ok_or_else(|| bad(c))?;
                if g.positions.len() < 2 {
                    return Err(err(ErrorCode::Syntax, "`[…]` fuses two or more positions", span));
                }
                out.push(g);
            }
            d if d.is_ascii_digit() => {
                let mut value = d.to_digit(10).unwrap_or(0) as usize;
                if comma {
                    while i + 1 < chars.len() && chars[i + 1].is_ascii_digit() {
                        i += 1;
                        value = value.saturating_mul(10).saturating_add(chars[i].to_digit(10).unwrap_or(0) as usize);
                    }
                }
                match group.as_mut() {
                    Some(g) => {
                        g.positions.push(value);
                        g.bar |= pending_bar;
                    }
                    None => out.push(PosGroup { positions: vec![value], bar: pending_bar }),
                }
                pending_bar = false;
            }
            other => return Err(bad(other)),
        }
        i += 1;
    }
    if group.is_some() {
        return Err(err(ErrorCode::Syntax, "a `[` in the positions is not closed", span));
    }
    if out.is_empty() {
        return Err(err(ErrorCode::Syntax, "the list of positions is empty", span));
    }
    Ok(out)
}

fn read_superscript_power(text: &str, span: Span) -> Result<BigRational> {
    if text.chars().all(|c| "⁻⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c)) {
        return Ok(crate::read::parse::superscript_value(text));
    }
    read_number(text, span)
}

fn read_number(text: &str, span: Span) -> Result<BigRational> {
    if text.chars().all(|c| "⁻⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c)) && !text.is_empty() {
        return Ok(crate::read::parse::superscript_value(text));
    }
    crate::read::parse::read_number(text, span)
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

fn is_greek_word(name: &str) -> bool {
    const WORDS: [&str; 20] = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa", "lambda", "mu", "nu", "xi",
        "rho", "sigma", "tau", "phi", "chi", "psi", "omega",
    ];
    let base = name.split('_').next().unwrap_or(name);
    WORDS.contains(&base)
}

fn show_counts(want: &[usize]) -> String {
    let parts: Vec<String> = want.iter().map(|n| n.to_string()).collect();
    match parts.len() {
        1 => parts[0].clone(),
        _ => format!("{} or {}", parts[..parts.len() - 1].join(", "), parts[parts.len() - 1]),
    }
}

fn builtin_name(func: Builtin) -> &'static str {
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
