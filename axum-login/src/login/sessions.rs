//! [`AuthSession`]'s calls on the session registry: a user's sessions, listed and ended.

use std::{net::IpAddr, time::SystemTime};

use super::AuthSession;
use crate::{AuthError, AuthUser, UserStore, registry::Which, store::UserId};

/// One of the user's sessions, as a page listing them shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session's registry entry: what [`AuthSession::end_session`] takes. Safe to show
    /// and to put in a URL (it is not the session's id).
    pub id: String,
    /// When the user logged in on it.
    pub created_at: SystemTime,
    /// When it was last used (at the registry's update interval).
    pub last_seen: SystemTime,
    /// The client's address at login.
    pub address: Option<IpAddr>,
    /// A short form of the client's `User-Agent` at login.
    pub user_agent: Option<String>,
    /// Whether it is the session of this request.
    pub current: bool,
    /// Whether a remember-me cookie logged it in.
    pub remembered: bool,
}

impl<S: UserStore> AuthSession<S> {
    /// The logged-in user's sessions, oldest first, this one marked
    /// [`current`](SessionInfo::current); empty for an anonymous visitor or without a
    /// [session registry](crate::layer::AuthLayerBuilder::session_registry).
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, AuthError> {
        let (Some(registry), Some(record)) =
            (&self.auth.config().registry, self.current_record().await?)
        else {
            return Ok(Vec::new());
        };
        if self.user().await?.is_none() {
            return Ok(Vec::new());
        }
        let entries = registry
            .registry
            .list(&record.user_id.to_string())
            .await
            .map_err(AuthError::Registry)?;
        Ok(entries
            .into_iter()
            .map(|entry| SessionInfo {
                current: record.entry.as_deref() == Some(entry.id.as_str()),
                remembered: entry.remember.is_some(),
                id: entry.id,
                created_at: entry.created_at,
                last_seen: entry.last_seen,
                address: entry.address,
                user_agent: entry.user_agent,
            })
            .collect())
    }

    /// Ends one of the logged-in user's sessions, by its [`SessionInfo::id`]: its next request,
    /// on any instance, is anonymous, and the remember-me token that logged it in, if any, is
    /// revoked. `false` when the user has no such session. Ending this request's own session
    /// logs out.
    ///
    /// A cross-site request is refused with [`AuthError::CrossSiteRequest`].
    pub async fn end_session(&mut self, id: &str) -> Result<bool, AuthError> {
        self.auth.check_same_site()?;
        let Some((user, current)) = self.owner().await? else {
            return Ok(false);
        };
        if current.as_deref() == Some(id) {
            self.logout().await?;
            return Ok(true);
        }
        let ended = self
            .backend
            .end_entries(&self.auth, &user, Which::One(id), true)
            .await?;
        Ok(ended > 0)
    }

    /// Ends every session of the logged-in user but this one ("log out other devices"), and
    /// revokes every remember-me token of theirs. Answers how many sessions ended.
    ///
    /// A cross-site request is refused with [`AuthError::CrossSiteRequest`].
    pub async fn end_other_sessions(&mut self) -> Result<usize, AuthError> {
        self.auth.check_same_site()?;
        let Some((user, current)) = self.owner().await? else {
            return Ok(0);
        };
        let which = match &current {
            Some(current) => Which::AllBut(current),
            None => Which::All,
        };
        let ended = self
            .backend
            .end_entries(&self.auth, &user, which, true)
            .await?;
        self.revoke_remembered_tokens(&user).await?;
        Ok(ended)
    }

    /// Ends every session of the user with `id` (an admin's action, or after a compromise),
    /// this one too if it is theirs, and revokes their remember-me tokens. Answers how many
    /// registered sessions ended. The app decides who may call it.
    ///
    /// A cross-site request is refused with [`AuthError::CrossSiteRequest`].
    pub async fn end_all_sessions(&mut self, id: &UserId<S>) -> Result<usize, AuthError> {
        self.auth.check_same_site()?;
        let user = id.to_string();
        let own = self
            .user()
            .await?
            .is_some_and(|current| current.id().to_string() == user);
        let ended = self
            .backend
            .end_entries(&self.auth, &user, Which::All, true)
            .await?;
        self.revoke_remembered_tokens(&user).await?;
        if own {
            self.auth.session().flush().await?;
            self.auth.set_login(None).await;
        }
        Ok(ended)
    }

    /// The logged-in user's id and this session's entry.
    async fn owner(&self) -> Result<Option<(String, Option<String>)>, AuthError> {
        let Some(user) = self.user().await? else {
            return Ok(None);
        };
        let entry = self.current_record().await?.and_then(|record| record.entry);
        Ok(Some((user.id().to_string(), entry)))
    }

    async fn revoke_remembered_tokens(&self, user: &str) -> Result<(), AuthError> {
        if let Some(remember) = &self.auth.config().remember {
            remember
                .store
                .remove_user(user)
                .await
                .map_err(AuthError::Registry)?;
        }
        Ok(())
    }
}
