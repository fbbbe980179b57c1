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
    login::{BoxFuture, Change, Feature, RequestAuth},
    security::{ThrottleKey, revoke_devices},
};

/// The session key under which the throttle's key of the logged-in account is kept: what a
/// password change revokes the device cookies of.
const ACCOUNT_KEY: &str = "axum_login.account";

/// See the [module](self).
pub(crate) struct DeviceCookies;

impl Feature for DeviceCookies {
    fn as_any(&self) -> &dyn Any {
        self
    }

    /// Keeps the account's key in the session and gives the browser its device cookie, when
    /// this request authenticated the account: only now that the login is complete, since a
    /// browser that got the cookie with the password alone would have its guesses at the
    /// second factor counted as a trusted device's.
    fn installed<'a>(
        &'a self,
        auth: &'a RequestAuth,
        _user: &'a str,
        _entry: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(async move {
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
        })
    }

    /// The account's key leaves the session with the login (a logout that keeps the rest of
    /// the session keeps no trace of whose it was).
    fn logged_out<'a>(
        &'a self,
        auth: &'a RequestAuth,
        _user: Option<&'a str>,
        _entry: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(async move {
            auth.session().remove_value(ACCOUNT_KEY).await?;
            Ok(())
        })
    }

    /// A password change revokes the device cookies of the account logged in on this session
    /// (a browser that knew the old password is no longer trusted with the new one), and
    /// gives this browser a new one.
    fn changed<'a>(
        &'a self,
        auth: &'a RequestAuth,
        _user: &'a str,
        change: Change<'a>,
    ) -> BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(async move {
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
        })
    }
}
