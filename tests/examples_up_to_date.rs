//! The committed worked examples (docs/examples/) are what `bracket examples` writes
//! from the inputs (examples/): regenerating them would change nothing.

use std::path::Path;

#[test]
fn docs_examples_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("bracket-examples-{}", std::process::id()));
    let pages = bracket::regenerate_examples(&root.join("examples"), &out).expect("examples regenerate");
    assert!(!pages.is_empty());
    for page in pages {
        let name = page.file_name().unwrap();
        let fresh = std::fs::read_to_string(&page).unwrap();
        let committed = std::fs::read_to_string(root.join("docs/examples").join(name)).unwrap_or_default();
        assert!(fresh == committed, "docs/examples/{} is stale: run `scripts/examples.sh`", name.to_string_lossy());
    }
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn regeneration_is_deterministic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let a = std::env::temp_dir().join(format!("bracket-examples-a-{}", std::process::id()));
    let b = std::env::temp_dir().join(format!("bracket-examples-b-{}", std::process::id()));
    let pa = bracket::regenerate_examples(&root.join("examples"), &a).unwrap();
    let pb = bracket::regenerate_examples(&root.join("examples"), &b).unwrap();
    for (x, y) in pa.iter().zip(&pb) {
        assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
    }
    let _ = std::fs::remove_dir_all(a);
    let _ = std::fs::remove_dir_all(b);
}
