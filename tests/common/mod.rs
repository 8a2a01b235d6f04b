//! Shared helpers for the integration tests: evaluate expressions of one input on the
//! same random tensors, exactly where possible.
#![allow(dead_code)]

use bracket::{close, eval, random_env, read, Draw, ErrorCode, Model};
use ndarray::ArrayD;
use num_rational::BigRational;
use num_traits::ToPrimitive;

/// Values of every expression of `src` on random tensors drawn with `seed`; exact
/// rationals when possible, else f64.
pub enum Values {
    Exact(Vec<ArrayD<BigRational>>),
    Float(Vec<ArrayD<f64>>),
}

pub fn values_of(model: &Model, seed: u64) -> Values {
    values_sized(model, seed, 4)
}

pub fn values_sized(model: &Model, seed: u64, max_size: usize) -> Values {
    try_values(model, seed, max_size).unwrap_or_else(|e| panic!("eval: {e}"))
}

/// Values, or the evaluation error (singular matrix, division by zero, …).
pub fn try_values(model: &Model, seed: u64, max_size: usize) -> Result<Values, bracket::Error> {
    let draw = Draw { seed, min_size: 2, max_size, ..Draw::default() };
    let exact = random_env::<BigRational>(model, draw)
        .and_then(|env| model.exprs.iter().map(|e| eval(e, &env)).collect::<Result<Vec<_>, _>>());
    match exact {
        Ok(v) => Ok(Values::Exact(v)),
        Err(e) if e.code == ErrorCode::Eval || e.code == ErrorCode::Limit => {
            let env = random_env::<f64>(model, draw)?;
            let v = model.exprs.iter().map(|e| eval(e, &env)).collect::<Result<Vec<_>, _>>()?;
            Ok(Values::Float(v))
        }
        Err(e) => Err(e),
    }
}

/// True if the first two expressions of `src` have equal values on `seeds` draws.
pub fn same_value(src: &str, seeds: &[u64]) -> bool {
    same_value_sized(src, seeds, 4)
}

/// As [`same_value`], with dims of size 2 up to `max_size`.
pub fn same_value_sized(src: &str, seeds: &[u64], max_size: usize) -> bool {
    let model = read(src).unwrap_or_else(|e| panic!("{}\n{}", src, e.render(src)));
    assert!(model.exprs.len() >= 2, "need two expressions in {src}");
    seeds.iter().all(|&s| match values_sized(&model, s, max_size) {
        Values::Exact(v) => v[0] == v[1],
        Values::Float(v) => close(&v[0], &v[1], 1e-9),
    })
}

/// The network an einsum over `decls` reads as.
pub fn einsum_network(decls: &str, einsum: &str) -> bracket::Network {
    let m = read(&format!("{decls}; {einsum}")).unwrap_or_else(|e| panic!("{einsum}: {e}"));
    match &m.main_expr().expect("an expression").kind {
        bracket::Kind::Network(n) => (**n).clone(),
        k => panic!("{einsum} is not a network: {k:?}"),
    }
}

/// Whether a raised form, printed in ASCII and read back, equals the einsum over
/// `decls` on three random draws (dims of size 2 and 3).
pub fn raised_equal(decls: &str, einsum: &str, raised: &bracket::Expr) -> bool {
    let text = format!("{decls}; {einsum}; {}", bracket::render(raised, bracket::Format::Ascii));
    same_value_sized(&text, &[1, 2, 3], 3)
}

/// Random einsums: `factors` of the named tensors (name, order), indices from the first
/// `letters` of i, j, k, l, m, and fewer than `max_out` result indices.
pub fn einsums(
    tensors: Vec<(&'static str, usize)>,
    letters: usize,
    factors: std::ops::Range<usize>,
    max_out: usize,
) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let order = tensors.iter().map(|t| t.1).max().unwrap_or(1);
    let factor = (proptest::sample::select(tensors), proptest::collection::vec(0..letters, order));
    (proptest::collection::vec(factor, factors), 0..max_out, any::<u64>()).prop_map(|(factors, out_len, pick)| {
        let letters = ['i', 'j', 'k', 'l', 'm'];
        let specs: Vec<String> =
            factors.iter().map(|((_, k), idx)| idx[..*k].iter().map(|&i| letters[i]).collect()).collect();
        let mut used: Vec<char> = specs.iter().flat_map(|s| s.chars()).collect();
        used.sort();
        used.dedup();
        let mut out = String::new();
        for k in 0..out_len.min(used.len()) {
            let c = used[(pick as usize >> (4 * k)) % used.len()];
            if !out.contains(c) {
                out.push(c);
            }
        }
        let names: Vec<&str> = factors.iter().map(|((n, _), _)| *n).collect();
        format!("einsum(\"{}->{}\", {})", specs.join(","), out, names.join(", "))
    })
}

pub fn to_f64(a: &ArrayD<BigRational>) -> ArrayD<f64> {
    a.mapv(|x| x.to_f64().unwrap_or(f64::NAN))
}

/// Runs the release binary with `args` and `input` on standard input, killing it after
/// `kill_after` so that a hang fails a test instead of blocking it; the output and the
/// time it took. The binary may stop reading early (it reads at most the input limit):
/// a broken pipe is not an error.
pub fn run_with_stdin(
    args: &[&str],
    input: impl AsRef<[u8]>,
    kill_after: std::time::Duration,
) -> (std::process::Output, std::time::Duration) {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let start = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.as_ref().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("the binary can be waited for") {
            break status;
        }
        if start.elapsed() > kill_after {
            let _ = child.kill();
            break child.wait().expect("the killed binary ends");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    writer.join().expect("writer");
    let out = std::process::Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    (out, elapsed)
}

/// The first step of a derivation, by its values in order, that differs from the one
/// before (its index in the steps), if any.
pub fn unequal_step(values: &[ArrayD<f64>], tolerance: f64) -> Option<usize> {
    values.windows(2).position(|pair| !close(&pair[0], &pair[1], tolerance)).map(|k| k + 1)
}

/// True where python3 with NumPy runs; else the calling test is skipped with a message,
/// except under CI, which must provide it (`.ci/run` installs it).
pub fn has_numpy() -> bool {
    let ok = std::process::Command::new("python3").args(["-c", "import numpy"]).status().is_ok_and(|s| s.success());
    if !ok {
        assert!(std::env::var("CI").is_err(), "CI must provide python3 with numpy (.ci/run installs it)");
        eprintln!("skipped: python3 with numpy is not installed");
    }
    ok
}
