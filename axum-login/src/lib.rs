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
mod batch;
mod cache;
mod clock;
mod context;
mod cookie_removal;
mod current_user;
mod digest;
mod error;
mod guard;
mod layer;
#[cfg(feature = "ldap")]
pub mod ldap;
mod origin;
// The credentials type is shared with the `ldap` feature, which does not use the hashing.
#[cfg(any(feature = "sqlx", feature = "ldap"))]
#[cfg_attr(not(feature = "sqlx"), allow(dead_code, unreachable_pub))]
mod password;
mod policy;
mod redirect;
mod response;
mod session;
mod session_service;
mod sessions;
mod sqlx_derive;
#[cfg(feature = "sqlx")]
mod sqlx_store;
mod store;
mod throttle;
mod user;

pub use crate::{
    authz::{ParseNameError, Permission, PermissionRef, Role, RoleRef},
    clock::{Clock, ManualClock, SystemClock},
    cookie_removal::{CookieRemoval, CookieRemovalFuture},
    current_user::CurrentUser,
    digest::{MIN_KEY_LEN, SessionKey, SessionKeyError},
    error::{AuthError, BoxError},
    guard::{Guard, GuardLayer, GuardService},
    layer::{AuthFuture, AuthLayer, AuthLayerBuilder, AuthService, DEFAULT_ABSOLUTE_TIMEOUT},
    policy::{
        Check, CheckOutcome, GuardOptions, IntoPermissionRef, LoggedIn, Policy, PolicyContext,
        RedirectOverride,
    },
    redirect::{MAX_NEXT_LEN, safe_next},
    response::{AuthRejection, Denial, DenialReason, DenialResponder, LoginRedirect},
    session::AuthSession,
    session_service::{SessionFuture, SessionService, Sessions},
    sessions::{IntoSessionManager, NoResurrection, SessionLayer, session_layer},
    store::{UserId, UserStore},
    throttle::{MemoryThrottleStore, Throttle, ThrottleStore},
    user::AuthUser,
};

