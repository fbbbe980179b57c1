//! From a checked provider account to a user of the app: log in through an existing link,
//! link by a verified address once the user proves the account, create a user, and the
//! logged-in user's own links.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{
    NewProviderUser, Oidc, ProviderLink, ProviderSignIn, ProviderUserStore, SignInFailure,
    provider::Live,
};
use crate::{
    AuthSession, AuthUser as _,
    clock::unix_seconds,
    error::AuthError,
    events::{AuthEvent, LoginMethod},
};

/// Where a session keeps a link waiting for the account's password.
const LINK_KEY: &str = "axum_login.oidc.link";

/// A provider account whose verified address is a user's, waiting for that user's password.
#[derive(Serialize, Deserialize)]
struct PendingLink {
    provider: String,
    issuer: String,
    subject: String,
    email: String,
    user: String,
    next: Option<String>,
    /// Unix seconds.
    started: u64,
}

/// A provider linked to the logged-in user, for the account page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkedProvider {
    /// The provider's id, for the unlink route; `None` when the link's issuer is no longer
    /// among the configured providers.
    pub provider: Option<String>,
    /// The provider's display name (its issuer when it is no longer configured).
    pub name: String,
    /// The address the provider gave for the account when it was linked.
    pub email: Option<String>,
    /// When it was linked.
    pub linked_at: SystemTime,
}

/// What [`Oidc::unlink`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unlinked {
    /// The link is gone.
    Done,
    /// The user has no link to this provider.
    NotLinked,
    /// It is the user's last link and they have no password: they could not sign in again.
    LastWayToSignIn,
    /// Nobody is logged in.
    NotLoggedIn,
}

impl<S: ProviderUserStore> Oidc<S> {
    /// The checked account, turned into a login, a link, or a question.
    pub(super) async fn settle(
        &self,
        auth: &mut AuthSession<S>,
        live: &Live,
        account: NewProviderUser,
        next: Option<String>,
        link_for: Option<String>,
    ) -> Result<ProviderSignIn, AuthError> {
        let provider = live.config.id.as_str();
        let link = self
            .links
            .find(&account.issuer, &account.subject)
            .await
            .map_err(AuthError::Store)?;
        if let Some(user) = link_for {
            // A link asked for by a logged-in user: only while that user is still logged in.
            let current = auth.user().await?;
            let Some(current) = current.filter(|current| current.id().to_string() == user) else {
                return Ok(self.refuse(auth, provider, SignInFailure::NotLoggedIn));
            };
            return match link {
                Some(link) if link.user == user => Ok(ProviderSignIn::Linked { next }),
                Some(_) => Ok(self.refuse(auth, provider, SignInFailure::LinkedElsewhere)),
                None => self.link(auth, &current, &account, next).await,
            };
        }
        if let Some(link) = link {
            let user = match crate::login::parse_id::<S>(&link.user) {
                Some(id) => auth
                    .store()
                    .load_user(&id)
                    .await
                    .map_err(AuthError::store)?,
                None => None,
            };
            let Some(user) = user else {
                tracing::warn!(provider, user = %link.user, "a provider account is linked to a user who is gone");
                return Ok(self.refuse(auth, provider, SignInFailure::NoAccount));
            };
            return self.log_in(auth, provider, &user, next).await;
        }
        if let Some(email) = account.email.as_deref() {
            let owner = auth
                .store()
                .find_by_email(email)
                .await
                .map_err(AuthError::store)?;
            if let Some(owner) = owner {
                if !account.email_verified {
                    return Ok(self.refuse(auth, provider, SignInFailure::EmailNotVerified));
                }
                // Proved by a session of that very user.
                if auth
                    .user()
                    .await?
                    .is_some_and(|current| current.id().to_string() == owner.id().to_string())
                {
                    return self.link(auth, &owner, &account, next).await;
                }
                let pending = PendingLink {
                    provider: provider.to_owned(),
                    issuer: account.issuer.clone(),
                    subject: account.subject.clone(),
                    email: email.to_owned(),
                    user: owner.id().to_string(),
                    next,
                    started: unix_seconds(auth.auth.config().clock.now()),
                };
                auth.auth.session().insert(LINK_KEY, &pending).await?;
                return Ok(ProviderSignIn::ConfirmLink {
                    email: email.to_owned(),
                    provider: live.config.name.clone(),
                });
            }
        }
        let Some(sign_up) = &self.sign_up else {
            return Ok(self.refuse(auth, provider, SignInFailure::NoAccount));
        };
        let created = sign_up(auth.store().clone(), account.clone())
            .await
            .map_err(AuthError::store)?;
        let Some(user) = created else {
            return Ok(self.refuse(auth, provider, SignInFailure::NoAccount));
        };
        auth.emit(AuthEvent::SignedUp {
            user: user.id().to_string(),
        });
        if !self.keep_link(auth, &user, &account).await? {
            // Another first sign-in of this account linked it a moment ago; the user just
            // made stays unlinked, and this browser starts again to log in through the link.
            return Ok(self.refuse(auth, provider, SignInFailure::LinkedElsewhere));
        }
        self.log_in(auth, provider, &user, next).await
    }

