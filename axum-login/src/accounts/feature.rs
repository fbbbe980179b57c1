//! [`Accounts`] as a [`Feature`] of the layer: a login or a password change voids the user's
//! reset links, guards with `verified` ask it whether a user's address is confirmed, and the
//! token store takes part in readiness checks.

use std::{any::Any, sync::Arc};

use tower_sessions::{SessionStore, service::CookieController};

use super::{
    AccountStore, Accounts, EmailUser,
    token::{AccountTokenStore, Revoke},
};
use crate::{
    AuthError,
    layer::AuthLayerBuilder,
    login::{Change, ErasedUser, Feature, NewLogin, RequestAuth, StoreCheck},
};

impl<S: AccountStore, SS: SessionStore, C: CookieController> AuthLayerBuilder<S, SS, C> {
    /// Password reset by mail (feature `accounts`; see [`accounts`](crate::accounts)): a login
    /// or a password change of a user voids their reset links. The handlers call `accounts`,
    /// which refuses to work on a layer it is not registered on.
    pub fn accounts(self, accounts: &Accounts<S>) -> Self {
        self.feature(AccountsFeature {
            tokens: accounts.inner.tokens.clone(),
            verified: |user| {
                user.as_any()
                    .downcast_ref::<S::User>()
                    .map(EmailUser::email_verified)
            },
            unverified_url: accounts.inner.unverified_url.clone(),
        })
    }
}

/// The part of [`Accounts`] the layer keeps: its token store, how to ask a user of the
/// layer's type whether their address is confirmed, and the page that confirms it.
pub(super) struct AccountsFeature {
    tokens: Arc<dyn AccountTokenStore>,
    verified: fn(&dyn ErasedUser) -> Option<bool>,
    unverified_url: Option<String>,
}

impl AccountsFeature {
    async fn revoke(&self, user: &str) -> Result<(), AuthError> {
        self.tokens
            .revoke_user(user, Revoke::EndedByLogin)
            .await
            .map(drop)
            .map_err(AuthError::Store)
    }
}

#[async_trait::async_trait]
impl Feature for AccountsFeature {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn email_verified(&self, user: &dyn ErasedUser) -> Option<bool> {
        (self.verified)(user)
    }

    fn unverified_url(&self) -> Option<&str> {
        self.unverified_url.as_deref()
    }

    fn stores(&self) -> Vec<StoreCheck<'_>> {
        vec![StoreCheck {
            name: "account_tokens",
            check: self.tokens.ping(),
        }]
    }

    /// A login voids the user's reset links: one left in a mailbox must not take the account
    /// back from the user who has since logged in.
    async fn logged_in(&self, _auth: &RequestAuth, login: &NewLogin<'_>) -> Result<(), AuthError> {
        self.revoke(login.user).await
    }

    async fn changed(
        &self,
        _auth: &RequestAuth,
        user: &str,
        change: Change<'_>,
    ) -> Result<(), AuthError> {
        if matches!(change, Change::Password { .. }) {
            self.revoke(user).await?;
        }
        Ok(())
    }
}
