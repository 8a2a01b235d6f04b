//! Random well-typed bracket terms, built from the notation's definitions rather than
//! from the printer: portions of vectors, matrices and a 3-tensor, square brackets that
//! fuse dims, bars that sum them (on a bracket or on a lone portion), ones tensors as
//! bracket members, and `@` tags where a name occurs more than once. Each term is
//! compared exactly with the einsum that says the same by indices; its simplest form
//! keeps the value; its bracket form reads back to an equal value. Cases:
//! `PROPTEST_CASES`.

mod common;
use bracket::{read, render, Format};
use common::{values_sized, Values};
use proptest::prelude::*;

const DECLS: &str = "A, B: matrix(n, n); x, y, u, v: vector(n); T: tensor(n, n, n)";

/// Whether the expressions of `text` all have one value, on three random draws.
fn all_equal(text: &str) -> bool {
    let model = read(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    [1, 2, 3].iter().all(|&s| match values_sized(&model, s, 3) {
        Values::Exact(v) => v.windows(2).all(|w| w[0] == w[1]),
        Values::Float(v) => v.windows(2).all(|w| bracket::close(&w[0], &w[1], 1e-9)),
    })
}

/// A bracket term and the einsum of the same network.
#[derive(Debug, Clone)]
struct Case {
    term: String,
    einsum: String,
}

fn case() -> impl Strategy<Value = Case> {
    let factor = proptest::sample::select(vec![("A", 2), ("B", 2), ("x", 1), ("y", 1), ("T", 3)]);
    (
        proptest::collection::vec((factor, proptest::collection::vec(0..4usize, 3)), 1..5),
        proptest::collection::vec(any::<bool>(), 4),
        proptest::collection::vec(any::<bool>(), 4),
        Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(factors, summed, ones, order, nest, iota)| {
            let c = build(&factors, &summed, &ones, &order);
            let c = if nest { nested(c) } else { c };
            if iota {
                Case { term: format!("iota {}", c.term), einsum: format!("iota ({})", c.einsum) }
            } else {
                c
            }
        })
}

/// The term: one group per index label, in `order`; a label on two or more slots is a
/// square bracket of its portions (a ones member where `ones` says), on one slot a lone
/// portion; a summed label is barred on its first member.
fn build(factors: &[((&str, usize), Vec<usize>)], summed: &[bool], ones: &[bool], order: &[usize]) -> Case {
    let letters = ['i', 'j', 'k', 'l'];
    let count = |name: &str| factors.iter().filter(|((n, _), _)| *n == name).count();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    // Each occurrence's written name: tagged where the name repeats.
    let names: Vec<String> = factors
        .iter()
        .map(|((n, _), _)| {
            let k = seen.iter().filter(|(m, _)| m == n).count() + 1;
            seen.push((n, k));
            if count(n) > 1 {
                format!("{n}@{k}")
            } else {
                n.to_string()
            }
        })
        .collect();
    let mut groups: Vec<String> = Vec::new();
    let mut output = String::new();
    for &label in order {
        let members: Vec<String> = factors
            .iter()
            .enumerate()
            .flat_map(|(f, ((_, dims), labels))| {
                let name = &names[f];
                labels[..*dims]
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| **l == label)
                    .map(move |(p, _)| format!("{name}_{}", p + 1))
                    .collect::<Vec<_>>()
            })
            .collect();
        if members.is_empty() {
            continue;
        }
        let bar = if summed[label] { "~" } else { "" };
        if !summed[label] {
            output.push(letters[label]);
        }
        if members.len() == 1 && !ones[label] {
            groups.push(format!("{bar}{}", members[0]));
        } else {
            let mut inside = vec![format!("{bar}{}", members[0])];
            inside.extend(members[1..].iter().cloned());
            if ones[label] {
                inside.push("1".into());
            }
            groups.push(format!("[{}]", inside.join(" ")));
        }
    }
    let specs: Vec<String> =
        factors.iter().map(|((_, dims), labels)| labels[..*dims].iter().map(|&l| letters[l]).collect()).collect();
    let operands: Vec<&str> = factors.iter().map(|((n, _), _)| *n).collect();
    Case {
        term: groups.join(" "),
        einsum: format!("einsum(\"{}->{}\", {})", specs.join(","), output, operands.join(", ")),
    }
}

/// The first square bracket's first member with a closed barred bracket inside it,
/// `[(A_1 [ū v]) x]`: a scalar factor uᵀv at any depth (NOTATION.md §3).
fn nested(c: Case) -> Case {
    let Some(at) = c.term.find('[') else { return c };
    let rest = &c.term[at + 1..];
    let end = rest.find([' ', ']']).unwrap_or(rest.len());
    let term = format!("{}[({} [~u v]){}", &c.term[..at], &rest[..end], &rest[end..]);
    let (spec, tail) = c.einsum.split_once("->").expect("an einsum");
    let (out, operands) = tail.split_once("\", ").expect("operands");
    let operands = operands.trim_end_matches(')');
    Case { term, einsum: format!("{spec},m,m->{out}\", {operands}, u, v)") }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(128),
        ..ProptestConfig::default()
    })]
    #[test]
    fn a_random_bracket_term_means_what_its_indices_say(c in case()) {
        let text = format!("{DECLS}; {}; {}", c.term, c.einsum);
        prop_assert!(all_equal(&text), "{} ≠ {}", c.term, c.einsum);
        let model = read(&format!("{DECLS}; {}", c.term)).unwrap();
        let e = model.main_expr().unwrap();
        // Its simplest form keeps the value, and so does its bracket form, read back.
        let (simple, _) = bracket::simplify_expr(e, &model, &Default::default());
        for form in [render(&simple, Format::Ascii), render(e, Format::Bracket)] {
            let both = format!("{DECLS}; {}; {form}", c.term);
            prop_assert!(all_equal(&both), "{} → {form}", c.term);
        }
    }
}

/// The check can fail: a term compared with an einsum that pairs other dims.
#[test]
fn a_wrong_reading_is_caught() {
    assert!(!all_equal(&format!("{DECLS}; [A_1 x] A_2; einsum(\"ij,j->ij\", A, x)")));
    assert!(all_equal(&format!("{DECLS}; [A_1 x] A_2; einsum(\"ij,i->ij\", A, x)")));
}