    /// Links `account` to `user`, who is logged in on this session.
    async fn link(
        &self,
        auth: &mut AuthSession<S>,
        user: &S::User,
        account: &NewProviderUser,
        next: Option<String>,
    ) -> Result<ProviderSignIn, AuthError> {
        let provider = account.provider.as_str();
        let key = user.id().to_string();
        let links = self.links.for_user(&key).await.map_err(AuthError::Store)?;
        if links.iter().any(|link| link.issuer == account.issuer) {
            return Ok(self.refuse(auth, provider, SignInFailure::ProviderAlreadyLinked));
        }
        if !self.keep_link(auth, user, account).await? {
            return Ok(self.refuse(auth, provider, SignInFailure::LinkedElsewhere));
        }
        Ok(ProviderSignIn::Linked { next })
    }

    /// Keeps the link of `account` to `user`, answering whether the account was free.
    async fn keep_link(
        &self,
        auth: &AuthSession<S>,
        user: &S::User,
        account: &NewProviderUser,
    ) -> Result<bool, AuthError> {
        let link = ProviderLink {
            issuer: account.issuer.clone(),
            subject: account.subject.clone(),
            user: user.id().to_string(),
            provider: account.provider.clone(),
            email: account.email.clone(),
            linked_at: auth.auth.config().clock.now(),
        };
        let kept = self.links.insert(&link).await.map_err(AuthError::Store)?;
        if kept {
            auth.emit(AuthEvent::ProviderLinked {
                user: link.user,
                provider: link.provider,
            });
        }
        Ok(kept)
    }

    /// Logs `user` in on this session by a provider, or leaves the session waiting for their
    /// second factor.
    async fn log_in(
        &self,
        auth: &mut AuthSession<S>,
        provider: &str,
        user: &S::User,
        next: Option<String>,
    ) -> Result<ProviderSignIn, AuthError> {
        if !user.is_active() {
            return Ok(self.refuse(auth, provider, SignInFailure::Inactive));
        }
        let key = user.id().to_string();
        if auth.auth.config().features.has_second_factor(&key).await? == Some(true) {
            auth.wait_for_second_factor(user, false).await?;
            return Ok(ProviderSignIn::SecondFactorDue { next });
        }
        auth.complete_login(user, LoginMethod::Provider, None, false, false)
            .await?;
        Ok(ProviderSignIn::LoggedIn { next })
    }

    /// The address and provider of a link waiting for the account's password on this session,
    /// for the page that asks for it; `None` when there is none (or it timed out).
    pub async fn pending_link(
        &self,
        auth: &AuthSession<S>,
    ) -> Result<Option<(String, String)>, AuthError> {
        Ok(self.pending(auth).await?.map(|pending| {
            let name = self
                .find(&pending.provider)
                .map_or_else(|| pending.provider.clone(), |live| live.config.name.clone());
            (pending.email, name)
        }))
    }

    async fn pending(&self, auth: &AuthSession<S>) -> Result<Option<PendingLink>, AuthError> {
        let session = auth.auth.session();
        let Some(value) = session.get_value(LINK_KEY).await? else {
            return Ok(None);
        };
        let now = unix_seconds(auth.auth.config().clock.now());
        match serde_json::from_value::<PendingLink>(value) {
            Ok(pending) if now.saturating_sub(pending.started) < self.timeout.as_secs() => {
                Ok(Some(pending))
            }
            _ => {
                session.remove_value(LINK_KEY).await?;
                Ok(None)
            }
        }
    }

