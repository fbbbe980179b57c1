//! `#[derive(AuthUser)]`: parsing and checking in `attr` and `check` (shared with
//! `#[derive(UserStore)]`), code in `expand`.

pub(crate) mod attr;
mod check;
mod expand;

use proc_macro2::TokenStream;

use crate::internals::Ctxt;

pub(crate) fn derive(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let model = attr::parse(input, &cx);
    let expanded = match &model {
        Some(model) if !cx.has_errors() => expand::expand(model),
        _ => TokenStream::new(),
    };
    match cx.check() {
        Ok(()) => expanded,
        Err(errors) => {
            let krate =
                model.map_or_else(|| attr::parse_container_quiet(input), |model| model.krate);
            let mut tokens = errors.to_compile_error();
            tokens.extend(expand::stub(input, &krate));
            tokens
        }
    }
}
