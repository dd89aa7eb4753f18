//! The expansion: a call-site `static`, a guard, and the original body.
//!
//! The `static` resolves the label handles once; the guard records the call
//! with the outcome of the body's value, or on drop for panics and
//! cancellations.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote_spanned};
use syn::spanned::Spanned;
use syn::token::Move;
use syn::{Block, Item, ReturnType, Signature, Type};

use crate::body::{Body, ends_in_panic, has_items};
use crate::impl_block;
use crate::item::{self, Place, Target};
use crate::kind::Kind;
use crate::labels;
use crate::output::{Output, future_output};
use crate::parse::{Args, Label};
use crate::tail::tail_async_block;

/// Expands one attribute. On error, the item is emitted as written next to
/// the `compile_error!`, so the error is the only one the user sees.
pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed = match syn::parse2::<Item>(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return with_error(item, error),
    };
    match instrument(kind, args, parsed.clone()) {
        Ok(tokens) => tokens,
        Err(error) => match parsed {
            Item::Impl(block) => with_error(
                impl_block::without_skips(kind, block).into_token_stream(),
                error,
            ),
            _ => with_error(item, error),
        },
    }
}

fn with_error(mut item: TokenStream, error: syn::Error) -> TokenStream {
    item.extend(error.into_compile_error());
    item
}

fn instrument(kind: Kind, args: TokenStream, item: Item) -> syn::Result<TokenStream> {
    let target = item::target(kind, item)?;
    let labels = match Args::parse(args.clone())? {
        Args::Labels(labels) => labels::labels(kind, labels, &args)?,
        Args::Skip(skip) => {
            // A body the block's attribute already instrumented: the block
            // did not see this marker as its own, it is under another name.
            let renamed = matches!(&target, Target::Fn(func)
                if item::check_not_instrumented(kind, &func.block).is_err());
            let message = if renamed {
                format!(
                    "this `skip` is not seen under a renamed import, and the impl block's \
                     attribute has instrumented the method: write #[insa_metrics::{0}(skip)]",
                    kind.name()
                )
            } else {
                format!(
                    "`skip` leaves a method out of an impl block that has #[{0}(…)]: \
                     put #[{0}(…)] on the impl block, or remove this one",
                    kind.name()
                )
            };
            return Err(syn::Error::new_spanned(skip, message));
        }
    };
    let site = site(kind, &labels);
    Ok(match target {
        Target::Fn(mut func) => {
            instrument_fn(kind, &site, &func.sig, &mut func.block, Place::Fn)?;
            func.into_token_stream()
        }
        Target::Impl(block) => impl_block::instrument(kind, &site, block)?.into_token_stream(),
    })
}

/// Instruments the body of a fn with this signature.
pub(crate) fn instrument_fn(
    kind: Kind,
    site: &TokenStream,
    sig: &Signature,
    block: &mut Block,
    place: Place,
) -> syn::Result<()> {
    item::check_not_instrumented(kind, block)?;
    if sig.asyncness.is_some() {
        // An `async fn` body runs at the first poll: so does the guard.
        let body = Body::of_async(Some(Move::default()), block);
        *block = instrumented(kind, site, &body, &Output::of(&sig.output), None);
    } else if let Some(tail) = tail_async_block(block) {
        // `-> impl Future { async move { … } }`, and `#[async_trait]`'s
        // `Box::pin(async move { … })`: instrument inside the async block.
        let body = Body::of_async(tail.capture, &tail.block);
        tail.block = instrumented(kind, site, &body, &Output::of_future(&sig.output), None);
    } else if let Some(future) = returned_future(&sig.output) {
        // Timing the construction of a future would record a success before
        // the work has started.
        return Err(syn::Error::new_spanned(
            future,
            format!(
                "#[{}] cannot see into a returned future: make it an `async fn` \
                 or end the body with an `async move {{ … }}` block{}",
                kind.name(),
                place.or_leave_out(kind)
            ),
        ));
    } else {
        let body = Body::Sync(block);
        let output = Output::of(&sig.output);
        let returned = match &sig.output {
            ReturnType::Type(_, ty) => Some(ty.span()),
            ReturnType::Default => None,
        };
        *block = instrumented(kind, site, &body, &output, returned);
    }
    Ok(())
}

