//! [`SecondFactorStore`]: where TOTP secrets, their replay guard and recovery-code hashes are
//! kept, and [`MemorySecondFactorStore`], its in-memory implementation.

use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, PoisonError},
};

use secrecy::{ExposeSecret, SecretSlice};

use super::{MfaError, RecoveryCodeHash};

/// A user's TOTP state as stored. The secrets are opaque bytes (encrypted or not, see
/// [`EncryptionKey`](super::EncryptionKey)) that a store keeps and compares byte for byte.
#[derive(Debug)]
pub struct StoredTotp {
    /// The confirmed secret, if TOTP is on.
    pub secret: Option<SecretSlice<u8>>,
    /// A secret enrolled but not yet confirmed with a first code.
    pub pending: Option<SecretSlice<u8>>,
    /// The last time step whose code was accepted: codes of this step and earlier are refused.
    pub last_step: Option<u64>,
}

/// One accepted TOTP code, for [`SecondFactorStore::activate_totp`] and
/// [`SecondFactorStore::record_totp_step`]: the store changes the user's state only while it
/// still holds the secret the code was checked against.
#[derive(Debug, Clone, Copy)]
pub struct TotpStep<'a> {
    /// The user, as the text of their id.
    pub user: &'a str,
    /// The secret, as stored, that the code was checked against.
    pub sealed: &'a SecretSlice<u8>,
    /// The code's time step.
    pub step: u64,
}

/// A TOTP secret sealed again under a new [`EncryptionKey`](super::EncryptionKey), for
/// [`SecondFactorStore::reseal_totp`]: the store replaces it only while it still holds the
/// secret as it was read.
#[derive(Debug, Clone, Copy)]
pub struct TotpReseal<'a> {
    /// The user, as the text of their id.
    pub user: &'a str,
    /// The confirmed secret as stored, sealed under a previous key.
    pub from: &'a SecretSlice<u8>,
    /// The same secret sealed under the current key.
    pub to: &'a SecretSlice<u8>,
}

