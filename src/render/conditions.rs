//! Conditions a result needs: where an expression divides, inverts or takes a logarithm,
//! it is only valid where that is defined. Each is stated with the answer, never assumed
//! silently (`∇|X| = |X|X⁻ᵀ` needs X invertible).

use crate::ir::expr::{Expr, Func, Kind};
use crate::render::{render, Format};
use indexmap::IndexSet;
use num_traits::{Signed, Zero};

/// What a condition asks of its subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// A scalar is not zero.
    NonZero,
    /// A scalar is not negative.
    NotNegative,
    /// A scalar is positive.
    Positive,
    /// No entry of a tensor is zero.
    NoZeroEntry,
    /// No entry of a tensor is negative.
    NoNegativeEntry,
    /// Every entry of a tensor is positive.
    PositiveEntries,
    /// A matrix is invertible.
    Invertible,
}

impl Relation {
    /// Whether zero (the number, or a tensor of zeros) fails it: all but "not negative".
    pub fn fails_at_zero(self) -> bool {
        !matches!(self, Relation::NotNegative | Relation::NoNegativeEntry)
    }
}

/// One condition an answer needs: `subject ≠ 0`, `subject is invertible`, ….
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// What the condition is about.
    pub subject: Expr,
    /// What it asks of it.
    pub relation: Relation,
}

impl Condition {
    /// Whether the condition never holds: it asks the number zero (or a tensor of
    /// zeros) to be nonzero, positive or invertible. An expression that needs it is
    /// defined nowhere (`x ⊘ (x − x)` simplifies to `x ⊘ 0`).
    pub fn never_holds(&self) -> bool {
        let zero = match &self.subject.kind {
            Kind::Const(c) => c.is_zero(),
            Kind::Scale(c, x) => c.is_zero() && x.kind == Kind::Ones,
            _ => false,
        };
        zero && self.relation.fails_at_zero()
    }

    /// The condition in `format`: Unicode as the answer prints (`xᵀx ≠ 0`), ASCII in the
    /// input syntax (`x^T x != 0`), LaTeX as text with inline math (`$x^{\top} x \neq
    /// 0$`, `$X$ is invertible`). NumPy and bracket output state it as ASCII and Unicode.
    pub fn render(&self, format: Format) -> String {
        use Relation::*;
        let format = match format {
            Format::Numpy => Format::Ascii,
            Format::Bracket => Format::Unicode,
            f => f,
        };
        let subject = render(&self.subject, format);
        let (symbol, words) = match self.relation {
            NonZero => (Some(["≠", "!=", "\\neq"]), ""),
            NotNegative => (Some(["≥", ">=", "\\geq"]), ""),
            Positive => (Some([">", ">", ">"]), ""),
            NoZeroEntry => (None, "has no zero entry"),
            NoNegativeEntry => (None, "has no negative entry"),
            PositiveEntries => (None, "has positive entries"),
            Invertible => (None, "is invertible"),
        };
        let k = match format {
            Format::Ascii => 1,
            Format::Latex => 2,
            _ => 0,
        };
        match (symbol, format) {
            (Some(s), Format::Latex) => format!("${subject} {} 0$", s[k]),
            (Some(s), _) => format!("{subject} {} 0", s[k]),
            (None, Format::Latex) => format!("${subject}$ {words}"),
            (None, _) => format!("{subject} {words}"),
        }
    }
}

/// The conditions under which `e` is defined, in Unicode, in order of first appearance.
/// A condition on sizes alone (`sqrt(d) ≠ 0` where some shape in `e` has the size `d`)
/// always holds, as a size is a positive integer, and is not stated.
pub fn conditions(e: &Expr) -> Vec<String> {
    conditions_in(e, Format::Unicode)
}

/// [`conditions`] in `format` (see [`Condition::render`]).
pub fn conditions_in(e: &Expr, format: Format) -> Vec<String> {
    condition_list(e).iter().map(|c| c.render(format)).collect()
}

