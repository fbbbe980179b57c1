//! The login throttle's device cookies as a [`Feature`] of the layer: a browser that completed
//! a login of an account gets a cookie the throttle trusts for that account (its attempts are
//! counted apart from an attacker's, see [`Throttle`](crate::Throttle)), and a password change
//! revokes the cookies of every other browser.
//!
//! The throttle itself is a core option (every login goes through it); this is what a login's
//! life adds to it. Registered by [`AuthLayerBuilder::build`](crate::layer::AuthLayerBuilder::build)
//! when the throttle is on.

use std::any::Any;

use crate::{
    AuthError,
    login::{Change, Feature, Logout, RequestAuth},
    security::{ThrottleKey, revoke_devices},
};

/// The session key under which the throttle's key of the logged-in account is kept: what a
/// password change revokes the device cookies of.
const ACCOUNT_KEY: &str = "axum_login.account";

/// See the [module](self).
pub(crate) struct DeviceCookies;

#[async_trait::async_trait]
impl Feature for DeviceCookies {
    fn as_any(&self) -> &dyn Any {
        self
    }

    /// Keeps the account's key in the session and gives the browser its device cookie, when
    /// this request authenticated the account: only now that the login is complete, since a
    /// browser that got the cookie with the password alone would have its guesses at the
    /// second factor counted as a trusted device's.
    async fn installed(
        &self,
        auth: &RequestAuth,
        _user: &str,
        _entry: Option<&str>,
    ) -> Result<(), AuthError> {
        let Some(account) = auth.account() else {
            return Ok(());
        };
        auth.session()
            .insert(ACCOUNT_KEY, account.to_string())
            .await?;
        let config = auth.config();
        if let Some(value) = config.throttle.device_cookie_for(
            account,
            auth.device_cookie(),
            &config.key,
            config.clock.now(),
        ) {
            auth.add_cookie(config.throttle.device_cookie_header(&value, auth.secure()));
        }
        Ok(())
    }

    /// The account's key leaves the session with the login (a logout that keeps the rest of
    /// the session keeps no trace of whose it was).
    async fn logged_out(&self, auth: &RequestAuth, _logout: &Logout<'_>) -> Result<(), AuthError> {
        auth.session().remove_value(ACCOUNT_KEY).await?;
        Ok(())
    }

    /// A password change revokes the device cookies of the account logged in on this session
    /// (a browser that knew the old password is no longer trusted with the new one), and
    /// gives this browser a new one.
    async fn changed(
        &self,
        auth: &RequestAuth,
        _user: &str,
        change: Change<'_>,
    ) -> Result<(), AuthError> {
        if !matches!(change, Change::Password { .. }) {
            return Ok(());
        }
        let account: Option<String> = auth.session().get(ACCOUNT_KEY).await?;
        let Some(account) = account.as_deref().and_then(ThrottleKey::parse) else {
            return Ok(());
        };
        let config = auth.config();
        let renewed = revoke_devices(
            &config.throttle,
            account,
            auth.device_cookie(),
            &config.key,
            config.clock.now(),
        )
        .await
        .map_err(AuthError::Throttle)?;
        if let Some(value) = renewed {
            auth.add_cookie(config.throttle.device_cookie_header(&value, auth.secure()));
        }
        Ok(())
    }
}
