//! The attribute arguments: `("a", "b")`, `(key = "a")`, typed label paths, or `(skip)`.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprPath, Ident, Lit, LitStr, Token};

/// The arguments as written.
pub(crate) enum Args {
    /// The labels to record under, not yet checked.
    Labels(Vec<Arg>),
    /// `(skip)` on a method: leave it out of its instrumented impl block.
    Skip(Ident),
}

/// One argument: an optional `key =` and a label.
pub(crate) struct Arg {
    pub(crate) key: Option<Ident>,
    pub(crate) label: Label,
}

/// A label value.
pub(crate) enum Label {
    /// `"sizing_agent"`.
    Literal(LitStr),
    /// `AgentType::Sizing`: a path to a constant implementing `LabelValue`.
    Typed(ExprPath),
}

/// The one word that is not a label: `(skip)`.
pub(crate) const SKIP: &str = "skip";

impl Args {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let exprs = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(tokens)?;
        if let Some(skip) = skip(&exprs) {
            return Ok(Args::Skip(skip));
        }
        let args = exprs
            .into_iter()
            .map(Arg::from_expr)
            .collect::<syn::Result<_>>()?;
        Ok(Args::Labels(args))
    }
}

/// `skip`, alone.
fn skip(exprs: &Punctuated<Expr, Token![,]>) -> Option<Ident> {
    match exprs.iter().collect::<Vec<_>>().as_slice() {
        [Expr::Path(path)] if path.attrs.is_empty() && path.qself.is_none() => path
            .path
            .get_ident()
            .filter(|ident| *ident == SKIP)
            .cloned(),
        _ => None,
    }
}

impl Arg {
    fn from_expr(expr: Expr) -> syn::Result<Arg> {
        match expr {
            Expr::Assign(assign) => Ok(Arg {
                key: Some(key(*assign.left)?),
                label: Label::from_expr(*assign.right)?,
            }),
            other => Ok(Arg {
                key: None,
                label: Label::from_expr(other)?,
            }),
        }
    }
}

/// The `key` of `key = label`: a plain identifier.
fn key(expr: Expr) -> syn::Result<Ident> {
    if let Expr::Path(path) = &expr {
        if let (None, Some(ident)) = (&path.qself, path.path.get_ident()) {
            return Ok(ident.clone());
        }
    }
    Err(syn::Error::new_spanned(
        expr,
        "expected a key like `agent_type`",
    ))
}

impl Label {
    fn from_expr(expr: Expr) -> syn::Result<Label> {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => Ok(Label::Literal(lit)),
            Expr::Path(path) if path.qself.is_none() => Ok(Label::Typed(path)),
            Expr::Group(group) => Label::from_expr(*group.expr),
            other => Err(syn::Error::new_spanned(
                other,
                r#"expected a string literal like "sizing_agent" or a typed label like `AgentType::Sizing`"#,
            )),
        }
    }

    /// Where an error about this label points.
    pub(crate) fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        match self {
            Label::Literal(lit) => syn::Error::new_spanned(lit, message),
            Label::Typed(path) => syn::Error::new_spanned(path, message),
        }
    }
}