    /// Confirms the link waiting on this session with the account's credentials (its
    /// username and password, as the store's [`authenticate`](crate::UserStore::authenticate)
    /// takes them, behind the throttle like a login): links the provider account and logs the
    /// user in (or waits for their second factor). Credentials of another user, or wrong ones,
    /// answer [`SignInFailure::WrongPassword`] and leave the link waiting.
    ///
    /// A cross-site `POST` is refused with [`AuthError::CrossSiteRequest`].
    pub async fn confirm_link(
        &self,
        auth: &mut AuthSession<S>,
        credentials: S::Credentials,
    ) -> Result<ProviderSignIn, AuthError> {
        self.registered(auth)?;
        auth.check_same_site()?;
        let Some(pending) = self.pending(auth).await? else {
            return Ok(self.refuse(auth, "", SignInFailure::InvalidState));
        };
        let provider = pending.provider.clone();
        let user = auth
            .authenticate(credentials)
            .await?
            .filter(|user| user.id().to_string() == pending.user);
        let Some(user) = user else {
            return Ok(self.refuse(auth, &provider, SignInFailure::WrongPassword));
        };
        auth.auth.session().remove_value(LINK_KEY).await?;
        let account = NewProviderUser {
            provider: provider.clone(),
            issuer: pending.issuer,
            subject: pending.subject,
            email: Some(pending.email),
            email_verified: true,
            name: None,
            preferred_username: None,
        };
        if !self.keep_link(auth, &user, &account).await? {
            return Ok(self.refuse(auth, &provider, SignInFailure::LinkedElsewhere));
        }
        self.log_in(auth, &provider, &user, pending.next).await
    }

    /// The providers linked to the logged-in user, oldest first; empty for a visitor.
    pub async fn links(&self, auth: &AuthSession<S>) -> Result<Vec<LinkedProvider>, AuthError> {
        self.registered(auth)?;
        let Some(user) = auth.user().await? else {
            return Ok(Vec::new());
        };
        let links = self
            .links
            .for_user(&user.id().to_string())
            .await
            .map_err(AuthError::Store)?;
        Ok(links
            .into_iter()
            .map(|link| {
                let live = self
                    .providers
                    .iter()
                    .find(|live| live.config.issuer.as_str() == link.issuer);
                LinkedProvider {
                    provider: live.map(|live| live.config.id.clone()),
                    name: live.map_or_else(|| link.issuer.clone(), |live| live.config.name.clone()),
                    email: link.email,
                    linked_at: link.linked_at,
                }
            })
            .collect())
    }

    /// Unlinks the logged-in user's account at `provider`, unless it is their last way to sign
    /// in (their last link, and no password). A cross-site `POST` is refused with
    /// [`AuthError::CrossSiteRequest`].
    ///
    /// The check and the removal are two calls to the stores: two unlinks of a user's last two
    /// providers at the same moment can both pass the check. That leaves a user without a
    /// password locked out until they reset it or an administrator links them again; it lets
    /// nobody else in.
    pub async fn unlink(
        &self,
        auth: &mut AuthSession<S>,
        provider: &str,
    ) -> Result<Unlinked, AuthError> {
        self.registered(auth)?;
        auth.check_same_site()?;
        let Some(user) = auth.user().await? else {
            return Ok(Unlinked::NotLoggedIn);
        };
        let Some(live) = self.find(provider) else {
            return Ok(Unlinked::NotLinked);
        };
        let key = user.id().to_string();
        let links = self.links.for_user(&key).await.map_err(AuthError::Store)?;
        let Some(link) = links
            .iter()
            .find(|link| link.issuer == live.config.issuer.as_str())
        else {
            return Ok(Unlinked::NotLinked);
        };
        if links.len() == 1 && !auth.store().has_password(&user) {
            return Ok(Unlinked::LastWayToSignIn);
        }
        if !self
            .links
            .remove(&key, &link.issuer, &link.subject)
            .await
            .map_err(AuthError::Store)?
        {
            return Ok(Unlinked::NotLinked);
        }
        auth.emit(AuthEvent::ProviderUnlinked {
            user: key,
            provider: live.config.id.clone(),
        });
        Ok(Unlinked::Done)
    }
}
