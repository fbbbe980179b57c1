//! The server key and the keyed digest that binds a session to the user's secret material.

use std::{fmt, sync::Arc};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::AuthUser;

type HmacSha256 = Hmac<Sha256>;

/// The smallest key [`SessionKey::from_bytes`] accepts.
pub const MIN_KEY_LEN: usize = 32;

/// The server key under which sessions store an HMAC-SHA256 digest of each user's
/// [`session_auth_hash`](crate::AuthUser::session_auth_hash).
///
/// Without one, [`AuthLayer`](crate::AuthLayer) generates a random key at start-up, so sessions
/// do not survive a restart and are not shared between instances. Give every instance the same
/// key (from a secret store or an environment variable) to keep logins across restarts and
/// instances.
///
/// ```
/// use axum_login::SessionKey;
///
/// let key = SessionKey::from_bytes(&[7; 64]).expect("64 bytes is long enough");
/// assert!(SessionKey::from_bytes(b"short").is_err());
/// # let _ = key;
/// ```
#[derive(Clone)]
pub struct SessionKey(Arc<HmacSha256>);

/// A key given to [`SessionKey::from_bytes`] or [`SessionKey::from_base64`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionKeyError {
    /// The key is shorter than [`MIN_KEY_LEN`] bytes.
    #[error(
        "a session key needs at least {MIN_KEY_LEN} bytes, got {0}; generate one with `SessionKey::generate()` and keep it secret"
    )]
    TooShort(usize),
    /// The text is not base64.
    #[error("the session key is not valid base64 (standard or URL-safe alphabet)")]
    NotBase64,
}

impl SessionKey {
    /// A new random 64-byte key from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 64];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::keyed(&bytes)
    }

    /// A key from raw bytes; at least [`MIN_KEY_LEN`] of them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SessionKeyError> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(SessionKeyError::TooShort(bytes.len()));
        }
        Ok(Self::keyed(bytes))
    }

    /// A key from base64 text (standard or URL-safe alphabet, padded or not), as kept in an
    /// environment variable.
    pub fn from_base64(text: &str) -> Result<Self, SessionKeyError> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
        let text = text.trim();
        let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(SessionKeyError::NotBase64)?;
        Self::from_bytes(&bytes)
    }

    /// Keys the HMAC once; every digest starts from a copy of this state instead of hashing
    /// the key again.
    fn keyed(bytes: &[u8]) -> Self {
        // HMAC takes keys of any length, so this cannot fail.
        match HmacSha256::new_from_slice(bytes) {
            Ok(mac) => Self(Arc::new(mac)),
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }

    fn mac(&self) -> HmacSha256 {
        (*self.0).clone()
    }

    /// The digest that binds a session to `user` in `realm` (the layer that logged them in): of
    /// the realm, their [`session_auth_hash`](crate::AuthUser::session_auth_hash) and their
    /// [`security_stamp`](crate::AuthUser::security_stamp), each with its length first so that
    /// no two triples read the same.
    pub(crate) fn user_digest<U: AuthUser>(&self, realm: &str, user: &U) -> String {
        URL_SAFE_NO_PAD.encode(self.user_mac(realm, user).finalize().into_bytes())
    }

    /// Whether `stored` is [`user_digest`](Self::user_digest) of `user`, compared in constant
    /// time.
    pub(crate) fn verify_user<U: AuthUser>(&self, realm: &str, user: &U, stored: &str) -> bool {
        let Ok(stored) = URL_SAFE_NO_PAD.decode(stored) else {
            return false;
        };
        self.user_mac(realm, user).verify_slice(&stored).is_ok()
    }

    /// An HMAC under this key of `parts` (each length-prefixed) for the purpose `label`, so
    /// that no two purposes share a digest.
    pub(crate) fn tag(&self, label: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac();
        for part in std::iter::once(label.as_bytes()).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    fn user_mac<U: AuthUser>(&self, realm: &str, user: &U) -> HmacSha256 {
        let mut mac = self.mac();
        for part in [
            realm.as_bytes(),
            user.session_auth_hash(),
            &user.security_stamp(),
        ] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct User {
        hash: &'static [u8],
        stamp: &'static [u8],
    }

    impl AuthUser for User {
        type Id = u8;
        fn id(&self) -> u8 {
            1
        }
        fn session_auth_hash(&self) -> &[u8] {
            self.hash
        }
        fn security_stamp(&self) -> std::borrow::Cow<'_, [u8]> {
            self.stamp.into()
        }
    }

    fn user(hash: &'static [u8], stamp: &'static [u8]) -> User {
        User { hash, stamp }
    }

    #[test]
    fn a_digest_verifies_only_the_same_hash_and_stamp_under_the_same_key() {
        let key = SessionKey::generate();
        let digest = key.user_digest("r", &user(b"hash-1", b""));
        assert!(key.verify_user("r", &user(b"hash-1", b""), &digest));
        assert!(!key.verify_user("r", &user(b"hash-2", b""), &digest));
        assert!(!key.verify_user("r", &user(b"hash-1", b"stamp"), &digest));
        assert!(!SessionKey::generate().verify_user("r", &user(b"hash-1", b""), &digest));
        assert!(!key.verify_user("r", &user(b"hash-1", b""), "not base64 !"));
        assert!(!key.verify_user("r", &user(b"hash-1", b""), ""));
        // The lengths keep the two parts apart: moving bytes from one to the other changes it.
        let split = key.user_digest("r", &user(b"ab", b"c"));
        assert!(!key.verify_user("r", &user(b"a", b"bc"), &split));
        assert!(!key.verify_user("r", &user(b"", b"abc"), &split));
        // Another layer's realm is another digest.
        assert!(!key.verify_user("other", &user(b"ab", b"c"), &split));
    }

    #[test]
    fn digest_does_not_contain_the_material() {
        let key = SessionKey::generate();
        let digest = key.user_digest("r", &user(b"$argon2id$v=19$secret", b"stamp"));
        assert!(!digest.contains("argon2"));
        assert_eq!(digest.len(), 43, "a SHA-256 digest in unpadded base64");
    }

    #[test]
    fn keys_parse_from_base64_and_refuse_short_ones() {
        let text = URL_SAFE_NO_PAD.encode([1u8; 40]);
        assert!(SessionKey::from_base64(&text).is_ok());
        assert_eq!(
            SessionKey::from_base64(&URL_SAFE_NO_PAD.encode([1u8; 8])).err(),
            Some(SessionKeyError::TooShort(8))
        );
        assert_eq!(
            SessionKey::from_base64("%%%").err(),
            Some(SessionKeyError::NotBase64)
        );
        assert_eq!(
            format!("{:?}", SessionKey::generate()),
            "SessionKey([redacted])"
        );
    }
}
