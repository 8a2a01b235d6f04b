//! Numeric evaluation: the oracle for every test.
//!
//! Takes an [`Expr`] and an [`Env`] (sizes for the symbolic dims and values for the
//! names) and gives an n-dimensional array (`ndarray::ArrayD`). Generic over the number
//! type: `f64`, or exact `BigRational` wherever no transcendental function is involved
//! (then an [`ErrorCode::Eval`] error says the value is not exact).

pub mod check;
mod functions;
pub mod identity;

use crate::error::{Error, ErrorCode, Result};
use crate::ir::expr::*;
use crate::ir::shape::Dim;
use crate::limits;
use crate::read::elaborate::Model;
use indexmap::IndexMap;
use ndarray::{ArrayD, Axis, IxDyn};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Debug;
use std::ops::{Add, Mul, Neg, Sub};

mod linalg;
mod logspace;
use linalg::{determinant, inverse, matmul};

/// A number type the evaluator computes in.
pub trait Number:
    Clone
    + Debug
    + PartialEq
    + Zero
    + One
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
{
    /// True for exact numbers, whose work grows with their size (see `linalg::MAX_EXACT_WORK`).
    const EXACT: bool = false;
    /// The exact value `r`.
    fn from_rational(r: &BigRational) -> Self;
    /// `self / other`; `None` when other is zero and the type has no infinity.
    fn divide(&self, other: &Self) -> Option<Self>;
    /// A rational power; `None` when the result is not representable.
    fn power(&self, p: &BigRational) -> Option<Self>;
    /// `f^(derivative)(self)` for a built-in function; `None` when not representable.
    fn func(&self, f: &Func, derivative: u8) -> Option<Self>;
    /// Approximate magnitude, for pivoting and comparisons.
    fn approx(&self) -> f64;
    /// True for a pivot that is zero as far as the type can tell, beside entries of
    /// magnitude `scale`: exactly zero for a rational, below rounding for a float.
    fn negligible(&self, _scale: f64) -> bool {
        self.is_zero()
    }
}

thread_local! {
    /// Set where a float function was evaluated where finite differences cannot resolve
    /// it (see `unresolved`).
    static UNRESOLVED: std::cell::Cell<Unresolved> = const { std::cell::Cell::new(Unresolved::None) };
}

/// Where finite differences of a function do not give its derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unresolved {
    /// Everywhere they were taken, they do.
    None,
    /// A sigmoid or tanh saturates: `1 − σ(z)` is known to a relative 1e−16·eᶻ only, and
    /// a finite difference of step 1e−4 through it to 1e−12·eᶻ; past |z| = 11 (5.5 for
    /// tanh, whose distance from 1 is 2e^{−2z}) that is above the check's tolerance.
    Saturated,
    /// `relu`, `abs` or `sign` at exactly 0, where central differences average the two
    /// sides (`relu` gives 1/2, its derivative there is taken as 0). Drawn values are
    /// multiples of 1/4, so a pre-activation is often exactly 0.
    Kink,
}

/// Where finite differences did not resolve a function since the last call (the worst
/// seen), clearing the mark.
pub(crate) fn take_unresolved() -> Unresolved {
    UNRESOLVED.with(|s| s.replace(Unresolved::None))
}

fn unresolved(f: &Func, x: f64) -> Unresolved {
    match f {
        Func::Sigmoid if x.abs() > 11.0 => Unresolved::Saturated,
        Func::Tanh if x.abs() > 5.5 => Unresolved::Saturated,
        Func::Relu | Func::Abs | Func::Sign if x == 0.0 => Unresolved::Kink,
        _ => Unresolved::None,
    }
}

impl Number for f64 {
    fn from_rational(r: &BigRational) -> f64 {
        ToPrimitive::to_f64(r).unwrap_or(f64::NAN)
    }
    fn divide(&self, other: &f64) -> Option<f64> {
        Some(self / other)
    }
    fn power(&self, p: &BigRational) -> Option<f64> {
        if p.is_integer() {
            if let Some(k) = p.to_integer().to_i32() {
                return Some(self.powi(k));
            }
        }
        Some(self.powf(ToPrimitive::to_f64(p)?))
    }
    fn func(&self, f: &Func, derivative: u8) -> Option<f64> {
        let here = unresolved(f, *self);
        if here != Unresolved::None {
            UNRESOLVED.with(|s| s.set(s.get().max(here)));
        }
        functions::value(f, derivative, *self)
    }
    fn approx(&self) -> f64 {
        *self
    }
    /// A matrix singular in exact arithmetic (`WᵀW` of a wide W) leaves a pivot of
    /// rounding size, not zero: its inverse would be noise, so it counts as singular.
    fn negligible(&self, scale: f64) -> bool {
        self.abs() <= PIVOT_TOLERANCE * scale
    }
}

/// Below this times the largest entry, a float pivot is taken as zero.
const PIVOT_TOLERANCE: f64 = 1e-10;

