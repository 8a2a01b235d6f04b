//! Input read as written: the spellings people bring from MATLAB, NumPy and
//! MatrixCalculus.org, Greek words, and words of several letters. Each spelling is run
//! through the CLI (what `simplify` prints, and the notes on stderr) and checked equal in
//! value to the tutorial's spelling on random tensors.

mod common;

const KILL_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// `bracket simplify TEXT`: exit code, stdout (trimmed) and stderr.
fn simplify(text: &str) -> (Option<i32>, String, String) {
    let (out, _) = common::run_with_stdin(&["simplify", text], "", KILL_AFTER);
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.code(), stdout, String::from_utf8_lossy(&out.stderr).to_string())
}

/// `bracket ARGS…`: exit code, stdout (trimmed) and stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let (out, _) = common::run_with_stdin(args, "", KILL_AFTER);
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.code(), stdout, String::from_utf8_lossy(&out.stderr).to_string())
}

/// `bracket simplify TEXT` exits with `code` and says `needle` on stderr.
fn simplify_says(text: &str, code: i32, needle: &str) {
    let (got, _, stderr) = simplify(text);
    assert_eq!(got, Some(code), "{text}: {stderr}");
    assert!(stderr.contains(needle), "{text}: {stderr}");
}

/// `spelled` prints as `printed` and has the value of `canonical` (with `decls`).
fn reads_as(decls: &str, spelled: &str, canonical: &str, printed: &str) {
    let text = if decls.is_empty() { spelled.to_string() } else { format!("{decls}; {spelled}") };
    let (code, stdout, stderr) = simplify(&text);
    assert_eq!(code, Some(0), "`{text}`: {stderr}");
    assert_eq!(stdout, printed, "`{text}`");
    let both = format!("{decls}; {spelled}; {canonical}");
    assert!(common::same_value(both.trim_start_matches("; "), &[1, 2, 3]), "`{spelled}` ≠ `{canonical}`");
}

const M: &str = "A, B, X: matrix(n, n); x, y: vector(n)";

#[test]
fn matlab_and_numpy_operators() {
    reads_as(M, "x' A x", "x^T A x", "xᵀAx");
    reads_as(M, "(A x - y)'", "(A x - y)^T", "(Ax − y)ᵀ");
    reads_as(M, "X.T", "X^T", "Xᵀ");
    reads_as(M, "x.T A x", "x^T A x", "xᵀAx");
    // The Hadamard product as the Matrix Cookbook and many papers write it.
    reads_as(M, "A ∘ B X", "A .* B X", "A ⊙ BX");
    reads_as(M, "A \\circ B", "A .* B", "A ⊙ B");
    reads_as(M, "A @ B", "A B", "AB");
    reads_as(M, "A@x", "A x", "Ax");
    reads_as(M, "x**2", "x .^ 2", "x^{⊙2}");
    reads_as(M, "X ** 3", "X .^ 3", "X^{⊙3}");
    reads_as(M, "1e-3 x", "(1/1000) x", "(1/1000)x");
    reads_as(M, "2.5E2 x", "250 x", "250x");
}

#[test]
fn function_names_of_other_tools() {
    reads_as(M, "inv(X)", "X^-1", "X⁻¹");
    reads_as(M, "trace(X)", "tr(X)", "tr(X)");
    reads_as(M, "Tr(A X)", "tr(A X)", "tr(AX)");
    reads_as(M, "logdet(X)", "ln det(X)", "ln(|X|)");
    reads_as(M, "norm2(x)", "||x||", "||x||");
    reads_as(M, "norm2(x)^2", "||x||^2", "||x||²");
    reads_as(M, "||x||_2^2", "||x||^2", "||x||²");
    reads_as(M, "||X||_F^2", "||X||^2", "||X||²");
    reads_as(M, "||x||_1", "sum(abs(x))", "sum(abs(x))");
    // The tutorial's double bar, U+2016.
    reads_as(M, "‖x‖²", "||x||^2", "||x||²");
    reads_as(M, "‖A x − y‖₂²", "||A x - y||^2", "||Ax − y||²");
    reads_as(M, "‖X‖_F", "||X||", "||X||");
    reads_as(M, "‖x‖₁", "sum(abs(x))", "sum(abs(x))");
    reads_as(M, "xᵀy/(‖x‖‖y‖)", "x^T y / (||x|| ||y||)", "xᵀy/(||x|| ||y||)");
    reads_as("x: vector(n); lambda: scalar", "λ‖x‖²", "lambda ||x||^2", "λ||x||²");
    reads_as(M, "eye(n) + A", "I + A", "I + A");
    reads_as(M, "log(x)", "ln(x)", "ln(x)");
    reads_as(M, "sigma(X x)", "sigmoid(X x)", "sigmoid(Xx)");
    reads_as(M, "σ(X x)", "sigmoid(X x)", "sigmoid(Xx)");
    reads_as(M, "logsumexp(x)", "ln(sum(exp(x)))", "ln(sum(exp(x)))");
    reads_as(M, "ones(n)^T x", "1^T x", "1ᵀx");
}

