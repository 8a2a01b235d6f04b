//! Rewrite rules as data: `rules/*.rules`, read once, checked hard.
//!
//! Takes the rule files (compiled in with `include_str!`); gives egg rewrites plus the
//! Rust appliers of the same families. A line is
//! `family-name: LEFT => RIGHT` with an optional `if guard(?x), guard(?y)`; both sides
//! are written in the input language with `?x` variables, so a rule reads like the
//! formulas it rewrites. Any bad line (syntax, unknown guard, unbound variable, wrong
//! family prefix, duplicate name) is an error naming `rules/file.rules:line:column`.
//! Variables default as names do (`?A` a matrix, `?x` a vector) unless a guard says
//! `scalar`; a literal `1` or `I` on the left matches any ones tensor or identity.

use crate::egraph::{
    holds_network, holds_ones_product, holds_sum, is_zero_tensor, Checked, ClassWhere, Data, DiagOnes, Encoder,
    FactorOpposite, FunSpec, HadamardPowerMerge, InverseCancel, Node, OnesContract, OnesCount, PowerMerge,
    PrimeByValue, PrimeReciprocal, RaiseNetwork, Rewrite, ScalingBesideHadamard, SelfDivide, SoftmaxRowSums, SumOnes,
    SumRegroup, Tables, TraceRotations, UnitScale, ZeroAbsorb,
};
use crate::ir::expr::{Expr, Kind};
use crate::read::elaborate::Model;
use egg::{ENodeOrVar, Pattern, PatternAst, RecExpr, Var};
use indexmap::IndexMap;
use std::sync::OnceLock;

/// The rule files, one family each.
pub const FILES: &[(&str, &str)] = &[
    ("transpose", include_str!("../../rules/transpose.rules")),
    ("identity", include_str!("../../rules/identity.rules")),
    ("scalar", include_str!("../../rules/scalar.rules")),
    ("product", include_str!("../../rules/product.rules")),
    ("distribute", include_str!("../../rules/distribute.rules")),
    ("hadamard", include_str!("../../rules/hadamard.rules")),
    ("function", include_str!("../../rules/function.rules")),
    ("trace", include_str!("../../rules/trace.rules")),
    ("determinant", include_str!("../../rules/determinant.rules")),
];

/// A predicate a rule may require of a variable's class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// A scalar.
    Scalar,
    /// Not a scalar.
    Nonscalar,
    /// A rational constant.
    Constant,
    /// A nonzero rational constant.
    Nonzero,
    /// Not known to be zero (like terms of a zero class would breed coefficients).
    NotZero,
    /// No constant below or at zero: a name, or a positive number (a sign stays where
    /// it was written: `(I − AᵀA)⁻¹` is not `−(AᵀA − I)⁻¹`).
    Unsigned,
    /// Zero.
    Zero,
    /// Symmetric (declared, or by construction such as `AAᵀ`).
    Symmetric,
    /// A tensor of ones (what a literal `1` on the left stands for).
    Ones,
    /// An identity matrix (what a literal `I` on the left stands for).
    Identity,
    /// A vector or a row vector.
    Vector,
    /// A square matrix.
    Square,
    /// A column vector (one dim), where `vector` also takes a row.
    Column,
    /// Not a name: no term of the class is a leaf (`y − Xw`, not `h` however defined),
    /// and some term is more than a transpose, inverse or function of something.
    Compound,
}

