//! `#[derive(UserStore)]`: the `#[user_store(...)]` grammar in `attr`, the rules that combine it
//! with `#[auth(...)]` in `check`, the `SqlxUser` impl in `expand`.
//!
//! The `#[auth(...)]` field attributes are read with `#[derive(AuthUser)]`'s own parser; their
//! mistakes are reported by that derive, so they are not reported twice.

mod attr;
mod check;
mod expand;

use proc_macro2::TokenStream;

use crate::internals::{Ctxt, user_struct};

pub(crate) fn derive(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let attrs = attr::parse_container(input, &cx);

    let auth_cx = Ctxt::new();
    let auth = user_struct::check(user_struct::parse(input, &auth_cx), &auth_cx);
    // `#[derive(AuthUser)]` reports these, on the same tokens.
    let _ = auth_cx.check();

    let skips: Vec<_> = match &auth {
        Some(auth) => auth
            .fields
            .iter()
            .map(|field| attr::parse_field(field.field, &cx))
            .collect(),
        None => Vec::new(),
    };
    let model = auth.and_then(|auth| check::check(input, auth, attrs, &skips, &cx));
    match cx.check() {
        Ok(()) => model
            .map(|model| expand::expand(&model))
            .unwrap_or_default(),
        Err(errors) => errors.to_compile_error(),
    }
}
