//! [`Mfa`]: enrolment, confirmation and verification of TOTP codes and recovery codes over a
//! [`SecondFactorStore`].

use std::fmt::{self, Display};

use secrecy::{ExposeSecret, SecretSlice, SecretString};

use super::{
    EncryptionKey, MfaError, RecoveryCodes, SecondFactorStore, Totp, TotpReseal, TotpSecret,
    TotpStep, recovery_code_hash,
    seal::{Opened, open, seal},
};
use crate::clock::Clock;

/// The answer to a TOTP code.
///
/// Show the user one message for every answer but [`Accepted`](Self::Accepted), and count each
/// of them as a failed attempt with the login throttle.
///
/// ```
/// use axum_login::mfa::CodeCheck;
///
/// assert!(CodeCheck::Accepted.is_accepted());
/// assert!(!CodeCheck::Replayed.is_accepted());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code is right for now (within one step), and now used up.
    Accepted,
    /// The code is wrong, or not a code at all.
    Rejected,
    /// The code is right but was used already (or a later one was).
    Replayed,
    /// The user has no confirmed TOTP secret.
    NotEnrolled,
}

impl CodeCheck {
    /// Whether the code was accepted.
    pub fn is_accepted(self) -> bool {
        self == Self::Accepted
    }
}

/// A TOTP secret just enrolled and not yet confirmed: show it to the user as a QR code
/// ([`qr_svg`](Self::qr_svg)), as the [`uri`](Self::uri), or as base32 text for typing in.
///
/// `Debug` redacts it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), axum_login::mfa::MfaError> {
/// use axum_login::mfa::{MemorySecondFactorStore, Mfa, Totp};
/// use secrecy::ExposeSecret;
///
/// let mfa = Mfa::new(MemorySecondFactorStore::default(), Totp::new("Example"));
/// let enrolment = mfa.start_totp_enrollment(&1, "ferris").await?;
/// let page = format!(
///     "<p>Scan this, or type {}</p>{}",
///     enrolment.secret().to_base32().expose_secret(),
///     enrolment.qr_svg()?,
/// );
/// assert!(page.contains("<svg"));
/// # Ok(()) }
/// ```
pub struct TotpEnrollment {
    secret: TotpSecret,
    uri: SecretString,
}

impl TotpEnrollment {
    /// The new secret.
    pub fn secret(&self) -> &TotpSecret {
        &self.secret
    }

    /// The `otpauth://totp/...` URI that authenticator apps read.
    pub fn uri(&self) -> &SecretString {
        &self.uri
    }

    /// The URI as a QR code, a standalone SVG document (black on white, at least 200 pixels
    /// wide) to put in an `<img src="data:image/svg+xml;...">` or inline in the page.
    pub fn qr_svg(&self) -> Result<String, MfaError> {
        use qrcode::{EcLevel, QrCode, render::svg};

        let code = QrCode::with_error_correction_level(self.uri.expose_secret(), EcLevel::M)
            .map_err(|error| MfaError::Qr(error.to_string()))?;
        Ok(code
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build())
    }
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrollment([redacted])")
    }
}

/// The layer asks whether a user has confirmed TOTP
/// ([`AuthLayerBuilder::second_factors`](crate::layer::AuthLayerBuilder::second_factors)).
impl<S: SecondFactorStore> crate::second_factor::SecondFactorLookup for Mfa<S> {
    fn has_second_factor<'a>(
        &'a self,
        user: &'a str,
    ) -> crate::registry::BoxFuture<'a, Result<bool, crate::error::BoxError>> {
        Box::pin(async move {
            self.totp_enabled(user)
                .await
                .map_err(|error| Box::new(error) as crate::error::BoxError)
        })
    }

    /// Reads the TOTP state of a user no one is (the empty id): a read that writes nothing.
    fn ping(&self) -> crate::registry::BoxFuture<'_, Result<(), crate::error::BoxError>> {
        Box::pin(async move {
            self.store
                .totp("")
                .await
                .map(drop)
                .map_err(|error| Box::new(error) as crate::error::BoxError)
        })
    }
}