impl Guard {
    /// The name a rule file writes.
    pub fn name(self) -> &'static str {
        match self {
            Guard::Scalar => "scalar",
            Guard::Nonscalar => "nonscalar",
            Guard::Constant => "constant",
            Guard::Nonzero => "nonzero",
            Guard::NotZero => "notzero",
            Guard::Unsigned => "unsigned",
            Guard::Zero => "zero",
            Guard::Symmetric => "symmetric",
            Guard::Ones => "ones",
            Guard::Identity => "identity",
            Guard::Vector => "vector",
            Guard::Square => "square",
            Guard::Column => "column",
            Guard::Compound => "compound",
        }
    }

    /// The registry of guard names.
    pub fn from_name(name: &str) -> Option<Guard> {
        Some(match name {
            "scalar" => Guard::Scalar,
            "nonscalar" => Guard::Nonscalar,
            "constant" => Guard::Constant,
            "nonzero" => Guard::Nonzero,
            "notzero" => Guard::NotZero,
            "unsigned" => Guard::Unsigned,
            "zero" => Guard::Zero,
            "symmetric" => Guard::Symmetric,
            "ones" => Guard::Ones,
            "identity" => Guard::Identity,
            "vector" => Guard::Vector,
            "square" => Guard::Square,
            "column" => Guard::Column,
            "compound" => Guard::Compound,
            _ => return None,
        })
    }

    /// Whether a class with this data satisfies the guard.
    pub fn holds(self, d: &Data) -> bool {
        if d.function {
            return false;
        }
        match self {
            Guard::Scalar => d.shape.is_empty(),
            Guard::Nonscalar => !d.shape.is_empty(),
            Guard::Constant => d.constant.is_some(),
            Guard::Nonzero => d.constant.as_ref().is_some_and(|c| !num_traits::Zero::is_zero(c)),
            Guard::Zero => d.zero,
            Guard::NotZero => !d.zero,
            Guard::Unsigned => d.constant.as_ref().is_none_or(num_traits::Signed::is_positive),
            Guard::Symmetric => d.symmetric && (d.shape.is_empty() || d.shape.len() == 2),
            Guard::Ones => d.ones,
            Guard::Identity => d.identity,
            Guard::Vector => d.shape.len() == 1 || (d.shape.len() == 2 && d.shape[0] == crate::ir::shape::Dim::Iota),
            Guard::Column => d.shape.len() == 1,
            Guard::Compound => {
                use crate::egraph::language::{op_bit, LeafName};
                let zero = egg::Id::from(0usize);
                let leaf = op_bit(&Node::Leaf(LeafName(String::new())));
                // What reads as a name too: its transpose or inverse, a function of
                // something (`sqrt(v)`, whose square the canceller keeps as a factor).
                let namelike = leaf
                    | op_bit(&Node::Transpose(zero))
                    | op_bit(&Node::Inverse(zero))
                    | op_bit(&Node::Apply([zero, zero]));
                d.ops & leaf == 0 && (d.ops & !namelike != 0 || d.applied_to_compound)
            }
            Guard::Square => {
                d.shape.len() == 2 && d.shape[0] == d.shape[1] && d.shape[0] != crate::ir::shape::Dim::Iota
            }
        }
    }
}

/// One rule as written.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its kebab-case name, prefixed by its family.
    pub name: String,
    /// `rules/<family>.rules:<line>`.
    pub place: String,
    /// The left side as written, `?x` variables included.
    pub lhs: String,
    /// The right side as written.
    pub rhs: String,
    /// Guards, each on one variable.
    pub guards: Vec<(Guard, String)>,
    /// The sides as read, and compiled on first use (only the tests use them).
    lhs_ast: PatternAst<Node>,
    rhs_ast: PatternAst<Node>,
    compiled: std::sync::OnceLock<(Pattern<Node>, Pattern<Node>)>,
    implicit: Vec<(Guard, String)>,
}

impl Rule {
    fn compiled(&self) -> &(Pattern<Node>, Pattern<Node>) {
        self.compiled.get_or_init(|| (Pattern::new(self.lhs_ast.clone()), Pattern::new(self.rhs_ast.clone())))
    }

    /// The rule applied at the root of `e` exactly as the e-graph applies it: the left
    /// pattern matched, the guards checked, the right side instantiated (shape-checked)
    /// and read back. `None` if the rule does not apply there. The soundness test
    /// evaluates `e` and this on the same random tensors.
    pub fn apply_at_root(&self, e: &Expr, model: &Model) -> Option<Expr> {
        let mut tables = Tables::for_model(model);
        let mut rec = RecExpr::default();
        Encoder { tables: &mut tables }.encode(e, &mut rec);
        let mut egraph = crate::egraph::EGraph::new(tables);
        let root = egraph.add_expr(&rec);
        egraph.rebuild();
        let matches = egg::Searcher::search_eclass(&self.compiled().0, &egraph, root)?;
        let subst = matches.substs.first()?.clone();
        for (guard, v) in self.guards.iter().map(|(g, v)| (*g, format!("?{v}"))).chain(self.implicit.clone()) {
            let var: Var = v.parse().ok()?;
            if !guard.holds(&egraph[*subst.get(var)?].data) {
                return None;
            }
        }
        let shape = crate::egraph::instantiated_shape(&egraph, &self.compiled().1.ast, &subst)?;
        if shape != egraph[root].data.shape {
            return None;
        }
        let id = egraph.add_instantiation(&self.compiled().1.ast, &subst);
        egraph.rebuild();
        let best = crate::egraph::best_term(&egraph, id);
        crate::egraph::decode(&best, &egraph.analysis)
    }
}

/// Every rule and rewrite, built once.
pub struct RuleSet {
    /// The rules of the files, in order.
    pub rules: Vec<Rule>,
    /// The rewrites: one per rule, then the Rust appliers.
    pub rewrites: Vec<Rewrite>,
    /// Functions the rules mention.
    pub funs: IndexMap<String, FunSpec>,
    /// Per rule, the operators its left side needs and those its right side brings.
    operators: Vec<(Vec<String>, Vec<String>)>,
}