/// The return type, if it is a future.
fn returned_future(output: &ReturnType) -> Option<&Type> {
    match output {
        ReturnType::Type(_, ty) if future_output(ty).is_some() => Some(ty),
        _ => None,
    }
}

/// `{ static __INSA_SITE: Site = Site::new(&label, …); Site::start(&__INSA_SITE) }`:
/// the handles resolve at the first call, later calls only read them.
fn site(kind: Kind, labels: &[Label]) -> TokenStream {
    let span = Span::mixed_site();
    let site_type = format_ident!("{}", kind.site_type());
    let site = quote_spanned!(span=> ::insa_metrics::__private::#site_type);
    let name = format_ident!("__INSA_SITE", span = span);
    let labels = labels.iter().map(|label| match label {
        Label::Literal(lit) => quote_spanned!(lit.span()=> &#lit),
        Label::Typed(path) => quote_spanned!(path.span()=> &#path),
    });
    quote_spanned! {span=>
        {
            static #name: #site = #site::new(#(#labels),*);
            #site::start(&#name)
        }
    }
}

/// The instrumented block: the guard, the body run to its value, the outcome.
/// It keeps the original block's braces, so the body reads as the user's.
/// In a sync fn (`sync_return`: its return type's span), a value that is a
/// pinned future (a type the signature does not show to be one) is refused
/// at compile time, with the error on the return type.
fn instrumented(
    kind: Kind,
    site: &TokenStream,
    body: &Body<'_>,
    output: &Output,
    sync_return: Option<Span>,
) -> Block {
    let mut block = if kind.records_outcome() {
        with_outcome(site, body, output, sync_return)
    } else {
        timed_only(site, body)
    };
    block.brace_token = body.block().brace_token;
    block
}

/// Only the time is observed: the guard records it when it drops, whichever
/// way the body ends.
fn timed_only(site: &TokenStream, body: &Body<'_>) -> Block {
    let span = Span::mixed_site();
    let guard = format_ident!("__insa_guard", span = span);
    let user = body.block();
    if has_items(user) {
        syn::parse_quote_spanned! {span=>
            {
                let #guard = #site;
                #user
            }
        }
    } else {
        let stmts = &user.stmts;
        syn::parse_quote_spanned! {span=>
            {
                let #guard = #site;
                #(#stmts)*
            }
        }
    }
}

/// The guard ends with the outcome read from the body's value (a success
/// for `()`); one that never returns records the panic that ends it.
fn with_outcome(
    site: &TokenStream,
    body: &Body<'_>,
    output: &Output,
    sync_return: Option<Span>,
) -> Block {
    let span = Span::mixed_site();
    let guard = format_ident!("__insa_guard", span = span);
    let result = format_ident!("__insa_result", span = span);
    let run = body.run(output, &guard);
    // An async body is polled through the guard, which it marks.
    let binding = match body {
        Body::Async(..) => quote_spanned!(span=> mut #guard),
        Body::Sync(_) => quote_spanned!(span=> #guard),
    };
    // `!`, or a stub behind `impl Trait` (`-> impl Display { todo!() }`)
    // whose value's type is left to the fallback of `!`, as in the fn.
    let never_returns = match output {
        Output::Never => true,
        Output::Inferred => ends_in_panic(body.block()),
        Output::Unit | Output::Known(_) => false,
    };
    if never_returns {
        return syn::parse_quote_spanned! {span=>
            {
                let #binding = #site;
                #run
            }
        };
    }
    match output {
        Output::Unit => syn::parse_quote_spanned! {span=>
            {
                let #binding = #site;
                #run;
                #guard.end(::insa_metrics::__private::Outcome::Success);
            }
        },
        Output::Never | Output::Known(_) | Output::Inferred => {
            let check = sync_return.map(|returned| {
                quote_spanned!(returned=> ::insa_metrics::__private::sync_return!(&#result);)
            });
            syn::parse_quote_spanned! {span=>
                {
                    let #binding = #site;
                    let #result = #run;
                    #check
                    #guard.end(::insa_metrics::__private::outcome!(&#result));
                    #result
                }
            }
        }
    }
}
