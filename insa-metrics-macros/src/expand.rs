//! The expansion: a call-site `static` resolving the label handles once, a
//! guard, and the original body run to its result.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Block, Expr, ExprAsync, GenericArgument, PathArguments, ReturnType, Stmt, Type, TypeParamBound,
};

use crate::kind::Kind;
use crate::parse::{Args, Label};
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
    /// A nameable type, written on the result so `?` and coercions infer.
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
            Type::Never(_) => Output::Unknown,
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
        Body::Sync(block) => {
            let ty = match output {
                Output::Known(ty) => quote!(-> #ty),
                Output::Unit | Output::Unknown => quote!(),
            };
            quote_spanned!(span=> (move || #ty #block)())
        }
        Body::Async(capture, block) => quote_spanned!(span=> async #capture #block.await),
    };
    let allow = match body {
        Body::Sync(_) => quote_spanned!(span=> #[allow(clippy::redundant_closure_call)]),
        Body::Async(..) => quote!(),
    };
    let outcome = quote_spanned!(span=> ::insa_metrics::__private::outcome!(&#result));
    match output {
        Output::Unit => syn::parse_quote_spanned! {span=>
            {
                let #guard = #site;
                #allow
                #run;
                #guard.end(::insa_metrics::__private::Outcome::Success);
            }
        },
        Output::Known(ty) if matches!(body, Body::Async(..)) => syn::parse_quote_spanned! {span=>
            {
                let #guard = #site;
                let #result: #ty = #run;
                #guard.end(#outcome);
                #result
            }
        },
        Output::Known(_) | Output::Unknown => syn::parse_quote_spanned! {span=>
            {
                let #guard = #site;
                #allow
                let #result = #run;
                #guard.end(#outcome);
                #result
            }
        },
    }
}

/// The async block a non-async fn returns: its tail `async { … }` or
/// `Box::pin(async { … })`.
fn tail_async_block(block: &mut Block) -> Option<&mut ExprAsync> {
    match block.stmts.last_mut()? {
        Stmt::Expr(expr, None) => async_in(expr),
        _ => None,
    }
}

fn async_in(expr: &mut Expr) -> Option<&mut ExprAsync> {
    match expr {
        Expr::Async(block) => Some(block),
        Expr::Paren(inner) => async_in(&mut inner.expr),
        Expr::Group(inner) => async_in(&mut inner.expr),
        Expr::Call(call) if call.args.len() == 1 && is_box_pin(&call.func) => {
            async_in(call.args.first_mut()?)
        }
        _ => None,
    }
}

/// `Box::pin`, however qualified.
fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else {
        return false;
    };
    let mut segments = path.path.segments.iter().rev();
    matches!(
        (segments.next(), segments.next()),
        (Some(pin), Some(boxed)) if pin.ident == "pin" && boxed.ident == "Box"
    )
}

/// `T` in a return type `impl Future<Output = T>` or
/// `Pin<Box<dyn Future<Output = T> + Send + '_>>`.
fn future_output(output: &ReturnType) -> Option<&Type> {
    match output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => output_in(ty),
    }
}

fn output_in(ty: &Type) -> Option<&Type> {
    let bounds = match ty {
        Type::ImplTrait(ty) => &ty.bounds,
        Type::TraitObject(ty) => &ty.bounds,
        Type::Paren(ty) => return output_in(&ty.elem),
        Type::Group(ty) => return output_in(&ty.elem),
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            return args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(ty) => output_in(ty),
                _ => None,
            });
        }
        _ => return None,
    };
    bounds.iter().find_map(|bound| {
        let TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let future = bound.path.segments.last()?;
        let PathArguments::AngleBracketed(args) = &future.arguments else {
            return None;
        };
        if future.ident != "Future" {
            return None;
        }
        args.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

/// Whether a type mentions `impl Trait`, which cannot be written in a body.
fn contains_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => contains_impl(group.stream()),
        _ => false,
    })
}
