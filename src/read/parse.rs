//! Text to syntax tree (`ast`), with pest and its Pratt parser.
//!
//! Takes any text; gives an [`Input`] or an [`Error`] with a span. Guarantees: no panic
//! and no stack overflow on any input; the input size, bracket nesting, runs of prefix
//! operators and tree depth are checked against `limits` before they can hurt.

use crate::error::{Error, ErrorCode, Result, Span};
use crate::ir::ast::*;
use crate::limits;
use crate::read::hints::{
    euler_power, inside_call, keyword_argument, latex_hint, method_call, nested_bars, open_across_lines,
    unclosed_bracket,
};
pub use crate::read::numbers::{read_number, superscript_value};
use crate::read::words::Word;
pub use crate::read::words::{greek_letter, greek_word, GREEK};
use num_rational::BigRational;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use std::sync::OnceLock;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/bracket.pest"]
struct Grammar;

/// Parses a whole input (declarations, definitions and expressions).
///
/// ```
/// let input = bracket::parse("A: matrix(n, n); x^T A x").unwrap();
/// assert_eq!(input.statements.len(), 2);
/// ```
pub fn parse(source: &str) -> Result<Input> {
    parse_with(source, &[])
}

/// As [`parse`], with `extra` words read as one name each (the `--wrt` names of a query).
pub fn parse_with(source: &str, extra: &[String]) -> Result<Input> {
    let text = prepare(source)?;
    // pest recurses once per nesting level; the checks in `prepare` bound the depth,
    // and a large separate stack makes the bound safe whatever the caller's stack is.
    stacker::maybe_grow(limits::PARSE_STACK, limits::PARSE_STACK, || {
        // pest's call budget is one setting for the process, read when a parse starts:
        // parses take turns so that each runs with its own input's budget.
        static BUDGET: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let calls = limits::MIN_PARSE_CALLS.saturating_add(text.len().saturating_mul(limits::MAX_PARSE_CALLS_PER_BYTE));
        crate::read::spacing::module_functions(&text)?;
        let pairs = {
            let _turn = BUDGET.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            pest::set_call_limit(std::num::NonZeroUsize::new(calls));
            Grammar::parse(Rule::input, &text).map_err(|e| syntax_error(source, &text, e))?
        };
        crate::read::words::start(whole_words(pairs.clone(), extra));
        crate::read::spacing::other_tools_functions(&text, &crate::read::words::is_whole)?;
        crate::read::spacing::function_before_minus(&text, &crate::read::words::is_whole)?;
        let mut statements = Vec::new();
        let built =
            pairs.flat_map(|input| input.into_inner().filter(|p| is_statement(p.as_rule()))).try_for_each(|pair| {
                statements.push(build_statement(pair)?);
                Ok(())
            });
        let notes = crate::read::words::finish();
        built?;
        Ok(Input { statements, source: source.to_string(), notes })
    })
}

