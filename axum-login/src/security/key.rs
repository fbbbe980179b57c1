//! The server key and the keyed digest that binds a session to the user's secret material.

use std::{fmt, sync::Arc};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

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

    /// The digest of `material`, as stored in the session.
    pub(crate) fn digest(&self, material: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(material);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `stored` is the digest of `material`, compared in constant time.
    pub(crate) fn verify(&self, material: &[u8], stored: &str) -> bool {
        let Ok(stored) = URL_SAFE_NO_PAD.decode(stored) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(material);
        mac.verify_slice(&stored).is_ok()
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

    #[test]
    fn digest_verifies_only_the_same_material_under_the_same_key() {
        let key = SessionKey::generate();
        let digest = key.digest(b"hash-1");
        assert!(key.verify(b"hash-1", &digest));
        assert!(!key.verify(b"hash-2", &digest));
        assert!(!SessionKey::generate().verify(b"hash-1", &digest));
        assert!(!key.verify(b"hash-1", "not base64 !"));
        assert!(!key.verify(b"hash-1", ""));
    }

    #[test]
    fn digest_does_not_contain_the_material() {
        let key = SessionKey::generate();
        let digest = key.digest(b"$argon2id$v=19$secret");
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
