//! Generated Python modules (`bracket codegen`): every worked example's module compiles,
//! passes `ruff check` and its own `check_gradient()`; shared work is computed once; a
//! wrong gradient makes the generated check fail; the JAX target gives the same values.
//! The cookbook's 197 scalar cases are checked the same way in tests/cookbook.rs.
//! Needs python3 with numpy, ruff and jax (scripts/setup.sh installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

fn python_has(module: &str) -> bool {
    Command::new("python3").args(["-c", &format!("import {module}")]).status().is_ok_and(|s| s.success())
}

/// True when the tests can run; under CI a missing tool is a failure.
fn ready(modules: &[&str]) -> bool {
    let missing: Vec<&&str> = modules.iter().filter(|m| !python_has(m)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var("CI").is_err(), "CI must provide python3 with {missing:?} (scripts/setup.sh installs them)");
    eprintln!("skipped: python3 lacks {missing:?}");
    false
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bracket-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn bracket(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bracket")).args(args).output().unwrap()
}

/// `bracket codegen ARGS --out DIR/STEM.py`, which must succeed; the module's path.
fn module_in(dir: &Path, stem: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(format!("{stem}.py"));
    let mut all = vec!["codegen"];
    all.extend_from_slice(args);
    all.extend(["--out", path.to_str().unwrap()]);
    let out = bracket(&all);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    path
}

fn run_python(dir: &Path, code: &str) -> (bool, String) {
    let out = Command::new("python3").current_dir(dir).args(["-c", code]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The line of `code` that starts with `start` (after its indentation), trimmed; empty
/// where none does.
fn line_of(code: &str, start: &str) -> String {
    code.lines().map(str::trim).find(|l| l.starts_with(start)).unwrap_or_default().to_string()
}

/// Runs `code` in `dir`, failing with its output and the module at `path` unless it
/// passes; then removes `dir`.
fn passes_in_python(dir: &Path, path: &Path, code: &str) {
    let (ok, text) = run_python(dir, code);
    assert!(ok, "{text}\n{}", std::fs::read_to_string(path).unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

/// The worked examples of derivatives and programs: (file stem, input).
fn examples() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for section in ["derivatives", "programs"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new("examples").join(section))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for f in files {
            let text: String = std::fs::read_to_string(&f)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n");
            out.push((f.file_stem().unwrap().to_string_lossy().to_string(), text));
        }
    }
    out
}

#[test]
fn every_worked_example_module_compiles_lints_and_checks() {
    if !ready(&["numpy", "ruff"]) {
        return;
    }
    let dir = scratch("examples");
    let mut written = Vec::new();
    for (stem, text) in examples() {
        let path = dir.join(format!("example_{stem}.py"));
        let out = bracket(&["codegen", &text, "--with-check", "--out", path.to_str().unwrap()]);
        // A vector or matrix function's module returns its Jacobians.
        assert!(out.status.success(), "{stem}: {}", String::from_utf8_lossy(&out.stderr));
        written.push(stem);
    }
    assert!(written.len() >= 20, "only {} example modules", written.len());
    let (ok, text) = run_python(&dir, "import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-m', 'ruff', 'check', '--quiet', '--no-cache', '.']))");
    assert!(ok, "ruff check:\n{text}");
    for stem in &written {
        let src = std::fs::read_to_string(dir.join(format!("example_{stem}.py"))).unwrap();
        // Declared element-wise functions are the caller's to set: f = x + x²/2.
        let setup = if src.contains("def f_prime(") {
            "m.f = lambda x: x + x**2 / 2; m.f_prime = lambda x: 1 + x; "
        } else {
            ""
        };
        let code = format!("import example_{stem} as m; {setup}m.check_gradient(); print('ok')");
        let (ok, text) = run_python(&dir, &code);
        assert!(ok, "{stem}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shared_work_is_computed_once() {
    let code = String::from_utf8(
        bracket(&["codegen", "A: matrix(p, n); X: matrix(n, n); B: matrix(n, p); tr(A X^-1 B)", "--wrt", "X"]).stdout,
    )
    .unwrap();
    let inverses = code.matches("np.linalg.inv(").count() + code.matches("np.linalg.solve(").count();
    assert_eq!(inverses, 1, "{code}");
    let program = examples().into_iter().find(|(s, _)| s.contains("two_layer_mlp")).unwrap().1;
    let code = String::from_utf8(bracket(&["codegen", &program]).stdout).unwrap();
    assert_eq!(code.matches("np.tanh(").count(), 2, "each layer's tanh once:\n{code}");
    // A gradient by several variables shares the forward value's work.
    let code = String::from_utf8(
        bracket(&[
            "codegen",
            "X: matrix(N, p); w: vector(p); y: vector(N); ||tanh(X w) - y||^2",
            "--wrt",
            "w",
            "--wrt",
            "y",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(code.matches("np.tanh(").count(), 1, "{code}");
    // Xw under the stable log-sigmoids and under σ(Xw) in the gradient: once.
    let logistic = "X: matrix(N, p); y: vector(N); w: vector(p); λ: scalar; \
                    -1/N (y^T ln(sigmoid(X w)) + (1 - y)^T ln(1 - sigmoid(X w))) + λ/2 w^T w";
    let code = String::from_utf8(bracket(&["codegen", logistic, "--wrt", "w"]).stdout).unwrap();
    assert_eq!(code.matches("X @ w").count(), 1, "{code}");
    // M⁻² beside M⁻¹ is the inverse squared, not a second inversion.
    let gp = "K: symmetric(N); y: vector(N); s: scalar; 1/2 y^T (K + s I)^-1 y + 1/2 ln det(K + s I)";
    let code = String::from_utf8(bracket(&["codegen", gp, "--wrt", "K", "--wrt", "s"]).stdout).unwrap();
    assert!(!code.contains("matrix_power") && code.matches("np.linalg.inv(").count() == 1, "{code}");
    // And its log-determinant calls slogdet once.
    assert_eq!(code.matches("slogdet(").count(), 1, "{code}");
}

#[test]
fn solve_replaces_an_inverse_times_a_vector() {
    let input = "x, b: vector(n); A: matrix(n, n); b^T A^-1 x";
    let code = String::from_utf8(bracket(&["codegen", input, "--wrt", "x"]).stdout).unwrap();
    assert!(code.contains("np.linalg.solve(") || code.contains("np.linalg.inv("), "{code}");
    let plain = String::from_utf8(bracket(&["codegen", input, "--wrt", "x", "--no-solve"]).stdout).unwrap();
    assert!(!plain.contains("np.linalg.solve("), "{plain}");
    // A row or a matrix times an inverse solves by the transpose: `aᵀA⁻¹` by b and
    // `BA⁻¹` by C were `a @ np.linalg.inv(A)` (survey 17).
    for (input, wrt) in [
        ("A: matrix(n, n); a, b: vector(n); a^T A^-1 b", "b"),
        ("A: matrix(n, n); B: matrix(k, n); C: matrix(n, k); tr(B A^-1 C)", "C"),
    ] {
        let code = String::from_utf8(bracket(&["codegen", input, "--wrt", wrt, "--with-check"]).stdout).unwrap();
        assert!(code.contains("np.linalg.solve(A.T, ") && !code.contains("np.linalg.inv("), "{code}");
        if ready(&["numpy"]) {
            let dir = scratch(&format!("solve_{wrt}"));
            let path = module_in(&dir, "solved", &[input, "--wrt", wrt, "--with-check"]);
            passes_in_python(&dir, &path, "import solved\nassert solved.check_gradient() and solved.check_gradient(1)");
        }
    }
}

/// A gradient that is another's negation reads its name: the Gaussian's gradient by its
/// mean, `S⁻¹(m − x)`, is `-t` for the named `S⁻¹(x − m)`, not a second product
/// (survey 17), and the module still checks.
#[test]
fn a_negated_difference_reads_the_named_product() {
    let input = "x, m: vector(d); S: symmetric(d); 1/2 (x - m)^T S^-1 (x - m) + 1/2 ln det(S)";
    let args = [input, "--wrt", "x", "--wrt", "m", "--wrt", "S", "--with-check"];
    let code = String::from_utf8(bracket(&[&["codegen"][..], &args[..]].concat()).stdout).unwrap();
    let line = |name: &str| code.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or("").trim().to_string();
    let by_x = line("grad_x = ");
    let name = by_x.trim_start_matches("grad_x = ");
    assert!(name.starts_with("t_"), "{code}");
    assert_eq!(line("grad_m = "), format!("grad_m = -{name}"), "{code}");
    if ready(&["numpy"]) {
        let dir = scratch("negated");
        let path = module_in(&dir, "gaussian", &args);
        passes_in_python(
            &dir,
            &path,
            "import gaussian\nassert gaussian.check_gradient() and gaussian.check_gradient(1)",
        );
    }
}

/// A diagonal matrix scales rows or columns: `Xᵀdiag(r)X` over N samples makes no N × N
/// array, and `diag(L1)⁻¹L` divides rows instead of solving an N × N system; the
/// generated gradients still check, and run at N = 20,000.
#[test]
fn a_diagonal_scales_instead_of_multiplying() {
    if !ready(&["numpy"]) {
        return;
    }
    let dir = scratch("diagonal");
    let weighted = "X: matrix(N, p); y, r: vector(N); b: vector(p); 1/2 (X b - y)^T diag(r) (X b - y)";
    let path = module_in(&dir, "weighted", &[weighted, "--wrt", "b", "--with-check"]);
    let mixture = "X: matrix(N, d); y: vector(N); Wp: matrix(d, K); P = softmax(X Wp); \
                   L = P .* exp(-1/2 (y 1^T) .* (y 1^T)); R = diag(L 1)^-1 L; J = dot(R, X Wp); grad J wrt Wp";
    let other = module_in(&dir, "mixture", &[mixture, "--with-check"]);
    // A multiple of a diagonal, a group lasso's λdiag(1 ⊘ s)W over p features.
    let lasso = "X: matrix(N, p); Y: matrix(N, k); W: matrix(p, k); lambda, epsilon: scalar; \
                 1/2 ||X W - Y||^2 + lambda 1^T sqrt((W .* W) 1 + epsilon 1)";
    let group = module_in(&dir, "group", &[lasso, "--wrt", "W", "--with-check"]);
    for p in [&path, &other, &group] {
        let code = std::fs::read_to_string(p).unwrap();
        assert!(!code.contains("np.diag(") && !code.contains("solve("), "{code}");
    }
    let code = "import numpy as np, weighted, mixture\n\
                import group\n\
                assert weighted.check_gradient() and mixture.check_gradient() and group.check_gradient()\n\
                rng = np.random.default_rng(0); N = 20000\n\
                X = rng.standard_normal((N, 3)); y = rng.standard_normal(N); r = rng.random(N)\n\
                v, g = weighted.f_and_grad(X=X, y=y, r=r, b=np.ones(3))\n\
                assert np.allclose(g['b'], X.T @ (r * (X @ np.ones(3) - y)))\n";
    passes_in_python(&dir, &path, code);
}

/// A matrix power applied to a vector is that many products with it: a GP's gradient
/// by its noise, `(1/2)(tr(K⁻¹) − yᵀK⁻²y)`, multiplied K⁻¹ by itself, a second O(N³)
/// product (survey 15); it checks, and holds no product of two N × N arrays.
#[test]
fn a_power_applied_to_a_vector_multiplies_the_vector() {
    if !ready(&["numpy"]) {
        return;
    }
    let dir = scratch("power");
    let gp = "A: symmetric(N); y: vector(N); s: scalar; 1/2 y^T inv(s I + A) y + 1/2 ln det(s I + A)";
    let path = module_in(&dir, "gp", &[gp, "--wrt", "s", "--with-check"]);
    let code = std::fs::read_to_string(&path).unwrap();
    let squared = code.lines().any(|l| {
        let rhs = l.split(" = ").nth(1).unwrap_or("");
        rhs.split(" @ ").filter(|t| t.starts_with("t_")).count() == 2 && !rhs.contains('(')
    });
    assert!(!squared && !code.contains("matrix_power"), "{code}");
    let check = "import gp\nassert gp.check_gradient()\n";
    passes_in_python(&dir, &path, check);
}

/// A matrix declared symmetric is refused a value that is not: the gradient was taken
/// with S = Sᵀ and is another function's off it.
#[test]
fn a_symmetric_argument_must_be_symmetric() {
    if !ready(&["numpy"]) {
        return;
    }
    let dir = scratch("symmetric");
    let path = module_in(&dir, "sym", &["S: symmetric(n); x: vector(n); x^T S^-1 x", "--wrt", "S", "--with-check"]);
    let code = [
        "import numpy as np, sym",
        "assert sym.check_gradient()",
        "try:",
        "    sym.f_and_grad(S=np.array([[2.0, 1.0], [0.0, 2.0]]), x=np.ones(2))",
        "except AssertionError as e:",
        "    assert 'must be symmetric' in str(e), e",
        "else:",
        "    raise SystemExit('a non-symmetric S was taken')",
    ]
    .join("\n");
    passes_in_python(&dir, &path, &code);
}

/// ln|X| of a 400 × 400 matrix whose determinant overflows a float (10⁴⁰⁰): the
/// generated value is finite and right, and a negative determinant still gives nan.
#[test]
fn a_log_determinant_does_not_overflow() {
    if !ready(&["numpy"]) {
        return;
    }
    let dir = scratch("logdet");
    let path = module_in(&dir, "logdet", &["X: matrix(n, n); ln det(X)", "--wrt", "X"]);
    let code = "import numpy as np, logdet, warnings\n\
                warnings.simplefilter('ignore')\n\
                v, g = logdet.f_and_grad(10.0 * np.eye(400))\n\
                assert abs(v - 400 * np.log(10.0)) < 1e-9, v\n\
                assert np.allclose(g['X'], 0.1 * np.eye(400))\n\
                v, _ = logdet.f_and_grad(-np.eye(3))\n\
                assert np.isnan(v), v\n";
    passes_in_python(&dir, &path, code);
}

/// At logits of hundreds, a softmax entry underflows to 0 and exp overflows: the value
/// of a cross-entropy by `logsoftmax` and of `ln(sum(exp(x)))` was nan or inf (survey 14)
/// where the function is finite. They are written from the logits, the maximum out.
#[test]
fn a_log_softmax_and_a_log_sum_of_exponentials_stay_finite() {
    if !ready(&["numpy"]) {
        return;
    }
    let dir = scratch("log-softmax");
    let ce = "X: matrix(N, p); W: matrix(p, k); Y: matrix(N, k); -dot(Y, logsoftmax(X W))";
    let ce = module_in(&dir, "ce", &[ce, "--wrt", "W"]);
    module_in(&dir, "lse", &["X: matrix(n, m); ln(sum(exp(X)))", "--wrt", "X"]);
    // And a program's softmax by name: `P = softmax(XW)`, then `ln(P)`.
    let named = "X: matrix(N, p); W: matrix(p, k); Y: matrix(N, k); P = softmax(X W); J = -dot(Y, ln(P)); grad J wrt W";
    module_in(&dir, "named", &[named]);
    let code = "import numpy as np, ce, lse, named\n\
                X = np.array([[1.0, 0.0], [0.0, 1.0]]); Y = np.array([[0.0, 1.0], [1.0, 0.0]])\n\
                W = np.array([[900.0, 0.0], [0.0, -900.0]])\n\
                v, g = ce.f_and_grad(X=X, W=W, Y=Y)\n\
                assert abs(v - 900.0) < 1e-9, v\n\
                assert np.allclose(g['W'], [[1.0, -1.0], [0.0, 0.0]]), g\n\
                v, g = named.f_and_grad(X=X, W=W, Y=Y)\n\
                assert abs(v - 900.0) < 1e-9, v\n\
                assert np.allclose(g['W'], [[1.0, -1.0], [0.0, 0.0]]), g\n\
                v, g = lse.f_and_grad(X=np.array([[800.0, 1.0], [2.0, 3.0]]))\n\
                assert abs(v - 800.0) < 1e-9, v\n\
                assert np.allclose(g['X'], [[1.0, 0.0], [0.0, 0.0]]), g\n";
    passes_in_python(&dir, &ce, code);
}

#[test]
fn a_named_sigmoid_under_a_logarithm_stays_finite() {
    if !ready(&["numpy"]) {
        return;
    }
    // A Bernoulli decoder `r = σ(u)` with `ln(r)` and `ln(1 − r)` in the loss: at logits
    // near 50, r rounds to 1 and np.log(1 - r) was −inf (a VAE's value was nan on the
    // module's own random data). Through the definition they are −logaddexp(0, ∓u).
    let dir = scratch("bernoulli");
    let text = "x: vector(d); D: matrix(d, k); z: vector(k); c: vector(d); r = sigmoid(D z + c); \
                J = -(x^T ln(r) + (1 - x)^T ln(1 - r)); grad J wrt D, c";
    let path = module_in(&dir, "bernoulli", &[text]);
    let code = "import numpy as np, bernoulli\n\
                x = np.array([0.0, 1.0]); c = np.array([50.0, -50.0])\n\
                v, g = bernoulli.f_and_grad(x=x, D=np.zeros((2, 3)), z=np.zeros(3), c=c)\n\
                assert abs(v - 2 * np.logaddexp(0, 50.0)) < 1e-9, v\n\
                assert np.allclose(g['c'], 1 / (1 + np.exp(-c)) - x)\n";
    passes_in_python(&dir, &path, code);
}

#[test]
fn a_sigmoid_and_a_log_cosh_of_large_arguments_overflow_nothing() {
    if !ready(&["numpy"]) {
        return;
    }
    // 1/(1 + e⁻ᵃ) is right at a = −800 but e⁸⁰⁰ overflows, and NumPy warns of it; and
    // ln(cosh(r)), read as ln((eʳ + e⁻ʳ)/2), was inf past r ≈ 710 (survey 15: Bradley–
    // Terry, soft Dice, log-cosh regression). By logaddexp, no step overflows.
    let dir = scratch("overflow");
    let text = "X: matrix(N, p); y: vector(N); w: vector(p); sum((sigmoid(X w) - y).^2)";
    let path = module_in(&dir, "squared", &[text, "--wrt", "w"]);
    let text = "X: matrix(N, p); y: vector(N); w: vector(p); sum(ln(cosh(X w - y)))";
    module_in(&dir, "logcosh", &[text, "--wrt", "w"]);
    let code = "import numpy as np, squared, logcosh\n\
                np.seterr(over='raise', invalid='raise', divide='raise')\n\
                X = np.array([[1.0], [-1.0]]); y = np.array([0.0, 1.0])\n\
                v, g = squared.f_and_grad(X=X, y=y, w=np.array([800.0]))\n\
                assert abs(v - 2.0) < 1e-12, v\n\
                assert np.all(np.isfinite(g['w'])), g\n\
                v, g = logcosh.f_and_grad(X=X, y=np.array([0.0, 0.0]), w=np.array([800.0]))\n\
                assert abs(v - 2 * (800.0 - np.log(2.0))) < 1e-9, v\n\
                assert np.allclose(g['w'], [2.0]), g\n";
    passes_in_python(&dir, &path, code);
}

#[test]
fn random_data_keeps_a_vector_s_stated_sum() {
    if !ready(&["numpy"]) {
        return;
    }
    // ∇_W is (softmax(Wx) − y)xᵀ only where y sums to one: data that ignores the fact
    // fails the module's own check.
    let dir = scratch("vector-sum");
    let f = "W: matrix(k, d); x: vector(d); y: vector(k); y^T 1 = 1; -y^T ln(softmax(W x))";
    module_in(&dir, "one", &[f, "--wrt", "W", "--with-check"]);
    let f = "W: matrix(k, d); x: vector(d); y: vector(k); sum(y) = 3; -y^T ln(softmax(W x))";
    let path = module_in(&dir, "three", &[f, "--wrt", "W", "--with-check"]);
    let code = "import numpy as np, one, three\n\
                for m, total in ((one, 1.0), (three, 3.0)):\n    \
                    for seed in (0, 1):\n        \
                        assert abs(m.generate_random_data(seed)['y'].sum() - total) < 1e-12\n        \
                        m.check_gradient(seed)\n\
                print('ok')";
    passes_in_python(&dir, &path, code);
}

#[test]
fn random_data_is_where_the_function_is_defined() {
    if !ready(&["numpy"]) {
        return;
    }
    // A KL sparsity penalty has ln(1 − ρ): scalars are drawn in (0.5, 1.5), so about half
    // of the draws leave the domain, and the data a user asks for must not be one of them.
    let dir = scratch("domain");
    let f = "x: vector(n); w: vector(n); rho: scalar; q = sigmoid(w .* x); \
             J = sum(rho ln(rho 1 ./ q) + (1 - rho) ln((1 - rho) 1 ./ (1 - q))); grad J wrt w";
    let path = module_in(&dir, "sparse", &[f, "--with-check"]);
    let code = "import numpy as np, sparse\n\
                for seed in range(12):\n    \
                    data = sparse.generate_random_data(seed)\n    \
                    assert 0 < data['rho'] < 1, (seed, data['rho'])\n    \
                    value, g = sparse.f_and_grad(**data)\n    \
                    assert np.isfinite(value) and np.all(np.isfinite(g['w'])), seed\n\
                sparse.check_gradient()\n\
                print('ok')";
    passes_in_python(&dir, &path, code);
}

#[test]
fn random_data_inverts_what_the_function_inverts() {
    if !ready(&["numpy"]) {
        return;
    }
    // ln det(XᵀX) needs a tall X: with N = 3 and p = 4 the check raised LinAlgError, or
    // compared rounding noise (survey 17). Sizes fall in the order the dims are
    // declared, and a draw whose matrix is singular is drawn again.
    let dir = scratch("tall");
    let path = module_in(&dir, "tall", &["X: matrix(N, p); ln det(X^T X)", "--wrt", "X", "--with-check"]);
    let code = "import numpy as np, tall\n\
                for seed in range(6):\n    \
                    data = tall.generate_random_data(seed)\n    \
                    assert data['X'].shape[0] >= data['X'].shape[1], data['X'].shape\n    \
                    assert tall.check_gradient(seed)\n\
                print('ok')";
    passes_in_python(&dir, &path, code);
}

#[test]
fn confident_logits_keep_their_digits() {
    if !ready(&["numpy"]) {
        return;
    }
    // The focal loss divides by σ(−z) and multiplies by σ'(z): computed as σ(z)(1 − σ(z)),
    // σ' rounds to 0 from z ≈ 37 and the gradient with it, where the exact one is 1.
    let dir = scratch("focal");
    let f = "X: matrix(N, p); y: vector(N); w: vector(p); \
             -sum(y .* (1 - sigmoid(X w)).^2 .* ln(sigmoid(X w)) + (1 - y) .* sigmoid(X w).^2 .* ln(1 - sigmoid(X w)))";
    let path = module_in(&dir, "focal", &[f, "--wrt", "w", "--with-check"]);
    let code = "import numpy as np, focal\n\
                _, g = focal.f_and_grad(X=np.eye(3), y=np.zeros(3), w=np.array([30.0, 60.0, 300.0]))\n\
                assert np.allclose(g['w'], 1.0, rtol=1e-9, atol=0), g\n\
                _, g = focal.f_and_grad(X=np.eye(3), y=np.ones(3), w=np.array([-30.0, -60.0, -300.0]))\n\
                assert np.allclose(g['w'], -1.0, rtol=1e-9, atol=0), g\n\
                focal.check_gradient()\n\
                print('ok')";
    passes_in_python(&dir, &path, code);
}

#[test]
fn a_log_sum_exp_by_rows_does_not_overflow() {
    if !ready(&["numpy"]) {
        return;
    }
    // `ln(exp(L)1)` is a mixture's log-likelihood per sample: computed as written, exp
    // overflows at L = −800 (and underflows to ln 0); by rows with the maximum taken out,
    // each row is −800 + ln 3.
    let dir = scratch("lse_rows");
    let path = module_in(&dir, "lse_rows", &["L: matrix(N, K); -1^T ln(exp(L) 1)", "--wrt", "L", "--with-check"]);
    let code = "import numpy as np, lse_rows\n\
                v, g = lse_rows.f_and_grad(L=np.array([[-800.0, -800.0, -800.0], [900.0, 0.0, 900.0]]))\n\
                assert np.isclose(v, 800 - np.log(3) - 900 - np.log(2), rtol=1e-12), v\n\
                assert np.allclose(g['L'], -np.array([[1/3, 1/3, 1/3], [0.5, 0, 0.5]])), g\n\
                lse_rows.check_gradient()\n\
                print('ok')";
    passes_in_python(&dir, &path, code);
}

#[test]
fn greek_names_are_arguments_as_typed() {
    if !ready(&["numpy"]) {
        return;
    }
    // `Sigma` and `mu` are read as Σ and μ; the module's arguments and gradient keys
    // are the words, and `lambda`, a Python keyword, is `lambda_`.
    let dir = scratch("greek");
    let f = "X: matrix(N, n); Sigma: symmetric(n); mu: vector(n); lambda: scalar; \
             N/2 ln det(Sigma) + 1/2 tr(Sigma^-1 (X - 1 mu^T)^T (X - 1 mu^T)) + lambda ||mu||^2";
    let path = module_in(&dir, "greek", &[f, "--wrt", "mu", "--wrt", "Sigma", "--with-check"]);
    let code = "import inspect, greek\n\
                assert list(inspect.signature(greek.f_and_grad).parameters) == ['X', 'Sigma', 'mu', 'lambda_'], \
                inspect.signature(greek.f_and_grad)\n\
                _, g = greek.f_and_grad(**greek.generate_random_data(0))\n\
                assert sorted(g) == ['Sigma', 'mu'], sorted(g)\n\
                greek.check_gradient()\n\
                print('ok')";
    passes_in_python(&dir, &path, code);
}

#[test]
fn a_wrong_gradient_fails_the_generated_check() {
    if !ready(&["numpy"]) {
        return;
    }
    let dir = scratch("wrong");
    let path = module_in(&dir, "wrong", &["x^T A x", "--wrt", "x", "--with-check"]);
    let src = std::fs::read_to_string(&path).unwrap();
    assert!(src.contains("return value, {\"x\": grad_x}"), "{src}");
    std::fs::write(&path, src.replace("return value, {\"x\": grad_x}", "return value, {\"x\": 1.001 * grad_x}"))
        .unwrap();
    let (ok, text) = run_python(&dir, "import wrong; wrong.check_gradient()");
    assert!(!ok && text.contains("AssertionError"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A saturated network: at positive inputs its first layer's gradient is about 1e−7, and an
/// error tolerated in absolute terms let a gradient 1.7 times too large pass (survey
/// 22). The check is relative (down to 1e−3 of the function's size) and draws a point of
/// either sign too.
#[test]
fn a_small_wrong_gradient_of_a_saturated_network_fails_the_generated_check() {
    if !ready(&["numpy"]) {
        return;
    }
    let dir = scratch("saturated");
    let program = "H1 = sigmoid(X W1 + 1 b1^T)\nH2 = sigmoid(H1 W2 + 1 b2^T)\nH3 = sigmoid(H2 W3 + 1 b3^T)\n\
                   R = sigmoid(H3 W4 + 1 b4^T)\nJ = ||R - X||^2\ngrad J wrt W1, b1, W2, b2, W3, b3, W4, b4";
    let path = module_in(&dir, "saturated", &[program, "--with-check"]);
    let src = std::fs::read_to_string(&path).unwrap();
    let line = line_of(&src, "grad_W1J = ");
    let (ok, text) = run_python(&dir, "import saturated; saturated.check_gradient(); print('ok')");
    assert!(ok, "{text}");
    let wrong = line.replace("grad_W1J = ", "grad_W1J = 1.7 * ");
    std::fs::write(&path, src.replace(&line, &wrong)).unwrap();
    let (ok, text) = run_python(&dir, "import saturated; saturated.check_gradient()");
    assert!(!ok && text.contains("AssertionError"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_worked_example_checks_on_jax_too() {
    if !ready(&["numpy", "jax"]) {
        return;
    }
    let dir = scratch("jax-examples");
    let mut names = Vec::new();
    for (stem, text) in examples() {
        let path = dir.join(format!("jax_{stem}.py"));
        let out = bracket(&["codegen", &text, "--with-check", "--target", "jax", "--out", path.to_str().unwrap()]);
        assert!(out.status.success(), "{stem}: {}", String::from_utf8_lossy(&out.stderr));
        names.push(stem);
    }
    // One process: JAX starts once.
    let code = format!(
        "import importlib\nfailed = []\nfor name in {names:?}:\n    m = importlib.import_module('jax_' + name)\n    \
         if hasattr(m, 'f_prime'):\n        m.f = lambda x: x + x**2 / 2\n        m.f_prime = lambda x: 1 + x\n    \
         try:\n        m.check_gradient()\n    except Exception as e:\n        failed.append((name, repr(e)))\n\
         assert not failed, failed\nprint('ok')"
    );
    let (ok, text) = run_python(&dir, &code);
    assert!(ok, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn jax_target_matches_numpy() {
    if !ready(&["numpy", "jax"]) {
        return;
    }
    let dir = scratch("jax");
    let program = examples().into_iter().find(|(s, _)| s.contains("two_layer_mlp")).unwrap().1;
    for (target, file) in [("numpy", "with_numpy.py"), ("jax", "with_jax.py")] {
        let path = dir.join(file);
        let out = bracket(&["codegen", &program, "--with-check", "--target", target, "--out", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let code = "import numpy as np, jax, with_numpy as a, with_jax as b\n\
                data = a.generate_random_data(0)\n\
                va, ga = a.f_and_grad(**data)\n\
                vb, gb = jax.jit(b.f_and_grad)(**data)\n\
                assert np.allclose(va, vb), (va, vb)\n\
                assert all(np.allclose(ga[k], gb[k]) for k in ga)\n\
                b.check_gradient()\n\
                print('ok')";
    let (ok, text) = run_python(&dir, code);
    assert!(ok, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Shared work is computed once even where it sits inside other shared work: ordinal
/// logistic regression's `Xw` is in `t1 1 − Xw`, `t2 1 − Xw` and their negatives, and its
/// `σ(t1 1 − Xw)` also inside `−σ(…)` (the count of uses left after the larger shared
/// expressions took theirs was taken from before, and left `X @ w` in five places).
#[test]
fn shared_work_inside_shared_work_is_computed_once() {
    let dir = scratch("ordinal");
    let ordinal = "X: matrix(N, p); y1, y2, y3: vector(N); w: vector(p); t1, t2: scalar; \
                   -y1^T ln(sigmoid(t1 1 - X w)) - y2^T ln(sigmoid(t2 1 - X w) - sigmoid(t1 1 - X w)) \
                   - y3^T ln(1 - sigmoid(t2 1 - X w))";
    let path = module_in(&dir, "ordinal", &[ordinal, "--wrt", "w", "--wrt", "t1", "--wrt", "t2", "--with-check"]);
    let code = std::fs::read_to_string(&path).unwrap();
    assert_eq!(code.matches("X @ w").count(), 1, "{code}");
    if ready(&["numpy"]) {
        let (ok, text) = run_python(&dir, "import ordinal\nassert ordinal.check_gradient()\n");
        assert!(ok, "{text}\n{code}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sum is written as one (`np.sum`), not as a product with an array of ones: a bias's
/// gradient is `np.sum(G, axis=0)`, as NumPy code writes it (survey 15).
#[test]
fn sums_are_written_as_sums() {
    let text = "X: matrix(N, p); W: matrix(p, k); b: vector(k); 1/2 ||X W + 1 b^T||^2 + 1^T exp(X W) 1";
    let out = bracket(&["grad", text, "--wrt", "b", "--format", "numpy"]);
    let code = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !code.contains("np.ones") && code.contains("np.sum("), "{code}");
}

/// `yᵀXw` beside `exp(Xw)`: the value uses the Xw the gradient computes (`y @ t_0`), not
/// a second product with X; beside the gradient `Xᵀy` the value and the gradient share
/// one product (`t_0 @ w`); a chain
/// whose run of factors stands nowhere else keeps its bracketing. The modules still
/// check against finite differences.
#[test]
fn a_product_computed_for_one_output_is_used_in_another() {
    let dir = scratch("chains");
    let value = |code: &str| line_of(code, "value = ");
    let logistic = "X: matrix(N, d); w: vector(d); y: vector(N); 1^T ln(1 + exp(X w)) - y^T X w";
    let path = module_in(&dir, "logistic", &[logistic, "--wrt", "w", "--with-check"]);
    let code = std::fs::read_to_string(&path).unwrap();
    assert!(!value(&code).contains('X') && value(&code).contains("y @ t_"), "{code}");
    let bilinear = "X: matrix(N, d); w: vector(d); y: vector(N); y^T X w";
    let path = module_in(&dir, "bilinear", &[bilinear, "--wrt", "w", "--with-check"]);
    let code = std::fs::read_to_string(&path).unwrap();
    let with_x = code.lines().filter(|l| l.contains("t_0 = ") && l.contains('X') && l.contains('y')).count();
    assert!(with_x == 1 && value(&code) == "value = t_0 @ w" && code.contains("grad_w = t_0"), "{code}");
    // Once the gradient 2aaᵀX is 2a(aᵀX), the value aᵀXXᵀa is (aᵀX)(aᵀX)ᵀ.
    let quadratic = "a: vector(m); X: matrix(m, n); a^T X X^T a";
    let path = module_in(&dir, "quadratic", &[quadratic, "--wrt", "X", "--with-check"]);
    let code = std::fs::read_to_string(&path).unwrap();
    assert!(code.contains("t_0 = a @ X") && value(&code) == "value = t_0 @ t_0", "{code}");
    // K⁻¹y beside yᵀK⁻¹ for a symmetric K is that row transposed: one product with K⁻¹,
    // and no name that only repeats another (`t_5 = t_2`).
    let gp = "A: symmetric(N); y: vector(N); s: scalar; 1/2 y^T inv(s I + A) y + 1/2 ln det(s I + A)";
    let path = module_in(&dir, "gp", &[gp, "--wrt", "s", "--wrt", "y", "--with-check"]);
    let code = std::fs::read_to_string(&path).unwrap();
    let products = code.lines().filter(|l| l.contains("y @ t_1") || l.contains("t_1 @ y")).count();
    let alias = code.lines().any(|l| {
        let (name, value) = l.trim().split_once(" = ").unwrap_or_default();
        name.starts_with("t_") && value.starts_with("t_") && value[2..].chars().all(|c| c.is_ascii_digit())
    });
    assert!(products == 1 && !alias, "{code}");
    let path = module_in(&dir, "alone", &[bilinear, "--wrt", "X"]);
    let code = std::fs::read_to_string(&path).unwrap();
    assert_eq!(value(&code), "value = (y @ X) @ w", "{code}");
    if ready(&["numpy"]) {
        let check = "import logistic, bilinear, quadratic, gp\n\
                     assert logistic.check_gradient() and bilinear.check_gradient()\n\
                     assert quadratic.check_gradient() and gp.check_gradient()\n";
        passes_in_python(&dir, &dir.join("logistic.py"), check);
    }
}

/// `XW + 1bᵀ − c1ᵀ` adds b to every row and c to every column by broadcasting, as a
/// NumPy user writes it, not through outer products with arrays of ones (numpy.rs
/// checks the values).
#[test]
fn a_spread_vector_is_added_by_broadcasting() {
    let text = "X: matrix(N, d); W: matrix(d, k); b: vector(k); c: vector(N); 1/2 ||X W + 1 b^T - c 1^T||^2";
    let out = bracket(&["grad", text, "--wrt", "W", "--format", "numpy"]);
    let code = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !code.contains("np.outer") && !code.contains("np.ones"), "{code}");
    assert!(code.contains("+ b") && code.contains("c[:, None]"), "{code}");
    // Nor is a spread bias named where the RNN adds it at every step.
    let rnn = std::fs::read_to_string("examples/programs/6_4_rnn_three_steps.txt").unwrap();
    let out = bracket(&["codegen", &rnn]);
    let code = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !code.contains("np.outer") && !code.contains("np.ones"), "{code}");
    // Nor a ones tensor's scalar: `1 − H1 ⊙ H1` in a program, `c1 + x ⊙ x`, `1 − y` (survey 17).
    let mlp = "X: matrix(N, d); W1: matrix(d, h); b1: vector(h); W2: matrix(h, k); b2: vector(k); \
               Y: matrix(N, k); N: scalar; H1 = tanh(X W1 + 1 b1^T); O = H1 W2 + 1 b2^T; \
               J = 1/(2N) ||O - Y||^2; grad J wrt W1, b1, W2, b2";
    let inline = "x: vector(n); c: scalar; sum(ln(c 1 + x .* x))";
    let logistic =
        "X: matrix(N, d); w: vector(d); y: vector(N); -y^T ln(sigmoid(X w)) - (1 - y)^T ln(1 - sigmoid(X w))";
    for args in [vec!["codegen", mlp], vec!["codegen", inline, "--wrt", "x"], vec!["codegen", logistic, "--wrt", "w"]] {
        let out = bracket(&args);
        let code = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && !code.contains("np.ones"), "{code}");
    }
}

/// `1/(2N) ‖Z − Y‖²` scales the sum, not each of its N·k entries.
#[test]
fn a_scalar_factor_multiplies_the_sum() {
    let text = std::fs::read_to_string("examples/programs/6_2_two_layer_mlp.txt").unwrap();
    let out = bracket(&["codegen", &text]);
    let code = String::from_utf8_lossy(&out.stdout);
    let j = line_of(&code, "J = ");
    assert!(out.status.success() && j.contains("* np.sum(t_0 * t_0)"), "{code}");
    // And a matrix product: the GP's value `(1/2) * (t_2 @ y)`, not `((1/2) * t_2) @ y`.
    let gp = "A: symmetric(N); y: vector(N); s: scalar; 1/2 y^T inv(s I + A) y + 1/2 ln det(s I + A)";
    let out = bracket(&["codegen", gp, "--wrt", "s"]);
    let code = String::from_utf8_lossy(&out.stdout);
    let value = line_of(&code, "value = ");
    assert!(out.status.success() && value.contains("(1/2) * (t_") && !value.contains(") @ y"), "{code}");
}

/// A scalar times a vector is a scaling, not a link of a matrix chain: `softmax(w)ᵀHt 1`
/// was written `t_1 @ (t @ np.ones(…))`, a product of a d-vector and a T-vector that
/// NumPy refuses. Attention pooling and one query's attention by its query made it too.
#[test]
fn a_scalar_times_a_vector_is_not_rebracketed_into_its_chain() {
    let cases = [
        ("H: matrix(T, d); w: vector(T); t: vector(d); (H^T softmax(w)) . t", "w"),
        ("q: vector(d); K: matrix(T, d); V: matrix(T, e); y: vector(e); 1/2 ||V^T softmax(K q) - y||^2", "q"),
        ("H: matrix(T, d); w, t: vector(d); 1/2 ||H^T softmax(H w) - t||^2", "w"),
    ];
    for (k, (input, wrt)) in cases.iter().enumerate() {
        let args = [input, "--wrt", wrt, "--with-check"];
        let code = String::from_utf8(bracket(&[&["codegen"][..], &args[..]].concat()).stdout).unwrap();
        assert!(!code.contains("np.ones"), "{code}");
        if ready(&["numpy"]) {
            let dir = scratch(&format!("scaling{k}"));
            let path = module_in(&dir, "pooled", &args);
            passes_in_python(&dir, &path, "import pooled\nassert pooled.check_gradient() and pooled.check_gradient(1)");
        }
    }
}

/// Survey 23's modules that did not run or were wrong: a caller's `t_0` overwritten by a
/// temporary (`t_0 = X @ t_0 - y`, a wrong value and gradient), `np` and `value` as
/// arguments, a declared function's f'' never defined (`f_d2`), ln|det W| through det
/// (−inf at 400 rows), and a unit vector's check off its sphere (AssertionError).
#[test]
fn modules_run_whatever_the_callers_names_and_functions() {
    if !ready(&["numpy"]) {
        return;
    }
    let dir = scratch("names");
    let path = module_in(&dir, "clash", &["||X t_0 - y||^2 + ||t_0||^2", "--wrt", "t_0"]);
    let code = "import numpy as np, clash\n\
                rng = np.random.default_rng(0)\n\
                X, t, y = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(4)\n\
                v, g = clash.f_and_grad(X, t, y)\n\
                assert abs(v - (np.sum((X @ t - y) ** 2) + t @ t)) < 1e-12, v\n\
                assert np.allclose(g['t_0'], 2 * X.T @ (X @ t - y) + 2 * t)\n\
                print('ok')";
    let (ok, text) = run_python(&dir, code);
    assert!(ok, "{text}\n{}", std::fs::read_to_string(&path).unwrap());
    for (stem, args) in [
        ("np_value", vec!["np: vector(n); value: vector(n); np^T exp(x) + value^T x", "--wrt", "x", "--with-check"]),
        ("logabsdet", vec!["ln(abs(det(W))) - 1/2 ||W x||^2", "--wrt", "W", "--with-check"]),
        ("sphere", vec!["x^T x = 1; x^T A x / (x^T x)", "--wrt", "x", "--wrt", "A", "--with-check"]),
    ] {
        let path = module_in(&dir, stem, &args);
        let (ok, text) = run_python(&dir, &format!("import {stem}; {stem}.check_gradient(); print('ok')"));
        assert!(ok, "{text}\n{}", std::fs::read_to_string(&path).unwrap());
    }
    let code = "import numpy as np, logabsdet\n\
                v, _ = logabsdet.f_and_grad(0.1 * np.eye(400), np.ones(400))\n\
                assert abs(v - (400 * np.log(0.1) - 2)) < 1e-6, v\n\
                print('ok')";
    let (ok, text) = run_python(&dir, code);
    assert!(ok, "{text}");
    // f'' is the caller's too, as f and f' are.
    let path = module_in(&dir, "second", &["f: elementwise; sum(f(X w)) + sum(f'(X w))", "--wrt", "w"]);
    let code = "import numpy as np, second\n\
                second.f, second.f_prime, second.f_d2 = np.sin, np.cos, lambda z: -np.sin(z)\n\
                X, w = np.ones((3, 2)), np.array([0.5, 0.25])\n\
                v, g = second.f_and_grad(X, w)\n\
                assert np.allclose(g['w'], X.T @ (np.cos(X @ w) - np.sin(X @ w)))\n\
                print('ok')";
    let (ok, text) = run_python(&dir, code);
    assert!(ok, "{text}\n{}", std::fs::read_to_string(&path).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

/// tanh''' and σ''' (a Hessian of a sum of tanh') printed as `tanh_d3(…)`, which no
/// module defines (survey 23): each is a polynomial in the value, checked here against
/// finite differences of the gradient.
#[test]
fn third_derivatives_print_as_numpy() {
    if !ready(&["numpy"]) {
        return;
    }
    let dir = scratch("third");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["tanh", "sigmoid", "ln", "sqrt"] {
        let text = format!("X: matrix(N, p); w: vector(p); sum({f}'(X w))");
        let numpy = |command: &str| {
            let out = bracket(&[command, &text, "--wrt", "w", "--format", "numpy"]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).lines().next().unwrap().to_string()
        };
        let (g, h) = (numpy("grad"), numpy("hessian"));
        let code = format!(
            "import numpy as np\n\
             rng = np.random.default_rng(1)\n\
             X, w0 = rng.uniform(0.2, 1, (5, 3)), rng.uniform(0.2, 1, 3)\n\
             def grad(w):\n    return {g}\n\
             w = w0\n\
             H = {h}\n\
             e = 1e-5\n\
             Hn = np.array([(grad(w0 + e * d) - grad(w0 - e * d)) / (2 * e) for d in np.eye(3)]).T\n\
             assert np.abs(H - Hn).max() < 1e-6 * np.abs(Hn).max(), (H, Hn)\n\
             print('ok')"
        );
        let (ok, text) = run_python(&dir, &code);
        assert!(ok, "{f}: {text}\n{code}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// tr(AXBXᵀ) was `np.trace(t_0 @ X.T)`, an n³ product for the n entries of a diagonal
/// (survey 23); the trace of a product of matrices is the sum of a Hadamard product.
#[test]
fn a_trace_of_a_product_multiplies_entries() {
    let out = bracket(&["codegen", "X: matrix(n, m); A: matrix(n, n); B: matrix(m, m); tr(A X B X^T)", "--wrt", "X"]);
    let code = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(code.contains("value = np.sum(t_0 * X)") && !code.contains("np.trace"), "{code}");
}
