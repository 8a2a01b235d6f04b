//! Scaling series, few samples each so the file finishes in minutes:
//! - the chain `aᵀX₁X₂…X_nb` by every X_i, n = 2 … 64;
//! - an L-layer tanh MLP program by every parameter (backpropagation), L = 1 … 32;
//! - an RNN unrolled for τ = 1 … 32 (backpropagation by W, U, b, V, c);
//! - a sum of k quadratic forms `xᵀA_ix` by x, k = 1 … 256.
//!
//! A point whose single probe run takes longer than `BRACKET_BENCH_MAX_SECONDS` (default
//! 3) is reported and skipped here (criterion needs at least 10 runs); `benches/scaling.py`
//! measures every point with fewer repetitions and records the e-graph sizes.
//!
//! `cargo bench --bench scaling`

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn max_seconds() -> f64 {
    std::env::var("BRACKET_BENCH_MAX_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0)
}

fn series<T>(c: &mut Criterion, name: &str, sizes: &[usize], input: impl Fn(usize) -> T, run: impl Fn(&T) -> usize) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10).warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_secs(1));
    for &n in sizes {
        let x = input(n);
        let start = Instant::now();
        run(&x);
        let probe = start.elapsed().as_secs_f64();
        if probe > max_seconds() {
            eprintln!("{name}/{n}: skipped, one run took {probe:.2} s (> {} s); see benches/scaling.py", max_seconds());
            continue;
        }
        group.bench_with_input(BenchmarkId::from_parameter(n), &x, |b, x| b.iter(|| run(black_box(x))));
    }
    group.finish();
}

fn scaling(c: &mut Criterion) {
    series(c, "chain", &[2, 4, 8, 16, 32, 64], common::chain, |(text, xs)| {
        bracket::grad(text, xs).expect("chain").len()
    });
    series(c, "mlp", &[1, 2, 4, 8, 16, 32], common::mlp, |text| {
        bracket::backprop_with(text, bracket::Explain::Result).expect("mlp").len()
    });
    series(c, "rnn", &[1, 2, 4, 8, 16, 32], common::rnn, |text| {
        bracket::backprop_with(text, bracket::Explain::Result).expect("rnn").len()
    });
    series(c, "quadratic_forms", &[1, 4, 16, 64, 256], common::quadratic_forms, |text| {
        bracket::grad(text, &["x"]).expect("quadratic forms").len()
    });
}

criterion_group!(benches, scaling);
criterion_main!(benches);
