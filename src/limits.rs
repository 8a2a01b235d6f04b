//! Named limits. Everything unbounded in the input has one; exceeding it is an
//! `E-limit` error with a span, never a crash or a hang. Documented in docs/errors.md.

/// Largest input accepted, in bytes (a 20,000-term sum fits; 1 MB does not).
pub const MAX_INPUT_BYTES: usize = 512 * 1024;
/// Deepest nesting of `(`, `[`, `{`.
pub const MAX_NESTING: usize = 128;
/// Deepest syntax tree (operators nested in operators).
pub const MAX_DEPTH: usize = 256;
/// Longest run of prefix operators (`- - - x`).
pub const MAX_PREFIX_RUN: usize = 32;
/// Highest tensor order (number of dims) of any sub-expression.
pub const MAX_ORDER: usize = 12;
/// Most parser steps per input byte (plus [`MIN_PARSE_CALLS`]): real inputs take 30–230;
/// runs of `|` (norm or determinant?) made pest backtrack exponentially.
pub const MAX_PARSE_CALLS_PER_BYTE: usize = 2000;
/// Parser steps every input may take whatever its length.
pub const MIN_PARSE_CALLS: usize = 1_000_000;
/// Largest integer matrix power `X^k`.
pub const MAX_POWER: u64 = 64;
/// Most entries a numeric evaluation may compute for one tensor.
pub const MAX_EVAL_ENTRIES: usize = 1 << 22;
/// Most index assignments one numeric contraction may visit.
pub const MAX_EVAL_WORK: u128 = 1 << 28;
/// Largest power of ten in a number written with an exponent (`1e-3`, `2.5E40`).
pub const MAX_EXPONENT: u64 = 100;
/// Stack the parser needs left to run in place; with less, it runs on a fresh stack
/// of this size. pest recurses once per nesting level (bounded by `MAX_NESTING` and
/// the prefix runs), and a fresh stack costs a mapping each time: once per rule side,
/// it was most of the start-up time. The CLI's worker thread has `WORKER_STACK`.
pub const PARSE_STACK: usize = 256 << 20;
/// As [`PARSE_STACK`], for the elaborator (recursion bounded by `MAX_DEPTH`).
pub const ELABORATE_STACK: usize = 64 << 20;
/// The stack of the CLI's worker thread: room for both without a fresh stack.
pub const WORKER_STACK: usize = 512 << 20;
/// Most threads `bracket batch` answers queries on.
pub const MAX_BATCH_THREADS: usize = 64;
/// Names a second reading of an ill-typed input tries as scalars, one at a time.
pub const MAX_RETYPED_NAMES: usize = 16;

/// Most bits (numerator and denominator together) of an exact number a power may make:
/// about 20,000 decimal digits. Past it the power stays unevaluated (in the simplifier)
/// or is not exact (in evaluation): `((((3^64)^64)^64)^64)^64`, 26 bytes, asked for a
/// number of a billion bits and ran until the timeout.
pub const MAX_NUMBER_BITS: u64 = 1 << 16;

/// Whether `base^k` stays within [`MAX_NUMBER_BITS`].
pub fn power_fits(base: &num_rational::BigRational, k: i64) -> bool {
    let bits = base.numer().bits() + base.denom().bits();
    bits.saturating_mul(k.unsigned_abs()) <= MAX_NUMBER_BITS
}
