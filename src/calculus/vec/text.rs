//! The vec layout's forms as text: Unicode, ASCII, LaTeX, and NumPy expressions that
//! give the 2-D array.

use super::{scalar_factor, Part, VecForm};
use crate::ir::expr::{Expr, Kind};
use crate::ir::shape::Dim;
use crate::read::elaborate::Model;
use crate::render::{render, render_numpy, Format};
use num_rational::BigRational;
use num_traits::{One, Signed};

impl VecForm {
    /// The form in a text format (unicode, ascii, latex) or as a NumPy expression that
    /// gives the 2-D array.
    pub fn render(&self, format: Format, model: &Model) -> String {
        let mut out = String::new();
        for (k, part) in self.parts.iter().enumerate() {
            let (c, body) = part.render(format, model);
            let negative = c.is_negative();
            let magnitude = c.abs();
            let sign = match (k, negative, format) {
                (0, true, _) => "-".to_string(),
                (0, false, _) => String::new(),
                (_, true, Format::Unicode) => " − ".to_string(),
                (_, true, _) => " - ".to_string(),
                (_, false, _) => " + ".to_string(),
            };
            let coefficient = if magnitude.is_one() {
                String::new()
            } else if matches!(format, Format::Numpy) {
                format!("{} * ", number(&magnitude))
            } else {
                number(&magnitude)
            };
            let sign = if k == 0 && negative && matches!(format, Format::Unicode) { "−".to_string() } else { sign };
            out.push_str(&format!("{sign}{coefficient}{body}"));
        }
        out
    }
}

fn number(c: &BigRational) -> String {
    if c.is_integer() {
        c.to_string()
    } else {
        format!("({})", c)
    }
}

/// True for text that is one parenthesis and a postfix (`(PS ⊙ UV)ᵀ`, `(A + B)⁻¹`):
/// already one operand.
fn closed(text: &str) -> bool {
    let text = text.replace("\\left(", "(").replace("\\right)", ")");
    let Some(inner) = text.strip_prefix('(') else { return false };
    let mut depth = 1;
    for (k, ch) in inner.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            let rest = &inner[k + 1..];
            let latex = rest.starts_with('^') && !rest.contains(' ');
            return latex || (!rest.is_empty() && rest.chars().all(|c| "ᵀ⁻¹²³⁴⁵⁶⁷⁸⁹⁰".contains(c)));
        }
    }
    false
}

/// A factor as text, in parentheses unless it is one product.
fn factor(e: &Expr, format: Format, model: &Model) -> String {
    if matches!(format, Format::Numpy) {
        return render_numpy(e, model);
    }
    let text = render(e, format);
    let plain = !text.contains(' ') || matches!(e.kind, Kind::Var(_) | Kind::Identity | Kind::Ones) || closed(&text);
    if plain {
        text
    } else if matches!(format, Format::Latex) {
        format!("\\left({text}\\right)")
    } else {
        format!("({text})")
    }
}