/// [`conditions_in`] of `e` with those of the definitions it reads, directly or through
/// others (`h = 1/(a + r)` read as h needs `a + r ≠ 0`): its own first, then the
/// definitions' in the program's order, each stated once.
pub fn conditions_reading(e: &Expr, model: &crate::read::elaborate::Model, format: Format) -> Vec<String> {
    conditions_reading_all(e, &[], model, format, &|_, _| false)
}

/// [`conditions_reading`] of `e`, then of each of `inputs` those that simplifying may
/// cancel without a trace: a matrix inverted, a scalar divided by (`a/a` is 1 where
/// a ≠ 0, `AA⁻¹` is I where A is invertible). (A logarithm's or root's own condition on
/// its input is left to the answer: `ln(softmax(…))` needs nothing.) `equal` tells two
/// scalars equal or opposite by other means than their forms (by their values).
pub fn conditions_reading_all(
    e: &Expr,
    inputs: &[&Expr],
    model: &crate::read::elaborate::Model,
    format: Format,
    equal: &dyn Fn(&Expr, &Expr) -> bool,
) -> Vec<String> {
    let with_read = |roots: &[&Expr]| -> Vec<Condition> {
        let mut read: Vec<&Expr> = Vec::new();
        for r in roots {
            for (_, value) in model.definitions_read(r) {
                if !read.iter().any(|o| std::ptr::eq(*o, value)) {
                    read.push(value);
                }
            }
        }
        roots.iter().copied().chain(read).flat_map(condition_list).collect()
    };
    let mut all = with_read(&[e]);
    let cancelled = |c: &Condition| matches!(c.relation, Relation::Invertible | Relation::NonZero);
    // One the answer states in another spelling is not stated again: Xᵀ is invertible
    // where X is, and xᵀx ≠ 0 where ‖x‖ ≠ 0.
    // (And cX is invertible where X is, for a scalar c that is not zero: `2πS`.)
    let plain = |e: &Expr| -> Expr {
        match &e.kind {
            Kind::Transpose(x) => (**x).clone(),
            Kind::Scale(c, x) if !c.is_zero() && !x.is_scalar() => (**x).clone(),
            Kind::Product(c, x) if c.is_scalar() && !x.is_scalar() && closed_nonzero(c) => (**x).clone(),
            Kind::Product(a, b) if e.is_scalar() && matches!(&a.kind, Kind::Transpose(x) if **x == **b) => {
                Expr::new(Kind::Norm(b.clone()), vec![])
            }
            _ => e.clone(),
        }
    };
    // And a scalar the answer spells otherwise (`W · BW ≠ 0` says `tr(WᵀBW) ≠ 0`).
    let same = |a: &Expr, b: &Expr| plain(a) == plain(b) || (a.is_scalar() && equal(a, b));
    for c in with_read(inputs).into_iter().filter(cancelled) {
        let stated = all.iter().any(|o| o.relation == c.relation && same(&o.subject, &c.subject));
        if !stated {
            all.push(c);
        }
    }
    // One stated strictly covers the weaker of the same subject: `(Z ⊙ Z)1 has positive
    // entries` says it has no zero entry.
    use Relation::*;
    let covered = |c: &Condition| {
        let stronger: &[Relation] = match c.relation {
            NonZero | NotNegative => &[Positive],
            NoZeroEntry | NoNegativeEntry => &[PositiveEntries],
            _ => &[],
        };
        all.iter().any(|o| stronger.contains(&o.relation) && o.subject == c.subject)
    };
    let mut out: IndexSet<String> = IndexSet::new();
    for c in all.iter().filter(|c| !covered(c)) {
        out.insert(c.render(format));
    }
    out.into_iter().collect()
}

