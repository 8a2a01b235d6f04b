//! Where spacing decides the reading that precedence alone would get wrong, or cannot
//! decide: a number written against a name after `/` divides with it (`1/2N` is
//! 1/(2N), `‖r‖^2/2σ^2` is ‖r‖²/(2σ²)); a bare exponent of ±1 written against `/m` is a
//! root (`c^1/2` is c^(1/2), `Σ^-1/2` is Σ^(−1/2)), one that `/m` divides is a quotient
//! (`x^2/2` is x²/2), and any other (`x^3/2`) is an error that asks for parentheses; and
//! a power of a power needs parentheses (`c^2^3`, which NumPy reads as c^(2³)).

use crate::error::{Error, ErrorCode, Result, Span};
use crate::ir::ast::{BinOp, Node, NodeKind, PostOp};
use crate::read::words::Word;
use num_rational::BigRational;
use num_traits::Signed;

/// `lhs rhs` (a product) where `lhs` is `a / k` with the number k written against
/// `rhs`, a name: `a / (k rhs)`. Else both, unchanged.
pub(crate) fn tight_divisor(lhs: Node, rhs: Node) -> std::result::Result<Node, (Node, Node)> {
    let tight = match &lhs.kind {
        NodeKind::Binary { op: BinOp::Div, rhs: k, .. } => {
            matches!(k.kind, NodeKind::Number { .. }) && k.span.end == rhs.span.start && named(&rhs)
        }
        _ => false,
    };
    let NodeKind::Binary { op, op_span, lhs: a, rhs: k } = lhs.kind else { return Err((lhs, rhs)) };
    if !tight {
        let lhs = Node::new(NodeKind::Binary { op, op_span, lhs: a, rhs: k }, lhs.span);
        return Err((lhs, rhs));
    }
    let mut items = vec![*k];
    items.extend(Word::pieces(rhs));
    let span = items.iter().fold(items[0].span, |s, i| s.join(i.span));
    let divisor = Node::new(NodeKind::Juxt(items), span);
    let span = a.span.join(span);
    Ok(Node::new(NodeKind::Binary { op, op_span, lhs: a, rhs: Box::new(divisor) }, span))
}

/// A note where a product reads `a / k name` with a space after the number k and `a`
/// no number (`xᵀx / 2 σ^2`): precedence divides by k alone and multiplies by the name,
/// which a formula from a paper rarely means (`1/2 c` and `N/2 ln(…)` are halves, and
/// get none). `input` is the text the spans point into.
pub(crate) fn loose_divisor_note(items: &[Node], input: &str) -> Option<String> {
    let text = |n: &Node| input.get(n.span.start..n.span.end).unwrap_or("").to_string();
    items.windows(2).find_map(|pair| {
        let NodeKind::Binary { op: BinOp::Div, lhs: a, rhs: k, .. } = &pair[0].kind else { return None };
        let number = |n: &Node| matches!(n.kind, NodeKind::Number { .. });
        let loose = pair[0].span.end < pair[1].span.start;
        (number(k) && !number(a) && loose && named(&pair[1])).then(|| {
            let (a, k, name) = (text(a), text(k), text(&pair[1]));
            format!("`{a} / {k} {name}` is read as ({a} / {k}) {name}; to divide by {k} {name}, write `/({k} {name})`")
        })
    })
}

/// A name, a word of names, or either with postfix operators (`σ^2`).
fn named(n: &Node) -> bool {
    match &n.kind {
        NodeKind::Name(_) => true,
        NodeKind::Word(items) => items.first().is_some_and(named),
        NodeKind::Postfix { arg, .. } => named(arg),
        _ => false,
    }
}