/// The names of the rules written in Rust, with what they do.
pub const APPLIERS: &[(&str, &str)] = &[
    ("raise-network", "a tensor network equals its classic raising (lower, merge like terms, raise)"),
    ("scalar-unit", "1 · A = A for a folded constant 1"),
    ("scalar-factor-opposite", "cA − cB = c(A − B) for a rational c"),
    ("scalar-zero-absorb", "a product, ⊙, ⊗ or transpose with a zero operand is the zero tensor"),
    ("inverse-cancel", "X⁻¹X = XX⁻¹ = I"),
    ("hadamard-divide-ones", "A ⊘ A = 1, the ones tensor of A's shape"),
    ("function-ln-prime-reciprocal", "ln'(A) = 1 ⊘ A for a vector or matrix A"),
    ("function-sqrt-prime-reciprocal", "sqrt'(A) = (1/2)(1 ⊘ sqrt(A)) for a vector or matrix A"),
    ("function-tanh-prime", "tanh'(A) = 1 − tanh(A) ⊙ tanh(A) for a vector or matrix A"),
    ("function-sigmoid-prime", "σ'(A) = σ(A) ⊙ (1 − σ(A)) for a vector or matrix A"),
    ("scalar-sum-vector", "sum(x) = 1ᵀx for a vector x"),
    ("identity-diag-ones", "diag(1) = I for a ones vector; the diagonal of a ones matrix is a ones vector"),
    ("trace-cycle", "tr(ABC) = tr(CAB) between traces the e-graph holds (rotations are looked up, not added)"),
    ("transpose-scalar", "aᵀXb = bᵀXᵀa, a scalar its own transpose, between terms of one sum (looked up, not added)"),
    ("product-power", "XʲXᵏ = Xʲ⁺ᵏ for integer powers (X⁻¹ counts as X⁻¹)"),
    ("hadamard-power", "A^{⊙j} ⊙ A^{⊙k} = A^{⊙(j+k)} for integer powers (A ⊙ A counts as A^{⊙2})"),
    (
        "elementwise-cancel",
        "an element-wise region as one rational function, common factors cancelled (crate::egraph::cancel)",
    ),
    ("hadamard-power-spread-rows", "(v1ᵀ)^{⊙k} = v^{⊙k}1ᵀ for a column v and a number k"),
    ("hadamard-power-spread-columns", "(1vᵀ)^{⊙k} = 1(v^{⊙k})ᵀ for a column v and a number k"),
    ("sum-regroup", "t₁ + t₂ + t₃ = (t₁ + t₃) + t₂ where t₁ and t₃ are alike or share a factor"),
];