#[test]
fn sizes_of_ones_and_identity() {
    // A size that nothing else fixes is printed, and read back.
    reads_as("x: vector(n)", "1_n 1_n^T x", "1_n (1^T x)", "1_n(1ᵀx)");
    // A number times `1` added to a tensor is that many ones, as `x + 2 1` prints.
    reads_as("x: vector(n)", "x + 2 1", "x + 1 + 1", "x + 2 1");
    // A matrix of ones times a vector prints as `11ᵀ`: a lone `1` reads back as a vector
    // (fuzz_parse found `1_{12}x`, printed `1 x`).
    let (code, stdout, _) = simplify("1_{12}x");
    assert_eq!((code, stdout.as_str()), (Some(0), "11ᵀx"));
    let (_, ascii, _) = run(&["simplify", "1_{12}x", "--format", "ascii"]);
    assert_eq!(simplify(&ascii).0, Some(0), "{ascii} does not read back");
    let (code, stdout, _) = simplify("X: matrix(n); I_n + X");
    assert_eq!((code, stdout.as_str()), (Some(0), "I + X"));
    let out = common::run_with_stdin(&["grad", "X: matrix(n); tr(X)", "--wrt", "X"], "", KILL_AFTER).0;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "I_n");
    let out = common::run_with_stdin(&["grad", "X: matrix(3); tr(X)", "--wrt", "X"], "", KILL_AFTER).0;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "eye(3)");
}

#[test]
fn greek_words_are_names() {
    reads_as("", "beta x", "β x", "βx");
    reads_as("", "lambda/2 ||x||^2", "λ/2 ||x||^2", "(λ/2)||x||²");
    // Capital Greek letters are matrices by default, like capital Latin ones.
    reads_as(M, "x^T Sigma^-1 x", "x^T Σ^-1 x", "xᵀΣ⁻¹x");
    reads_as(
        "mu: vector(n); Sigma: symmetric(n)",
        "(x - mu)^T Sigma^-1 (x - mu)",
        "(x - μ)^T Σ^-1 (x - μ)",
        "(x − μ)ᵀΣ⁻¹(x − μ)",
    );
    // `sigma` before `(` is the sigmoid; elsewhere it is the Greek letter.
    reads_as("", "sigma x", "σ x", "σx");
    reads_as("", "pi x", "π x", "πx");
    // A Greek name transposed is read as a vector where that type-checks, with a note:
    // as a scalar, `1μᵀ` typed with a ones matrix, and the gradient by μ of a Gaussian
    // likelihood was of another function, `sum(S⁻¹(μ(11ᵀ) − X)ᵀ)` (survey 22).
    let (code, stdout, stderr) = simplify("beta^T X^T X beta");
    assert_eq!((code, stdout.as_str()), (Some(0), "(Xβ)ᵀXβ"), "{stderr}");
    assert!(stderr.contains("`β` is read as a vector") && stderr.contains("beta: scalar"), "{stderr}");
    let gaussian = "X: matrix(N, p); S: symmetric(p); 1/2 tr((X - 1 mu^T) S^-1 (X - 1 mu^T)^T)";
    let (code, stdout, stderr) = run(&["grad", gaussian, "--wrt", "mu", "--check"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("S⁻¹(Nμ − Xᵀ1)"), "{stdout}");
    // Where only the scalar reading type-checks, it stays, and says that it is a scalar.
    let (code, stdout, stderr) = simplify("x: vector(n); beta^T x^T x");
    assert_eq!((code, stdout.as_str()), (Some(0), "β(xᵀx)"), "{stderr}");
    assert!(stderr.contains("`β` is a scalar") && stderr.contains("beta: vector"), "{stderr}");
    // `--wrt beta` names β for every command, derive included.
    let f = "x: vector(n); beta: scalar; beta^3 x^T x";
    for command in ["grad", "derive", "hessian", "jacobian"] {
        let (code, stdout, stderr) = run(&[command, f, "--wrt", "beta"]);
        assert_eq!(code, Some(0), "{command}: {stderr}");
        assert!(stdout.contains("β"), "{command}: {stdout}");
    }
    // `--wrt W₁` names W_1, as the input reads `W₁` (survey 12).
    let (code, stdout, stderr) = run(&["grad", "W₁: matrix(n, n); x: vector(n); x^T W₁ x", "--wrt", "W₁"]);
    assert_eq!((code, stdout.as_str()), (Some(0), "xxᵀ"), "{stderr}");
    // A Greek word names a declared function's derivative too: bracket prints a probit
    // Hessian's `Phi'(X w)` in ASCII, which must read back (survey 12).
    reads_as("Phi: elementwise; x: vector(n)", "Phi'(x) + Phi''(x)", "Φ'(x) + Φ''(x)", "Φ'(x) + Φ''(x)");
    // `like(beta)` lends β's shape (it was read as a scalar, silently: survey 12), and a
    // `like` of a name declared and used nowhere is an error.
    reads_as("beta: vector(n); v: like(beta)", "v^T beta v", "v^T β v", "(vᵀβ)v");
    let (code, stdout, stderr) = run(&["grad", "beta: vector(d); v: like(beta); sum(exp(v^T beta))", "--wrt", "beta"]);
    assert_eq!((code, stdout.as_str()), (Some(0), "exp(vᵀβ)v"), "{stderr}");
    simplify_says("v: like(bta); beta: vector(d); v^T beta", 2, "did you mean `like(beta)`?");
}

#[test]
fn words_of_several_letters() {
    // Declared, defined or named after `wrt`: one name.
    reads_as("Wq: matrix(n, n)", "x^T Wq x", "x^T Wq x", "xᵀWq x");
    let (code, stdout, stderr) = simplify("logits = X x; loss = 1^T exp(logits); loss");
    assert_eq!((code, stdout.as_str()), (Some(0), "loss"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let out = common::run_with_stdin(&["grad", "J = a^T Wq x; grad J wrt Wq"], "", KILL_AFTER).0;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "∇_{Wq}J = axᵀ");
    let out = common::run_with_stdin(&["grad", "a^T Wq x", "--wrt", "Wq"], "", KILL_AFTER).0;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "axᵀ");
    // A declared name inside a longer word is taken first: `XWq` is X Wq.
    reads_as("Wq: matrix(n, n); X: matrix(n, n)", "XWq", "X Wq", "X Wq");
    // Otherwise one name a letter, as in the tutorial, with a note on stderr.
    let (code, stdout, stderr) = simplify("x^T Ax");
    assert_eq!((code, stdout.as_str()), (Some(0), "xᵀAx"));
    assert!(stderr.contains("note: `Ax` is read as the product A x"), "{stderr}");
    // An undeclared `Wq` never passes silently: an error that says how it was read.
    let (code, _, stderr) = simplify("Wq x");
    assert_eq!(code, Some(2));
    assert!(stderr.contains("`Wq` is read as the product W q") && stderr.contains("`Wq: matrix`"), "{stderr}");
    // A letter that is a declared size is that number, and the note says so: `wd` (a
    // weight decay) is w times the size d (survey 30).
    let (code, _, stderr) = simplify("W: matrix(d, k); wd ||W||^2");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr
            .contains("`wd` is read as the product w d, where `d` stands for a size (a number); declare `wd: scalar`"),
        "{stderr}"
    );
    // Letters keep the precedence they had as separate names.
    reads_as(M, "xy^T", "x y^T", "xyᵀ");
    reads_as(M, "y^T Bx", "y^T B x", "yᵀBx");
    reads_as(M, "tr AX", "tr(A) X", "tr(A)X");
    reads_as(M, "Xtanh(A)", "X tanh(A)", "X tanh(A)");
    reads_as(M, "Aeinsum(\"ij,jk->ik\", B, X)", "A einsum(\"ij,jk->ik\", B, X)", "ABX");
    reads_as(M, "x^T dXy", "x^T dX y", "xᵀdXy");
    // A function of several letters, declared.
    reads_as("act: elementwise; x: vector(n)", "act(A x)", "act(A x)", "act(Ax)");
}

