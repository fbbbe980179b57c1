//! [`Accounts`] as a [`Feature`] of the layer: a login or a password change voids the user's
//! reset links, and the token store takes part in readiness checks.

use std::{any::Any, sync::Arc};

use tower_sessions::{SessionStore, service::CookieController};

use super::{
    AccountStore, Accounts,
    token::{AccountTokenStore, Revoke},
};
use crate::{
    AuthError,
    layer::AuthLayerBuilder,
    login::{Change, Feature, NewLogin, RequestAuth, StoreCheck},
};

impl<S: AccountStore, SS: SessionStore, C: CookieController> AuthLayerBuilder<S, SS, C> {
    /// Password reset by mail (feature `accounts`; see [`accounts`](crate::accounts)): a login
    /// or a password change of a user voids their reset links. The handlers call `accounts`,
    /// which refuses to work on a layer it is not registered on.
    pub fn accounts(self, accounts: &Accounts<S>) -> Self {
        self.feature(AccountsFeature {
            tokens: accounts.inner.tokens.clone(),
        })
    }
}

/// The part of [`Accounts`] the layer keeps: its token store.
pub(super) struct AccountsFeature {
    tokens: Arc<dyn AccountTokenStore>,
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
