//! The syntax tree: what the user typed, with a span on every node and no types yet.
//!
//! Built by `parse`, read by `elaborate`. Sums and juxtapositions are n-ary so that long
//! inputs stay shallow; every other construct nests at most `limits::MAX_DEPTH` deep.

use crate::error::Span;
use num_rational::BigRational;

/// A parsed input: declarations, definitions, facts, queries and expressions in order.
#[derive(Clone, Debug)]
pub struct Input {
    /// The statements.
    pub statements: Vec<Statement>,
    /// The text they were read from (spans index into it).
    pub source: String,
    /// How words of several letters were read (`Wq` as the product W q).
    pub notes: Vec<String>,
}

/// One statement.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum Statement {
    /// `A, B: matrix(n, n)`.
    Declaration(Declaration),
    /// `lhs = rhs`: a definition when lhs is a name, else a fact.
    Equation { lhs: Node, rhs: Node, span: Span },
    /// `grad J wrt W, b`.
    Grad { expr: Node, wrt: Vec<(String, Span)>, span: Span },
    /// An expression.
    Expr(Node),
}

/// `names: kind(args)`.
#[derive(Clone, Debug)]
pub struct Declaration {
    /// The declared names with their spans.
    pub names: Vec<(String, Span)>,
    /// `scalar`, `vector`, `matrix`, `tensor`, `symmetric`, `elementwise`, `like`.
    pub kind: String,
    /// Where the kind stands.
    pub kind_span: Span,
    /// Sizes, or the name of `like(Z)`.
    pub args: Vec<(String, Span)>,
    /// The whole declaration.
    pub span: Span,
}

/// A node of the syntax tree.
#[derive(Clone, Debug)]
pub struct Node {
    /// What it is.
    pub kind: NodeKind,
    /// Where it stands.
    pub span: Span,
    /// Nesting depth (1 for a leaf).
    pub depth: usize,
}

/// A name as written: `x`, `W_1`, `Z_{L-1}`, `dX̄_1`, `A@2_1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRef {
    /// Letter and digits (`x1`), a Greek letter (`λ`) or word (`lambda`).
    pub base: String,
    /// The subscript text, without `_` and braces.
    pub sub: Option<String>,
    /// `@k`: an explicit occurrence tag.
    pub tag: Option<u32>,
    /// Written with a bar.
    pub bar: bool,
    /// Written with a `d` in front: the differential of the name.
    pub diff: bool,
    /// A second subscript: the portion of a subscripted name (`W_1_2`).
    pub portion: Option<String>,
}

impl NameRef {
    /// The name with its subscript, as the user knows it: `W_1`, `Z_{L-1}`.
    pub fn full(&self) -> String {
        match &self.sub {
            None => self.base.clone(),
            Some(s) => subscripted(&self.base, s),
        }
    }
}

/// `base_s` with braces when `s` is longer than one character.
pub fn subscripted(base: &str, sub: &str) -> String {
    if sub.chars().count() == 1 || sub.chars().all(|c| c.is_ascii_digit()) {
        format!("{base}_{sub}")
    } else {
        format!("{base}_{{{sub}}}")
    }
}