/// TOTP and recovery codes for an app: the [`Totp`] parameters, a [`SecondFactorStore`] and
/// optionally the [`EncryptionKey`] for the secrets at rest. Cheap to share behind an `Arc`.
///
/// The module documentation ([`crate::mfa`]) shows the whole flow.
///
/// ```
/// use std::sync::Arc;
///
/// use axum_login::mfa::{EncryptionKey, MemorySecondFactorStore, Mfa, Totp};
///
/// // In app state, next to the auth layer; the key comes from the app's secret store.
/// let mfa = Arc::new(
///     Mfa::new(MemorySecondFactorStore::default(), Totp::new("Example"))
///         .with_encryption_key(EncryptionKey::generate()),
/// );
/// assert_eq!(mfa.totp().issuer(), "Example");
/// ```
pub struct Mfa<S> {
    store: S,
    totp: Totp,
    key: Option<EncryptionKey>,
}

impl<S: fmt::Debug> fmt::Debug for Mfa<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mfa")
            .field("store", &self.store)
            .field("totp", &self.totp)
            .field("encrypted", &self.key.is_some())
            .finish()
    }
}

impl<S: SecondFactorStore> Mfa<S> {
    /// Second factors kept in `store`, with codes by `totp`, and secrets stored **in the clear**
    /// unless [`with_encryption_key`](Self::with_encryption_key) is called.
    pub fn new(store: S, totp: Totp) -> Self {
        Self {
            store,
            totp,
            key: None,
        }
    }

