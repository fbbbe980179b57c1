//! Second factors: TOTP codes and recovery codes (feature `totp`), passkeys (feature
//! `passkeys`), and the stores that keep them.
//!
//! These are the building blocks; the two-step login that asks for them after the password is
//! [`AuthSession`](crate::AuthSession)'s business. Users are named by the text of their id
//! (`user.id().to_string()`, or anything `Display`).
//!
//! # TOTP (RFC 6238)
//!
//! Codes are HMAC-SHA-1 on the `hmac` crate that the session key already uses, with the small
//! `sha1` digest, rather than the `totp-rs` crate: the algorithm is twenty lines, and this way the
//! tree holds one HMAC implementation. SHA-1, 6 digits and 30 seconds are what every authenticator
//! app supports ([`Totp`]). A code is accepted for the current time step and one step either side,
//! compared in constant time, and only once: the store remembers the last accepted step per user
//! and refuses that step and every earlier one, atomically, so two requests with the same code
//! cannot both pass. Wrong codes are answered, not counted: count them with the login throttle.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), axum_login::mfa::MfaError> {
//! use std::time::Duration;
//!
//! use axum_login::{
//!     clock::{Clock, ManualClock},
//!     mfa::{CodeCheck, EncryptionKey, MemorySecondFactorStore, Mfa, Totp},
//! };
//! use secrecy::ExposeSecret;
//!
//! let clock = ManualClock::new(); // `SystemClock` in an app
//! let mfa = Mfa::new(MemorySecondFactorStore::default(), Totp::new("Example"))
//!     .with_encryption_key(EncryptionKey::generate()); // from the app's secret store in real life
//! let user_id = 42;
//!
//! // 1. Enrolment (a `POST` from the app's own form): a new secret, pending until confirmed;
//! //    show it.
//! let enrolment = mfa.start_totp_enrollment(&user_id, "ferris@example.com").await?;
//! let svg: String = enrolment.qr_svg()?; // or the URI / the base32 secret as text
//! assert!(enrolment.uri().expose_secret().starts_with("otpauth://totp/Example:ferris%40example.com?secret="));
//! # let _ = svg;
//!
//! // 2. Confirmation (`POST /account/2fa`): the first code from the app turns TOTP on and
//! //    yields ten recovery codes, to show once.
//! # let secret = enrolment.secret().clone();
//! # let totp = Totp::new("Example");
//! let code = /* from the form */ totp.code(&secret, &clock);
//! let recovery = mfa.confirm_totp(&user_id, &code, &clock).await?.expect("a right first code");
//! assert_eq!(recovery.iter().count(), 10);
//! assert!(mfa.totp_enabled(&user_id).await?);
//!
//! // 3. Login, second step: the next code passes once, and never again.
//! clock.advance(Duration::from_secs(30));
//! let code = totp.code(&secret, &clock);
//! assert_eq!(mfa.verify_totp(&user_id, &code, &clock).await?, CodeCheck::Accepted);
//! assert_eq!(mfa.verify_totp(&user_id, &code, &clock).await?, CodeCheck::Replayed);
//! assert_eq!(mfa.verify_totp(&user_id, "000000", &clock).await?, CodeCheck::Rejected);
//!
//! // Or a recovery code instead, each good once.
//! let first = recovery.iter().next().expect("ten codes").to_owned();
//! assert!(mfa.use_recovery_code(&user_id, &first).await?);
//! assert!(!mfa.use_recovery_code(&user_id, &first).await?);
//! assert_eq!(mfa.recovery_codes_left(&user_id).await?, 9);
//!
//! // Turning it off removes the secret and the recovery codes.
//! assert!(mfa.disable(&user_id).await?);
//! assert_eq!(mfa.verify_totp(&user_id, &code, &clock).await?, CodeCheck::NotEnrolled);
//! # Ok(()) }
//! ```
//!
//! Secrets are kept in [`secrecy`] types in memory, and at rest encrypted under the app's
//! [`EncryptionKey`] if it gives one; **without a key they are stored in the clear**. Recovery codes
//! are stored only as hashes ([`RecoveryCodes`] says why SHA-256 is enough for them).
//!
//! Stores: [`MemorySecondFactorStore`], and [`SqlxSecondFactorStore`] (feature `sqlx` too) on
//! SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! # Passkeys
//!
//! See [`passkey`] (feature `passkeys`): registration and authentication ceremonies through
//! webauthn-rs, as a second factor or as a passwordless first factor, and the [`PasskeyStore`]
//! that keeps the credentials.
//!
//! # Costs
//!
//! Checking a TOTP code is three HMAC-SHA-1s, about a microsecond (under 3 µs with the secret
//! decrypted), so it runs where it is called; checking a passkey's signature takes about 0.3 ms
//! of a core, so it runs on tokio's blocking pool, off the async runtime's threads. Measured by
//! `cargo bench -p axum-login@0.1.0 --features totp,passkeys --bench mfa`.

