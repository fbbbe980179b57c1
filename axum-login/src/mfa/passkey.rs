//! Passkeys (WebAuthn), through webauthn-rs: registration, authentication as a second factor,
//! and passwordless login with a discoverable passkey (feature `passkeys`).
//!
//! Each ceremony has two halves. `start_*` answers the options to send to the browser (as JSON,
//! for `navigator.credentials.create()` or `.get()`) and a state value; keep the state **in the
//! server-side session** (it is `Serialize`), never in the browser, and give it back to the
//! matching `finish_*` with the browser's answer. A state is good for one finish: remove it from
//! the session before calling `finish_*`, so a replayed answer finds nothing.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), axum_login::mfa::MfaError> {
//! use axum_login::mfa::{MemoryPasskeyStore, Passkeys, passkey::Url};
//!
//! let origin = Url::parse("https://app.example.com").expect("a URL");
//! let passkeys = Passkeys::new(MemoryPasskeyStore::default(), "app.example.com", &origin, "Example")?;
//!
//! // Registration (the user is logged in, with a fresh login):
//! let (options, state) = passkeys.start_registration(&42, "ferris@example.com", "Ferris").await?;
//! let json = serde_json::to_string(&options).expect("JSON"); // to the browser
//! // session.insert("passkey_registration", &state), then in the next request:
//! // let passkey = passkeys.finish_registration(&42, &browser_answer, state).await?;
//! # let _ = (json, state);
//!
//! // As a second factor, after the password:
//! if let Some((options, state)) = passkeys.start_authentication(&42).await? {
//!     // ... send `options`, keep `state`; then
//!     // passkeys.finish_authentication(&42, &browser_answer, state).await?;
//! #   let _ = (options, state);
//! }
//!
//! // Passwordless, with no user known yet:
//! let (options, state) = passkeys.start_passwordless()?;
//! // let user_id: String = passkeys.finish_passwordless(&browser_answer, state).await?.user;
//! # let _ = (options, state);
//! # Ok(()) }
//! ```
//!
//! Checking a signature (ECDSA P-256 or P-384, or RSA, in pure Rust through RustCrypto) takes a
//! core for a fraction of a millisecond or more, so `finish_*` runs it on tokio's blocking pool,
//! never on the async runtime's threads.
//!
//! Counters and backup state are kept as webauthn-rs recommends: after each authentication the
//! stored passkey is updated when its counter or backup flags changed, and a counter that did
//! not move forward (of a passkey that counts) is refused as a possible clone.

use std::{
    collections::HashMap,
    fmt::{self, Display},
    sync::{Arc, Mutex, PoisonError},
};

use serde::{Deserialize, Serialize};
pub use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Passkey, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
    WebauthnError,
};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration,
};

use super::MfaError;

/// A passkey after an authentication, for [`PasskeyStore::update_passkey`].
#[derive(Debug, Clone, Copy)]
pub struct PasskeyUpdate<'a> {
    /// The user, as the text of their id.
    pub user: &'a str,
    /// The passkey as it now is; its credential id names the stored one it replaces.
    pub passkey: &'a Passkey,
    /// The signature counter the authentication reported.
    pub counter: u32,
}

