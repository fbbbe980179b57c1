//! `#[require_login(...)]` on handlers and `require!(...)` for routers.

mod attr;
mod expand;
mod placement;

use proc_macro2::{Span, TokenStream};
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
    for attr in &function.attrs {
        if attr
            .path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "require_login")
        {
            cx.error_spanned_by(
                attr,
                "a handler takes one `#[require_login]`; combine the two into one: conditions side by side must all hold, `#[require_login(role = Role::Editor, permission = \"posts.write\")]`, or write `all(...)` / `any(...)`",
            );
        }
    }
    let args = attr::parse(args, "require_login", &cx);
    if !cx.has_errors() {
        check_placement(&function, &args, &cx);
    }
    match cx.check() {
        Ok(()) => expand::handler(function, &args),
        // Keep the user's function, unguarded, so one mistake gives one error.
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#error #item)
        }
    }
}

/// The placements the expansion cannot serve (see `placement`), each one error on the attribute.
fn check_placement(function: &ItemFn, args: &attr::Args, cx: &Ctxt) {
    let name = &function.sig.ident;
    let found = placement::of(name);
    let bare = args.conds.is_empty() && !args.has_options();
    // Without the file, `Self` in the handler still gives an associated function away.
    let associated = found.is_some_and(|found| found.associated) || mentions_self(function);
    if associated && !bare {
        cx.error_at(
            Span::call_site(),
            format!(
                "`#[require_login(...)]` with conditions or options cannot guard an associated function: it defines the policy as a type beside the handler, and an `impl` block cannot hold one; make `{name}` a free `async fn` outside the `impl` block, or guard its route with `.route_layer(require!(...))` and the same arguments; a bare `#[require_login]` works here"
            ),
        );
    }
    if found.is_some_and(|found| found.debug_handler_above)
        && expand::guard_slot(function).is_none()
    {
        cx.error_at(
            Span::call_site(),
            format!(
                "`#[axum::debug_handler]` above `#[require_login]` checks `{name}` as written, but the guard adds an argument to a handler that has no extractor to share it with; put `#[axum::debug_handler]` below `#[require_login]`"
            ),
        );
    }
}

/// Whether `Self` appears in the handler's signature or statements (not in items declared in
/// its body, which have a `Self` of their own): then it is an associated function.
fn mentions_self(function: &ItemFn) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => ident == "Self",
            proc_macro2::TokenTree::Group(group) => walk(group.stream()),
            _ => false,
        })
    }
    let sig = &function.sig;
    walk(quote!(#sig))
        || function
            .block
            .stmts
            .iter()
            .filter(|stmt| !matches!(stmt, syn::Stmt::Item(_)))
            .any(|stmt| walk(quote!(#stmt)))
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
