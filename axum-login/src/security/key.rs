//! The server key and the keyed digest that binds a session to the user's secret material.
//!
//! A key is a ring: one current key signs everything new, and previous keys still verify what
//! they signed until a deadline, so that a key can be replaced without logging anyone out.
//! Whatever verifies under a previous key is signed again under the current one when it is
//! used (the session's digest at its next request, a remember-me token at its next use, a
//! device cookie at the next login); after the deadline what was not used is refused.

use std::{fmt, sync::Arc, time::SystemTime};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::AuthUser;

type HmacSha256 = Hmac<Sha256>;

/// The smallest key [`SessionKey::from_bytes`] accepts.
pub const MIN_KEY_LEN: usize = 32;

/// The server key under which sessions store an HMAC-SHA256 digest of each user's
/// [`session_auth_hash`](crate::AuthUser::session_auth_hash), and which signs device cookies and
/// keys remember-me tokens and the throttle's counters.
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
///
/// # Generating and keeping a key
///
/// A key is 64 random bytes (at least [`MIN_KEY_LEN`]), kept as base64 outside the code and the
/// database: `head -c 64 /dev/urandom | base64 -w0` makes one. Read it from the environment
/// with [`from_base64`](Self::from_base64) (`SessionKey::from_base64(&std::env::var("SESSION_KEY")?)`)
/// or from a file a secret manager mounts (`SessionKey::from_base64(&std::fs::read_to_string(path)?)`;
/// surrounding whitespace is ignored).
///
/// # Rotating it
///
/// A key that may have leaked, or that a policy says is too old, is replaced without logging
/// anyone out by keeping the old one as a *previous* key for a while
/// ([`with_previous`](Self::with_previous)). With several instances, roll it out in two steps so
/// that no instance meets a value signed under a key it does not know yet:
///
/// 1. Every instance gets the new key as the next key, the old one still current:
///    `old.with_next(new)`. Nothing changes yet, but every instance accepts what the new key
///    signs, and leaves it as it is.
/// 2. Every instance gets the new key as current and the old one as previous until a deadline:
///    `new.with_previous(old, deadline)`. Values are signed under the new key from now on, and
///    those signed under the old one are signed again under the new one when used.
/// 3. After the deadline, drop the old key from the configuration. Anything signed only under
///    it (a session or remember-me cookie not used during the window, a device cookie of a
///    browser that did not log in) is refused: that visitor logs in again.
///
/// The deadline is as long as the longest-lived value you want to carry over: the idle timeout
/// covers sessions, the remember-me lifetime covers remembered browsers.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use axum_login::SessionKey;
///
/// let old = SessionKey::from_bytes(&[1; 64]).expect("a key");
/// let new = SessionKey::from_bytes(&[2; 64]).expect("a key");
/// // Step 2: sign under the new key, keep verifying under the old one for two weeks.
/// let ring = new.with_previous(old, SystemTime::now() + Duration::from_secs(14 * 24 * 3600));
/// # let _ = ring;
/// ```
///
/// The throttle's counters are keyed under the current key only: a rotation starts every
/// account's and address's count of failed logins afresh (the device cookies' trust and their
/// revocations carry over). CSRF tokens are not keyed (see [`csrf`](crate::csrf)); TOTP secrets
/// are sealed under their own [`EncryptionKey`](crate::mfa::EncryptionKey), which rotates the
/// same way.
#[derive(Clone)]
pub struct SessionKey(Arc<Ring>);

/// The current key, the next one, and the previous ones with the time each stops verifying.
struct Ring {
    current: Keyed,
    next: Option<Keyed>,
    previous: Vec<(Keyed, SystemTime)>,
}

/// One key, with its HMAC state computed once: every digest starts from a copy of it instead
/// of hashing the key again.
#[derive(Clone)]
pub(crate) struct Keyed(HmacSha256);

