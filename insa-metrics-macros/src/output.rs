//! What is known of a body's value: its type as the fn declares it, with `impl Trait` left to inference.

use proc_macro2::Span;
use quote::ToTokens;
use syn::{
    GenericArgument, PathArguments, ReturnType, Type, TypeInfer, TypeParamBound, parse_quote,
};

/// The type of a body's value.
pub(crate) enum Output {
    /// `()`: a success once returned.
    Unit,
    /// `!`: the body never returns; only a panic ends it, through the guard.
    Never,
    /// A type written on the body so `?` and coercions infer as in the fn,
    /// `_` standing for each `impl Trait` in it: `Result<_, MyError>` fixes
    /// the error type the outcome is read from.
    Known(Box<Type>),
    /// `impl Trait` (or an unknown future's output): left to inference.
    Inferred,
}

impl Output {
    /// The value of a fn body: the fn's return type.
    pub(crate) fn of(output: &ReturnType) -> Self {
        match output {
            ReturnType::Default => Output::Unit,
            ReturnType::Type(_, ty) => Output::of_type(ty),
        }
    }

    fn of_type(ty: &Type) -> Self {
        match ty {
            Type::Tuple(tuple) if tuple.elems.is_empty() => Output::Unit,
            Type::Never(_) => Output::Never,
            // A type passed through `macro_rules!` as `$t:ty` comes grouped.
            Type::Group(group) => Output::of_type(&group.elem),
            Type::Paren(paren) => Output::of_type(&paren.elem),
            ty => {
                let mut ty = ty.clone();
                infer_impl_trait(&mut ty);
                match ty {
                    Type::Infer(_) => Output::Inferred,
                    ty => Output::Known(Box::new(ty)),
                }
            }
        }
    }