impl Number for BigRational {
    const EXACT: bool = true;
    fn from_rational(r: &BigRational) -> BigRational {
        r.clone()
    }
    fn divide(&self, other: &BigRational) -> Option<BigRational> {
        if other.is_zero() {
            None
        } else {
            Some(self / other)
        }
    }
    fn power(&self, p: &BigRational) -> Option<BigRational> {
        if !p.is_integer() {
            return None;
        }
        let k = p.to_integer().to_i32()?;
        if k.unsigned_abs() > 64 || (k < 0 && self.is_zero()) || !crate::limits::power_fits(self, k.into()) {
            return None;
        }
        Some(num_traits::Pow::pow(self, k))
    }
    fn func(&self, f: &Func, derivative: u8) -> Option<BigRational> {
        let zero = BigRational::zero();
        match (f, derivative) {
            (Func::Abs, 0) => Some(self.abs()),
            (Func::Abs, 1) => Some(self.signum()),
            (Func::Relu, 0) => Some(if *self > zero { self.clone() } else { zero }),
            (Func::Relu, 1) => Some(if *self > zero { BigRational::one() } else { zero }),
            (Func::Sign, 0) => Some(self.signum()),
            (Func::Abs | Func::Relu | Func::Sign, _) => Some(zero),
            (Func::Ln, 1) => BigRational::one().divide(self),
            (Func::Declared(name), d) => declared(name, d, self),
            _ => None,
        }
    }
    fn approx(&self) -> f64 {
        ToPrimitive::to_f64(self).unwrap_or(f64::NAN)
    }
}

/// The stand-in for a declared element-wise function `f` in numeric checks:
/// `f(x) = 1/2 + (a/3) x/(2 + x²)`, with `a` ∈ {1, 2, 3} by the name, so that `f` and `g`
/// differ. Exact in rationals, defined everywhere, and strictly between 1/8 and 7/8, so
/// that what a probability or a positive activation allows is defined at every point
/// (`ln(Φ(Xw))` and `ln(1 − Φ(Xw))` in a probit model). Its derivatives, to the third,
/// vanish only at irrational points (`f'` at ±√2), never at the rational points a check
/// draws, so no term of a derivative drops out there.
fn declared<T: Number>(name: &str, derivative: u8, x: &T) -> Option<T> {
    let a = 1 + name.bytes().map(u64::from).sum::<u64>() % 3;
    let r = |n: i64| T::from_rational(&BigRational::from_integer(BigInt::from(n)));
    let x2 = x.clone() * x.clone();
    let d = r(2) + x2.clone();
    // g = x/(2 + x²) and its derivatives, each over a power of 2 + x².
    let (top, power) = match derivative {
        0 => (x.clone(), 1),
        1 => (r(2) - x2.clone(), 2),
        2 => (r(2) * x.clone() * (x2.clone() - r(6)), 3),
        3 => (r(-6) * (x2.clone() * x2.clone() - r(12) * x2 + r(4)), 4),
        _ => return None,
    };
    let mut below = T::one();
    for _ in 0..power {
        below = below * d.clone();
    }
    let g = top.divide(&below)?;
    let scale = T::from_rational(&BigRational::new(BigInt::from(a), BigInt::from(3)));
    let half = T::from_rational(&BigRational::new(BigInt::from(1), BigInt::from(2)));
    Some(if derivative == 0 { half + scale * g } else { scale * g })
}

/// Sizes for the symbolic dims and values for the names.
#[derive(Clone, Debug)]
pub struct Env<T> {
    /// Size of each symbolic or anonymous dim.
    pub sizes: IndexMap<Dim, usize>,
    /// Value of each name (differentials as `dX`).
    pub values: IndexMap<String, ArrayD<T>>,
}

impl<T: Number> Env<T> {
    /// An empty environment.
    pub fn new() -> Env<T> {
        Env { sizes: IndexMap::new(), values: IndexMap::new() }
    }

    /// The size of a dim.
    pub fn size(&self, d: &Dim) -> Result<usize> {
        match d {
            Dim::Int(n) => Ok(*n as usize),
            Dim::Iota => Ok(1),
            other => {
                self.sizes.get(other).copied().ok_or_else(|| {
                    Error::bare(ErrorCode::Eval, format!("no size is given for the dimension `{other}`"))
                })
            }
        }
    }

    /// The sizes of a shape.
    pub fn sizes_of(&self, shape: &[Dim]) -> Result<Vec<usize>> {
        shape.iter().map(|d| self.size(d)).collect()
    }
}

impl<T: Number> Default for Env<T> {
    fn default() -> Self {
        Env::new()
    }
}

/// How random values are drawn.
#[derive(Clone, Copy, Debug)]
pub struct Draw {
    /// Seed of the generator (the same seed gives the same values everywhere).
    pub seed: u64,
    /// Smallest size for a symbolic dim.
    pub min_size: usize,
    /// Largest size for a symbolic dim.
    pub max_size: usize,
    /// Where the values lie.
    pub domain: Domain,
}

impl Default for Draw {
    fn default() -> Draw {
        Draw { seed: 1, min_size: 2, max_size: 4, domain: Domain::Any }
    }
}