/// Keeps users' passkeys and their WebAuthn user handles.
///
/// Users are the text of their id, as for [`SecondFactorStore`](super::SecondFactorStore)
/// (feature `totp`). Each user has one random user handle (a UUID), which a discoverable passkey
/// gives back at a passwordless login; credential ids are unique across all users.
///
/// Implemented here by [`MemoryPasskeyStore`] and, with the `sqlx` feature, by
/// [`SqlxPasskeyStore`](super::SqlxPasskeyStore).
///
/// Implement it with `#[async_trait::async_trait]`, failures as `MfaError::store(error)`: see
/// [how the store traits are written](crate::store#the-store-traits).
#[async_trait::async_trait]
pub trait PasskeyStore: Send + Sync + 'static {
    /// The user's handle, made (a random UUID) and kept at the first call; every later call,
    /// concurrent ones too, answers the same.
    async fn user_handle(&self, user: &str) -> Result<Uuid, MfaError>;

    /// The user whose handle is `handle`.
    async fn user_by_handle(&self, handle: Uuid) -> Result<Option<String>, MfaError>;

    /// The user's passkeys.
    async fn passkeys(&self, user: &str) -> Result<Vec<Passkey>, MfaError>;

    /// Adds a passkey to the user; `false` (and nothing stored) when its credential id is
    /// registered already, to anyone.
    async fn add_passkey(&self, user: &str, passkey: &Passkey) -> Result<bool, MfaError>;

    /// Replaces the user's stored passkey of the same credential id with `update.passkey`,
    /// whose signature counter is `update.counter`, unless the stored counter is already
    /// higher; answers whether it replaced it. Two authentications racing with counters 5 and
    /// 6 thus leave 6.
    async fn update_passkey(&self, update: &PasskeyUpdate<'_>) -> Result<bool, MfaError>;

    /// Removes the user's passkey with this credential id; answers whether there was one.
    async fn remove_passkey(&self, user: &str, credential_id: &[u8]) -> Result<bool, MfaError>;
}

/// A [`PasskeyStore`] in this process's memory, for tests and single-instance demos.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum_login::mfa::{MemoryPasskeyStore, PasskeyStore};
///
/// let store = MemoryPasskeyStore::default();
/// let handle = store.user_handle("7").await.unwrap();
/// assert_eq!(store.user_handle("7").await.unwrap(), handle);
/// assert_eq!(store.user_by_handle(handle).await.unwrap().as_deref(), Some("7"));
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryPasskeyStore {
    state: Mutex<MemoryPasskeys>,
}

#[derive(Debug, Default)]
struct MemoryPasskeys {
    handles: HashMap<String, Uuid>,
    /// Credential id to (user, passkey, counter).
    passkeys: HashMap<Vec<u8>, (String, Passkey, u32)>,
}

impl MemoryPasskeyStore {
    fn with<T>(&self, f: impl FnOnce(&mut MemoryPasskeys) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait::async_trait]
impl PasskeyStore for MemoryPasskeyStore {
    async fn user_handle(&self, user: &str) -> Result<Uuid, MfaError> {
        Ok(self.with(|s| {
            *s.handles
                .entry(user.to_owned())
                .or_insert_with(Uuid::new_v4)
        }))
    }

    async fn user_by_handle(&self, handle: Uuid) -> Result<Option<String>, MfaError> {
        Ok(self.with(|s| {
            s.handles
                .iter()
                .find(|(_, h)| **h == handle)
                .map(|(user, _)| user.clone())
        }))
    }

    async fn passkeys(&self, user: &str) -> Result<Vec<Passkey>, MfaError> {
        Ok(self.with(|s| {
            s.passkeys
                .values()
                .filter(|(owner, _, _)| owner == user)
                .map(|(_, passkey, _)| passkey.clone())
                .collect()
        }))
    }

    async fn add_passkey(&self, user: &str, passkey: &Passkey) -> Result<bool, MfaError> {
        Ok(self.with(|s| {
            let id = passkey.cred_id().to_vec();
            if s.passkeys.contains_key(&id) {
                return false;
            }
            s.passkeys.insert(id, (user.to_owned(), passkey.clone(), 0));
            true
        }))
    }

    async fn update_passkey(&self, update: &PasskeyUpdate<'_>) -> Result<bool, MfaError> {
        let PasskeyUpdate {
            user,
            passkey,
            counter,
        } = *update;
        Ok(
            self.with(|s| match s.passkeys.get_mut(passkey.cred_id().as_slice()) {
                Some((owner, stored, stored_counter))
                    if owner == user && *stored_counter <= counter =>
                {
                    *stored = passkey.clone();
                    *stored_counter = counter;
                    true
                }
                _ => false,
            }),
        )
    }

