//! Every public type of the runtime documents itself with an `# Examples`
//! doctest, as the crate's conventions ask.

use std::fs;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_public_type_has_an_examples_section() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut missing = Vec::new();
    for file in files {
        // What the macros' generated code calls is hidden, not public API.
        if file.ends_with("__private.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let item = line.trim_start();
            let public = ["pub struct ", "pub enum ", "pub trait "]
                .iter()
                .any(|start| item.starts_with(start));
            // A macro's template: its invocations carry the docs (checked by
            // the doctests they hold).
            if !public
                || item
                    .split_whitespace()
                    .nth(2)
                    .is_some_and(|name| name.starts_with('$'))
            {
                continue;
            }
            // The doc comment above it, across attributes.
            let doc: Vec<&str> = lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim_start())
                .take_while(|l| l.starts_with("///") || l.starts_with("#["))
                .collect();
            let hidden = doc.contains(&"#[doc(hidden)]");
            if !hidden && !doc.iter().any(|l| l.starts_with("/// # Examples")) {
                missing.push(format!("{}:{}: {item}", file.display(), i + 1));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "public types without `# Examples`:\n{}",
        missing.join("\n")
    );
}
