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
    /// gives the 2-D array. Parts with the same outer factors share them, written once:
    /// `(Aᵀ ⊗ B + C ⊗ D)K` and `(I ⊗ X)ᵀ(diag(vec(P)) − …)(I ⊗ X)`.
    pub fn render(&self, format: Format, model: &Model) -> String {
        let mut items: Vec<(BigRational, String)> = Vec::new();
        let mut grouped = vec![false; self.parts.len()];
        for (k, part) in self.parts.iter().enumerate() {
            if grouped[k] {
                continue;
            }
            let Some((before, inner, after)) = part.pieces(format, model) else {
                items.push(part.render(format, model));
                continue;
            };
            let mut members = vec![inner];
            for (m, other) in self.parts.iter().enumerate().skip(k + 1) {
                match other.pieces(format, model) {
                    Some((b, i, a)) if !grouped[m] && b == before && a == after => {
                        members.push(i);
                        grouped[m] = true;
                    }
                    _ => {}
                }
            }
            if members.len() == 1 {
                items.push(part.render(format, model));
                continue;
            }
            // A number every member has goes in front: `2(X⁻¹ ⊗ X⁻³ᵀ + X⁻³ ⊗ X⁻ᵀ)K`.
            let common = members[0].0.abs();
            let magnitude = if members.iter().all(|(c, _)| c.abs() == common) { common } else { BigRational::one() };
            let negative = members.iter().all(|(c, _)| c.is_negative());
            let front = if negative { -magnitude } else { magnitude };
            let members: Vec<(BigRational, String)> = members.into_iter().map(|(c, t)| (c / &front, t)).collect();
            let sum = signed_sum(&members, format);
            let sum =
                if matches!(format, Format::Latex) { format!("\\left({sum}\\right)") } else { format!("({sum})") };
            let body: Vec<&str> =
                [before.as_str(), sum.as_str(), after.as_str()].into_iter().filter(|t| !t.is_empty()).collect();
            items.push((front, body.join(product_gap(format))));
        }
        signed_sum(&items, format)
    }
}