/// The conditions under which `e` is defined, as [`conditions`] states them.
pub fn condition_list(e: &Expr) -> Vec<Condition> {
    let mut out = Found::default();
    let mut known = Known { sizes: e.size_names(), nonzero: Vec::new() };
    collect(e, &known, &mut out);
    // Given the scalars stated nonzero, their even powers are positive: `δ²1 + r ⊙ r`
    // has no zero entry where δ ≠ 0, and is not asked again.
    known.nonzero = out.0.values().filter(|c| c.relation == Relation::NonZero).map(|c| c.subject.clone()).collect();
    if !known.nonzero.is_empty() {
        let mut given = Found::default();
        collect(e, &known, &mut given);
        out.0.retain(|key, c| given.0.contains_key(key) || known.nonzero.contains(&c.subject));
    }
    // `s ≠ 0` and `s ≥ 0` (a divisor under a root: `(xᵀx + 1)^(3/2)` in a quotient) are
    // one condition, `s > 0`, stated where the first of them was; and so for every entry
    // of a tensor.
    use Relation::*;
    const STRICT: [(Relation, Relation, Relation); 2] =
        [(NonZero, NotNegative, Positive), (NoZeroEntry, NoNegativeEntry, PositiveEntries)];
    let has = |key: &str, r: Relation| out.0.contains_key(&(key.to_string(), r as u8));
    let mut merged: indexmap::IndexMap<(String, u8), Condition> = indexmap::IndexMap::new();
    for ((key, _), c) in &out.0 {
        let strict = STRICT.iter().find_map(|&(zero, negative, positive)| {
            let other = match c.relation {
                r if r == zero => negative,
                r if r == negative => zero,
                _ => return None,
            };
            (has(key, other) || (c.relation == zero && has(key, positive))).then_some(positive)
        });
        let relation = strict.unwrap_or(c.relation);
        merged.entry((key.clone(), relation as u8)).or_insert(Condition { subject: c.subject.clone(), relation });
    }
    let mut out: Vec<Condition> = merged.into_values().collect();
    strict_products(&mut out, &known);
    out
}

/// `s ≠ 0`, `t ≠ 0` and `st ≥ 0` (a product under a root in a quotient) are together
/// `st > 0`, stated where the first of them was: each factor of a product said not
/// negative that is not positive anyway is said not zero, and those go.
fn strict_products(out: &mut Vec<Condition>, known: &Known) {
    let mut k = 0;
    while k < out.len() {
        let c = &out[k];
        let mut parts = Vec::new();
        if c.relation == Relation::NotNegative && c.subject.is_scalar() {
            scalar_factors(&c.subject, &mut parts);
        }
        let unsigned: Vec<&Expr> = parts.iter().filter(|p| sign(p, known) != Sign::Positive).collect();
        let said: Option<Vec<usize>> = unsigned
            .iter()
            .map(|p| {
                let p = show(p);
                out.iter().position(|c| c.relation == Relation::NonZero && show(&c.subject) == p)
            })
            .collect();
        match said {
            Some(mut said) if parts.len() > 1 && !said.is_empty() => {
                let first = said.iter().copied().min().unwrap_or(k).min(k);
                let positive = Condition { subject: out[k].subject.clone(), relation: Relation::Positive };
                said.push(k);
                said.sort_unstable();
                said.dedup();
                for &j in said.iter().rev() {
                    out.remove(j);
                }
                out.insert(first, positive);
                k = first + 1;
            }
            _ => k += 1,
        }
    }
}