    /// Encrypts TOTP secrets at rest under `key` (see [`EncryptionKey`]).
    pub fn with_encryption_key(mut self, key: EncryptionKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, given back (to use the same rows under other settings).
    pub fn into_store(self) -> S {
        self.store
    }

    /// The TOTP parameters.
    pub fn totp(&self) -> &Totp {
        &self.totp
    }

    /// Makes a new secret for `user` and keeps it as pending, to show to them; `account` is the
    /// name their authenticator app shows (their login name). A confirmed secret stays in force
    /// until the new one is confirmed; a second call replaces the pending secret of the first.
    ///
    /// Call it on a `POST` that this site's form sends (checked with
    /// [`AuthSession::check_same_site`](crate::AuthSession::check_same_site)), never on a
    /// `GET`: a page of another site can make the browser send a `GET`, which would replace
    /// the secret the user is scanning. Guard it with `#[require_login(fresh_mfa = "10m")]`:
    /// whoever holds a session, or knows the password alone, could otherwise move the second
    /// factor to their own phone.
    pub async fn start_totp_enrollment(
        &self,
        user: &(impl Display + ?Sized),
        account: &str,
    ) -> Result<TotpEnrollment, MfaError> {
        let user = user.to_string();
        let secret = TotpSecret::generate();
        let sealed = seal(self.key.as_ref(), &user, &secret)?;
        self.store.set_pending_totp(&user, &sealed).await?;
        let uri = self.totp.uri(&secret, account);
        Ok(TotpEnrollment { secret, uri })
    }

    /// Confirms `user`'s pending secret with a `code` from their app: on a right code, TOTP is
    /// on, that code is used up, and the answer holds ten new recovery codes (replacing any old
    /// ones) to show once. `None` for a wrong code or when nothing is pending.
    pub async fn confirm_totp(
        &self,
        user: &(impl Display + ?Sized),
        code: &str,
        clock: &dyn Clock,
    ) -> Result<Option<RecoveryCodes>, MfaError> {
        let user = user.to_string();
        let Some(pending) = self.store.totp(&user).await?.and_then(|t| t.pending) else {
            return Ok(None);
        };
        let (secret, _) = open(self.key.as_ref(), &user, &pending)?;
        let now = self.totp.step_at(clock.now());
        let Ok(step) = self.totp.matching_step(&secret, code, now, None) else {
            return Ok(None);
        };
        let code = TotpStep {
            user: &user,
            sealed: &pending,
            step,
        };
        if !self.store.activate_totp(&code).await? {
            // Another enrolment replaced the pending secret, or a concurrent confirmation won.
            return Ok(None);
        }
        let codes = RecoveryCodes::generate();
        self.store
            .replace_recovery_codes(&user, &codes.hashes(&user))
            .await?;
        Ok(Some(codes))
    }

    /// Whether `user` has a confirmed TOTP secret.
    pub async fn totp_enabled(&self, user: &(impl Display + ?Sized)) -> Result<bool, MfaError> {
        Ok(self
            .store
            .totp(&user.to_string())
            .await?
            .is_some_and(|t| t.secret.is_some()))
    }

    /// Checks `code` (spaces and dashes ignored) against `user`'s confirmed secret at `clock`'s
    /// time, within one step either side; an accepted code's step is recorded, atomically, so
    /// it and every earlier code are refused from then on.
    pub async fn verify_totp(
        &self,
        user: &(impl Display + ?Sized),
        code: &str,
        clock: &dyn Clock,
    ) -> Result<CodeCheck, MfaError> {
        let user = user.to_string();
        let Some(stored) = self.store.totp(&user).await? else {
            return Ok(CodeCheck::NotEnrolled);
        };
        let Some(sealed) = stored.secret else {
            return Ok(CodeCheck::NotEnrolled);
        };
        let (secret, opened) = open(self.key.as_ref(), &user, &sealed)?;
        let now = self.totp.step_at(clock.now());
        match self
            .totp
            .matching_step(&secret, code, now, stored.last_step)
        {
            Ok(step) => {
                let recorded = self
                    .store
                    .record_totp_step(&TotpStep {
                        user: &user,
                        sealed: &sealed,
                        step,
                    })
                    .await?;
                if !recorded {
                    return Ok(CodeCheck::Replayed);
                }
                if opened == Opened::UnderPreviousKey {
                    self.reseal(&user, &sealed, &secret).await?;
                }
                Ok(CodeCheck::Accepted)
            }
            Err(true) => Ok(CodeCheck::Replayed),
            Err(false) => Ok(CodeCheck::Rejected),
        }
    }

    /// Seals `user`'s confirmed secret again under the current [`EncryptionKey`] if a previous
    /// key of it seals it now (see [rotating it](EncryptionKey#rotating-it)); `true` when it
    /// did. A right code does it anyway; this is for a job that moves every enrolled user's
    /// secret before the old key is dropped.
    pub async fn reseal_totp(&self, user: &(impl Display + ?Sized)) -> Result<bool, MfaError> {
        let user = user.to_string();
        let Some(sealed) = self.store.totp(&user).await?.and_then(|t| t.secret) else {
            return Ok(false);
        };
        match open(self.key.as_ref(), &user, &sealed)? {
            (secret, Opened::UnderPreviousKey) => self.reseal(&user, &sealed, &secret).await,
            (_, Opened::AsStored) => Ok(false),
        }
    }

    /// Replaces `user`'s confirmed secret `sealed` by `secret` sealed under the current key,
    /// unless it changed meanwhile (a new enrolment wins).
    async fn reseal(
        &self,
        user: &str,
        sealed: &SecretSlice<u8>,
        secret: &TotpSecret,
    ) -> Result<bool, MfaError> {
        let resealed = seal(self.key.as_ref(), user, secret)?;
        self.store
            .reseal_totp(&TotpReseal {
                user,
                from: sealed,
                to: &resealed,
            })
            .await
    }

    /// Uses up one of `user`'s recovery codes: `true` if `code` was one of them and unused.
    /// Of two requests with the same code, exactly one gets `true`.
    pub async fn use_recovery_code(
        &self,
        user: &(impl Display + ?Sized),
        code: &str,
    ) -> Result<bool, MfaError> {
        let user = user.to_string();
        let Some(hash) = recovery_code_hash(&user, code) else {
            return Ok(false);
        };
        self.store.use_recovery_code(&user, &hash).await
    }

    /// Replaces `user`'s recovery codes with ten new ones, to show once.
    ///
    /// Like [`disable`](Self::disable), a change to the second factor: guard the handler with
    /// `#[require_login(fresh_mfa = "10m")]` and call
    /// [`AuthSession::second_factors_changed`](crate::AuthSession::second_factors_changed)
    /// after it.
    pub async fn regenerate_recovery_codes(
        &self,
        user: &(impl Display + ?Sized),
    ) -> Result<RecoveryCodes, MfaError> {
        let user = user.to_string();
        let codes = RecoveryCodes::generate();
        self.store
            .replace_recovery_codes(&user, &codes.hashes(&user))
            .await?;
        Ok(codes)
    }

    /// How many unused recovery codes `user` has.
    pub async fn recovery_codes_left(
        &self,
        user: &(impl Display + ?Sized),
    ) -> Result<usize, MfaError> {
        self.store.recovery_codes_left(&user.to_string()).await
    }

    /// Turns TOTP off for `user`: removes the secret (confirmed or pending) and the recovery
    /// codes. Answers whether there was a secret.
    ///
    /// Guard the handler with `#[require_login(fresh_mfa = "10m")]`, so that the second factor
    /// itself, not the password alone, is needed to remove it, and call
    /// [`AuthSession::second_factors_changed`](crate::AuthSession::second_factors_changed)
    /// after it: the user's remember-me tokens end.
    pub async fn disable(&self, user: &(impl Display + ?Sized)) -> Result<bool, MfaError> {
        self.store.remove_second_factors(&user.to_string()).await
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use super::*;
    use crate::{
        clock::ManualClock,
        mfa::{MemorySecondFactorStore, StoredTotp},
    };

    fn mfa() -> Mfa<MemorySecondFactorStore> {
        Mfa::new(MemorySecondFactorStore::default(), Totp::new("Test"))
            .with_encryption_key(EncryptionKey::generate())
    }

    async fn enrolled(mfa: &Mfa<MemorySecondFactorStore>, clock: &ManualClock) -> TotpSecret {
        let enrolment = mfa
            .start_totp_enrollment("u1", "ferris")
            .await
            .expect("enrol");
        let code = mfa.totp().code(enrolment.secret(), clock);
        assert!(
            mfa.confirm_totp("u1", &code, clock)
                .await
                .expect("confirm")
                .is_some()
        );
        enrolment.secret().clone()
    }

    #[tokio::test]
    async fn a_wrong_first_code_leaves_totp_off() {
        let clock = ManualClock::new();
        let mfa = mfa();
        let enrolment = mfa
            .start_totp_enrollment("u1", "ferris")
            .await
            .expect("enrol");
        let right = mfa.totp().code(enrolment.secret(), &clock);
        let wrong = if right == "123456" {
            "654321"
        } else {
            "123456"
        };
        assert!(
            mfa.confirm_totp("u1", wrong, &clock)
                .await
                .expect("confirm")
                .is_none()
        );
        assert!(!mfa.totp_enabled("u1").await.expect("read"));
        assert_eq!(
            mfa.verify_totp("u1", &right, &clock).await.expect("verify"),
            CodeCheck::NotEnrolled
        );
    }

    #[tokio::test]
    async fn the_confirming_code_is_used_up() {
        let clock = ManualClock::new();
        let mfa = mfa();
        let secret = enrolled(&mfa, &clock).await;
        let code = mfa.totp().code(&secret, &clock);
        assert_eq!(
            mfa.verify_totp("u1", &code, &clock).await.expect("verify"),
            CodeCheck::Replayed
        );
    }

    #[tokio::test]
    async fn a_code_passes_once_and_then_for_the_rest_of_its_window_is_refused() {
        let clock = ManualClock::new();
        let mfa = mfa();
        let secret = enrolled(&mfa, &clock).await;
        clock.advance(Duration::from_secs(30));
        let code = mfa.totp().code(&secret, &clock);
        assert_eq!(
            mfa.verify_totp("u1", &code, &clock).await.expect("verify"),
            CodeCheck::Accepted
        );
        // Still within the ±1 window a step later: refused as a replay, not accepted.
        clock.advance(Duration::from_secs(30));
        assert_eq!(
            mfa.verify_totp("u1", &code, &clock).await.expect("verify"),
            CodeCheck::Replayed
        );
        let next = mfa.totp().code(&secret, &clock);
        assert_eq!(
            mfa.verify_totp("u1", &next, &clock).await.expect("verify"),
            CodeCheck::Accepted
        );
        // Two steps on, the old code is out of the window altogether.
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            mfa.verify_totp("u1", &code, &clock).await.expect("verify"),
            CodeCheck::Rejected
        );
    }

    #[tokio::test]
    async fn a_code_from_the_previous_step_is_still_accepted() {
        let clock = ManualClock::new();
        let mfa = mfa();
        let secret = enrolled(&mfa, &clock).await;
        clock.advance(Duration::from_secs(60));
        let late = mfa.totp().code(&secret, &clock);
        clock.advance(Duration::from_secs(30));
        assert_eq!(
            mfa.verify_totp("u1", &late, &clock).await.expect("verify"),
            CodeCheck::Accepted
        );
    }

    #[tokio::test]
    async fn concurrent_uses_of_one_code_let_exactly_one_through() {
        let clock = ManualClock::new();
        let mfa = Arc::new(mfa());
        let secret = enrolled(&mfa, &clock).await;
        clock.advance(Duration::from_secs(30));
        let code = mfa.totp().code(&secret, &clock);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (mfa, clock, code) = (mfa.clone(), clock.clone(), code.clone());
                tokio::spawn(async move { mfa.verify_totp("u1", &code, &clock).await })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            if task.await.expect("task").expect("verify").is_accepted() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 1);
    }