    async fn remove_passkey(&self, user: &str, credential_id: &[u8]) -> Result<bool, MfaError> {
        Ok(self.with(|s| {
            if s.passkeys
                .get(credential_id)
                .is_some_and(|(owner, _, _)| owner == user)
            {
                s.passkeys.remove(credential_id);
                true
            } else {
                false
            }
        }))
    }
}

/// The server's half of a registration, between [`Passkeys::start_registration`] and
/// [`Passkeys::finish_registration`]: keep it in the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationState {
    user: String,
    state: PasskeyRegistration,
}

/// The server's half of a second-factor authentication, between
/// [`Passkeys::start_authentication`] and [`Passkeys::finish_authentication`]: keep it in the
/// session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthenticationState {
    user: String,
    state: PasskeyAuthentication,
}

/// The server's half of a passwordless login, between [`Passkeys::start_passwordless`] and
/// [`Passkeys::finish_passwordless`]: keep it in the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordlessState {
    state: DiscoverableAuthentication,
}

/// A successful passwordless login.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PasskeyLogin {
    /// The text of the user's id, as stored: parse it back into the id type to load the user.
    pub user: String,
    /// What the authenticator asserted (user verification, backup state, counter).
    pub result: AuthenticationResult,
}

/// The passkey ceremonies of an app: a webauthn-rs [`Webauthn`] (the relying party's id, origin
/// and name) and a [`PasskeyStore`]. Clones share both.
///
/// The [module documentation](self) shows each ceremony.
///
/// ```
/// use axum_login::mfa::{MemoryPasskeyStore, Passkeys, passkey::Url};
///
/// let origin = Url::parse("http://localhost:3000").unwrap();
/// let passkeys = Passkeys::new(MemoryPasskeyStore::default(), "localhost", &origin, "Demo");
/// assert!(passkeys.is_ok());
/// // The relying-party id must be the origin's host or a parent of it.
/// let wrong = Passkeys::new(MemoryPasskeyStore::default(), "example.com", &origin, "Demo");
/// assert!(wrong.is_err());
/// ```
pub struct Passkeys<S> {
    webauthn: Arc<Webauthn>,
    store: Arc<S>,
}

impl<S> Clone for Passkeys<S> {
    fn clone(&self) -> Self {
        Self {
            webauthn: self.webauthn.clone(),
            store: self.store.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Passkeys<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passkeys")
            .field("origins", &self.webauthn.get_allowed_origins())
            .field("store", &self.store)
            .finish()
    }
}

impl<S: PasskeyStore> Passkeys<S> {
    /// Passkeys for the site at `origin` (`https://app.example.com`; `http://localhost:PORT`
    /// in development), whose relying-party id `rp_id` is that host or a parent domain of it
    /// (`example.com`), and whose name `rp_name` browsers show.
    ///
    /// The relying-party id is bound into every passkey: changing it later makes every
    /// registered passkey unusable.
    pub fn new(store: S, rp_id: &str, origin: &Url, rp_name: &str) -> Result<Self, MfaError> {
        let webauthn = WebauthnBuilder::new(rp_id, origin)?
            .rp_name(rp_name)
            .build()?;
        Ok(Self::with_webauthn(store, webauthn))
    }

