//! The LaTeX printer's output is accepted by a real renderer: KaTeX (npm, installed by
//! scripts/setup.sh into tests/latex/node_modules) renders every expression and every
//! derivation of the worked examples, every LaTeX block in docs/examples, and a list of
//! every operator. Under CI a missing KaTeX fails the test; elsewhere it is skipped with
//! a note.

use bracket::{derive, read, render, Format};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const EXPRESSIONS: &[&str] = &[
    "x^T A x",
    "A B",
    "A^-1",
    "A^-T",
    "A^3",
    "A.^2",
    "tanh(A).^2",
    "A ⊙ B",
    "A ⊘ B",
    "A ⊗ x",
    "A · B",
    "A ·_1 B",
    "A^{12} ⊙^{12} T",
    "T^{3~1} ⊙^{1 2} A",
    "tr(A)",
    "det(A)",
    "|A|",
    "diag(x)",
    "sum(A)",
    "||x||^2",
    "exp(A)",
    "ln(x)",
    "sigmoid'(x)",
    "f'(A)",
    "softmax(A)",
    "softmax^{2}(A)",
    "(T)_{312}",
    "einsum(\"ij,jk->ik\", A, B)",
    "A_1 [~A_2 B_1] B_2",
    "[~1 x] iota y",
    "{A^-1}_{21}",
    "λ x / N",
    "1/(2N) ||X W - Y||^2",
    "-(1/N)(Y - Z_L)",
    "Z_{L-1} W_1",
    "d(X^-1)",
    "dX",
    "x x^T",
    "T_{1[23]}",
    "W1 x12 + α2 b",
];

fn katex_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/latex")
}

fn have_katex() -> bool {
    katex_dir().join("node_modules/katex").is_dir()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn latex_strings() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let decls = "A, B: matrix(n, n); T: tensor(n, n, n); x, y: vector(n); λ, N: scalar; f: elementwise";
    for e in EXPRESSIONS {
        let src = format!("{decls}; {e}");
        let m = read(&src).unwrap_or_else(|err| panic!("{}", err.render(&src)));
        out.push((e.to_string(), render(m.main_expr().unwrap(), Format::Latex)));
        out.push((format!("{e} (bracket)"), bracket::to_bracket(m.main_expr().unwrap(), Format::Latex)));
    }
    // Every expression and every derivation of the worked examples.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let Ok(m) = read(&text) else { continue };
        for e in &m.exprs {
            out.push((file.display().to_string(), render(e, Format::Latex)));
        }
        for q in &m.queries {
            let f = render(&q.expr, Format::Ascii);
            for w in &q.wrt {
                if let Ok(d) = derive(&f, w) {
                    out.push((format!("{} derivation", file.display()), d.render(Format::Latex)));
                }
            }
        }
    }
    // Reasons with Greek letters, ½ and ᵀ in prose (survey 19 found them raw).
    for (f, w) in [
        ("tau: scalar; x: vector(n); tau x^T x", "tau"),
        ("L: symmetric(n); x, m: vector(n); 1/2 (x - m)^T L (x - m) - 1/2 ln det(L)", "L"),
    ] {
        out.push((format!("{f} derivation"), derive(f, w).unwrap().render(Format::Latex)));
    }
    // Every LaTeX block of the generated pages.
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples");
    let mut pages: Vec<_> = std::fs::read_dir(&docs).unwrap().map(|f| f.unwrap().path()).collect();
    pages.sort();
    for page in pages.iter().filter(|p| p.extension().is_some_and(|e| e == "md")) {
        let text = std::fs::read_to_string(page).unwrap();
        for block in text.split("```latex\n").skip(1) {
            let tex = block.split("\n```").next().unwrap_or_default();
            out.push((format!("{} (LaTeX block)", page.display()), tex.to_string()));
        }
    }
    out
}

#[test]
fn katex_renders_every_latex_output() {
    if !have_katex() {
        assert!(std::env::var("CI").is_err(), "CI must provide node and KaTeX (scripts/setup.sh installs it)");
        eprintln!("skipped: KaTeX is not installed (run scripts/setup.sh)");
        return;
    }
    let items = latex_strings();
    assert!(items.len() > 60);
    assert!(
        items.iter().filter(|(what, _)| what.ends_with("(LaTeX block)")).count() > 40,
        "LaTeX blocks of docs/examples"
    );
    let tex: Vec<&str> = items.iter().map(|(_, t)| t.as_str()).collect();
    let mut child = Command::new("node")
        .arg(katex_dir().join("check.js"))
        .current_dir(katex_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child.stdin.take().unwrap().write_all(serde_json::to_string(&tex).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let results: Vec<Option<String>> = serde_json::from_slice(&out.stdout).expect("JSON from check.js");
    let failures: Vec<String> = items
        .iter()
        .zip(&results)
        .filter_map(|((what, tex), r)| r.as_ref().map(|e| format!("{what}\n  {tex}\n  {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} LaTeX strings fail in KaTeX:\n{}",
        failures.len(),
        items.len(),
        failures.join("\n")
    );
}

#[test]
fn derivations_in_latex_are_ascii() {
    // pdfLaTeX takes no `τ`, `½` or `²` outside math: a reason's prose and a second
    // derivative's label are written with math-mode commands (survey 19).
    let cases = [
        vec!["derive", "tau: scalar; x: vector(n); tau x^T x", "--wrt", "tau", "--format", "latex"],
        vec![
            "derive",
            "L: symmetric(n); x, m: vector(n); 1/2 (x - m)^T L (x - m) - 1/2 ln det(L)",
            "--wrt",
            "L",
            "--format",
            "latex",
        ],
        vec!["derive", "x: vector(n); A: matrix(n, n); x^T A x", "--wrt", "x", "--order", "2", "--format", "latex"],
    ];
    for args in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_bracket")).args(&args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}");
        assert!(text.is_ascii(), "{args:?}:\n{text}");
    }
}