/// `lhs / rhs` where `lhs` ends in a bare exponent (`^k`, `.^k`, `**k`, `^-1`) written
/// against `/m`: the power `k/m` where k is ±1 (`Ok(Some)`), the quotient where k/m is
/// not in lowest terms (`x^2/2`, `r.^2/4`: `Ok(None)`), an error where neither says which
/// was meant (`x^3/2`). `input` is the text the spans point into.
pub(crate) fn fraction_exponent(lhs: &Node, div: Span, rhs: &Node, input: &str) -> Result<Option<Node>> {
    // The exponent ends a product as well as it starts one: `3 λ^1/2` is 3λ^(1/2), as
    // `λ^1/2 3` is, not (3λ)/2.
    if let NodeKind::Juxt(items) | NodeKind::Word(items) = &lhs.kind {
        let Some(last) = items.last() else { return Ok(None) };
        let Some(power) = fraction_exponent(last, div, rhs, input)? else { return Ok(None) };
        let mut items = items.clone();
        let span = lhs.span.join(power.span);
        *items.last_mut().expect("a product has factors") = power;
        let kind = match lhs.kind {
            NodeKind::Juxt(_) => NodeKind::Juxt(items),
            _ => NodeKind::Word(items),
        };
        return Ok(Some(Node::new(kind, span)));
    }
    let NodeKind::Postfix { op, op_span, arg } = &lhs.kind else { return Ok(None) };
    let NodeKind::Number { value: m, .. } = &rhs.kind else { return Ok(None) };
    let written = input.get(op_span.start..op_span.end).unwrap_or("");
    let bare = (written.starts_with('^') || written.starts_with(".^") || written.starts_with("**"))
        && !written.contains(['{', '(']);
    let against = op_span.end == div.start && div.end == rhs.span.start;
    let k = match op {
        PostOp::Power(k) | PostOp::HPower(k) => k.clone(),
        PostOp::Inverse => -BigRational::from_integer(1.into()),
        _ => return Ok(None),
    };
    if !bare || !against || !m.is_integer() || !m.is_positive() || !k.is_integer() {
        return Ok(None);
    }
    let exponent = &k / m;
    // NumPy, whose operator `**` is, reads `x**1/2` as (x**1)/2: no root without
    // parentheses there.
    if k.abs() == BigRational::from_integer(1.into()) && written.starts_with("**") {
        let shown = input.get(lhs.span.start..rhs.span.end).unwrap_or("");
        let base = input.get(arg.span.start..arg.span.end).unwrap_or("x");
        let power = written.trim_start_matches('*');
        return Err(Error::new(
            ErrorCode::Syntax,
            format!("`{shown}` may be a power or a quotient"),
            lhs.span.join(rhs.span),
        )
        .hint(format!("NumPy reads it as ({base}**{power})/{m}; write {base}**({power}/{m}) for the power")));
    }
    if k.abs() == BigRational::from_integer(1.into()) {
        let op = if matches!(op, PostOp::HPower(_)) { PostOp::HPower(exponent) } else { PostOp::Power(exponent) };
        let span = lhs.span.join(rhs.span);
        return Ok(Some(Node::new(NodeKind::Postfix { op, op_span: op_span.join(rhs.span), arg: arg.clone() }, span)));
    }
    // A fraction not in lowest terms is no one's exponent (`r.^2/4` is not a square
    // root): the quotient, as where m divides k.
    if exponent.denom() != m.numer() {
        return Ok(None);
    }
    let shown = input.get(lhs.span.start..rhs.span.end).unwrap_or("");
    let base = input.get(arg.span.start..arg.span.end).unwrap_or("x");
    let power = written.trim_start_matches(['^', '.', '*']);
    let sign = &written[..written.len() - power.len()];
    Err(Error::new(ErrorCode::Syntax, format!("`{shown}` may be a power or a quotient"), lhs.span.join(rhs.span))
        .hint(format!("write {base}{sign}({power}/{m}) for the power, or {base}{sign}{power} / {m} for the quotient")))
}

/// A power applied to a power with no parentheses between (`c^2^3`): an error, since
/// NumPy reads `c ** 2 ** 3` as c^(2³) and this grammar would read (c²)³.
pub(crate) fn power_of_power(arg: &Node, op: &PostOp, op_span: Span) -> Result<()> {
    // `^-1` too: `a^-1^2` was read as (a⁻¹)² without a word, where the rule the error
    // cites gives a^((−1)²) = a.
    let is_power = |op: &PostOp| matches!(op, PostOp::Power(_) | PostOp::HPower(_) | PostOp::Inverse);
    match &arg.kind {
        NodeKind::Postfix { op: inner, .. } if is_power(op) && is_power(inner) => {
            Err(Error::new(ErrorCode::Syntax, "a power of a power needs parentheses", arg.span.join(op_span))
                .hint("write (c^2)^3 for c⁶, or c^(8) for c^(2^3) (NumPy's c ** 2 ** 3)"))
        }
        _ => Ok(()),
    }
}

