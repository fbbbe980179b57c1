//! Internals for the code that the macros generate. Not public API: anything here may change in
//! any release.

pub use ::core;
pub use ::serde;
pub use ::std;

pub use ::axum::response::Response;

/// Runs an app-written check; a free function so that a check of the wrong shape is reported on
/// the path the user wrote.
pub async fn check<S, F, M>(
    cx: &mut crate::PolicyContext<'_, S>,
    check: F,
) -> ::core::result::Result<bool, Response>
where
    S: Send + Sync,
    F: crate::Check<S, M>,
{
    cx.check(check).await
}

mod derive_support;
mod sqlx_text;

pub use self::derive_support::{
    AsSecretBytes, PermissionItem, PermissionSet, RoleSet, deserialize_name,
};
pub use crate::__axum_login_sqlx_text as sqlx_text;
#[cfg(feature = "sqlx")]
pub use ::sqlx;

pub use crate::__axum_login_sqlx_user as sqlx_user;
pub use crate::sqlx_derive::assert_auth_user;
#[cfg(feature = "sqlx")]
pub use crate::sqlx_derive::{PasswordHashField, from_names};