/// The factors of a product of scalars, through numbers and positive powers (`2s²t`:
/// s, t); the scalar itself where it is none.
fn scalar_factors(e: &Expr, out: &mut Vec<Expr>) {
    match &e.kind {
        Kind::Product(a, b) if a.is_scalar() && b.is_scalar() => {
            scalar_factors(a, out);
            scalar_factors(b, out);
        }
        Kind::Scale(c, x) if c.is_positive() => scalar_factors(x, out),
        Kind::Power(x, n) if n.is_positive() && x.is_scalar() => scalar_factors(x, out),
        Kind::Const(c) if c.is_positive() => {}
        _ => {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
    }
}

/// The conditions found, each once, keyed by its subject as printed (two bracketings of
/// one product are one subject) and its relation.
#[derive(Default)]
struct Found(indexmap::IndexMap<(String, u8), Condition>);

impl Found {
    fn insert(&mut self, subject: &Expr, relation: Relation) {
        let key = (show(subject), relation as u8);
        self.0.entry(key).or_insert_with(|| Condition { subject: subject.clone(), relation });
    }

    fn contains(&self, subject: &Expr, relation: Relation) -> bool {
        self.0.contains_key(&(show(subject), relation as u8))
    }
}

/// What a sign is read from: the names of sizes (positive integers), and scalars that
/// another condition states are not zero.
struct Known {
    sizes: IndexSet<String>,
    nonzero: Vec<Expr>,
}

/// What is known of the sign of every entry of `e` for every value of its names.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Sign {
    Unknown,
    NotNegative,
    Positive,
}

/// The sign of `e`'s entries wherever `e` is defined: `1 + v ⊙ v`, `exp(·)`, `xᵀx + 1`,
/// `sigmoid(·)` and sizes are positive, so a condition that they are not zero (or not
/// negative) always holds and is not stated.
fn sign(e: &Expr, known: &Known) -> Sign {
    use Sign::*;
    let both = |a: Sign, b: Sign| if a == Unknown || b == Unknown { Unknown } else { a.min(b) };
    match &e.kind {
        // A size is a positive integer (`N − 1` is not positive: it is 0 when N is 1).
        Kind::Var(n) if e.is_scalar() && known.sizes.contains(n) => Positive,
        Kind::Const(c) if c.is_positive() => Positive,
        Kind::Const(c) if c.is_zero() => NotNegative,
        Kind::Ones => Positive,
        Kind::Func { func: Func::Exp, .. } | Kind::Func { func: Func::Sigmoid, derivative: 0, .. } => Positive,
        Kind::Softmax { .. } => Positive,
        Kind::Func { func: Func::Sqrt, derivative: 0, arg } => sign(arg, known).max(NotNegative),
        Kind::Func { func: Func::Abs | Func::Relu, derivative: 0, .. } | Kind::Norm(_) => NotNegative,
        Kind::Add(ts) => {
            let signs: Vec<Sign> = ts.iter().map(|t| sign(t, known)).collect();
            if signs.contains(&Unknown) {
                Unknown
            } else if signs.contains(&Positive) {
                Positive
            } else {
                NotNegative
            }
        }
        Kind::Dot(a, b) if a == b => NotNegative,
        // A matrix product: positive entries make positive entries.
        Kind::Product(a, b)
            if !a.is_scalar()
                && !b.is_scalar()
                && !(e.is_scalar() && matches!(&a.kind, Kind::Transpose(x) if **x == **b)) =>
        {
            both(sign(a, known), sign(b, known))
        }
        // Products, quotients and powers (entry by entry, or by a scalar): by the
        // exponent of each base, so that a base raised to an even power in all is a
        // square (`v ⊙ v`, `(r ⊙ r/δ)/δ`, `xᵀx`).
        Kind::Scale(..) | Kind::Hadamard(..) | Kind::HDiv(..) | Kind::DivScalar(..) | Kind::Product(..) => {
            let mut bases = Vec::new();
            if !factors(e, 1, &mut bases) {
                return Unknown;
            }
            bases.iter().fold(Positive, |acc, (base, k)| {
                // (A base is a proper part of `e`: no sign is asked of `e` itself.)
                let s = if base == e { Unknown } else { sign(base, known) };
                let here = match s {
                    Positive => Positive,
                    _ if k % 2 == 0 && known.nonzero.contains(base) => Positive,
                    _ if k % 2 == 0 => NotNegative,
                    _ if *k < 0 => Unknown,
                    s => s,
                };
                both(acc, here)
            })
        }
        // A matrix power: positive entries stay positive under products only.
        Kind::Power(x, k) if !x.is_scalar() => {
            if k.is_integer() && k.is_positive() {
                sign(x, known)
            } else {
                Unknown
            }
        }
        Kind::Sum(x) => sign(x, known),
        Kind::Power(x, k) | Kind::HPower(x, k) => {
            let even = k.is_integer() && (k.numer() % 2u8).is_zero() && !k.is_zero();
            match sign(x, known) {
                Positive => Positive,
                _ if even && known.nonzero.contains(x) => Positive,
                _ if even => NotNegative,
                s if !k.is_negative() => s,
                _ => Unknown,
            }
        }
        Kind::Inverse(x) if x.is_scalar() => {
            if sign(x, known) == Positive {
                Positive
            } else {
                Unknown
            }
        }
        _ => Unknown,
    }
}

