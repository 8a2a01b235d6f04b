//! The command line as users and other tools call it: outputs, exit codes, limits.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

fn bracket(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bracket")).args(args).output().expect("the binary runs")
}

fn bracket_stdin(args: &[&str], input: &str) -> (Output, Duration) {
    common::run_with_stdin(args, input, Duration::from_secs(60))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim_end().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn simplify_prints_every_format() {
    let o = bracket(&["simplify", "x^T A x"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "xᵀAx");
    assert_eq!(stdout(&bracket(&["simplify", "xᵀAx", "--format", "ascii"])), "x^T A x");
    assert_eq!(stdout(&bracket(&["simplify", "AB", "--format", "bracket"])), "A_1[Ā_2 B_1]B_2");
    assert_eq!(stdout(&bracket(&["simplify", "x^T A x", "--format", "latex"])), "x^{\\top} A x");
    assert_eq!(stdout(&bracket(&["simplify", "x^T A x", "--format", "numpy"])), "((x @ A) @ x)");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&bracket(&["simplify", "x^T A x", "--format", "json"]))).unwrap();
    for key in ["unicode", "ascii", "latex", "bracket", "numpy", "shape", "input"] {
        assert!(json.get(key).is_some(), "json lacks {key}: {json}");
    }
    assert_eq!(json["shape"], "[]");
}