/// The rule set, parsed on first use. The files are compiled in and tested, so a bad
/// line is a bug of this build: it panics with the place of the line.
pub fn rules() -> &'static RuleSet {
    static SET: OnceLock<RuleSet> = OnceLock::new();
    SET.get_or_init(|| {
        // The prepared table when it is of these files (tests/rules.rs fails when it is
        // stale); else every side is read again, slower but the same.
        let prepared = Prepared::read(PREPARED).filter(|p| p.fingerprint == fingerprint(FILES));
        load_with(FILES, prepared).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The sides of every rule, read and encoded ahead of time: `rules/prepared.txt`.
/// Loading the rules then parses no side (start-up in about a millisecond); the file is
/// made by [`prepare`] and a test checks that it matches the rule files.
pub const PREPARED: &str = include_str!("../../rules/prepared.txt");

/// FNV-1a of the rule files: which files a prepared table was made from.
pub fn fingerprint(files: &[(&str, &str)]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (family, text) in files {
        for b in family.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// A prepared table: per rule, its encoded sides and the guards its `1` and `I` imply.
struct Prepared {
    fingerprint: String,
    rules: IndexMap<String, (PatternAst<Node>, PatternAst<Node>, Vec<(Guard, String)>)>,
}

impl Prepared {
    /// Reads a table; `None` if it is not one (then the sides are read again).
    fn read(text: &str) -> Option<Prepared> {
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        let fingerprint = lines.next()?.strip_prefix("fingerprint ")?.to_string();
        let mut rules = IndexMap::new();
        for line in lines {
            let mut fields = line.split('\t');
            let (name, lhs, rhs, implicit) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
            let implicit = implicit
                .split(' ')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').and_then(|(g, v)| Some((Guard::from_name(g)?, v.to_string()))))
                .collect::<Option<Vec<_>>>()?;
            rules.insert(name.to_string(), (read_pattern(lhs)?, read_pattern(rhs)?, implicit));
        }
        Some(Prepared { fingerprint, rules })
    }
}

/// The prepared table of rule files (what `rules/prepared.txt` holds).
pub fn prepare(files: &[(&str, &str)]) -> Result<String, String> {
    Ok(table(&load_with(files, None)?, files))
}

/// The prepared table of a rule set loaded from `files`.
pub fn table(set: &RuleSet, files: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "# Generated from rules/*.rules by bracket::egraph::rules::prepare; do not edit.\n\
         # Regenerate: BRACKET_UPDATE_RULES=1 cargo test --release --test rules\n",
    );
    out.push_str(&format!("fingerprint {}\n", fingerprint(files)));
    for r in &set.rules {
        let implicit: Vec<String> =
            r.implicit.iter().map(|(g, v)| format!("{}={}", g.name(), v.trim_start_matches('?'))).collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            r.name,
            write_pattern(&r.compiled().0.ast),
            write_pattern(&r.compiled().1.ast),
            implicit.join(" ")
        ));
    }
    out
}

/// A pattern as tokens: `?a`, `#1/2`, `@tanh'`, `%key`, or an operator with its
/// children's positions (`*:0,1`).
fn write_pattern(ast: &PatternAst<Node>) -> String {
    let tokens: Vec<String> = ast
        .as_ref()
        .iter()
        .map(|n| match n {
            ENodeOrVar::Var(v) => v.to_string(),
            ENodeOrVar::ENode(Node::Num(r)) => format!("#{r}"),
            ENodeOrVar::ENode(Node::Fun(f)) => format!("@{}", f.0),
            ENodeOrVar::ENode(Node::Leaf(l)) => format!("%{}", l.0),
            ENodeOrVar::ENode(op) => {
                let kids: Vec<String> =
                    egg::Language::children(op).iter().map(|&c| usize::from(c).to_string()).collect();
                format!("{op}:{}", kids.join(","))
            }
        })
        .collect();
    tokens.join(" ")
}

fn read_pattern(text: &str) -> Option<PatternAst<Node>> {
    let mut ast: PatternAst<Node> = RecExpr::default();
    for token in text.split(' ') {
        let node = if token.starts_with('?') {
            ENodeOrVar::Var(token.parse().ok()?)
        } else if let Some(r) = token.strip_prefix('#') {
            ENodeOrVar::ENode(Node::Num(r.parse().ok()?))
        } else if token.starts_with('@') || token.starts_with('%') {
            ENodeOrVar::ENode(<Node as egg::FromOp>::from_op(token, vec![]).ok()?)
        } else {
            let (op, kids) = token.rsplit_once(':')?;
            let kids: Vec<egg::Id> = kids
                .split(',')
                .filter(|k| !k.is_empty())
                .map(|k| k.parse::<usize>().ok().map(egg::Id::from))
                .collect::<Option<_>>()?;
            ENodeOrVar::ENode(<Node as egg::FromOp>::from_op(op, kids).ok()?)
        };
        ast.add(node);
    }
    Some(ast)
}

/// Parses rule files `(family, text)`; the first bad line is an error
/// `rules/family.rules:line:column: message`.
pub fn load(files: &[(&str, &str)]) -> Result<RuleSet, String> {
    load_with(files, None)
}

fn load_with(files: &[(&str, &str)], mut prepared: Option<Prepared>) -> Result<RuleSet, String> {
    let mut rules = Vec::new();
    let mut rewrites = Vec::new();
    let mut tables = Tables::default();
    let mut seen: IndexMap<String, String> = IndexMap::new();
    for (family, text) in files {
        for (n, line) in text.lines().enumerate() {
            let place = |col: usize| format!("rules/{family}.rules:{}:{}", n + 1, col + 1);
            let body = line.split('#').next().unwrap_or("");
            if body.trim().is_empty() {
                continue;
            }
            let (rule, rewrite) = parse_line(family, body, &place, &mut tables, prepared.as_mut())?;
            if let Some(other) = seen.insert(rule.name.clone(), place(0)) {
                return Err(format!("{}: the rule name `{}` is used already at {other}", place(0), rule.name));
            }
            rules.push(rule);
            rewrites.push(rewrite);
        }
    }
    rewrites.push(rust_rule("raise-network", ClassWhere(holds_network), RaiseNetwork)?);
    rewrites.push(rust_rule("scalar-unit", pattern("scalar-unit", "(* ?c ?a)")?, UnitScale)?);
    let opposite = pattern("scalar-factor-opposite", "(+ (* ?c ?a) (* ?d ?b))")?;
    rewrites.push(rust_rule("scalar-factor-opposite", opposite, FactorOpposite)?);
    rewrites.push(rust_rule("scalar-zero-absorb", ClassWhere(is_zero_tensor), ZeroAbsorb)?);
    let product = pattern("product-power", "(* ?a ?b)")?;
    rewrites.push(rust_rule("product-power", product.clone(), PowerMerge)?);
    rewrites.push(rust_rule("inverse-cancel", product, InverseCancel)?);
    let hadamard = pattern("hadamard-power", "(had ?a ?b)")?;
    rewrites.push(rust_rule("hadamard-power", hadamard, HadamardPowerMerge)?);
    let row_sums = pattern("function-softmax-row-sums", "(* (app @softmax^1 ?A) ?o)")?;
    rewrites.push(rust_rule("function-softmax-row-sums", row_sums, SoftmaxRowSums)?);
    rewrites.push(rust_rule("scalar-ones-contract", ClassWhere(holds_ones_product), OnesContract)?);
    rewrites.push(rust_rule("scalar-ones-count", pattern("scalar-ones-count", "(* (T ?r) ?b)")?, OnesCount)?);
    rewrites.push(rust_rule("hadamard-divide-ones", pattern("hadamard-divide-ones", "(hdiv ?a ?a)")?, SelfDivide)?);
    rewrites.push(rust_rule("scalar-sum-vector", pattern("scalar-sum-vector", "(sum ?a)")?, SumOnes)?);
    rewrites.push(rust_rule("identity-diag-ones", pattern("identity-diag-ones", "(diag ?a)")?, DiagOnes)?);
    for (f, sqrt) in [("ln", false), ("sqrt", true)] {
        let name = format!("function-{f}-prime-reciprocal");
        let prime = pattern(&name, &format!("(app @{f}' ?a)"))?;
        rewrites.push(rust_rule(&name, prime, PrimeReciprocal { sqrt })?);
    }
    for (name, tanh) in [("function-tanh-prime", true), ("function-sigmoid-prime", false)] {
        let f = if tanh { "tanh'" } else { "sigmoid'" };
        rewrites.push(rust_rule(name, pattern(name, &format!("(app @{f} ?a)"))?, PrimeByValue { tanh })?);
    }
    // An element-wise power of a vector spread by ones is the spread power,
    // `(1σᵀ)^{⊙k} = 1(σ^{⊙k})ᵀ`: the exponent is a variable, which a rule file's side (the
    // input language) cannot write.
    for (name, lhs, rhs) in [
        ("hadamard-power-spread-rows", "(hpow (* ?v (T ?o)) ?k)", "(* (hpow ?v ?k) (T ?o))"),
        ("hadamard-power-spread-columns", "(hpow (* ?o (T ?v)) ?k)", "(* ?o (T (hpow ?v ?k)))"),
    ] {
        let guards = vec![(Guard::Ones, var("o")), (Guard::Column, var("v")), (Guard::Constant, var("k"))];
        let applier = Checked { rhs: pattern(name, rhs)?.ast, guards };
        rewrites.push(rust_rule(name, pattern(name, lhs)?, applier)?);
    }
    // A scaling beside a Hadamard product with what it scales, in a sum (`−` is a −1).
    for (name, column) in [("hadamard-row-scaling-shared", false), ("hadamard-column-scaling-shared", true)] {
        let scaled = if column { "(* ?S (diag ?v))" } else { "(* (diag ?v) ?S)" };
        for (form, tail) in [
            ("(+ ?a {})", ""),
            ("(+ {} ?a)", "-first"),
            ("(+ ?a (* ?c {}))", "-scaled"),
            ("(+ (* ?c {}) ?a)", "-scaled-first"),
        ] {
            let name = format!("{name}{tail}");
            let lhs = pattern(&name, &form.replace("{}", scaled))?;
            rewrites.push(rust_rule(&name, lhs, ScalingBesideHadamard { column })?);
        }
    }
    rewrites.push(rust_rule("trace-cycle", pattern("trace-cycle", "(tr ?a)")?, TraceRotations)?);
    rewrites.push(rust_rule("sum-regroup", ClassWhere(holds_sum), SumRegroup)?);
    let mirror = ClassWhere(crate::egraph::mirror::holds_scalar_sum);
    rewrites.push(rust_rule("transpose-scalar", mirror, crate::egraph::mirror::ScalarMirror)?);
    let operators = rules.iter().map(|r| (operators(&r.lhs_ast), operators(&r.rhs_ast))).collect();
    Ok(RuleSet { rules, rewrites, funs: tables.funs, operators })
}

/// A rewrite written in Rust, named in its error.
fn rust_rule(
    name: &str,
    searcher: impl egg::Searcher<Node, Tables> + Send + Sync + 'static,
    applier: impl egg::Applier<Node, Tables> + Send + Sync + 'static,
) -> Result<Rewrite, String> {
    Rewrite::new(name, searcher, applier).map_err(|e| format!("{name}: {e}"))
}

/// An egg pattern of a Rust-written rewrite, named in its error.
fn pattern(name: &str, text: &str) -> Result<Pattern<Node>, String> {
    text.parse().map_err(|e| format!("{name}: {e:?}"))
}

fn parse_line(
    family: &str,
    line: &str,
    place: &dyn Fn(usize) -> String,
    tables: &mut Tables,
    prepared: Option<&mut Prepared>,
) -> Result<(Rule, Rewrite), String> {
    let colon = line.find(':').ok_or_else(|| format!("{}: expected `name: left => right`", place(0)))?;
    let name = line[..colon].trim().to_string();
    let name_col = line.find(|c: char| !c.is_whitespace()).unwrap_or(0);
    if !name.starts_with(&format!("{family}-"))
        || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "{}: the rule name `{name}` must be kebab-case and start with `{family}-`",
            place(name_col)
        ));
    }
    let rest = &line[colon + 1..];
    let arrow = rest.find("=>").ok_or_else(|| format!("{}: expected `=>` between the sides", place(colon + 1)))?;
    let lhs_at = colon + 1;
    let rhs_at = colon + 1 + arrow + 2;
    let (rhs_text, guard_text, guard_at) = match rest[arrow + 2..].find(" if ") {
        Some(k) => (&rest[arrow + 2..arrow + 2 + k], Some(&rest[arrow + 2 + k + 4..]), rhs_at + k + 4),
        None => (&rest[arrow + 2..], None, 0),
    };
    let lhs_text = &rest[..arrow];
    let mut guards = Vec::new();
    if let Some(g) = guard_text {
        let mut offset = guard_at;
        for part in g.split(',') {
            let col = offset + part.len() - part.trim_start().len();
            offset += part.len() + 1;
            let part = part.trim();
            let (gname, var) = part
                .strip_suffix(')')
                .and_then(|p| p.split_once('('))
                .ok_or_else(|| format!("{}: a guard is written `name(?x)`", place(col)))?;
            let guard = Guard::from_name(gname.trim()).ok_or_else(|| {
                format!(
                    "{}: unknown guard `{}`; guards are scalar, nonscalar, constant, nonzero, notzero, zero, symmetric, ones, identity, vector, square",
                    place(col),
                    gname.trim()
                )
            })?;
            let var = var.trim();
            if !var.starts_with('?') {
                return Err(format!("{}: a guard takes a variable such as `?x`", place(col)));
            }
            guards.push((guard, var[1..].to_string()));
        }
    }
    let lhs_vars = variables(lhs_text);
    let rhs_vars = variables(rhs_text);
    for (v, off) in &rhs_vars {
        if !lhs_vars.iter().any(|(w, _)| w == v) {
            return Err(format!("{}: `?{v}` on the right is not bound on the left", place(rhs_at + off)));
        }
    }
    for (_, v) in &guards {
        if !lhs_vars.iter().any(|(w, _)| w == v) {
            return Err(format!("{}: the guard's `?{v}` is not a variable of the left side", place(guard_at)));
        }
    }
    let scalars: Vec<String> = guards
        .iter()
        .filter(|(g, _)| matches!(g, Guard::Scalar | Guard::Constant | Guard::Nonzero))
        .map(|(_, v)| v.clone())
        .collect();
    // (Each rule's sides are taken out of the table, not copied.)
    let (lhs, rhs, implicit) = match prepared.and_then(|p| p.rules.swap_remove(&name)) {
        Some((lhs, rhs, implicit)) => {
            // Its functions, as encoding the sides would have registered them.
            for n in lhs.as_ref().iter().chain(rhs.as_ref()) {
                if let ENodeOrVar::ENode(Node::Fun(f)) = n {
                    let spec = crate::egraph::fun_spec_of_key(&f.0)
                        .ok_or_else(|| format!("{}: bad function `{}` in rules/prepared.txt", place(0), f.0))?;
                    tables.funs.insert(f.0.clone(), spec);
                }
            }
            (lhs, rhs, implicit)
        }
        None => {
            let mut implicit = Vec::new();
            let lhs = side_pattern(lhs_text, &scalars, tables, &mut implicit, true)
                .map_err(|(col, m)| format!("{}: {m}", place(lhs_at + col)))?;
            let mut none = Vec::new();
            let rhs = side_pattern(rhs_text, &scalars, tables, &mut none, false)
                .map_err(|(col, m)| format!("{}: {m}", place(rhs_at + col)))?;
            (lhs, rhs, implicit)
        }
    };
    let mut checked_guards: Vec<(Guard, Var)> = Vec::new();
    for (g, v) in guards.iter().chain(implicit.iter()) {
        checked_guards.push((*g, format!("?{v}").parse().map_err(|e| format!("{}: {e:?}", place(0)))?));
    }
    let rule = Rule {
        name: name.clone(),
        place: place(0).rsplit_once(':').map(|(p, _)| p.to_string()).unwrap_or_default(),
        lhs: lhs_text.trim().to_string(),
        rhs: rhs_text.trim().to_string(),
        guards: guards.clone(),
        lhs_ast: lhs.clone(),
        implicit: implicit.iter().map(|(g, v)| (*g, format!("?{v}"))).collect(),
        rhs_ast: rhs.clone(),
        compiled: std::sync::OnceLock::new(),
    };
    let applier = Checked { rhs: rhs.clone(), guards: checked_guards };
    let rewrite = Rewrite::new(name.clone(), crate::egraph::join::Joined::new(lhs), applier)
        .map_err(|e| format!("{}: {e}", place(0)))?;
    Ok((rule, rewrite))
}

