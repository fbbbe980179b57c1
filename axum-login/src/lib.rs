//! Session-based authentication and authorization for [axum], driven by macros.
//!
//! - [`AuthUser`] (trait and derive): what the framework needs to know about a user.
//! - [`UserStore`] (trait, and a derive for the sqlx store, `SqlxStore`): where users come from and how
//!   credentials are checked; write one by hand for any storage.
//! - [`AuthLayer`]: sessions from tower-sessions ([`session_layer`]) plus the user store, on a
//!   router.
//! - [`AuthSession`]: log in, log out, who is logged in.
//! - [`CurrentUser`]: the logged-in user as an extractor; anonymous browsers are sent to the
//!   login page, API clients get `401`.
//! - [`require_login`] and [`require!`]: guards on a handler or a router, with one policy
//!   grammar over [`Role`]s, [`Permission`]s and checks of your own.
//! - [`safe_next`]: the only kind of `next` a login page should redirect to.
//!
//! The session never holds a password hash: it keeps the user's id and a keyed digest
//! (HMAC-SHA256 under the layer's [`SessionKey`]) of [`AuthUser::session_auth_hash`], so a
//! password change ends every other session of that user.
//!
//! # How a request flows
//!
//! The [`layer`] wraps the router in the [`session`] middleware, which finds the request's
//! session from its cookie, and gives the request an authentication state that
//! [`login`] defines: nothing is loaded yet. When an extractor or a [`guard`] asks who the user
//! is, [`login`] reads the session's login record, checks its timeouts, loads the user (from
//! the user cache, in a batch, or from the [`UserStore`]) and compares the digest of their
//! credentials; the guard then runs its policy and either lets the handler run or answers with a
//! redirect to the login page, a `401` or a `403`. A login goes through [`security`] first (the
//! origin check and the [`Throttle`]) and the store's `authenticate`; on the way out, the
//! session middleware saves the session and sets or removes its cookie, and the layer marks a
//! response that depended on the user as private.
//!
//! The specialised types live in those modules; the names an app uses every day are here at
//! the root.
//!
//! [axum]: https://docs.rs/axum

#[cfg(feature = "accounts")]
pub mod accounts;
pub mod authz;
pub mod cache;
pub mod clock;
pub mod credentials;
pub mod csrf;
mod devices;
pub mod error;
pub mod events;
pub mod guard;
pub mod health;
pub mod layer;
#[cfg(feature = "ldap")]
pub mod ldap;
pub mod login;
#[cfg(feature = "mail")]
pub mod mail;
mod memory;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(any(feature = "totp", feature = "passkeys"))]
pub mod mfa;
#[cfg(feature = "oidc")]
pub mod oidc;
mod options;
#[cfg(feature = "password")]
pub mod password;
#[cfg(feature = "redis")]
mod redis;
pub mod registry;
pub mod remember;
pub mod second_factor;
pub mod security;
pub mod session;
#[cfg(feature = "sqlx")]
pub mod sqlx;
pub mod store;
#[cfg(feature = "test-util")]
pub mod test_util;
#[cfg(feature = "tokens")]
pub mod tokens;
pub mod user;

#[cfg(feature = "cache")]
pub use crate::cache::UserCache;
#[cfg(feature = "ldap")]
pub use crate::ldap::{LdapConfig, LdapStore};
#[cfg(feature = "password")]
pub use crate::password::hash_password;
#[cfg(feature = "sqlx")]
pub use crate::sqlx::SqlxStore;
pub use crate::{
    authz::{Permission, Role},
    credentials::PasswordCredentials,
    error::AuthError,
    layer::AuthLayer,
    login::{AuthSession, CurrentUser, LoginForm},
    registry::SessionInfo,
    second_factor::SecondFactorDue,
    security::{SessionKey, Throttle, safe_next},
    session::session_layer,
    store::UserStore,
    user::AuthUser,
};

