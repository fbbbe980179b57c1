//! The two-step login: a first factor that was right (a password, or a remember-me cookie of
//! a user who has a second factor) leaves the session waiting for the second, which completes
//! the login; a logged-in session can complete one again for a guard that asks
//! (`#[require_login(mfa)]`, `fresh_mfa`).
//!
//! Which second factors exist is the app's (TOTP, recovery codes and passkeys from
//! [`mfa`](crate::mfa), or its own): this module keeps the waiting state and checks it, and
//! learns whether a user has a second factor from a [`SecondFactorLookup`]. It takes part in a
//! login's life as one of the layer's features (the crate's lifecycle seam), registered by
//! every builder and configured with
//! [`AuthLayerBuilder::second_factors`](crate::layer::AuthLayerBuilder::second_factors) and
//! [`AuthLayerBuilder::second_factor_timeout`](crate::layer::AuthLayerBuilder::second_factor_timeout).
//!
//! The waiting state lives under its own session key, never the login's, so no guard, no
//! [`CurrentUser`](crate::CurrentUser) and no user load treats it as logged in.

mod steps;

use std::{any::Any, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{
    AuthError,
    clock::unix_seconds,
    error::BoxError,
    login::{BoxFuture, Feature, Held, Logout, RequestAuth, StoreCheck},
};

/// The session key of a login waiting for its second factor.
const PENDING_KEY: &str = "axum_login.pending";

/// The default [`AuthLayerBuilder::second_factor_timeout`](crate::layer::AuthLayerBuilder::second_factor_timeout).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Whether a user has a second factor, for the layer
/// ([`AuthLayerBuilder::second_factors`](crate::layer::AuthLayerBuilder::second_factors)): it decides what a remembered login is worth and
/// what a `fresh_mfa` guard asks for. [`Mfa`](crate::mfa::Mfa) implements it (feature
/// `totp`); an app with other second factors too (passkeys) implements it on a type of its own.
///
/// ```
/// use axum_login::{error::BoxError, login::BoxFuture, second_factor::SecondFactorLookup};
///
/// /// Users whose id is even have TOTP, in this example.
/// struct EvenUsers;
///
/// impl SecondFactorLookup for EvenUsers {
///     fn has_second_factor<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<bool, BoxError>> {
///         Box::pin(async move { Ok(user.parse::<u64>().is_ok_and(|id| id % 2 == 0)) })
///     }
/// }
/// # let _ = EvenUsers;
/// ```
pub trait SecondFactorLookup: Send + Sync + 'static {
    /// Whether the user whose id has this text has a second factor enrolled. An error fails
    /// the request (a `500`): the layer never guesses "no".
    fn has_second_factor<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<bool, BoxError>>;

    /// Whether the store behind the lookup answers, for a readiness probe. Default: `Ok(())`
    /// without asking anything, since a lookup of the app's may refuse an id it does not know
    /// the shape of; [`Mfa`](crate::mfa::Mfa) reads its store for a user no one is.
    fn ping(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

impl<T: SecondFactorLookup + ?Sized> SecondFactorLookup for Arc<T> {
    fn has_second_factor<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<bool, BoxError>> {
        (**self).has_second_factor(user)
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        (**self).ping()
    }
}

/// Whose second factor is due on a session.
#[derive(Debug, Clone)]
pub enum SecondFactorDue<U> {
    /// A login waits for it: the first factor was right, the user is not logged in yet.
    Login(U),
    /// The user is logged in, and a guard asks for a second factor (a step-up).
    StepUp(U),
}

impl<U> SecondFactorDue<U> {
    /// The user whose second factor is due.
    pub fn user(&self) -> &U {
        match self {
            Self::Login(user) | Self::StepUp(user) => user,
        }
    }

    /// The user whose second factor is due.
    pub fn into_user(self) -> U {
        match self {
            Self::Login(user) | Self::StepUp(user) => user,
        }
    }
}

/// A login whose first factor was right and whose second factor is due: kept under
/// [`PENDING_KEY`], never under the login's key, so nothing treats it as logged in.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingRecord<Id> {
    user_id: Id,
    /// The keyed digest of the user's credentials, as a login keeps it: a password change
    /// while the second factor is due voids the waiting login.
    digest: String,
    /// When the first factor was checked, in Unix seconds.
    at: u64,
    /// The throttle's key of the account, so second-factor attempts count against it.
    account: Option<String>,
    /// Whether the login asked to be remembered.
    remember: bool,
    /// Whether the first factor was a remember-me cookie, not a password: the login it
    /// completes is not fresh.
    #[serde(default)]
    remembered: bool,
}

/// The two-step login as a feature of the layer: see the [module](self).
#[derive(Clone)]
pub(crate) struct TwoStep {
    /// Whether a user has a second factor, when the app says.
    lookup: Option<Arc<dyn SecondFactorLookup>>,
    /// How long a login waits for its second factor.
    timeout: Duration,
}

impl Default for TwoStep {
    fn default() -> Self {
        Self {
            lookup: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl TwoStep {
    /// With `lookup` to say whether a user has a second factor.
    pub(crate) fn with_lookup(self, lookup: impl SecondFactorLookup) -> Self {
        Self {
            lookup: Some(Arc::new(lookup)),
            ..self
        }
    }

    /// With logins waiting for their second factor at most `timeout`.
    pub(crate) fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// The layer's, or the defaults when a layer was built without it (never, by the builder).
    pub(crate) fn of(auth: &RequestAuth) -> Self {
        auth.config()
            .features
            .get::<Self>()
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Feature for TwoStep {
    fn as_any(&self) -> &dyn Any {
        self
    }

    /// A restored visitor whose user has a second factor that what they presented does not
    /// carry waits for it, as after a right password, under a new session id.
    async fn hold(&self, auth: &RequestAuth, held: &Held<'_>) -> Result<bool, AuthError> {
        if held.restored.second_factor || self.has_second_factor(held.user).await? != Some(true) {
            return Ok(false);
        }
        let session = auth.session();
        if session.id().is_some() {
            session.cycle_id().await?;
        }
        let pending = PendingRecord {
            user_id: held.id.clone(),
            digest: held.digest.to_owned(),
            at: unix_seconds(auth.config().clock.now()),
            account: None,
            remember: held.restored.remember,
            remembered: true,
        };
        session.insert(PENDING_KEY, pending).await?;
        Ok(true)
    }

    /// A login written to the session ends any login that was waiting there.
    async fn installed(
        &self,
        auth: &RequestAuth,
        _user: &str,
        _entry: Option<&str>,
    ) -> Result<(), AuthError> {
        auth.session().remove_value(PENDING_KEY).await?;
        Ok(())
    }

    /// Whether the app says `user` has a second factor; `None` when it gave no lookup.
    async fn has_second_factor(&self, user: &str) -> Result<Option<bool>, AuthError> {
        let Some(lookup) = &self.lookup else {
            return Ok(None);
        };
        lookup
            .has_second_factor(user)
            .await
            .map(Some)
            .map_err(AuthError::Store)
    }

    /// The app's lookup, when it gave one: the second-factor store behind it.
    fn stores(&self) -> Vec<StoreCheck<'_>> {
        self.lookup
            .iter()
            .map(|lookup| StoreCheck {
                name: "second_factors",
                check: lookup.ping(),
            })
            .collect()
    }

    /// A logout ends a login waiting for its second factor too.
    async fn logged_out(&self, auth: &RequestAuth, _logout: &Logout<'_>) -> Result<(), AuthError> {
        auth.session().remove_value(PENDING_KEY).await?;
        Ok(())
    }
}
