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
/// against `/m`: the power `k/m` where k is ±1 (`Ok(Some)`), the quotient where m divides
/// k (`Ok(None)`), an error where neither says which was meant. `input` is the text the
/// spans point into.
pub(crate) fn fraction_exponent(lhs: &Node, div: Span, rhs: &Node, input: &str) -> Result<Option<Node>> {
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
    if k.abs() == BigRational::from_integer(1.into()) {
        let op = if matches!(op, PostOp::HPower(_)) { PostOp::HPower(exponent) } else { PostOp::Power(exponent) };
        let span = lhs.span.join(rhs.span);
        return Ok(Some(Node::new(NodeKind::Postfix { op, op_span: op_span.join(rhs.span), arg: arg.clone() }, span)));
    }
    if exponent.is_integer() {
        return Ok(None);
    }
    let shown = input.get(lhs.span.start..rhs.span.end).unwrap_or("");
    let base = input.get(arg.span.start..arg.span.end).unwrap_or("x");
    let power = written.trim_start_matches(['^', '.', '*']);
    let sign = &written[..written.len() - power.len()];
    Err(Error::new(ErrorCode::Syntax, format!("`{shown}` may be a power or a quotient"), lhs.span.join(rhs.span)).hint(
        format!("write {base}{sign}({power}/{m}) for the power, or {base}{sign}{power} / {m} for the quotient"),
    ))
}

/// A power applied to a power with no parentheses between (`c^2^3`): an error, since
/// NumPy reads `c ** 2 ** 3` as c^(2³) and this grammar would read (c²)³.
pub(crate) fn power_of_power(arg: &Node, op: &PostOp, op_span: Span) -> Result<()> {
    let is_power = |op: &PostOp| matches!(op, PostOp::Power(_) | PostOp::HPower(_));
    match &arg.kind {
        NodeKind::Postfix { op: inner, .. } if is_power(op) && is_power(inner) => Err(Error::new(
            ErrorCode::Syntax,
            "a power of a power needs parentheses",
            arg.span.join(op_span),
        )
        .hint("write (c^2)^3 for c⁶, or c^(8) for c^(2^3) (NumPy's c ** 2 ** 3)")),
        _ => Ok(()),
    }
}
