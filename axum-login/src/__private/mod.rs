//! Internals for the code that the macros generate. Not public API: anything here may change in
//! any release.

pub use ::core;
pub use ::serde;
pub use ::std;

pub use ::axum::response::Response;

#[cfg(feature = "sqlx")]
pub use crate::sqlx::{JoinTable, SqlxUser, UserTable};
pub use crate::{
    AuthUser, Permission, Role,
    authz::{ParseNameError, PermissionRef, RoleRef},
    error::BoxError,
    guard::{Guard, GuardLayer, GuardOptions, LoggedIn, Policy, PolicyContext, RedirectOverride},
};

/// Runs an app-written check; a free function so that a check of the wrong shape is reported on
/// the path the user wrote. The future is boxed so that its type, and so the `Send`-ness of the
/// generated policy, does not depend on the check: a wrong check gives one error, not two.
pub fn check<'a, S, F, M>(
    cx: &'a mut crate::guard::PolicyContext<'_, S>,
    check: F,
) -> ::core::pin::Pin<
    Box<dyn ::core::future::Future<Output = ::core::result::Result<bool, Response>> + Send + 'a>,
>
where
    S: Send + Sync,
    F: crate::guard::Check<S, M>,
    M: 'a,
{
    Box::pin(cx.check(check))
}

mod derive_support;
mod sqlx_text;
mod sqlx_user;

pub use self::derive_support::{
    AsSecretBytes, PermissionItem, PermissionSet, RoleSet, deserialize_name,
};
pub use crate::__axum_login_sqlx_text as sqlx_text;
#[cfg(feature = "sqlx")]
pub use ::sqlx;

pub use self::sqlx_user::assert_auth_user;
#[cfg(feature = "sqlx")]
pub use self::sqlx_user::{PasswordHashField, from_names};
pub use crate::__axum_login_sqlx_user as sqlx_user;
