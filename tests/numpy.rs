//! NumPy output: every printed expression, run by NumPy on the same inputs, gives the
//! value the evaluator gives. Needs `python3` with numpy (`.ci/run` installs it); when
//! it is missing the test fails under CI and is skipped with a note elsewhere.

use bracket::{eval, random_env, read, render_numpy, Dim, Draw};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const DECLS: &str = "A, B: matrix(n, n); M: matrix(n, m); S: symmetric(n); x, y: vector(n); \
                     v: vector(m); λ: scalar; T: tensor(n, n, n); f: elementwise";

const CASES: &[&str] = &[
    "x^T A x",
    // A chain ending in a vector applies to it, `A.T @ (A @ (B @ x))` (value checked
    // here, form in `a_chain_ending_in_a_vector_applies_to_it`).
    "A^T A B x",
    "M^T S^-1 M v",
    "A B",
    "A^T B",
    "x y^T",
    "x^T y",
    "A x",
    "x^T A",
    "(x^T A)^T",
    "A ⊙ B",
    "A ⊘ (1 + B ⊙ B)",
    "A ⊗ x",
    "kron(x, y)",
    "A · B",
    "dot(x, y)",
    "λ A",
    "A / λ",
    "A^-1",
    "A^-T",
    "A^3",
    "A^-2",
    "A.^2",
    "tr(A)",
    "det(A)",
    "|A|",
    "diag(x)",
    "diag(A)",
    "sum(A)",
    "||x||",
    "||A||^2",
    "||x||^4 + ||x||^3",
    "||A x||^2",
    "exp(A)",
    "ln(1 + A ⊙ A)",
    "ln(1 + exp(A))",
    "softplus(x) + ln(sigmoid(x)) + ln(1 - sigmoid(x))",
    "tanh(A)",
    "tanh'(A)",
    "sigmoid(x)",
    "sigmoid'(x)",
    "sigmoid''(A)",
    "sigmoid'(x) ⊘ sigmoid(-x)",
    "sqrt(1 + x ⊙ x)",
    "sin(A)",
    "cos'(A)",
    "abs(A)",
    "relu(A)",
    "relu'(A)",
    "f(A)",
    "f'(A)",
    "softmax(x)",
    "softmax(A)",
    "s^1(A)",
    "softmax^{2}(A)",
    "(T)_{312}",
    "T ·_1 x",
    "T ·_2 A",
    "A ·_1 T",
    "T ⊙_1 x",
    "A^{12} ⊙^{12} T",
    "T^{3 1} ⊙^{1 2} A",
    "einsum(\"ij,kj->ik\", A, B)",
    "einsum(\"iij->j\", T)",
    "A_1 [~A_2 B_1] B_2",
    "[a ~dX_1][~dX_2 b]",
    "1 x^T + A",
    "A 1",
    "1^T A",
    "11^T - tanh(A)^{⊙2}",
    "M v",
    "M^T x",
    "[~1 x] iota y",
    "x^T M v",
    "I + A",
    "(x y^T)_{21}",
    "T_{[12]3}",
    "tanh²(A)",
    // A vector spread over rows or columns is added by broadcasting (`M + v`, `M - x[:, None]`).
    "M + 1 v^T",
    "M - x 1^T",
    "-(1 v^T) + M",
    // A scalar factor of a dot product's operand multiplies the sum.
    "dot(λ A, B)",
    "dot(A, λ B)",
    // And of a matrix product's operand, the product.
    "(λ A) B",
    "x^T (λ A) y",
    "A (λ x)",
];

/// Derivatives whose printed NumPy runs too: (input, variable). A Jacobian whose bracket
/// form has a free index on a ones vector gave einsum an output index no operand had
/// (survey 12: the layer norm's Jacobian by X).
const DERIVATIVE_CASES: &[(&str, &str)] = &[
    ("X: matrix(N, d); diag(X 1) X", "X"),
    ("X: matrix(N, d); mu = X 1 / d; C = X - mu 1^T; v = (C .* C) 1 / d; diag(1 ./ sqrt(v + epsilon 1)) C", "X"),
    ("X: matrix(N, d); x: vector(d); sum(tanh(X x))", "X"),
    // A size read as a scalar is the size of a tensor with that dim (survey 20: bare `N`
    // and `n`, which Python does not know).
    ("X: matrix(N, p); w: vector(p); y: vector(N); mean((X w - y).^2)", "w"),
    ("X: matrix(N, n); m: vector(n); S: symmetric(n); N/2 logdet(S) + 1/2 tr((X - 1 m^T) S^-1 (X - 1 m^T)^T)", "m"),
];

