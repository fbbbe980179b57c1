//! `#[require_login(...)]` on handlers and `require!(...)` for routers.

mod attr;
mod expand;

use proc_macro2::TokenStream;
use quote::quote;
use syn::{FnArg, ItemFn};

use crate::internals::Ctxt;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[require_login] goes on an `async fn` handler",
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    let cx = Ctxt::new();
    if function.sig.asyncness.is_none() {
        cx.error_spanned_by(
            function.sig.fn_token,
            "#[require_login] needs an `async fn`: write `async fn` so that axum can use it as a handler",
        );
    }
    if let Some(FnArg::Receiver(receiver)) = function.sig.inputs.first() {
        cx.error_spanned_by(
            receiver,
            "#[require_login] guards a handler, and a handler cannot take `self`; make it a free `async fn` (pass what you need through `State`)",
        );
    }
    let args = attr::parse(args, "require_login", &cx);
    match cx.check() {
        Ok(()) => expand::handler(function, &args),
        // Keep the user's function, unguarded, so one mistake gives one error.
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#error #item)
        }
    }
}

pub(crate) fn expand_layer(args: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let args = attr::parse(args, "require", &cx);
    match cx.check() {
        Ok(()) => expand::layer(&args),
        Err(error) => {
            let error = error.to_compile_error();
            let krate = args.krate();
            quote! {{
                #error
                #krate::__private::GuardLayer::<#krate::__private::LoggedIn>::new()
            }}
        }
    }
}