impl Part {
    fn render(&self, format: Format, model: &Model) -> (BigRational, String) {
        let one = BigRational::one();
        // (ASCII writes `kron(P, Q)`, which reads back, so its factors need no parentheses.)
        let f = |e: &Expr| if format == Format::Ascii { render(e, format) } else { factor(e, format, model) };
        let np = matches!(format, Format::Numpy);
        let (vec_of, transposed, k) = match format {
            Format::Latex => ("\\operatorname{vec}", "^\\top", "K"),
            Format::Unicode => ("vec", "ᵀ", "K"),
            _ => ("vec", "^T", "K"),
        };
        // LaTeX's diag is an operator name; ASCII and LaTeX put spaces between the
        // factors of a product of parts (`\top diag` would read as `\topdiag`).
        let (diag, gap) = match format {
            Format::Latex => ("\\operatorname{diag}", " "),
            Format::Unicode => ("diag", ""),
            _ => ("diag", " "),
        };
        match self {
            Part::Same(e) => (one, if np { render_numpy(e, model) } else { render(e, format) }),
            Part::Row(g) if np => (one, format!("np.reshape({}, (1, -1), order=\"F\")", f(g))),
            Part::Row(g) if g.order() <= 1 => (one, render(&crate::ir::build::transpose(g.clone()), format)),
            Part::Row(g) => (one, format!("{vec_of}({}){transposed}", render(g, format))),
            Part::Kron(c, p, q) if np => {
                (c.clone(), format!("np.kron({}, {})", np_matrix(p, model), np_matrix(q, model)))
            }
            Part::Kron(c, p, q) if is_identity(p) && is_identity(q) => {
                (c.clone(), format!("I_{{{}{}}}", p.shape[0], q.shape[0]))
            }
            Part::Kron(c, p, q) => match (scalar_factor(p), scalar_factor(q)) {
                // A scalar in a factor goes in front with the number: `(N/2)(Λ⁻¹ ⊗ Λ⁻¹)`.
                (None, Some((k, s, q))) => scaled_kron(&(c * k), s.as_ref(), &f(p), &f(&q), format),
                (Some((k, s, p)), None) => scaled_kron(&(c * k), s.as_ref(), &f(&p), &f(q), format),
                _ => (c.clone(), kron_text(format, &f(p), &f(q), false)),
            },
            Part::Commuted(c, p, q, dp, dq) => {
                let (sp, sq) = (size_text(dp, model), size_text(dq, model));
                if np {
                    let commutation = format!(
                        "np.eye({sp} * {sq})[np.arange({sp} * {sq}).reshape(({sp}, {sq}), order=\"F\").ravel()]"
                    );
                    let body = format!("np.kron({}, {})", np_matrix(p, model), np_matrix(q, model));
                    (c.clone(), format!("{body} @ {commutation}"))
                } else {
                    let sub = match format {
                        Format::Latex => format!("_{{{dp}{dq}}}"),
                        Format::Unicode => format!("_{{{dp}{dq}}}"),
                        _ => format!("_{{{dp},{dq}}}"),
                    };
                    if is_identity(p) && is_identity(q) {
                        return (c.clone(), format!("{k}{sub}"));
                    }
                    (c.clone(), format!("{}{k}{sub}", kron_text(format, &f(p), &f(q), true)))
                }
            }
            Part::Outer(c, a, b) if np => {
                (c.clone(), format!("np.outer(np.ravel({}, order=\"F\"), np.ravel({}, order=\"F\"))", f(a), f(b)))
            }
            Part::Outer(c, a, b) => {
                (c.clone(), format!("{vec_of}({}){vec_of}({}){transposed}", render(a, format), render(b, format)))
            }
            Part::RowScaled(d, p) => {
                let (c, inner) = p.render(format, model);
                let text = if np {
                    format!("np.diag(np.ravel({}, order=\"F\")) @ ({inner})", f(d))
                } else {
                    // ASCII's `kron(P, Q)` is one operand already.
                    let inner = if format == Format::Ascii { inner } else { format!("({inner})") };
                    format!("{diag}({vec_of}({})){gap}{inner}", render(d, format))
                };
                (c, text)
            }
            Part::Sandwich { c, left, middle, right, shared, first } => {
                let side = |m: &Expr| beside_identity(m, shared, *first, format, model);
                let text = if np {
                    let d = render_numpy(middle, model);
                    format!("{}.T @ np.diag(np.ravel({d}, order=\"F\")) @ {}", side(left), side(right))
                } else {
                    let d = render(middle, format);
                    format!("{}{transposed}{gap}{diag}({vec_of}({d})){gap}{}", side(left), side(right))
                };
                (c.clone(), text)
            }
            Part::Coupled { c, left, d, e, right, first } => {
                // D is on (n, j) and E on (n, l) (with `first`, (j, n) and (l, n)).
                let at = usize::from(!*first);
                let (n, j, l) = (&d.shape[1 - at], &d.shape[at], &e.shape[at]);
                let identity = |dim: &Dim| Expr::new(Kind::Identity, vec![dim.clone(), dim.clone()]);
                let ones = |dim: &Dim| Expr::new(Kind::Ones, vec![dim.clone()]);
                let side = |m: &Expr, block: &Dim| beside_identity(m, block, *first, format, model);
                let coupling = if np {
                    let all = format!("np.ones(({}, {}))", size_text(j, model), size_text(l, model));
                    let eye = format!("np.eye({})", size_text(n, model));
                    if *first {
                        format!("np.kron({eye}, {all})")
                    } else {
                        format!("np.kron({all}, {eye})")
                    }
                } else {
                    let all = crate::ir::build::product(ones(j), crate::ir::build::transpose(ones(l)));
                    let all = render(&all, format);
                    let eye = render(&identity(n), format);
                    if *first {
                        kron_text(format, &eye, &all, true)
                    } else {
                        kron_text(format, &all, &eye, true)
                    }
                };
                let diagonal = |x: &Expr| {
                    if np {
                        format!("np.diag(np.ravel({}, order=\"F\"))", render_numpy(x, model))
                    } else {
                        format!("{diag}({vec_of}({}))", render(x, format))
                    }
                };
                let mut factors = Vec::new();
                if let Some(a) = left {
                    factors.push(format!("{}{}", side(a, j), if np { ".T" } else { transposed }));
                }
                factors.extend([diagonal(d), coupling, diagonal(e)]);
                if let Some(b) = right {
                    factors.push(side(b, l));
                }
                (c.clone(), factors.join(if np { " @ " } else { gap }))
            }
            Part::Diagonal(c, d) if np => (c.clone(), format!("np.diag(np.ravel({}, order=\"F\"))", f(d))),
            Part::Diagonal(c, d) => (c.clone(), format!("{diag}({vec_of}({}))", render(d, format))),
            Part::Zero(rows, cols) if np => {
                let size = |dims: &[Dim]| {
                    let sizes: Vec<String> = dims.iter().map(|d| size_text(d, model)).collect();
                    if sizes.is_empty() {
                        "1".to_string()
                    } else {
                        sizes.join(" * ")
                    }
                };
                (one, format!("np.zeros(({}, {}))", size(rows), size(cols)))
            }
            Part::Zero(..) => (one, "0".to_string()),
        }
    }
}

