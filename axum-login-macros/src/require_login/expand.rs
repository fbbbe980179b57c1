//! Turning a parsed policy into a `Policy` impl and a guarded handler.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{ItemFn, spanned::Spanned};

use super::attr::{Args, Cond, Redirect};

/// `impl Policy<S> for #name`, evaluating the conditions in order, short-circuiting.
pub(crate) fn policy_impl(name: &syn::Ident, args: &Args) -> TokenStream {
    let check = all(&args.conds);
    let redirect = match &args.redirect {
        None => quote!(::axum_login::RedirectOverride::Inherit),
        Some(Redirect::To(url)) => quote!(::axum_login::RedirectOverride::To(#url)),
        Some(Redirect::Off) => quote!(::axum_login::RedirectOverride::Off),
    };
    let redirect_field = match &args.redirect_field {
        None => quote!(::core::option::Option::None),
        Some(field) => quote!(::core::option::Option::Some(#field)),
    };
    let fresh = match args.fresh {
        None => quote!(::core::option::Option::None),
        Some(seconds) => {
            quote!(::core::option::Option::Some(::core::time::Duration::from_secs(#seconds)))
        }
    };
    quote! {
        #[automatically_derived]
        impl<__S> ::axum_login::Policy<__S> for #name
        where
            __S: ::core::marker::Send + ::core::marker::Sync,
        {
            const OPTIONS: ::axum_login::GuardOptions = ::axum_login::GuardOptions {
                redirect: #redirect,
                redirect_field: #redirect_field,
                fresh: #fresh,
            };

            #[allow(unused_variables, clippy::unused_async)]
            async fn check(
                __cx: &mut ::axum_login::PolicyContext<'_, __S>,
            ) -> ::core::result::Result<bool, ::axum_login::__private::Response> {
                ::core::result::Result::Ok(#check)
            }
        }
    }
}

fn all(conds: &[Cond]) -> TokenStream {
    if conds.is_empty() {
        return quote!(true);
    }
    let parts = conds.iter().map(cond);
    quote!((#(#parts)&&*))
}

fn any(conds: &[Cond]) -> TokenStream {
    let parts = conds.iter().map(cond);
    quote!((#(#parts)||*))
}

fn cond(condition: &Cond) -> TokenStream {
    match condition {
        // Spanned on the user's tokens: a value that is not a role or permission, or a check of
        // the wrong shape, is reported there.
        Cond::Role(role) => quote_spanned!(role.span()=> __cx.has_role(&#role)),
        Cond::Permission(syn::Expr::Lit(lit)) => {
            quote_spanned!(lit.span()=> __cx.has_permission(#lit))
        }
        Cond::Permission(permission) => {
            quote_spanned!(permission.span()=> __cx.has_permission(&#permission))
        }
        Cond::Check(path) => {
            let check = quote_spanned!(path.span()=> ::axum_login::__private::check(__cx, #path));
            quote!((#check.await?))
        }
        Cond::Any(conds) => any(conds),
        Cond::All(conds) => all(conds),
        Cond::Not(inner) => {
            let inner = cond(inner);
            quote!((!#inner))
        }
    }
}

/// The handler with the guard as its first argument, and the policy type beside it.
pub(crate) fn handler(mut function: ItemFn, args: &Args) -> TokenStream {
    let bare = args.conds.is_empty() && !args.has_options();
    let (policy_type, policy_items) = if bare {
        (quote!(::axum_login::LoggedIn), TokenStream::new())
    } else {
        let name = format_ident!(
            "__axum_login_policy_{}",
            function.sig.ident,
            span = Span::mixed_site()
        );
        let vis = &function.vis;
        let policy = policy_impl(&name, args);
        (
            quote!(#name),
            quote! {
                #[doc(hidden)]
                #[allow(non_camel_case_types)]
                #vis struct #name;
                #policy
            },
        )
    };
    let guard: syn::FnArg = syn::parse_quote_spanned! {Span::mixed_site()=>
        _: ::axum_login::Guard<#policy_type>
    };
    function.sig.inputs.insert(0, guard);
    quote! {
        #policy_items
        #function
    }
}

/// `require!(...)`: a `GuardLayer` for the policy.
pub(crate) fn layer(args: &Args) -> TokenStream {
    let name = format_ident!("__AxumLoginRequire", span = Span::mixed_site());
    let policy = policy_impl(&name, args);
    quote! {{
        #[doc(hidden)]
        struct #name;
        #policy
        ::axum_login::GuardLayer::<#name>::new()
    }}
}
