//! The [`UserStore`] trait: where users come from and how credentials are checked; and how
//! every store trait of the crate is written.
//!
//! # The store traits
//!
//! Besides the user store, each feature keeps its state behind a trait of its own:
//! [`SessionBackend`](crate::session::SessionBackend),
//! [`SessionRegistry`](crate::registry::SessionRegistry),
//! [`RememberStore`](crate::remember::RememberStore),
//! [`ThrottleStore`](crate::security::ThrottleStore) and, with their features, the second-factor
//! and passkey stores in [`mfa`](crate::mfa) and the `TokenStore` of API tokens. They are
//! written one way:
//!
//! - **`#[async_trait]`**. The feature stores are held as `Arc<dyn ...>` (the layer is not
//!   generic over them), which rules out a native `async fn` in the trait; of the two ways to
//!   box the future, `#[async_trait]` is the one an implementer writes most easily: plain
//!   `async fn`s, with no lifetimes to spell and no `Box::pin(async move { ... })`. It is also
//!   what tower-sessions' `SessionStore`, which `SessionBackend` extends, asks for.
//!   [`UserStore`] is the exception: the layer is generic over it, so it uses native `async fn`
//!   and costs no allocation per call.
//! - **`Result<_, BoxError>`** ([`BoxError`](crate::error::BoxError)). A store's failure
//!   means the same to every caller (the store could not answer), so the store passes on
//!   whatever its backend reported and the caller says where it came from:
//!   [`AuthError::Registry`](crate::AuthError::Registry) for the registry and remember-me
//!   stores, [`AuthError::Throttle`](crate::AuthError::Throttle) for the throttle. An
//!   implementer uses `?` on any error type. Two traits answer the error their caller reports
//!   as it is: `SessionBackend` extends tower-sessions' `SessionStore` and so answers its
//!   error, and the second-factor stores answer `MfaError`, which the `Mfa` and `Passkeys`
//!   flows hand on to the app unchanged; there a store's failure is
//!   `MfaError::store(error)`, the same boxed error under the flow's type.
//!
//! Each of them can also say whether it answers, for a readiness probe
//! ([`AuthLayer::health`](crate::AuthLayer::health)): [`UserStore::ping`] and the `ping` of
//! each feature store, whose default reads something no one has (a registry entry, a token, a
//! throttle key), so a store that does not override it is still asked one round trip that
//! writes nothing. The session store is asked for a session id no one has.
//!
//! The SQL stores of these traits are written with one kit, in [`crate::sqlx`]: they bind
//! their parameters, tell whether a conditional statement matched a row, read MySQL's binary
//! text, create their tables and retry lock conflicts the same way, and take any
//! [`SqlxDatabase`](crate::sqlx::SqlxDatabase).

use std::future::Future;

use crate::AuthUser;

/// The id type of a store's users.
pub type UserId<S> = <<S as UserStore>::User as AuthUser>::Id;

