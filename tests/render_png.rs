//! A derivation rendered to a PNG a person can look at: MathJax draws the LaTeX of
//! tutorial §5.3 (`a^T X b` with respect to X) and resvg rasterizes it
//! (tests/latex/render.js; npm, installed by scripts/setup.sh into tests/latex/node_modules)
//! into target/rendered/derivation_5_3.png. Under CI a missing renderer fails the test;
//! elsewhere it is skipped with a note.

use bracket::{derive, Format};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn latex_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/latex")
}

fn have_renderer() -> bool {
    let modules = latex_dir().join("node_modules");
    modules.join("mathjax-full").is_dir()
        && modules.join("@resvg/resvg-js").is_dir()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Skips (returning true) when node or the npm packages are missing, except under CI.
fn skip() -> bool {
    if have_renderer() {
        return false;
    }
    assert!(std::env::var("CI").is_err(), "CI must provide node, MathJax and resvg (scripts/setup.sh installs them)");
    eprintln!("skipped: MathJax or resvg is not installed (run scripts/setup.sh)");
    true
}

/// Runs render.js with `tex` on stdin, writing the PNG to `png`.
fn render(tex: &str, png: &Path) -> Output {
    let mut child = Command::new("node")
        .arg(latex_dir().join("render.js"))
        .arg(png)
        .current_dir(latex_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    child.stdin.take().unwrap().write_all(tex.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn rendered_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rendered");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn derivation_5_3_renders_to_png() {
    if skip() {
        return;
    }
    let tex = derive("a^T X b", "X").unwrap().render(Format::Latex);
    assert!(tex.starts_with("\\begin{align*}"), "{tex}");
    let png = rendered_dir().join("derivation_5_3.png");
    let _ = std::fs::remove_file(&png); // so a stale image cannot pass
    let out = render(&tex, &png);
    assert!(out.status.success(), "render.js failed on\n{tex}\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("rendered: {}", png.display());

    // The PNG signature, then the IHDR chunk: width and height, big-endian, at bytes 16..24.
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG: {}", png.display());
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(width > 400 && height > 100, "implausible size {width}x{height}");

    // render.js counts dark pixels: a blank or all-black image fails here.
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from render.js");
    assert_eq!((stats["width"].as_u64(), stats["height"].as_u64()), (Some(width.into()), Some(height.into())));
    let dark = stats["dark_fraction"].as_f64().unwrap();
    assert!((0.002..0.5).contains(&dark), "dark fraction {dark} in {}", png.display());
}

#[test]
fn undefined_control_sequence_fails_to_render() {
    if skip() {
        return;
    }
    let png = rendered_dir().join("undefined_control_sequence.png");
    let out = render("\\begin{align*} \\notacommand{x} \\end{align*}", &png);
    assert!(!out.status.success(), "render.js accepted an undefined control sequence");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("notacommand"), "{stderr}");
}
