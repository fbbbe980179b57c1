//! Internals for the code that the macros generate. Not public API: anything here may change in
//! any release.
//!
//! Everything a user could see in an error message is public elsewhere (the traits a field's
//! type must implement, `PolicyContext`'s methods): errors name those paths, not this module.

pub use ::core;
pub use ::serde;
pub use ::std;

pub use ::axum::response::{IntoResponse, Response};
pub use ::inventory;

#[cfg(feature = "sqlx")]
pub use crate::sqlx::{DecodeColumn, JoinTable, SqlxUser, UserTable};
#[cfg(feature = "sqlx")]
pub use crate::user::StoredPasswordHash;
pub use crate::{
    AuthUser, Permission, Role,
    authz::{
        AuthzKinds, Held, ParseNameError, PermissionItem, PermissionRef, PermissionSet, RoleItem,
        RoleRef, RoleSet,
    },
    error::BoxError,
    guard::{
        DerivedUserType, Guard, GuardLayer, GuardName, GuardOptions, LoggedIn, NameKind,
        PermissionKey, PermissionKeyIsOther, PermissionKeyIsPermission, PermissionKeyIsRole,
        Policy, PolicyContext, RedirectOverride, RoleKey, RoleKeyIsOther, RoleKeyIsPermission,
        RoleKeyIsRole, Via,
    },
    user::{AsSecretBytes, SecurityStamp},
};

#[cfg(not(feature = "accounts"))]
pub use self::derive_support::{EmailAddress, EmailUser, EmailVerifiedField};
#[cfg(feature = "accounts")]
pub use crate::accounts::{EmailAddress, EmailUser, EmailVerifiedField};

mod derive_support;
mod sqlx_text;
mod sqlx_user;

pub use self::derive_support::deserialize_name;
pub use crate::__axum_login_sqlx_text as sqlx_text;
#[cfg(feature = "sqlx")]
pub use ::sqlx;

#[cfg(feature = "sqlx")]
pub use self::sqlx_user::from_names;
pub use crate::__axum_login_sqlx_user as sqlx_user;