/// Terms with their numbers, summed: the first term's sign in front, the others'
/// between them.
fn signed_sum(items: &[(BigRational, String)], format: Format) -> String {
    let mut out = String::new();
    for (k, (c, body)) in items.iter().enumerate() {
        let negative = c.is_negative();
        let magnitude = c.abs();
        let sign = match (k, negative, format) {
            (0, true, Format::Unicode) => "−",
            (0, true, _) => "-",
            (0, false, _) => "",
            (_, true, Format::Unicode) => " − ",
            (_, true, _) => " - ",
            (_, false, _) => " + ",
        };
        let coefficient = if magnitude.is_one() {
            String::new()
        } else if matches!(format, Format::Numpy) {
            format!("{} * ", number(&magnitude))
        } else {
            number(&magnitude)
        };
        out.push_str(&format!("{sign}{coefficient}{body}"));
    }
    out
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
    let Some(end) = crate::render::group_end(&text) else { return false };
    let rest = &text[end..];
    let latex = rest.starts_with('^') && !rest.contains(' ');
    latex || (!rest.is_empty() && rest.chars().all(|c| "ᵀ⁻¹²³⁴⁵⁶⁷⁸⁹⁰".contains(c)))
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
    /// The factors outside and the number and factors inside of a part that can share
    /// its outer factors with others: `(P ⊗ Q)K` is (``, (1, `P ⊗ Q`), `K`), and
    /// `c (I ⊗ A)ᵀ diag(vec(D))(I ⊗ B)` is (`(I ⊗ A)ᵀ`, (c, `diag(vec(D))`), `(I ⊗ B)`).
    fn pieces(&self, format: Format, model: &Model) -> Option<(String, (BigRational, String), String)> {
        let np = matches!(format, Format::Numpy);
        let transposed = transposed_text(format);
        let f = |e: &Expr| if format == Format::Ascii { render(e, format) } else { factor(e, format, model) };
        match self {
            Part::Commuted(_, p, q, ..) if is_identity(p) && is_identity(q) => None,
            Part::Commuted(c, p, q, dp, dq) => {
                let (inner, after) = if np {
                    let body = format!("np.kron({}, {})", np_matrix(p, model), np_matrix(q, model));
                    (body, commutation_numpy(dp, dq, model))
                } else {
                    (kron_text(format, &f(p), &f(q), false), commutation_text(format, dp, dq))
                };
                Some((String::new(), (c.clone(), inner), after))
            }
            Part::Sandwich { c, left, middle, right, shared, first } => {
                let side = |m: &Expr| beside_identity(m, shared, *first, format, model);
                Some((
                    format!("{}{transposed}", side(left)),
                    (c.clone(), diagonal_text(middle, format, model)),
                    side(right),
                ))
            }
            Part::Coupled { c, left: Some(a), d, e, right: Some(b), first } => {
                let at = usize::from(!*first);
                let (j, l) = (&d.shape[at], &e.shape[at]);
                let side = |m: &Expr, block: &Dim| beside_identity(m, block, *first, format, model);
                let inner = [
                    diagonal_text(d, format, model),
                    coupling_text(d, e, *first, format, model),
                    diagonal_text(e, format, model),
                ]
                .join(product_gap(format));
                Some((format!("{}{transposed}", side(a, j)), (c.clone(), inner), side(b, l)))
            }
            _ => None,
        }
    }

    fn render(&self, format: Format, model: &Model) -> (BigRational, String) {
        let one = BigRational::one();
        // (ASCII writes `kron(P, Q)`, which reads back, so its factors need no parentheses.)
        let f = |e: &Expr| if format == Format::Ascii { render(e, format) } else { factor(e, format, model) };
        let np = matches!(format, Format::Numpy);
        let vec_of = if format == Format::Latex { "\\operatorname{vec}" } else { "vec" };
        let transposed = transposed_text(format);
        match self {
            // (In NumPy a 2-D array: a vector is a column, `(p, 1)` for ∇_b∇_w with b a scalar.)
            Part::Same(e) => (one, if np { np_matrix(e, model) } else { render(e, format) }),
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
            Part::Commuted(c, p, q, dp, dq) if np => {
                let body = format!("np.kron({}, {})", np_matrix(p, model), np_matrix(q, model));
                (c.clone(), format!("{body} @ {}", commutation_numpy(dp, dq, model)))
            }
            Part::Commuted(c, p, q, dp, dq) if is_identity(p) && is_identity(q) => {
                (c.clone(), commutation_text(format, dp, dq))
            }
            Part::Commuted(c, p, q, dp, dq) => {
                (c.clone(), format!("{}{}", kron_text(format, &f(p), &f(q), true), commutation_text(format, dp, dq)))
            }
            Part::Outer(c, a, b) if np => {
                (c.clone(), format!("np.outer(np.ravel({}, order=\"F\"), np.ravel({}, order=\"F\"))", f(a), f(b)))
            }
            Part::Outer(c, a, b) => {
                (c.clone(), format!("{vec_of}({}){vec_of}({}){transposed}", render(a, format), render(b, format)))
            }
            Part::RowScaled(d, p) => {
                let (c, inner) = p.render(format, model);
                // ASCII's `kron(P, Q)` is one operand already.
                let inner = if format == Format::Ascii { inner } else { format!("({inner})") };
                let text = format!("{}{}{inner}", diagonal_text(d, format, model), product_gap(format));
                (c, text)
            }
            Part::Sandwich { .. } | Part::Coupled { left: Some(_), right: Some(_), .. } => {
                let (before, (c, inner), after) = self.pieces(format, model).expect("a part with outer factors");
                (c, [before, inner, after].join(product_gap(format)))
            }
            Part::Coupled { c, left, d, e, right, first } => {
                let at = usize::from(!*first);
                let (j, l) = (&d.shape[at], &e.shape[at]);
                let side = |m: &Expr, block: &Dim| beside_identity(m, block, *first, format, model);
                let mut factors = Vec::new();
                if let Some(a) = left {
                    factors.push(format!("{}{}", side(a, j), transposed_text(format)));
                }
                factors.extend([
                    diagonal_text(d, format, model),
                    coupling_text(d, e, *first, format, model),
                    diagonal_text(e, format, model),
                ]);
                if let Some(b) = right {
                    factors.push(side(b, l));
                }
                (c.clone(), factors.join(product_gap(format)))
            }
            Part::Diagonal(c, d) => (c.clone(), diagonal_text(d, format, model)),
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

/// What joins the factors of a product of parts: LaTeX and ASCII put spaces between
/// them (`\\top diag` would read as `\\topdiag`), NumPy a matrix product.
fn product_gap(format: Format) -> &'static str {
    match format {
        Format::Numpy => " @ ",
        Format::Unicode => "",
        _ => " ",
    }
}

fn transposed_text(format: Format) -> &'static str {
    match format {
        Format::Latex => "^\\top",
        Format::Unicode => "ᵀ",
        Format::Numpy => ".T",
        _ => "^T",
    }
}

/// `diag(vec(D))` in `format`.
fn diagonal_text(d: &Expr, format: Format, model: &Model) -> String {
    match format {
        Format::Numpy => format!("np.diag(np.ravel({}, order=\"F\"))", render_numpy(d, model)),
        Format::Latex => format!("\\operatorname{{diag}}(\\operatorname{{vec}}({}))", render(d, format)),
        _ => format!("diag(vec({}))", render(d, format)),
    }
}

/// The commutation matrix K of a p×q matrix in a text format.
fn commutation_text(format: Format, p: &Dim, q: &Dim) -> String {
    match format {
        Format::Ascii => format!("K_{{{p},{q}}}"),
        _ => format!("K_{{{p}{q}}}"),
    }
}

/// The commutation matrix K of a p×q matrix as a NumPy array.
fn commutation_numpy(p: &Dim, q: &Dim, model: &Model) -> String {
    let (sp, sq) = (size_text(p, model), size_text(q, model));
    format!("np.eye({sp} * {sq})[np.arange({sp} * {sq}).reshape(({sp}, {sq}), order=\"F\").ravel()]")
}

/// `11ᵀ ⊗ I_N` (with `first`, `I_N ⊗ 11ᵀ`) of a coupled part whose D is on (N, j) and E
/// on (N, l) (with `first`, (j, N) and (l, N)): every entry of a sample's block meets
/// every other.
fn coupling_text(d: &Expr, e: &Expr, first: bool, format: Format, model: &Model) -> String {
    let at = usize::from(!first);
    let (n, j, l) = (&d.shape[1 - at], &d.shape[at], &e.shape[at]);
    if matches!(format, Format::Numpy) {
        let all = format!("np.ones(({}, {}))", size_text(j, model), size_text(l, model));
        let eye = format!("np.eye({})", size_text(n, model));
        return if first { format!("np.kron({eye}, {all})") } else { format!("np.kron({all}, {eye})") };
    }
    let ones = |dim: &Dim| Expr::new(Kind::Ones, vec![dim.clone()]);
    let all = render(&crate::ir::build::product(ones(j), crate::ir::build::transpose(ones(l))), format);
    let eye = render(&Expr::new(Kind::Identity, vec![n.clone(), n.clone()]), format);
    if first {
        kron_text(format, &eye, &all, true)
    } else {
        kron_text(format, &all, &eye, true)
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
