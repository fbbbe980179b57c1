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

#[cfg(test)]
mod tests {
    use quote::quote;

    /// The expansion of every macro given `crate = "auth"`, as text.
    fn expansions() -> Vec<(&'static str, String)> {
        let user: syn::DeriveInput = syn::parse_quote! {
            #[auth(crate = "auth")]
            #[user_store(table = "users", roles_table = "user_roles")]
            struct User {
                #[auth(id)]
                id: i64,
                #[auth(username)]
                name: String,
                #[auth(password_hash)]
                hash: SecretString,
                #[auth(roles)]
                roles: Vec<Access>,
            }
        };
        let role: syn::DeriveInput = syn::parse_quote! {
            #[role(crate = "auth")]
            enum Access { #[role(implies(B))] A, B }
        };
        let permission: syn::DeriveInput = syn::parse_quote! {
            #[permission(crate = "auth")]
            enum Perm { A }
        };
        let handler = quote!(
            async fn handler() {}
        );
        let args = quote!(
            crate = "auth",
            role = Access::A,
            any(role = "a", permission = Perm::A),
            not(permission = "x"),
            check = c,
            fresh = "1m",
            redirect = "/in",
            redirect_field = "to"
        );
        vec![
            ("AuthUser", super::auth_user::derive(&user).to_string()),
            ("UserStore", super::user_store::derive(&user).to_string()),
            ("Role", super::enum_derive::derive_role(&role).to_string()),
            (
                "Permission",
                super::enum_derive::derive_permission(&permission).to_string(),
            ),
            (
                "require_login",
                super::require_login::expand(args.clone(), handler).to_string(),
            ),
            (
                "require",
                super::require_login::expand_layer(args).to_string(),
            ),
        ]
    }

    #[test]
    fn a_renamed_crate_is_the_only_path_to_the_runtime() {
        for (name, expansion) in expansions() {
            assert!(!expansion.contains("compile_error"), "{name}: {expansion}");
            assert!(
                expansion.contains("auth :: __private"),
                "{name}: {expansion}"
            );
            assert!(
                !expansion.contains("axum_login ::"),
                "{name} names the crate directly: {expansion}"
            );
        }
    }

    #[test]
    fn generated_code_reaches_std_and_core_only_through_the_runtime() {
        for (name, expansion) in expansions() {
            let bare = expansion
                .replace("__private :: core ::", "")
                .replace("__private :: std ::", "");
            assert!(
                !bare.contains(":: core ::") && !bare.contains(":: std ::"),
                "{name} names core or std directly: {expansion}"
            );
        }
    }
}
