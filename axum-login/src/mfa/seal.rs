//! The stored form of a TOTP secret: encrypted under the app's [`EncryptionKey`], or in the
//! clear when the app gives none.

use std::fmt;

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice};

use super::{MfaError, TotpSecret};

/// The first byte of a stored secret: how the rest is to be read.
const CLEAR: u8 = 0;
const XCHACHA20POLY1305: u8 = 1;
const NONCE_LEN: usize = 24;

/// An app's key for the TOTP secrets at rest: XChaCha20-Poly1305, with a random nonce per
/// secret and the user's id as associated data, so a row copied to another user does not
/// decrypt.
///
/// Without a key, [`Mfa`](super::Mfa) stores secrets **in the clear**: anyone who can read the
/// table (a backup, a replica, an SQL injection elsewhere) can then compute every user's codes.
/// With a key, a secret stored in the clear earlier is refused rather than trusted (someone who
/// can write the table could otherwise plant a secret of their own), so set the key before users
/// enrol, or have them enrol again. Keep the key outside the database, as the
/// [`SessionKey`](crate::SessionKey) is kept.
///
/// ```
/// use axum_login::mfa::EncryptionKey;
///
/// let key = EncryptionKey::from_bytes(&[7; 32]).expect("32 bytes");
/// assert!(EncryptionKey::from_bytes(&[7; 16]).is_err());
/// assert_eq!(format!("{key:?}"), "EncryptionKey([redacted])");
/// ```
///
/// # Rotating it
///
/// [`with_previous`](Self::with_previous) keeps an old key for opening what it sealed while the
/// new one seals: a secret opened under the old key is sealed again under the new one when its
/// user next gives a right code, and [`Mfa::reseal_totp`](super::Mfa::reseal_totp) does it for
/// one user on demand (a job can run it over every enrolled user). Unlike a
/// [`SessionKey`](crate::SessionKey)'s previous keys, an old encryption key has no deadline: a
/// secret it still seals is the only copy, and refusing it would lock its user out of their
/// account. Remove the old key once every secret is sealed again.
///
/// ```
/// use axum_login::mfa::EncryptionKey;
///
/// let old = EncryptionKey::from_bytes(&[1; 32]).expect("32 bytes");
/// let key = EncryptionKey::from_bytes(&[2; 32]).expect("32 bytes").with_previous(old);
/// assert_eq!(format!("{key:?}"), "EncryptionKey([redacted], previous keys: 1)");
/// ```
#[derive(Clone)]
pub struct EncryptionKey {
    current: XChaCha20Poly1305,
    /// Older keys that open what they sealed, newest first.
    previous: Vec<XChaCha20Poly1305>,
}

impl EncryptionKey {
    /// The length of a key: 32 bytes.
    pub const LEN: usize = 32;

    /// A new random key from the operating system's generator (store it, or every sealed secret
    /// is lost at the next restart).
    pub fn generate() -> Self {
        let mut bytes = [0u8; Self::LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::with_cipher(XChaCha20Poly1305::new(&bytes.into()))
    }

    /// A key from exactly [`LEN`](Self::LEN) bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MfaError> {
        XChaCha20Poly1305::new_from_slice(bytes)
            .map(Self::with_cipher)
            .map_err(|_| MfaError::KeyLength(bytes.len()))
    }

    /// This key, which keeps sealing, with `previous` (its current key) opening what it sealed.
    /// See [rotating it](Self#rotating-it).
    #[must_use]
    pub fn with_previous(mut self, previous: EncryptionKey) -> Self {
        self.previous.insert(0, previous.current);
        self
    }

    fn with_cipher(current: XChaCha20Poly1305) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// A key from base64 text (standard or URL-safe alphabet, padded or not), as kept in an
    /// environment variable.
    pub fn from_base64(text: &str) -> Result<Self, MfaError> {
        use base64::{
            Engine as _,
            engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
        };
        let text = text.trim();
        let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(MfaError::KeyLength(0))?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.previous.len() {
            0 => f.write_str("EncryptionKey([redacted])"),
            previous => write!(f, "EncryptionKey([redacted], previous keys: {previous})"),
        }
    }
}

/// The associated data of `user`'s secret: a label and the id, so a sealed secret opens only as
/// the secret of the user it was sealed for.
fn associated_data(user: &str) -> Vec<u8> {
    let mut aad = b"axum-login totp secret v1\0".to_vec();
    aad.extend_from_slice(user.as_bytes());
    aad
}

/// `secret` as it is stored for `user`.
pub(crate) fn seal(
    key: Option<&EncryptionKey>,
    user: &str,
    secret: &TotpSecret,
) -> Result<SecretSlice<u8>, MfaError> {
    let Some(EncryptionKey {
        current: cipher, ..
    }) = key
    else {
        let mut clear = Vec::with_capacity(1 + secret.expose_secret().len());
        clear.push(CLEAR);
        clear.extend_from_slice(secret.expose_secret());
        return Ok(clear.into());
    };
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = associated_data(user);
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: secret.expose_secret(),
                aad: &aad,
            },
        )
        .map_err(|_| MfaError::Decrypt)?;
    let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    sealed.push(XCHACHA20POLY1305);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed.into())
}