    #[tokio::test]
    async fn re_enrolment_keeps_the_old_secret_until_confirmed() {
        let clock = ManualClock::new();
        let mfa = mfa();
        let old = enrolled(&mfa, &clock).await;
        let new = mfa
            .start_totp_enrollment("u1", "ferris")
            .await
            .expect("enrol");
        clock.advance(Duration::from_secs(30));
        assert_eq!(
            mfa.verify_totp("u1", &mfa.totp().code(&old, &clock), &clock)
                .await
                .expect("verify"),
            CodeCheck::Accepted
        );
        clock.advance(Duration::from_secs(30));
        let code = mfa.totp().code(new.secret(), &clock);
        assert!(
            mfa.confirm_totp("u1", &code, &clock)
                .await
                .expect("confirm")
                .is_some()
        );
        clock.advance(Duration::from_secs(30));
        assert_eq!(
            mfa.verify_totp("u1", &mfa.totp().code(&old, &clock), &clock)
                .await
                .expect("verify"),
            CodeCheck::Rejected
        );
    }

    #[tokio::test]
    async fn recovery_codes_are_single_use_and_replaced_whole() {
        let clock = ManualClock::new();
        let mfa = mfa();
        enrolled(&mfa, &clock).await;
        let codes = mfa.regenerate_recovery_codes("u1").await.expect("codes");
        let all: Vec<String> = codes.iter().map(str::to_owned).collect();
        assert!(mfa.use_recovery_code("u1", &all[3]).await.expect("use"));
        assert!(!mfa.use_recovery_code("u1", &all[3]).await.expect("use"));
        assert!(
            !mfa.use_recovery_code("u2", &all[4]).await.expect("use"),
            "another user's"
        );
        assert!(
            !mfa.use_recovery_code("u1", "not a code")
                .await
                .expect("use")
        );
        assert_eq!(mfa.recovery_codes_left("u1").await.expect("count"), 9);
        let fresh = mfa.regenerate_recovery_codes("u1").await.expect("codes");
        assert!(
            !mfa.use_recovery_code("u1", &all[4]).await.expect("use"),
            "old set gone"
        );
        let first = fresh.iter().next().expect("ten").to_owned();
        assert!(mfa.use_recovery_code("u1", &first).await.expect("use"));
    }