/// Where random values lie. The numeric check draws from each in turn until every
/// logarithm, root, inverse and division of the function is defined at the point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Domain {
    /// Entries `k/4` with `k` in −8..=8, not zero; symmetric matrices are symmetric.
    #[default]
    Any,
    /// As `Any`, but every entry positive and symmetric matrices well-conditioned
    /// positive definite (`MMᵀ/n + I`).
    Positive,
    /// Each name drawn as `Any` or `Positive` by a coin; symmetric matrices positive
    /// definite.
    Mixed,
}

/// Random sizes and values for every name of a model (and `dX` for each X), with the
/// definitions evaluated in order. Values are small rationals `k/4`, so that `T` can be
/// `f64` or `BigRational` and both see the same numbers. Matrices declared symmetric are
/// symmetric.
pub fn random_env<T: Number>(model: &Model, draw: Draw) -> Result<Env<T>> {
    random_env_sized(model, draw, &[])
}

/// As [`random_env`], with some dims' sizes fixed.
pub fn random_env_sized<T: Number>(model: &Model, draw: Draw, fixed: &[(Dim, usize)]) -> Result<Env<T>> {
    let mut rng = ChaCha8Rng::seed_from_u64(draw.seed);
    let mut env = Env::new();
    for (d, n) in fixed {
        env.sizes.insert(d.clone(), *n);
    }
    let mut dims: Vec<Dim> = Vec::new();
    for info in model.names.values() {
        dims.extend(info.shape.iter().cloned());
    }
    for e in all_exprs(model) {
        collect_dims(e, &mut dims);
    }
    for d in dims {
        if matches!(d, Dim::Sym(_) | Dim::Var(_)) && !env.sizes.contains_key(&d) {
            let n = rng.gen_range(draw.min_size..=draw.max_size);
            env.sizes.insert(d, n);
        }
    }
    for (name, info) in &model.names {
        let sizes = env.sizes_of(&info.shape)?;
        // Count before drawing: a declared 10⁵ × 10⁵ matrix must be an error, not 80 GB.
        let entries = sizes.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
        if entries.is_none_or(|n| n > limits::MAX_EVAL_ENTRIES) {
            return Err(Error::bare(ErrorCode::Limit, format!("`{name}` is too large to evaluate")));
        }
        // A defined name gets its value from its definition; its differential is free
        // (a local step of backpropagation).
        let keys = if info.defined { vec![format!("d{name}")] } else { vec![name.clone(), format!("d{name}")] };
        // A size used as a scalar (`N` alone where `X: matrix(N, d)`) is that size.
        if let (true, Some(&n)) = (info.shape.is_empty(), env.sizes.get(&Dim::Sym(name.clone()))) {
            let size = T::from_rational(&BigRational::from_integer(n.into()));
            env.values.insert(name.clone(), ArrayD::from_elem(IxDyn(&[]), size));
            env.values.insert(format!("d{name}"), random_array::<T>(&mut rng, &sizes));
            continue;
        }
        for key in keys {
            let mut value = random_array::<T>(&mut rng, &sizes);
            let differential = key.starts_with('d') && key != *name;
            let positive = !differential
                && match draw.domain {
                    Domain::Any => false,
                    Domain::Positive => true,
                    Domain::Mixed => rng.gen_bool(0.5),
                };
            let definite = !differential && draw.domain != Domain::Any;
            if positive {
                value.mapv_inplace(|v| if v.approx() < 0.0 { -v } else { v });
            }
            if info.symmetric && sizes.len() == 2 {
                value = if definite { positive_definite(&value) } else { symmetric_part(&value) };
            }
            env.values.insert(key, value);
        }
    }
    impose_row_sums(model, &mut env, draw.domain);
    impose_norms(model, &mut env);
    for (name, e) in &model.definitions {
        let v = eval(e, &env)?;
        env.values.insert(name.clone(), v);
    }
    Ok(env)
}

/// An environment that tells an expression zero everywhere from one that is not: exact
/// integers in ±1..=2²⁰ (a nonzero rational function of them vanishes at one by a
/// negligible chance; integers keep products free of fractions to reduce), and every
/// symbolic dim a different size from 3 up, in order of first use or `reversed`, so that
/// an identity of square shapes or of one size is not taken for a general one. Definitions with no exact value (exp, ln, …) and those
/// that use them are left out. At most [`EXACT_DIMS`] dims.
pub fn exact_env(model: &Model, seed: u64, reversed: bool) -> Result<Env<BigRational>> {
    let mut dims: indexmap::IndexSet<Dim> = indexmap::IndexSet::new();
    for info in model.names.values() {
        dims.extend(info.shape.iter().filter(|d| matches!(d, Dim::Sym(_) | Dim::Var(_))).cloned());
    }
    let mut found = Vec::new();
    for e in all_exprs(model) {
        collect_dims(e, &mut found);
    }
    dims.extend(found.into_iter().filter(|d| matches!(d, Dim::Sym(_) | Dim::Var(_))));
    if dims.len() > EXACT_DIMS {
        return Err(Error::bare(ErrorCode::Limit, "too many sizes for an exact evaluation"));
    }
    let mut sizes: Vec<usize> = (3..3 + dims.len()).collect();
    if reversed {
        sizes.reverse();
    }
    let mut env = Env::new();
    env.sizes.extend(dims.into_iter().zip(sizes));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (name, info) in model.names.iter().filter(|(_, info)| !info.defined) {
        let sizes = env.sizes_of(&info.shape)?;
        let value = match (info.shape.is_empty(), env.sizes.get(&Dim::Sym(name.clone()))) {
            // A size used as a scalar is that size.
            (true, Some(&n)) => ArrayD::from_elem(IxDyn(&[]), BigRational::from_integer(n.into())),
            _ => {
                let value = ArrayD::from_shape_fn(IxDyn(&sizes), |_| {
                    let k: i64 = rng.gen_range(1..=1 << 20) * if rng.gen_bool(0.5) { 1 } else { -1 };
                    BigRational::from_integer(BigInt::from(k))
                });
                if info.symmetric && sizes.len() == 2 {
                    symmetric_part(&value)
                } else {
                    value
                }
            }
        };
        env.values.insert(name.clone(), value);
    }
    impose_row_sums(model, &mut env, Domain::Any);
    impose_norms(model, &mut env);
    for (name, e) in &model.definitions {
        if let Ok(v) = eval(e, &env) {
            env.values.insert(name.clone(), v);
        }
    }
    Ok(env)
}

