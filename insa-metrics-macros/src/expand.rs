//! The expansion: a call-site `static`, a guard, and the original body.
//!
//! The `static` resolves the label handles once; the guard records the call
//! with the outcome of the body's value, or on drop for panics and
//! cancellations.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Block, ReturnType, Type};

use crate::kind::Kind;
use crate::parse::{Args, Label};
use crate::tail::{future_output, tail_async_block};
use crate::validate;

/// Expands one attribute. On error, the item is emitted unchanged next to the
/// `compile_error!`, so the error is the only one the user sees.
pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    match instrument(kind, args, item.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = item;
            tokens.extend(error.into_compile_error());
            tokens
        }
    }
}

fn instrument(kind: Kind, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut func = validate::item(kind, item)?;
    let labels = validate::labels(kind, Args::parse(args.clone())?, &args)?;
    let site = site(kind, &labels);
    if func.sig.asyncness.is_some() {
        // An `async fn` body runs at the first poll: so does the guard.
        let output = Output::of(&func.sig.output);
        let body = Body::Async(quote!(move), &func.block);
        func.block = Box::new(wrap(kind, &site, &body, &output));
    } else if let Some(tail) = tail_async_block(&mut func.block) {
        // `-> impl Future { async move { … } }`, and `#[async_trait]`'s
        // `Box::pin(async move { … })`: instrument inside the async block.
        let output = match future_output(&func.sig.output) {
            Some(ty) => Output::of_type(ty),
            None => Output::Unknown,
        };
        let capture = tail.capture.map(ToTokens::into_token_stream);
        let body = Body::Async(capture.unwrap_or_default(), &tail.block);
        tail.block = wrap(kind, &site, &body, &output);
    } else if let (ReturnType::Type(_, ty), Some(_)) =
        (&func.sig.output, future_output(&func.sig.output))
    {
        // Timing the construction of a future would record a success before
        // the work has started.
        return Err(syn::Error::new_spanned(
            ty,
            format!(
                "#[{}] cannot see into a returned future: make it an `async fn`, \
                 or end the body with an `async move {{ … }}` block",
                kind.name()
            ),
        ));
    } else {
        let output = Output::of(&func.sig.output);
        func.block = Box::new(wrap(kind, &site, &Body::Sync(&func.block), &output));
    }
    Ok(func.into_token_stream())
}

/// `{ static __INSA_SITE: Site = Site::new(&label, …); __INSA_SITE.start() }`:
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
            #name.start()
        }
    }
}

/// The original body, and how to run it to its value.
enum Body<'a> {
    /// A fn body: run in a closure, so `return` and `?` end the body only.
    Sync(&'a Block),
    /// An async body, with its capture mode: awaited as an async block.
    Async(TokenStream, &'a Block),
}

/// What is known of the body's value.
enum Output<'a> {
    /// `()`: a success once returned.
    Unit,
    /// `!`: the body never returns; only a panic ends it, through the guard.
    Never,
    /// A nameable type, written on the body so `?` and coercions infer.
    Known(&'a Type),
    /// A type with `impl Trait` in it, left to inference.
    Unknown,
}

impl<'a> Output<'a> {
    fn of(output: &'a ReturnType) -> Self {
        match output {
            ReturnType::Default => Output::Unit,
            ReturnType::Type(_, ty) => Output::of_type(ty),
        }
    }

    fn of_type(ty: &'a Type) -> Self {
        match ty {
            Type::Tuple(tuple) if tuple.elems.is_empty() => Output::Unit,
            Type::Never(_) => Output::Never,
            ty if contains_impl(ty.to_token_stream()) => Output::Unknown,
            ty => Output::Known(ty),
        }
    }
}

/// The instrumented block: the guard, the body run to its value, the outcome.
fn wrap(kind: Kind, site: &TokenStream, body: &Body<'_>, output: &Output<'_>) -> Block {
    let span = Span::mixed_site();
    let guard = format_ident!("__insa_guard", span = span);
    let result = format_ident!("__insa_result", span = span);
    if !kind.records_outcome() {
        // Only the time is observed: the guard records it when it drops,
        // whichever way the body ends.
        let (Body::Sync(block) | Body::Async(_, block)) = body;
        let stmts = &block.stmts;
        return syn::parse_quote_spanned! {span=>
            {
                let #guard = #site;
                #(#stmts)*
            }
        };
    }
    let run = match body {
        // The fn's return type is the closure's, given to `run` so that
        // `?` and coercions infer as in the fn.
        Body::Sync(block) => match output {
            Output::Known(ty) => {
                quote_spanned!(span=> ::insa_metrics::__private::run::<#ty>(move || #block))
            }
            Output::Never => {
                quote_spanned!(span=> ::insa_metrics::__private::run(move || -> ! #block))
            }
            Output::Unit | Output::Unknown => {
                quote_spanned!(span=> ::insa_metrics::__private::run(move || #block))
            }
        },
        Body::Async(capture, block) => match output {
            // The async block's type is fixed up front, so that `return`s
            // of different types coerce as they do in the fn.
            Output::Known(ty) => quote_spanned! {span=>
                async #capture {
                    ::insa_metrics::__private::returns!(#ty);
                    #block
                }
                .await
            },
            _ => quote_spanned!(span=> async #capture #block.await),
        },
    };
    let outcome = quote_spanned!(span=> ::insa_metrics::__private::outcome!(&#result));

    match output {
        Output::Never => syn::parse_quote_spanned! {span=>
            {
                let #guard = #site;
                #run
            }
        },
        Output::Unit => syn::parse_quote_spanned! {span=>
            {
                let #guard = #site;
                #run;
                #guard.end(::insa_metrics::__private::Outcome::Success);
            }
        },
        Output::Known(_) | Output::Unknown => syn::parse_quote_spanned! {span=>
            {
                let #guard = #site;
                let #result = #run;
                #guard.end(#outcome);
                #result
            }
        },
    }
}

/// Whether a type mentions `impl Trait`, which cannot be written in a body.
fn contains_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => contains_impl(group.stream()),
        _ => false,
    })
}
