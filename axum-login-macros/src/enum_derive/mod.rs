//! `#[derive(Role)]` and `#[derive(Permission)]`: one implementation for both, parsing in
//! `attr`, the hierarchy rules in `check`, code in `expand`.

mod attr;
mod check;
mod expand;

use proc_macro2::TokenStream;

use self::attr::Kind;
use crate::internals::Ctxt;

pub(crate) fn derive_role(input: &syn::DeriveInput) -> TokenStream {
    derive(input, Kind::Role)
}

pub(crate) fn derive_permission(input: &syn::DeriveInput) -> TokenStream {
    derive(input, Kind::Permission)
}

fn derive(input: &syn::DeriveInput, kind: Kind) -> TokenStream {
    let cx = Ctxt::new();
    let expanded = attr::parse(input, kind, &cx).and_then(|model| {
        let satisfies = check::check(&model, &cx)?;
        (!cx.has_errors()).then(|| expand::expand(&model, &satisfies))
    });
    match cx.check() {
        Ok(()) => expanded.unwrap_or_default(),
        Err(errors) => {
            let mut tokens = errors.to_compile_error();
            tokens.extend(expand::stub(input, kind, &attr::krate(input, kind)));
            tokens
        }
    }
}