/// The most symbolic dims [`exact_env`] sizes (from 3 up, so at most 10).
pub const EXACT_DIMS: usize = 8;

fn symmetric_part<T: Number>(m: &ArrayD<T>) -> ArrayD<T> {
    let t = m.t().to_owned();
    (m.clone() + t).mapv(|v| v * T::from_rational(&BigRational::new(1.into(), 2.into())))
}

/// `MMᵀ/n + I`: symmetric, positive definite, with eigenvalues between 1 and 1 + 4n.
fn positive_definite<T: Number>(m: &ArrayD<T>) -> ArrayD<T> {
    let n = m.shape()[0];
    let scale = T::from_rational(&BigRational::new(1.into(), BigInt::from(n.max(1))));
    ArrayD::from_shape_fn(IxDyn(&[n, n]), |ix| {
        let (i, j) = (ix[0], ix[1]);
        let dot = (0..m.shape()[1]).fold(T::zero(), |s, k| s + m[[i, k]].clone() * m[[j, k]].clone());
        let diagonal = if i == j { T::one() } else { T::zero() };
        dot * scale.clone() + diagonal
    })
}

/// Makes the drawn values satisfy the facts `Y 1 = 1` (rows sum to one, as one-hot rows
/// do): each row's last entry becomes one minus the others, or outside [`Domain::Any`]
/// each positive row is divided by its sum, so that it stays positive. Other facts are
/// not imposed.
fn impose_row_sums<T: Number>(model: &Model, env: &mut Env<T>, domain: Domain) {
    // A vector that sums to c: `yᵀ1 = c`.
    for (name, c) in model.vectors_summing_to() {
        let Some(value) = env.values.get_mut(name) else { continue };
        let c = T::from_rational(c);
        if value.ndim() == 1 && !value.is_empty() {
            let total = value.iter().fold(T::zero(), |s, v| s + v.clone());
            if domain != Domain::Any && c.approx() > 0.0 && value.iter().all(|v| v.approx() > 0.0) {
                value.mapv_inplace(|v| (v.clone() * c.clone()).divide(&total).unwrap_or(v));
            } else {
                let last = value.len() - 1;
                let others = total - value[last].clone();
                value[last] = c - others;
            }
        }
    }
    // A matrix whose rows sum to one: `Y1 = 1`.
    for name in model.rows_summing_to_one() {
        let Some(value) = env.values.get_mut(name) else { continue };
        if value.ndim() != 2 || value.shape()[1] == 0 {
            continue;
        }
        let last = value.shape()[1] - 1;
        for mut row in value.rows_mut() {
            if domain != Domain::Any && row.iter().all(|v| v.approx() > 0.0) {
                let total = row.iter().fold(T::zero(), |s, v| s + v.clone());
                row.mapv_inplace(|v| v.divide(&total).unwrap_or(v));
                continue;
            }
            let others = row.iter().take(last).fold(T::zero(), |s, v| s + v.clone());
            row[last] = T::one() - others;
        }
    }
}

/// Makes the drawn values satisfy the facts `xᵀx = c` (a unit vector, as in PCA or a
/// Rayleigh quotient): the drawn x's first n − 1 entries t are mapped onto the sphere by
/// the inverse stereographic projection, `(2t, |t|² − 1)/(|t|² + 1)`, exact in rationals,
/// and scaled by √c. Where √c has no exact value (c not a rational square), x is left
/// as drawn, and a check finds the fact false there (`eval::check`).
fn impose_norms<T: Number>(model: &Model, env: &mut Env<T>) {
    let half = BigRational::new(1.into(), 2.into());
    for (name, c) in model.vectors_of_squared_norm() {
        let Some(root) = T::from_rational(&c).power(&half) else { continue };
        let Some(value) = env.values.get_mut(name) else { continue };
        if value.ndim() != 1 || value.is_empty() {
            continue;
        }
        let n = value.len();
        let squares = value.iter().take(n - 1).fold(T::zero(), |s, t| s + t.clone() * t.clone());
        let denominator = squares.clone() + T::one();
        let two = T::one() + T::one();
        let Some(last) = (squares - T::one()).divide(&denominator) else { continue };
        let mut sphere: Vec<T> = Vec::with_capacity(n);
        for t in value.iter().take(n - 1) {
            let Some(x) = (two.clone() * t.clone()).divide(&denominator) else { return };
            sphere.push(x);
        }
        sphere.push(last);
        for (v, x) in value.iter_mut().zip(sphere) {
            *v = x * root.clone();
        }
    }
}