fn python_has_numpy() -> bool {
    Command::new("python3").args(["-c", "import numpy"]).status().is_ok_and(|s| s.success())
}

#[test]
fn numpy_output_computes_the_same_values() {
    if !python_has_numpy() {
        assert!(std::env::var("CI").is_err(), "CI must provide python3 with numpy (.ci/run installs it)");
        eprintln!("skipped: python3 with numpy is not installed");
        return;
    }
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    let mut sources: Vec<(String, Option<&str>)> = CASES
        .iter()
        .map(|case| {
            let decls = if case.contains("dX") { "a, b: vector(n); X: matrix(n, n)" } else { DECLS };
            (format!("{decls}; {case}"), None)
        })
        .collect();
    sources.extend(DERIVATIVE_CASES.iter().map(|(text, wrt)| (text.to_string(), Some(*wrt))));
    let cases: Vec<&str> = CASES.iter().copied().chain(DERIVATIVE_CASES.iter().map(|(text, _)| *text)).collect();
    for (k, ((src, wrt), case)) in sources.iter().zip(&cases).enumerate() {
        let model = read(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
        let derivative = wrt.map(|w| bracket::jacobian(src, &[w]).expect("differentiates").remove(0).answer.expr);
        let e = derivative.as_ref().unwrap_or_else(|| model.main_expr().unwrap());
        let code = render_numpy(e, &model);
        // A point where the value is defined (`sqrt(v + ε1)` needs v + ε1 ≥ 0): the first
        // of a few draws.
        let (env, value) = (0..20)
            .map(|t| {
                let env =
                    random_env::<f64>(&model, Draw { seed: 100 + k as u64 + 1000 * t, ..Draw::default() }).unwrap();
                let value = eval(e, &env).unwrap();
                (env, value)
            })
            .find(|(_, value)| value.iter().all(|x| x.is_finite()))
            .unwrap_or_else(|| panic!("{case}: no draw where it is finite"));
        // Sizes held by a tensor are not passed: the code reads them from its shape.
        let held: Vec<String> = model
            .names
            .values()
            .flat_map(|info| info.shape.iter())
            .filter_map(|d| match d {
                bracket::Dim::Sym(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let inputs: serde_json::Map<String, Value> = env
            .values
            .iter()
            .filter(|(name, _)| !held.contains(name))
            .map(|(name, v)| {
                let flat: Vec<f64> = v.iter().copied().collect();
                let shape: Vec<usize> = v.shape().iter().copied().filter(|_| true).collect();
                (bracket::py_name(name), json!({"flat": flat, "shape": shape}))
            })
            .collect();
        jobs.push(json!({"code": code, "inputs": inputs}));
        expected.push((case, code, value.iter().copied().collect::<Vec<f64>>()));
    }
    let script = r#"
import json, sys
import numpy as np
def f(x): return 1/2 + x/(2 + x**2)/3
def f_prime(x): return (2 - x**2)/(2 + x**2)**2/3
out = []
for job in json.load(sys.stdin):
    env = {"np": np, "f": f, "f_prime": f_prime}
    for name, v in job["inputs"].items():
        a = np.array(v["flat"], dtype=float).reshape(v["shape"])
        env[name] = a.reshape([d for d in a.shape if d != 1]) if a.ndim == 2 and 1 in a.shape else a
    try:
        r = np.asarray(eval(job["code"], env), dtype=float)
        out.append(r.ravel().tolist())
    except Exception as e:
        out.append(str(e))
json.dump(out, sys.stdout)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(Value::Array(jobs).to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).expect("python printed JSON");
    let mut failures = Vec::new();
    for ((case, code, want), got) in expected.iter().zip(results) {
        let got: Option<Vec<f64>> = got.as_array().map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect());
        let ok = got.as_ref().is_some_and(|g| {
            g.len() == want.len()
                && g.iter()
                    .zip(want)
                    .all(|(a, b)| (a - b).abs() <= 1e-9 * (1.0 + b.abs()) || (a.is_nan() && b.is_nan()))
        });
        if !ok {
            failures.push(format!("{case}\n  numpy: {code}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// A result with `ι` dims keeps its size-one axes in NumPy (issue 21): `wᵀ` is a 1 × n
/// array, `M_1 ι M_2` is n × 1 × m, with the evaluator's values.
#[test]
fn iota_axes_are_kept_in_a_whole_result() {
    if !python_has_numpy() {
        assert!(std::env::var("CI").is_err(), "CI must provide python3 with numpy (.ci/run installs it)");
        return;
    }
    let cases = [
        "w: vector(n); iota w",
        "M: matrix(n, m); M_1 iota M_2",
        "x: vector(n); A: matrix(n, n); iota A_2 [~A_1 x]",
        "x: vector(n); x iota",
        "x: vector(n); x^T x",
        // A softmax over dims of size one only (`axis=()`, not the `(,)` Python rejects).
        "softmax(iota)",
        "x: vector(n); {softmax(iota)} x",
    ];
    for (k, src) in cases.iter().enumerate() {
        let model = read(src).unwrap();
        let e = model.main_expr().unwrap();
        let code = bracket::render(e, bracket::Format::Numpy);
        let env = random_env::<f64>(&model, Draw { seed: 7 + k as u64, ..Draw::default() }).unwrap();
        let value = eval(e, &env).unwrap();
        // The result's shape, each ι a size-one axis.
        let sizes: Vec<usize> = value.shape().to_vec();
        let iotas: Vec<usize> = e.shape.iter().enumerate().filter(|(_, d)| **d == Dim::Iota).map(|(k, _)| k).collect();
        let want_shape: Vec<usize> = if sizes.len() == e.shape.len() {
            sizes.clone()
        } else {
            let mut out = sizes.clone();
            for &at in &iotas {
                out.insert(at, 1);
            }
            out
        };
        assert!(iotas.iter().all(|&at| want_shape[at] == 1), "{src}: {want_shape:?}");
        let want: Vec<f64> = value.iter().copied().collect();
        let assign: String = env
            .values
            .iter()
            .map(|(n, v)| {
                let flat: Vec<f64> = v.iter().copied().collect();
                let shape: Vec<usize> = v.shape().iter().copied().filter(|&d| d != 1 || v.ndim() == 1).collect();
                format!("{} = np.array({flat:?}).reshape({shape:?})\n", bracket::py_name(n))
            })
            .collect();
        let script = format!(
            "import numpy as np, json\n{assign}r = np.asarray({code})\nprint(json.dumps([list(r.shape), r.ravel().tolist()]))"
        );
        let out = Command::new("python3").args(["-c", &script]).output().unwrap();
        let got: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{code}: {out:?}"));
        assert_eq!(got[0], json!(want_shape), "{src}: {code}");
        let values: Vec<f64> = got[1].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(values.len(), want.len(), "{src}");
        assert!(values.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-9 * (1.0 + b.abs())), "{src}: {code}");
    }
}

/// A Hessian-vector product never forms the Hessian: `Xᵀ(Xv)`, not `(XᵀX)v` (survey 29),
/// and a generated gradient solves with a matrix's inverse rather than multiplying it
/// into another first.
#[test]
fn a_chain_ending_in_a_vector_applies_to_it() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_bracket")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let ls = "X: matrix(N, p); y: vector(N); b: vector(p); ||y - X b||^2";
    assert_eq!(run(&["hvp", ls, "--wrt", "b", "--dir", "v", "--format", "numpy"]).trim(), "(2 * (X.T @ (X @ v)))");
    let gls = "X: matrix(N, p); y: vector(N); b: vector(p); O: symmetric(N); (y - X b)^T O^-1 (y - X b)";
    let module = run(&["codegen", gls, "--wrt", "b"]);
    assert!(module.contains("grad_b = 2 * (X.T @ (t_2 @ (-t_1)))"), "{module}");
}