#[test]
fn notes_reach_json() {
    let (out, _) = common::run_with_stdin(&["simplify", "x^T Ax", "--format", "json"], "", KILL_AFTER);
    let v: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(v["notes"][0], "`Ax` is read as the product A x", "{v}");
    let query = r#"{"command": "simplify", "expr": "x^T Ax"}"#;
    let (out, _) = common::run_with_stdin(&["batch"], query, KILL_AFTER);
    let v: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(v["notes"][0], "`Ax` is read as the product A x", "{v}");
    // A derivative's and a derivation's notes come from the model they were taken in.
    for command in ["grad", "derive"] {
        let query = format!(r#"{{"command": "{command}", "expr": "x^T Ax", "wrt": ["x"]}}"#);
        let (out, _) = common::run_with_stdin(&["batch"], &query, KILL_AFTER);
        let v: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
        assert_eq!(v["notes"][0], "`Ax` is read as the product A x", "{command}: {v}");
    }
}

#[test]
fn a_capital_count_is_read_as_a_scalar_only_where_nothing_else_type_checks() {
    // `N` is a matrix by default; here only the scalar reading type-checks, so it is
    // taken, with a note. The value is that of the declared spelling.
    let gaussian = "N/2 ln(det(S)) + 1/2 tr(S^-1 (X - 1 m^T)^T (X - 1 m^T))";
    let (code, _, stderr) = simplify(gaussian);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("note: `N` is read as a scalar") && stderr.contains("`N: scalar`"), "{stderr}");
    let both = format!(
        "X: matrix(a, b); m: vector(b); S: matrix(b, b); N: scalar; {gaussian}; \
                        N/2 ln(det(S)) + 1/2 tr(S^-1 (X - 1 m^T)^T (X - 1 m^T))"
    );
    assert!(common::same_value(&both, &[1, 2, 3]));
    // Declared, it is what it is declared: the error stands.
    let (code, _, stderr) = simplify(&format!("N: matrix; {gaussian}"));
    assert_eq!(code, Some(2), "{stderr}");
    // Where one name read as a scalar is not enough, the error stands.
    let (code, _, stderr) = simplify("x^T A y + B + C");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("read as a scalar"), "{stderr}");
    // A mismatch of two tensors is never read anew: `A x + B` stays an error.
    let (code, _, stderr) = simplify("A x + B");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("read as a scalar"), "{stderr}");
    // A gradient needs a scalar function: where one name read as a scalar makes it so,
    // it is read so, with a note; declared, the error says the function is not scalar.
    let (out, _) = common::run_with_stdin(&["grad", "N/2 ln(det(S))", "--wrt", "S", "--check"], "", KILL_AFTER);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("`N` is read as a scalar") && stderr.contains("only a scalar function has a gradient"));
    let (out, _) = common::run_with_stdin(&["grad", "N: matrix; N/2 ln(det(S))", "--wrt", "S"], "", KILL_AFTER);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("needs a scalar function"), "{stderr}");
    // Of two readings that type-check, the one that makes the function scalar is taken
    // for a gradient (`μ` a vector, not `x` a scalar); `simplify` takes neither.
    let mahalanobis = "(x - mu)^T Sigma^-1 (x - mu)";
    let (out, _) = common::run_with_stdin(&["grad", mahalanobis, "--wrt", "x", "--check"], "", KILL_AFTER);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("`μ` is read as a vector") && stderr.contains("`x: scalar` would type-check too"));
    let (code, _, stderr) = simplify(mahalanobis);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`x: scalar` or `mu: vector`"), "{stderr}");
    // A vector left of a matrix is not read anew (`x A y` may mean xᵀAy); the hint
    // names the declaration beside the transpose.
    let (code, _, stderr) = simplify("ln det(K + s I)");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("xᵀA") && stderr.contains("if `s` is a scalar, declare `s: scalar`"), "{stderr}");
    let (code, _, stderr) = simplify("s: scalar; ln det(K + s I)");
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_number_added_to_a_tensor_is_added_to_every_entry() {
    // As NumPy broadcasts it, with a note; the value is that of the ones spelling.
    let (code, _, stderr) = simplify("x: vector(n); sum((x - 0.5).^2)");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("`1/2` is added to every entry"), "{stderr}");
    assert!(common::same_value("x: vector(n); sum((x - 0.5).^2); sum((x - (1/2) 1).^2)", &[3]));
    let (code, _, stderr) = simplify("A: matrix(n, n); A + 2");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("write `2 I`"), "{stderr}");
    // A scalar that is not a number is not broadcast; the hint says how to.
    let (code, _, stderr) = simplify("x: vector(n); x + x^T x");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("write `s 1`"), "{stderr}");
    // `ε 1` takes the shape of what it is added to, a matrix too, as `1` and `2 1` do;
    // it prints so beside an element-wise term, and as `ε(11ᵀ)` beside a name.
    let s = "S: matrix(m, n); ε: scalar";
    reads_as(s, "S .* S + ε 1", "S .* S + ε 1 1^T", "S ⊙ S + ε 1");
    reads_as(s, "ε 1 - S", "ε 1 1^T - S", "ε 11ᵀ − S");
}