fn all_exprs(model: &Model) -> impl Iterator<Item = &Expr> {
    model
        .definitions
        .iter()
        .map(|(_, e)| e)
        .chain(model.facts.iter().flat_map(|(l, r)| [l, r]))
        .chain(model.queries.iter().map(|q| &q.expr))
        .chain(model.exprs.iter())
}

fn collect_dims(e: &Expr, out: &mut Vec<Dim>) {
    out.extend(e.shape.iter().cloned());
    if let Kind::Network(n) = &e.kind {
        out.extend(n.indices.iter().cloned());
    }
    for c in e.children() {
        collect_dims(c, out);
    }
}

/// A random array of small rationals `k/4`, `k` in −8..=8 but not 0.
pub fn random_array<T: Number>(rng: &mut ChaCha8Rng, sizes: &[usize]) -> ArrayD<T> {
    ArrayD::from_shape_fn(IxDyn(sizes), |_| {
        let mut k: i64 = rng.gen_range(-8..=7);
        if k >= 0 {
            k += 1;
        }
        T::from_rational(&BigRational::new(BigInt::from(k), BigInt::from(4)))
    })
}

fn not_exact(what: &str) -> Error {
    Error::bare(ErrorCode::Eval, format!("{what} has no exact rational value"))
}

/// Evaluates an expression.
///
/// ```
/// use bracket::{read, eval, random_env, Draw};
/// use num_rational::BigRational;
/// let model = read("tr(A B) - tr(B A)").unwrap();
/// let env = random_env::<BigRational>(&model, Draw::default()).unwrap();
/// let v = eval(model.main_expr().unwrap(), &env).unwrap();
/// assert_eq!(v.iter().next().unwrap(), &BigRational::from_integer(0.into()));
/// ```
pub fn eval<T: Number>(e: &Expr, env: &Env<T>) -> Result<ArrayD<T>> {
    let sizes = env.sizes_of(&e.shape)?;
    let entries = sizes.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    if entries.is_none_or(|n| n > limits::MAX_EVAL_ENTRIES) {
        return Err(Error::bare(ErrorCode::Limit, "the value is too large to evaluate"));
    }
    let out = eval_kind(e, env, &sizes)?;
    if out.shape() != sizes.as_slice() {
        // Same entries, the layout our shape says (rows `[ι, n]` and the like).
        return reshape(out, &sizes);
    }
    Ok(out)
}

fn reshape<T: Number>(a: ArrayD<T>, sizes: &[usize]) -> Result<ArrayD<T>> {
    let a = a.as_standard_layout().to_owned();
    a.into_shape_with_order(IxDyn(sizes))
        .map_err(|e| Error::bare(ErrorCode::Eval, format!("internal shape error: {e}")))
}

fn scalar<T: Number>(v: T) -> ArrayD<T> {
    ArrayD::from_elem(IxDyn(&[]), v)
}

fn get_scalar<T: Number>(a: &ArrayD<T>) -> T {
    a.iter().next().cloned().unwrap_or_else(T::zero)
}