    #[tokio::test]
    async fn secrets_reach_the_store_encrypted_only_when_a_key_is_given() {
        let clock = ManualClock::new();
        let encrypted = mfa();
        let secret = enrolled(&encrypted, &clock).await;
        let StoredTotp { secret: stored, .. } = encrypted
            .store()
            .totp("u1")
            .await
            .expect("read")
            .expect("enrolled");
        let stored = stored.expect("confirmed");
        assert!(
            !stored
                .expose_secret()
                .windows(secret.expose_secret().len())
                .any(|w| w == secret.expose_secret())
        );

        let clear = Mfa::new(MemorySecondFactorStore::default(), Totp::new("Test"));
        let secret = enrolled(&clear, &clock).await;
        let stored = clear
            .store()
            .totp("u1")
            .await
            .expect("read")
            .and_then(|t| t.secret)
            .expect("confirmed");
        assert_eq!(&stored.expose_secret()[1..], secret.expose_secret());
    }

    #[tokio::test]
    async fn disabling_removes_the_secret_and_the_recovery_codes() {
        let clock = ManualClock::new();
        let mfa = mfa();
        assert!(
            !mfa.disable("u1").await.expect("disable"),
            "nothing to remove"
        );
        enrolled(&mfa, &clock).await;
        assert!(mfa.totp_enabled("u1").await.expect("read"));
        assert_eq!(mfa.recovery_codes_left("u1").await.expect("count"), 10);
        assert!(mfa.disable("u1").await.expect("disable"));
        assert!(!mfa.totp_enabled("u1").await.expect("read"));
        assert_eq!(mfa.recovery_codes_left("u1").await.expect("count"), 0);
        assert!(
            !mfa.disable("u1").await.expect("disable"),
            "already removed"
        );
    }

