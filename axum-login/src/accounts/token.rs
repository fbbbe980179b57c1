//! The one-time tokens that mail carries: what a store keeps of one, the store trait, and the
//! secret itself.

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::error::BoxError;

/// What a mailed token is for. A token of one purpose is never accepted for another: a
/// verification link cannot reset a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// Sets a new password ([`Accounts::reset_password`](super::Accounts::reset_password)).
    PasswordReset,
    /// Confirms the address it was mailed to
    /// ([`Accounts::verify_email`](super::Accounts::verify_email)).
    VerifyEmail,
    /// Logs its user in ([`Accounts::sign_in_with_link`](super::Accounts::sign_in_with_link)).
    SignIn,
    /// Replaces the user's address with the one it was mailed to
    /// ([`Accounts::confirm_email_change`](super::Accounts::confirm_email_change)).
    ChangeEmail,
}

impl Purpose {
    /// The purpose as a store keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::VerifyEmail => "verify_email",
            Self::SignIn => "sign_in",
            Self::ChangeEmail => "change_email",
        }
    }

    /// Every purpose.
    pub(super) const ALL: [Self; 4] = [
        Self::PasswordReset,
        Self::VerifyEmail,
        Self::SignIn,
        Self::ChangeEmail,
    ];

    /// A purpose read back from [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == text)
    }

    /// Whether a later login of the user voids the token: a reset link that outlives a
    /// login would let an old mailbox copy take the account back. A verification link does
    /// not: a user who signs up, logs in and then opens it must not find it dead, and all it
    /// can do is confirm the address it went to.
    pub(super) fn ends_at_login(self) -> bool {
        match self {
            Self::PasswordReset | Self::SignIn => true,
            Self::VerifyEmail | Self::ChangeEmail => false,
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One outstanding token, as an [`AccountTokenStore`] keeps it: never the secret, only its
/// SHA-256, which is how a presented secret finds it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountToken {
    /// The SHA-256 of the secret, in unpadded URL-safe base64: the key.
    pub hash: String,
    /// What the token is for.
    pub purpose: Purpose,
    /// The user's id, as text.
    pub user: String,
    /// The user's address when the token was made; the token is void once it is another.
    /// The token went to it, but for [`Purpose::ChangeEmail`], which went to `new_email`.
    pub email: String,
    /// For [`Purpose::ChangeEmail`]: the address that replaces `email`.
    pub new_email: Option<String>,
    /// The user's session digest when the token was made (under the layer's key): a password
    /// change, however it was made, voids the token.
    pub stamp: String,
    /// When it was made.
    pub created_at: SystemTime,
    /// When it stops working.
    pub expires_at: SystemTime,
}

impl fmt::Debug for AccountToken {
    // The hash is not a secret, but nothing is gained by printing it either.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountToken")
            .field("purpose", &self.purpose)
            .field("user", &self.user)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Which of a user's tokens [`AccountTokenStore::revoke_user`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revoke {
    /// Every token of the user (their address changed).
    All,
    /// The tokens that a login voids (see each [`Purpose`]).
    EndedByLogin,
}

/// Where outstanding mailed tokens are kept.
///
/// Written with `#[async_trait]`, as the crate's other store traits are (see
/// [`crate::store`]): the layer keeps it as `dyn`. Errors are boxed, the store's own error
/// inside.
///
/// A store needs no clock: expiry is checked by the caller against the layer's, and
/// [`delete_expired`](Self::delete_expired) is given the time.
#[async_trait::async_trait]
pub trait AccountTokenStore: Send + Sync + 'static {
    /// Keeps `token`.
    async fn insert(&self, token: &AccountToken) -> Result<(), BoxError>;

    /// The token with this hash, if it is kept.
    async fn find(&self, hash: &str) -> Result<Option<AccountToken>, BoxError>;

    /// Removes the token with this hash, answering whether this call removed it: of two
    /// requests that present one token at once, exactly one gets `true`. This is what makes a
    /// token single-use.
    async fn consume(&self, hash: &str) -> Result<bool, BoxError>;

    /// Removes tokens of `user`; answers how many.
    async fn revoke_user(&self, user: &str, which: Revoke) -> Result<u64, BoxError>;

    /// Removes every token expired at `now`. The layer refuses expired tokens without it; this
    /// only keeps the store small. Returns how many went.
    async fn delete_expired(&self, now: SystemTime) -> Result<u64, BoxError>;

    /// Whether the store answers, for a readiness probe. Default: looks up a hash no token has
    /// (the empty one), a read that writes nothing.
    async fn ping(&self) -> Result<(), BoxError> {
        self.find("").await.map(drop)
    }
}

/// The bytes of a token's secret: 256 random bits, far past guessing.
const SECRET_BYTES: usize = 32;

/// The secret's length as text: 32 bytes of unpadded base64.
pub(super) const SECRET_CHARS: usize = 43;

/// A new secret, as it goes into a link or a form.
pub(super) fn new_secret() -> String {
    let mut bytes = [0; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `text` can be a secret at all: the right length and alphabet. Anything else is
/// refused without a store lookup.
pub(super) fn well_formed(text: &str) -> bool {
    text.len() == SECRET_CHARS
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// The hash a store keeps of `secret`.
///
/// Plain SHA-256, not a keyed or slow hash: the secret is 256 random bits, so a reader of the
/// store cannot find it from its hash, and a lookup by hash compares nothing secret (the
/// database compares hashes, whose equality tells an attacker nothing about a secret they do
/// not already have). Unkeyed, a token also outlives a rotation of the layer's key untouched.
pub(super) fn hash_of(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// When a token made at `now` for `lifetime` expires.
pub(super) fn expiry(now: SystemTime, lifetime: Duration) -> SystemTime {
    now.checked_add(lifetime).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_well_formed() {
        let (first, second) = (new_secret(), new_secret());
        assert_ne!(first, second);
        for secret in [&first, &second] {
            assert_eq!(secret.len(), SECRET_CHARS);
            assert!(well_formed(secret), "{secret}");
        }
        assert_ne!(hash_of(&first), first, "the store never sees the secret");
        assert_eq!(hash_of(&first), hash_of(&first.clone()));
    }

    #[test]
    fn what_is_not_a_secret_is_refused_before_a_lookup() {
        let secret = new_secret();
        for bad in [
            String::new(),
            secret[1..].to_owned(),
            format!("{secret}A"),
            format!("{}=", &secret[1..]),
            format!("{}/", &secret[1..]),
            "A".repeat(10_000),
        ] {
            assert!(!well_formed(&bad), "{bad:.50}");
        }
    }

    #[test]
    fn purposes_read_back_and_unknown_ones_do_not() {
        for purpose in Purpose::ALL {
            assert_eq!(Purpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(Purpose::parse("sign-in"), None);
    }
}
