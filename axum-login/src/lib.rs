//! Session-based authentication and authorization for [axum], driven by macros.
//!
//! - [`AuthUser`] (trait and derive): what the framework needs to know about a user.
//! - [`UserStore`]: where users come from and how credentials are checked; write one by hand
//!   for any storage.
//! - [`AuthLayer`]: sessions from tower-sessions plus the user store, on a router.
//! - [`AuthSession`]: log in, log out, who is logged in.
//! - [`CurrentUser`]: the logged-in user as an extractor; anonymous browsers are sent to the
//!   login page, API clients get `401`.
//! - [`safe_next`]: the only kind of `next` a login page should redirect to.
//!
//! The session never holds a password hash: it keeps the user's id and a keyed digest
//! (HMAC-SHA256 under the layer's [`SessionKey`]) of [`AuthUser::session_auth_hash`], so a
//! password change ends every other session of that user.
//!
//! [axum]: https://docs.rs/axum

mod authz;
mod cache;
mod clock;
mod context;
mod current_user;
mod digest;
mod error;
mod guard;
mod layer;
#[cfg(feature = "sqlx")]
mod password;
mod policy;
mod redirect;
mod response;
mod session;
mod sqlx_derive;
#[cfg(feature = "sqlx")]
mod sqlx_store;
mod store;
mod user;

pub use crate::{
    authz::{ParseNameError, Permission, PermissionRef, Role, RoleRef},
    clock::{Clock, ManualClock, SystemClock},
    current_user::CurrentUser,
    digest::{MIN_KEY_LEN, SessionKey, SessionKeyError},
    error::{AuthError, BoxError},
    guard::{Guard, GuardLayer, GuardService},
    layer::{AuthFuture, AuthLayer, AuthLayerBuilder, AuthService},
    policy::{
        Check, CheckOutcome, GuardOptions, IntoPermissionRef, LoggedIn, Policy, PolicyContext,
        RedirectOverride,
    },
    redirect::{MAX_NEXT_LEN, safe_next},
    response::{AuthRejection, DenialReason, LoginRedirect},
    session::AuthSession,
    store::{UserId, UserStore},
    user::AuthUser,
};

pub use axum_login_macros::{AuthUser, Permission, Role, UserStore, require, require_login};

#[cfg(feature = "cache")]
pub use crate::cache::UserCache;

#[cfg(feature = "sqlx")]
pub use crate::{
    password::{
        MAX_PASSWORD_LEN, MAX_USERNAME_LEN, PasswordCredentials, PasswordError, hash_password,
        verify_password,
    },
    sqlx_store::{JoinTable, SqlxStore, SqlxStoreError, SqlxStoreStats, SqlxUser, UserTable},
};

/// Re-exported so apps name one version of tower-sessions.
pub use tower_sessions;

#[doc(hidden)]
pub mod __private;