/// The bases of a product of scalars or of entries, with their exponents (`(r ⊙ r/δ)/δ`:
/// r², δ⁻²); false where a factor has a sign that is not positive (a negative number).
/// A matrix product of two non-scalars is one base, except `xᵀx`, which is x twice.
fn factors(e: &Expr, k: i64, out: &mut Vec<(Expr, i64)>) -> bool {
    // (Exponents too large to add are no known sign: false.)
    let add = |base: &Expr, k: i64, out: &mut Vec<(Expr, i64)>| match out.iter_mut().find(|(b, _)| b == base) {
        Some((_, e)) => e.checked_add(k).map(|sum| *e = sum).is_some(),
        None => {
            out.push((base.clone(), k));
            true
        }
    };
    match &e.kind {
        Kind::Const(c) => c.is_positive(),
        Kind::Scale(c, x) => c.is_positive() && factors(x, k, out),
        Kind::Hadamard(a, b) => factors(a, k, out) && factors(b, k, out),
        Kind::Product(a, b) if a.is_scalar() || b.is_scalar() => factors(a, k, out) && factors(b, k, out),
        Kind::Product(a, b) if e.is_scalar() && matches!(&a.kind, Kind::Transpose(x) if **x == **b) => {
            k.checked_mul(2).is_some_and(|k2| add(b, k2, out))
        }
        Kind::HDiv(a, b) | Kind::DivScalar(a, b) => {
            factors(a, k, out) && k.checked_neg().is_some_and(|m| factors(b, m, out))
        }
        Kind::Power(x, n) | Kind::HPower(x, n)
            if n.is_integer() && (x.is_scalar() || matches!(e.kind, Kind::HPower(..))) =>
        {
            match i64::try_from(n.to_integer()) {
                Ok(n) => k.checked_mul(n).is_some_and(|kn| factors(x, kn, out)),
                Err(_) => false,
            }
        }
        _ => add(e, k, out),
    }
}

fn show(e: &Expr) -> String {
    render(e, Format::Unicode)
}

