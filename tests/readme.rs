//! The console examples in README.md and docs/layouts.md are what the binary prints: every `$ bracket …`
//! line of a ```console block is run and its output compared, except `check:` lines
//! (their relative errors are floating point and not meant to be read exactly).

use std::process::Command;

/// Splits a command line on spaces, keeping single-quoted parts whole.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            _ => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

fn readable(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with("check:")).collect::<Vec<_>>().join("\n").trim().to_string()
}

#[test]
fn readme_examples_are_what_the_binary_prints() {
    let readme =
        [include_str!("../README.md"), include_str!("../docs/layouts.md"), include_str!("../docs/symmetric.md")]
            .join("\n");
    let mut checked = 0;
    let mut failures = Vec::new();
    for block in readme.split("```console\n").skip(1) {
        let block = block.split("```").next().unwrap_or("");
        let lines: Vec<&str> = block.lines().collect();
        let mut k = 0;
        while k < lines.len() {
            let Some(cmd) = lines[k].strip_prefix("$ bracket ") else {
                k += 1;
                continue;
            };
            let mut expected = Vec::new();
            k += 1;
            while k < lines.len() && !lines[k].starts_with("$ ") {
                expected.push(lines[k]);
                k += 1;
            }
            let out = Command::new(env!("CARGO_BIN_EXE_bracket")).args(words(cmd)).output().expect("runs");
            let got = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            if readable(&got) != readable(&expected.join("\n")) {
                failures.push(format!("$ bracket {cmd}\nREADME:\n{}\nbinary:\n{}", expected.join("\n"), got.trim()));
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} README examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
