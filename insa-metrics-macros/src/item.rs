//! What an attribute is on: a fn it can instrument, or an `impl` block whose methods it instruments; and what keeps a fn from being instrumented.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, Block, Item, ItemFn, ItemImpl, TraitItemFn};

use crate::kind::Kind;

/// The item under the attribute.
pub(crate) enum Target {
    Fn(ItemFn),
    Impl(ItemImpl),
}

/// Where a fn is: alone, or in an instrumented `impl` block, where it can be
/// left out instead of changed.
#[derive(Clone, Copy)]
pub(crate) enum Place {
    Fn,
    Method,
}

impl Place {
    /// The end of a message about a fn the attribute cannot instrument: in a
    /// block, the way to leave the method out.
    pub(crate) fn or_leave_out(self, kind: Kind) -> String {
        match self {
            Place::Fn => String::new(),
            Place::Method => format!(
                ", or leave the method out with #[{}({})]",
                kind.name(),
                crate::parse::SKIP
            ),
        }
    }
}

/// The item, if the attribute can go on it.
pub(crate) fn target(kind: Kind, item: Item) -> syn::Result<Target> {
    let not_a_fn = |token: &dyn quote::ToTokens| {
        syn::Error::new_spanned(
            token,
            format!(
                "#[{}] goes on a fn or an impl block: put it on the function to instrument",
                kind.name()
            ),
        )
    };
    match item {
        Item::Fn(func) => {
            if let Some(constness) = &func.sig.constness {
                return Err(syn::Error::new_spanned(
                    constness,
                    "a const fn cannot record metrics: remove `const` or the attribute",
                ));
            }
            check_fn(kind, &func.attrs, Place::Fn)?;
            Ok(Target::Fn(func))
        }
        Item::Impl(block) => {
            check_repeated(kind, &block.attrs)?;
            Ok(Target::Impl(block))
        }
        Item::Verbatim(tokens) if syn::parse2::<TraitItemFn>(tokens.clone()).is_ok() => {
            Err(syn::Error::new_spanned(
                tokens,
                format!(
                    "a fn without a body records nothing: put #[{}] on the fn that implements it",
                    kind.name()
                ),
            ))
        }
        Item::Trait(item) => Err(syn::Error::new_spanned(
            item.trait_token,
            format!(
                "#[{}] goes on a fn or an impl block: put it on the trait's impl blocks, or on a default method",
                kind.name()
            ),
        )),
        Item::Struct(item) => Err(not_a_fn(&item.struct_token)),
        Item::Enum(item) => Err(not_a_fn(&item.enum_token)),
        Item::Union(item) => Err(not_a_fn(&item.union_token)),
        Item::Const(item) => Err(not_a_fn(&item.const_token)),
        Item::Static(item) => Err(not_a_fn(&item.static_token)),
        Item::Mod(item) => Err(not_a_fn(&item.mod_token)),
        Item::Type(item) => Err(not_a_fn(&item.type_token)),
        Item::Use(item) => Err(not_a_fn(&item.use_token)),
        other => Err(not_a_fn(&other)),
    }
}

/// What keeps a fn with a body from being instrumented, besides `const`:
/// the same attribute again, or `#[track_caller]`.
pub(crate) fn check_fn(kind: Kind, attrs: &[Attribute], place: Place) -> syn::Result<()> {
    check_repeated(kind, attrs)?;
    match attrs
        .iter()
        .find(|attr| attr.path().is_ident("track_caller"))
    {
        // It cannot follow the body into the closure it runs in.
        Some(attr) => Err(syn::Error::new_spanned(
            attr,
            format!(
                "#[track_caller] cannot be combined with #[{}]: the body runs in a closure; {}",
                kind.name(),
                match place {
                    Place::Fn => "remove one of them".to_owned(),
                    Place::Method => format!("remove it{}", place.or_leave_out(kind)),
                }
            ),
        )),
        None => Ok(()),
    }
}

/// The same attribute a second time would count every call twice. `attrs`
/// are the ones left once the first has been taken off, so the error is on
/// the second.
fn check_repeated(kind: Kind, attrs: &[Attribute]) -> syn::Result<()> {
    match attrs.iter().find(|attr| Kind::of(attr) == Some(kind)) {
        Some(again) => Err(syn::Error::new_spanned(
            again,
            format!(
                "#[{}] is already on this item: remove this one, every call would count twice",
                kind.name()
            ),
        )),
        None => Ok(()),
    }
}

/// The same attribute under another name (`use … as track;`) is not seen
/// among the attributes; its expansion is seen in the body, as the call
/// site of the same kind. The error is on this attribute (the call site).
pub(crate) fn check_not_instrumented(kind: Kind, block: &Block) -> syn::Result<()> {
    if holds_site(block.to_token_stream(), kind.site_type()) {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "#[{}] is already on this fn, under another name: remove one of them, \
                 every call would count twice",
                kind.name()
            ),
        ));
    }
    Ok(())
}

/// Whether `tokens` hold the path `__private::<site_type>`, at any depth.
fn holds_site(tokens: TokenStream, site_type: &str) -> bool {
    let mut last: [Option<String>; 3] = [None, None, None];
    for token in tokens {
        match token {
            TokenTree::Group(group) => {
                if holds_site(group.stream(), site_type) {
                    return true;
                }
                last = [None, None, None];
            }
            TokenTree::Ident(ident) => {
                let ident = ident.to_string();
                if ident == site_type
                    && matches!(&last, [Some(a), Some(b), Some(c)]
                        if a == "__private" && b == ":" && c == ":")
                {
                    return true;
                }
                last = [last[1].take(), last[2].take(), Some(ident)];
            }
            TokenTree::Punct(punct) => {
                last = [
                    last[1].take(),
                    last[2].take(),
                    Some(punct.as_char().to_string()),
                ];
            }
            TokenTree::Literal(_) => last = [None, None, None],
        }
    }
    false
}
