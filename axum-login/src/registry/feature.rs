//! The session registry as a [`Feature`] of the layer: it registers each login, follows the
//! session across id changes, records visits, and ends sessions; and what
//! [`AuthSession`] offers on it (listing and ending a user's sessions).

use std::{
    any::Any,
    net::IpAddr,
    time::{Duration, SystemTime},
};

use tower_sessions::SessionStore;
use tower_sessions::service::CookieController;

use super::{
    Admission, Binding, RegistryConfig, SessionEntry, Which, new_entry_id, short_user_agent,
};
use crate::{
    AuthError, AuthSession, AuthUser, UserStore,
    events::AuthEvent,
    layer::AuthLayerBuilder,
    login::{Change, EndedSession, Feature, Logout, NewLogin, RequestAuth, StoreCheck},
    store::UserId,
};

/// How long an entry is kept when logins have no absolute timeout.
const ENTRY_LIFETIME_WITHOUT_TIMEOUT: Duration = Duration::from_secs(400 * 24 * 60 * 60);

impl<S: UserStore, SS: SessionStore, C: CookieController> AuthLayerBuilder<S, SS, C> {
    /// Keeps a registry of each user's sessions, so they can be listed and ended (see
    /// [`registry`](crate::registry)). Default: none.
    pub fn session_registry(self, registry: RegistryConfig) -> Self {
        self.feature(registry)
    }
}

impl RegistryConfig {
    /// Ends the entries of `user` that `which` names: deletes their sessions, tells the
    /// other features (remember-me revokes the token that made the session), and reports
    /// each as ended when `report` (a logout reports itself instead). Answers how many ended.
    async fn end(
        &self,
        auth: &RequestAuth,
        user: &str,
        which: Which<'_>,
        report: bool,
    ) -> Result<usize, AuthError> {
        let removed = self
            .registry
            .remove(user, which)
            .await
            .map_err(AuthError::Registry)?;
        end_removed(auth, user, &removed, report).await?;
        Ok(removed.len())
    }
}

