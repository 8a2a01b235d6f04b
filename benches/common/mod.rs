//! Shared by the benches: the worked examples of `examples/` and the generators of the
//! scaling series (the same inputs as `benches/scaling.py`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// What an example file asks for, and so what its main call is.
pub enum Call {
    /// Expressions to simplify (`examples/notation`): one `bracket::simplify` each.
    Simplify(Vec<String>),
    /// `grad … wrt …` queries without definitions: `bracket::answer_queries`.
    Queries(String),
    /// A program (definitions and a `grad J wrt …` query): `bracket::backprop_with`
    /// without e-graph explanations, as `bracket grad PROGRAM` answers it.
    Program(String),
}

/// One worked example: `section/stem` and its main call.
pub struct Example {
    pub name: String,
    pub call: Call,
}

/// The example files under `examples/`, in the order `bracket examples` reads them.
pub fn examples() -> Vec<Example> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut sections: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("examples/")
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| p.is_dir())
        .collect();
    sections.sort();
    let mut out = Vec::new();
    for section in sections {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&section)
            .expect("section")
            .filter_map(|d| d.ok().map(|d| d.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("example");
            let body: String = text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
            let model = bracket::read(&body).expect("every example reads");
            let call = if !model.exprs.is_empty() {
                // Each expression line on its own, after the declarations.
                let lines: Vec<&str> = body.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                let decls: Vec<&str> = lines.iter().copied().filter(|l| is_declaration(l)).collect();
                let exprs = lines
                    .iter()
                    .filter(|l| !is_declaration(l))
                    .map(|l| if decls.is_empty() { l.to_string() } else { format!("{}\n{l}", decls.join("\n")) })
                    .collect();
                Call::Simplify(exprs)
            } else if !model.definitions.is_empty() {
                Call::Program(body)
            } else {
                Call::Queries(body)
            };
            let name = format!(
                "{}/{}",
                section.file_name().unwrap().to_string_lossy(),
                file.file_stem().unwrap().to_string_lossy()
            );
            out.push(Example { name, call });
        }
    }
    out
}

/// `A, B: tensor(n, n, n)`, `f: elementwise`, `N: scalar`: a line that declares names.
fn is_declaration(line: &str) -> bool {
    match line.split_once(':') {
        Some((names, _)) => names.split(',').all(|n| {
            let n = n.trim();
            !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_')
        }),
        None => false,
    }
}

/// Runs an example's main call; panics if it fails (a bench of an error is no bench).
pub fn run(call: &Call) -> usize {
    match call {
        Call::Simplify(exprs) => exprs.iter().map(|e| bracket::simplify(e).expect("simplify").expr.order()).sum(),
        Call::Queries(text) => bracket::answer_queries(text).expect("queries").len(),
        Call::Program(text) => bracket::backprop_with(text, bracket::Explain::Result).expect("backprop").len(),
    }
}

/// `aᵀX₁X₂…X_nb` and the names X₁ … X_n.
pub fn chain(n: usize) -> (String, Vec<String>) {
    let xs: Vec<String> = (1..=n).map(|i| format!("X{i}")).collect();
    (format!("a^T {} b", xs.join(" ")), xs)
}

/// An L-layer tanh MLP with a squared loss, as a program ending in `grad J wrt W1, b1, …`.
pub fn mlp(layers: usize) -> String {
    let mut lines = vec!["N: scalar".to_string(), "A1 = X W1 + 1 b1^T".into(), "Z1 = tanh(A1)".into()];
    for l in 2..=layers {
        lines.push(format!("A{l} = Z{} W{l} + 1 b{l}^T", l - 1));
        lines.push(format!("Z{l} = tanh(A{l})"));
    }
    lines.push(format!("J = 1/(2N) (Z{layers} - Y) · (Z{layers} - Y)"));
    let params: Vec<String> = (1..=layers).flat_map(|l| [format!("W{l}"), format!("b{l}")]).collect();
    lines.push(format!("grad J wrt {}", params.join(", ")));
    lines.join("\n")
}

/// The RNN of `examples/programs/6_4_rnn_three_steps.txt` unrolled for τ steps.
pub fn rnn(steps: usize) -> String {
    let mut lines = vec!["N: scalar".to_string()];
    for t in 1..=steps {
        lines.push(format!("A{t} = Z{} W + X{t} U + 1 b^T", t - 1));
        lines.push(format!("Z{t} = tanh(A{t})"));
        lines.push(format!("O{t} = Z{t} V + 1 c^T"));
    }
    let terms: Vec<String> = (1..=steps).map(|t| format!("ln(s^1(O{t})) · Y{t}")).collect();
    lines.push(format!("J = -1/N ({})", terms.join(" + ")));
    lines.push("grad J wrt W, U, b, V, c".into());
    lines.join("\n")
}

/// `xᵀA₁x + … + xᵀA_kx`, by x.
pub fn quadratic_forms(k: usize) -> String {
    (1..=k).map(|i| format!("x^T A{i} x")).collect::<Vec<_>>().join(" + ")
}