fn collect(e: &Expr, known: &Known, out: &mut Found) {
    // Where the operand is positive for every value, nothing is asked of it.
    let positive = match &e.kind {
        // (A matrix with positive entries may still be singular: only a scalar's inverse
        // and powers are spared by its sign.)
        Kind::Inverse(x) | Kind::Power(x, _) => x.is_scalar() && sign(x, known) == Sign::Positive,
        Kind::HPower(x, _) | Kind::DivScalar(_, x) | Kind::HDiv(_, x) => sign(x, known) == Sign::Positive,
        Kind::Func { func: Func::Ln | Func::Sqrt, arg, .. } => sign(arg, known) == Sign::Positive,
        _ => false,
    };
    match &e.kind {
        _ if positive => {}
        Kind::Inverse(x) if x.is_scalar() => {
            out.insert(x, Relation::NonZero);
        }
        // A diagonal is invertible where its vector has no zero entry (and nothing is
        // asked where that vector is positive: `diag(1 + exp(XW)1)⁻¹`).
        Kind::Inverse(x) if matches!(&x.kind, Kind::Diag(v) if v.order() == 1) => {
            if let Kind::Diag(v) = &x.kind {
                no_zero_entry(v, known, out);
            }
        }
        Kind::Inverse(x) => invertible(x, out),
        // A fractional power is real where its base is not negative, and is a divisor
        // too where the exponent is negative: `s^(−3/2)` needs s > 0.
        Kind::Power(x, k) | Kind::HPower(x, k)
            if !k.is_integer() && !k.is_negative() && sign(x, known) != Sign::Unknown => {}
        Kind::Power(x, k) | Kind::HPower(x, k) if !k.is_integer() => not_negative(x, k.is_negative(), out),
        Kind::Power(x, k) if k.is_negative() && !x.is_scalar() => invertible(x, out),
        Kind::Power(x, k) if k.is_negative() => nonzero(x, known, out),
        Kind::HPower(x, k) if k.is_negative() => no_zero_entry(x, known, out),
        Kind::HDiv(_, b) => no_zero_entry(b, known, out),
        Kind::DivScalar(_, s) => nonzero(s, known, out),
        Kind::Func { func: Func::Ln, arg, .. } => {
            out.insert(arg, if arg.is_scalar() { Relation::Positive } else { Relation::PositiveEntries });
        }
        // sqrt' divides by sqrt.
        Kind::Func { func: Func::Sqrt, derivative: 0, arg } if sign(arg, known) != Sign::Unknown => {}
        Kind::Func { func: Func::Sqrt, derivative, arg } => not_negative(arg, *derivative > 0, out),
        _ => {}
    }
    for c in e.children() {
        collect(c, known, out);
    }
}

/// `x ≥ 0` (entry by entry for a tensor), or `x > 0` where it is also a divisor.
fn not_negative(x: &Expr, strict: bool, out: &mut Found) {
    let relation = match (x.is_scalar(), strict) {
        (true, true) => Relation::Positive,
        (true, false) => Relation::NotNegative,
        (false, true) => Relation::PositiveEntries,
        (false, false) => Relation::NoNegativeEntry,
    };
    out.insert(x, relation);
}

/// `x has no zero entry`, stated of its factors as [`nonzero`] states a scalar's:
/// `y ⊙ y` has none where y has none, and `sqrt(E)` none where E has none (which joins
/// `E has no negative entry` as `E has positive entries`).
fn no_zero_entry(x: &Expr, known: &Known, out: &mut Found) {
    match &x.kind {
        _ if sign(x, known) == Sign::Positive => {}
        Kind::Hadamard(a, b) => {
            no_zero_entry(a, known, out);
            no_zero_entry(b, known, out);
        }
        Kind::HPower(a, k) if k.is_positive() => no_zero_entry(a, known, out),
        Kind::Func { func: Func::Sqrt, derivative: 0, arg } => no_zero_entry(arg, known, out),
        _ => {
            out.insert(x, Relation::NoZeroEntry);
        }
    }
}

/// `s ≠ 0` for a scalar s, stated of its factors: a product is nonzero where each factor
/// is, and a positive power where its base is (`‖x‖³ ≠ 0` is `‖x‖ ≠ 0`, `2N ≠ 0` is
/// `N ≠ 0`), so one condition is not repeated in several forms.
fn nonzero(s: &Expr, known: &Known, out: &mut Found) {
    match &s.kind {
        // (A division by the number zero is stated: `0 ≠ 0`, which never holds.)
        Kind::Const(c) if !c.is_zero() => {}
        _ if sign(s, known) == Sign::Positive => {}
        // A number written with functions (`ln(10)`, log10's divisor) is not zero.
        _ if closed_nonzero(s) => {}
        Kind::Product(a, b) if a.is_scalar() && b.is_scalar() => {
            nonzero(a, known, out);
            nonzero(b, known, out);
        }
        Kind::Scale(c, x) if !c.is_zero() => nonzero(x, known, out),
        Kind::Power(x, k) if k.is_positive() && x.is_scalar() => nonzero(x, known, out),
        // `sqrt(s) ≠ 0` is `s ≠ 0`, which joins `s ≥ 0` as `s > 0`.
        Kind::Func { func: Func::Sqrt, derivative: 0, arg } if arg.is_scalar() => nonzero(arg, known, out),
        // `|M| ≠ 0` is `M is invertible`, said once with M⁻¹'s.
        Kind::Det(m) => invertible(m, out),
        _ => {
            out.insert(s, Relation::NonZero);
        }
    }
}

