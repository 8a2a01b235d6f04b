//! `bracket batch` on several threads: the same answers, in the order of the queries,
//! and an answer as soon as those before it are (a client may wait for each).

mod common;

const KILL_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

fn answers(threads: &str, input: &str) -> Vec<serde_json::Value> {
    let (out, _) = common::run_with_stdin(&["batch", "--threads", threads], input, KILL_AFTER);
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("elapsed_us");
            v
        })
        .collect()
}

#[test]
fn threads_give_the_same_answers_in_order() {
    let queries = [
        r#"{"command": "grad", "expr": "tr(A X^-1 B)", "wrt": ["X"]}"#,
        r#"{"command": "grad", "expr": "x^T A x", "wrt": ["x"]}"#,
        r#"{"command": "nope", "expr": "x"}"#,
        r#"{"command": "grad", "expr": "h = W x; J = a^T W h; grad J wrt W", "check": true}"#,
        r#"{"command": "simplify", "expr": "einsum(\"ij,kj->ik\", A, B)"}"#,
        "not json",
        r#"{"command": "eval", "expr": "x^T x", "at": {"x": [1, 2]}}"#,
    ];
    let input: String = (0..6).flat_map(|_| queries.iter()).map(|q| format!("{q}\n\n")).collect();
    let one = answers("1", &input);
    assert_eq!(one.len(), 6 * queries.len());
    for threads in ["2", "3"] {
        assert_eq!(answers(threads, &input), one, "--threads {threads}");
    }
    assert_eq!(one[1]["derivatives"][0]["unicode"], "(A + Aᵀ)x");
}

#[test]
fn a_client_that_waits_for_each_answer_gets_it() {
    use std::io::{BufRead, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(["batch", "--threads", "2", "--timeout", "30"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    for (expr, want) in [("x^T A x", "xᵀAx"), ("tr(A X)", "tr(AX)")] {
        writeln!(stdin, r#"{{"command": "simplify", "expr": "{expr}"}}"#).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["unicode"], want);
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_query_out_of_time_gets_an_error_line_and_the_rest_are_answered() {
    // `--timeout` is each query's limit in a batch (it was the whole batch's, which then
    // stopped with no line for the queries left), and a query may ask for less. The
    // layer-norm gradient takes milliseconds; it asks for a microsecond.
    let slow = r#"{"command": "grad", "expr": "x, a: vector(n); m = 1^T x / n; c = x - m 1; s = c^T c / n; y = c / sqrt(s + epsilon); dot(a, y)", "wrt": ["x"], "timeout": 0.000001}"#;
    let fast = r#"{"command": "grad", "expr": "x^T A x", "wrt": ["x"]}"#;
    let input = format!("{slow}\n{fast}\n{slow}\n{fast}\n");
    for threads in ["1", "2"] {
        let (out, _) = common::run_with_stdin(&["batch", "--threads", threads, "--timeout", "30"], &input, KILL_AFTER);
        assert_eq!(out.status.code(), Some(0));
        let lines: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 4, "--threads {threads}: {lines:#?}");
        for k in [0, 2] {
            assert_eq!(lines[k]["error"]["code"], "E-limit", "{:#?}", lines[k]);
        }
        for k in [1, 3] {
            assert_eq!(lines[k]["derivatives"][0]["unicode"], "(A + Aᵀ)x", "{:#?}", lines[k]);
        }
    }
}

#[test]
fn a_vec_layout_block_names_both_variables_as_the_tensor_layout_does() {
    // The block ∇_H∇_W said "wrt": "H" with no "by" in the vec layout, and "wrt": "W",
    // "by": "H" in the tensor layout (survey 10).
    let q = |layout: &str| {
        format!(
            r#"{{"command": "hessian", "expr": "X: matrix(n, m); W: matrix(n, r); H: matrix(r, m); 1/2 ||X - W H||^2", "wrt": ["W", "H"], "layout": "{layout}"}}"#
        )
    };
    let vec = answers("1", &format!("{}\n", q("vec")));
    let tensor = answers("1", &format!("{}\n", q("tensor")));
    for (v, t) in vec[0]["derivatives"].as_array().unwrap().iter().zip(tensor[0]["derivatives"].as_array().unwrap()) {
        assert_eq!((&v["wrt"], &v["by"]), (&t["wrt"], &t["by"]), "{v:#?}\n{t:#?}");
    }
}

#[test]
fn a_misspelt_key_is_named_in_the_error() {
    // `"wtr"` read as a missing "wrt" said only that the program has no query (survey 10).
    let a = answers("1", "{\"command\": \"grad\", \"expr\": \"x^T A x\", \"wtr\": [\"x\"]}\n");
    let hint = a[0]["error"]["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("unknown key `wtr`") && hint.contains("wrt"), "{a:#?}");
}

#[test]
fn a_byte_order_mark_before_a_query_is_passed_over() {
    // Some editors start a file with U+FEFF; the first query was rejected as not JSON
    // (survey 24). Blank lines stay passed over, with no answer.
    let input = "\u{feff}{\"command\": \"grad\", \"expr\": \"x^T x\", \"wrt\": [\"x\"]}\n\n";
    for threads in ["1", "2"] {
        let got = answers(threads, input);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["derivatives"][0]["unicode"], "2x", "{got:?}");
    }
}
