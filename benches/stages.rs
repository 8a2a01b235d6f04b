//! Each stage of the pipeline alone, on a few representative inputs: parse (pest),
//! elaborate (types and shapes), read (both), differentiate (product and chain rules),
//! take out dX (tensor networks, canonical form, merge), e-graph (saturation and
//! extraction together: `bracket::simplify_expr` does both), render (every format).
//!
//! `cargo bench --bench stages`

use bracket::{Format, Options};
use criterion::{criterion_group, criterion_main, Criterion};
use indexmap::IndexSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A stage whose single probe run takes longer than `BRACKET_BENCH_MAX_SECONDS` (default
/// 3) is reported and skipped: criterion would need at least 10 runs of it.
fn bench<R>(
    group: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
    name: String,
    mut f: impl FnMut() -> R,
) {
    let max: f64 = std::env::var("BRACKET_BENCH_MAX_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let start = Instant::now();
    black_box(f());
    let probe = start.elapsed().as_secs_f64();
    if probe > max {
        eprintln!("{name}: skipped, one run took {probe:.2} s (> {max} s)");
        return;
    }
    group.bench_function(name, |b| b.iter(&mut f));
}

const CASES: &[(&str, &str, &str)] = &[
    ("quadratic", "x^T A x", "x"),
    ("trace_inverse", "tr(A X^-1 B)", "X"),
    ("quartic", "a^T X X^T a", "X"),
    ("single_layer", "f: elementwise; h = f(X W + 1 b^T); J = 1/2 (h - Y) · (h - Y); J", "W"),
    ("chain_8", "a^T X1 X2 X3 X4 X5 X6 X7 X8 b", "X4"),
];

fn stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("stages");
    group.sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    let options = Options::default();
    for &(name, text, wrt) in CASES {
        let input = bracket::parse(text).expect("parse");
        let model = bracket::elaborate(&input).expect("elaborate");
        let f = model.main_expr().expect("an expression").clone();
        let vars: IndexSet<String> = [wrt.to_string()].into_iter().collect();
        let d = bracket::differential(&f, &model, &vars).expect("differential").expect("depends on the variable");
        let mut shape = f.shape.clone();
        shape.extend(model.names[wrt].shape.iter().cloned());
        let terms = bracket::take_out(&d, wrt).expect("take out");
        let g = bracket::terms_to_expr(&terms, &shape);
        let start = Instant::now();
        let (simple, report) = bracket::simplify_expr(&g, &model, &options);
        eprintln!(
            "{name}: simplify_expr of the taken-out gradient by {wrt}: {:.3} s, {} nodes, {} iterations, stop: {}",
            start.elapsed().as_secs_f64(),
            report.nodes,
            report.iterations,
            report.stop
        );

        bench(&mut group, format!("parse/{name}"), || bracket::parse(black_box(text)).unwrap());
        bench(&mut group, format!("elaborate/{name}"), || bracket::elaborate(black_box(&input)).unwrap());
        bench(&mut group, format!("read/{name}"), || bracket::read(black_box(text)).unwrap());
        bench(&mut group, format!("differentiate/{name}"), || {
            bracket::differential(black_box(&f), &model, &vars).unwrap()
        });
        bench(&mut group, format!("take_out/{name}"), || {
            bracket::terms_to_expr(&bracket::take_out(black_box(&d), wrt).unwrap(), &shape)
        });
        bench(&mut group, format!("egraph/{name}"), || bracket::simplify_expr(black_box(&g), &model, &options));
        bench(&mut group, format!("render_unicode/{name}"), || bracket::render(black_box(&simple), Format::Unicode));
        bench(&mut group, format!("render_all/{name}"), || {
            [Format::Unicode, Format::Ascii, Format::Latex, Format::Bracket]
                .map(|fmt| bracket::render(black_box(&simple), fmt))
                .len()
                + bracket::render_numpy(&simple, &model).len()
        });
        bench(&mut group, format!("whole_grad/{name}"), || bracket::grad(black_box(text), &[wrt]).unwrap());
    }
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
