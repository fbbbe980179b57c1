//! Turning a parsed policy into a `Policy` impl and a guarded handler.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{Expr, FnArg, ItemFn, ext::IdentExt, spanned::Spanned};

use super::attr::{Args, Cond, Redirect, Via};
use crate::internals::RenameRule;

/// `impl Policy<S> for #name`.
///
/// Every `role` and `permission` leaf is answered first, all of them, whatever the conditions
/// around them: they cost no I/O, and a leaf the user type can never hold is a setup error on the
/// first request rather than on the first request that happens to reach it. Checks, which may be
/// slow, run only where the conditions need them, in order, short-circuiting.
pub(crate) fn policy_impl(name: &syn::Ident, args: &Args) -> TokenStream {
    let krate = &args.krate();
    let mut leaves = Leaves::default();
    // Scopes at the top level are the guard's options, which the guard checks before the
    // policy and refuses with RFC 6750's `insufficient_scope` and the scope's name; the others
    // are conditions like roles.
    let (scopes, conds): (Vec<&Cond>, Vec<&Cond>) = args
        .conds
        .iter()
        .partition(|cond| matches!(cond, Cond::Scope(_)));
    let scopes = scopes.into_iter().filter_map(|cond| match cond {
        Cond::Scope(scope) => Some(scope),
        _ => None,
    });
    let conds: Vec<Cond> = conds.into_iter().cloned().collect();
    let check = all(&conds, krate, &mut leaves);
    let names = leaves.names;
    let leaves = leaves.statements;
    let redirect = match &args.redirect {
        None => quote!(#krate::__private::RedirectOverride::Inherit),
        Some(Redirect::To(url)) => quote!(#krate::__private::RedirectOverride::To(#url)),
        Some(Redirect::Off) => quote!(#krate::__private::RedirectOverride::Off),
    };
    let redirect_field = match &args.redirect_field {
        None => quote!(#krate::__private::core::option::Option::None),
        Some(field) => quote!(#krate::__private::core::option::Option::Some(#field)),
    };
    let fresh = match args.fresh {
        None => quote!(#krate::__private::core::option::Option::None),
        Some(seconds) => {
            quote!(#krate::__private::core::option::Option::Some(#krate::__private::core::time::Duration::from_secs(#seconds)))
        }
    };
    let second_factor = match args.mfa {
        None => quote!(#krate::__private::core::option::Option::None),
        Some(None) => {
            quote!(#krate::__private::core::option::Option::Some(#krate::__private::core::time::Duration::MAX))
        }
        Some(Some(seconds)) => {
            quote!(#krate::__private::core::option::Option::Some(#krate::__private::core::time::Duration::from_secs(#seconds)))
        }
    };
    let fresh_second_factor = match args.fresh_mfa {
        None => quote!(#krate::__private::core::option::Option::None),
        Some(seconds) => {
            quote!(#krate::__private::core::option::Option::Some(#krate::__private::core::time::Duration::from_secs(#seconds)))
        }
    };
    let via = match args.via {
        None => quote!(#krate::__private::Via::Either),
        Some((Via::Session, _)) => quote!(#krate::__private::Via::Session),
        Some((Via::Token, _)) => quote!(#krate::__private::Via::Token),
    };
    let email_verified = args.verified;
    quote! {
        #[automatically_derived]
        impl<__S> #krate::__private::Policy<__S> for #name
        where
            __S: #krate::__private::core::marker::Send + #krate::__private::core::marker::Sync,
        {
            const OPTIONS: #krate::__private::GuardOptions = #krate::__private::GuardOptions {
                redirect: #redirect,
                redirect_field: #redirect_field,
                fresh: #fresh,
                second_factor: #second_factor,
                fresh_second_factor: #fresh_second_factor,
                via: #via,
                scopes: &[#(#scopes),*],
                email_verified: #email_verified,
            };

            #[allow(
                unused_variables,
                clippy::unused_async,
                clippy::needless_question_mark,
                clippy::nonminimal_bool,
                clippy::double_parens
            )]
            async fn check(
                __cx: &mut #krate::__private::PolicyContext<'_, __S>,
            ) -> #krate::__private::core::result::Result<bool, #krate::__private::Response> {
                #[allow(unused_imports)]
                use #krate::__private::{
                    PermissionKeyIsOther as _, PermissionKeyIsPermission as _,
                    PermissionKeyIsRole as _, RoleKeyIsOther as _, RoleKeyIsPermission as _,
                    RoleKeyIsRole as _,
                };
                #(#leaves)*
                #krate::__private::core::result::Result::Ok(#check)
            }
        }

        #(#names)*
    }
}

/// The `let` statements that answer the role and permission leaves, in the order written, and
/// the registrations of the leaves given as strings.
#[derive(Default)]
struct Leaves {
    statements: Vec<TokenStream>,
    names: Vec<TokenStream>,
}

impl Leaves {
    /// Answers `call` (a `Result<bool, Response>`) up front; the answer's name.
    fn answer(&mut self, call: TokenStream) -> TokenStream {
        // Hygienic: the user's expressions cannot see or shadow it.
        let name = format_ident!(
            "__axum_login_leaf_{}",
            self.statements.len(),
            span = Span::mixed_site()
        );
        self.statements.push(quote!(let #name: bool = #call?;));
        quote!(#name)
    }
}

fn all(conds: &[Cond], krate: &syn::Path, leaves: &mut Leaves) -> TokenStream {
    if conds.is_empty() {
        return quote!(true);
    }
    let parts: Vec<_> = conds.iter().map(|c| cond(c, krate, leaves)).collect();
    quote!((#(#parts)&&*))
}

fn any(conds: &[Cond], krate: &syn::Path, leaves: &mut Leaves) -> TokenStream {
    let parts: Vec<_> = conds.iter().map(|c| cond(c, krate, leaves)).collect();
    quote!((#(#parts)||*))
}

fn cond(condition: &Cond, krate: &syn::Path, leaves: &mut Leaves) -> TokenStream {
    match condition {
        // Spanned on the user's value: a value that is not a role or permission is reported
        // there. A path goes through the key wrappers (see `axum_login::guard`'s `key` module),
        // so that a permission given to `role` says so; a string is a name.
        Cond::Role(Expr::Lit(lit)) => {
            leaves.names.push(register_name(krate, quote!(Role), lit));
            leaves.answer(quote_spanned!(lit.span()=> __cx.role_name_leaf(#lit)))
        }
        Cond::Role(role) => {
            let key = quote_spanned!(role.span()=> (&&&#krate::__private::RoleKey(&#role)));
            let call = quote_spanned!(last_span(role)=> .role_key());
            leaves.answer(quote_spanned!(role.span()=> __cx.role_leaf(#key #call)))
        }
        Cond::Permission(Expr::Lit(lit)) => {
            leaves
                .names
                .push(register_name(krate, quote!(Permission), lit));
            leaves.answer(quote_spanned!(lit.span()=> __cx.permission_name_leaf(#lit)))
        }
        Cond::Permission(permission) => {
            let key = quote_spanned! {permission.span()=>
                (&&&#krate::__private::PermissionKey(&#permission))
            };
            let call = quote_spanned!(last_span(permission)=> .permission_key());
            leaves.answer(quote_spanned!(permission.span()=> __cx.permission_leaf(#key #call)))
        }
        Cond::Scope(scope) => quote_spanned!(scope.span()=> __cx.has_scope(#scope)),
        // The whole call on the check's tokens, so a check of the wrong shape is reported on
        // the check alone.
        Cond::Check(path) => {
            let check = quote_spanned!(path.span()=> __cx.check(#path));
            quote!((#check.await?))
        }
        Cond::Any(conds) => any(conds, krate, leaves),
        Cond::All(conds) => all(conds, krate, leaves),
        Cond::Not(inner) => {
            let inner = cond(inner, krate, leaves);
            quote!((!#inner))
        }
    }
}

/// Registers a name given as a string, with where it is written, for `AuthLayerBuilder::build`
/// to check against the program's user types (see `axum_login::guard`'s `names` module).
fn register_name(krate: &syn::Path, kind: TokenStream, lit: &syn::ExprLit) -> TokenStream {
    // The literal's own line where the compiler tells it (an attribute may span lines), else the
    // attribute's.
    let line = if proc_macro::is_available() {
        let line = lit.span().unwrap().line() as u32;
        quote!(#line)
    } else {
        quote!(#krate::__private::core::line!())
    };
    quote! {
        #krate::__private::inventory::submit! {
            #krate::__private::GuardName {
                kind: #krate::__private::NameKind::#kind,
                name: #lit,
                file: #krate::__private::core::file!(),
                line: #line,
            }
        }
    }
}

/// The span of the last token of `expr`: with the first token's, rustc underlines the whole
/// path (`Access::Admin`), not its first segment.
fn last_span(expr: &Expr) -> Span {
    expr.to_token_stream()
        .into_iter()
        .last()
        .map_or_else(|| expr.span(), |token| token.span())
}

/// Whether `arg` is `State<...>`: extracting the state reads nothing of the request and cannot
/// fail, so the guard may come after it, and `#[axum::debug_handler]` still finds the state type
/// among the arguments.
fn is_state(arg: &FnArg) -> bool {
    let FnArg::Typed(typed) = arg else {
        return false;
    };
    let syn::Type::Path(path) = &*typed.ty else {
        return false;
    };
    path.path
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "State")
}

/// The argument the guard shares: the first that is not `State`, if any.
pub(crate) fn guard_slot(function: &ItemFn) -> Option<usize> {
    function.sig.inputs.iter().position(|arg| !is_state(arg))
}

/// The handler with the guard in front of its other extractors, and the policy type beside it.
///
/// The guard shares an argument with the first extractor that is not `State`, as the tuple
/// extractor `(Guard<P>, T)`, which axum runs left to right: the guard still runs first, and the
/// handler keeps its number of arguments, so a handler with axum's sixteen still compiles, and
/// `#[axum::debug_handler]` above this attribute still calls it right. Only a handler with no
/// such argument gets one more, the guard alone.
pub(crate) fn handler(mut function: ItemFn, args: &Args) -> TokenStream {
    let krate = &args.krate();
    let bare = args.conds.is_empty() && !args.has_options();
    let (policy_type, policy_items) = if bare {
        (quote!(#krate::__private::LoggedIn), TokenStream::new())
    } else {
        // A name that says what it is, for the error messages that show the handler's
        // signature (axum's "the trait `Handler` is not implemented").
        // `unraw`: a handler named `r#match` gets `RequireLoginMatch`, not an invalid `R#match`.
        let pascal = RenameRule::Pascal.apply(&function.sig.ident.unraw().to_string());
        let name = format_ident!("RequireLogin{}", pascal, span = Span::mixed_site());
        let vis = &function.vis;
        let policy = policy_impl(&name, args);
        (
            quote!(#name),
            quote! {
                #[doc(hidden)]
                #vis struct #name;
                #policy
            },
        )
    };
    let guard = quote_spanned!(Span::mixed_site()=> #krate::__private::Guard<#policy_type>);
    match guard_slot(&function).and_then(|index| match &mut function.sig.inputs[index] {
        FnArg::Typed(typed) => Some(typed),
        FnArg::Receiver(_) => None,
    }) {
        Some(typed) => {
            let (pat, ty) = (typed.pat.clone(), typed.ty.clone());
            *typed.pat = syn::parse_quote_spanned!(pat.span()=> (_, #pat));
            *typed.ty = syn::parse_quote_spanned!(ty.span()=> (#guard, #ty));
        }
        None => {
            let index = function.sig.inputs.len();
            let arg: FnArg = syn::parse_quote_spanned!(Span::mixed_site()=> _: #guard);
            function.sig.inputs.insert(index, arg);
        }
    }
    quote! {
        #policy_items
        #function
    }
}

/// `require!(...)`: a `GuardLayer` for the policy.
pub(crate) fn layer(args: &Args) -> TokenStream {
    let krate = &args.krate();
    let name = format_ident!("RequireLogin", span = Span::mixed_site());
    let policy = policy_impl(&name, args);
    quote! {{
        #[doc(hidden)]
        struct #name;
        #policy
        #krate::__private::GuardLayer::<#name>::new()
    }}
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;
    use crate::internals::Ctxt;

    fn guarded(args: TokenStream, function: TokenStream) -> ItemFn {
        let cx = Ctxt::new();
        let args = super::super::attr::parse(args, "require_login", &cx);
        cx.check().expect("valid arguments");
        let tokens = handler(syn::parse2(function).expect("a function"), &args);
        let file: syn::File = syn::parse2(tokens).expect("items");
        file.items
            .into_iter()
            .find_map(|item| match item {
                syn::Item::Fn(function) => Some(function),
                _ => None,
            })
            .expect("the handler")
    }

    fn inputs(function: &ItemFn) -> Vec<String> {
        function
            .sig
            .inputs
            .iter()
            .map(|arg| quote!(#arg).to_string().replace(' ', ""))
            .collect()
    }

    #[test]
    fn the_guard_shares_the_first_argument_after_the_state() {
        let function = guarded(
            quote!(role = Access::Admin),
            quote!(
                async fn h(State(s): State<App>, Path(id): Path<i64>, body: String) {}
            ),
        );
        let inputs = inputs(&function);
        assert_eq!(inputs.len(), 3, "{inputs:?}");
        assert_eq!(inputs[0], "State(s):State<App>");
        assert_eq!(
            inputs[1],
            "(_,Path(id)):(::axum_login::__private::Guard<RequireLoginH>,Path<i64>)"
        );
    }

    #[test]
    fn a_raw_identifier_names_the_policy_without_its_prefix() {
        let function = guarded(
            quote!(role = Access::Admin),
            quote!(
                async fn r#match(Path(id): Path<i64>) {}
            ),
        );
        assert_eq!(function.sig.ident, "r#match");
        let inputs = inputs(&function);
        assert_eq!(
            inputs[0],
            "(_,Path(id)):(::axum_login::__private::Guard<RequireLoginMatch>,Path<i64>)"
        );
    }

    #[test]
    fn a_handler_without_extractors_gets_the_guard_alone() {
        let function = guarded(
            quote!(),
            quote!(
                async fn h(State(s): State<App>) {}
            ),
        );
        let inputs = inputs(&function);
        assert_eq!(
            inputs,
            [
                "State(s):State<App>",
                "_:::axum_login::__private::Guard<::axum_login::__private::LoggedIn>"
            ]
        );
    }
}
