//! Every worked example of `examples/`, end to end from its text to the simplified
//! answer: `bracket::simplify` for the notation examples (each expression),
//! `bracket::answer_queries` for the derivative examples and `bracket::backprop_with`
//! for the programs (what `bracket grad PROGRAM` prints). No numeric checks.
//!
//! `cargo bench --bench examples`

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;

fn examples(c: &mut Criterion) {
    let all = common::examples();
    let mut group = c.benchmark_group("examples");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for ex in &all {
        group.bench_function(&ex.name, |b| b.iter(|| common::run(black_box(&ex.call))));
    }
    group.bench_function("all (one after another)", |b| {
        b.iter(|| all.iter().map(|ex| common::run(black_box(&ex.call))).sum::<usize>())
    });
    group.finish();
}

criterion_group!(benches, examples);
criterion_main!(benches);