#[test]
fn mean_divides_by_the_named_sizes() {
    // `mean(e)` is `sum(e)` over the product of e's sizes, as NumPy's mean is; the value
    // is that of the sum spelling, with the size the size it names.
    let mse = "X: matrix(N, d); w: vector(d); y: vector(N); mean((X w - y).^2)";
    let (code, out, stderr) = run(&["grad", mse, "--wrt", "w", "--check"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(out.starts_with("2Xᵀ(Xw − y)/N"), "{out}");
    assert!(common::same_value("X: matrix(N, d); W: matrix(d, k); mean(X W); sum(X W)/(N k)", &[1, 2, 3]));
    assert!(common::same_value("x: vector(4); mean(x); sum(x)/4", &[1, 2]));
    // A size is the size: the mean of ones is 1, whatever sizes are drawn.
    let (code, out, stderr) = run(&["eval", "X: matrix(N, d); mean(X.^0)"]);
    assert_eq!((code, out.trim()), (Some(0), "1"), "{stderr}");
    // Sizes the input leaves open have no name to divide by.
    let (code, _, stderr) = simplify("mean(X w - y)");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("sizes of shape") && stderr.contains("`X: matrix(N, d)`"), "{stderr}");
}

#[test]
fn hints_name_the_declaration_of_the_word_or_the_count() {
    // A word read as letters: the hint declares that word.
    let (code, _, stderr) = simplify("1/2 ||w||^2 + lam ||X w - y||^2");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`lam: scalar`"), "{stderr}");
    // A capital count left of a row (scikit-learn's C): the hint names `C: scalar`.
    let svm = "X: matrix(N,d); w: vector(d); y: vector(N); 1/2 w^T w + C 1^T relu(1 - y .* (X w))";
    let (code, _, stderr) = simplify(svm);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("if `C` is a scalar, declare `C: scalar`"), "{stderr}");
}