/// Which key of the ring verified a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verified {
    /// The current key, or the next one (another instance signs with it already): nothing to
    /// do.
    Current,
    /// A previous key, still within its window: the value is signed again under the current
    /// key.
    Previous,
}

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

    /// A key from base64 text (standard or URL-safe alphabet, padded or not, surrounding
    /// whitespace ignored), as kept in an environment variable or a file.
    pub fn from_base64(text: &str) -> Result<Self, SessionKeyError> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
        let text = text.trim();
        let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(SessionKeyError::NotBase64)?;
        Self::from_bytes(&bytes)
    }

    /// This key, which keeps signing, with `previous` (its current key; its own previous keys
    /// are not carried over) verifying what it signed until `until`, by the layer's
    /// [`Clock`](crate::clock::Clock). See [rotating it](Self#rotating-it).
    #[must_use]
    pub fn with_previous(self, previous: SessionKey, until: SystemTime) -> Self {
        let mut ring = self.ring();
        ring.previous.push((previous.0.current.clone(), until));
        Self(Arc::new(ring))
    }

    /// This key, which keeps signing, with `next` (its current key) verifying what it signs and
    /// leaving it as it is: the first step of a rotation across instances, so that none of them
    /// meets a value it cannot verify while the others start signing under `next`. See
    /// [rotating it](Self#rotating-it).
    #[must_use]
    pub fn with_next(self, next: SessionKey) -> Self {
        let mut ring = self.ring();
        ring.next = Some(next.0.current.clone());
        Self(Arc::new(ring))
    }

    fn ring(&self) -> Ring {
        Ring {
            current: self.0.current.clone(),
            next: self.0.next.clone(),
            previous: self.0.previous.clone(),
        }
    }

    fn keyed(bytes: &[u8]) -> Self {
        // HMAC takes keys of any length, so this cannot fail.
        let current = match HmacSha256::new_from_slice(bytes) {
            Ok(mac) => Keyed(mac),
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        };
        Self(Arc::new(Ring {
            current,
            next: None,
            previous: Vec::new(),
        }))
    }

    /// The key that signs.
    pub(crate) fn current(&self) -> &Keyed {
        &self.0.current
    }

    /// The previous keys that still verify at `now`, newest first.
    fn previous(&self, now: SystemTime) -> impl Iterator<Item = &Keyed> {
        self.0
            .previous
            .iter()
            .rev()
            .filter(move |(_, until)| now < *until)
            .map(|(key, _)| key)
    }

    /// The keys that verify at `now`, the current one first, each with what a value it
    /// verifies needs.
    pub(crate) fn verifying(&self, now: SystemTime) -> impl Iterator<Item = (&Keyed, Verified)> {
        std::iter::once(self.current())
            .chain(self.0.next.as_ref())
            .map(|key| (key, Verified::Current))
            .chain(self.previous(now).map(|key| (key, Verified::Previous)))
    }

    /// The digest that binds a session to `user` in `realm` (the layer that logged them in),
    /// under the current key: see [`Keyed::user_digest`].
    pub(crate) fn user_digest<U: AuthUser>(&self, realm: &str, user: &U) -> String {
        self.current().user_digest(realm, user)
    }

    /// Which key `stored` is [`user_digest`](Self::user_digest) of `user` under, if any key
    /// that verifies at `now`; each compared in constant time.
    pub(crate) fn verify_user<U: AuthUser>(
        &self,
        realm: &str,
        user: &U,
        stored: &str,
        now: SystemTime,
    ) -> Option<Verified> {
        let stored = URL_SAFE_NO_PAD.decode(stored).ok()?;
        self.verifying(now)
            .find(|(key, _)| key.user_mac(realm, user).verify_slice(&stored).is_ok())
            .map(|(_, verified)| verified)
    }

    /// An HMAC under the current key of `parts` for the purpose `label`: see [`Keyed::tag`].
    pub(crate) fn tag(&self, label: &str, parts: &[&[u8]]) -> [u8; 32] {
        self.current().tag(label, parts)
    }
}

impl Keyed {
    fn mac(&self) -> HmacSha256 {
        self.0.clone()
    }