/// Keeps each user's TOTP secrets, the last accepted time step and recovery-code hashes.
///
/// Users are identified by the text of their id (`user.id().to_string()`).
/// [`Mfa`](super::Mfa) holds the logic; a store only keeps state, and must make each change
/// atomic, because two requests with the same code or recovery code can arrive at once:
///
/// - [`record_totp_step`](Self::record_totp_step) succeeds for at most one of several callers
///   with the same step (a compare-and-set, such as
///   `UPDATE ... WHERE last_step IS NULL OR last_step < ?`);
/// - [`use_recovery_code`](Self::use_recovery_code) succeeds for at most one of several callers
///   with the same code (a `DELETE` that reports whether it removed a row);
/// - [`activate_totp`](Self::activate_totp) promotes only the pending secret the caller verified.
///
/// Implemented here by [`MemorySecondFactorStore`] and, with the `sqlx` feature, by
/// [`SqlxSecondFactorStore`](super::SqlxSecondFactorStore).
///
/// Implement it with `#[async_trait::async_trait]`, failures as `MfaError::store(error)`: see
/// [how the store traits are written](crate::store#the-store-traits).
#[async_trait::async_trait]
pub trait SecondFactorStore: Send + Sync + 'static {
    /// The user's TOTP state, or `None` if they never enrolled.
    async fn totp(&self, user: &str) -> Result<Option<StoredTotp>, MfaError>;

    /// Keeps `sealed` as the user's pending secret, replacing any pending one and leaving a
    /// confirmed secret in place until the new one is confirmed.
    async fn set_pending_totp(&self, user: &str, sealed: &SecretSlice<u8>) -> Result<(), MfaError>;

    /// If the user's pending secret is still `code.sealed`, makes it the confirmed secret,
    /// clears the pending one and records `code.step` as the last accepted step; answers
    /// whether it did.
    async fn activate_totp(&self, code: &TotpStep<'_>) -> Result<bool, MfaError>;

    /// If the user's confirmed secret is still `code.sealed` and `code.step` is after the last
    /// accepted step, records `code.step` and answers `true`; otherwise changes nothing and
    /// answers `false`.
    async fn record_totp_step(&self, code: &TotpStep<'_>) -> Result<bool, MfaError>;

    /// If the user's confirmed secret is still `reseal.from`, replaces it by `reseal.to`,
    /// keeping the last accepted step; answers whether it did.
    async fn reseal_totp(&self, reseal: &TotpReseal<'_>) -> Result<bool, MfaError>;

    /// Removes the user's TOTP state (confirmed and pending) and recovery codes; answers whether
    /// there was any TOTP state.
    async fn remove_second_factors(&self, user: &str) -> Result<bool, MfaError>;

    /// Replaces the user's recovery codes by `hashes`, in one step: no moment exists where both
    /// old and new codes, or neither, are valid.
    async fn replace_recovery_codes(
        &self,
        user: &str,
        hashes: &[RecoveryCodeHash],
    ) -> Result<(), MfaError>;

    /// Removes the user's recovery code of hash `hash`, answering whether it was there.
    async fn use_recovery_code(
        &self,
        user: &str,
        hash: &RecoveryCodeHash,
    ) -> Result<bool, MfaError>;

    /// How many unused recovery codes the user has.
    async fn recovery_codes_left(&self, user: &str) -> Result<usize, MfaError>;
}

/// A [`SecondFactorStore`] in this process's memory: for tests and single-instance demos, since
/// everything is lost at a restart.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum_login::mfa::{MemorySecondFactorStore, SecondFactorStore};
///
/// let store = MemorySecondFactorStore::default();
/// assert!(store.totp("1").await.unwrap().is_none());
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemorySecondFactorStore {
    state: Mutex<HashMap<String, UserState>>,
}

#[derive(Debug, Default)]
struct UserState {
    secret: Option<Vec<u8>>,
    pending: Option<Vec<u8>>,
    last_step: Option<u64>,
    recovery: HashSet<RecoveryCodeHash>,
}

impl MemorySecondFactorStore {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, UserState>) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait::async_trait]
impl SecondFactorStore for MemorySecondFactorStore {
    async fn totp(&self, user: &str) -> Result<Option<StoredTotp>, MfaError> {
        Ok(self.with(|state| {
            state
                .get(user)
                .filter(|u| u.secret.is_some() || u.pending.is_some())
                .map(|u| StoredTotp {
                    secret: u.secret.clone().map(Into::into),
                    pending: u.pending.clone().map(Into::into),
                    last_step: u.last_step,
                })
        }))
    }

    async fn set_pending_totp(&self, user: &str, sealed: &SecretSlice<u8>) -> Result<(), MfaError> {
        self.with(|state| {
            state.entry(user.to_owned()).or_default().pending = Some(sealed.expose_secret().into());
        });
        Ok(())
    }

    async fn activate_totp(&self, code: &TotpStep<'_>) -> Result<bool, MfaError> {
        Ok(self.with(|state| {
            let Some(u) = state.get_mut(code.user) else {
                return false;
            };
            if u.pending.as_deref() != Some(code.sealed.expose_secret()) {
                return false;
            }
            u.secret = u.pending.take();
            u.last_step = Some(code.step);
            true
        }))
    }

    async fn record_totp_step(&self, code: &TotpStep<'_>) -> Result<bool, MfaError> {
        Ok(self.with(|state| {
            let Some(u) = state.get_mut(code.user) else {
                return false;
            };
            if u.secret.as_deref() != Some(code.sealed.expose_secret())
                || u.last_step.is_some_and(|last| last >= code.step)
            {
                return false;
            }
            u.last_step = Some(code.step);
            true
        }))
    }

    async fn reseal_totp(&self, reseal: &TotpReseal<'_>) -> Result<bool, MfaError> {
        Ok(self.with(|state| {
            let Some(u) = state.get_mut(reseal.user) else {
                return false;
            };
            if u.secret.as_deref() != Some(reseal.from.expose_secret()) {
                return false;
            }
            u.secret = Some(reseal.to.expose_secret().into());
            true
        }))
    }

    async fn remove_second_factors(&self, user: &str) -> Result<bool, MfaError> {
        Ok(self.with(|state| {
            state
                .remove(user)
                .is_some_and(|u| u.secret.is_some() || u.pending.is_some())
        }))
    }

    async fn replace_recovery_codes(
        &self,
        user: &str,
        hashes: &[RecoveryCodeHash],
    ) -> Result<(), MfaError> {
        self.with(|state| {
            state.entry(user.to_owned()).or_default().recovery = hashes.iter().copied().collect();
        });
        Ok(())
    }

    async fn use_recovery_code(
        &self,
        user: &str,
        hash: &RecoveryCodeHash,
    ) -> Result<bool, MfaError> {
        Ok(self.with(|state| state.get_mut(user).is_some_and(|u| u.recovery.remove(hash))))
    }

    async fn recovery_codes_left(&self, user: &str) -> Result<usize, MfaError> {
        Ok(self.with(|state| state.get(user).map_or(0, |u| u.recovery.len())))
    }
}