fn eval_kind<T: Number>(e: &Expr, env: &Env<T>, sizes: &[usize]) -> Result<ArrayD<T>> {
    let ev = |x: &Expr| eval(x, env);
    Ok(match &e.kind {
        Kind::Var(name) | Kind::Diff(name) => {
            let key = if matches!(e.kind, Kind::Diff(_)) { format!("d{name}") } else { name.clone() };
            // A size standing as a scalar (`N` for `1_Nᵀ1_N`) is that size.
            let size = match (&e.kind, env.sizes.get(&Dim::Sym(name.clone()))) {
                (Kind::Var(_), Some(&n)) if sizes.is_empty() && !env.values.contains_key(&key) => {
                    Some(ArrayD::from_elem(IxDyn(&[]), T::from_rational(&BigRational::from_integer(n.into()))))
                }
                _ => None,
            };
            if let Some(size) = size {
                return Ok(size);
            }
            let v = env
                .values
                .get(&key)
                .ok_or_else(|| Error::bare(ErrorCode::Eval, format!("no value is given for `{key}`")))?;
            if v.shape() != sizes {
                return Err(Error::bare(
                    ErrorCode::Eval,
                    format!("the value of `{key}` has shape {:?}, expected {:?}", v.shape(), sizes),
                ));
            }
            v.clone()
        }
        Kind::DiffOf(_) => {
            return Err(Error::bare(ErrorCode::Unsupported, "`d(…)` has no value until it is differentiated"))
        }
        Kind::Const(c) => scalar(T::from_rational(c)),
        Kind::Ones => ArrayD::from_elem(IxDyn(sizes), T::one()),
        Kind::Identity => {
            let n = sizes[0];
            ArrayD::from_shape_fn(IxDyn(&[n, n]), |i| if i[0] == i[1] { T::one() } else { T::zero() })
        }
        Kind::Add(terms) => {
            let mut acc = ev(&terms[0])?;
            for t in &terms[1..] {
                acc = acc + ev(t)?;
            }
            acc
        }
        Kind::Scale(c, x) => {
            let c = T::from_rational(c);
            ev(x)?.mapv(|v| c.clone() * v)
        }
        Kind::Product(a, b) => {
            let (va, vb) = (ev(a)?, ev(b)?);
            if a.is_scalar() {
                let s = get_scalar(&va);
                vb.mapv(|v| s.clone() * v)
            } else if b.is_scalar() {
                let s = get_scalar(&vb);
                va.mapv(|v| v * s.clone())
            } else {
                let ma = as_matrix(va);
                let mb = as_matrix(vb);
                matmul(&ma, &mb)?
            }
        }
        Kind::DivScalar(a, b) => {
            let s = get_scalar(&ev(b)?);
            let va = ev(a)?;
            let mut out = va.clone();
            for (o, v) in out.iter_mut().zip(va.iter()) {
                *o = v.divide(&s).ok_or_else(|| Error::bare(ErrorCode::Eval, "division by zero"))?;
            }
            out
        }
        Kind::Transpose(a) => {
            let v = ev(a)?;
            match v.ndim() {
                2 => v.t().as_standard_layout().to_owned(),
                _ => v,
            }
        }
        Kind::Inverse(a) => {
            let v = ev(a)?;
            if a.is_scalar() {
                let s = get_scalar(&v);
                scalar(T::one().divide(&s).ok_or_else(|| Error::bare(ErrorCode::Eval, "1/0 has no value"))?)
            } else {
                inverse(&v)?
            }
        }
        Kind::Power(a, k) => {
            let v = ev(a)?;
            if a.is_scalar() {
                let s = get_scalar(&v);
                scalar(s.power(k).ok_or_else(|| not_exact("this power"))?)
            } else {
                let k = k.to_integer().to_i64().unwrap_or(0);
                let base = if k < 0 { inverse(&v)? } else { v };
                let n = base.shape()[0];
                let mut acc =
                    ArrayD::from_shape_fn(IxDyn(&[n, n]), |i| if i[0] == i[1] { T::one() } else { T::zero() });
                for _ in 0..k.unsigned_abs() {
                    acc = matmul(&acc, &base)?;
                }
                acc
            }
        }
        Kind::HPower(a, p) => map_checked(ev(a)?, |x| x.power(p), "an element-wise power")?,
        Kind::Hadamard(a, b) => ev(a)? * ev(b)?,
        Kind::HDiv(a, b) => {
            let (va, vb) = (ev(a)?, ev(b)?);
            let mut out = va.clone();
            for ((o, x), y) in out.iter_mut().zip(va.iter()).zip(vb.iter()) {
                *o = x.divide(y).ok_or_else(|| Error::bare(ErrorCode::Eval, "element-wise division by zero"))?;
            }
            out
        }
        Kind::Kron(a, b) => {
            let (va, vb) = (ev(a)?, ev(b)?);
            let mut shape = va.shape().to_vec();
            shape.extend_from_slice(vb.shape());
            let flat: Vec<T> = va.iter().flat_map(|x| vb.iter().map(move |y| x.clone() * y.clone())).collect();
            ArrayD::from_shape_vec(IxDyn(&shape), flat).map_err(|e| Error::bare(ErrorCode::Eval, e.to_string()))?
        }
        Kind::Dot(a, b) => {
            let (va, vb) = (ev(a)?, ev(b)?);
            let s = va.iter().zip(vb.iter()).fold(T::zero(), |acc, (x, y)| acc + x.clone() * y.clone());
            scalar(s)
        }
        Kind::Gen { .. } => {
            let net = crate::network::gen_network(e).expect("a Gen node");
            eval_network(&net, env)?
        }
        Kind::Trace(a) => {
            let v = ev(a)?;
            let n = v.shape()[0];
            scalar((0..n).fold(T::zero(), |acc, i| acc + v[[i, i].as_slice()].clone()))
        }
        Kind::Det(a) => scalar(determinant(&ev(a)?)?),
        Kind::Diag(a) => {
            let v = ev(a)?;
            if v.ndim() == 1 {
                let n = v.len();
                ArrayD::from_shape_fn(IxDyn(&[n, n]), |i| {
                    if i[0] == i[1] {
                        v[[i[0]].as_slice()].clone()
                    } else {
                        T::zero()
                    }
                })
            } else {
                let n = v.shape()[0];
                ArrayD::from_shape_fn(IxDyn(&[n]), |i| v[[i[0], i[0]].as_slice()].clone())
            }
        }
        Kind::Sum(a) => scalar(ev(a)?.iter().fold(T::zero(), |acc, x| acc + x.clone())),
        Kind::Norm(a) => {
            let s = ev(a)?.iter().fold(T::zero(), |acc, x| acc + x.clone() * x.clone());
            let half = BigRational::new(1.into(), 2.into());
            scalar(s.power(&half).ok_or_else(|| not_exact("this norm"))?)
        }
        Kind::Func { func, derivative, arg } => {
            let plain =
                ev(arg).and_then(|a| map_checked(a, |x| x.func(func, *derivative), &format!("`{}`", func.name())));
            // A logarithm whose argument overflows or underflows in floating point, taken
            // in log space (`ln(sum(exp(z)))` at large z): see `logspace`.
            let logarithm = *func == Func::Ln && *derivative == 0 && !T::EXACT;
            let finite = |v: &ArrayD<T>| v.iter().all(|x| x.approx().is_finite());
            match plain {
                Ok(v) if !logarithm || finite(&v) => v,
                plain if logarithm => match logspace::ln_of(arg, env).filter(|l| l.iter().all(|x| x.is_finite())) {
                    Some(l) => l.mapv(|x| T::from_rational(&BigRational::from_float(x).unwrap_or_default())),
                    None => plain?,
                },
                plain => plain?,
            }
        }
        Kind::Softmax { positions, arg } => softmax(ev(arg)?, positions)?,
        Kind::Permute(a, perm) => ev(a)?.permuted_axes(IxDyn(perm)).as_standard_layout().to_owned(),
        Kind::Network(net) => eval_network(net, env)?,
    })
}