/// Derives [`AuthUser`](trait@crate::AuthUser) for a struct with named fields.
///
/// Mark fields with `#[auth(...)]`:
///
/// | attribute | on | generates |
/// | --- | --- | --- |
/// | `#[auth(id)]` | exactly one field | `type Id` is the field's type; `id()` returns a clone |
/// | `#[auth(password_hash)]` | at most one field | `session_auth_hash()` returns its bytes, so a password change ends the user's sessions; without this field it returns `&[]`. Not a `String` (see below) unless written `#[auth(password_hash, allow_plain_string)]` |
/// | `#[auth(security_stamp)]` | at most one field: text, bytes or an integer ([`SecurityStamp`](crate::user::SecurityStamp)) | `security_stamp()` returns it, and sessions are bound to it too: change it to end the user's sessions. A user type with no password hash needs one, or a deleted user's reused id inherits their sessions |
/// | `#[auth(username)]` | at most one field | nothing here: the login name, read by [`UserStore`](derive@crate::UserStore) |
/// | `#[auth(email)]` | at most one field, a `String` or an `Option<String>` (feature `accounts`); may be the username field too: `#[auth(username, email)]` | `accounts::EmailUser`, where mail for the account goes; [`UserStore`](derive@crate::UserStore) finds users by its column (`SqlxStore::find_by_email`) |
/// | `#[auth(email_verified)]` | at most one field, with `#[auth(email)]`: a `bool` (or an `Option` of a confirmation time) | `EmailUser::email_verified`; [`UserStore`](derive@crate::UserStore) sets a `bool` column (`SqlxStore::mark_email_verified`) |
/// | `#[auth(role)]` | a field holding one [`Role`](trait@crate::Role), or a role's name as a `String` | `has_role`, honouring the role hierarchy (names: equal names) |
/// | `#[auth(roles)]` | a collection of one `Role` enum, or of `String`s: `Vec`, `HashSet`, `BTreeSet`, `VecDeque`, `[R; N]`, `Box<[R]>`, `Option<R>` | `has_role`, true when any held role satisfies the check |
/// | `#[auth(permissions)]` | a collection (as for `roles`) of one [`Permission`](trait@crate::Permission) enum, or of `String`s | `has_permission`: by variant for enums (which must also be `PartialEq`), by name for strings |
/// | `#[auth(column = "name")]` | any field, alone or after another key: `#[auth(id, column = "user_id")]` | nothing here: the field's database column for [`UserStore`](derive@crate::UserStore) |
///
/// On the struct, `#[auth(crate = "path")]` names this crate when it is imported under another
/// name. Other attributes, such as `#[sqlx(...)]` for `#[derive(sqlx::FromRow)]`, are left alone.
///
/// The derive also implements [`AuthUser::authz_kinds`] from the
/// role and permission fields, so that a guard asking for a role of another enum, a name that no
/// variant has, or a role from a user type without roles, answers a `500` that says so on the
/// first request (see [`require_login`](macro@crate::require_login#what-is-checked-when)).
///
/// The password hash may be a [`secrecy::SecretString`], a `SecretSlice<u8>`, a `Vec<u8>`, a
/// `Box<[u8]>`, a `Cow<str>`, or an `Option` of one of them (`None` is an empty hash).
/// **Keep the hash out of logs**: the derive never prints it, but a `#[derive(Debug)]` on the
/// struct prints every field; a `SecretString`'s `Debug` shows `[REDACTED]`. So a `String` (or
/// `Option<String>`) hash is a compile error that says so; where it must be a `String` (a model
/// type of another library), say it: `#[auth(password_hash, allow_plain_string)]`.
///
/// ```
/// use axum_login::{AuthUser, Role, authz::RoleRef};
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
/// use axum_login::{AuthUser, authz::PermissionRef, Role, authz::RoleRef};
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
/// [`ParseNameError`](crate::authz::ParseNameError) listing the valid names), `serde::Serialize` and
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
/// use axum_login::{Permission, authz::PermissionRef};
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

