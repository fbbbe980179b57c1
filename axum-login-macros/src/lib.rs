//! Procedural macros for `axum-login`. Depend on `axum-login` and use them from there.

use proc_macro::TokenStream;

/// Derives `axum_login::AuthUser`; see the documentation in `axum-login`.
#[proc_macro_derive(AuthUser, attributes(auth))]
pub fn derive_auth_user(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}

/// Derives `axum_login::Role`; see the documentation in `axum-login`.
#[proc_macro_derive(Role, attributes(role))]
pub fn derive_role(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}

/// Derives `axum_login::Permission`; see the documentation in `axum-login`.
#[proc_macro_derive(Permission, attributes(permission))]
pub fn derive_permission(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
