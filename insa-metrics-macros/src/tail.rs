//! The async block a non-async fn returns.
//!
//! `-> impl Future<Output = T> { …; async move { … } }` and `#[async_trait]`'s
//! `Box::pin(async move { … })` are instrumented inside that block.

use syn::{Block, Expr, ExprAsync, Stmt};

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