/// Derives [`AuthUser`](trait@crate::AuthUser) for a struct with named fields.
///
/// Mark fields with `#[auth(...)]`:
///
/// | attribute | on | generates |
/// | --- | --- | --- |
/// | `#[auth(id)]` | exactly one field | `type Id` is the field's type; `id()` returns a clone |
/// | `#[auth(password_hash)]` | at most one field | `session_auth_hash()` returns its bytes; without this field it returns `&[]` and sessions never end on their own |
/// | `#[auth(username)]` | at most one field | nothing here: the login name, read by [`UserStore`](derive@crate::UserStore) |
/// | `#[auth(role)]` | a field holding one [`Role`](trait@crate::Role) | `has_role`, honouring the role hierarchy |
/// | `#[auth(roles)]` | a collection of one `Role` enum: `Vec`, `HashSet`, `BTreeSet`, `VecDeque`, `[R; N]`, `Box<[R]>`, `Option<R>` | `has_role`, true when any held role satisfies the check |
/// | `#[auth(permissions)]` | a collection (as for `roles`) of one [`Permission`](trait@crate::Permission) enum, or of `String`s | `has_permission`: by variant for enums (which must also be `PartialEq`), by name for strings |
/// | `#[auth(column = "name")]` | any field, alone or after another key: `#[auth(id, column = "user_id")]` | nothing here: the field's database column for [`UserStore`](derive@crate::UserStore) |
///
/// On the struct, `#[auth(crate = "path")]` names this crate when it is imported under another
/// name. Other attributes, such as `#[sqlx(...)]` for `#[derive(sqlx::FromRow)]`, are left alone.
///
/// The password hash may be a `String`, a [`secrecy::SecretString`], a `Vec<u8>`, a `Box<[u8]>`,
/// a `Cow<str>`, or an `Option` of one of them (`None` is an empty hash).
/// **Keep the hash out of logs**: the derive never prints it, but a `#[derive(Debug)]` on the
/// struct prints every field; make the field a `SecretString`, whose `Debug` shows
/// `[REDACTED]`.
///
/// ```
/// use axum_login::{AuthUser, Role, RoleRef};
/// use secrecy::SecretString;
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
/// enum Access {
///     #[role(implies(Member))]
///     Admin,
///     Member,
/// }
///
/// #[derive(Clone, Debug, AuthUser)]
/// struct User {
///     #[auth(id, column = "user_id")]
///     id: i64,
///     #[auth(username)]
///     email: String,
///     #[auth(password_hash)]
///     password_hash: SecretString,
///     #[auth(role)]
///     role: Access,
/// }
///
/// let user = User {
///     id: 1,
///     email: "ferris@example.com".into(),
///     password_hash: SecretString::from("$argon2id$..."),
///     role: Access::Admin,
/// };
/// assert_eq!(user.id(), 1);
/// assert_eq!(user.session_auth_hash(), b"$argon2id$...");
/// assert!(user.has_role(RoleRef::new(&Access::Member)));
/// assert!(!format!("{user:?}").contains("argon2id"));
/// ```
///
/// A collection of roles, and permissions kept as strings:
///
/// ```
/// use std::collections::HashSet;
///
/// use axum_login::{AuthUser, PermissionRef, Role, RoleRef};
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Role)]
/// enum Access {
///     Editor,
///     Viewer,
/// }
///
/// #[derive(Clone, AuthUser)]
/// struct User {
///     #[auth(id)]
///     id: String,
///     #[auth(roles)]
///     roles: HashSet<Access>,
///     #[auth(permissions)]
///     permissions: Vec<String>,
/// }
///
/// let user = User {
///     id: "u1".into(),
///     roles: HashSet::from([Access::Viewer]),
///     permissions: vec!["posts.read".into()],
/// };
/// assert!(user.session_auth_hash().is_empty());
/// assert!(user.has_role(RoleRef::new(&Access::Viewer)));
/// assert!(!user.has_role(RoleRef::new(&Access::Editor)));
/// assert!(user.has_permission(PermissionRef::from_name("posts.read")));
/// ```
///
/// Generic structs work; the impl asks of the parameters what `AuthUser` needs:
///
/// ```
/// use axum_login::AuthUser;
///
/// #[derive(Clone, AuthUser)]
/// struct User<Id> {
///     #[auth(id)]
///     id: Id,
///     #[auth(password_hash)]
///     hash: Vec<u8>,
/// }
///
/// let user = User { id: 7_u32, hash: vec![1, 2] };
/// assert_eq!(user.id(), 7);
/// ```
///
/// Under another name:
///
/// ```
/// extern crate axum_login as auth;
///
/// use auth::AuthUser as _;
///
/// #[derive(Clone, auth::AuthUser)]
/// #[auth(crate = "auth")]
/// struct User {
///     #[auth(id)]
///     id: u64,
/// }
///
/// assert_eq!(User { id: 3 }.id(), 3);
/// ```
///
/// Every mistake is a compile error on the offending tokens, all reported in one build:
///
/// ```compile_fail
/// use axum_login::AuthUser;
///
/// #[derive(Clone, AuthUser)]
/// struct User {
///     #[auth(id)]
///     id: i64,
///     #[auth(passwrd_hash)] // unknown key `passwrd_hash` ...; did you mean `password_hash`?
///     password_hash: String,
/// }
/// ```
#[doc(inline)]
pub use axum_login_macros::AuthUser;