/// Derives [`SqlxUser`](crate::sqlx::SqlxUser) (feature `sqlx`) for a user struct, so that
/// [`SqlxStore`] loads it from SQLite, PostgreSQL or MySQL/MariaDB: derive `AuthUser` too, from
/// the same `#[auth(...)]` attributes.
///
/// ```
/// use axum_login::{AuthUser, Role, UserStore};
/// use secrecy::SecretString;
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
/// enum Access {
///     Admin,
///     User,
/// }
///
/// #[derive(Clone, Debug, AuthUser, UserStore)]
/// #[user_store(table = "users", authenticate_query = "SELECT * FROM users WHERE lower(email) = lower($1)")]
/// struct User {
///     #[auth(id)]
///     id: i64,
///     #[auth(username, column = "email")]
///     email: String,
///     #[auth(password_hash)]
///     password_hash: SecretString,
///     #[auth(role)]
///     role: Access,
///     #[user_store(skip)]
///     avatar: Option<Vec<u8>>,
/// }
///
/// type Store = axum_login::SqlxStore<User, sqlx::Sqlite>;
/// ```
///
/// On the struct, `#[user_store(...)]` takes:
///
/// | key | meaning |
/// | --- | --- |
/// | `table = "users"` | the users table (required) |
/// | `roles_table = "user_roles"` | fills the `#[auth(roles)]` collection from `(user_id, role)` rows |
/// | `permissions_table = "user_permissions"` | fills `#[auth(permissions)]` from `(user_id, permission)` rows |
/// | `user_id_column = "..."` | the user id column of those tables (default `user_id`) |
/// | `role_column`, `permission_column` | their name columns (defaults `role`, `permission`) |
/// | `load_query = "..."` | the query that loads a user by id, written with `$1` |
/// | `authenticate_query = "..."` | the query that finds a user by username, written with `$1` |
///
/// Every field is a column of the users table, named like the field unless
/// `#[auth(column = "...")]` says otherwise, except the collections filled from a roles or
/// permissions table and fields marked `#[user_store(skip)]` (both start from `Default`). An
/// `#[auth(role)]` field is read from its column through the role's sqlx impl (its name as
/// text). The password hash field may be `SecretString`, a `String` marked
/// `#[auth(password_hash, allow_plain_string)]`, or an `Option` of one; a `NULL` hash never
/// verifies. Table and column names must be identifiers (a table may be `schema.table`): anything
/// else is a compile error on the string. Custom queries must return the columns the struct reads; their one
/// parameter is written `$1` on every database and sent as `?` to SQLite and MySQL.
///
///
/// On a field, `#[user_store(skip)]` leaves it out of every query (it starts from `Default`).
/// A mistake in any of these is a compile error on the mistake.
#[cfg(feature = "sqlx")]
#[doc(inline)]
pub use axum_login_macros::UserStore;
#[cfg(not(feature = "sqlx"))]
pub use axum_login_macros::UserStore;

#[doc = include_str!("../docs/require_login.md")]
#[doc(inline)]
pub use axum_login_macros::require_login;

#[doc = include_str!("../docs/require.md")]
#[doc(inline)]
pub use axum_login_macros::require;

/// Re-exported so apps name one version of tower-sessions.
pub use tower_sessions;

#[doc(hidden)]
pub mod __private;

/// The README's Rust blocks, compiled with the crate's doctests so the README cannot drift from
/// the API; they use the features a reader of each section turns on, so they are compiled when
/// those are on (`cargo test --all-features`, as CI runs).
#[cfg(all(
    doctest,
    feature = "sqlx",
    feature = "redis",
    feature = "ldap",
    feature = "totp",
    feature = "test-util",
    feature = "metrics",
    feature = "tokens",
    feature = "accounts",
    feature = "oidc"
))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
