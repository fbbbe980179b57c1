//! Remember-me: a login that outlives its session cookie, opted into per login.
//!
//! A remembered login gives the browser a long-lived cookie holding a *selector*, which finds
//! the token in a [`RememberStore`], and a *validator*. The store keeps a keyed hash of each,
//! never the value: a copy of the store (or of the session registry, which names the token
//! of a remembered session) neither logs anyone in nor yields a selector to forge a cookie
//! around. When a visitor without a login presents the cookie, the validator is checked and
//! replaced (the cookie rotates on every use), and the visitor is logged in on a new session.
//! The validator that the last rotation replaced coming back after a short grace means two
//! browsers hold copies of one cookie: the token was stolen, so every remember-me token and
//! every session of that user ends and the layer reports
//! [`AuthEvent::RememberTheft`](crate::events::AuthEvent::RememberTheft). Only a validator that
//! was once valid is evidence of that; any other one (made up around a selector someone
//! learnt) loses its cookie and nothing more, in the same work as an unknown selector.
//!
//! A remembered login is never *fresh*: guards with `fresh = "..."` ask for the password again.
//! Logout, a password change and ending all sessions revoke the user's tokens, and so does a
//! change to the user's second factors
//! ([`AuthSession::second_factors_changed`](crate::AuthSession::second_factors_changed)).
//!
//! # Remember-me and second factors
//!
//! A token records whether the login that asked for it completed a second factor (the flag
//! is the first byte of the validator, so it is covered by the keyed hash: neither the
//! browser nor a copy of the store can change it). A remembered login from a token issued
//! after a completed second factor is a login, though not one that passed a second factor
//! in this session (`#[require_login(mfa)]` still asks for one). A token issued otherwise,
//! for a user who has a second factor now (the layer asks its
//! [`second_factors`](crate::layer::AuthLayerBuilder::second_factors)), is only the first
//! factor: it is used up, and the visit waits for the second factor as after a right password
//! ([`AuthSession::second_factor_due`](crate::AuthSession::second_factor_due)); completing it
//! logs in and gives a new token that counts as both.

mod feature;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlx")]
mod sql;

use std::{sync::Arc, time::Duration, time::SystemTime};

pub use self::memory::MemoryRememberStore;
#[cfg(feature = "redis")]
pub use self::redis::RedisRememberStore;
#[cfg(feature = "sqlx")]
pub use self::sql::SqlxRememberStore;
use crate::error::BoxError;
/// A boxed future, as the store's methods answer.
pub use crate::login::BoxFuture;
use crate::options::{debug_options, setters};

/// One remember-me token, as a [`RememberStore`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberToken {
    /// Finds the token: the layer hands stores a keyed hash of the cookie's selector, never
    /// the selector itself.
    pub selector: String,
    /// The user's id, as text (its `Display` form).
    pub user: String,
    /// The keyed hash of the current validator.
    pub validator_hash: String,
    /// The keyed hash of the validator before the last rotation, accepted for a short grace
    /// (a browser that sent two requests with the old cookie at once).
    pub previous_hash: Option<String>,
    /// When the validator last changed.
    pub rotated_at: SystemTime,
    /// When the token ends, whatever happens.
    pub expires_at: SystemTime,
}

/// A new validator for one token, for [`RememberStore::rotate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation<'a> {
    /// The token's selector.
    pub selector: &'a str,
    /// The validator hash the token must still have.
    pub current_hash: &'a str,
    /// The validator hash it gets.
    pub new_hash: &'a str,
    /// When the rotation happens: the token's new [`rotated_at`](RememberToken::rotated_at).
    pub at: SystemTime,
}

/// Where remember-me tokens are kept: [`MemoryRememberStore`] for one process,
/// `SqlxRememberStore` (feature `sqlx`) or `RedisRememberStore` (feature `redis`) for several
/// instances.
///
/// Implement it with `#[async_trait::async_trait]`, failures as `BoxError`: see
/// [how the store traits are written](crate::store#the-store-traits).
#[async_trait::async_trait]
pub trait RememberStore: Send + Sync + 'static {
    /// Keeps a new token.
    async fn insert(&self, token: &RememberToken) -> Result<(), BoxError>;

    /// The token with `selector`, unless it expired.
    async fn get(&self, selector: &str) -> Result<Option<RememberToken>, BoxError>;

    /// Replaces the validator hash of the token with the rotation's `selector` with its
    /// `new_hash` (keeping the old one as [`previous_hash`](RememberToken::previous_hash)) if
    /// it is still its `current_hash`, in one atomic step; `true` if it did. Of two requests
    /// that rotate one token at once, exactly one succeeds.
    async fn rotate(&self, rotation: &Rotation<'_>) -> Result<bool, BoxError>;

    /// Removes the token with `selector`.
    async fn remove(&self, selector: &str) -> Result<(), BoxError>;

    /// Removes every token of `user`.
    async fn remove_user(&self, user: &str) -> Result<(), BoxError>;

    /// Whether the store answers, for a readiness probe. Default: looks up a selector no token
    /// has (the empty one), a read that writes nothing.
    async fn ping(&self) -> Result<(), BoxError> {
        self.get("").await.map(drop)
    }
}