/// Functions of other tools that would otherwise read as something else without a word:
/// `atanh(c)` as a·tanh(c), `pinv(A)` as p·A⁻¹, `exp2(c)` as e²c, `relu6(x)` as
/// relu(6)x. Refused where written against `(`; those a declaration can name (`atan`,
/// `erf`) are not refused once declared.
const OTHER_TOOLS: &[(&str, &str, bool)] = &[
    ("atanh", "inverse hyperbolic functions are not built in", false),
    ("asinh", "inverse hyperbolic functions are not built in", false),
    ("acosh", "inverse hyperbolic functions are not built in", false),
    ("arctanh", "inverse hyperbolic functions are not built in", false),
    ("asin", "inverse trigonometric functions are not built in", false),
    ("acos", "inverse trigonometric functions are not built in", false),
    ("arcsin", "inverse trigonometric functions are not built in", false),
    ("arccos", "inverse trigonometric functions are not built in", false),
    ("atan", "declare `atan: elementwise` for a function of your own", true),
    ("arctan", "declare `arctan: elementwise` for a function of your own", true),
    ("erf", "declare `erf: elementwise` for a function of your own", true),
    ("pinv", "the pseudo-inverse is not built in; for full column rank write (A^T A)^-1 A^T", false),
    ("slogdet", "write logdet(A), or ln(abs(det(A)))", false),
    ("exp2", "write exp(x ln(2)) for 2 to the x", false),
    ("exp10", "write exp(x ln(10)) for 10 to the x", false),
    ("relu6", "relu6 is not built in", false),
    ("norm1", "write sum(abs(x)) for the 1-norm", false),
];

/// A function's name, a space, then a minus against what follows (`exp -1`, `tr -A`):
/// the name is no function there (a bare operand starts with no sign), so it read as
/// its letters times, minus (`e x p − 1`). An error asking for parentheses, unless
/// `whole` says the word is a declared or defined name.
pub(crate) fn function_before_minus(text: &str, whole: &dyn Fn(&str) -> bool) -> Result<()> {
    let in_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let len = rest.find(|c: char| !in_word(c)).unwrap_or(rest.len());
        if len == 0 {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let name = &rest[..len];
        // (`sigma` is a function only against its parenthesis: `sigma -x` is σ − x.)
        let function = crate::ir::ast::Builtin::from_name(name).is_some() && name != "sigma";
        let after = rest[len..].trim_start_matches([' ', '\t']);
        let spaced = after.len() < rest.len() - len;
        if let Some(signed) = after.strip_prefix(['-', '−']) {
            let tight = signed.chars().next().is_some_and(|c| !c.is_whitespace());
            if function && spaced && tight && !whole(name) {
                let operand: String = signed.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let span = Span::new(at, text.len() - signed.len() + operand.len());
                return Err(Error::new(
                    ErrorCode::Syntax,
                    format!("`{name}` before a minus sign needs parentheses"),
                    span,
                )
                .hint(format!("write {name}(-{operand}) for the function of the negative")));
            }
        }
        at += len;
    }
    Ok(())
}

/// The first function of [`OTHER_TOOLS`] written against `(` (spaces between allowed),
/// unless `whole` (declared, defined and `wrt` words) names one that can be declared:
/// an error at it.
pub(crate) fn other_tools_functions(text: &str, whole: &dyn Fn(&str) -> bool) -> Result<()> {
    for (name, hint, declarable) in OTHER_TOOLS {
        for (at, _) in text.match_indices(name) {
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].trim_start();
            let starts_word = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if starts_word && after.starts_with('(') && !(*declarable && whole(name)) {
                let span = Span::new(at, at + name.len());
                return Err(
                    Error::new(ErrorCode::Unknown, format!("unknown function `{name}`"), span).hint(hint.to_string())
                );
            }
        }
    }
    Ok(())
}