    /// Passkeys with a [`Webauthn`] configured by hand (more origins, subdomains, a timeout).
    pub fn with_webauthn(store: S, webauthn: Webauthn) -> Self {
        Self {
            webauthn: Arc::new(webauthn),
            store: Arc::new(store),
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Starts registering a new passkey for `user`: `name` (the login name) and `display_name`
    /// are what the authenticator shows; passkeys the user has already are excluded, so the same
    /// authenticator is not registered twice.
    pub async fn start_registration(
        &self,
        user: &(impl Display + ?Sized),
        name: &str,
        display_name: &str,
    ) -> Result<(CreationChallengeResponse, RegistrationState), MfaError> {
        let user = user.to_string();
        let handle = self.store.user_handle(&user).await?;
        let existing: Vec<_> = self
            .store
            .passkeys(&user)
            .await?
            .iter()
            .map(|passkey| passkey.cred_id().clone())
            .collect();
        let exclude = (!existing.is_empty()).then_some(existing);
        let (options, state) =
            self.webauthn
                .start_passkey_registration(handle, name, display_name, exclude)?;
        Ok((options, RegistrationState { user, state }))
    }

    /// Checks the browser's answer to a registration and stores the new passkey for `user`.
    /// Fails if the state was started for another user, or the passkey is registered already.
    pub async fn finish_registration(
        &self,
        user: &(impl Display + ?Sized),
        response: &RegisterPublicKeyCredential,
        state: RegistrationState,
    ) -> Result<Passkey, MfaError> {
        let user = user.to_string();
        if state.user != user {
            return Err(WebauthnError::MismatchedChallenge.into());
        }
        let webauthn = self.webauthn.clone();
        let response = response.clone();
        let passkey =
            blocking(move || webauthn.finish_passkey_registration(&response, &state.state))
                .await??;
        if !self.store.add_passkey(&user, &passkey).await? {
            return Err(MfaError::PasskeyExists);
        }
        Ok(passkey)
    }

    /// Starts authenticating `user` with one of their passkeys (a second factor after the
    /// password, or a step-up); `None` when they have none.
    pub async fn start_authentication(
        &self,
        user: &(impl Display + ?Sized),
    ) -> Result<Option<(RequestChallengeResponse, AuthenticationState)>, MfaError> {
        let user = user.to_string();
        let passkeys = self.store.passkeys(&user).await?;
        if passkeys.is_empty() {
            return Ok(None);
        }
        let (options, state) = self.webauthn.start_passkey_authentication(&passkeys)?;
        Ok(Some((options, AuthenticationState { user, state })))
    }

    /// Checks the browser's answer to [`start_authentication`](Self::start_authentication):
    /// signed by one of `user`'s passkeys, over this ceremony's challenge, with user
    /// verification. Updates the stored counter and backup state.
    pub async fn finish_authentication(
        &self,
        user: &(impl Display + ?Sized),
        response: &PublicKeyCredential,
        state: AuthenticationState,
    ) -> Result<AuthenticationResult, MfaError> {
        let user = user.to_string();
        if state.user != user {
            return Err(WebauthnError::MismatchedChallenge.into());
        }
        let webauthn = self.webauthn.clone();
        let response = response.clone();
        let result =
            blocking(move || webauthn.finish_passkey_authentication(&response, &state.state))
                .await??;
        self.record(&user, &result).await?;
        Ok(result)
    }

    /// Starts a passwordless login: the browser offers the user their passkeys for this site.
    pub fn start_passwordless(
        &self,
    ) -> Result<(RequestChallengeResponse, PasswordlessState), MfaError> {
        let (options, state) = self.webauthn.start_discoverable_authentication()?;
        Ok((options, PasswordlessState { state }))
    }

    /// Checks the browser's answer to [`start_passwordless`](Self::start_passwordless): finds the
    /// user by the handle the passkey gave back, and checks the signature against that user's
    /// passkeys. The answer names the user to log in.
    pub async fn finish_passwordless(
        &self,
        response: &PublicKeyCredential,
        state: PasswordlessState,
    ) -> Result<PasskeyLogin, MfaError> {
        let (handle, credential_id) = self
            .webauthn
            .identify_discoverable_authentication(response)?;
        let user = self
            .store
            .user_by_handle(handle)
            .await?
            .ok_or(WebauthnError::InvalidUserUniqueId)?;
        let passkey = self
            .store
            .passkeys(&user)
            .await?
            .into_iter()
            .find(|passkey| passkey.cred_id().as_slice() == credential_id)
            .ok_or(WebauthnError::CredentialNotFound)?;
        let webauthn = self.webauthn.clone();
        let response = response.clone();
        let result = blocking(move || {
            webauthn.finish_discoverable_authentication_v2(&response, state.state, &passkey)
        })
        .await??;
        self.record(&user, &result).await?;
        Ok(PasskeyLogin { user, result })
    }

    /// Removes one of `user`'s passkeys.
    pub async fn remove(
        &self,
        user: &(impl Display + ?Sized),
        credential_id: &[u8],
    ) -> Result<bool, MfaError> {
        self.store
            .remove_passkey(&user.to_string(), credential_id)
            .await
    }

    /// Stores a changed counter or backup state after an authentication, and refuses a
    /// counting passkey whose counter did not advance past the stored one.
    async fn record(&self, user: &str, result: &AuthenticationResult) -> Result<(), MfaError> {
        if !result.needs_update() {
            return Ok(());
        }
        let mut passkeys = self.store.passkeys(user).await?;
        let Some(passkey) = passkeys
            .iter_mut()
            .find(|passkey| passkey.cred_id() == result.cred_id())
        else {
            return Err(WebauthnError::CredentialNotFound.into());
        };
        passkey.update_credential(result);
        if !self
            .store
            .update_passkey(&PasskeyUpdate {
                user,
                passkey,
                counter: result.counter(),
            })
            .await?
            && result.counter() > 0
        {
            return Err(WebauthnError::CredentialPossibleCompromise.into());
        }
        Ok(())
    }
}

/// Runs a signature check on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, MfaError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| MfaError::Worker)
}

#[cfg(test)]
mod tests {
    use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};

