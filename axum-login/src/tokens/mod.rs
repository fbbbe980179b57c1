//! API tokens: personal access tokens that authenticate API clients through the same guards as
//! browsers (feature `tokens`).
//!
//! A user (or the app on a user's behalf) creates a token with a name, scopes and an expiry; the
//! secret is shown once. A client sends it as `Authorization: Bearer alt_…`; the layer then
//! treats the request as the token's user for [`CurrentUser`](crate::CurrentUser), roles,
//! permissions and the guards, without reading or writing a session. A token login is never
//! *fresh* and never passed a second factor: guards with `fresh`, `mfa` or `fresh_mfa` refuse it.
//!
//! # The secret and what is stored
//!
//! A secret is `alt_`, 40 random alphanumeric characters (about 238 bits) and a 6-character
//! CRC-32 checksum: secret scanners match the prefix and the checksum, and a mistyped token is
//! refused without a store lookup. The store keeps only an HMAC-SHA256 of the secret under the
//! layer's [`SessionKey`](crate::SessionKey), looked up by that hash.
//!
//! A fast keyed hash is right here, where a password needs argon2: a password is chosen by a
//! person and guessable, so its hash must make each guess expensive; a token is 238 random bits,
//! which no number of guesses finds, so a slow hash would only make every API request slower.
//! The key adds that a copy of the store alone cannot even check a candidate secret. Tokens
//! follow a rotation of the key like the layer's other values: one found under a previous key is
//! hashed again under the current one when used.
//!
//! # Answers
//!
//! A request with no credentials, or a malformed, mistyped, unknown, expired or revoked token,
//! or the token of a deactivated user, gets `401` with `WWW-Authenticate: Bearer` (plus
//! `error="invalid_token"` when a token was sent), never a redirect to the login page, and an
//! [`AuthEvent::TokenRefused`](crate::events::AuthEvent::TokenRefused). Nothing the logs say lets
//! a reader use a token: they name its id at most.

mod feature;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod secret;
#[cfg(feature = "sqlx")]
mod sql;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

pub use self::memory::MemoryTokenStore;
#[cfg(feature = "redis")]
pub use self::redis::RedisTokenStore;
#[cfg(feature = "sqlx")]
pub use self::sql::SqlxTokenStore;
pub use crate::error::NewTokenError;
use crate::{
    error::BoxError,
    options::{debug_options, setters},
};

/// One API token, as a [`TokenStore`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The token's public id, for listing and revoking it; not a secret.
    pub id: String,
    /// The user's id, as text (its `Display` form).
    pub user: String,
    /// The name its user gave it.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// The keyed hash of its secret, which finds it.
    pub hash: String,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last used, to the minute (see [`ApiTokens::touch_interval`]).
    pub last_used_at: Option<SystemTime>,
    /// When it stops working, if ever.
    pub expires_at: Option<SystemTime>,
}

/// A token's new hash after a key rotation, for [`TokenStore::rehash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rehash<'a> {
    /// The token's id.
    pub id: &'a str,
    /// The hash it must still have.
    pub from: &'a str,
    /// The hash it gets.
    pub to: &'a str,
}

/// Where API tokens are kept: [`MemoryTokenStore`] for one process and tests,
/// `SqlxTokenStore` (feature `sqlx`) or `RedisTokenStore` (feature `redis`) for several
/// instances.
///
/// Implement it with `#[async_trait::async_trait]`, failures as `BoxError`: see
/// [how the store traits are written](crate::store#the-store-traits).
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Keeps a new token.
    async fn insert(&self, token: &ApiToken) -> Result<(), BoxError>;

    /// The token whose secret has `hash`; expired ones too (the layer decides by its clock).
    async fn find(&self, hash: &str) -> Result<Option<ApiToken>, BoxError>;

    /// The tokens of `user`, oldest first.
    async fn list(&self, user: &str) -> Result<Vec<ApiToken>, BoxError>;

    /// Records that the token with `id` was used at `at`.
    async fn touch(&self, id: &str, at: SystemTime) -> Result<(), BoxError>;

    /// Gives the token with `rehash.id` the hash `rehash.to` if it still has `rehash.from`;
    /// `true` if it did.
    async fn rehash(&self, rehash: &Rehash<'_>) -> Result<bool, BoxError>;

    /// Removes `user`'s token with `id`; `true` if there was one.
    async fn revoke(&self, user: &str, id: &str) -> Result<bool, BoxError>;

    /// Removes every token of `user`, answering how many there were.
    async fn revoke_user(&self, user: &str) -> Result<u64, BoxError>;

    /// Whether the store answers, for a readiness probe. Default: looks up a hash no token has
    /// (the empty one), a read that writes nothing.
    async fn ping(&self) -> Result<(), BoxError> {
        self.find("").await.map(drop)
    }
}