    /// The digest that binds a session to `user` in `realm`: of the realm, their
    /// [`session_auth_hash`](crate::AuthUser::session_auth_hash) and their
    /// [`security_stamp`](crate::AuthUser::security_stamp), each with its length first so that
    /// no two triples read the same.
    pub(crate) fn user_digest<U: AuthUser>(&self, realm: &str, user: &U) -> String {
        URL_SAFE_NO_PAD.encode(self.user_mac(realm, user).finalize().into_bytes())
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
        write!(f, "SessionKey([redacted]")?;
        if self.0.next.is_some() {
            f.write_str(", a next key")?;
        }
        match self.0.previous.len() {
            0 => f.write_str(")"),
            previous => write!(f, ", previous keys: {previous})"),
        }
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

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn a_digest_verifies_only_the_same_hash_and_stamp_under_the_same_key() {
        let key = SessionKey::generate();
        let digest = key.user_digest("r", &user(b"hash-1", b""));
        assert!(
            key.verify_user("r", &user(b"hash-1", b""), &digest, now())
                .is_some()
        );
        assert!(
            key.verify_user("r", &user(b"hash-2", b""), &digest, now())
                .is_none()
        );
        assert!(
            key.verify_user("r", &user(b"hash-1", b"stamp"), &digest, now())
                .is_none()
        );
        assert!(
            SessionKey::generate()
                .verify_user("r", &user(b"hash-1", b""), &digest, now())
                .is_none()
        );
        assert!(
            key.verify_user("r", &user(b"hash-1", b""), "not base64 !", now())
                .is_none()
        );
        assert!(
            key.verify_user("r", &user(b"hash-1", b""), "", now())
                .is_none()
        );
        // The lengths keep the two parts apart: moving bytes from one to the other changes it.
        let split = key.user_digest("r", &user(b"ab", b"c"));
        assert!(
            key.verify_user("r", &user(b"a", b"bc"), &split, now())
                .is_none()
        );
        assert!(
            key.verify_user("r", &user(b"", b"abc"), &split, now())
                .is_none()
        );
        // Another layer's realm is another digest.
        assert!(
            key.verify_user("other", &user(b"ab", b"c"), &split, now())
                .is_none()
        );
    }

    #[test]
    fn a_previous_key_verifies_until_its_deadline_and_never_signs() {
        let (old, new) = (SessionKey::generate(), SessionKey::generate());
        let alice = user(b"hash", b"");
        let signed_before = old.user_digest("r", &alice);
        let until = now() + std::time::Duration::from_secs(60);
        let ring = new.clone().with_previous(old.clone(), until);
        assert_eq!(
            ring.verify_user("r", &alice, &signed_before, now()),
            Some(Verified::Previous)
        );
        // What the ring signs is the new key's, and verifies as current.
        let signed_now = ring.user_digest("r", &alice);
        assert_eq!(signed_now, new.user_digest("r", &alice));
        assert_eq!(
            ring.verify_user("r", &alice, &signed_now, now()),
            Some(Verified::Current)
        );
        assert_eq!(ring.tag("t", &[b"x"]), new.tag("t", &[b"x"]));
        // At the deadline the previous key stops verifying; the current key never does.
        assert_eq!(ring.verify_user("r", &alice, &signed_before, until), None);
        assert_eq!(
            ring.verify_user("r", &alice, &signed_now, until),
            Some(Verified::Current)
        );
        assert_eq!(ring.verifying(now()).count(), 2);
        assert_eq!(ring.verifying(until).count(), 1);
        // A key unknown to the ring verifies nothing.
        let stranger = SessionKey::generate().user_digest("r", &alice);
        assert_eq!(ring.verify_user("r", &alice, &stranger, now()), None);
        assert_eq!(
            format!("{ring:?}"),
            "SessionKey([redacted], previous keys: 1)"
        );
    }

    #[test]
    fn a_next_key_verifies_and_leaves_what_it_signed_alone() {
        let (old, new) = (SessionKey::generate(), SessionKey::generate());
        let alice = user(b"hash", b"");
        let ring = old.clone().with_next(new.clone());
        let under_new = new.user_digest("r", &alice);
        assert_eq!(
            ring.verify_user("r", &alice, &under_new, now()),
            Some(Verified::Current)
        );
        assert_eq!(ring.user_digest("r", &alice), old.user_digest("r", &alice));
        assert_eq!(format!("{ring:?}"), "SessionKey([redacted], a next key)");
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