/// The `?x` variables of a side with their byte offsets.
pub fn variables(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    while k < bytes.len() {
        if bytes[k].1 == '?' {
            let start = bytes[k].0;
            let mut name = String::new();
            let mut j = k + 1;
            while j < bytes.len() && (bytes[j].1.is_ascii_alphanumeric()) {
                name.push(bytes[j].1);
                j += 1;
            }
            out.push((name, start));
            k = j;
        } else {
            k += 1;
        }
    }
    out
}

/// The side's text as the input language: `?A` becomes `A`, with declarations that
/// make guarded scalars scalars.
pub fn side_source(text: &str, scalars: &[String]) -> (String, usize) {
    let mut decl = String::new();
    if !scalars.is_empty() {
        decl = format!("{}: scalar; ", scalars.join(", "));
    }
    let prefix = decl.len();
    (format!("{decl}{}", text.replace('?', " ")), prefix)
}

fn side_pattern(
    text: &str,
    scalars: &[String],
    tables: &mut Tables,
    implicit: &mut Vec<(Guard, String)>,
    left: bool,
) -> Result<PatternAst<Node>, (usize, String)> {
    for (v, off) in variables(text) {
        if v.is_empty() || v == "I" || !v.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
            return Err((off, "a variable is `?` and a name such as `?A` or `?x` (not `?I`)".into()));
        }
    }
    let (source, prefix) = side_source(text, scalars);
    let model = crate::read::elaborate::read(&source)
        .map_err(|e| (e.span.map_or(0, |s| s.start.saturating_sub(prefix)), e.message))?;
    let expr = model.main_expr().ok_or((0, "the side is empty".to_string()))?.clone();
    let names: Vec<String> = variables(text).into_iter().map(|(v, _)| v).collect();
    let mut rec = RecExpr::default();
    Encoder { tables }.encode(&expr, &mut rec);
    let mut out: PatternAst<Node> = RecExpr::default();
    let mut fresh = 0;
    for node in rec.as_ref() {
        let item = match node {
            Node::Leaf(k) => {
                let e = tables.leaves.get(&k.0).cloned();
                match e.map(|e| e.kind) {
                    Some(Kind::Var(n)) if names.contains(&n) => ENodeOrVar::Var(var(&n)),
                    Some(kind @ (Kind::Ones | Kind::Identity)) => {
                        if !left {
                            return Err((0, "a `1` or `I` on the right side has no size; bind it on the left".into()));
                        }
                        fresh += 1;
                        let name = format!("_{fresh}");
                        let guard = if kind == Kind::Ones { Guard::Ones } else { Guard::Identity };
                        implicit.push((guard, name.clone()));
                        ENodeOrVar::Var(var(&name))
                    }
                    _ => return Err((0, format!("`{}` is neither a variable nor a number", k.0))),
                }
            }
            other => ENodeOrVar::ENode(other.clone()),
        };
        out.add(item);
    }
    Ok(out)
}