/// Built-in functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    /// `tr`.
    Trace,
    /// `det`.
    Det,
    /// `ln`, `log`.
    Ln,
    /// `exp`.
    Exp,
    /// `tanh`.
    Tanh,
    /// `sigmoid`.
    Sigmoid,
    /// `sqrt`.
    Sqrt,
    /// `sin`.
    Sin,
    /// `cos`.
    Cos,
    /// `abs`.
    Abs,
    /// `relu`.
    Relu,
    /// `sign`.
    Sign,
    /// `softmax`.
    Softmax,
    /// `diag`.
    Diag,
    /// `sum`.
    Sum,
    /// `dot(A, B)`.
    Dot,
    /// `kron(a, b)`.
    Kron,
    /// `inv(X)`: `X⁻¹`.
    Inv,
    /// `logdet(X)`: `ln det(X)`.
    LogDet,
    /// `eye(n)`: the n×n identity.
    Eye,
    /// `logsumexp(x)`: `ln(sum(exp(x)))`.
    LogSumExp,
    /// `norm(x)`, `norm2(x)`: `‖x‖`.
    Norm,
    /// `ones(n)`, `1_n`: the ones vector of size n.
    Ones,
    /// `mean(X)`: `sum(X)` over the number of entries, from the sizes of X's shape.
    Mean,
    /// `softplus(x)`: `ln(1 + exp(x))`.
    Softplus,
    /// `logsigmoid(x)`, `log_sigmoid(x)`: `ln(sigmoid(x))`.
    LogSigmoid,
    /// `logsoftmax(A)`, `log_softmax(A)`: `ln(softmax(A))`, by rows as softmax is.
    LogSoftmax,
    /// `log1p(x)`: `ln(1 + x)`.
    Log1p,
    /// `expm1(x)`: `exp(x) − 1`.
    Expm1,
    /// `log10(x)`: `ln(x)/ln(10)`.
    Log10,
    /// `log2(x)`: `ln(x)/ln(2)`.
    Log2,
    /// `cosh(x)`: `(exp(x) + exp(−x))/2`.
    Cosh,
    /// `sinh(x)`: `(exp(x) − exp(−x))/2`.
    Sinh,
}

impl Builtin {
    /// Reads a function keyword.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "tr" | "trace" | "Tr" => Builtin::Trace,
            "det" => Builtin::Det,
            "ln" | "log" => Builtin::Ln,
            "exp" => Builtin::Exp,
            "tanh" => Builtin::Tanh,
            "sigmoid" | "sigma" | "σ" => Builtin::Sigmoid,
            "sqrt" => Builtin::Sqrt,
            "sin" => Builtin::Sin,
            "cos" => Builtin::Cos,
            "abs" => Builtin::Abs,
            "relu" => Builtin::Relu,
            "sign" => Builtin::Sign,
            "softmax" => Builtin::Softmax,
            "diag" => Builtin::Diag,
            "sum" | "∑" => Builtin::Sum,
            "dot" => Builtin::Dot,
            "kron" => Builtin::Kron,
            "inv" => Builtin::Inv,
            "logdet" => Builtin::LogDet,
            "eye" => Builtin::Eye,
            "logsumexp" => Builtin::LogSumExp,
            "norm" | "norm2" => Builtin::Norm,
            "ones" => Builtin::Ones,
            "mean" => Builtin::Mean,
            "softplus" => Builtin::Softplus,
            "logsigmoid" | "log_sigmoid" => Builtin::LogSigmoid,
            "logsoftmax" | "log_softmax" => Builtin::LogSoftmax,
            "log1p" => Builtin::Log1p,
            "expm1" => Builtin::Expm1,
            "log10" => Builtin::Log10,
            "log2" => Builtin::Log2,
            "cosh" => Builtin::Cosh,
            "sinh" => Builtin::Sinh,
            _ => return None,
        })
    }
}

/// Binary operators.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum BinOp {
    /// `*`: explicit matrix product.
    MatMul,
    /// `/`: division by a scalar.
    Div,
    /// `⊙`.
    Hadamard,
    /// `⊘`.
    HDiv,
    /// `⊗`.
    Kron,
    /// `·`: full contraction.
    Dot,
    /// `·_k`; `None` for `·_>`/`·_<` resolved later: see [`Shortcut`].
    DotK(Shortcut),
    /// `⊙_k`.
    HadK(Shortcut),
    /// `A^{P} ⊙^{Q} B` (`dot` true for `·`).
    Gen { left: String, right: String, dot: bool },
}

/// The k of a shortcut product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    /// `_k`.
    K(usize),
    /// `_>`: k = order of the right operand.
    Right,
    /// `_<`: k = order of the left operand.
    Left,
}

/// Postfix operators.
#[derive(Clone, Debug, PartialEq)]
pub enum PostOp {
    /// `ᵀ`.
    Transpose,
    /// `⁻¹`.
    Inverse,
    /// `⁻ᵀ`.
    InvTranspose,
    /// `^k`: matrix power (scalar power on scalars).
    Power(BigRational),
    /// `.^p`: element-wise power.
    HPower(BigRational),
    /// `_{132}` after a parenthesised expression or call.
    Subscript(String),
}