/// Finds users and checks their credentials.
///
/// The framework never asks a store for a password hash: [`authenticate`](Self::authenticate)
/// decides by whatever means the store has (a hash comparison, an LDAP bind, a token exchange)
/// and answers with the user or `None`.
///
/// Derive a sqlx-backed store with `#[derive(UserStore)]`, or implement this trait by hand for any
/// storage:
///
/// ```
/// use std::{collections::HashMap, convert::Infallible, sync::Arc};
///
/// use axum_login::{AuthUser, UserStore};
///
/// #[derive(Clone)]
/// struct User {
///     id: u64,
///     name: String,
///     stamp: String,
/// }
///
/// impl AuthUser for User {
///     type Id = u64;
///     fn id(&self) -> u64 {
///         self.id
///     }
///     fn session_auth_hash(&self) -> &[u8] {
///         self.stamp.as_bytes()
///     }
/// }
///
/// /// Users held in memory; `authenticate` takes a one-time token.
/// #[derive(Clone)]
/// struct TokenStore {
///     users: Arc<HashMap<u64, User>>,
///     tokens: Arc<HashMap<String, u64>>,
/// }
///
/// impl UserStore for TokenStore {
///     type User = User;
///     type Credentials = String;
///     type Error = Infallible;
///
///     async fn authenticate(&self, token: String) -> Result<Option<User>, Infallible> {
///         Ok(self.tokens.get(&token).and_then(|id| self.users.get(id)).cloned())
///     }
///
///     async fn load_user(&self, id: &u64) -> Result<Option<User>, Infallible> {
///         Ok(self.users.get(id).cloned())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a user store: it does not implement `UserStore`",
    label = "this type must implement `UserStore`",
    note = "derive a sqlx store with `#[derive(UserStore)]` on the user struct, or implement `axum_login::UserStore` by hand"
)]
pub trait UserStore: Clone + Send + Sync + 'static {
    /// The user type this store produces.
    type User: AuthUser;

    /// What [`authenticate`](Self::authenticate) takes: a username and password, a token, ...
    type Credentials: Send + 'static;

    /// The store's error; it reaches the HTTP layer as a `500` with a generic body, and the cause
    /// is logged.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Checks `credentials`, answering the user they belong to, or `None` when they are wrong.
    ///
    /// Wrong credentials are `Ok(None)`, not an error: an error means the store could not decide.
    fn authenticate(
        &self,
        credentials: Self::Credentials,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;

    /// Loads the user with this id, or `None` if there is none (any more).
    fn load_user(
        &self,
        id: &UserId<Self>,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;

    /// Whether [`load_users`](Self::load_users) loads its ids together, e.g. in one
    /// `WHERE id IN (...)` query. Default: `false`.
    ///
    /// When `true`, the layer loads the users of concurrent requests together by default (see
    /// [`AuthLayerBuilder::batch_user_loads`](crate::layer::AuthLayerBuilder::batch_user_loads)); set it
    /// together with overriding `load_users`.
    const BATCHED_LOADS: bool = false;

    /// Loads several users at once: one answer per id, in the order of `ids`, `None` for an id
    /// with no user. The layer never repeats an id within one call.
    ///
    /// The layer calls it when it batches loads ([`BATCHED_LOADS`](Self::BATCHED_LOADS), or
    /// [`AuthLayerBuilder::batch_user_loads`](crate::layer::AuthLayerBuilder::batch_user_loads)), to
    /// load the users of concurrent requests together. Override it with one query for all of
    /// them (`WHERE id IN (...)`); the default calls [`load_user`](Self::load_user) for each id
    /// in turn, which gains nothing from batching.
    fn load_users(
        &self,
        ids: &[UserId<Self>],
    ) -> impl Future<Output = Result<Vec<Option<Self::User>>, Self::Error>> + Send {
        async move {
            let mut users = Vec::with_capacity(ids.len());
            for id in ids {
                users.push(self.load_user(id).await?);
            }
            Ok(users)
        }
    }

    /// The account that `credentials` try to log in to, for throttling failed logins per account
    /// (see [`Throttle`](crate::Throttle)); `None`, the default, throttles only per client
    /// address.
    ///
    /// Return the same key for every spelling that reaches the same account (e.g. the
    /// lower-cased username), and a key for unknown accounts too, so throttling never tells
    /// whether an account exists.
    fn throttle_key(&self, credentials: &Self::Credentials) -> Option<String> {
        let _ = credentials;
        None
    }

    /// The account that `credentials` try to log in to, for the login throttle, when finding it
    /// takes a look into the store: by default [`throttle_key`](Self::throttle_key).
    ///
    /// Override it when the store can tell which account a spelling reaches (a case- or
    /// accent-insensitive database collation, a directory that trims names): answer the same
    /// key for every spelling that logs in to one account, e.g. the stored name normalised, and
    /// a key for unknown names too. It runs before the password is checked, on every attempt,
    /// so it should be one cheap lookup.
    fn account_key(
        &self,
        credentials: &Self::Credentials,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send {
        let key = self.throttle_key(credentials);
        async move { Ok(key) }
    }

    /// Whether the store answers, for a readiness probe
    /// ([`AuthLayer::health`](crate::AuthLayer::health)): one cheap round trip that changes
    /// nothing, such as `SELECT 1` or a directory's root DSE.
    ///
    /// The default answers `Ok(())` without asking anything, since a store in general has no
    /// read that is known to be cheap (`load_user` needs an id of the store's type): a store
    /// that does not override it is reported as answering. [`SqlxStore`](crate::SqlxStore)
    /// pings a connection of its pool.
    fn ping(&self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async { Ok(()) }
    }
}