    /// The value of the async block a non-async fn returns: the `Output` of
    /// its `impl Future<Output = T>`, `Pin<Box<dyn Future<Output = T>>>`, or,
    /// for a type alias of a pinned future, its projection through
    /// `__private::PinnedFuture`.
    pub(crate) fn of_future(output: &ReturnType) -> Self {
        let ReturnType::Type(_, ty) = output else {
            return Output::Inferred;
        };
        match future_output(ty) {
            Some(output) => Output::of_type(output),
            None if matches!(**ty, Type::Path(_)) && !contains_impl(ty) => Output::Known(Box::new(
                parse_quote!(<#ty as ::insa_metrics::__private::PinnedFuture>::Output),
            )),
            None => Output::Inferred,
        }
    }
}

/// `T` in a return type `impl Future<Output = T>` or
/// `Pin<Box<dyn Future<Output = T> + Send + '_>>`.
pub(crate) fn future_output(ty: &Type) -> Option<&Type> {
    let bounds = match ty {
        Type::ImplTrait(ty) => &ty.bounds,
        Type::TraitObject(ty) => &ty.bounds,
        Type::Paren(ty) => return future_output(&ty.elem),
        Type::Group(ty) => return future_output(&ty.elem),
        Type::Path(path) => {
            // Through `Pin<…>` and `Box<…>` only: in any other path, a
            // future type argument is not what the fn returns.
            let last = path.path.segments.last()?;
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            if last.ident != "Pin" && last.ident != "Box" {
                return None;
            }
            return args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(ty) => future_output(ty),
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

/// Replaces each `impl Trait` in the generic arguments of a path (`Fn(A) -> B`
/// included) with `_`.
fn infer_in_path(path: &mut syn::Path) {
    for segment in &mut path.segments {
        match &mut segment.arguments {
            PathArguments::AngleBracketed(args) => {
                for arg in &mut args.args {
                    match arg {
                        GenericArgument::Type(ty) => infer_impl_trait(ty),
                        GenericArgument::AssocType(assoc) => infer_impl_trait(&mut assoc.ty),
                        _ => {}
                    }
                }
            }
            PathArguments::Parenthesized(args) => {
                args.inputs.iter_mut().for_each(infer_impl_trait);
                if let ReturnType::Type(_, ty) = &mut args.output {
                    infer_impl_trait(ty);
                }
            }
            PathArguments::None => {}
        }
    }
}

/// Replaces each `impl Trait` in a type with `_`, which a body may write.
fn infer_impl_trait(ty: &mut Type) {
    match ty {
        Type::ImplTrait(_) => {
            *ty = Type::Infer(TypeInfer {
                underscore_token: syn::Token![_](Span::mixed_site()),
            });
        }
        Type::Path(path) => infer_in_path(&mut path.path),
        // `Box<dyn Iterator<Item = impl Display>>`: `dyn Iterator<Item = _>`.
        Type::TraitObject(object) => {
            for bound in &mut object.bounds {
                if let TypeParamBound::Trait(bound) = bound {
                    infer_in_path(&mut bound.path);
                }
            }
        }
        Type::Reference(reference) => infer_impl_trait(&mut reference.elem),
        Type::Ptr(pointer) => infer_impl_trait(&mut pointer.elem),
        Type::Slice(slice) => infer_impl_trait(&mut slice.elem),
        Type::Array(array) => infer_impl_trait(&mut array.elem),
        Type::Paren(paren) => infer_impl_trait(&mut paren.elem),
        Type::Group(group) => infer_impl_trait(&mut group.elem),
        Type::Tuple(tuple) => tuple.elems.iter_mut().for_each(infer_impl_trait),
        _ => {}
    }
}

/// Whether a type mentions `impl Trait`.
fn contains_impl(ty: &Type) -> bool {
    fn any_impl(tokens: proc_macro2::TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => ident == "impl",
            proc_macro2::TokenTree::Group(group) => any_impl(group.stream()),
            _ => false,
        })
    }
    any_impl(ty.to_token_stream())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(output: &Output) -> String {
        match output {
            Output::Known(ty) => ty.to_token_stream().to_string(),
            Output::Unit => "()".to_owned(),
            Output::Never => "!".to_owned(),
            Output::Inferred => "inferred".to_owned(),
        }
    }

    #[test]
    fn impl_trait_is_inferred() {
        let of = |ty: &str| known(&Output::of(&syn::parse_str(ty).unwrap()));
        assert_eq!(
            of("-> Result<impl Iterator<Item = u32>, MyError>"),
            "Result < _ , MyError >"
        );
        assert_eq!(
            of("-> anyhow::Result<impl Iterator>"),
            "anyhow :: Result < _ >"
        );
        assert_eq!(of("-> (impl Display, &'a [impl Debug])"), "(_ , & 'a [_])");
        assert_eq!(of("-> impl Iterator<Item = u32>"), "inferred");
        assert_eq!(of("-> ()"), "()");
        assert_eq!(of("-> !"), "!");
        assert_eq!(of("-> Box<dyn Error>"), "Box < dyn Error >");
        assert_eq!(
            of("-> Box<dyn Iterator<Item = impl Display> + '_>"),
            "Box < dyn Iterator < Item = _ > + '_ >"
        );
        assert_eq!(
            of("-> Box<dyn Fn(impl Debug) -> impl Display>"),
            "Box < dyn Fn (_) -> _ >"
        );
    }

    #[test]
    fn future_outputs() {
        let of = |ty: &str| known(&Output::of_future(&syn::parse_str(ty).unwrap()));
        assert_eq!(of("-> impl Future<Output = u32> + Send"), "u32");
        assert_eq!(
            of("-> Pin<Box<dyn Future<Output = Result<impl Debug, E>> + Send + 'a>>"),
            "Result < _ , E >"
        );
        assert_eq!(
            of("-> BoxFuture<'static, Result<u8, E>>"),
            "< BoxFuture < 'static , Result < u8 , E > > as :: insa_metrics :: __private :: PinnedFuture > :: Output"
        );
        assert_eq!(
            of("-> BoxFuture<'static, Option<Pin<Box<dyn Future<Output = u8>>>>>"),
            "< BoxFuture < 'static , Option < Pin < Box < dyn Future < Output = u8 > > > > > as :: insa_metrics :: __private :: PinnedFuture > :: Output"
        );
        assert_eq!(of("-> Wrapper<impl Future<Output = u8>>"), "inferred");
    }
}
