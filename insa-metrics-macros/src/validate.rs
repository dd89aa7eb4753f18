//! Compile-time checks of the arguments and of the item.
//!
//! Label literals are snake_case, arity and keys match the attribute, and the
//! item is a fn that can record metrics (not a `const fn`).

use proc_macro2::{Span, TokenStream};
use syn::{Item, ItemFn, TraitItemFn};

use crate::kind::Kind;
use crate::parse::{Args, Label};

/// The longest label literal accepted, as the runtime's limit.
const MAX_LABEL_BYTES: usize = 128;

/// The item under the attribute, if it is a fn that is not `const`.
pub(crate) fn item(kind: Kind, item: TokenStream) -> syn::Result<ItemFn> {
    let not_a_fn = |token: &dyn quote::ToTokens| {
        syn::Error::new_spanned(
            token,
            format!(
                "#[{}] goes on a fn: put it on the function to instrument",
                kind.name()
            ),
        )
    };
    match syn::parse2::<Item>(item)? {
        Item::Fn(func) => match &func.sig.constness {
            Some(constness) => Err(syn::Error::new_spanned(
                constness,
                "a const fn cannot record metrics: remove `const` or the attribute",
            )),
            None => not_track_caller(kind, func),
        },
        Item::Verbatim(tokens) if syn::parse2::<TraitItemFn>(tokens.clone()).is_ok() => {
            Err(syn::Error::new_spanned(
                tokens,
                format!(
                    "a fn without a body records nothing: put #[{}] on the fn that implements it",
                    kind.name()
                ),
            ))
        }
        Item::Struct(item) => Err(not_a_fn(&item.struct_token)),
        Item::Enum(item) => Err(not_a_fn(&item.enum_token)),
        Item::Union(item) => Err(not_a_fn(&item.union_token)),
        Item::Const(item) => Err(not_a_fn(&item.const_token)),
        Item::Static(item) => Err(not_a_fn(&item.static_token)),
        Item::Impl(item) => Err(not_a_fn(&item.impl_token)),
        Item::Trait(item) => Err(not_a_fn(&item.trait_token)),
        Item::Mod(item) => Err(not_a_fn(&item.mod_token)),
        Item::Type(item) => Err(not_a_fn(&item.type_token)),
        Item::Use(item) => Err(not_a_fn(&item.use_token)),
        other => Err(not_a_fn(&other)),
    }
}

/// `#[track_caller]` cannot follow the body into the closure it runs in.
fn not_track_caller(kind: Kind, func: ItemFn) -> syn::Result<ItemFn> {
    match func
        .attrs
        .iter()
        .find(|attr| attr.path().is_ident("track_caller"))
    {
        Some(attr) => Err(syn::Error::new_spanned(
            attr,
            format!(
                "#[track_caller] cannot be combined with #[{}]: the body runs in a closure; remove one of them",
                kind.name()
            ),
        )),
        None => Ok(func),
    }
}

/// The labels in positional order, checked.
pub(crate) fn labels(kind: Kind, args: Args, tokens: &TokenStream) -> syn::Result<Vec<Label>> {
    let keys = kind.keys();
    let mut slots: Vec<Option<Label>> = keys.iter().map(|_| None).collect();
    let (mut positional, mut keyed) = (0, false);
    for arg in args.args {
        let index = match &arg.key {
            None if keyed => {
                return Err(error(
                    &arg.label,
                    format!(
                        "write every label with its key, or none: {}",
                        kind.example()
                    ),
                ));
            }
            None if positional == keys.len() => {
                return Err(error(
                    &arg.label,
                    format!("unexpected argument: write {}", kind.example()),
                ));
            }
            None => {
                positional += 1;
                positional - 1
            }
            Some(key) => {
                keyed = true;
                let Some(index) = keys.iter().position(|k| key == k) else {
                    let name = key.to_string();
                    let message = match keys.iter().find(|k| edit_distance(k, &name) <= 2) {
                        Some(close) => format!("unknown key `{key}`: write `{close}`"),
                        None => format!("unknown key `{key}`: expected {}", list(keys)),
                    };
                    return Err(syn::Error::new_spanned(key, message));
                };
                if slots[index].is_some() {
                    return Err(syn::Error::new_spanned(
                        key,
                        format!("`{key}` is given twice: write it once"),
                    ));
                }
                index
            }
        };
        check(&arg.label)?;
        slots[index] = Some(arg.label);
    }
    match slots.iter().position(Option::is_none) {
        Some(missing) => {
            let message = format!(
                "missing the `{}` label: write {}",
                keys[missing],
                kind.example()
            );
            Err(if tokens.is_empty() {
                syn::Error::new(Span::call_site(), message)
            } else {
                syn::Error::new_spanned(tokens, message)
            })
        }
        None => Ok(slots.into_iter().flatten().collect()),
    }
}

/// A literal label must be a non-empty snake_case identifier.
fn check(label: &Label) -> syn::Result<()> {
    let Label::Literal(lit) = label else {
        return Ok(());
    };
    let value = lit.value();
    if value.is_empty() {
        return Err(error(
            label,
            r#"the label is empty: write a snake_case name like "sizing_agent""#,
        ));
    }
    if value.len() > MAX_LABEL_BYTES {
        return Err(error(
            label,
            format!(
                "the label is longer than {MAX_LABEL_BYTES} bytes: write a short snake_case name"
            ),
        ));
    }
    if !is_snake_case(&value) {
        let suggestion = to_snake_case(&value);
        let message = if is_snake_case(&suggestion) {
            format!("labels are snake_case identifiers: write {suggestion:?}")
        } else {
            r#"labels are snake_case identifiers: write a name like "sizing_agent""#.to_owned()
        };
        return Err(error(label, message));
    }
    Ok(())
}

fn error(label: &Label, message: impl std::fmt::Display) -> syn::Error {
    match label {
        Label::Literal(lit) => syn::Error::new_spanned(lit, message),
        Label::Typed(path) => syn::Error::new_spanned(path, message),
    }
}

/// `sizing_agent`, `crm2`: a lowercase letter, then lowercase letters, digits
/// and single underscores.
fn is_snake_case(value: &str) -> bool {
    value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !value.ends_with('_')
        && !value.contains("__")
}

/// `Sizing Agent` and `sizingAgent` → `sizing_agent`.
fn to_snake_case(value: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            previous_lower = false;
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// The Levenshtein distance, to suggest the key a typo was meant to be.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// `a`, `a` or `b`, `a`, `b` or `c`.
fn list(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|key| format!("`{key}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case() {
        for good in ["sizing_agent", "users", "crm2", "a_b_c"] {
            assert!(is_snake_case(good), "{good}");
        }
        for bad in ["", "Sizing", "sizing agent", "_x", "x_", "a__b", "2x", "é"] {
            assert!(!is_snake_case(bad), "{bad}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(to_snake_case("Sizing Agent"), "sizing_agent");
        assert_eq!(to_snake_case("sizingAgent"), "sizing_agent");
        assert_eq!(to_snake_case("crm-agent"), "crm_agent");
        assert_eq!(to_snake_case("  Users  "), "users");
        assert_eq!(list(&["operation", "table"]), "`operation` or `table`");
        assert_eq!(edit_distance("tabel", "table"), 2);
        assert_eq!(edit_distance("agent", "agent_type"), 5);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
