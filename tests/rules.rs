//! Soundness of every rewrite rule: each rule of `rules/*.rules` is instantiated with
//! random tensors of every fitting shape (scalars, vectors, square and non-square
//! matrices, declared symmetric matrices, rational constants where a guard asks for
//! one, ones vectors where it asks for ones), and both sides must evaluate equal, exactly in rationals where the rule has no
//! transcendental function. The right side compared is the one the e-graph builds: its
//! left pattern matched on the elaborated left side, the guards checked and its right
//! pattern instantiated, so the test checks the rewrite the e-graph applies, not just
//! the text. Every rule needs at least one checked instance.
//! The Rust appliers are checked on inputs of their own below. Skip list: none.

mod common;

use bracket::{read, rules, Guard, APPLIERS};
use common::{values_sized, Values};

/// The shapes a free variable is tried with.
const KINDS: &[&str] = &["scalar", "vector(n)", "matrix(n, n)", "matrix(n, m)", "matrix(m, n)"];
/// Constants substituted for variables guarded `constant` or `nonzero`.
const CONSTANTS: &[&str] = &["(3/7)", "(-5/4)", "(2/9)", "(7/2)"];

fn vars(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut k = 0;
    while k < chars.len() {
        if chars[k] == '?' {
            let name: String = chars[k + 1..].iter().take_while(|c| c.is_ascii_alphanumeric()).collect();
            k += 1 + name.len();
            if !out.contains(&name) {
                out.push(name);
            }
        } else {
            k += 1;
        }
    }
    out
}

fn substitute(text: &str, subs: &[(String, String)]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut k = 0;
    while k < chars.len() {
        if chars[k] == '?' {
            let name: String = chars[k + 1..].iter().take_while(|c| c.is_ascii_alphanumeric()).collect();
            k += 1 + name.len();
            let with = subs.iter().find(|(v, _)| *v == name).map(|(_, s)| s.clone()).unwrap_or(name);
            out.push(' ');
            out.push_str(&with);
            out.push(' ');
        } else {
            out.push(chars[k]);
            k += 1;
        }
    }
    out
}

/// Every assignment of kinds to the variables, as (declarations, substitutions).
fn instances(rule: &bracket::Rule) -> Vec<(String, Vec<(String, String)>)> {
    let names = vars(&rule.lhs);
    let guard = |v: &str, g: Guard| rule.guards.iter().any(|(h, w)| *h == g && w == v);
    // Choices per variable: (declaration or none, substitution text).
    let mut choices: Vec<Vec<(Option<String>, String)>> = Vec::new();
    for (k, v) in names.iter().enumerate() {
        let mut c: Vec<(Option<String>, String)> = Vec::new();
        // A variable guarded `ones` is a ones vector of either size.
        if guard(v, Guard::Ones) {
            c.push((None, "ones(n)".to_string()));
            c.push((None, "ones(m)".to_string()));
            choices.push(c);
            continue;
        }
        if guard(v, Guard::Constant) || guard(v, Guard::Nonzero) {
            c.push((None, CONSTANTS[k % CONSTANTS.len()].to_string()));
            choices.push(c);
            continue;
        }
        let kinds: Vec<&str> = if guard(v, Guard::Scalar) {
            vec!["scalar"]
        } else if guard(v, Guard::Symmetric) {
            vec!["symmetric(n)", "scalar"]
        } else if guard(v, Guard::Square) {
            vec!["matrix(n, n)"]
        } else if guard(v, Guard::Vector) || guard(v, Guard::Column) {
            vec!["vector(n)"]
        } else if guard(v, Guard::Nonscalar) {
            KINDS[1..].to_vec()
        } else {
            KINDS.to_vec()
        };
        for kind in kinds {
            // A compound class (no name in it) is a difference of two names.
            if guard(v, Guard::Compound) {
                c.push((Some(format!("{v}, {v}2: {kind}")), format!("({v} - {v}2)")));
                continue;
            }
            let text = if guard(v, Guard::Zero) { format!("(0 {v})") } else { v.clone() };
            c.push((Some(format!("{v}: {kind}")), text));
        }
        // The guard `vector` holds for a row vector too (a 1×n matrix).
        if guard(v, Guard::Vector) {
            c.push((Some(format!("{v}: vector(n)")), format!("({v}^T)")));
        }
        choices.push(c);
    }
    let mut out = vec![(Vec::<String>::new(), Vec::<(String, String)>::new())];
    for (v, c) in names.iter().zip(&choices) {
        let mut next = Vec::new();
        for (decls, subs) in &out {
            for (decl, text) in c {
                let mut d = decls.clone();
                d.extend(decl.clone());
                let mut s = subs.clone();
                s.push((v.clone(), text.clone()));
                next.push((d, s));
            }
        }
        out = next;
    }
    out.into_iter().map(|(d, s)| (d.join("; "), s)).collect()
}

