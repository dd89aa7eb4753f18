//! Expansion snapshot tests of `tests/expand/*.rs`.
//!
//! Every `tests/expand/<case>.rs` expands to the committed
//! `tests/expand/<case>.expanded.rs`. Run with `INSA_SNAPSHOTS=overwrite` to
//! write them after a reviewed change.

use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, ImplItem, Item};

use crate::expand;
use crate::kind::Kind;

/// Expands the first of our attributes on an item, as the compiler would.
fn expand_attrs(
    attrs: &mut Vec<Attribute>,
    item: impl FnOnce(&[Attribute]) -> TokenStream,
) -> Option<TokenStream> {
    let index = attrs.iter().position(|attr| Kind::of(attr).is_some())?;
    let attr = attrs.remove(index);
    let kind = Kind::of(&attr)?;
    let args = match attr.meta {
        syn::Meta::List(list) => list.tokens,
        _ => TokenStream::new(),
    };
    Some(expand::attribute(kind, args, item(attrs)))
}

/// Expands an item's attribute, then its methods', as the compiler would:
/// outer attributes first.
fn expand_item(item: &mut Item) {
    let mut copy = item.clone();
    let attrs = match &mut copy {
        Item::Fn(func) => &mut func.attrs,
        Item::Impl(block) => &mut block.attrs,
        _ => return,
    };
    let expanded = expand_attrs(attrs, |attrs| {
        let mut original = item.clone();
        match &mut original {
            Item::Fn(func) => func.attrs = attrs.to_vec(),
            Item::Impl(block) => block.attrs = attrs.to_vec(),
            _ => {}
        }
        original.into_token_stream()
    });
    if let Some(tokens) = expanded {
        *item = syn::parse2(tokens).expect("the expansion parses");
    }
    if let Item::Impl(block) = item {
        for member in &mut block.items {
            if let ImplItem::Fn(method) = member {
                let original = method.clone();
                if let Some(tokens) = expand_attrs(&mut method.attrs, |attrs| {
                    let mut m = original.clone();
                    m.attrs = attrs.to_vec();
                    m.into_token_stream()
                }) {
                    *member = syn::parse2(tokens).expect("the expansion parses");
                }
            }
        }
    }
}

fn expand_file(source: &str) -> String {
    let mut file: syn::File = syn::parse_str(source).expect("a snapshot input parses");
    file.items.iter_mut().for_each(expand_item);
    prettyplease::unparse(&file)
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/expand exists")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "rs")
                && !path.to_string_lossy().ends_with(".expanded.rs")
        })
        .collect();
    cases.sort();
    cases
}

#[test]
fn expansions_match_the_snapshots() {
    let overwrite = std::env::var_os("INSA_SNAPSHOTS").is_some_and(|v| v == "overwrite");
    let cases = cases();
    assert!(
        cases.len() >= 4,
        "the sync, async, method and async-trait cases"
    );
    let mut stale = Vec::new();
    for case in cases {
        let source = fs::read_to_string(&case).expect("a readable case");
        let expanded = expand_file(&source);
        let snapshot = case.with_extension("expanded.rs");
        if overwrite {
            fs::write(&snapshot, &expanded).expect("a writable snapshot");
        } else if fs::read_to_string(&snapshot).ok().as_deref() != Some(expanded.as_str()) {
            stale.push(format!("{}:\n{expanded}", snapshot.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "expansions differ from the snapshots (INSA_SNAPSHOTS=overwrite to update):\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_readme_shows_the_sync_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("../README.md")).expect("the workspace README");
    let snapshot =
        fs::read_to_string(root.join("tests/expand/sync.expanded.rs")).expect("the snapshot");
    // The README's Explanation quotes the expansion without its doc comment.
    let code: String = snapshot
        .lines()
        .filter(|line| !line.starts_with("///"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        readme.contains(&code),
        "README.md's Explanation differs from tests/expand/sync.expanded.rs:\n{code}"
    );
}