#[test]
fn the_summation_sign_and_fractions_of_one_character() {
    // `∑` is sum, with or without parentheses; `½` and its kin are exact fractions.
    reads_as("x: vector(n)", "∑(exp(x))", "sum(exp(x))", "sum(exp(x))");
    reads_as("x: vector(n)", "∑ x", "sum(x)", "sum(x)");
    reads_as("x: vector(n)", "½ x^T x", "1/2 x^T x", "(1/2)xᵀx");
    reads_as("x: vector(n)", "¾x", "3/4 x", "(3/4)x");
    let (code, stdout, _) =
        run(&["grad", "X: matrix(N, p); y: vector(N); w: vector(p); ½‖Xw − y‖² + ∑(w ⊙ w)", "--wrt", "w", "--check"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.starts_with("Xᵀ(Xw − y) + 2w"), "{stdout}");
}

#[test]
fn a_power_then_a_quotient_is_halved_not_a_fraction_exponent() {
    // `x^2/2` is x² halved, as in every language; a fraction as an exponent goes in
    // braces or parentheses (`λ^{1/2}`).
    let s = "c, lambda: scalar; x: vector(n); X: matrix(n, n)";
    reads_as(s, "c^2/2", "(c^2) / 2", "c²/2");
    // A bare exponent of ±1 against `/m` is a root (λ¹/2 would be written λ/2).
    reads_as(s, "lambda^1/2", "sqrt(lambda)", "λ^(1/2)");
    reads_as(s, "lambda^{1/2}", "sqrt(lambda)", "λ^(1/2)");
    reads_as(s, "lambda^(1/2)", "sqrt(lambda)", "λ^(1/2)");
    reads_as(s, "||x||^2/2", "(x^T x) / 2", "||x||²/2");
    reads_as(s, "x.^2/2", "(x .* x) / 2", "x^{⊙2}/2");
    reads_as(s, "x**2/2", "(x .* x) / 2", "x^{⊙2}/2");
    reads_as(s, "X^2/2", "(X X) / 2", "X²/2");
    reads_as(s, "c^-1/2", "1 / sqrt(c)", "c^(-1/2)");
    reads_as(s, "c^4/2", "(c^4) / 2", "c⁴/2");
    // Nor is a fraction not in lowest terms anyone's exponent: a quarter of a square.
    reads_as(s, "x.^2/4", "(x .* x) / 4", "x^{⊙2}/4");
    reads_as(s, "c^4/6", "(c^4) / 6", "c⁴/6");
    reads_as(s, "c^2 / 3", "(c^2) / 3", "c²/3");
    // A number written against a name after `/` divides with it; with a space it does not.
    reads_as(s, "c^2/2lambda", "(c^2) / (2 lambda)", "c²/(2λ)");
    reads_as(s, "1/2c ||x||^2", "(x^T x) / (2 c)", "(1/(2c))||x||²");
    reads_as(s, "1/2 c ||x||^2", "c (x^T x) / 2", "(1/2)c||x||²");
    reads_as(s, "exp(-||x||^2/2lambda^2)", "exp(-(x^T x) / (2 lambda^2))", "exp(−||x||²/(2λ²))");
    // A bare exponent of ±1 ends a product as it starts one (survey 29: `3 λ^1/2` was
    // (3λ)/2).
    reads_as(s, "3 lambda^1/2", "3 sqrt(lambda)", "3λ^(1/2)");
    reads_as(s, "x c^-1/2", "x / sqrt(c)", "x/c^(1/2)");
    reads_as(s, "||x||^2 c^-1/2", "(x^T x) / sqrt(c)", "||x||²c^(-1/2)");
    let (code, _, stderr) = simplify(&format!("{s}; x^T X^-1/2 x"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("matrix root"), "{stderr}");
    // With a space after the number, it divides alone, and a note says so.
    reads_as(s, "||x||^2 / 2 lambda^2", "(x^T x) lambda^2 / 2", "(||x||²/2)λ²");
    let (_, _, stderr) = simplify(&format!("{s}; ||x||^2 / 2 lambda^2"));
    assert!(stderr.contains("is read as (||x||^2 / 2) lambda^2"), "{stderr}");
    for halved in ["1/2 c ||x||^2", "c/2 ln(lambda)", "||x||^2/2lambda^2"] {
        let (_, _, stderr) = simplify(&format!("{s}; {halved}"));
        assert!(!stderr.contains("is read as"), "{halved}: {stderr}");
    }
    // Where the name is not a scalar, the number divides alone, and a note says so.
    reads_as(s, "1/2x^T X x", "(x^T X x) / 2", "(1/2)xᵀXx");
    let (_, _, stderr) = simplify(&format!("{s}; 1/2x^T X x"));
    assert!(stderr.contains("divides by 2 alone"), "{stderr}");
    // Where neither reading is the obvious one, or NumPy's would differ, the input is refused.
    for text in ["c^3/2", "c^2/3", "c^2^3", "x ** 2 ** 3", "2^3^2"] {
        let (code, _, stderr) = simplify(&format!("{s}; {text}"));
        assert_eq!(code, Some(2), "{text}: {stderr}");
        assert!(stderr.contains("hint:"), "{text}: {stderr}");
    }
    let (code, stdout, _) = run(&["grad", "x: vector(n); ||x||^2/2", "--wrt", "x"]);
    assert_eq!((code, stdout.as_str()), (Some(0), "x"));
}

#[test]
fn functions_of_other_tools_are_written_out() {
    let s = "x: vector(n)";
    reads_as(s, "softplus(x)", "ln(1 + exp(x))", "ln(1 + exp(x))");
    reads_as(s, "logsigmoid(x)", "ln(sigmoid(x))", "ln(sigmoid(x))");
    reads_as(s, "log_sigmoid(x)", "ln(sigmoid(x))", "ln(sigmoid(x))");
    // PyTorch's and JAX's log-softmax, by rows as softmax is.
    reads_as(s, "log_softmax(x)", "ln(softmax(x))", "ln(softmax(x))");
    reads_as("A: matrix(m, n)", "logsoftmax(A)", "ln(softmax(A))", "ln(softmax(A))");
    reads_as(s, "log1p(x .* x)", "ln(1 + x .* x)", "ln(1 + x ⊙ x)");
    reads_as(s, "expm1(x)", "exp(x) - 1", "exp(x) − 1");
    reads_as(s, "cosh(x)", "(exp(x) + exp(-x))/2", "(1/2)(exp(x) + exp(−x))");
    reads_as(s, "sinh(x)", "(exp(x) - exp(-x))/2", "(1/2)(exp(x) − exp(−x))");
    reads_as("t: scalar", "log10(t) + log2(t)", "ln(t)/ln(10) + ln(t)/ln(2)", "ln(t)/ln(10) + ln(t)/ln(2)");
    // Their derivatives come out classic.
    let grads = [
        ("X: matrix(N, p); w: vector(p); y: vector(N); sum(log1p(exp(X w))) - y^T X w", "Xᵀ(sigmoid(Xw) − y)"),
        ("X: matrix(N, p); w: vector(p); y: vector(N); sum(softplus(X w)) - y^T X w", "Xᵀ(sigmoid(Xw) − y)"),
        ("X: matrix(N, p); w: vector(p); y: vector(N); sum(ln(cosh(X w - y)))", "Xᵀtanh(Xw − y)"),
        ("X: matrix(N, p); w: vector(p); y: vector(N); -1^T log_sigmoid(y .* (X w))", "−Xᵀ(sigmoid(−y ⊙ Xw) ⊙ y)"),
    ];
    for (text, want) in grads {
        let (code, stdout, stderr) = run(&["grad", text, "--wrt", "w", "--check"]);
        assert_eq!(code, Some(0), "{text}: {stderr}");
        assert_eq!(stdout.lines().next(), Some(want), "{text}");
    }
}

#[test]
fn a_word_against_a_parenthesis_is_a_product_with_a_note() {
    // The probit link as statisticians write it: Φ is a name, so `Phi(Xw)` is ΦXw, said.
    let (code, _, stderr) = simplify("X: matrix(N, p); w: vector(p); Phi(X w)");
    assert_eq!(code, Some(0));
    assert!(stderr.contains("`Phi(…)` is read as the product") && stderr.contains("`Phi: elementwise`"), "{stderr}");
    // Declared, it is what it says, and a letter against a parenthesis is a product.
    for text in ["Phi: matrix(n, n); x: vector(n); Phi(x)", "A: matrix(n, n); x, y: vector(n); A(x + y)"] {
        let (code, _, stderr) = simplify(text);
        assert_eq!(code, Some(0));
        assert!(!stderr.contains("note"), "{text}: {stderr}");
    }
}

#[test]
fn what_other_tools_mean_is_refused_or_said() {
    // Functions other tools have that would read as something else: refused.
    for text in ["c: scalar; atanh(c)", "A: matrix(n, n); x: vector(n); x^T pinv(A) x", "c: scalar; exp2(c)"] {
        let (code, _, stderr) = simplify(text);
        assert_eq!(code, Some(2), "{text}: {stderr}");
        assert!(stderr.contains("unknown function"), "{text}: {stderr}");
    }
    // Declared, a name that can be declared is the user's function.
    let (code, stdout, _) = simplify("atan: elementwise; c: scalar; atan(c)");
    assert_eq!((code, stdout.as_str()), (Some(0), "atan(c)"));
    // Euler's number to a power is exp, and the hint says so.
    let (code, _, stderr) = simplify("x: vector(n); sum(e^x)");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("write exp(x)"), "{stderr}");
    // NumPy's indexing is not a bracket term.
    let (code, _, stderr) = simplify("x: vector(n); x[0]");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("indexing"), "{stderr}");
    // Readings that stand, each said in a note.
    for (text, printed, said) in [
        ("A, B: matrix(n, n); sum(A * B)", "sum(AB)", "matrix product"),
        ("c: scalar; tanh^{-1}(c)", "tanh(c)^{⊙-1}", "reciprocal"),
        ("x: vector(n); sqrt x^T x", "sqrt(xᵀ)x", "next factor only"),
        ("A, B: matrix(n, n); tr A B", "tr(A)B", "next factor only"),
    ] {
        let (code, stdout, stderr) = simplify(text);
        assert_eq!((code, stdout.as_str()), (Some(0), printed), "{text}");
        assert!(stderr.contains(said), "{text}: {stderr}");
    }
    // And none where nothing is in doubt.
    // (`1_d` is a size subscript, not a call: survey 28.)
    for text in [
        "A, B: matrix(n, n); tr(A) B",
        "x: vector(n); A: matrix(n, n); x^T * A * x",
        "x: vector(n); exp x",
        "X: matrix(N, d); X 1_d 1_d^T",
    ] {
        let (_, _, stderr) = simplify(text);
        assert!(!stderr.contains("note"), "{text}: {stderr}");
    }
}