fn var(name: &str) -> Var {
    format!("?{name}").parse().expect("a variable name")
}

/// The model's facts (`Y1 = 1`) as ground rewrites `fact-1`, `fact-2`, ….
pub fn fact_rewrites(model: &Model, tables: &mut Tables) -> Facts {
    let mut out = Facts::default();
    for (k, (lhs, rhs)) in model.facts.iter().enumerate() {
        let l = ground(lhs, tables);
        let r = ground(rhs, tables);
        out.brings.extend(operators(&r));
        let applier = Checked { rhs: r, guards: vec![] };
        if let Ok(rw) = Rewrite::new(format!("fact-{}", k + 1), Pattern::new(l), applier) {
            out.rewrites.push(rw);
        }
    }
    out
}

/// A model's facts as rewrites, with the operators their right sides bring.
#[derive(Default)]
pub struct Facts {
    /// One rewrite per fact, `fact-k`.
    pub rewrites: Vec<Rewrite>,
    /// The operators of the right sides ([`possible_rules`] counts them as present).
    pub brings: Vec<String>,
}

fn ground(e: &Expr, tables: &mut Tables) -> PatternAst<Node> {
    let mut rec = RecExpr::default();
    Encoder { tables }.encode(e, &mut rec);
    let mut out: PatternAst<Node> = RecExpr::default();
    for n in rec.as_ref() {
        out.add(ENodeOrVar::ENode(n.clone()));
    }
    out
}