#[test]
fn a_leading_minus_is_an_expression_not_a_flag() {
    let o = bracket(&["simplify", "-X^-1 dX X^-1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "−X⁻¹dXX⁻¹");
}

#[test]
fn bad_input_exits_2_with_line_and_column() {
    let o = bracket(&["simplify", "A: matrix(n, m)\ntr(A)"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("input:2:4"), "{e}");
    assert!(e.contains("hint"), "{e}");
    assert!(e.contains('^'), "{e}");
}

#[test]
fn an_unknown_format_exits_2() {
    let o = bracket(&["simplify", "x", "--format", "html"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("html"));
}

#[test]
fn deep_and_huge_inputs_end_quickly_with_exit_2() {
    let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    let (o, t) = bracket_stdin(&["simplify", "-"], &deep);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("1:129"));
    assert!(t < Duration::from_secs(5));
    let huge = "x + ".repeat(262_144) + "x";
    let (o, t) = bracket_stdin(&["simplify", "-"], &huge);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("limit"), "{}", stderr(&o));
    assert!(t < Duration::from_secs(5));
}

#[test]
fn eval_is_exact_with_given_values() {
    let o = bracket(&["eval", "x^T A x", "--at", "x=[1, 2]", "--at", "A=[[1, 2], [3, 4]]"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "27");
    let o = bracket(&["eval", "A^-1", "--at", "A=[[2, 0], [0, 4]]"]);
    assert_eq!(stdout(&o), r#"[["1/2",0],[0,"1/4"]]"#);
    let o = bracket(&["eval", "softmax(x)", "--at", "x=[0, 0]"]);
    assert_eq!(stdout(&o), "[0.5,0.5]");
    // Finite where exp of an entry is not: the row's greatest entry is taken out first
    // (survey 29).
    let o = bracket(&["eval", "softmax(x)", "--at", "x=[1000, 0]"]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "[1.0,0.0]"), "{}", stderr(&o));
    // So are logarithms of sums of exponentials, taken in log space where exp overflows
    // or σ underflows, as generated code does: log-sum-exp, written out or row-wise,
    // softplus and log σ.
    for (f, at, want) in [
        ("logsumexp(x)", "x=[1000, 1000]", "1000.6931471805599"),
        ("X: matrix(2, 2); ln(exp(X) 1)", "X=[[1000, 1000], [-1000, 0]]", "[1000.6931471805599,0.0]"),
        ("ln(1 + exp(x))", "x=[1000, -1000]", "[1000.0,0.0]"),
        ("ln(sigmoid(x))", "x=[-1000, 0]", "[-1000.0,-0.6931471805599453]"),
    ] {
        let o = bracket(&["eval", f, "--at", at]);
        assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), want), "{f}: {}", stderr(&o));
    }
    // A matrix declared symmetric takes only a symmetric value.
    let o = bracket(&["eval", "S: symmetric(2); x^T S x", "--at", "S=[[1, 2], [3, 4]]"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("`S` is declared symmetric, but the value given has entry (1, 2) unlike (2, 1)"));
    // A logarithm of zero is still refused.
    let o = bracket(&["eval", "ln(x)", "--at", "x=[0, 1]"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
}

#[test]
fn eval_fills_in_random_values_and_says_so() {
    let o = bracket(&["eval", "tr(A)", "--seed", "3"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("random values (seed 3) for: A"));
    assert_eq!(stdout(&o), stdout(&bracket(&["eval", "tr(A)", "--seed", "3"])));
    // Sizes drawn at random are said too: `1ᵀ1` is a number only a random size decides.
    let o = bracket(&["eval", "1^T 1"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("random sizes (seed 1): 3 (a size nothing fixes)"), "{}", stderr(&o));
    let o = bracket(&["eval", "x: vector(n); x^T x", "--seed", "2"]);
    assert!(stderr(&o).contains("random sizes (seed 2): n = "), "{}", stderr(&o));
    // Nothing drawn, nothing said.
    for args in [["eval", "x: vector(3); x^T x"], ["eval", "2 + 3"]] {
        assert!(!stderr(&bracket(&args)).contains("random sizes"), "{args:?}");
    }
    assert!(!stderr(&bracket(&["eval", "x^T x", "--at", "x=[1,2]"])).contains("random"));
}

#[test]
fn eval_rejects_bad_values() {
    let o = bracket(&["eval", "x^T x", "--at", "x=[[1], [2, 3]]"]);
    assert_eq!(o.status.code(), Some(2));
    let o = bracket(&["eval", "x^T x", "--at", "y=[1]"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not occur"));
}

#[test]
fn batch_answers_every_line_and_survives_bad_ones() {
    let input = [
        r#"{"command": "grad", "expr": "x^T A x", "wrt": ["x"]}"#,
        "not json",
        r#"{"command": "simplify", "expr": "A +"}"#,
        r#"{"command": "eval", "expr": "x^T A x", "at": {"x": [1, 2], "A": [[1, 2], [3, 4]]}}"#,
        r#"{"command": "jacobian", "expr": "x x^T", "wrt": "x", "check": true}"#,
        r#"{"command": "nope", "expr": "x"}"#,
        r#"{"command": "grad", "expr": "h = A x; J = h^T h; grad J wrt x"}"#,
    ]
    .join("\n");
    let (o, _) = bracket_stdin(&["batch"], &input);
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0]["derivatives"][0]["unicode"], "(A + Aᵀ)x");
    assert!(lines[0]["elapsed_us"].is_u64());
    assert_eq!(lines[1]["error"]["code"], "E-usage");
    assert_eq!(lines[2]["error"]["code"], "E-syntax");
    assert_eq!(lines[2]["error"]["line"], 1);
    assert_eq!(lines[2]["error"]["column"], 4);
    assert_eq!(lines[3]["value"], 27);
    assert!(lines[4]["derivatives"][0]["check"]["relative_error"].as_f64().unwrap() < 1e-6);
    assert_eq!(lines[5]["error"]["code"], "E-usage");
    assert_eq!(lines[6]["equations"][1]["unicode"], "Aᵀ(∇_{h}J)");
}

#[test]
fn a_program_s_vec_layout_numpy_says_the_values_it_reads() {
    // `np.diag(H)` reads H: its statement comes with it, as in the tensor layout (survey 31).
    let o =
        bracket(&["hessian", "x: vector(n); H = exp(x); 1^T H", "--wrt", "x", "--layout", "vec", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["derivatives"][0]["numpy_definitions"], serde_json::json!(["H = np.exp(x)"]), "{v}");
    let o =
        bracket(&["hessian", "x: vector(n); H = exp(x); 1^T H", "--wrt", "x", "--layout", "vec", "--format", "numpy"]);
    assert!(stderr(&o).contains("H = np.exp(x)"), "{}", stderr(&o));
}

#[test]
fn an_hvp_direction_named_as_its_variable_is_refused_as_such() {
    // Not "`s` is named twice in --wrt", which the user never wrote (survey 30).
    let o = bracket(&["hvp", "m, s: vector(k); 1/2 sum(exp(s)) + m^T s", "--wrt", "s", "--dir", "s"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the direction `s` is the variable itself"), "{}", stderr(&o));
    // A direction the function reads is taken, with a note.
    let o = bracket(&["hvp", "x, v: vector(n); x^T x + v^T x", "--wrt", "x", "--dir", "v"]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "2v"));
    assert!(stderr(&o).contains("the direction `v` also occurs in the function"), "{}", stderr(&o));
}

#[test]
fn batch_refuses_what_it_would_answer_in_part() {
    // derive and hvp take one variable: several are refused, not cut to the first; a
    // name list with a number in it is refused, not read without it.
    let input = [
        r#"{"command": "derive", "expr": "a^T X Y b", "wrt": ["X", "Y"]}"#,
        r#"{"command": "hvp", "expr": "x^T A x", "wrt": ["x", "A"], "dir": "v"}"#,
        r#"{"command": "grad", "expr": "a^T X Y b", "wrt": ["X", 3]}"#,
        // A key of the wrong type was read as absent (survey 19): no check was made.
        r#"{"command": "grad", "expr": "x^T A x", "wrt": ["x"], "check": "yes"}"#,
        r#"{"command": "grad", "expr": "x^T A x", "wrt": ["x"], "timeout": -5}"#,
        r#"{"command": "hvp", "expr": "x^T A x", "wrt": ["x"], "dir": 3}"#,
        r#"{"command": "grad", "expr": "x^T A x", "wrt": ["x"], "layout": 2}"#,
        r#"{"command": "derive", "expr": "a^T X Y b", "wrt": ["Y"]}"#,
    ]
    .join("\n");
    let (o, _) = bracket_stdin(&["batch"], &input);
    let lines: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 8);
    for line in &lines[..7] {
        assert_eq!(line["error"]["code"], "E-usage", "{line}");
    }
    assert!(lines[0]["error"]["message"].as_str().unwrap().contains("one name"), "{}", lines[0]);
    assert!(lines[3]["error"]["message"].as_str().unwrap().contains("true or false"), "{}", lines[3]);
    assert_eq!(lines[7]["result"]["unicode"], "Xᵀabᵀ", "{}", lines[7]);
}

#[test]
fn the_timeout_always_holds() {
    // 1500 terms: about 1.5 s to answer, and far past 0.01 s.
    let big: String = (0..1500).map(|i| format!("a{i}^T X X^T b{i}")).collect::<Vec<_>>().join(" + ");
    let (o, t) = bracket_stdin(&["grad", "-", "--wrt", "X", "--timeout", "0.01"], &big);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no answer within"), "{}", stderr(&o));
    assert!(t < Duration::from_secs(5));
    // With time enough, the same input is answered.
    let (o, _) = bracket_stdin(&["grad", "-", "--wrt", "X"], &big);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn conditions_are_stated_not_assumed() {
    let o = bracket(&["grad", "det(X)", "--wrt", "X"]);
    assert_eq!(stdout(&o), "|X|X⁻ᵀ\nwhere X is invertible");
    let o = bracket(&["grad", "a^T (X ./ Y) b", "--wrt", "X", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["derivatives"][0]["conditions"][0], "Y has no zero entry");
}

/// An answer written by a defined name needs what the definition needs: `h = 1/(a + r)`
/// read as h is only defined where a + r ≠ 0, in the text, in JSON and in generated code.
#[test]
fn a_definition_the_answer_reads_brings_its_conditions() {
    let program = "z, z0: vector(d); a, b: scalar\nr = ||z - z0||\nh = 1/(a + r)\nb h";
    let o = bracket(&["hessian", program, "--wrt", "z"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("where r ≠ 0, a + r ≠ 0"), "{}", stdout(&o));
    let o = bracket(&["grad", &format!("{program}\nJ = b h\ngrad J wrt z"), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let by_r = v["equations"].as_array().unwrap().iter().find(|e| e["target"] == "r").unwrap();
    assert_eq!(by_r["unicode"], "−h²b");
    assert_eq!(by_r["conditions"], serde_json::json!(["a + r ≠ 0"]));
    let o = bracket(&["codegen", &format!("{program}\nJ = b h\ngrad J wrt z")]);
    assert!(stdout(&o).contains("Conditions: a + r ≠ 0, r ≠ 0"), "{}", stdout(&o));
    // A condition the answer states strictly covers the definition's weaker one.
    let clip = "Z1, Z2: matrix(N, d); U = diag(1 ./ sqrt((Z1 .* Z1) 1)) Z1; \
                V = diag(1 ./ sqrt((Z2 .* Z2) 1)) Z2; -1/N tr(logsoftmax(U V^T / tau))";
    let o = bracket(&["grad", clip, "--wrt", "Z1"]);
    let text = stdout(&o);
    let needs = text.lines().last().unwrap_or("");
    assert_eq!(needs, "where τ ≠ 0, (Z1 ⊙ Z1)1 has positive entries, (Z2 ⊙ Z2)1 has no zero entry", "{text}");
}

/// Labels are written in the output's notation: `\nabla_{x}` in LaTeX, `nabla_{x}` in ASCII
/// (as the answers themselves write ∇), `∇_x` in Unicode.
#[test]
fn labels_follow_the_format() {
    let out = |format: &str| {
        let o = bracket(&["grad", "x^T A x + b^T x", "--wrt", "x", "--wrt", "b", "--format", format]);
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(out("latex"), "\\nabla_{x} = \\left(A + A^{\\top}\\right) x + b\n\\nabla_{b} = x\n");
    assert_eq!(out("ascii"), "nabla_{x} = (A + A^T) x + b\nnabla_{b} = x\n");
    assert_eq!(out("unicode"), "∇_x = (A + Aᵀ)x + b\n∇_b = x\n");
    let program = "W: matrix(k, d); x: vector(d); y: vector(k)\nz = W x\nJ = 1/2 ||z - y||^2\ngrad J wrt W";
    let o = bracket(&["grad", program, "--format", "latex"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("\\nabla_{z}J = z - y\n\\nabla_{W}J = "), "{text}");
    assert!(text.is_ascii(), "{text}");
}

#[test]
fn a_differential_states_what_it_needs() {
    let o = bracket(&["d", "X, A: matrix(n); ln det(X) + tr(A X)"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "(X⁻¹ + A)ᵀ · dX + Xᵀ · dA\nwhere X is invertible");
    // And nothing where nothing is needed.
    assert_eq!(stdout(&bracket(&["d", "x: vector(n); x^T x"])), "2x · dx");
}

/// The number a Python script prints, given `code` on its standard input.
fn python_number(script: &str, code: &str) -> f64 {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(code.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{code}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// `bracket hvp PROGRAM --format numpy` is Python that runs: the forward and backward
/// statements, then each tangent under its Python name, equal to central differences of
/// the gradient it prints along the direction.
#[test]
fn a_program_hvp_in_numpy_runs_and_matches_differences_of_its_gradient() {
    if !common::has_numpy() {
        return;
    }
    let program = "x1, x2: vector(d); W, V: matrix(d, d); s = tanh(W x1); t = V x1; z2 = x2 .* exp(s) + t; \
                   J = 1/2 ||x1||^2 + 1/2 ||z2||^2 - 1^T s; grad J wrt W, V";
    let o = bracket(&["hvp", program, "--format", "numpy"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let code = stdout(&o);
    assert!(
        code.lines().all(|l| l.starts_with('#') || l.split(" = ").next().is_some_and(|lhs| lhs.is_ascii())),
        "{code}"
    );
    let script = r#"
import sys
import numpy as np
code = sys.stdin.read()
rng = np.random.default_rng(0)
d = 4
base = dict(x1=rng.normal(size=d), x2=rng.normal(size=d), W=rng.normal(size=(d, d)), V=rng.normal(size=(d, d)))
step = dict(W=rng.normal(size=(d, d)), V=rng.normal(size=(d, d)))
def run(t):
    env = dict(base, np=np, dW=step["W"], dV=step["V"])
    env["W"] = base["W"] + t * step["W"]
    env["V"] = base["V"] + t * step["V"]
    exec(code, env)
    return env
h = 1e-5
at, up, down = run(0), run(h), run(-h)
worst = max(np.max(np.abs((up[k] - down[k]) / (2 * h) - at["d" + k])) for k in ["grad_WJ", "grad_VJ"])
print(worst)
"#;
    let worst = python_number(script, &code);
    assert!(worst < 1e-6, "{worst}\n{code}");
}

/// `bracket grad PROGRAM --format numpy` is Python that runs as printed: the helpers its
/// statements call (`softmax(S, axis=(1,))`) are defined first (survey 10: a NameError).
#[test]
fn a_program_in_numpy_defines_the_helpers_it_calls() {
    if !common::has_numpy() {
        return;
    }
    let program = "X: matrix(n, d); Wq, Wk: matrix(d, p); Wv: matrix(d, d); Y: matrix(n, d); \
                   S = X Wq Wk^T X^T / sqrt(p); A = softmax(S); O = A X Wv + X; J = 1/2 ||O - Y||^2; \
                   grad J wrt Wq, Wk, Wv";
    let o = bracket(&["grad", program, "--format", "numpy"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let code = stdout(&o);
    assert!(code.starts_with("def softmax("), "{code}");
    let script = r#"
import sys
import numpy as np
code = sys.stdin.read()
rng = np.random.default_rng(0)
n, d, p = 5, 3, 2
base = dict(X=rng.normal(size=(n, d)), Wq=rng.normal(size=(d, p)), Wk=rng.normal(size=(d, p)),
            Wv=rng.normal(size=(d, d)), Y=rng.normal(size=(n, d)), p=p)
def run(**change):
    env = dict(base, np=np, **change)
    exec(code, env)
    return env
at = run()
h, worst = 1e-6, 0.0
for name in ["Wq", "Wk", "Wv"]:
    for ix in np.ndindex(base[name].shape):
        e = np.zeros_like(base[name]); e[ix] = h
        numeric = (run(**{name: base[name] + e})["J"] - run(**{name: base[name] - e})["J"]) / (2 * h)
        worst = max(worst, abs(numeric - at["grad_" + name + "J"][ix]))
print(worst)
"#;
    let worst = python_number(script, &code);
    assert!(worst < 1e-6, "{worst}\n{code}");
}

/// `bracket hessian PROGRAM --format numpy` prints the Hessian as one Python expression,
/// and on stderr the statements that compute the defined values it reads by name: run
/// together, it equals central differences of the logistic gradient Xᵀ(σ(Xw) − y).
#[test]
fn a_program_hessian_in_numpy_defines_what_it_reads() {
    if !common::has_numpy() {
        return;
    }
    let program = "X: matrix(N, d); w: vector(d); y: vector(N); z = X w; p = sigmoid(z); \
                   J = -y^T ln(p) - (1 - y)^T ln(1 - p); grad J wrt w";
    let o = bracket(&["hessian", program, "--format", "numpy"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    let notes = stderr(&o);
    let definitions: Vec<&str> = notes.lines().filter(|l| l.starts_with("    ")).map(|l| l.trim_start()).collect();
    assert!(definitions[0].starts_with("z = "), "{notes}");
    let code = format!("{}\n{}", definitions.join("\n"), stdout(&o));
    let script = r#"
import sys
import numpy as np
lines = [l for l in sys.stdin.read().splitlines() if l and not l.startswith('#')]
rng = np.random.default_rng(0)
X, y, w = rng.normal(size=(6, 3)), rng.uniform(size=6), rng.normal(size=3)
env = dict(np=np, X=X, y=y, w=w)
exec("\n".join(lines[:-1]), env)
H = eval(lines[-1], env)
grad = lambda w: X.T @ (1 / (1 + np.exp(-X @ w)) - y)
h = 1e-6
numeric = np.array([(grad(w + h * e) - grad(w - h * e)) / (2 * h) for e in np.eye(3)]).T
print(np.max(np.abs(H - numeric)))
"#;
    let worst = python_number(script, &code);
    assert!(worst < 1e-6, "{worst}\n{code}");
}

#[test]
fn latex_writes_the_digits_that_end_a_name_as_its_subscript() {
    // The paper's W_1 and ∇_{Z_2}J, in the answer, in the labels and in the seed names.
    let program = "N: scalar\nZ2 = X W1\nJ = 1/(2N) (Z2 - Y) . (Z2 - Y)\ngrad J wrt W1";
    let o = bracket(&["grad", program, "--format", "latex"]);
    assert_eq!(
        stdout(&o),
        "\\nabla_{Z_2}J = \\frac{Z_2 - Y}{N}\n\\nabla_{W_1}J = X^{\\top} \\left(\\nabla_{Z_2}J\\right)"
    );
    let o = bracket(&["grad", "x12^T A x12", "--wrt", "x12", "--format", "latex"]);
    assert!(stdout(&o).contains("x_{12}"), "{}", stdout(&o));
    // A name already subscripted stays as written, and plain text keeps `W1`.
    let o = bracket(&["grad", "w_2^T W_1 x", "--wrt", "W_1", "--format", "latex"]);
    assert!(stdout(&o).contains("w_2 x^{\\top}"), "{}", stdout(&o));
    let o = bracket(&["grad", program]);
    assert!(stdout(&o).contains("∇_{W1}J"), "{}", stdout(&o));
}

#[test]
fn a_mixed_block_s_ascii_label_has_each_subscript_braced() {
    // `∇_H∇_W` printed as `nabla_{Hnabla}_{W}`: the subscript ran on into the second
    // `nabla` once `∇` was spelt out.
    let nmf = "W: matrix(m,r); H: matrix(r,n); X: matrix(m,n); 1/2 ||W H - X||^2";
    for (format, label) in [("ascii", "nabla_{H}nabla_{W} = "), ("latex", "\\nabla_{H}\\nabla_{W} = ")] {
        let o = bracket(&["hessian", nmf, "--wrt", "W", "--wrt", "H", "--layout", "vec", "--format", format]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).lines().any(|l| l.starts_with(label)), "{}", stdout(&o));
    }
}

#[test]
fn a_misnamed_variable_and_a_batch_line_without_wrt_get_hints_that_fit() {
    // `--wrt W` where the function has w: the one that differs in case is named.
    let o = bracket(&["grad", "X: matrix(N, d); w: vector(d); 1/2 ||X w||^2", "--wrt", "W"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `w`?"), "{}", stderr(&o));
    // Else the variables are listed.
    let o = bracket(&["grad", "X: matrix(N, d); w: vector(d); 1/2 ||X w||^2", "--wrt", "v"]);
    assert!(stderr(&o).contains("`X`, `w`"), "{}", stderr(&o));
    // A batch line's hint names its key, not the CLI's flag (survey 11).
    let (o, _) = bracket_stdin(&["batch"], "{\"command\": \"hessian\", \"expr\": \"x^T A x\"}\n");
    let out = stdout(&o);
    assert!(out.contains(r#"\"wrt\": [\"x\"]"#) && !out.contains("--wrt"), "{out}");
}

#[test]
fn a_json_newline_pasted_as_two_characters_is_named() {
    let o = bracket(&["grad", "x: vector(n)\\nJ = sum(x)\\ngrad J wrt x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not a line break"), "{}", stderr(&o));
}

/// Each text format states an answer's conditions in its own syntax: ASCII output is
/// ASCII to the last byte, LaTeX's `where` line is text with inline math, and NumPy
/// output names each result with a Python name.
#[test]
fn conditions_and_labels_come_in_the_output_format() {
    let query = ["grad", "x^T S x / (x^T x) + ln(det(X)) + sum(sqrt(X w))", "--wrt", "x", "--wrt", "X"];
    let with = |format: &str| {
        let mut args = query.to_vec();
        args.extend(["--format", format]);
        let o = bracket(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let ascii = with("ascii");
    assert!(ascii.is_ascii(), "{ascii}");
    assert!(ascii.contains("where x^T x != 0"), "{ascii}");
    assert!(ascii.contains("where X is invertible, X w has positive entries"), "{ascii}");
    let latex = with("latex");
    assert!(latex.contains("where $x^{\\top} x \\neq 0$"), "{latex}");
    assert!(latex.contains("where $X$ is invertible, $X w$ has positive entries"), "{latex}");
    let numpy = with("numpy");
    assert!(numpy.is_ascii(), "{numpy}");
    for line in numpy.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(" = ").next().unwrap();
        assert!(name == "grad_x" || name == "grad_X", "{line}");
    }
    assert!(numpy.contains("# where x^T x != 0"), "{numpy}");
    // The Unicode form, as before, and JSON carries all three.
    assert!(with("unicode").contains("where xᵀx ≠ 0"));
    let json: serde_json::Value = serde_json::from_str(&with("json")).unwrap();
    let first = &json["derivatives"][0];
    assert_eq!(first["conditions"][0], "xᵀx ≠ 0", "{json}");
    assert_eq!(first["conditions_ascii"][0], "x^T x != 0", "{json}");
    assert_eq!(first["conditions_latex"][0], "$x^{\\top} x \\neq 0$", "{json}");
}

/// A Hessian's blocks in NumPy output are Python assignments.
#[test]
fn numpy_hessian_blocks_have_python_names() {
    let o = bracket(&["hessian", "x^T A x + rho a^T y", "--wrt", "x", "--wrt", "rho", "--format", "numpy"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let names: Vec<String> = stdout(&o).lines().map(|l| l.split(" = ").next().unwrap().to_string()).collect();
    assert_eq!(names, ["hess_x", "hess_rho_x", "hess_x_rho", "hess_rho"], "{}", stdout(&o));
}

/// `--format ascii` output is ASCII to the last byte: labels with Greek names, Hessian
/// blocks, a program's equations and tangents, and a derivation's reasons.
#[test]
fn ascii_output_is_ascii_everywhere() {
    let program = "x: vector(n); tau: scalar; J = exp(tau) x^T x; grad J wrt tau, x";
    let queries: Vec<Vec<&str>> = vec![
        vec!["grad", "x: vector(n); tau: scalar; exp(tau) x^T x", "--wrt", "tau", "--wrt", "x"],
        vec!["hessian", "x: vector(n); tau: scalar; exp(tau) x^T x", "--wrt", "tau", "--wrt", "x"],
        vec!["grad", program],
        vec!["hvp", program],
        vec!["derive", "S: symmetric(n); ln det(S)", "--wrt", "S"],
        vec!["derive", "tau: scalar; exp(tau) x^T x", "--wrt", "tau"],
    ];
    for mut args in queries {
        args.extend(["--format", "ascii"]);
        let o = bracket(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.is_ascii(), "{args:?}:\n{out}");
        assert!(out.contains("tau") || out.contains("nabla_S"), "{args:?}:\n{out}");
    }
}

/// A program reads a name as `grad` reads it in a formula (`N` a scalar, with a note),
/// and a loss never defined is an error, in `grad` and `codegen` alike.
#[test]
fn programs_and_modules_read_names_as_gradients_do() {
    let program = "S: symmetric(d); J = N/2 ln det(S) + N/2 tr(S^-1)\ngrad J wrt S";
    let o = bracket(&["grad", program, "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("(1/2)N(S⁻¹ − S⁻²)"), "{}", stdout(&o));
    assert!(stderr(&o).contains("`N` is read as a scalar"), "{}", stderr(&o));
    let o = bracket(&["codegen", "S: symmetric(d); N/2 ln det(S) + N/2 tr(S^-1)", "--wrt", "S"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("N: scalar"), "{}", stdout(&o));
    assert!(stderr(&o).contains("`N` is read as a scalar"), "{}", stderr(&o));
    let undefined = "S: symmetric(d); x: vector(d); 1/2 ln det(S) + 1/2 x^T S^-1 x\ngrad J wrt S";
    for command in ["grad", "codegen"] {
        let o = bracket(&[command, undefined]);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", stdout(&o));
        assert!(stderr(&o).contains("the loss `J` is never defined"), "{command}: {}", stderr(&o));
    }
}

#[test]
fn numpy_output_says_how_the_defined_values_it_reads_are_computed() {
    // A gradient folded back into a defined name reads K, which the expression alone
    // does not define (survey 14): stderr gives its statement, stdout stays one
    // expression. A gradient that reads no defined value gets no note.
    let gp = "X: matrix(N,d); y: vector(N); s: scalar; K = X X^T + s I; 1/2 y^T K^-1 y + 1/2 logdet(K)";
    let o = bracket(&["grad", gp, "--wrt", "X", "--format", "numpy"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("np.linalg.inv(K)"), "{}", stdout(&o));
    assert!(stderr(&o).contains("K = ((X @ X.T) + (s * np.eye(X.shape[0])))"), "{}", stderr(&o));
    let ls = "X: matrix(N,d); w: vector(d); y: vector(N); z = X w; 1/2 ||z - y||^2";
    let o = bracket(&["grad", ls, "--wrt", "w", "--format", "numpy"]);
    assert_eq!(stdout(&o).trim(), "(X.T @ (z - y))");
    assert!(stderr(&o).contains("z = (X @ w)"), "{}", stderr(&o));
    let o = bracket(&["grad", "X: matrix(N,d); w: vector(d); z = X w; sum(z)", "--wrt", "w", "--format", "numpy"]);
    assert!(!stderr(&o).contains("note:"), "{}", stderr(&o));
    // JSON carries the statements beside the expression, those the definition reads too.
    let chained = "X: matrix(N,d); y: vector(N); s: scalar; G = X X^T; K = G + s I; 1/2 y^T K^-1 y + 1/2 logdet(K)";
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&bracket(&["grad", chained, "--wrt", "X", "--format", "json"]))).unwrap();
    let d = &json["derivatives"][0];
    assert!(d["numpy"].as_str().unwrap().contains("np.linalg.inv(K)"), "{d}");
    assert_eq!(d["numpy_definitions"], serde_json::json!(["G = (X @ X.T)", "K = (G + (s * np.eye(X.shape[0])))"]));
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&bracket(&["grad", "x^T A x", "--wrt", "x", "--format", "json"]))).unwrap();
    assert!(json["derivatives"][0].get("numpy_definitions").is_none(), "{json}");
}

#[test]
fn an_invisible_character_is_named_and_its_caret_shows() {
    // A control character, a combining accent and a direction mark were printed raw,
    // with a blank caret line (survey 19).
    for (input, code) in [
        ("x: vector(n); sum(exp(x\u{1}))", "U+0001"),
        ("x\u{303}: vector(n); sum(x)", "U+0303"),
        ("x: vector(n); sum(exp(\u{202E}x))", "U+202E"),
    ] {
        let out = bracket(&["simplify", input]);
        assert_eq!(out.status.code(), Some(2));
        let text = stderr(&out);
        assert!(text.contains(&format!("unexpected invisible character {code}")), "{text}");
        assert!(!text.chars().any(|c| bracket::invisible(c)), "{text:?}");
        assert!(text.lines().any(|l| l.trim_start_matches([' ', '│']).starts_with('^')), "{text}");
    }
}

/// `--timeout` is a number of seconds from 0.001 to a day: `NaN` panicked (exit 101), and
/// a negative one was taken.
#[test]
fn a_bad_timeout_is_a_usage_error() {
    for t in ["NaN", "inf", "0", "-1", "1e-300", "soon"] {
        let o = bracket(&["simplify", "x", &format!("--timeout={t}")]);
        assert_eq!(o.status.code(), Some(2), "{t}: {}", stderr(&o));
        assert!(stderr(&o).contains("is not a number of seconds"), "{t}: {}", stderr(&o));
    }
}

/// Input that is not UTF-8 is an error that points at the first bad byte; in a batch, that
/// line is answered with an error and the batch goes on.
#[test]
fn input_that_is_not_utf8_is_located() {
    let kill = Duration::from_secs(60);
    let (o, _) = common::run_with_stdin(&["simplify", "-"], b"x^T A \xff x", kill);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not UTF-8: byte 0xFF") && stderr(&o).contains("input:1:7"), "{}", stderr(&o));
    let lines = b"{\"command\": \"simplify\", \"expr\": \"x \xff\"}\n{\"command\": \"simplify\", \"expr\": \"y\"}\n";
    let (o, _) = common::run_with_stdin(&["batch"], &lines[..], kill);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let answers: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["error"]["column"], 3);
    assert_eq!(answers[1]["unicode"], "y");
}

/// A value that is not a finite number is an error (it was `null`, exit 0); values may be
/// written `"1/2"` or `1e-3` in floating-point evaluation too.
#[test]
fn eval_never_answers_null() {
    for (expr, at) in [("a: scalar; 1/a", "a=0"), ("a: scalar; ln(a)", "a=0"), ("sqrt(x)", "x=[2,-1]")] {
        let o = bracket(&["eval", expr, "--at", at]);
        assert_eq!(o.status.code(), Some(2), "{expr}: {}", stdout(&o));
        assert!(stderr(&o).contains("is not a finite number"), "{expr}: {}", stderr(&o));
    }
    let o = bracket(&["eval", "exp(x)", "--at", r#"x=["1/2", 1e-3]"#]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Vec<f64> = serde_json::from_str(&stdout(&o)).unwrap();
    assert!((v[0] - 0.5f64.exp()).abs() < 1e-12 && (v[1] - 1e-3f64.exp()).abs() < 1e-12);
}

/// Exact numbers and exact linear algebra have limits of their own, far inside the
/// timeout: a 26-byte power tower asked for a number of a billion bits, and a 300 × 300
/// determinant in exact rationals ran until the timeout.
#[test]
fn exact_work_is_bounded() {
    let o = bracket(&["simplify", "((((3^64)^64)^64)^64)^64", "--timeout", "30"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = bracket(&["eval", "X: matrix(100, 100); ln(det(X X^T / 100))", "--timeout", "30"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = bracket(&["eval", "A: matrix(1024, 1024); sum(A A)", "--timeout", "30"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("too large to evaluate"), "{}", stderr(&o));
}

/// Readings a user may not have meant are said (survey 26): `sigma (x)`, with a space, is
/// the name σ times x; `x_1` beside a bare x is x with its dim named.
#[test]
fn readings_that_may_not_be_meant_are_noted() {
    let o = bracket(&["grad", "sum(sigma (x))", "--wrt", "x"]);
    assert!(stderr(&o).contains("is read as the name σ times (…)"), "{}", stderr(&o));
    let o = bracket(&["grad", "sum(sigma(x))", "--wrt", "x"]);
    assert!(!stderr(&o).contains("note"), "{}", stderr(&o));
    let o = bracket(&["simplify", "x + x_1"]);
    assert_eq!(stdout(&o), "2x");
    assert!(stderr(&o).contains("`x_1` is read as x with its dims named 1"), "{}", stderr(&o));
    // `tanh^-1(x)` as `tanh^{-1}(x)` and `tanh⁻¹(x)`: the reciprocal, said so (it was
    // read as the letters t a n h).
    let o = bracket(&["simplify", "tanh^-1(x)", "--format", "ascii"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("is read as the reciprocal"), "{}", stderr(&o));
}

/// A name or size given twice is refused, not answered twice or taken last (survey 26);
/// a batch line has its own sizes, and a misspelt key is noted.
#[test]
fn duplicates_are_refused_and_batch_lines_have_sizes() {
    let refused = |args: &[&str], what: &str| {
        let o = bracket(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
        assert!(stderr(&o).contains(what), "{args:?}: {}", stderr(&o));
    };
    refused(&["grad", "x^T A x", "--wrt", "x", "--wrt", "x"], "`x` is named twice in --wrt");
    refused(&["eval", "x", "--at", "x=[1,2]", "--at", "x=[3,4]"], "`x` is given two values by --at");
    refused(&["grad", "x^T A x", "--wrt", "x", "--sizes", "n=1,n=3"], "`n` is given twice");
    refused(&["batch", "--sizes", "n=3"], "`--sizes` does not apply to batch");
    let line = r#"{"command": "grad", "expr": "a: vector(n); X: matrix(n, m); a^T X X^T a", "wrt": ["X"], "sizes": "n=10,m=1000", "chek": true}"#;
    let (o, _) = bracket_stdin(&["batch"], line);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["derivatives"][0]["unicode"], "2a(aᵀX)");
    assert!(v["notes"][0].as_str().unwrap().starts_with("unknown key `chek` passed over"), "{v}");
}

/// An answer holds where its input is defined, though simplifying cancelled what said so
/// (survey 26): `a/a` is 1 where a ≠ 0, and ∇_X tr(AA⁻¹X) is I where A is invertible.
#[test]
fn cancelled_conditions_are_still_stated() {
    let o = bracket(&["simplify", "a: scalar; a/a", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["conditions"], serde_json::json!(["a ≠ 0"]));
    let o = bracket(&["grad", "A: matrix(n); tr(A A^-1 X)", "--wrt", "X"]);
    assert_eq!(stdout(&o), "I_n\nwhere A is invertible");
}

/// The source line of an error shows a bar as written (it was `X¿`, survey 25).
#[test]
fn an_error_shows_a_barred_name_as_written() {
    let o = bracket(&["simplify", "X_2[X\u{304}_1 y] + + Q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("X_2[X\u{304}_1 y] + + Q"), "{}", stderr(&o));
}

/// eval names the values it drew that the value reads: `dx` for xᵀdx, and not x for `dx`
/// given (it said x, survey 26).
#[test]
fn eval_names_the_values_it_drew() {
    let o = bracket(&["eval", "x^T dx"]);
    assert!(stderr(&o).contains("random values (seed 1) for: x, dx"), "{}", stderr(&o));
    let o = bracket(&["eval", "dx", "--at", "dx=[1,2]"]);
    assert!(!stderr(&o).contains("random values"), "{}", stderr(&o));
}

#[test]
fn a_hessian_by_a_matrix_names_the_vec_layout() {
    // Survey 28: a matrix's Hessian prints with tensor operators, which read as bracket
    // notation to a user who expects a matrix; the note names `--layout vec`.
    let by_matrix = bracket(&["hessian", "X: matrix(N, d); W: matrix(d, h); sum(tanh(X W))", "--wrt", "W"]);
    assert!(by_matrix.status.success(), "{}", stderr(&by_matrix));
    assert!(stderr(&by_matrix).contains("--layout vec"), "{}", stderr(&by_matrix));
    for args in [
        ["hessian", "x: vector(n); A: matrix(n, n); x^T A x", "--wrt", "x", "--layout", "tensor"],
        ["hessian", "X: matrix(N, d); W: matrix(d, h); sum(tanh(X W))", "--wrt", "W", "--layout", "vec"],
    ] {
        let run = bracket(&args);
        assert!(run.status.success() && !stderr(&run).contains("note"), "{args:?}: {}", stderr(&run));
    }
}
