//! Compile-time checks of the labels: arity and keys match the attribute, literals are short snake_case identifiers, and a bare word is a label that lost its quotes.

use proc_macro2::{Span, TokenStream};
use syn::Ident;

use crate::kind::Kind;
use crate::parse::{Arg, Label};
use crate::snake_case::{is_snake_case, to_snake_case};

/// The longest label literal accepted: the runtime's `MAX_LABEL_VALUE_BYTES`
/// (`insa-metrics/tests/macros_labels.rs` ties the two).
pub(crate) const MAX_LABEL_BYTES: usize = 128;

/// The labels in positional order, checked. `tokens` are the arguments as
/// written, where a missing label is reported.
pub(crate) fn labels(kind: Kind, args: Vec<Arg>, tokens: &TokenStream) -> syn::Result<Vec<Label>> {
    let mut slots = Slots::new(kind);
    for arg in args {
        let index = slots.index_of(&arg)?;
        check(&arg.label)?;
        slots.labels[index] = Some(arg.label);
    }
    slots.all(tokens)
}

/// The labels given so far, one slot per key of the attribute.
struct Slots {
    kind: Kind,
    labels: Vec<Option<Label>>,
    positional: usize,
    keyed: bool,
}

impl Slots {
    fn new(kind: Kind) -> Self {
        Slots {
            kind,
            labels: kind.keys().iter().map(|_| None).collect(),
            positional: 0,
            keyed: false,
        }
    }

    /// The slot an argument fills: the next one, or its key's.
    fn index_of(&mut self, arg: &Arg) -> syn::Result<usize> {
        let example = self.kind.example();
        match &arg.key {
            None if self.keyed => Err(arg.label.error(format!(
                "write every label with its key, or none: {example}"
            ))),
            None if self.positional == self.labels.len() => Err(arg
                .label
                .error(format!("unexpected argument: write {example}"))),
            None => {
                self.positional += 1;
                Ok(self.positional - 1)
            }
            Some(key) => {
                self.keyed = true;
                let keys = self.kind.keys();
                let Some(index) = keys.iter().position(|k| key == k) else {
                    return Err(unknown_key(keys, key));
                };
                if self.labels[index].is_some() {
                    return Err(syn::Error::new_spanned(
                        key,
                        format!("`{key}` is given twice: write it once"),
                    ));
                }
                Ok(index)
            }
        }
    }

    /// Every label, or an error naming the first one missing.
    fn all(self, tokens: &TokenStream) -> syn::Result<Vec<Label>> {
        let Some(missing) = self.labels.iter().position(Option::is_none) else {
            return Ok(self.labels.into_iter().flatten().collect());
        };
        let message = format!(
            "missing the `{}` label: write {}",
            self.kind.keys()[missing],
            self.kind.example()
        );
        Err(if tokens.is_empty() {
            syn::Error::new(Span::call_site(), message)
        } else {
            syn::Error::new_spanned(tokens, message)
        })
    }
}

/// An unknown key, with the known one it is closest to.
fn unknown_key(keys: &[&str], key: &Ident) -> syn::Error {
    let name = key.to_string();
    let message = match keys.iter().find(|k| edit_distance(k, &name) <= 2) {
        Some(close) => format!("unknown key `{key}`: write `{close}`"),
        None => format!("unknown key `{key}`: expected {}", list(keys)),
    };
    syn::Error::new_spanned(key, message)
}

/// A literal label must be a non-empty, short snake_case identifier; a bare
/// lowercase word is a literal without its quotes.
fn check(label: &Label) -> syn::Result<()> {
    match label {
        Label::Literal(lit) => check_literal(label, &lit.value()),
        Label::Typed(path) => match path.path.get_ident() {
            Some(word)
                if word
                    .to_string()
                    .starts_with(|c: char| c.is_ascii_lowercase()) =>
            {
                Err(unquoted(word))
            }
            _ => Ok(()),
        },
    }
}

fn check_literal(label: &Label, value: &str) -> syn::Result<()> {
    if value.is_empty() {
        return Err(
            label.error(r#"the label is empty: write a snake_case name like "sizing_agent""#)
        );
    }
    if value.len() > MAX_LABEL_BYTES {
        return Err(label.error(format!(
            "the label is longer than {MAX_LABEL_BYTES} bytes: write a short snake_case name"
        )));
    }
    if is_snake_case(value) {
        return Ok(());
    }
    let snake = to_snake_case(value);
    Err(
        label.error(if snake.starts_with(|c: char| c.is_ascii_digit()) {
            leading_digit(&snake)
        } else if is_snake_case(&snake) {
            format!("labels are snake_case identifiers: write {snake:?}")
        } else {
            r#"labels are snake_case identifiers: write a name like "sizing_agent""#.to_owned()
        }),
    )
}

/// `2fa_agent`: the words that start with a digit go last, `agent_2fa`.
fn leading_digit(snake: &str) -> String {
    let (digits, words): (Vec<&str>, Vec<&str>) = snake
        .split('_')
        .partition(|word| word.starts_with(|c: char| c.is_ascii_digit()));
    let suggestion = [words, digits].concat().join("_");
    if is_snake_case(&suggestion) {
        format!("labels start with a letter: write {suggestion:?}")
    } else {
        r#"labels start with a letter: write a name like "agent_2fa""#.to_owned()
    }
}

/// `(sizing_agent)`: rustc would look for a value of that name.
fn unquoted(word: &Ident) -> syn::Error {
    let name = word.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    let suggestion = to_snake_case(name);
    let message = if is_snake_case(&suggestion) {
        format!("labels are string literals: write {suggestion:?}")
    } else {
        r#"labels are string literals: write a name like "sizing_agent""#.to_owned()
    };
    syn::Error::new_spanned(word, message)
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
    fn suggestions() {
        assert_eq!(
            leading_digit("2fa_agent"),
            r#"labels start with a letter: write "agent_2fa""#
        );
        assert_eq!(
            leading_digit("2fa"),
            r#"labels start with a letter: write a name like "agent_2fa""#
        );
        assert_eq!(list(&["operation", "table"]), "`operation` or `table`");
        assert_eq!(edit_distance("tabel", "table"), 2);
        assert_eq!(edit_distance("agent", "agent_type"), 5);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
