//! NumPy output: every printed expression, run by NumPy on the same inputs, gives the
//! value the evaluator gives. Needs `python3` with numpy (`.ci/run` installs it); when
//! it is missing the test fails under CI and is skipped with a note elsewhere.

use bracket::{eval, random_env, read, render_numpy, Draw};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const DECLS: &str = "A, B: matrix(n, n); M: matrix(n, m); S: symmetric(n); x, y: vector(n); \
                     v: vector(m); λ: scalar; T: tensor(n, n, n); f: elementwise";

const CASES: &[&str] = &[
    "x^T A x",
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
    "exp(A)",
    "ln(1 + A ⊙ A)",
    "tanh(A)",
    "tanh'(A)",
    "sigmoid(x)",
    "sigmoid'(x)",
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
    for (k, case) in CASES.iter().enumerate() {
        let decls = if case.contains("dX") { "a, b: vector(n); X: matrix(n, n)" } else { DECLS };
        let src = format!("{decls}; {case}");
        let model = read(&src).unwrap_or_else(|e| panic!("{}", e.render(&src)));
        let e = model.main_expr().unwrap();
        let code = render_numpy(e, &model);
        let env = random_env::<f64>(&model, Draw { seed: 100 + k as u64, ..Draw::default() }).unwrap();
        let value = eval(e, &env).unwrap();
        let inputs: serde_json::Map<String, Value> = env
            .values
            .iter()
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
def f(x): return x + x**2/2 + x**3/6
def f_prime(x): return 1 + x + x**2/2
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
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}