/// The operators of a pattern that a match needs: each operator node, and each function
/// by its key (`@ln'`); variables, numbers and leaves need nothing (numbers are folded
/// in by the analysis at any time).
fn operators(ast: &PatternAst<Node>) -> Vec<String> {
    ast.as_ref()
        .iter()
        .filter_map(|n| match n {
            ENodeOrVar::ENode(node) => operator(node),
            ENodeOrVar::Var(_) => None,
        })
        .collect()
}

fn operator(node: &Node) -> Option<String> {
    match node {
        Node::Num(_) | Node::Leaf(_) => None,
        Node::Fun(f) => Some(format!("@{}", f.0)),
        op => Some(op.to_string()),
    }
}

/// What the Rust appliers bring besides products, sums, powers and inverses, by an
/// operator they need (`@f⊗`: f applied to a tensor): `ln'(A) = 1 ⊘ A` brings a quotient (without it, `exp(A)ᵀ(1 ⊘
/// exp(A)1)` from a log-sum-exp's gradient never met `function-softmax-rows-transposed`),
/// `tanh'` and `sigmoid'` their function and a Hadamard product, and element-wise
/// cancelling writes a region with products, quotients and powers.
const APPLIERS_BRING: &[(&str, &[&str])] = &[
    ("@ln'⊗", &["hdiv"]),
    ("@sqrt'⊗", &["hdiv", "app", "@sqrt", "@sqrt⊗"]),
    ("@tanh'⊗", &["had", "app", "@tanh", "@tanh⊗"]),
    ("@sigmoid'⊗", &["had", "app", "@sigmoid", "@sigmoid⊗"]),
    ("had", &["hdiv", "hpow"]),
    ("hdiv", &["had", "hpow"]),
    ("hpow", &["had", "hdiv"]),
];

