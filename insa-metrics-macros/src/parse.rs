//! The attribute arguments: `("a", "b")`, `(key = "a")` or typed label paths.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprPath, Ident, Lit, LitStr, Token};

/// The arguments as written.
pub(crate) struct Args {
    pub(crate) args: Vec<Arg>,
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

impl Args {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let exprs = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(tokens)?;
        let args = exprs
            .into_iter()
            .map(Arg::from_expr)
            .collect::<syn::Result<_>>()?;
        Ok(Args { args })
    }
}

impl Arg {
    fn from_expr(expr: Expr) -> syn::Result<Arg> {
        match expr {
            Expr::Assign(assign) => {
                let key = match *assign.left {
                    Expr::Path(path) if path.qself.is_none() && path.path.get_ident().is_some() => {
                        path.path
                            .segments
                            .into_iter()
                            .next()
                            .map(|segment| segment.ident)
                    }
                    other => {
                        return Err(syn::Error::new_spanned(
                            other,
                            "expected a key like `agent_type`",
                        ));
                    }
                };
                Ok(Arg {
                    key,
                    label: Label::from_expr(*assign.right)?,
                })
            }
            other => Ok(Arg {
                key: None,
                label: Label::from_expr(other)?,
            }),
        }
    }
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
}