/// A token's scopes as the shared stores keep them: one text, separated by spaces, which no
/// scope has (see [`NewTokenError::Scope`]).
#[cfg(any(feature = "sqlx", feature = "redis"))]
fn scopes_text(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// The scopes in a text of [`scopes_text`]; none in an empty one.
#[cfg(any(feature = "sqlx", feature = "redis"))]
fn scopes_from_text(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect()
}

/// API tokens and their options, for
/// [`AuthLayerBuilder::api_tokens`](crate::layer::AuthLayerBuilder::api_tokens).
#[derive(Clone)]
pub struct ApiTokens {
    pub(crate) store: Arc<dyn TokenStore>,
    /// Client addresses (by their throttle group: an IPv6 /64 is one) whose tokens are refused
    /// until a time, as the throttle last answered: checked before a lookup, without a call to
    /// the throttle store.
    pub(crate) locked: Arc<Mutex<HashMap<Vec<u8>, SystemTime>>>,
    pub(crate) touch_interval: Duration,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) sessions_have_every_scope: bool,
}

debug_options!(ApiTokens {
    touch_interval,
    max_lifetime,
    sessions_have_every_scope
});

impl ApiTokens {
    /// API tokens kept in `store`.
    pub fn new(store: impl TokenStore) -> Self {
        Self {
            store: Arc::new(store),
            locked: Arc::default(),
            touch_interval: Duration::from_secs(60),
            max_lifetime: Some(Duration::from_secs(366 * 24 * 60 * 60)),
            sessions_have_every_scope: true,
        }
    }

    setters! {
        /// How often, at most, a token's [`last_used_at`](ApiToken::last_used_at) is written:
        /// a client that sends a request a second costs one store write a minute, not one a
        /// request. Default: 60 seconds.
        touch_interval: Duration;
        /// The longest lifetime a token can be created with; `None` allows tokens that never
        /// expire. Default: 366 days.
        max_lifetime: Option<Duration>;
        /// Whether a session login passes every scope check (a user in the browser can do
        /// whatever their roles allow). `false` makes a scoped route refuse sessions too.
        /// Default: `true`.
        sessions_have_every_scope: bool;
    }
}

/// What a new token is to be: its name, its scopes and how long it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// A name its user recognises it by ("CI deploys").
    pub name: String,
    /// What it may do; see `#[require_login(scope = "...")]`.
    pub scopes: Vec<String>,
    /// How long it lasts from now; `None` for as long as
    /// [`max_lifetime`](ApiTokens::max_lifetime) allows (for ever without one).
    pub lifetime: Option<Duration>,
}

/// A token just created: its secret, shown once and kept nowhere, and what the store keeps.
pub struct CreatedToken {
    /// The secret to give the client: `alt_…`.
    pub secret: secrecy::SecretString,
    /// The token as stored (its hash, never its secret).
    pub token: ApiToken,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("secret", &"[redacted]")
            .field("token", &self.token)
            .finish()
    }
}

impl NewToken {
    /// The checks a token's name, scopes and lifetime must pass.
    fn check(&self, max_lifetime: Option<Duration>) -> Result<Option<Duration>, NewTokenError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(NewTokenError::Name);
        }
        for scope in &self.scopes {
            let valid = (1..=100).contains(&scope.len())
                && scope
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":._-".contains(&b));
            if !valid {
                return Err(NewTokenError::Scope(scope.clone()));
            }
        }
        match (self.lifetime, max_lifetime) {
            (Some(asked), Some(max)) if asked > max => Err(NewTokenError::TooLong { max }),
            (Some(asked), _) => Ok(Some(asked)),
            (None, max) => Ok(max),
        }
    }
}
