//! Turning a parsed policy into a `Policy` impl and a guarded handler.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{ItemFn, spanned::Spanned};

use super::attr::{Args, Cond, Redirect};

/// `impl Policy<S> for #name`, evaluating the conditions in order, short-circuiting.
pub(crate) fn policy_impl(name: &syn::Ident, args: &Args) -> TokenStream {
    let krate = &args.krate();
    let check = all(&args.conds, krate);
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
            };

            #[allow(unused_variables, clippy::unused_async)]
            async fn check(
                __cx: &mut #krate::__private::PolicyContext<'_, __S>,
            ) -> #krate::__private::core::result::Result<bool, #krate::__private::Response> {
                #krate::__private::core::result::Result::Ok(#check)
            }
        }
    }
}

fn all(conds: &[Cond], krate: &syn::Path) -> TokenStream {
    if conds.is_empty() {
        return quote!(true);
    }
    let parts = conds.iter().map(|c| cond(c, krate));
    quote!((#(#parts)&&*))
}

fn any(conds: &[Cond], krate: &syn::Path) -> TokenStream {
    let parts = conds.iter().map(|c| cond(c, krate));
    quote!((#(#parts)||*))
}

fn cond(condition: &Cond, krate: &syn::Path) -> TokenStream {
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
            // The whole call on the check's tokens, the crate path included, so a check of the
            // wrong shape is reported on the check alone.
            let krate = respan(krate, path.span());
            let check = quote_spanned!(path.span()=> #krate::__private::check(__cx, #path));
            quote!((#check.await?))
        }
        Cond::Any(conds) => any(conds, krate),
        Cond::All(conds) => all(conds, krate),
        Cond::Not(inner) => {
            let inner = cond(inner, krate);
            quote!((!#inner))
        }
    }
}

/// `tokens` with every token at `span`.
fn respan(tokens: &impl ToTokens, span: Span) -> TokenStream {
    tokens
        .to_token_stream()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// The handler with the guard as its first argument, and the policy type beside it.
pub(crate) fn handler(mut function: ItemFn, args: &Args) -> TokenStream {
    let krate = &args.krate();
    let bare = args.conds.is_empty() && !args.has_options();
    let (policy_type, policy_items) = if bare {
        (quote!(#krate::__private::LoggedIn), TokenStream::new())
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
        _: #krate::__private::Guard<#policy_type>
    };
    function.sig.inputs.insert(0, guard);
    quote! {
        #policy_items
        #function
    }
}

/// `require!(...)`: a `GuardLayer` for the policy.
pub(crate) fn layer(args: &Args) -> TokenStream {
    let krate = &args.krate();
    let name = format_ident!("__AxumLoginRequire", span = Span::mixed_site());
    let policy = policy_impl(&name, args);
    quote! {{
        #[doc(hidden)]
        struct #name;
        #policy
        #krate::__private::GuardLayer::<#name>::new()
    }}
}