fn map_checked<T: Number>(a: ArrayD<T>, f: impl Fn(&T) -> Option<T>, what: &str) -> Result<ArrayD<T>> {
    let mut out = a.clone();
    for (o, x) in out.iter_mut().zip(a.iter()) {
        *o = f(x).ok_or_else(|| not_exact(what))?;
    }
    Ok(out)
}

fn as_matrix<T: Number>(a: ArrayD<T>) -> ArrayD<T> {
    if a.ndim() == 1 {
        let n = a.len();
        a.into_shape_with_order(IxDyn(&[n, 1])).expect("vector to column")
    } else {
        a
    }
}

fn softmax<T: Number>(a: ArrayD<T>, positions: &[usize]) -> Result<ArrayD<T>> {
    let n = a.ndim();
    let mut perm: Vec<usize> = positions.iter().map(|p| p - 1).collect();
    perm.extend((0..n).filter(|k| !positions.contains(&(k + 1))));
    let moved = a.permuted_axes(IxDyn(&perm)).as_standard_layout().to_owned();
    let shape = moved.shape().to_vec();
    let outer: usize = shape[..positions.len()].iter().product();
    let inner: usize = shape[positions.len()..].iter().product();
    let flat = moved.into_shape_with_order(IxDyn(&[outer, inner])).expect("softmax reshape");
    let mut out = flat.clone();
    for (mut row_out, row) in out.axis_iter_mut(Axis(0)).zip(flat.axis_iter(Axis(0))) {
        // Shifted by the row's greatest entry, as NumPy code does: exp(1000) overflows, the
        // softmax of (1000, 0) does not. (Exact numbers are not: their exp is exact at 0 only.)
        let greatest = row.iter().fold(None::<&T>, |m, x| match m {
            Some(m) if m.approx() >= x.approx() => Some(m),
            _ => Some(x),
        });
        let shift = match greatest {
            Some(m) if !T::EXACT && m.approx().is_finite() => m.clone(),
            _ => T::zero(),
        };
        let mut exps = Vec::with_capacity(inner);
        for x in row.iter() {
            exps.push((x.clone() - shift.clone()).func(&Func::Exp, 0).ok_or_else(|| not_exact("softmax"))?);
        }
        let total = exps.iter().fold(T::zero(), |acc, x| acc + x.clone());
        for (o, x) in row_out.iter_mut().zip(exps) {
            *o = x.divide(&total).ok_or_else(|| not_exact("softmax"))?;
        }
    }
    reshape(out, &shape)
}