/// How a stored secret opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opened {
    /// In the clear, or under the current key: as it should be stored.
    AsStored,
    /// Under a previous key: to be sealed again under the current one.
    UnderPreviousKey,
}

/// The secret that `seal(key, user, ..)` stored as `sealed`, under the current key or, after a
/// rotation, a previous one.
pub(crate) fn open(
    key: Option<&EncryptionKey>,
    user: &str,
    sealed: &SecretSlice<u8>,
) -> Result<(TotpSecret, Opened), MfaError> {
    match (sealed.expose_secret().split_first(), key) {
        (Some((&CLEAR, secret)), None) => {
            Ok((TotpSecret::from_bytes(secret.to_vec())?, Opened::AsStored))
        }
        (Some((&CLEAR, _)), Some(_)) => Err(MfaError::Unencrypted),
        (Some((&XCHACHA20POLY1305, _)), None) => Err(MfaError::KeyMissing),
        (Some((&XCHACHA20POLY1305, rest)), Some(key)) => {
            if rest.len() < NONCE_LEN {
                return Err(MfaError::Decrypt);
            }
            let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
            let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| MfaError::Decrypt)?;
            let aad = associated_data(user);
            let decrypt = |cipher: &XChaCha20Poly1305| {
                cipher
                    .decrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: &aad,
                        },
                    )
                    .ok()
            };
            let (secret, opened) = match decrypt(&key.current) {
                Some(secret) => (secret, Opened::AsStored),
                None => key
                    .previous
                    .iter()
                    .find_map(decrypt)
                    .map(|secret| (secret, Opened::UnderPreviousKey))
                    .ok_or(MfaError::Decrypt)?,
            };
            Ok((TotpSecret::from_bytes(secret)?, opened))
        }
        _ => Err(MfaError::Decrypt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_user_under_their_key() {
        let key = EncryptionKey::generate();
        let secret = TotpSecret::generate();
        let sealed = seal(Some(&key), "alice", &secret).expect("seal");
        assert_ne!(
            &sealed.expose_secret()[1..],
            secret.expose_secret(),
            "encrypted"
        );
        let (opened, how) = open(Some(&key), "alice", &sealed).expect("open");
        assert_eq!(opened.expose_secret(), secret.expose_secret());
        assert_eq!(how, Opened::AsStored);
        assert!(matches!(
            open(Some(&key), "bob", &sealed),
            Err(MfaError::Decrypt)
        ));
        assert!(matches!(
            open(Some(&EncryptionKey::generate()), "alice", &sealed),
            Err(MfaError::Decrypt)
        ));
        assert!(matches!(
            open(None, "alice", &sealed),
            Err(MfaError::KeyMissing)
        ));
        let mut tampered = sealed.expose_secret().to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(
            open(Some(&key), "alice", &tampered.into()),
            Err(MfaError::Decrypt)
        ));
    }

    #[test]
    fn without_a_key_secrets_are_stored_in_the_clear_and_refused_once_a_key_is_set() {
        let secret = TotpSecret::generate();
        let sealed = seal(None, "alice", &secret).expect("seal");
        assert_eq!(&sealed.expose_secret()[1..], secret.expose_secret());
        assert_eq!(
            open(None, "alice", &sealed)
                .expect("open")
                .0
                .expose_secret(),
            secret.expose_secret()
        );
        assert!(matches!(
            open(Some(&EncryptionKey::generate()), "alice", &sealed),
            Err(MfaError::Unencrypted)
        ));
        assert!(matches!(
            open(None, "alice", &Vec::new().into()),
            Err(MfaError::Decrypt)
        ));
    }

    #[test]
    fn a_previous_key_opens_what_it_sealed_and_never_seals() {
        let (old, new) = (EncryptionKey::generate(), EncryptionKey::generate());
        let secret = TotpSecret::generate();
        let sealed_before = seal(Some(&old), "alice", &secret).expect("seal");
        let ring = new.clone().with_previous(old);
        let (opened, how) = open(Some(&ring), "alice", &sealed_before).expect("open");
        assert_eq!(opened.expose_secret(), secret.expose_secret());
        assert_eq!(how, Opened::UnderPreviousKey);
        // The ring seals under the new key alone.
        let sealed_now = seal(Some(&ring), "alice", &secret).expect("seal");
        assert_eq!(
            open(Some(&new), "alice", &sealed_now).expect("open").1,
            Opened::AsStored
        );
        assert!(matches!(
            open(Some(&new), "alice", &sealed_before),
            Err(MfaError::Decrypt)
        ));
        // The user binding holds under a previous key too.
        assert!(matches!(
            open(Some(&ring), "bob", &sealed_before),
            Err(MfaError::Decrypt)
        ));
    }

    #[test]
    fn each_seal_uses_a_new_nonce() {
        let key = EncryptionKey::generate();
        let secret = TotpSecret::generate();
        let a = seal(Some(&key), "alice", &secret).expect("seal");
        let b = seal(Some(&key), "alice", &secret).expect("seal");
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