/// True for a number written with functions that is not zero: `ln(c)` for a positive
/// c ≠ 1, `exp(c)`, `sqrt(c)` for c > 0, and products of them.
fn closed_nonzero(s: &Expr) -> bool {
    let number = |x: &Expr| match &x.kind {
        Kind::Const(c) => Some(c.clone()),
        _ => None,
    };
    match &s.kind {
        Kind::Const(c) => !c.is_zero(),
        Kind::Func { func: Func::Ln, derivative: 0, arg } => {
            number(arg).is_some_and(|c| c.is_positive() && !num_traits::One::is_one(&c))
        }
        Kind::Func { func: Func::Exp, derivative: 0, arg } => arg.names().is_empty(),
        Kind::Func { func: Func::Sqrt, derivative: 0, arg } => number(arg).is_some_and(|c| c.is_positive()),
        Kind::Product(a, b) => closed_nonzero(a) && closed_nonzero(b),
        Kind::Scale(c, x) => !c.is_zero() && closed_nonzero(x),
        _ => false,
    }
}

/// `M is invertible`, unless it is said already of Mᵀ (`(A + XᵀX)⁻¹` and
/// `(Aᵀ + XᵀX)⁻¹` need one condition).
fn invertible(m: &Expr, out: &mut Found) {
    if !out.contains(&transposed(m), Relation::Invertible) {
        out.insert(m, Relation::Invertible);
    }
}

/// Mᵀ with the transpose taken through sums, products, multiples and inverses, so that
/// it prints as M's own transpose would be written (`(Aᵀ + XᵀX)ᵀ` is `A + XᵀX`).
fn transposed(e: &Expr) -> Expr {
    let reversed: Vec<_> = e.shape.iter().rev().cloned().collect();
    let kind = match &e.kind {
        Kind::Transpose(x) => return (**x).clone(),
        Kind::Identity => return e.clone(),
        _ if e.order() != 2 => return crate::ir::build::transpose(e.clone()),
        Kind::Add(terms) => Kind::Add(terms.iter().map(transposed).collect()),
        Kind::Scale(c, x) => Kind::Scale(c.clone(), Box::new(transposed(x))),
        Kind::Inverse(x) => Kind::Inverse(Box::new(transposed(x))),
        Kind::Product(a, b) if a.is_scalar() => Kind::Product(a.clone(), Box::new(transposed(b))),
        Kind::Product(a, b) if a.order() == 2 && b.order() == 2 => return chained(transposed(b), transposed(a)),
        _ => return crate::ir::build::transpose(e.clone()),
    };
    Expr::new(kind, reversed)
}

/// The matrix product `a b`, grouped to the left as products print without parentheses:
/// `(AX)ᵀX` transposed is `XᵀAX`, not `Xᵀ(AX)`.
fn chained(a: Expr, b: Expr) -> Expr {
    let shape = vec![a.shape[0].clone(), b.shape[1].clone()];
    match b.kind {
        Kind::Product(u, v) if u.order() == 2 && v.order() == 2 => chained(chained(a, *u), *v),
        kind => Expr::new(Kind::Product(Box::new(a), Box::new(Expr::new(kind, b.shape))), shape),
    }
}