/// Ends the sessions of entries already taken out of the registry.
async fn end_removed(
    auth: &RequestAuth,
    user: &str,
    removed: &[SessionEntry],
    report: bool,
) -> Result<(), AuthError> {
    let config = auth.config();
    for entry in removed {
        if let (Some(session_id), Some(deleter)) = (&entry.session_id, &config.session_deleter) {
            deleter
                .delete(session_id)
                .await
                .map_err(AuthError::Registry)?;
        }
        let ended = EndedSession {
            link: entry.remember.as_deref(),
        };
        config.features.session_ended(auth, &ended).await?;
        if report {
            config.emit(
                AuthEvent::SessionEnded {
                    user: user.to_owned(),
                    entry: entry.id.clone(),
                },
                auth.client(),
            );
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Feature for RegistryConfig {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stores(&self) -> Vec<StoreCheck<'_>> {
        vec![StoreCheck {
            name: "registry",
            check: self.registry.ping(),
        }]
    }

    fn visit_interval(&self) -> Option<Duration> {
        Some(self.touch_interval)
    }

    /// Whether the registry still has the session's entry, recording that it was used now; a
    /// session without an entry always passes.
    async fn visit(&self, user: &str, entry: Option<&str>, at: SystemTime) -> bool {
        let Some(entry) = entry else {
            return true;
        };
        match self.registry.touch(user, entry, at).await {
            Ok(found) => found,
            Err(error) => {
                // An unreachable registry does not log everyone out; ending sessions by id
                // does not depend on this path.
                tracing::error!(%error, "the session registry could not record a visit");
                true
            }
        }
    }

    /// Registers the new login, making room or refusing it by the user's session limit.
    async fn register(
        &self,
        auth: &RequestAuth,
        login: &NewLogin<'_>,
    ) -> Result<Option<String>, AuthError> {
        let config = auth.config();
        let now = config.clock.now();
        let lifetime = config
            .absolute_timeout
            .unwrap_or(ENTRY_LIFETIME_WITHOUT_TIMEOUT);
        let entry = SessionEntry {
            id: new_entry_id(),
            user: login.user.to_owned(),
            session_id: None,
            created_at: now,
            last_seen: now,
            address: auth.client(),
            user_agent: auth.user_agent().and_then(short_user_agent),
            expires_at: now + lifetime,
            remember: login.link.map(str::to_owned),
        };
        // Counting the user's sessions and adding this one is one step of the registry's:
        // logins racing each other cannot all find room.
        let Some(limit) = self.max_sessions else {
            self.registry
                .add(&entry)
                .await
                .map_err(AuthError::Registry)?;
            return Ok(Some(entry.id));
        };
        match self
            .registry
            .add_within(&entry, limit)
            .await
            .map_err(AuthError::Registry)?
        {
            Admission::Refused => Err(AuthError::SessionLimit),
            Admission::Added(ended) => {
                end_removed(auth, &entry.user, &ended, true).await?;
                Ok(Some(entry.id))
            }
        }
    }

    /// The registry follows the session across the id change the login makes.
    async fn installed(
        &self,
        auth: &RequestAuth,
        user: &str,
        entry: Option<&str>,
    ) -> Result<(), AuthError> {
        if let Some(entry) = entry {
            self.follow(auth, user, entry);
        }
        Ok(())
    }

    async fn linked(&self, user: &str, entry: &str, link: &str) -> Result<(), AuthError> {
        self.registry
            .set_remember(user, entry, link)
            .await
            .map_err(AuthError::Registry)?;
        Ok(())
    }

    async fn logged_out(&self, auth: &RequestAuth, logout: &Logout<'_>) -> Result<(), AuthError> {
        if let (Some(user), Some(entry)) = (logout.user, logout.entry) {
            self.end(auth, user, Which::One(entry), false).await?;
        }
        Ok(())
    }

    /// Takes a session the core ended off the registry. The session ends whatever the
    /// registry says; a stale entry only lingers in the user's list until the registry
    /// forgets it.
    async fn login_ended(&self, user: &str, entry: &str) {
        if let Err(error) = self.registry.remove(user, Which::One(entry)).await {
            tracing::warn!(%error, "could not take an ended session off the session registry");
        }
    }

    async fn changed(
        &self,
        auth: &RequestAuth,
        user: &str,
        change: Change<'_>,
    ) -> Result<(), AuthError> {
        match change {
            // The other sessions would end at their next request anyway (their digest is
            // stale); ending them now also takes them off the user's list of sessions.
            Change::Password { keep: Some(keep) } => {
                self.end(auth, user, Which::AllBut(keep), false).await?;
            }
            Change::Stolen => {
                self.end(auth, user, Which::All, true).await?;
            }
            Change::Password { keep: None } | Change::SecondFactors | Change::SessionsEnded => {}
        }
        Ok(())
    }
}

impl RegistryConfig {
    /// Has the session layer tell the registry the id this request's session is saved under,
    /// and delete the session instead if its entry was ended meanwhile, or if another request
    /// on the same session recorded its own new id first (the entry would not know this one,
    /// and ending the entry would leave it alive).
    fn follow(&self, auth: &RequestAuth, user: &str, entry: &str) {
        let registry = self.registry.clone();
        let previous = auth.incoming_session_id().map(|id| id.to_string());
        let (user, entry) = (user.to_owned(), entry.to_owned());
        auth.set_after_save(Box::new(move |session_id| {
            Box::pin(async move {
                let binding = Binding {
                    user: &user,
                    id: &entry,
                    previous: previous.as_deref(),
                    session_id: &session_id,
                };
                match registry.bind(&binding).await {
                    Ok(bound) => bound,
                    Err(error) => {
                        // The login stands; the registry will not be able to end it by id
                        // until its next login.
                        tracing::error!(%error, "the session registry could not record a session id");
                        true
                    }
                }
            })
        }));
    }
}

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
    fn registry(&self) -> Option<&RegistryConfig> {
        self.auth.config().features.get::<RegistryConfig>()
    }

    /// The logged-in user's sessions, oldest first, this one marked
    /// [`current`](SessionInfo::current); empty for an anonymous visitor or without a
    /// [session registry](crate::layer::AuthLayerBuilder::session_registry).
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, AuthError> {
        let (Some(registry), Some(record)) = (self.registry(), self.current_record().await?) else {
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
        let Some(registry) = self.registry() else {
            return Ok(false);
        };
        let ended = registry
            .end(&self.auth, &user, Which::One(id), true)
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
        let ended = match self.registry() {
            Some(registry) => registry.end(&self.auth, &user, which, true).await?,
            None => 0,
        };
        self.auth
            .config()
            .features
            .changed(&self.auth, &user, Change::SessionsEnded)
            .await?;
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
        let ended = match self.registry() {
            Some(registry) => registry.end(&self.auth, &user, Which::All, true).await?,
            None => 0,
        };
        self.auth
            .config()
            .features
            .changed(&self.auth, &user, Change::SessionsEnded)
            .await?;
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
}
