//! Expected failures: every bad input of `tests/errors/bad_inputs.txt` is rejected with
//! a message naming line and column, snapshotted in `snapshots/`. Also the limits.

use bracket::{simplify, ErrorCode};

fn cases() -> Vec<(String, String)> {
    include_str!("errors/bad_inputs.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, input) = l.split_once(" :: ").unwrap_or_else(|| panic!("bad line: {l}"));
            (name.trim().to_string(), input.replace("\\n", "\n"))
        })
        .collect()
}

#[test]
fn every_bad_input_is_rejected_with_a_location() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (name, input) in cases() {
            let err = match simplify(&input) {
                Ok(a) => panic!("`{name}` was accepted: {}", a.render(bracket::Format::Unicode)),
                Err(e) => e,
            };
            let rendered = err.render(&input);
            if err.code != ErrorCode::Syntax || !name.starts_with("no_expression") {
                assert!(err.span.is_some() || name == "no_expression", "`{name}` has no location");
            }
            insta::assert_snapshot!(format!("errors__{name}"), format!("{input}\n---\n{rendered}"));
        }
    });
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    let err = simplify(&deep).unwrap_err();
    assert_eq!(err.code, ErrorCode::Limit);
    assert!(err.render(&deep).contains("1:129"), "{}", err.render(&deep));
}

#[test]
fn allowed_nesting_works() {
    let ok = format!("{}x{}", "(".repeat(100), ")".repeat(100));
    assert!(simplify(&ok).is_ok());
    let ok = format!("{}A{}", "tr(".repeat(60), ")".repeat(60));
    assert!(simplify(&ok).is_err_and(|e| e.code == ErrorCode::Shape));
}

#[test]
fn long_runs_of_operators_are_bounded() {
    let signs = format!("{}x", "-".repeat(100_000));
    assert_eq!(simplify(&signs).unwrap_err().code, ErrorCode::Limit);
    let postfix = format!("A{}", "^T".repeat(10_000));
    assert_eq!(simplify(&postfix).unwrap_err().code, ErrorCode::Limit);
    let functions = format!("{}x", "exp ".repeat(50_000));
    assert!(simplify(&functions).is_err());
}

#[test]
fn huge_input_is_refused() {
    let big = "x + ".repeat(300_000) + "x";
    let err = simplify(&big).unwrap_err();
    assert_eq!(err.code, ErrorCode::Limit);
    assert!(err.render(&big).contains("hint"));
}

#[test]
fn a_long_flat_sum_is_fine() {
    let sum = (0..20_000).map(|_| "x^T A x").collect::<Vec<_>>().join(" + ");
    let a = simplify(&sum).expect("a long sum parses");
    assert!(a.expr.is_scalar());
}