/// Evaluates a tensor network, multiplying in one factor at a time and summing out each
/// index as soon as no later factor and not the output needs it.
pub fn eval_network<T: Number>(net: &Network, env: &Env<T>) -> Result<ArrayD<T>> {
    let values: Vec<ArrayD<T>> = net.factors.iter().map(|f| eval(&f.expr, env)).collect::<Result<_>>()?;
    let sizes: Vec<usize> = net.indices.iter().map(|d| env.size(d)).collect::<Result<_>>()?;
    // The accumulator: a tensor over the indices in `held`.
    let mut held: Vec<usize> = Vec::new();
    let mut acc: Vec<T> = vec![T::one()];
    // Indices that touch no factor are summed (or kept) from the start.
    let mut pending: Vec<usize> = (0..sizes.len()).collect();
    for (k, f) in net.factors.iter().enumerate() {
        let mut next_held = held.clone();
        for &s in &f.slots {
            if !next_held.contains(&s) {
                next_held.push(s);
            }
        }
        let later: Vec<usize> = net.factors[k + 1..].iter().flat_map(|g| g.slots.iter().copied()).collect();
        let keep: Vec<usize> =
            next_held.iter().copied().filter(|i| later.contains(i) || net.output.contains(i)).collect();
        acc = multiply_in(&acc, &held, &values[k], &f.slots, &next_held, &keep, &sizes)?;
        pending.retain(|i| !f.slots.contains(i));
        held = keep;
    }
    // Indices on no factor: free ones broadcast, summed ones multiply by their size.
    for i in pending {
        if net.output.contains(&i) {
            let ones = ArrayD::from_elem(IxDyn(&[sizes[i]]), T::one());
            let mut next_held = held.clone();
            next_held.push(i);
            acc = multiply_in(&acc, &held, &ones, &[i], &next_held, &next_held, &sizes)?;
            held = next_held;
        } else {
            let n = T::from_rational(&BigRational::from_integer(BigInt::from(sizes[i])));
            acc = acc.into_iter().map(|v| v * n.clone()).collect();
        }
    }
    // Reorder to the output order.
    let out_sizes: Vec<usize> = net.output.iter().map(|&i| sizes[i]).collect();
    let held_sizes: Vec<usize> = held.iter().map(|&i| sizes[i]).collect();
    let current =
        ArrayD::from_shape_vec(IxDyn(&held_sizes), acc).map_err(|e| Error::bare(ErrorCode::Eval, e.to_string()))?;
    let perm: Vec<usize> = net.output.iter().map(|o| held.iter().position(|h| h == o).unwrap_or(0)).collect();
    if perm.len() != held.len() {
        // An index on several result dims (`δ(a,c)X(a,b)` on (a, b, a)): the value on
        // the diagonal where those dims agree, zero elsewhere.
        let mut out = ArrayD::from_elem(IxDyn(&out_sizes), T::zero());
        for (at, v) in out.indexed_iter_mut() {
            let mut source = vec![usize::MAX; held.len()];
            let agree = perm.iter().enumerate().all(|(k, &h)| {
                let seen = source[h];
                source[h] = at[k];
                seen == usize::MAX || seen == at[k]
            });
            if agree && source.iter().all(|&i| i != usize::MAX) {
                *v = current[IxDyn(&source)].clone();
            }
        }
        return Ok(out);
    }
    let out = current.permuted_axes(IxDyn(&perm)).as_standard_layout().to_owned();
    debug_assert_eq!(out.shape(), out_sizes.as_slice());
    Ok(out)
}

/// `acc` (over `held`) times `value` (over `slots`), giving a tensor over `keep`
/// (a subset of `all`, the union), summing the indices of `all` not in `keep`.
fn multiply_in<T: Number>(
    acc: &[T],
    held: &[usize],
    value: &ArrayD<T>,
    slots: &[usize],
    all: &[usize],
    keep: &[usize],
    sizes: &[usize],
) -> Result<Vec<T>> {
    let work = all.iter().fold(1u128, |w, &i| w.saturating_mul(sizes[i] as u128));
    linalg::within_work::<f64>(work, "contraction")?;
    let keep_sizes: Vec<usize> = keep.iter().map(|&i| sizes[i]).collect();
    let out_len: usize = keep_sizes.iter().product();
    let mut out = vec![T::zero(); out_len];
    let strides = |list: &[usize], of: &[usize]| -> Vec<usize> {
        // Stride in a row-major tensor over `of` for each index of `list` (0 if absent).
        let mut st = vec![0usize; list.len()];
        let mut stride = 1;
        for &i in of.iter().rev() {
            if let Some(p) = list.iter().position(|&x| x == i) {
                st[p] += stride;
            }
            stride *= sizes[i];
        }
        st
    };
    let acc_st = strides(all, held);
    let out_st = strides(all, keep);
    // A factor may use one index on several slots (a diagonal): add up its strides.
    let val_sizes = value.shape().to_vec();
    let mut val_st = vec![0usize; all.len()];
    let mut stride = 1;
    for (p, &s) in slots.iter().enumerate().rev() {
        let k = all.iter().position(|&x| x == s).unwrap_or(0);
        val_st[k] += stride;
        stride *= val_sizes[p];
    }
    let flat: Vec<T> = value.as_standard_layout().iter().cloned().collect();
    let dims: Vec<usize> = all.iter().map(|&i| sizes[i]).collect();
    if dims.contains(&0) {
        return Ok(out);
    }
    let mut at = vec![0usize; all.len()];
    let (mut a_off, mut v_off, mut o_off) = (0usize, 0usize, 0usize);
    loop {
        let term = acc[a_off].clone() * flat[v_off].clone();
        out[o_off] = out[o_off].clone() + term;
        let mut k = all.len();
        loop {
            if k == 0 {
                return Ok(out);
            }
            k -= 1;
            at[k] += 1;
            a_off += acc_st[k];
            v_off += val_st[k];
            o_off += out_st[k];
            if at[k] < dims[k] {
                break;
            }
            a_off -= acc_st[k] * dims[k];
            v_off -= val_st[k] * dims[k];
            o_off -= out_st[k] * dims[k];
            at[k] = 0;
        }
    }
}

/// Are two f64 arrays equal within a relative tolerance (NaN equals NaN)?
pub fn close(a: &ArrayD<f64>, b: &ArrayD<f64>, tolerance: f64) -> bool {
    if a.shape() != b.shape() {
        return false;
    }
    let scale = a.iter().chain(b.iter()).filter(|x| x.is_finite()).fold(1.0f64, |m, x| m.max(x.abs()));
    a.iter().zip(b.iter()).all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= tolerance * scale)
}
