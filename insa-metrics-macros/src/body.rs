//! How the original body runs to its value: in a closure, so `return` and `?` end the body and not the fn; or, when it awaits, in an async block awaited in place.
//!
//! The closure and the async block carry the spans of the body's braces, so
//! rustc and clippy lint the body as the user's code (`needless_return`,
//! `needless_pass_by_value`, `unused_async`); the names the expansion adds are
//! hygienic.

use proc_macro2::{Delimiter, Ident, Spacing, Span, TokenStream, TokenTree};
use quote::quote_spanned;
use syn::token::Move;
use syn::{Block, Stmt};

use crate::output::Output;

/// A body, and how it runs.
pub(crate) enum Body<'a> {
    /// Runs in a closure called once.
    Sync(&'a Block),
    /// Runs as an async block (with its capture mode) awaited in place.
    Async(Option<Move>, &'a Block),
}

impl<'a> Body<'a> {
    /// An async body. One that never awaits runs as a sync one: it cannot
    /// suspend, the future is smaller, and clippy's `unused_async` still sees
    /// a fn without an `.await`.
    pub(crate) fn of_async(capture: Option<Move>, block: &'a Block) -> Self {
        if may_await(block.stmts.iter().map(quote::ToTokens::to_token_stream)) {
            Body::Async(capture, block)
        } else {
            Body::Sync(block)
        }
    }

    /// The original block.
    pub(crate) fn block(&self) -> &'a Block {
        match self {
            Body::Sync(block) | Body::Async(_, block) => block,
        }
    }

    /// The expression that runs the body to its value; an async body is
    /// polled through `guard`, which it marks suspended between polls.
    pub(crate) fn run(&self, output: &Output, guard: &Ident) -> TokenStream {
        let span = Span::mixed_site();
        let user = self.block().brace_token.span.open();
        match self {
            // The fn's return type is the closure's, given to `run` so that
            // `?` and coercions infer as in the fn.
            Body::Sync(block) => {
                let closure = match output {
                    Output::Never => quote_spanned!(user=> || -> !),
                    _ => quote_spanned!(user=> ||),
                };
                match output {
                    Output::Known(ty) => quote_spanned! {span=>
                        ::insa_metrics::__private::run::<#ty>(#closure #block)
                    },
                    _ => quote_spanned!(span=> ::insa_metrics::__private::run(#closure #block)),
                }
            }
            // The async block's type is fixed up front, so that `return`s of
            // different types coerce as they do in the fn.
            Body::Async(capture, block) => {
                let block: Block = match output {
                    Output::Known(ty) if !has_items(block) => {
                        let mut block = (*block).clone();
                        let returns: Stmt = syn::parse_quote_spanned!(span=>
                            ::insa_metrics::__private::returns!(#ty);
                        );
                        block.stmts.insert(0, returns);
                        block
                    }
                    // A body with items stays a block of its own after
                    // `returns!`, so they do not follow a statement of ours
                    // (`clippy::items_after_statements`).
                    Output::Known(ty) => {
                        let mut wrapped: Block = syn::parse_quote_spanned! {span=>
                            {
                                ::insa_metrics::__private::returns!(#ty);
                                #block
                            }
                        };
                        wrapped.brace_token = block.brace_token;
                        wrapped
                    }
                    _ => (*block).clone(),
                };
                let capture = capture.map(|_| Move(user));
                let head = quote_spanned!(user=> async #capture);
                quote_spanned!(span=> ::insa_metrics::__private::Call::polled(&mut #guard, #head #block).await)
            }
        }
    }
}

/// Whether a body ends in `panic!`, `todo!`, `unimplemented!` or
/// `unreachable!` (a stub): it never returns a value, so there is no outcome
/// to read; the guard records the panic as it unwinds.
pub(crate) fn ends_in_panic(block: &Block) -> bool {
    let mac = match block.stmts.last() {
        Some(Stmt::Macro(stmt)) => &stmt.mac,
        Some(Stmt::Expr(syn::Expr::Macro(expr), _)) => &expr.mac,
        _ => return false,
    };
    mac.path.segments.last().is_some_and(|last| {
        ["panic", "todo", "unimplemented", "unreachable"]
            .iter()
            .any(|name| last.ident == name)
    })
}

/// Whether a body declares items (`use`, `const`, `fn`, …). Such a body is
/// nested whole after the statements the expansion puts first, so that its
/// items do not follow them (`clippy::items_after_statements`); any other is
/// spliced after them, as a block holding one expression would draw
/// `unused_braces` on the user's braces.
pub(crate) fn has_items(block: &Block) -> bool {
    block.stmts.iter().any(|stmt| matches!(stmt, Stmt::Item(_)))
}

/// Macros that never expand to an `.await` of their own: the standard ones
/// and the logging ones of `log` and `tracing`. Any other macro may.
const NEVER_AWAIT: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "cfg",
    "column",
    "concat",
    "dbg",
    "debug",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "env",
    "eprint",
    "eprintln",
    "error",
    "file",
    "format",
    "format_args",
    "include_bytes",
    "include_str",
    "info",
    "line",
    "matches",
    "module_path",
    "option_env",
    "panic",
    "print",
    "println",
    "stringify",
    "todo",
    "trace",
    "unimplemented",
    "unreachable",
    "vec",
    "warn",
    "write",
    "writeln",
];

/// Whether a body may suspend: it has an `.await` outside the async blocks it
/// builds, or calls a macro that might expand to one.
fn may_await(tokens: impl IntoIterator<Item = TokenStream>) -> bool {
    tokens.into_iter().any(|stream| {
        let mut tokens = stream.into_iter().peekable();
        while let Some(token) = tokens.next() {
            match token {
                TokenTree::Ident(ident) if ident == "await" => return true,
                // `async move { … }` is a value: its `.await`s are its own.
                TokenTree::Ident(ident) if ident == "async" => {
                    tokens.next_if(|t| matches!(t, TokenTree::Ident(m) if m == "move"));
                    tokens.next_if(
                        |t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace),
                    );
                }
                TokenTree::Ident(ident) => {
                    let bang = tokens.next_if(|t| {
                        matches!(t, TokenTree::Punct(p) if p.as_char() == '!' && p.spacing() == Spacing::Alone)
                    });
                    if bang.is_some() && !NEVER_AWAIT.iter().any(|name| ident == name) {
                        return true;
                    }
                }
                TokenTree::Group(group) if may_await([group.stream()]) => return true,
                _ => {}
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn awaits(body: &str) -> bool {
        may_await([body.parse::<TokenStream>().unwrap()])
    }

    #[test]
    fn awaits_are_found() {
        assert!(awaits("let x = f().await?; Ok(x)"));
        assert!(awaits("g(h().await)"));
        assert!(awaits("assert_eq!(f().await, 1)"));
        assert!(awaits("tokio::select! { _ = a => 1, _ = b => 2 }"));
        assert!(awaits("my_macro!(x)"));
        assert!(awaits("let f = async { 1 }; f.await"));
    }

    #[test]
    fn bodies_that_cannot_suspend() {
        assert!(!awaits("x + 1"));
        assert!(!awaits("if a != b { return 2; } a"));
        assert!(!awaits(
            r#"tracing::info!("x {}", x); println!("{x}"); Ok(x?)"#
        ));
        assert!(!awaits("let later = async move { f().await }; later"));
        assert!(!awaits("!done"));
    }

    #[test]
    fn an_async_body_without_await_runs_in_a_closure() {
        let block: Block = syn::parse_quote!({ x + 1 });
        let run = Body::of_async(None, &block).run(
            &Output::Inferred,
            &proc_macro2::Ident::new("guard", Span::call_site()),
        );
        assert_eq!(
            run.to_string(),
            quote!(::insa_metrics::__private::run(|| { x + 1 })).to_string()
        );
    }
}