/// Which of the rule set's rewrites (by position) can ever match in `egraph`: those
/// whose left side needs only operators the e-graph holds or that a rewrite able to
/// match could bring (the closure, starting from the e-graph's operators). The Rust
/// appliers always run; they bring products, sums, powers and inverses, and a transpose
/// where there is a `sum`; the model's facts bring what their right sides hold. An
/// e-graph holding a tensor network may come to hold anything once the network is
/// raised: then every rule runs.
pub fn possible_rules(set: &RuleSet, egraph: &crate::egraph::EGraph, facts: &Facts) -> Vec<bool> {
    let mut all = vec![true; set.rewrites.len()];
    if egraph.classes().any(|c| holds_network(egraph, c.id)) {
        return all;
    }
    // One node of each operator (by variant, and by name for a function), each named once.
    // And each function applied to a tensor (`ln'(A) = 1 ⊘ A` brings a quotient,
    // `ln'(|S|)` nothing), marked `@ln'⊗`, as a rule that brings the function may bring it.
    let mut kinds: std::collections::HashMap<(std::mem::Discriminant<Node>, Option<&str>), &Node> =
        std::collections::HashMap::new();
    let mut on_tensors: std::collections::HashSet<String> = std::collections::HashSet::new();
    for node in egraph.classes().flat_map(|c| c.nodes.iter()) {
        let name = if let Node::Fun(f) = node { Some(f.0.as_str()) } else { None };
        kinds.entry((std::mem::discriminant(node), name)).or_insert(node);
        if let Node::Apply([f, x]) = node {
            if !egraph[*x].data.shape.is_empty() {
                for g in &egraph[*f].nodes {
                    if let Node::Fun(name) = g {
                        on_tensors.insert(format!("@{}⊗", name.0));
                    }
                }
            }
        }
    }
    let mut have: std::collections::HashSet<String> = kinds.values().filter_map(|n| operator(n)).collect();
    have.extend(on_tensors);
    for op in ["+", "*", "pow", "inv"] {
        have.insert(op.to_string());
    }
    // A fact may fire at any time: what its right side holds may come (`Y1 = 1`: none).
    have.extend(facts.brings.iter().cloned());
    // `scalar-sum-vector` writes a sum as `1ᵀx`.
    if have.contains("sum") {
        have.insert("T".to_string());
    }
    let needs = &set.operators;
    let mut can = vec![false; needs.len()];
    loop {
        let mut grew = false;
        for (k, (lhs, rhs)) in needs.iter().enumerate() {
            if !can[k] && lhs.iter().all(|op| have.contains(op)) {
                can[k] = true;
                for op in rhs {
                    grew |= have.insert(op.clone());
                    if op.starts_with('@') {
                        grew |= have.insert(format!("{op}⊗"));
                    }
                }
            }
        }
        for (needed, brought) in APPLIERS_BRING {
            if have.contains(*needed) {
                for op in *brought {
                    grew |= have.insert(op.to_string());
                }
            }
        }
        if !grew {
            break;
        }
    }
    // The rules come first in the rewrites, in order; the Rust appliers after them.
    let rules = can.len();
    for (k, c) in can.into_iter().enumerate() {
        all[k] = c;
    }
    // Two appliers need what no rule makes: a row-wise softmax, and a ones matrix as the
    // input writes one (`11ᵀ` in a label-smoothing target).
    let ones_matrix = || egraph.classes().any(|c| c.data.ones && c.data.shape.len() == 2);
    for (k, rewrite) in set.rewrites.iter().enumerate().skip(rules) {
        match rewrite.name.as_str() {
            "function-softmax-row-sums" => all[k] = have.contains("@softmax^1"),
            "scalar-ones-contract" => all[k] = ones_matrix(),
            _ => {}
        }
    }
    all
}