/// Remember-me and its options, for
/// [`AuthLayerBuilder::remember_me`](crate::layer::AuthLayerBuilder::remember_me).
#[derive(Clone)]
pub struct RememberMe {
    pub(crate) store: Arc<dyn RememberStore>,
    pub(crate) lifetime: Duration,
    pub(crate) grace: Duration,
}

debug_options!(RememberMe { lifetime, grace });

impl RememberMe {
    /// Remember-me with tokens in `store`, for 30 days.
    pub fn new(store: impl RememberStore) -> Self {
        Self {
            store: Arc::new(store),
            lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            grace: Duration::from_secs(30),
        }
    }

    setters! {
        /// How long a remembered login lasts from the login that asked for it. Default: 30
        /// days.
        lifetime: Duration;
        /// How long after a rotation the replaced validator is still accepted (without
        /// rotating again), for a browser that sent several requests with the old cookie at
        /// once. Past it, the old validator is a stolen copy. Default: 30 seconds.
        grace: Duration;
    }
}

/// The remember-me cookie's name on a site served over HTTPS.
pub(crate) const COOKIE_SECURE: &str = "__Host-axum_login_remember";
/// The remember-me cookie's name on plain HTTP (development on loopback).
pub(crate) const COOKIE_PLAIN: &str = "axum_login_remember";

/// The validator's first byte when the token was issued after a completed second factor.
const AFTER_SECOND_FACTOR: u8 = 1;

/// A selector and a validator, fresh from the random number generator; the validator's first
/// byte says whether the login completed a second factor, the other 31 are random.
pub(crate) fn new_secrets(after_second_factor: bool) -> (String, String) {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut validator = rand::random::<[u8; 32]>();
    validator[0] = if after_second_factor {
        AFTER_SECOND_FACTOR
    } else {
        0
    };
    (
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
        URL_SAFE_NO_PAD.encode(validator),
    )
}

/// Whether a validator, already checked against its token's hash, was issued after a
/// completed second factor.
pub(crate) fn after_second_factor(validator: &str) -> bool {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD
        .decode(validator)
        .is_ok_and(|bytes| bytes.first() == Some(&AFTER_SECOND_FACTOR))
}

/// The cookie value of a selector and validator.
pub(crate) fn cookie_value(selector: &str, validator: &str) -> String {
    format!("{selector}.{validator}")
}

/// The selector and validator in a cookie value, if it is one.
pub(crate) fn parse_cookie(value: &str) -> Option<(&str, &str)> {
    let (selector, validator) = value.split_once('.')?;
    let well_formed = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (well_formed(selector, 22) && well_formed(validator, 43)).then_some((selector, validator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_say_whether_a_second_factor_was_completed() {
        for after in [true, false] {
            let (_, validator) = new_secrets(after);
            assert_eq!(validator.len(), 43);
            assert_eq!(after_second_factor(&validator), after);
        }
        assert!(!after_second_factor("not base64 at all!"));
    }

    #[test]
    fn cookies_parse_back_and_junk_does_not() {
        let (selector, validator) = new_secrets(false);
        let value = cookie_value(&selector, &validator);
        assert_eq!(
            parse_cookie(&value),
            Some((selector.as_str(), validator.as_str()))
        );
        for junk in [
            "",
            ".",
            "a.b",
            &format!("{selector}.{validator}x"),
            &format!("{selector}:{validator}"),
        ] {
            assert_eq!(parse_cookie(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn cookies_hold_only_url_safe_base64() {
        let selector = format!("{}-_", "a".repeat(20));
        let validator = format!("{}_-", "B".repeat(41));
        assert_eq!(
            parse_cookie(&format!("{selector}.{validator}")),
            Some((selector.as_str(), validator.as_str()))
        );
        for bad in ["!", "+", "/", "=", " "] {
            let selector = format!("{}{bad}", "a".repeat(21));
            assert_eq!(
                parse_cookie(&format!("{selector}.{validator}")),
                None,
                "{bad:?}"
            );
            let validator = format!("{}{bad}", "B".repeat(42));
            assert_eq!(
                parse_cookie(&format!("{}.{validator}", "a".repeat(22))),
                None,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_debug_form_shows_the_settings_and_not_the_store() {
        let remember = RememberMe::new(MemoryRememberStore::default())
            .lifetime(Duration::from_secs(60))
            .grace(Duration::from_secs(5));
        assert_eq!(
            format!("{remember:?}"),
            "RememberMe { lifetime: 60s, grace: 5s, .. }"
        );
    }
}
