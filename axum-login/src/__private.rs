//! Internals for the code that the macros generate. Not public API: anything here may change in
//! any release.

pub use ::core;
pub use ::serde;
pub use ::std;

mod derive_support;
mod sqlx_text;

pub use self::derive_support::{
    AsSecretBytes, PermissionItem, PermissionSet, RoleSet, deserialize_name,
};
pub use crate::__axum_login_sqlx_text as sqlx_text;
#[cfg(feature = "sqlx")]
pub use ::sqlx;