/// The names that may be words of several letters: declared, defined, and named after
/// `wrt` (`src/words.rs`).
fn whole_words(pairs: Pairs<Rule>, extra: &[String]) -> indexmap::IndexSet<String> {
    let mut out: indexmap::IndexSet<String> = extra.iter().cloned().collect();
    let names = |list: Pair<Rule>, out: &mut indexmap::IndexSet<String>| {
        for p in list.into_inner() {
            let name = read_name(p);
            out.insert(name.full());
            out.insert(name.base);
        }
    };
    for statement in pairs.flat_map(|input| input.into_inner()) {
        match statement.as_rule() {
            Rule::declaration => {
                if let Some(list) = statement.into_inner().next() {
                    names(list, &mut out);
                }
            }
            Rule::grad_statement => {
                if let Some(list) = statement.into_inner().find(|p| p.as_rule() == Rule::decl_names) {
                    names(list, &mut out);
                }
            }
            Rule::equation => {
                let Some(lhs) = statement.into_inner().next() else { continue };
                let mut parts = lhs.into_inner();
                let (Some(only), None) = (parts.next(), parts.next()) else { continue };
                if matches!(only.as_rule(), Rule::name | Rule::diff_name) {
                    let name = read_name(only);
                    if !name.diff {
                        out.insert(name.full());
                    } else if name.base.chars().take_while(char::is_ascii_alphabetic).count() >= 2 {
                        // `data = …` starts like the differential of `ata`.
                        out.insert(format!("d{}", name.full()));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn is_statement(rule: Rule) -> bool {
    matches!(rule, Rule::declaration | Rule::grad_statement | Rule::equation | Rule::expr)
}

/// Checks size, nesting and prefix runs; turns line breaks outside brackets into `;`.
fn prepare(source: &str) -> Result<String> {
    if source.len() > limits::MAX_INPUT_BYTES {
        return Err(Error::new(
            ErrorCode::Limit,
            format!("the input is {} bytes long; the limit is {} bytes", source.len(), limits::MAX_INPUT_BYTES),
            Span::new(limits::MAX_INPUT_BYTES, limits::MAX_INPUT_BYTES + 1),
        )
        .hint("split the input into several queries (`bracket batch` takes many)"));
    }
    let mut out = String::with_capacity(source.len());
    let mut depth = 0usize;
    let mut prefix_run = 0usize;
    let mut keyword_run = 0usize;
    let mut bar_run = 0usize;
    let mut chars = source.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '#' => {
                // A comment becomes blanks (one per byte, so spans stay put) up to the
                // line break, which is handled below.
                out.push(' ');
                while let Some(&(_, n)) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    out.extend(std::iter::repeat_n(' ', n.len_utf8()));
                    chars.next();
                }
                continue;
            }
            '"' => {
                out.push(c);
                for (_, n) in chars.by_ref() {
                    out.push(n);
                    if n == '"' {
                        break;
                    }
                }
                continue;
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > limits::MAX_NESTING {
                    return Err(Error::new(
                        ErrorCode::Limit,
                        format!("brackets are nested more than {} deep", limits::MAX_NESTING),
                        Span::new(at, at + 1),
                    )
                    .hint("simplify the expression or name a part of it with `name = …`"));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        // Runs that nest like brackets: signs and bars (`- - x`), functions without
        // parentheses (`exp exp x`) and `|` (`| | x | |`).
        let run_limit = |run: &mut usize, limit: usize, what: &str, width: usize, hint: &str| -> Result<()> {
            *run += 1;
            if *run > limit {
                return Err(Error::new(
                    ErrorCode::Limit,
                    format!("more than {limit} {what} in a row"),
                    Span::new(at, at + width),
                )
                .hint(hint.to_string()));
            }
            Ok(())
        };
        if matches!(c, '-' | '−' | '~') {
            let hint = "an even number of minus signs cancels; remove them";
            run_limit(&mut prefix_run, limits::MAX_PREFIX_RUN, "signs or bars", c.len_utf8(), hint)?;
        } else if !c.is_whitespace() {
            prefix_run = 0;
        }
        if c.is_ascii_alphabetic() && !source[..at].ends_with(|p: char| p.is_ascii_alphabetic()) {
            let word: String = source[at..].chars().take_while(char::is_ascii_alphabetic).collect();
            if Builtin::from_name(&word).is_some() {
                let hint = "name a part of the expression with `name = …`";
                run_limit(&mut keyword_run, limits::MAX_PREFIX_RUN, "functions applied", word.len(), hint)?;
            } else {
                keyword_run = 0;
            }
        } else if !c.is_whitespace() && !c.is_ascii_alphabetic() {
            keyword_run = 0;
        }
        if c == '|' {
            let hint = "name a part of the expression with `name = …`";
            run_limit(&mut bar_run, 2 * limits::MAX_PREFIX_RUN, "bars", 1, hint)?;
        } else if !c.is_whitespace() {
            bar_run = 0;
        }
        if c == '\n' && depth == 0 {
            out.push(';');
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// The empty span where `span` starts.
fn span_of_start(span: Span) -> Span {
    Span::new(span.start, span.start)
}

fn span_of(pair: &Pair<Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

fn node(kind: NodeKind, span: Span) -> Result<Node> {
    let n = Node::new(kind, span);
    if n.depth > limits::MAX_DEPTH {
        return Err(Error::new(
            ErrorCode::Limit,
            format!("the expression nests more than {} operators deep", limits::MAX_DEPTH),
            span,
        )
        .hint("name a part of it with `name = …` and use the name"));
    }
    Ok(n)
}

fn build_statement(pair: Pair<Rule>) -> Result<Statement> {
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::declaration => {
            let mut inner = pair.into_inner();
            let names = decl_names(inner.next().expect("grammar: names"));
            let spec = inner.next().expect("grammar: type");
            let mut spec_inner = spec.into_inner();
            let kind_pair = spec_inner.next().expect("grammar: type word");
            // A name among the arguments (a size, or the Z of `like(Z)`) is read as names
            // are everywhere: `like(beta)` is like β.
            let args = spec_inner
                .map(|p| {
                    let span = span_of(&p);
                    match p.clone().into_inner().find(|n| n.as_rule() == Rule::decl_name) {
                        Some(name) => (read_name(name).full(), span),
                        None => (p.as_str().to_string(), span),
                    }
                })
                .collect();
            Ok(Statement::Declaration(Declaration {
                names,
                kind: kind_pair.as_str().to_string(),
                kind_span: span_of(&kind_pair),
                args,
                span,
            }))
        }
        Rule::grad_statement => {
            let mut inner = pair.into_inner().filter(|p| !matches!(p.as_rule(), Rule::kw_grad | Rule::kw_wrt));
            let expr = build_expr(inner.next().expect("grammar: expr"))?;
            let wrt = decl_names(inner.next().expect("grammar: names"));
            Ok(Statement::Grad { expr, wrt, span })
        }
        Rule::equation => {
            let mut inner = pair.into_inner();
            let lhs = build_expr(inner.next().expect("grammar: lhs"))?;
            let rhs = build_expr(inner.next().expect("grammar: rhs"))?;
            Ok(Statement::Equation { lhs, rhs, span })
        }
        _ => Ok(Statement::Expr(build_expr(pair)?)),
    }
}

fn decl_names(pair: Pair<Rule>) -> Vec<(String, Span)> {
    pair.into_inner()
        .map(|p| {
            let span = span_of(&p);
            let name = read_name(p);
            (name.full(), span)
        })
        .collect()
}

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
            .op(Op::prefix(Rule::neg))
            .op(Op::infix(Rule::dot_op, Assoc::Left)
                | Op::infix(Rule::dot_k, Assoc::Left)
                | Op::infix(Rule::gen_dot, Assoc::Left))
            .op(Op::infix(Rule::hadamard, Assoc::Left)
                | Op::infix(Rule::hdiv, Assoc::Left)
                | Op::infix(Rule::kron_op, Assoc::Left)
                | Op::infix(Rule::had_k, Assoc::Left)
                | Op::infix(Rule::gen_had, Assoc::Left))
            .op(Op::infix(Rule::matmul, Assoc::Left)
                | Op::infix(Rule::div, Assoc::Left)
                | Op::infix(Rule::juxt, Assoc::Left))
            .op(Op::prefix(Rule::bar))
            .op(Op::postfix(Rule::transpose)
                | Op::postfix(Rule::inv_transpose)
                | Op::postfix(Rule::inverse)
                | Op::postfix(Rule::power)
                | Op::postfix(Rule::hpower)
                | Op::postfix(Rule::perm_sub))
    })
}

/// Builds an `expr` pair.
fn build_expr(pair: Pair<Rule>) -> Result<Node> {
    fold(pair.into_inner())
}

/// Folds operands and operators by precedence; a word split into names is a product.
fn fold(pairs: Pairs<Rule>) -> Result<Node> {
    fold_words(pairs).map(Word::finish)
}

/// As [`fold`], but a word split into names stays a [`NodeKind::Word`].
fn fold_words(pairs: Pairs<Rule>) -> Result<Node> {
    pratt()
        .map_primary(build_primary)
        .map_prefix(|op, rhs| {
            let rhs = rhs?;
            let op_span = span_of(&op);
            match op.as_rule() {
                Rule::neg => {
                    let rhs = Word::finish(rhs);
                    let span = op_span.join(rhs.span);
                    node(NodeKind::Neg(Box::new(rhs)), span)
                }
                // A bar binds tighter than a product: it bars a word's first letter.
                _ => {
                    let mut out = Ok(());
                    let barred = Word::on_first(rhs, |first| {
                        let span = op_span.join(first.span);
                        node(NodeKind::Bar(Box::new(first.clone())), span).unwrap_or_else(|e| {
                            out = Err(e);
                            first
                        })
                    });
                    out.map(|()| barred)
                }
            }
        })
        .map_postfix(|lhs, op| {
            let lhs = lhs?;
            let op_span = span_of(&op);
            let op = postfix_op(op)?;
            crate::read::spacing::power_of_power(&lhs, &op, op_span)?;
            // A postfix operator binds to a word's last letter: `Axᵀ` is A xᵀ.
            let mut out = Ok(());
            let applied = Word::on_last(lhs, |last| {
                let span = last.span.join(op_span);
                node(NodeKind::Postfix { op, op_span, arg: Box::new(last.clone()) }, span).unwrap_or_else(|e| {
                    out = Err(e);
                    last
                })
            });
            out.map(|()| applied)
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            // Words next to a product: the letters were operands of the same level, so
            // `X Wq` is X W q and `a/Nx` is (a/N) x.
            if matches!(op.as_rule(), Rule::juxt) {
                crate::read::spacing::note_bare_call(&lhs, op.get_input());
                let (lhs, rhs) = match crate::read::spacing::tight_divisor(lhs, rhs) {
                    Ok(divided) => return Ok(divided),
                    Err(both) => both,
                };
                let span = lhs.span.join(rhs.span);
                let mut items = match lhs.kind {
                    NodeKind::Juxt(items) | NodeKind::Word(items) => items,
                    _ => vec![lhs],
                };
                items.extend(Word::pieces(rhs));
                return node(NodeKind::Juxt(items), span);
            }
            if op.as_rule() == Rule::div {
                if let Some(power) = crate::read::spacing::fraction_exponent(&lhs, span_of(&op), &rhs, op.get_input())?
                {
                    return Ok(power);
                }
            }
            if matches!(op.as_rule(), Rule::matmul | Rule::div) && matches!(rhs.kind, NodeKind::Word(_)) {
                let mut rest = Word::pieces(rhs);
                let first = rest.remove(0);
                let lhs = Word::finish(lhs);
                let op_span = span_of(&op);
                let span = lhs.span.join(first.span);
                let op = if op.as_rule() == Rule::matmul { BinOp::MatMul } else { BinOp::Div };
                let head = node(NodeKind::Binary { op, op_span, lhs: Box::new(lhs), rhs: Box::new(first) }, span)?;
                let span = rest.iter().fold(head.span, |s, i| s.join(i.span));
                let mut items = vec![head];
                items.extend(rest);
                return node(NodeKind::Juxt(items), span);
            }
            let (lhs, rhs) = (Word::finish(lhs), Word::finish(rhs));
            let op_span = span_of(&op);
            let span = lhs.span.join(rhs.span);
            let binary = |op| NodeKind::Binary { op, op_span, lhs: Box::new(lhs.clone()), rhs: Box::new(rhs.clone()) };
            // Sums and juxtapositions grow in place; their depth is updated, not recomputed.
            let flat_depth = lhs.depth.max(rhs.depth + 1);
            let kind = match op.as_rule() {
                Rule::add | Rule::sub => {
                    let negative = op.as_rule() == Rule::sub;
                    let terms = match lhs.kind {
                        NodeKind::Sum(mut terms) => {
                            terms.push((negative, rhs));
                            return Ok(Node { kind: NodeKind::Sum(terms), span, depth: flat_depth });
                        }
                        _ => vec![(false, lhs), (negative, rhs)],
                    };
                    NodeKind::Sum(terms)
                }
                Rule::juxt => {
                    let items = match lhs.kind {
                        NodeKind::Juxt(mut items) => {
                            items.push(rhs);
                            return Ok(Node { kind: NodeKind::Juxt(items), span, depth: flat_depth });
                        }
                        _ => vec![lhs, rhs],
                    };
                    NodeKind::Juxt(items)
                }
                Rule::matmul => binary(BinOp::MatMul),
                Rule::div => binary(BinOp::Div),
                Rule::hadamard => binary(BinOp::Hadamard),
                Rule::hdiv => binary(BinOp::HDiv),
                Rule::kron_op => binary(BinOp::Kron),
                Rule::dot_op => binary(BinOp::Dot),
                Rule::dot_k => binary(BinOp::DotK(shortcut(op.clone()))),
                Rule::had_k => binary(BinOp::HadK(shortcut(op.clone()))),
                Rule::gen_had | Rule::gen_dot => {
                    let dot = op.as_rule() == Rule::gen_dot;
                    let mut sups =
                        op.into_inner().filter(|p| p.as_rule() == Rule::superscript_positions).map(superscript_text);
                    let left = sups.next().unwrap_or_default();
                    let right = sups.next().unwrap_or_default();
                    binary(BinOp::Gen { left, right, dot })
                }
                _ => unreachable!("grammar: infix rule"),
            };
            node(kind, span)
        })
        .parse(pairs)
}

fn shortcut(op: Pair<Rule>) -> Shortcut {
    let arg = op.into_inner().find(|p| p.as_rule() == Rule::shortcut_arg).map(|p| p.as_str().to_string());
    let arg = arg.unwrap_or_default();
    let arg = arg.trim_matches(|c| c == '{' || c == '}');
    match arg {
        ">" => Shortcut::Right,
        "<" => Shortcut::Left,
        k => Shortcut::K(k.parse().unwrap_or(usize::MAX)),
    }
}

fn superscript_text(pair: Pair<Rule>) -> String {
    let text = pair.as_str();
    let text = text.strip_prefix('^').unwrap_or(text);
    text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text).to_string()
}

fn postfix_op(op: Pair<Rule>) -> Result<PostOp> {
    let span = span_of(&op);
    Ok(match op.as_rule() {
        Rule::transpose => PostOp::Transpose,
        Rule::inverse => PostOp::Inverse,
        Rule::inv_transpose => PostOp::InvTranspose,
        Rule::power => {
            let inner = op.into_inner().next().expect("grammar: exponent");
            PostOp::Power(exponent(inner, span)?)
        }
        Rule::hpower => {
            let inner = op.into_inner().next().expect("grammar: exponent");
            PostOp::HPower(exponent(inner, span)?)
        }
        Rule::perm_sub => {
            let text = op.as_str();
            let text = text.strip_prefix('_').unwrap_or(text);
            let text = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
            PostOp::Subscript(text.to_string())
        }
        _ => unreachable!("grammar: postfix rule"),
    })
}

/// Reads `2`, `{-1}`, `(1/2)`, `²`, `⁻²`.
fn exponent(pair: Pair<Rule>, span: Span) -> Result<BigRational> {
    match pair.as_rule() {
        Rule::superscript_number => Ok(superscript_value(pair.as_str())),
        Rule::exponent => {
            let inner = pair.into_inner().next().expect("grammar: signed number");
            read_number(inner.as_str(), span)
        }
        _ => read_number(pair.as_str(), span),
    }
}

fn build_primary(pair: Pair<Rule>) -> Result<Node> {
    let span = span_of(&pair);
    let rule = pair.as_rule();
    match rule {
        Rule::paren | Rule::square | Rule::norm | Rule::det_bars | Rule::diff_call => {
            let mut parts = pair.into_inner();
            let inner = build_expr(parts.next().expect("grammar: inner expr"))?;
            let inner = Box::new(inner);
            let kind = match rule {
                Rule::paren => NodeKind::Paren(inner),
                Rule::square => NodeKind::Square(inner),
                Rule::norm => {
                    let sub = parts.next().map(|p| {
                        let t = p.as_str().trim_start_matches('_').replace('₂', "2").replace('₁', "1");
                        t.trim_start_matches('{').trim_end_matches('}').to_string()
                    });
                    NodeKind::Norm(inner, sub)
                }
                Rule::det_bars => NodeKind::DetBars(inner),
                _ => NodeKind::Diff(inner),
            };
            node(kind, span)
        }
        Rule::embed => {
            let mut inner = None;
            let (mut bar, mut tag, mut sub) = (false, None, None);
            for p in pair.into_inner() {
                match p.as_rule() {
                    Rule::expr => inner = Some(build_expr(p)?),
                    Rule::bar_mark => bar = true,
                    Rule::occurrence_tag => tag = Some(read_tag(&p)),
                    Rule::name_subscript => sub = Some(subscript_body(&p)),
                    _ => {}
                }
            }
            let inner = Box::new(inner.expect("grammar: embedded expr"));
            node(NodeKind::Embed { inner, bar, tag, sub }, span)
        }
        Rule::einsum => {
            let mut inner = pair.into_inner();
            let string = inner.next().expect("grammar: einsum string");
            let spec_span = span_of(&string);
            let spec = string.into_inner().next().map(|p| p.as_str().to_string()).unwrap_or_default();
            let args = inner.map(build_expr).collect::<Result<Vec<_>>>()?;
            node(NodeKind::Einsum { spec, spec_span, args }, span)
        }
        Rule::call => {
            let mut func = None;
            let (mut prime, mut sup, mut args) = (0u8, None, Vec::new());
            let mut rest = Vec::new();
            for p in pair.into_inner() {
                match p.as_rule() {
                    Rule::func_name | Rule::sigma_func => func = Builtin::from_name(p.as_str()),
                    Rule::func_prime => prime = p.as_str().len() as u8,
                    Rule::func_sup => {
                        let text = p.as_str();
                        let text = text.strip_prefix('^').unwrap_or(text);
                        let text = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
                        sup = Some(text.to_string());
                    }
                    Rule::expr => args.push(build_expr(p)?),
                    Rule::bare_operand => {
                        // `tr AX` is tr(A) X, as when the letters were separate.
                        let operand = fold_words(p.into_inner())?;
                        let mut pieces = Word::pieces(operand);
                        args.push(pieces.remove(0));
                        rest = pieces;
                    }
                    _ => {}
                }
            }
            let func = func.expect("grammar: function name");
            // NumPy's and MATLAB's `norm(x, 1)`, `norm(x, 2)`: the subscripted norm, which
            // refuses what it does not mean for a matrix (its 1- and spectral norms).
            if let (Builtin::Norm, [x, order]) = (&func, args.as_slice()) {
                let which = match &order.kind {
                    NodeKind::Number { value, barred: false, .. }
                        if value.is_integer()
                            && matches!(num_traits::ToPrimitive::to_u8(&value.to_integer()), Some(1 | 2)) =>
                    {
                        value.to_integer().to_string()
                    }
                    _ => {
                        return Err(Error::new(ErrorCode::Unsupported, "a norm's order is 1 or 2", order.span)
                            .hint("write norm(x), norm(x, 1), ||x||_1 or ||X||_F"))
                    }
                };
                if prime == 0 && sup.is_none() && rest.is_empty() {
                    return node(NodeKind::Norm(Box::new(x.clone()), Some(which)), span);
                }
            }
            if rest.is_empty() {
                return node(NodeKind::Call { func, prime, sup, args }, span);
            }
            let call_span = args.iter().fold(span_of_start(span), |s, a| s.join(a.span));
            let mut items = vec![node(NodeKind::Call { func, prime, sup, args }, call_span)?];
            items.extend(rest);
            node(NodeKind::Word(items), span)
        }
        Rule::sub_call => {
            let mut inner = pair.into_inner();
            let name_pair = inner.next().expect("grammar: name");
            let mut name_span = span_of(&name_pair);
            let mut name = read_letter_name(name_pair);
            let mut positions = String::new();
            let mut arg = None;
            for p in inner {
                match p.as_rule() {
                    Rule::expr => arg = Some(build_expr(p)?),
                    Rule::name_subscript => {
                        name.sub = Some(subscript_body(&p));
                        name_span = name_span.join(span_of(&p));
                    }
                    _ => positions = p.as_str().to_string(),
                }
            }
            let arg = Box::new(arg.expect("grammar: argument"));
            let (head, name, name_span) = word_before_call(name, name_span);
            with_head(head, node(NodeKind::SubCall { name, name_span, positions, arg }, span)?, span)
        }
        Rule::prime_call => {
            let mut inner = pair.into_inner();
            let name_pair = inner.next().expect("grammar: name");
            let mut name_span = span_of(&name_pair);
            let mut name = read_letter_name(name_pair);
            // A Greek word is its letter here too, as everywhere (`Phi'(x)` is Φ'(x)).
            if let Some(letter) = greek_letter(&name.base) {
                name.base = letter.to_string();
            }
            let mut arg = None;
            let mut primes = 1u8;
            for p in inner {
                match p.as_rule() {
                    Rule::func_prime => primes = p.as_str().len() as u8,
                    Rule::name_subscript => {
                        name.sub = Some(subscript_body(&p));
                        name_span = name_span.join(span_of(&p));
                    }
                    _ => arg = Some(build_expr(p)?),
                }
            }
            let arg = Box::new(arg.expect("grammar: argument"));
            let (head, name, name_span) = word_before_call(name, name_span);
            with_head(head, node(NodeKind::PrimeCall { name, name_span, primes, arg }, span)?, span)
        }
        Rule::iota => node(NodeKind::Iota, span),
        Rule::ones_sized => {
            let size = pair.into_inner().next().expect("grammar: size");
            let name = NameRef {
                base: size.as_str().to_string(),
                sub: None,
                tag: None,
                bar: false,
                diff: false,
                portion: None,
            };
            let arg = node(NodeKind::Name(name), span_of(&size))?;
            node(NodeKind::Call { func: Builtin::Ones, prime: 0, sup: None, args: vec![arg] }, span)
        }
        Rule::ones_lead => node(NodeKind::OnesLead, span),
        Rule::number => {
            let mut text = String::new();
            let mut barred = false;
            for p in pair.into_inner() {
                match p.as_rule() {
                    Rule::number_text => text = p.as_str().to_string(),
                    _ => barred = true,
                }
            }
            let value = read_number(&text, span)?;
            node(NodeKind::Number { value, text, barred }, span)
        }
        Rule::greek_word => node(NodeKind::Name(read_name(pair)), span),
        Rule::name | Rule::diff_name => {
            let mut name = read_name(pair);
            if name.diff && crate::read::words::is_whole(&format!("d{}", name.full())) {
                // A defined `data`, not the differential of `ata`.
                name.base = format!("d{}", name.base);
                name.diff = false;
            }
            match crate::read::words::split(&name, span) {
                Some(pieces) => node(NodeKind::Word(pieces), span),
                None => node(NodeKind::Name(name), span),
            }
        }
        _ => unreachable!("grammar: primary rule {rule:?}"),
    }
}

/// A function name that is a word split into names (`Xf'(A)`): the names before the
/// last, and the last, which is the function.
fn word_before_call(name: NameRef, name_span: Span) -> (Vec<Node>, NameRef, Span) {
    match crate::read::words::split(&name, name_span) {
        Some(mut pieces) => {
            let last = pieces.pop().expect("a word has pieces");
            match last.kind {
                NodeKind::Name(n) => (pieces, n, last.span),
                _ => (pieces, name, name_span),
            }
        }
        None => (Vec::new(), name, name_span),
    }
}

/// `call` after the names `head` of a split word, as a word of its own.
fn with_head(mut head: Vec<Node>, call: Node, span: Span) -> Result<Node> {
    if head.is_empty() {
        return Ok(call);
    }
    head.push(call);
    node(NodeKind::Word(head), span)
}

fn read_tag(pair: &Pair<Rule>) -> u32 {
    pair.as_str().trim_start_matches('@').parse().unwrap_or(u32::MAX)
}

fn subscript_body(pair: &Pair<Rule>) -> String {
    let text = pair.as_str();
    let text = text.strip_prefix('_').unwrap_or(text);
    let body = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
    // `A₂₃` reads as `A_{23}`.
    body.chars()
        .map(|c| match c {
            '₀'..='₉' => char::from(b'0' + (c as u32 - '₀' as u32) as u8),
            c => c,
        })
        .collect()
}

/// Reads `name`, `diff_name`, `greek_word` and `decl_name` pairs.
fn read_name(pair: Pair<Rule>) -> NameRef {
    let mut name = NameRef { base: String::new(), sub: None, tag: None, bar: false, diff: false, portion: None };
    if pair.as_rule() == Rule::diff_name {
        name.diff = true;
    }
    collect_name(pair, &mut name);
    name
}

fn read_letter_name(pair: Pair<Rule>) -> NameRef {
    let mut name = NameRef { base: String::new(), sub: None, tag: None, bar: false, diff: false, portion: None };
    collect_name(pair, &mut name);
    name
}

fn collect_name(pair: Pair<Rule>, name: &mut NameRef) {
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::name | Rule::letter_name | Rule::greek_word => collect_name(p, name),
            Rule::greek_word_text => name.base.push_str(greek_letter(p.as_str()).unwrap_or("?")),
            Rule::word | Rule::name_digits => name.base.push_str(p.as_str()),
            Rule::barred_letter => {
                name.bar = true;
                name.base.push_str(unbar(p.as_str()));
            }
            Rule::bar_mark => name.bar = true,
            Rule::occurrence_tag => name.tag = Some(read_tag(&p)),
            Rule::name_subscript => name.sub = Some(subscript_body(&p)),
            Rule::portion_subscript => name.portion = Some(subscript_body(&p)),
            _ => {}
        }
    }
}

fn unbar(letter: &str) -> &'static str {
    match letter {
        "Ā" => "A",
        "ā" => "a",
        "Ē" => "E",
        "ē" => "e",
        "Ḡ" => "G",
        "ḡ" => "g",
        "Ī" => "I",
        "ī" => "i",
        "Ō" => "O",
        "ō" => "o",
        "Ū" => "U",
        "ū" => "u",
        "Ȳ" => "Y",
        _ => "y",
    }
}

/// Turns a pest error into ours, naming tokens the way a user types them.
fn syntax_error(source: &str, text: &str, e: pest::error::Error<Rule>) -> Error {
    use pest::error::{ErrorVariant, InputLocation};
    if matches!(&e.variant, ErrorVariant::CustomError { message } if message.contains("call limit")) {
        return Error::new(
            ErrorCode::Limit,
            format!(
                "the input takes too many parser steps (limit: {} per byte, at least {})",
                limits::MAX_PARSE_CALLS_PER_BYTE,
                limits::MIN_PARSE_CALLS
            ),
            Span::new(0, text.len().min(1)),
        )
        .hint("long runs of `|` are ambiguous between norms and determinants: write norm(x) or det(X)");
    }
    let at = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    if let Some(open) = unclosed_bracket(text, at).or_else(|| open_across_lines(text, at)) {
        let c = text[open..].chars().next().unwrap_or('(');
        let close = match c {
            '(' => ')',
            '[' => ']',
            _ => '}',
        };
        let hint = match c {
            '[' => {
                format!("close it with `{close}` (`[…]` is bracket notation, `[A B̄]`), or remove it; a norm is `||x||`")
            }
            _ => format!("close it with `{close}`, or remove it"),
        };
        return Error::new(
            ErrorCode::Syntax,
            format!("the `{c}` opened here is never closed"),
            Span::new(open, open + 1),
        )
        .hint(hint);
    }
    let found = text[at.min(text.len())..].chars().next();
    // A line break outside brackets reads as `;`: it is the line that ends, at its end.
    let line_end = found == Some(';') && source.as_bytes().get(at) == Some(&b'\n');
    let end = if line_end { at } else { at + found.map_or(1, char::len_utf8) };
    let what = match found {
        None => "the input ends too early".to_string(),
        Some(_) if line_end => "the line ends too early".to_string(),
        Some(c) if crate::error::invisible(c) => format!("unexpected invisible character U+{:04X}", c as u32),
        // A no-break space (U+00A0) or another space that is not ASCII's, from copied text.
        Some(c) if c.is_whitespace() && !c.is_ascii() => format!("unexpected space character U+{:04X}", c as u32),
        Some(c) => format!("unexpected `{c}`"),
    };
    let expected = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().filter_map(|r| rule_name(*r)).collect();
            names.sort_unstable();
            names.dedup();
            names
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let message = if expected.is_empty() { what } else { format!("{what}; expected {}", join_or(&expected)) };
    // `W_out: matrix(m, n)`: a subscript of several letters wants braces.
    // (With the word the error stands in: `a, h_prev: …` fails at the `_`.)
    let word_end = text[at.min(text.len())..]
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(text.len(), |k| at.min(text.len()) + k);
    let statement = text[..word_end].rsplit([';', '\n']).next().unwrap_or("");
    let long = crate::read::hints::long_subscript(statement);
    let hint = match found {
        Some(')') if method_call(&text[..at.min(text.len())]) => {
            "methods are not read: write the function around its argument, `sum(x)`, `x^T`, `tr(A)`"
        }
        Some(')') | Some(']') | Some('}') => {
            "a closing bracket has no opening partner, or an operand is missing before it"
        }
        Some('=') if keyword_argument(&text[..at.min(text.len())]) => {
            "functions take their arguments by position, with no keywords (`axis=1`); `sum`, `mean` and \
             `logsumexp` run over every entry: sum rows as `X 1` (a row-wise log-sum-exp is `ln(exp(X W) 1)`)"
        }
        Some('=') => "`=` defines a name (`h = …`) or states a fact; it must stand between two expressions",
        Some('\\') => latex_hint(&text[at + 1..]),
        // `… ||Xw − y||² +`: an operator with nothing after it.
        None if text.trim_end().ends_with(['+', '-', '*', '/', '−', '⊙', '⊘', '⊗', '·']) => {
            "the input ends with an operator: an operand is missing after it, or the operator is one too many"
        }
        None | Some('|') if nested_bars(&text[..at.min(text.len())]) => {
            "inside `|…|` the next bar closes it: put a nested determinant in parentheses, \
             `|(A + B|C|)|`, or write `det(A + B det(C))`"
        }
        None => "an operand or a closing bracket is missing at the end",
        // `e^x`: Euler's number to a power is exp.
        _ if euler_power(&text[..at.min(text.len())]) => {
            "for e to a power write exp(x), as `e^x` is read as a name e to a numeric power"
        }
        Some('t' | 'H' | '*') if text[..at.min(text.len())].ends_with('^') => {
            "a transpose is `A^T` (capital T) or `Aᵀ`; matrices here are real, so a conjugate transpose `A^H` is `A^T`"
        }
        _ if text[..at.min(text.len())].trim_end().trim_end_matches('(').trim_end().ends_with('^') => {
            "an exponent is a number (`x^2`, `X.^(-1/2)`); for a variable one write exp(a ln(x))"
        }
        // NumPy's `norm(X, 'fro')`.
        Some('\'' | '"') if text[..at.min(text.len())].trim_end().ends_with(',') => {
            "a quoted word is not read: the Frobenius norm is `||X||` (or `||X||_F`, `norm(X)`), a \
             vector's 1-norm `||x||_1` or `norm(x, 1)`"
        }
        // `max(0, x)` or `max(x, 0)`: the hinge.
        Some(',') if inside_call(&text[..at.min(text.len())], "max(") => {
            "`max(0, x)` and `max(x, 0)` are `relu(x)` (the hinge is `relu(1 - y .* (X w))`); a maximum \
             of two tensors is not built in"
        }
        // NumPy's slices, `x[0:3]`.
        Some(':') if inside_call(&text[..at.min(text.len())], "[") => {
            "slices are not read: name the part as a variable of its own, or select it with a product \
             (`x[0:3]` is `S x` for a 3 × n selection matrix S)"
        }
        // `where(x > 0, …)`, `x > 0`.
        Some('>' | '<') => {
            "comparisons (and `where`) are not read: `relu(x)` is `max(x, 0)`, and `abs`, `sign` and \
             `relu'` are built in"
        }
        Some(c) if c.is_whitespace() && !c.is_ascii() => {
            "a space that is not a plain space (a no-break space from copied text): retype it as a plain space"
        }
        // `.5`: a number opens with a digit.
        Some('.')
            if text[at.min(text.len())..].chars().nth(1).is_some_and(|c| c.is_ascii_digit())
                && !text[..at.min(text.len())]
                    .ends_with(|c: char| c.is_alphanumeric() || matches!(c, ')' | ']' | '}')) =>
        {
            "a number opens with a digit: write `0.5` for `.5`"
        }
        Some('ℓ') => {
            "`ℓ` is not a letter bracket reads: name the length scale `l`, or a word declared as a name \
                      (`ell: scalar`)"
        }
        Some('_') if text[..at.min(text.len())].trim_end().ends_with(['|', '‖']) => {
            "norms are `||x||` (the 2-norm, Frobenius for a matrix) and `||x||_1` of a vector; a max \
             norm `||x||_inf` is not built in"
        }
        _ => crate::read::hints::symbol_hint(found, &text[..at.min(text.len())])
            .or(long.as_deref())
            .unwrap_or("see docs/syntax.md for the notation"),
    };
    Error::new(ErrorCode::Syntax, message, Span::new(at, end)).hint(hint)
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        _ => format!("{} or {}", items[..items.len() - 1].join(", "), items[items.len() - 1]),
    }
}

/// User-facing names of grammar rules; `None` for rules never worth naming.
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::expr => "an operand",
        Rule::paren | Rule::square | Rule::embed | Rule::norm | Rule::det_bars => "an operand",
        Rule::name | Rule::diff_name | Rule::greek_word | Rule::number | Rule::call => "an operand",
        Rule::einsum | Rule::iota | Rule::ones_lead | Rule::sub_call | Rule::prime_call => "an operand",
        Rule::diff_call => "an operand",
        Rule::add | Rule::sub | Rule::matmul | Rule::div | Rule::hadamard | Rule::hdiv => "an operator",
        Rule::kron_op | Rule::dot_op | Rule::dot_k | Rule::had_k | Rule::gen_had | Rule::gen_dot => "an operator",
        Rule::juxt => "an operator",
        Rule::transpose | Rule::inverse | Rule::inv_transpose | Rule::power | Rule::hpower => "a postfix operator",
        Rule::perm_sub => "a postfix operator",
        Rule::neg | Rule::bar => "an operand",
        Rule::declaration | Rule::decl_names | Rule::decl_name => "a name",
        Rule::type_spec | Rule::type_word => "a kind such as `matrix`",
        Rule::type_arg => "a size",
        Rule::equation => "`=`",
        Rule::EOI => "the end of the input",
        Rule::string => "a quoted einsum specification",
        Rule::exponent | Rule::signed_number | Rule::bare_number => "a number",
        Rule::bare_operand => "an argument",
        Rule::subscript_body => "a subscript",
        _ => return None,
    })
}
