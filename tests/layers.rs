//! The layering of `src/`: each stage is a folder, and a folder uses only the folders
//! below it (docs/architecture.md). Reads every `crate::…` path in the sources and fails
//! on a path that goes up, or sideways to another folder of the same level, with the
//! file and line of each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The stages, lowest first; a folder may use only folders of a lower level.
const LEVELS: [(&str, u32); 11] = [
    ("error", 0),
    ("limits", 0),
    ("ir", 1),
    ("read", 2),
    ("network", 2),
    ("render", 3),
    ("eval", 3),
    ("egraph", 4),
    ("calculus", 5),
    ("api", 6),
    ("serve", 7),
];

fn level(stage: &str) -> Option<u32> {
    LEVELS.iter().find(|(s, _)| *s == stage).map(|(_, l)| *l)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The stage a source file belongs to: its folder under `src/`, or its name for the
/// files at the top (`error`, `limits`; `lib` and `main` stand above every stage).
fn stage_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::stage` a line names (in `use` lines and in paths).
fn used_stages(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name == "{" || name.is_empty() {
            // `use crate::{a, b}`: each member.
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                out.extend(inner.split(',').map(|m| m.trim().split("::").next().unwrap_or("").to_string()));
            }
            continue;
        }
        out.push(name);
    }
    out
}

/// The violations in the tree under `src`: (file:line, from, to).
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(src, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in &files {
        let from = stage_of(src, file);
        let Some(from_level) = level(&from) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        for (k, line) in text.lines().enumerate() {
            for to in used_stages(line) {
                let Some(to_level) = level(&to) else { continue };
                if to != from && to_level >= from_level {
                    let rel = file.strip_prefix(src.parent().unwrap()).unwrap().display().to_string();
                    out.push(format!("{rel}:{}: {from} (level {from_level}) uses {to} (level {to_level})", k + 1));
                }
            }
        }
    }
    out
}

#[test]
fn folders_use_only_the_folders_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(found.is_empty(), "{} uses against the layering:\n{}", found.len(), found.join("\n"));
}

#[test]
fn every_folder_is_a_known_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut stages: BTreeMap<String, usize> = BTreeMap::new();
    for f in &files {
        *stages.entry(stage_of(&src, f)).or_default() += 1;
    }
    for stage in stages.keys() {
        assert!(level(stage).is_some() || stage == "lib" || stage == "main", "`src/{stage}` is in no level");
    }
}

#[test]
fn an_upward_use_is_caught() {
    // A copy of one file with an upward use added: the check must see it.
    let dir = std::env::temp_dir().join(format!("bracket-layers-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("ir")).unwrap();
    std::fs::write(src.join("ir/expr.rs"), "use crate::egraph::operations;\n").unwrap();
    let found = violations(&src);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("ir (level 1) uses egraph (level 4)"), "{found:?}");
}

#[test]
fn no_source_file_is_over_1000_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let long: Vec<String> = files
        .iter()
        .map(|f| (f, std::fs::read_to_string(f).unwrap().lines().count()))
        .filter(|(_, n)| *n > 1000)
        .map(|(f, n)| format!("{} ({n} lines)", f.display()))
        .collect();
    assert!(long.is_empty(), "files over 1,000 lines: {long:?}");
}