#[test]
fn every_rule_keeps_the_value() {
    let set = rules();
    assert!(set.rules.len() >= 40, "only {} rules loaded", set.rules.len());
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for rule in &set.rules {
        let mut checked = 0;
        for (decls, subs) in instances(rule) {
            let lhs = substitute(&rule.lhs, &subs);
            let rhs = substitute(&rule.rhs, &subs);
            let src = if decls.is_empty() { format!("{lhs}\n{rhs}") } else { format!("{decls}\n{lhs}\n{rhs}") };
            let Ok(mut model) = read(&src) else { continue };
            if model.exprs.len() != 2 || model.exprs[0].shape != model.exprs[1].shape {
                continue;
            }
            // The e-graph's own rewrite of the left side replaces the text's right side.
            let Some(applied) = rule.apply_at_root(&model.exprs[0], &model) else { continue };
            model.exprs[1] = applied;
            // A rule holds where its left side is defined (`sqrt(s)² = s` for s ≥ 0): a
            // draw where it is not (a NaN) is passed over, and three draws where it is are
            // compared.
            let mut defined = 0;
            for seed in 1..=12 {
                let equal = match values_sized(&model, seed, 4) {
                    Values::Exact(v) => v[0] == v[1],
                    Values::Float(v) if v[0].iter().any(|x| !x.is_finite()) => continue,
                    Values::Float(v) => bracket::close(&v[0], &v[1], 1e-9),
                };
                if !equal {
                    failures.push(format!("{} ({}): {src} differs at seed {seed}", rule.name, rule.place));
                }
                defined += 1;
                if defined == 3 {
                    break;
                }
            }
            if defined > 0 {
                checked += 1;
            }
        }
        if checked == 0 {
            failures.push(format!("{} ({}): no instance could be checked", rule.name, rule.place));
        }
        report.push(format!("{:40} {checked} instances", rule.name));
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Inputs for each Rust applier, each simplified and compared with its input.
const APPLIER_CASES: &[(&str, &[&str])] = &[
    (
        "raise-network",
        &[
            "A_1[~A_2 B_1]B_2",
            "B_2[B_1 ~A_1]A_2",
            "einsum(\"ij,kj->ik\", A, B)",
            "einsum(\"ij,ij->ij\", A, B)",
            "einsum(\"ii->\", A)",
            "[a ~dX_1][~dX_2 b]",
            "[B_1 G_1][~G_2 W_2][B_2 W_1]",
            "x: vector(n); A_1[~A_2 x] + [~x A_1]A_2",
            "einsum(\"ij,jk,kl->il\", A, B, C)",
        ],
    ),
    ("scalar-unit", &["1/2 A + 1/2 A", "3/4 (4/3 A)", "(1/3 + 2/3) x"]),
    (
        "function-softmax-row-sums",
        &[
            "Z: matrix(N, k); softmax(Z) 1",
            "Z: matrix(N, k); x: vector(N); P = softmax(Z); x .* (P 1)",
            "Z: matrix(N, k); C: matrix(N, N); diag(softmax(Z) 1) C",
        ],
    ),
    (
        "hadamard-power-spread-rows",
        &["v: vector(n); G: matrix(n, m); G ⊙ (v 1_m^T).^-2", "v: vector(n); G: matrix(n, m); (v 1_m^T).^3 + G"],
    ),
    (
        "hadamard-power-spread-columns",
        &[
            "v: vector(m); G: matrix(n, m); (ones(n) v^T).^-2 ⊙ G",
            "v: vector(m); G: matrix(n, m); G ⊘ (ones(n) v^T).^(1/2)",
        ],
    ),
    (
        "scalar-ones-contract",
        &[
            "Z: matrix(N, k); diag(1_N 1_k^T 1_k) Z",
            "Y: matrix(N, k); Y + 1_N 1_k^T 1_k 1_k^T",
            "x: vector(2); ones(2) ones(3)^T ones(3) + x",
        ],
    ),
    ("scalar-zero-absorb", &["(A - A) B", "x (y - y)^T", "(A - A) .* B", "kron(x - x, y)", "(A - A)^T"]),
    ("scalar-factor-opposite", &["2 A - 2 B", "x: vector(n); 1/2 x - 1/2 y", "-3 A + 3 B"]),
    ("scalar-sum-vector", &["x: vector(n); sum(x) - 1^T x", "a, b: vector(n); sum(a .* b)", "sum(A x) + 1^T y"]),
    ("hadamard-divide-ones", &["A ./ A", "x: vector(n); (x ./ x)^T y", "B + exp(A) ./ exp(A)"]),
    (
        "identity-diag-ones",
        &["P: matrix(n, n); diag(diag(1 ./ P) .* diag(P)) A", "x: vector(n); diag(x ./ x) A", "diag(A ./ A)^T x"],
    ),
    ("function-ln-prime-reciprocal", &["ln'(A)", "x: vector(n); X^T ln'(X x)", "ln'(exp(A)) .* B"]),
    ("function-sqrt-prime-reciprocal", &["sqrt'(exp(A))", "x: vector(n); X^T sqrt'(exp(X x))", "sqrt'(exp(A)) .* B"]),
    ("function-tanh-prime", &["tanh'(A)", "H = tanh(X W); G .* tanh'(X W)", "x: vector(n); h = tanh(x); tanh'(x)^T y"]),
    (
        "function-sigmoid-prime",
        &["sigmoid'(A)", "P = sigmoid(X W); G .* sigmoid'(X W)", "x: vector(n); s = sigmoid(x); a^T sigmoid'(x)"],
    ),
    (
        "trace-cycle",
        &[
            "tr(A B C) - tr(C A B)",
            "A, B, C: matrix(n); tr(A B C) - 2 tr(B C A)",
            "A, B: matrix(n); tr(A B^T) + tr(B^T A)",
            "X: matrix(n, n); tr(A X^-1 B) - tr(B A X^-1)",
        ],
    ),
    (
        "transpose-scalar",
        &[
            "v, w: vector(n); v^T w - w^T v",
            "a, b, c: vector(n); a^T b + c^T c - 2 b^T a",
            "a, b: vector(n); X: matrix(n, n); a^T X b - b^T X^T a + a^T a",
            "a, b: vector(n); (a^T b)(b^T a)",
            "A, B: matrix(n, m); tr(A^T B) - tr(B^T A) + dot(A, A)",
            "X: matrix(n, m); a: vector(n); b: vector(m); a^T X b - 2 tr(X b a^T)",
        ],
    ),
    ("inverse-cancel", &["X^-1 X", "X X^-1", "A X^-1 X B", "A, B: matrix(n, n); (A B)^-1 A B"]),
    (
        "product-power",
        &[
            "X X",
            "X^2 X",
            "X X^2 X",
            "X^-1 X^-1",
            "X^-2 X",
            "X^T X^T X^T",
            "λ λ",
            "X: matrix(n, n); (1/det(X)^2) det(X) X",
        ],
    ),
    (
        "hadamard-power",
        &[
            "x: vector(n); x .* x.^2",
            "x: vector(n); x .* x .* x",
            "X: matrix(n, p); w: vector(p); y: vector(n); y ./ ((X w) .* (X w).^2)",
            "x: vector(n); (x + 1).^-2 .* (x + 1)",
            "A, B: matrix(n, m); (A - B).^2 .* (A - B).^3 .* A",
        ],
    ),
    (
        "elementwise-cancel",
        &[
            "x: vector(n); (x .* y) ./ x",
            "x: vector(n); sigmoid'(x) ./ sigmoid(x) - 1 + sigmoid(x)",
            "x: vector(n); (1 - tanh(x) .* tanh(x)) - tanh'(x) + x",
            "x: vector(n); (x .* x - y .* y) ./ (x - y)",
            "A .* B ./ (A .* C) + ln'(C) .* B",
            "a, b: vector(n); 2 (a + b).^-2 - 8 (b ./ (a + b).^3)",
            // σ(−z) = 1 − σ(z) meets σ'(z) = σ(z) ⊙ (1 − σ(z)).
            "z, y: vector(n); (y ./ sigmoid(-z) + z ./ sigmoid(z)) .* sigmoid'(z)",
        ],
    ),
    (
        "sum-regroup",
        &[
            "A B + C + A D",
            "B A + C - 2 D A",
            "A + B - A",
            "A .* B + C + A .* D",
            "x: vector(n); A x + B x + A y - B y",
        ],
    ),
];

#[test]
fn every_applier_keeps_the_value() {
    for (name, _) in APPLIERS {
        assert!(APPLIER_CASES.iter().any(|(n, _)| n == name), "applier {name} has no cases");
    }
    let mut failures = Vec::new();
    for (name, cases) in APPLIER_CASES {
        for case in *cases {
            let answer = bracket::simplify(case).unwrap_or_else(|e| panic!("{case}: {e}"));
            let model = read(case).expect("reads");
            let mut m2 = model.clone();
            m2.exprs.push(answer.expr.clone());
            for seed in [1, 2, 3] {
                let equal = match values_sized(&m2, seed, 4) {
                    Values::Exact(v) => v[v.len() - 2] == v[v.len() - 1],
                    Values::Float(v) => bracket::close(&v[v.len() - 2], &v[v.len() - 1], 1e-9),
                };
                if !equal {
                    failures.push(format!("{name}: {case} → {} differs", answer.render(bracket::Format::Unicode)));
                }
            }
            if bracket::contains_network(&answer.expr) && *name == "raise-network" {
                failures.push(format!("{name}: {case} stayed a network"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A bad line in a rule file is an error naming the file, line and column.
#[test]
fn bad_rule_lines_are_hard_errors() {
    let cases: &[(&str, &str)] = &[
        ("x-a: ?A + => ?A", "rules/x.rules:1:"),
        ("x-a: ?A => ?B", "rules/x.rules:1:12: `?B` on the right is not bound"),
        ("x-a: ?A ?c => ?c ?A if tiny(?c)", "unknown guard `tiny`"),
        ("y-a: ?A => ?A", "must be kebab-case and start with `x-`"),
        ("x-a: ?A", "expected `=>`"),
        ("x-a: ?A => ?A\nx-a: ?B => ?B", "rules/x.rules:2:1: the rule name `x-a` is used already"),
        ("x-a: ?A => I", "a `1` or `I` on the right side has no size"),
    ];
    for (text, want) in cases {
        let err = match bracket::load_rules(&[("x", text)]) {
            Err(e) => e,
            Ok(_) => panic!("{text} loaded"),
        };
        assert!(err.contains(want), "{text}: {err}");
    }
}

/// `rules/prepared.txt` is the rule files read ahead of time (start-up loads it instead
/// of parsing every side): it must be made from the files as they are, and reading it
/// must give the same rules as reading the files.
#[test]
fn the_prepared_table_is_current() {
    let fresh = bracket::prepare_rules(bracket::RULE_FILES).unwrap_or_else(|e| panic!("{e}"));
    if std::env::var_os("BRACKET_UPDATE_RULES").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/prepared.txt");
        std::fs::write(path, &fresh).unwrap();
        return;
    }
    assert!(
        fresh == bracket::PREPARED_RULES,
        "rules/prepared.txt is stale: run `BRACKET_UPDATE_RULES=1 cargo test --release --test rules` and rebuild"
    );
    // The rules as start-up loads them (from the table) are the rules of the files.
    assert_eq!(bracket::rules_table(bracket::rules(), bracket::RULE_FILES), fresh);
}