    use super::*;

    async fn registered() -> (Passkeys<MemoryPasskeyStore>, SoftPasskey, Url) {
        let origin = Url::parse("https://app.example.com").expect("URL");
        let passkeys = Passkeys::new(
            MemoryPasskeyStore::default(),
            "app.example.com",
            &origin,
            "Test",
        )
        .expect("config");
        let mut authenticator = SoftPasskey::new(true);
        for user in ["7", "8"] {
            let (options, state) = passkeys
                .start_registration(user, user, user)
                .await
                .expect("start");
            let response = authenticator
                .do_registration(origin.clone(), options)
                .expect("soft passkey");
            passkeys
                .finish_registration(user, &response, state)
                .await
                .expect("finish");
        }
        (passkeys, authenticator, origin)
    }

    #[tokio::test]
    async fn a_ceremony_state_finishes_only_for_the_user_it_was_started_for() {
        let (passkeys, mut authenticator, origin) = registered().await;
        let (options, state) = passkeys
            .start_authentication("7")
            .await
            .expect("start")
            .expect("7 has a passkey");
        let assertion = authenticator
            .do_authentication(origin, options)
            .expect("soft passkey");
        let wrong_user = passkeys
            .finish_authentication("8", &assertion, state.clone())
            .await;
        assert!(
            matches!(
                wrong_user,
                Err(MfaError::Passkey(WebauthnError::MismatchedChallenge))
            ),
            "{wrong_user:?}"
        );
        passkeys
            .finish_authentication("7", &assertion, state)
            .await
            .expect("the right user");
    }

    #[tokio::test]
    async fn a_registration_state_finishes_only_for_its_user_and_once_per_credential() {
        let (passkeys, mut authenticator, origin) = registered().await;
        let (options, state) = passkeys
            .start_registration("9", "nine", "Nine")
            .await
            .expect("start");
        let response = authenticator
            .do_registration(origin, options)
            .expect("soft passkey");
        assert!(matches!(
            passkeys
                .finish_registration("7", &response, state.clone())
                .await,
            Err(MfaError::Passkey(WebauthnError::MismatchedChallenge))
        ));
        passkeys
            .finish_registration("9", &response, state.clone())
            .await
            .expect("registers");
        assert!(matches!(
            passkeys.finish_registration("9", &response, state).await,
            Err(MfaError::PasskeyExists)
        ));
        assert_eq!(passkeys.store().passkeys("9").await.expect("read").len(), 1);
    }

    #[tokio::test]
    async fn ceremony_states_survive_the_session_serializer() {
        let (passkeys, mut authenticator, origin) = registered().await;
        let (options, state) = passkeys
            .start_authentication("7")
            .await
            .expect("start")
            .expect("7 has a passkey");
        let json = serde_json::to_string(&state).expect("serialize");
        let state: AuthenticationState = serde_json::from_str(&json).expect("deserialize");
        let assertion = authenticator
            .do_authentication(origin, options)
            .expect("soft passkey");
        let result = passkeys
            .finish_authentication("7", &assertion, state)
            .await
            .expect("verifies");
        assert!(result.user_verified());
    }
}
