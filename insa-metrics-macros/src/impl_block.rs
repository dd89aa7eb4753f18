//! An attribute on an `impl` block: every method with a body is instrumented under the block's labels, as if it carried the attribute itself.
//!
//! Left out: a method marked `#[track_request_metrics(skip)]` (the marker is
//! taken off), one with its own attribute of the same kind (its labels win),
//! and a `const fn`, which cannot record.

use proc_macro2::TokenStream;
use syn::{ImplItem, ImplItemFn, ItemImpl};

use crate::expand::instrument_fn;
use crate::item::{Place, check_fn};
use crate::kind::Kind;
use crate::parse::Args;

/// Instruments the methods of `block` with the call-site `site`.
pub(crate) fn instrument(
    kind: Kind,
    site: &TokenStream,
    mut block: ItemImpl,
) -> syn::Result<ItemImpl> {
    let mut errors: Option<syn::Error> = None;
    for method in methods(&mut block) {
        if take_skip(kind, method) || has_own(kind, method) || method.sig.constness.is_some() {
            continue;
        }
        let instrumented = check_fn(kind, &method.attrs, Place::Method).and_then(|()| {
            instrument_fn(kind, site, &method.sig, &mut method.block, Place::Method)
        });
        if let Err(error) = instrumented {
            match &mut errors {
                Some(errors) => errors.combine(error),
                None => errors = Some(error),
            }
        }
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(block),
    }
}

/// The block as written, without the `(skip)` markers this attribute takes
/// off: what is emitted next to an error, so that the error is the only one.
pub(crate) fn without_skips(kind: Kind, mut block: ItemImpl) -> ItemImpl {
    for method in methods(&mut block) {
        take_skip(kind, method);
    }
    block
}

fn methods(block: &mut ItemImpl) -> impl Iterator<Item = &mut ImplItemFn> {
    block.items.iter_mut().filter_map(|item| match item {
        ImplItem::Fn(method) => Some(method),
        _ => None,
    })
}

/// Takes off the method's `(skip)` marker of this kind, if it has one.
fn take_skip(kind: Kind, method: &mut ImplItemFn) -> bool {
    let skip = method.attrs.iter().position(|attr| {
        Kind::of(attr) == Some(kind)
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| matches!(Args::parse(list.tokens.clone()), Ok(Args::Skip(_))))
    });
    skip.map(|index| method.attrs.remove(index)).is_some()
}

/// Whether the method has its own attribute of this kind, which expands on it
/// after the block's.
fn has_own(kind: Kind, method: &ImplItemFn) -> bool {
    method.attrs.iter().any(|attr| Kind::of(attr) == Some(kind))
}
