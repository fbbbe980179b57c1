//! `#[derive(AuthUser)]`: the `#[auth(...)]` grammar and its rules live in
//! `internals::user_struct` (shared with `#[derive(UserStore)]`); the code is in `expand`.

mod expand;

use proc_macro2::TokenStream;

use crate::internals::{Ctxt, user_struct};

pub(crate) fn derive(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = user_struct::parse(input, &cx);
    let model = user_struct::check(parsed, &cx);
    let expanded = match &model {
        Some(model) if !cx.has_errors() => expand::expand(model),
        _ => TokenStream::new(),
    };
    match cx.check() {
        Ok(()) => expanded,
        Err(errors) => {
            let krate =
                model.map_or_else(|| user_struct::crate_path_quiet(input), |model| model.krate);
            let mut tokens = errors.to_compile_error();
            tokens.extend(expand::stub(input, &krate));
            tokens
        }
    }
}