/// Derives [`Role`](trait@crate::Role) for a fieldless enum, with `Display`, `FromStr`, serde
/// and, with the `sqlx` feature, sqlx support, all through the variants' names.
///
/// Each variant's name is its snake_case (`SuperUser` is `super_user`), unless:
///
/// - `#[role(rename = "name")]` on the variant gives it another;
/// - `#[role(rename_all = "...")]` on the enum converts every variant by one rule:
///   `snake_case`, `SCREAMING_SNAKE_CASE`, `kebab-case`, `SCREAMING-KEBAB-CASE`, `lowercase`,
///   `UPPERCASE`, `PascalCase`, `camelCase` or `dot.case`.
///
/// Names must be unique. `#[role(implies(A, B))]` on a variant declares the hierarchy: a user who
/// holds it passes every check for `A` and `B`, and transitively for what they imply; the
/// hierarchy is computed when the enum is compiled, and a cycle is a compile error.
/// `#[role(crate = "path")]` names this crate when it is imported under another name.
///
/// Generated, besides the trait: `Display` (the name), `FromStr` (from the name, else a
/// [`ParseNameError`] listing the valid names), `serde::Serialize` and
/// `serde::Deserialize` (as the name string; do not also derive them), and with this crate's
/// `sqlx` feature `sqlx::Type`, `Encode` and `Decode` for every database, stored as text. Only
/// `Debug` is required of the enum.
///
/// ```
/// use axum_login::Role;
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
/// enum Access {
///     #[role(implies(Editor))]
///     Admin,
///     #[role(implies(Viewer))]
///     Editor,
///     #[role(rename = "read_only")]
///     Viewer,
///     SuperUser,
/// }
///
/// assert!(Access::Admin.satisfies(&Access::Viewer));
/// assert!(!Access::Viewer.satisfies(&Access::Editor));
/// assert_eq!(Access::SuperUser.as_str(), "super_user");
/// assert_eq!(Access::Viewer.to_string(), "read_only");
/// assert_eq!("admin".parse::<Access>(), Ok(Access::Admin));
/// assert_eq!(
///     "root".parse::<Access>().unwrap_err().to_string(),
///     "unknown role `root`; expected one of: `admin`, `editor`, `read_only`, `super_user`"
/// );
/// assert_eq!(Access::ALL.len(), 4);
/// ```
///
/// ```
/// use axum_login::Role;
///
/// #[derive(Debug, Role)]
/// #[role(rename_all = "SCREAMING_SNAKE_CASE")]
/// enum Access {
///     ReadOnly,
/// }
///
/// assert_eq!(Access::ReadOnly.as_str(), "READ_ONLY");
/// ```
///
/// A cycle is refused, on the `implies` that closes it:
///
/// ```compile_fail
/// use axum_login::Role;
///
/// #[derive(Debug, Role)]
/// enum Access {
///     #[role(implies(Editor))]
///     Admin,
///     #[role(implies(Admin))] // role hierarchy has a cycle: `Admin` implies `Editor` implies `Admin`
///     Editor,
/// }
/// ```
#[doc(inline)]
pub use axum_login_macros::Role;

/// Derives [`Permission`](trait@crate::Permission) for a fieldless enum, with `Display`,
/// `FromStr`, serde and, with the `sqlx` feature, sqlx support, all through the variants' names.
///
/// Names follow the rules of [`Role`](derive@crate::Role): snake_case by default,
/// `#[permission(rename = "...")]` on a variant, `#[permission(rename_all = "...")]` and
/// `#[permission(crate = "...")]` on the enum. Permissions have no hierarchy. To check a user's
/// permissions held as an enum (`#[auth(permissions)] permissions: Vec<Perm>`), the enum must
/// also be `PartialEq`.
///
/// ```
/// use axum_login::{Permission, PermissionRef};
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, Permission)]
/// #[permission(rename_all = "dot.case")]
/// enum Perm {
///     PostsRead,
///     #[permission(rename = "posts.publish")]
///     PostsWrite,
/// }
///
/// assert_eq!(Perm::PostsRead.as_str(), "posts.read");
/// assert_eq!("posts.publish".parse::<Perm>(), Ok(Perm::PostsWrite));
/// assert!(PermissionRef::from_name("posts.read").is_granted_by(&[Perm::PostsRead]));
/// ```
#[doc(inline)]
pub use axum_login_macros::Permission;

pub use axum_login_macros::UserStore;

#[doc = include_str!("../docs/require_login.md")]
#[doc(inline)]
pub use axum_login_macros::require_login;

#[doc = include_str!("../docs/require.md")]
#[doc(inline)]
pub use axum_login_macros::require;

#[cfg(feature = "cache")]
pub use crate::cache::UserCache;

#[cfg(feature = "sqlx")]
pub use crate::{
    password::{PasswordError, hash_password, set_max_concurrent_hashes, verify_password},
    sqlx_store::{JoinTable, SqlxStore, SqlxStoreError, SqlxStoreStats, SqlxUser, UserTable},
};

#[cfg(any(feature = "sqlx", feature = "ldap"))]
pub use crate::password::{MAX_PASSWORD_LEN, MAX_USERNAME_LEN, PasswordCredentials};

#[cfg(feature = "ldap")]
pub use crate::ldap::{LdapConfig, LdapStore};

/// Re-exported so apps name one version of tower-sessions.
pub use tower_sessions;

#[doc(hidden)]
pub mod __private;
