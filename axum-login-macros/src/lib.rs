//! Procedural macros for `axum-login`. Depend on `axum-login` and use them from there: its
//! documentation describes every attribute.

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod auth_user;
mod enum_derive;
mod internals;
mod require_login;
mod user_store;

/// Derives `axum_login::AuthUser`; see the documentation in `axum-login`.
#[proc_macro_derive(AuthUser, attributes(auth))]
pub fn derive_auth_user(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    auth_user::derive(&input).into()
}

/// Derives `axum_login::Role`; see the documentation in `axum-login`.
#[proc_macro_derive(Role, attributes(role))]
pub fn derive_role(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    enum_derive::derive_role(&input).into()
}

/// Derives `axum_login::Permission`; see the documentation in `axum-login`.
#[proc_macro_derive(Permission, attributes(permission))]
pub fn derive_permission(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    enum_derive::derive_permission(&input).into()
}

/// Derives `axum_login::UserStore`; see the documentation in `axum-login`.
#[proc_macro_derive(UserStore, attributes(user_store, auth))]
pub fn derive_user_store(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    user_store::derive(&input).into()
}

/// Guards a handler; see the documentation in `axum-login`.
#[proc_macro_attribute]
pub fn require_login(args: TokenStream, item: TokenStream) -> TokenStream {
    require_login::expand(args.into(), item.into()).into()
}

/// Builds a router-level guard; see the documentation in `axum-login`.
#[proc_macro]
pub fn require(args: TokenStream) -> TokenStream {
    require_login::expand_layer(args.into()).into()
}