/// The modules a NumPy, JAX, PyTorch or TensorFlow user writes before a function; the
/// grammar's `module_prefix` reads them past before a built-in function.
const MODULES: &[&str] = &["numpy.", "np.", "jnp.", "jax.", "torch.", "tf.", "math.", "scipy.", "F."];

/// What to write for the functions of those modules that bracket does not name, or
/// names with another meaning (NumPy's dot is a matrix product for matrices, its kron a
/// Kronecker product flattened into a matrix).
const MODULE_FUNCTIONS: &[(&str, &str)] = &[
    (
        "dot",
        "NumPy's dot is not bracket's `dot(A, B)` (the sum of A ⊙ B): for a product of matrices or a \
         matrix and a vector write `A @ B`, for vectors `x^T y`",
    ),
    (
        "kron",
        "NumPy's kron is not bracket's `kron(A, B)`, `A ⊗ B`, which keeps every dim (an order-4 tensor \
         for matrices); write one of those, or ask for a `--layout vec` answer",
    ),
    ("matmul", "write `A @ B`"),
    ("multiply", "write `A .* B`"),
    ("divide", "write `A ./ B`"),
    ("maximum", "write `relu(x)` for maximum(x, 0)"),
    ("clip", "write `relu(x)` for clip(x, 0, None)"),
    ("transpose", "write `A^T`"),
    ("outer", "write `x y^T`"),
    ("inner", "write `x^T y`"),
    ("vdot", "write `x^T y`"),
    ("square", "write `x.^2`"),
    ("power", "write `x.^p`"),
    ("reciprocal", "write `1 ./ x`"),
    ("solve", "write `A^-1 b`"),
    ("expit", "write `sigmoid(x)`"),
];

/// The first `np.name(` whose name is not a built-in function, or is one NumPy means
/// otherwise: an error naming it, with what to write (`np.matmul(A, B)` would otherwise
/// fail at its comma).
pub(crate) fn module_functions(text: &str) -> Result<()> {
    for module in MODULES {
        for (at, _) in text.match_indices(module) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let tail = &text[at + module.len()..];
            let len = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(tail.len());
            let path = &tail[..len];
            let name = path.rsplit('.').next().unwrap_or(path);
            let said = MODULE_FUNCTIONS.iter().find(|(n, _)| *n == name);
            let built_in = crate::ir::ast::Builtin::from_name(name).is_some();
            if !tail[len..].trim_start().starts_with('(') || built_in && said.is_none() {
                continue;
            }
            let span = Span::new(at, at + module.len() + len);
            let hint = said.map_or(
                "the functions are listed in docs/syntax.md; NumPy's operators are `@`, `.*`, `./`, `^T`",
                |(_, h)| h,
            );
            let message = match built_in {
                true => format!("`{module}{path}` is not read: its meaning differs from bracket's `{name}`"),
                false => format!("unknown function `{module}{path}`"),
            };
            let code = if built_in { ErrorCode::Unsupported } else { ErrorCode::Unknown };
            return Err(Error::new(code, message, span).hint(hint.to_string()));
        }
    }
    Ok(())
}

/// A note where a function applied without parentheses (`sqrt x^T`) is followed by more
/// factors (`sqrt x^T x` is sqrt(xᵀ)x): the function takes its next factor only.
pub(crate) fn note_bare_call(lhs: &Node, input: &str) {
    let call = match &lhs.kind {
        NodeKind::Juxt(items) | NodeKind::Word(items) => items.last(),
        _ => Some(lhs),
    };
    let Some(call) = call else { return };
    let NodeKind::Call { args, .. } = &call.kind else { return };
    let Some(arg) = args.first() else { return };
    let head = input.get(call.span.start..arg.span.start).unwrap_or("");
    // (`1_d 1_dᵀ`: a size subscript, `1_d`, is no call.)
    if args.len() == 1 && !head.trim_end().ends_with(['(', '_']) {
        let written = input.get(call.span.start..call.span.end).unwrap_or("").trim_end();
        let name = head.trim();
        crate::read::words::note(format!(
            "`{written}` applies {name} to its next factor only, and what follows multiplies it; \
             write {name}(…) around the whole argument if that was meant"
        ));
    }
}