#[cfg(feature = "totp")]
mod flow;
#[cfg(feature = "passkeys")]
pub mod passkey;
#[cfg(feature = "totp")]
mod recovery;
#[cfg(feature = "totp")]
mod seal;
#[cfg(all(feature = "sqlx", any(feature = "totp", feature = "passkeys")))]
mod sql;
#[cfg(feature = "totp")]
mod store;
#[cfg(feature = "totp")]
mod totp;

#[cfg(feature = "passkeys")]
pub use self::passkey::{MemoryPasskeyStore, PasskeyStore, PasskeyUpdate, Passkeys};
#[cfg(all(feature = "sqlx", feature = "passkeys"))]
pub use self::sql::SqlxPasskeyStore;
#[cfg(all(feature = "sqlx", feature = "totp"))]
pub use self::sql::SqlxSecondFactorStore;
#[cfg(feature = "totp")]
pub use self::{
    flow::{CodeCheck, Mfa, TotpEnrollment},
    recovery::{RECOVERY_CODE_COUNT, RecoveryCodeHash, RecoveryCodes, recovery_code_hash},
    seal::EncryptionKey,
    store::{MemorySecondFactorStore, SecondFactorStore, StoredTotp, TotpReseal, TotpStep},
    totp::{MIN_SECRET_LEN, SECRET_LEN, Totp, TotpSecret},
};

/// Why a second-factor operation failed (not a wrong code: that is an answer, not an error).
///
/// ```
/// use axum_login::mfa::MfaError;
///
/// let error = MfaError::store(std::io::Error::other("connection refused"));
/// assert_eq!(error.to_string(), "the second-factor store failed: connection refused");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MfaError {
    /// The store failed (the database is down, say); the cause is attached.
    #[error("the second-factor store failed: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A TOTP secret shorter than 16 bytes.
    #[error("a TOTP secret needs at least 16 bytes (RFC 4226), got {0}")]
    SecretTooShort(usize),
    /// A TOTP secret's text is not base32.
    #[error("the TOTP secret is not base32 (RFC 4648: letters A-Z and digits 2-7)")]
    NotBase32,
    /// An encryption key that is not 32 bytes (or not base64).
    #[error(
        "an encryption key is 32 bytes, got {0}; generate one with `EncryptionKey::generate()` and keep it outside the database"
    )]
    KeyLength(usize),
    /// A stored secret is encrypted, and the app gave no key.
    #[error(
        "a stored TOTP secret is encrypted, but no encryption key was given: pass the key to `Mfa::with_encryption_key`"
    )]
    KeyMissing,
    /// A stored secret is in the clear, while the app gave a key.
    #[error(
        "a stored TOTP secret is not encrypted, but an encryption key was given: the user must enrol again"
    )]
    Unencrypted,
    /// A stored secret does not decrypt: another key, another user's row, or altered bytes.
    #[error(
        "a stored TOTP secret could not be decrypted: wrong key, a row copied from another user, or altered data"
    )]
    Decrypt,
    /// The enrolment URI does not fit in a QR code.
    #[error("the enrolment URI does not fit in a QR code: {0}")]
    Qr(String),
    /// A passkey ceremony failed: a forged, replayed, or mismatched response, or a bad
    /// configuration (see the message).
    #[cfg(feature = "passkeys")]
    #[error("passkey ceremony failed: {0}")]
    Passkey(#[from] webauthn_rs::prelude::WebauthnError),
    /// The credential is already registered, to this or another user.
    #[cfg(feature = "passkeys")]
    #[error("this passkey is already registered")]
    PasskeyExists,
    /// The passkey's signature check could not run (its thread panicked).
    #[cfg(feature = "passkeys")]
    #[error("the passkey verification task failed")]
    Worker,
}

impl MfaError {
    /// A store's own error, as [`MfaError::Store`].
    pub fn store(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(error))
    }
}
