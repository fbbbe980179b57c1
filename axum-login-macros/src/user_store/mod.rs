//! `#[derive(UserStore)]`: the `#[user_store(...)]` grammar in `attr`, the rules that combine it
//! with `#[auth(...)]` in `check`, the `SqlxUser` impl in `expand`.
//!
//! The `#[auth(...)]` attributes are read with `#[derive(AuthUser)]`'s own parser, and their
//! mistakes reported here too: without `#[derive(AuthUser)]` nothing else would report them. With
//! it, both derives emit the same error on the same tokens, and rustc shows it once.

mod attr;
mod check;
mod expand;

use proc_macro2::TokenStream;
use syn::{Data, Fields};

use crate::internals::{Ctxt, user_struct};

pub(crate) fn derive(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let attrs = attr::parse_container(input, &cx);

    let auth_cx = Ctxt::new();
    let auth = user_struct::check(user_struct::parse(input, &auth_cx), &auth_cx);
    // A misspelt `#[auth(username)]` is reported as an unknown key; "missing username" on top
    // of it would be a second error for one mistake.
    let auth_failed = auth_cx.has_errors();
    if let Err(errors) = auth_cx.check() {
        cx.syn_error(errors);
    }

    let skips: Vec<_> = match &auth {
        Some(auth) => auth
            .fields
            .iter()
            .map(|field| attr::parse_field(field.field, &cx))
            .collect(),
        None => Vec::new(),
    };
    let model = auth.and_then(|auth| check::check(input, auth, attrs, &skips, auth_failed, &cx));
    let krate = user_struct::crate_path_quiet(input);
    // `#[derive(AuthUser)]` missing is a mistake of its own, unless the input is no struct with
    // named fields at all: then that is the one mistake, and adding the derive would not help.
    let is_user_struct = matches!(
        &input.data,
        Data::Struct(data) if matches!(data.fields, Fields::Named(_))
    );
    let needs_auth_user = is_user_struct.then(|| expand::assert_auth_user(input, &krate));
    match cx.check() {
        Ok(()) => {
            let mut tokens = model
                .map(|model| expand::expand(&model))
                .unwrap_or_default();
            tokens.extend(needs_auth_user);
            tokens
        }
        Err(errors) => {
            let mut tokens = errors.to_compile_error();
            tokens.extend(expand::stub(input, &krate));
            tokens.extend(needs_auth_user);
            tokens
        }
    }
}
