//! Fuzzing the front end with proptest: arbitrary text and random sequences of the
//! grammar's tokens go through parse, elaboration, every printer and evaluation. None
//! may panic; whatever is accepted must print in ASCII and read back. CI runs a bounded
//! number of cases (`FUZZ_CASES`, default 1000) from a fixed seed (`PROPTEST_RNG_SEED`,
//! `random` for a fresh one); longer runs are in docs/robustness.md.

use bracket::{eval, random_env, render, simplify, Draw, Format};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "x",
    "y",
    "A",
    "B",
    "X",
    "T",
    "λ",
    "lambda",
    "N",
    "I",
    "W_1",
    "Z_{L-1}",
    "f",
    "s",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "~",
    "ᵀ",
    "^T",
    "^-1",
    "⁻¹",
    "⁻ᵀ",
    "^2",
    "²",
    ".^2",
    "^{⊙2}",
    "+",
    "-",
    "−",
    "*",
    "/",
    "⊙",
    ".*",
    "⊘",
    "./",
    "⊗",
    "·",
    " . ",
    "cdot",
    "odot",
    "·_1",
    "⊙_2",
    "·_>",
    "_1",
    "_2",
    "_{12}",
    "_{21}",
    "_{1[23]}",
    "@2",
    "|",
    "||",
    "tr",
    "det",
    "exp",
    "ln",
    "tanh",
    "tanh²",
    "softmax",
    "diag",
    "sum",
    "dot(",
    "kron(",
    ",",
    "s^1(",
    "f'(",
    "einsum(\"ij,jk->ik\",",
    "einsum(\"ii\",",
    "\"",
    ";",
    ":",
    "matrix",
    "vector(n)",
    "tensor(2,3,4)",
    "scalar",
    "elementwise",
    "symmetric",
    "like(A)",
    "1",
    "2",
    "1/2",
    "0.5",
    "ι",
    "iota",
    "d",
    "dX",
    "d(",
    "X̄",
    "Ā",
    "ā",
    "1̄",
    "\n",
    " ",
    "=",
    "^{12}",
    "⊙^{21}",
    "^{1~2}",
    "#c\n",
    "grad",
    "wrt",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.concat())
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let Ok(answer) = simplify(text) else { return Ok(()) };
    for f in [Format::Unicode, Format::Ascii, Format::Latex, Format::Bracket, Format::Numpy] {
        let _ = answer.render(f);
    }
    let ascii = render(&answer.expr, Format::Ascii);
    // What was accepted prints in ASCII and reads back (with the same declarations).
    let uncommented: String = text.lines().map(|l| l.split('#').next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let decls: String = uncommented
        .split([';', '\n'])
        .filter(|s| s.contains(':') && !s.contains('='))
        .map(|s| format!("{s};"))
        .collect();
    if !decls.contains('#') {
        let again = format!("{decls} {ascii}");
        prop_assert!(
            simplify(&again).is_ok()
                || bracket::read(text).map(|m| m.exprs.len()).unwrap_or(0) > 1
                || text.contains('='),
            "`{}` printed as `{}` does not read back",
            text,
            ascii
        );
    }
    if let Ok(env) = random_env::<f64>(&answer.model, Draw::default()) {
        let _ = eval(&answer.expr, &env);
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000)
}

/// The texts are drawn from a fixed seed, so that a run of the suite is deterministic;
/// `PROPTEST_RNG_SEED=random` (or a number) draws others, as the long runs do.
fn seed() -> proptest::test_runner::RngSeed {
    match std::env::var("PROPTEST_RNG_SEED").as_deref() {
        Ok("random") => proptest::test_runner::RngSeed::Random,
        Ok(n) => n.parse().unwrap_or(proptest::test_runner::RngSeed::Fixed(20261206)),
        Err(_) => proptest::test_runner::RngSeed::Fixed(20261206),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        rng_seed: seed(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
        check(&text)?;
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        check(&text)?;
    }
}