#[test]
fn an_undeclared_variable_added_to_a_product_is_said_to_be_a_tensor() {
    // `Xw + b` with `b` undeclared: NumPy would broadcast a scalar intercept; bracket
    // reads a vector of Xw's size, and says so, with the declaration for the other.
    let glm = "X: matrix(N, p); y: vector(N); w: vector(p); sum(softplus(X w + b)) - y^T (X w + b)";
    let (code, stdout, stderr) = run(&["grad", glm, "--wrt", "w", "--wrt", "b"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("∇_b = sigmoid(Xw + b) − y"), "{stdout}");
    assert!(stderr.contains("`b` is not declared, so it is read as a vector of size N"), "{stderr}");
    assert!(stderr.contains("declare `b: scalar`"), "{stderr}");
    // Declared, or added to a name (`x − m`), there is nothing to say.
    let (_, _, stderr) = run(&["grad", &format!("b: scalar; {glm}"), "--wrt", "b"]);
    assert!(!stderr.contains("not declared"), "{stderr}");
    let (_, _, stderr) = run(&["grad", "x: vector(n); S: matrix(n, n); (x - m)^T S (x - m)", "--wrt", "m"]);
    assert!(!stderr.contains("not declared"), "{stderr}");
}

#[test]
fn a_note_is_printed_once_however_often_its_reading_occurs() {
    // Two `*` between matrices (survey 7 #89): one note.
    let (code, out, err) = run(&["grad", "sum(sum((X*W - Y).^2))/(2*N) + lambda/2*trace(W'*W)", "--wrt", "W"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().next(), Some("Xᵀ(XW − Y)/N + λW"));
    assert_eq!(err.matches("`*` between matrices is the matrix product").count(), 1, "{err}");
}

#[test]
fn a_row_softmax_written_out_is_softmax() {
    // Each row over its sum, the sum spread across the row: the cross-entropy of the
    // written-out softmax, and of log_softmax, is the classic one.
    let decls = "X: matrix(N, d); W: matrix(d, k); Y: matrix(N, k); Y 1 = 1";
    for loss in ["-sum(Y .* ln(exp(X W) ./ (exp(X W) 1 1^T)))", "-sum(Y .* log_softmax(X W))"] {
        let text = format!("{decls}; {loss}");
        let (code, stdout, stderr) = run(&["grad", &text, "--wrt", "W", "--check"]);
        assert_eq!(code, Some(0), "{loss}: {stderr}");
        assert_eq!(stdout.lines().next(), Some("Xᵀ(softmax(XW) − Y)"), "{loss}");
    }
    // NumPy's broadcasting is not read into `⊘`: the error says what to write.
    simplify_says("X: matrix(N, d); W: matrix(d, k); exp(X W) ./ (exp(X W) 1)", 2, "`v 1ᵀ`");
}

#[test]
fn module_prefixes_of_numpy_jax_and_pytorch_are_read_past() {
    // `np.sum`, `np.linalg.det`, `torch.sigmoid`, `F.softplus` are the functions they name.
    let s = "x: vector(n); A: matrix(n, n)";
    reads_as(s, "np.sum(np.log(np.exp(x)))", "sum(ln(exp(x)))", "sum(ln(exp(x)))");
    reads_as(s, "np.linalg.det(A) + np.trace(np.linalg.inv(A))", "det(A) + tr(A^-1)", "|A| + tr(A⁻¹)");
    reads_as(s, "torch.sigmoid(x) + F.softplus(x)", "sigmoid(x) + ln(1 + exp(x))", "sigmoid(x) + ln(1 + exp(x))");
    reads_as(s, "torch.nn.functional.log_softmax(x)", "ln(softmax(x))", "ln(softmax(x))");
    reads_as(s, "jnp.tanh(x) + math.log(2) x", "tanh(x) + ln(2) x", "tanh(x) + ln(2)x");
    // NumPy's and MATLAB's norm orders are the subscripted norms.
    reads_as(s, "norm(x, 1) + np.linalg.norm(x, 2)", "||x||_1 + ||x||", "sum(abs(x)) + ||x||");
    let (code, stdout, stderr) =
        run(&["grad", "X: matrix(N, p); y: vector(N); w: vector(p); np.sum((X @ w - y)**2) / 2", "--wrt", "w"]);
    assert_eq!((code, stdout.as_str()), (Some(0), "Xᵀ(Xw − y)"), "{stderr}");
    // What NumPy means otherwise than bracket, or bracket does not name, is refused with
    // what to write, at the name.
    for (text, says) in [
        ("A: matrix(n, n); B: matrix(n, n); np.dot(A, B)", "`A @ B`"),
        ("A: matrix(n, n); B: matrix(n, n); np.kron(A, B)", "order-4"),
        ("A: matrix(n, n); B: matrix(n, n); np.matmul(A, B)", "`A @ B`"),
        ("x: vector(n); np.maximum(x, 0)", "relu(x)"),
        ("x: vector(n); scipy.special.expit(x)", "sigmoid(x)"),
        ("x: vector(n); np.frobnicate(x)", "docs/syntax.md"),
        ("x: vector(n); norm(x, 3)", "norm(x, 1)"),
        ("x, y: vector(n); sum(x * y)", "`.*`"),
    ] {
        simplify_says(text, 2, says);
    }
}

#[test]
fn a_vector_on_the_left_of_at_is_a_row_as_in_numpy() {
    // NumPy's `@` with a 1-D array on the left: `r @ r` is rᵀr, `x @ A @ x` is xᵀAx. A
    // note says so; where a column multiplies (`A @ x`), nothing changes.
    reads_as(M, "x @ A @ x", "x^T A x", "xᵀAx");
    reads_as(M, "(A @ x - y) @ (A @ x - y)", "(A x - y)^T (A x - y)", "(Ax − y)ᵀ(Ax − y)");
    simplify_says(
        "A: matrix(n, n); x, y: vector(n); y @ A @ x",
        0,
        "`y`, a vector on the left of `@`, is read as a row",
    );
    let (_, _, stderr) = simplify("A: matrix(n, n); x: vector(n); A @ x");
    assert!(!stderr.contains("row"), "{stderr}");
    // A shape that does not multiply either way is still an error at the operator.
    simplify_says("A: matrix(m, m); x: vector(n); x @ A", 2, "inner dimensions differ");
}

#[test]
fn a_scalar_against_an_element_wise_operator_is_spread() {
    // MATLAB's and NumPy's `.*` and `./` spread a scalar over the tensor; a note says how.
    let s = "r: vector(n); rho: scalar";
    reads_as(s, "rho .* r", "rho r", "ρr");
    reads_as(s, "r ./ rho", "r / rho", "r/ρ");
    reads_as(s, "rho ./ r", "(rho 1) ./ r", "ρ 1 ⊘ r");
    simplify_says("r: vector(n); rho: scalar; rho ./ r", 0, "`rho`, a scalar, is divided by every entry in `rho ./ r`");
    // A number says what it does there, not that it is added.
    simplify_says("r: vector(n); 2 ./ r", 0, "`2` is divided by every entry");
}

#[test]
fn a_name_may_end_in_a_function_name_and_prints_apart_from_its_neighbours() {
    // `Kinv = K^-1` was read as K times inv(…), and `Kinv` declared was a syntax error
    // (survey 10); a function still ends a run of letters where it is called.
    let text = "K: symmetric(n); y: vector(n); Kinv = K^-1; 1/2 y^T Kinv y + 1/2 ln det(K)";
    let g = bracket::grad(text, &["K"]).unwrap().remove(0);
    // A name of several letters is spaced from the letters next to it in Unicode:
    // `Kinvyyᵀ` read as one word.
    assert_eq!(g.answer.render(bracket::Format::Unicode), "(1/2)(Kinv − Kinv yyᵀKinv)");
    let g = bracket::grad("A: matrix(n, n); trA = tr(A); trA^2", &["A"]).unwrap().remove(0);
    assert_eq!(g.answer.render(bracket::Format::Unicode), "2trA I_n");
    reads_as("Kexp: matrix(n, n); x: vector(n)", "Kexp x", "Kexp x", "Kexp x");
    reads_as("X, A: matrix(n, n)", "Xtanh(A)", "X tanh(A)", "X tanh(A)");
    reads_as("X, A: matrix(n, n)", "Xtanh^2(A)", "X tanh(A).^2", "X tanh²(A)");
}

#[test]
fn a_division_by_one_is_no_division() {
    // `x/1` stayed `x/1`, and `sum(x)/(2 − 1)` `sum(x)/1` (survey 19): the rules read a
    // quotient as the divisor's reciprocal times it, and 1⁻¹ was not the number 1.
    for (text, printed) in
        [("x/1", "x"), ("sum(x)/(2 - 1)", "sum(x)"), ("x/(-1)", "−x"), ("x/2", "x/2"), ("x/(3 - 1)", "x/2")]
    {
        let (code, stdout, stderr) = simplify(&format!("x: vector(n); {text}"));
        assert_eq!(code, Some(0), "{text}: {stderr}");
        assert_eq!(stdout, printed, "{text}");
    }
}
