//! Every answer reads back: the ASCII and Unicode forms of every gradient of the worked
//! examples, read with the example's declarations, definitions and facts alone, are
//! right gradients by finite differences. Jacobians are covered by the cookbook.

use bracket::{answer_queries, check_derivative, eval, random_env, read, render, simplify, Draw, Format, Verdict};

/// The example inputs of a section, without their `#` headers.
fn examples(section: &str) -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(section);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|d| d.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
            (p.file_stem().unwrap().to_string_lossy().to_string(), body.join("\n"))
        })
        .collect()
}

/// The function of a `grad f wrt …` line.
fn function_of(line: &str) -> &str {
    let rest = line.trim().strip_prefix("grad").unwrap_or(line);
    rest.rsplit_once(" wrt ").map_or(rest, |(f, _)| f).trim()
}

/// Reads every derivative of `body` back from its ASCII and Unicode forms; the failures.
/// A gradient has its variable's shape, and the read-back form is given that shape
/// (`G + 0 X`); nothing else about the answer's sizes is given.
fn read_back(name: &str, body: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let context: Vec<&str> = body.lines().filter(|l| !l.trim_start().starts_with("grad")).collect();
    for query in body.lines().filter(|l| l.trim_start().starts_with("grad")) {
        let function = function_of(query);
        let one = format!("{}\n{query}", context.join("\n"));
        let derivatives = answer_queries(&one).unwrap_or_else(|e| panic!("{name}: {}", e.render(&one)));
        for d in &derivatives {
            if d.answer.expr.order() > bracket::limits::MAX_ORDER || !d.function.is_scalar() {
                continue;
            }
            for format in [Format::Ascii, Format::Unicode] {
                let printed = d.answer.render(format);
                let src = format!("{}\n{function}\n({printed}) + 0 {}", context.join("\n"), d.wrt);
                let model = match read(&src) {
                    Ok(m) => m,
                    Err(e) => {
                        failures.push(format!("{name} ∇_{}: {format:?} `{printed}` does not read: {e}", d.wrt));
                        continue;
                    }
                };
                let n = model.exprs.len();
                let (f, g) = (&model.exprs[n - 2], &model.exprs[n - 1]);
                match check_derivative(&model, f, &d.wrt, g, 2) {
                    Ok(c) if c.verdict == Verdict::Verified => {}
                    Ok(c) => failures.push(format!("{name} ∇_{}: {format:?} `{printed}` read back: {c:?}", d.wrt)),
                    Err(e) => failures.push(format!("{name} ∇_{}: {format:?} `{printed}` read back: {e}", d.wrt)),
                }
            }
        }
    }
    failures
}

#[test]
fn worked_example_answers_read_back() {
    let mut failures = Vec::new();
    let mut count = 0;
    for section in ["derivatives", "programs"] {
        for (name, body) in examples(section) {
            count += 1;
            failures.extend(read_back(&name, &body));
        }
    }
    assert!(count >= 15, "only {count} examples");
    assert!(failures.is_empty(), "{} answers do not read back:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_ones_term_of_an_elementwise_sum_prints_as_one_and_reads_back() {
    // `exp(S) − 11ᵀ` (survey 18, the VAE's KL term) is `exp(S) − 1`, as `1 − H ⊙ H`
    // is; beside products the outer product stays (`I − 11ᵀ/n`, `11ᵀ + 2X`).
    let cases = [
        ("S: matrix(N, k); sum(exp(S)) - sum(S)", "S", "exp(S) − 1"),
        ("S: matrix(N, k); -1/2 sum(1 + S - exp(S))", "S", "(1/2)(exp(S) − 1)"),
        ("X: matrix(n, m); 1^T X 1 + 1^T (X .* X) 1", "X", "11ᵀ + 2X"),
        // A multiple too: Charbonnier's `e²(11ᵀ)` is `e²1`, as it is typed.
        (
            "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); e: scalar; sum(sqrt((X W - Y).^2 + e^2 1))",
            "W",
            "Xᵀ((XW − Y) ⊘ sqrt((XW − Y)^{⊙2} + e²1))",
        ),
    ];
    for (text, wrt, expected) in cases {
        let d = bracket::grad(text, &[wrt]).unwrap().remove(0);
        assert_eq!(d.answer.render(Format::Unicode), expected, "{text}");
        let decls = text.rsplit_once(';').unwrap().0;
        for format in [Format::Ascii, Format::Unicode] {
            let back = read(&format!("{decls}; {}", d.answer.render(format))).unwrap();
            let back = back.main_expr().unwrap();
            let model = read(text).unwrap();
            let c = check_derivative(&model, model.main_expr().unwrap(), wrt, back, 3).unwrap();
            assert!(c.error() < 1e-6, "{text}: {} reads back wrong", d.answer.render(format));
        }
    }
}

#[test]
fn a_scalar_spread_over_a_row_or_a_tensor_reads_back() {
    // `s ./ xᵀ` is `s1 ⊘ xᵀ`: the scaled `1` reads back with the row's shape, as it does
    // in a sum (`2 1 − xᵀ`), not as a column that `⊘` cannot pair with a row (fuzzing,
    // seed 3502: `X̄⊘trᵀι`).
    let cases = [
        "X: matrix(n, m); x: vector(k); sum(X) ./ x^T",
        "x: vector(n); A: matrix(n, m); (x^T x) ./ (x^T A)",
        "t: vector(n); u: vector(m); r: vector(k); sum(t) ./ (t u r)",
        "t: vector(n); r: vector(m); (t^T t) ./ (t {r^T} iota)",
        // `ι` alone, the ones vector of size one, prints as `ι`: `1` reads as the number
        // (fuzzing, seed 40: `softmaxιx@2` printed `{softmax(1)} x`).
        "x: vector(n); softmax(iota) x^T",
        "x: vector(n); {softmax(iota)} x",
    ];
    for text in cases {
        let answer = simplify(text).unwrap();
        let decls = text.rsplit_once(';').unwrap().0;
        for format in [Format::Ascii, Format::Unicode] {
            let printed = render(&answer.expr, format);
            let back = simplify(&format!("{decls}; {printed}"))
                .unwrap_or_else(|e| panic!("{text}: `{printed}` does not read back: {}", e.message));
            assert_eq!(back.expr.shape, answer.expr.shape, "{text}: `{printed}` reads back with another shape");
            let env = random_env::<f64>(&answer.model, Draw::default()).unwrap();
            let (a, b) = (eval(&answer.expr, &env).unwrap(), eval(&back.expr, &env).unwrap());
            let gap = a.iter().zip(b.iter()).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
            assert!(gap < 1e-9, "{text}: `{printed}` reads back as another value");
        }
    }
}

#[test]
fn a_greek_name_written_transposed_in_a_failing_product_is_a_vector() {
    // `x~λᵀ` prints as `(λᵀ1)x`: λ, a scalar by default, is a vector because it is
    // written transposed, in a product that fails with λ a scalar as much as in one
    // that type-checks either way (fuzzing, seed 37).
    for text in ["x~λᵀ", "Z_{L-1}x~λᵀ"] {
        let answer = simplify(text).unwrap();
        for format in [Format::Ascii, Format::Unicode] {
            let printed = render(&answer.expr, format);
            let back =
                simplify(&printed).unwrap_or_else(|e| panic!("{text}: `{printed}` does not read back: {}", e.message));
            assert_eq!(back.expr.shape.len(), answer.expr.shape.len(), "{text}: `{printed}`");
            assert!(back.model.notes.iter().any(|n| n.contains("`λ` is read as a vector")), "{:?}", back.model.notes);
        }
    }
}