/// Node kinds.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum NodeKind {
    /// A number; `barred` for `1̄`.
    Number { value: BigRational, text: String, barred: bool },
    /// The first `1` of `11ᵀ`: always the ones vector.
    OnesLead,
    /// A name.
    Name(NameRef),
    /// `ι`.
    Iota,
    /// `( … )`.
    Paren(Box<Node>),
    /// `[ … ]`.
    Square(Box<Node>),
    /// `{ … }` with optional bar, tag and portion subscript.
    Embed { inner: Box<Node>, bar: bool, tag: Option<u32>, sub: Option<String> },
    /// `||x||`; the subscript of `||x||_2`, `||X||_F` (`2`, `F`), if any.
    Norm(Box<Node>, Option<String>),
    /// `|X|`.
    DetBars(Box<Node>),
    /// `einsum("…", args)`.
    Einsum { spec: String, spec_span: Span, args: Vec<Node> },
    /// A built-in function; `sup` is the superscript text (power or positions).
    Call { func: Builtin, prime: u8, sup: Option<String>, args: Vec<Node> },
    /// `d( … )`.
    Diff(Box<Node>),
    /// `s^1(A)`, `f^{12}(X)`: a name with positions applied to an argument.
    SubCall { name: NameRef, name_span: Span, positions: String, arg: Box<Node> },
    /// `f'(X)`.
    PrimeCall { name: NameRef, name_span: Span, primes: u8, arg: Box<Node> },
    /// Unary minus.
    Neg(Box<Node>),
    /// `~` bar.
    Bar(Box<Node>),
    /// `a + b - c`: terms with their signs (`true` = subtracted).
    Sum(Vec<(bool, Node)>),
    /// Operands side by side.
    Juxt(Vec<Node>),
    /// A word read as one name per letter, while the parser folds it (`src/words.rs`);
    /// it becomes a [`NodeKind::Juxt`] before the parser returns.
    Word(Vec<Node>),
    /// A binary operator.
    Binary { op: BinOp, op_span: Span, lhs: Box<Node>, rhs: Box<Node> },
    /// A postfix operator.
    Postfix { op: PostOp, op_span: Span, arg: Box<Node> },
}

impl Node {
    /// A node; its depth is computed from its children's.
    pub fn new(kind: NodeKind, span: Span) -> Node {
        let mut node = Node { kind, span, depth: 1 };
        node.depth = 1 + node.children().map(|c| c.depth).max().unwrap_or(0);
        node
    }

    /// The direct children, in order.
    pub fn children(&self) -> Box<dyn Iterator<Item = &Node> + '_> {
        match &self.kind {
            NodeKind::Number { .. } | NodeKind::OnesLead | NodeKind::Name(_) | NodeKind::Iota => {
                Box::new(std::iter::empty())
            }
            NodeKind::Paren(n)
            | NodeKind::Square(n)
            | NodeKind::Norm(n, _)
            | NodeKind::DetBars(n)
            | NodeKind::Diff(n)
            | NodeKind::Neg(n)
            | NodeKind::Bar(n) => Box::new(std::iter::once(n.as_ref())),
            NodeKind::Embed { inner, .. } => Box::new(std::iter::once(inner.as_ref())),
            NodeKind::SubCall { arg, .. } | NodeKind::PrimeCall { arg, .. } => Box::new(std::iter::once(arg.as_ref())),
            NodeKind::Postfix { arg, .. } => Box::new(std::iter::once(arg.as_ref())),
            NodeKind::Einsum { args, .. } | NodeKind::Call { args, .. } => Box::new(args.iter()),
            NodeKind::Sum(terms) => Box::new(terms.iter().map(|(_, n)| n)),
            NodeKind::Juxt(items) | NodeKind::Word(items) => Box::new(items.iter()),
            NodeKind::Binary { lhs, rhs, .. } => Box::new([lhs.as_ref(), rhs.as_ref()].into_iter()),
        }
    }
}
