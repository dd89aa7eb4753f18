//! The async block a non-async fn returns, and the type it resolves to.
//!
//! `-> impl Future<Output = T> { …; async move { … } }` and `#[async_trait]`'s
//! `Box::pin(async move { … })` are instrumented inside that block.

use syn::{
    Block, Expr, ExprAsync, GenericArgument, PathArguments, ReturnType, Stmt, Type, TypeParamBound,
};

/// The async block a non-async fn returns: its tail `async { … }` or
/// `Box::pin(async { … })`.
pub(crate) fn tail_async_block(block: &mut Block) -> Option<&mut ExprAsync> {
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
pub(crate) fn future_output(output: &ReturnType) -> Option<&Type> {
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