/// `c s (P ⊗ Q)` with `|c|s` in front, in parentheses unless it is one name or number:
/// the sign stays in the number, for the sum of parts to print.
fn scaled_kron(c: &BigRational, s: Option<&Expr>, p: &str, q: &str, format: Format) -> (BigRational, String) {
    let sign = if c.is_negative() { -BigRational::one() } else { BigRational::one() };
    let Some(s) = s else {
        return (c.clone(), kron_text(format, p, q, true));
    };
    // `N/2`, not `(1/2)N`.
    let numerator = crate::ir::build::scale(BigRational::from_integer(c.numer().abs()), s.clone());
    let magnitude = if c.denom().is_one() {
        numerator
    } else {
        let denominator = Expr::new(Kind::Const(BigRational::from_integer(c.denom().clone())), vec![]);
        Expr::new(Kind::DivScalar(Box::new(numerator), Box::new(denominator)), vec![])
    };
    let text = render(&magnitude, format);
    let front = if matches!(magnitude.kind, Kind::Var(_)) { text } else { format!("({text})") };
    (sign, format!("{front}{}", kron_text(format, p, q, true)))
}

/// `I ⊗ M` (with `first`, `M ⊗ I`), the identity of `block`, in `format`: a side of a
/// sandwich or coupled part.
fn beside_identity(m: &Expr, block: &Dim, first: bool, format: Format, model: &Model) -> String {
    let identity = Expr::new(Kind::Identity, vec![block.clone(), block.clone()]);
    let (p, q) = if first { (m, &identity) } else { (&identity, m) };
    if matches!(format, Format::Numpy) {
        return format!("np.kron({}, {})", np_matrix(p, model), np_matrix(q, model));
    }
    let f = |e: &Expr| if format == Format::Ascii { render(e, format) } else { factor(e, format, model) };
    kron_text(format, &f(p), &f(q), true)
}

/// `P ⊗ Q` in `format`, in parentheses where `grouped`; ASCII writes `kron(P, Q)`, which
/// the input reads (`(x)` would read as the vector x).
fn kron_text(format: Format, p: &str, q: &str, grouped: bool) -> String {
    let infix = match format {
        Format::Latex => " \\otimes ",
        Format::Ascii => return format!("kron({p}, {q})"),
        _ => " ⊗ ",
    };
    if grouped {
        format!("({p}{infix}{q})")
    } else {
        format!("{p}{infix}{q}")
    }
}

fn is_identity(e: &Expr) -> bool {
    e.kind == Kind::Identity
}

/// A factor of a Kronecker product as NumPy's 2-D array: a vector is a column, a
/// transposed vector a row.
fn np_matrix(e: &Expr, model: &Model) -> String {
    match &e.kind {
        Kind::Transpose(x) if x.order() == 1 => format!("np.reshape({}, (1, -1))", render_numpy(x, model)),
        _ => match e.order() {
            0 => format!("np.reshape({}, (1, 1))", render_numpy(e, model)),
            1 => format!("np.reshape({}, (-1, 1))", render_numpy(e, model)),
            _ => render_numpy(e, model),
        },
    }
}

/// The size of a dim as NumPy reads it from the arguments: a number, or the first
/// argument's size along it.
fn size_text(d: &Dim, model: &Model) -> String {
    if let Dim::Int(k) = d {
        return k.to_string();
    }
    for (name, info) in &model.names {
        if let Some(at) = info.shape.iter().position(|e| e == d) {
            return format!("{}.shape[{at}]", crate::render::py_name(name));
        }
    }
    d.to_string()
}
