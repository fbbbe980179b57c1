use proc_macro2::TokenStream;

pub(crate) fn derive_role(input: &syn::DeriveInput) -> TokenStream {
    let _ = input;
    TokenStream::new()
}

pub(crate) fn derive_permission(input: &syn::DeriveInput) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