    #[test]
    fn the_debug_form_says_whether_secrets_are_encrypted() {
        let encrypted = format!("{:?}", mfa());
        assert!(encrypted.contains("encrypted: true"), "{encrypted}");
        let clear = format!(
            "{:?}",
            Mfa::new(MemorySecondFactorStore::default(), Totp::new("Test"))
        );
        assert!(clear.contains("encrypted: false"), "{clear}");
    }

    #[tokio::test]
    async fn the_enrolment_uri_holds_the_new_secret_for_the_account() {
        let mfa = mfa();
        let enrolment = mfa
            .start_totp_enrollment("u1", "ferris")
            .await
            .expect("enrol");
        let uri = enrolment.uri().expose_secret();
        let secret = enrolment.secret().to_base32();
        assert!(uri.starts_with("otpauth://totp/Test:ferris?"), "{uri}");
        assert!(
            uri.contains(&format!("secret={}&", secret.expose_secret())),
            "{uri}"
        );
    }

    #[tokio::test]
    async fn the_qr_code_is_an_svg() {
        let mfa = mfa();
        let enrolment = mfa
            .start_totp_enrollment("u1", "ferris")
            .await
            .expect("enrol");
        let svg = enrolment.qr_svg().expect("fits");
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.len() > 1000);
        assert_eq!(format!("{enrolment:?}"), "TotpEnrollment([redacted])");
    }
}
