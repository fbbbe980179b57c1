//! The steps a login takes besides the session record, shared by [`AuthSession`]'s calls and
//! the remembered visit on the load path: registering the session, following its id,
//! remember-me tokens, and ending other sessions.
//!
//! [`AuthSession`]: super::AuthSession

use std::{sync::Arc, time::Duration};

use super::{
    backend::{Backend, Login},
    record::{LoginRecord, PENDING_KEY, PendingRecord, SESSION_KEY},
    request::RequestAuth,
};
use crate::{
    AuthError, AuthUser, UserStore,
    events::{AuthEvent, LoginMethod},
    registry::{Admission, SessionEntry, Which, new_entry_id, short_user_agent},
    remember::{self, RememberToken},
    security::SessionKey,
};

/// How long a registry entry is kept when logins have no absolute timeout.
const ENTRY_LIFETIME_WITHOUT_TIMEOUT: Duration = Duration::from_secs(400 * 24 * 60 * 60);

impl<S: UserStore> Backend<S> {
    /// Registers a new login of `user` in the session registry, making room or refusing it
    /// by the user's session limit; the new entry's id, when there is a registry.
    pub(crate) async fn register(
        &self,
        auth: &RequestAuth,
        user: &S::User,
        remember: Option<String>,
    ) -> Result<Option<String>, AuthError> {
        let Some(registry) = &self.config.registry else {
            return Ok(None);
        };
        let user_key = user.id().to_string();
        let now = self.config.clock.now();
        let lifetime = self
            .config
            .absolute_timeout
            .unwrap_or(ENTRY_LIFETIME_WITHOUT_TIMEOUT);
        let entry = SessionEntry {
            id: new_entry_id(),
            user: user_key,
            session_id: None,
            created_at: now,
            last_seen: now,
            address: auth.client(),
            user_agent: auth.user_agent().and_then(short_user_agent),
            expires_at: now + lifetime,
            remember,
        };
        // Counting the user's sessions and adding this one is one step of the registry's:
        // logins racing each other cannot all find room.
        let Some((max, on_limit)) = registry.max_sessions else {
            registry
                .registry
                .add(&entry)
                .await
                .map_err(AuthError::Registry)?;
            return Ok(Some(entry.id));
        };
        match registry
            .registry
            .add_within(&entry, max, on_limit)
            .await
            .map_err(AuthError::Registry)?
        {
            Admission::Refused => Err(AuthError::SessionLimit),
            Admission::Added(ended) => {
                self.end_removed(auth, &entry.user, &ended, true).await?;
                Ok(Some(entry.id))
            }
        }
    }

    /// Has the session layer tell the registry the id this request's session is saved under,
    /// and delete the session instead if its entry was ended meanwhile, or if another request
    /// on the same session recorded its own new id first (the entry would not know this one,
    /// and ending the entry would leave it alive).
    pub(crate) fn follow_session_id(&self, auth: &RequestAuth, user: String, entry: String) {
        let Some(registry) = &self.config.registry else {
            return;
        };
        let registry = registry.registry.clone();
        let previous = auth.incoming_session_id().map(|id| id.to_string());
        auth.set_after_save(Box::new(move |session_id| {
            Box::pin(async move {
                match registry
                    .bind(&user, &entry, previous.as_deref(), &session_id)
                    .await
                {
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

    /// Whether the registry still has the record's entry, recording that it was used now; a
    /// session without an entry, or without a registry, always passes.
    pub(crate) async fn touch_entry(
        &self,
        record: &LoginRecord<<S::User as AuthUser>::Id>,
        now_secs: u64,
    ) -> bool {
        let (Some(registry), Some(entry)) = (&self.config.registry, &record.entry) else {
            return true;
        };
        let at = crate::clock::from_unix_seconds(now_secs);
        match registry
            .registry
            .touch(&record.user_id.to_string(), entry, at)
            .await
        {
            Ok(found) => found,
            Err(error) => {
                // An unreachable registry does not log everyone out; ending sessions by id
                // does not depend on this path.
                tracing::error!(%error, "the session registry could not record a visit");
                true
            }
        }
    }

    /// Ends the entries of `user` that `which` names: deletes their sessions and remember-me
    /// tokens, and reports each as ended when `report` (a logout reports itself instead).
    /// Answers how many ended.
    pub(crate) async fn end_entries(
        &self,
        auth: &RequestAuth,
        user: &str,
        which: Which<'_>,
        report: bool,
    ) -> Result<usize, AuthError> {
        let Some(registry) = &self.config.registry else {
            return Ok(0);
        };
        let removed = registry
            .registry
            .remove(user, which)
            .await
            .map_err(AuthError::Registry)?;
        self.end_removed(auth, user, &removed, report).await?;
        Ok(removed.len())
    }

    /// Deletes the sessions and remember-me tokens of entries already taken out of the
    /// registry, reporting each as ended when `report`.
    async fn end_removed(
        &self,
        auth: &RequestAuth,
        user: &str,
        removed: &[SessionEntry],
        report: bool,
    ) -> Result<(), AuthError> {
        for entry in removed {
            if let (Some(session_id), Some(deleter)) =
                (&entry.session_id, &self.config.session_deleter)
            {
                deleter
                    .delete(session_id)
                    .await
                    .map_err(AuthError::Registry)?;
            }
            if let (Some(selector), Some(remember)) = (&entry.remember, &self.config.remember) {
                remember
                    .store
                    .remove(selector)
                    .await
                    .map_err(AuthError::Registry)?;
            }
            if report {
                self.config.emit(
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

    /// Gives the browser a remember-me token for `user`, recording whether the login completed
    /// a second factor; answers the token's selector as the stores keep it.
    pub(crate) async fn issue_remember_token(
        &self,
        auth: &RequestAuth,
        user: &S::User,
        after_second_factor: bool,
    ) -> Result<Option<String>, AuthError> {
        let Some(remember) = &self.config.remember else {
            return Ok(None);
        };
        let (selector, validator) = remember::new_secrets(after_second_factor);
        let stored = stored_selector(&self.config.key, &selector);
        let now = self.config.clock.now();
        let token = RememberToken {
            selector: stored.clone(),
            user: user.id().to_string(),
            validator_hash: validator_hash(&self.config.key, &selector, &validator),
            previous_hash: None,
            rotated_at: now,
            expires_at: now + remember.lifetime,
        };
        remember
            .store
            .insert(&token)
            .await
            .map_err(AuthError::Registry)?;
        // The session's registry entry learns the token, so ending the entry revokes it.
        let entry = match auth.session().get_value(SESSION_KEY).await? {
            Some(value) => LoginRecord::<<S::User as AuthUser>::Id>::from_value(value)
                .ok()
                .and_then(|record| record.entry),
            None => None,
        };
        if let (Some(registry), Some(entry)) = (&self.config.registry, entry) {
            registry
                .registry
                .set_remember(&token.user, &entry, &stored)
                .await
                .map_err(AuthError::Registry)?;
        }
        auth.add_cookie(self.remember_cookie(
            auth,
            &remember::cookie_value(&selector, &validator),
            remember.lifetime,
        ));
        Ok(Some(stored))
    }

    /// The `Set-Cookie` value of the remember-me cookie; a `max_age` of zero removes it.
    fn remember_cookie(&self, auth: &RequestAuth, value: &str, max_age: Duration) -> String {
        let secure = auth.secure();
        let name = if secure {
            remember::COOKIE_SECURE
        } else {
            remember::COOKIE_PLAIN
        };
        let secure = if secure { "; Secure" } else { "" };
        format!(
            "{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
            max_age.as_secs()
        )
    }

    /// The request's remember-me cookie, if it has one.
    pub(crate) fn remember_cookie_value<'a>(&self, auth: &'a RequestAuth) -> Option<&'a str> {
        self.config.remember.as_ref()?;
        let name = if auth.secure() {
            remember::COOKIE_SECURE
        } else {
            remember::COOKIE_PLAIN
        };
        auth.cookie(name)
    }

    /// Revokes this browser's remember-me token, or every token of `user` when `all`, and
    /// removes the browser's cookie.
    pub(crate) async fn forget_remembered(
        &self,
        auth: &RequestAuth,
        user: &str,
        all: bool,
    ) -> Result<(), AuthError> {
        let Some(remember) = &self.config.remember else {
            return Ok(());
        };
        if all {
            remember
                .store
                .remove_user(user)
                .await
                .map_err(AuthError::Registry)?;
        }
        if let Some(value) = self.remember_cookie_value(auth) {
            if let Some((selector, _)) = remember::parse_cookie(value) {
                remember
                    .store
                    .remove(&stored_selector(&self.config.key, selector))
                    .await
                    .map_err(AuthError::Registry)?;
            }
            auth.add_cookie(self.remember_cookie(auth, "", Duration::ZERO));
        }
        Ok(())
    }

    /// A visitor without a login who carries a remember-me cookie: checks and rotates it, and
    /// logs them in on a new session. The validator that the last rotation replaced coming
    /// back after the grace is a stolen cookie: all of the user's remember-me tokens and
    /// sessions end. Any other validator proves nothing (anyone who learnt a selector can
    /// make one up), so it only loses its cookie, as an unknown selector does.
    pub(crate) async fn remembered_login(
        &self,
        auth: &RequestAuth,
    ) -> Result<Option<Login>, AuthError> {
        let Some(value) = self.remember_cookie_value(auth) else {
            return Ok(None);
        };
        let Some(remember) = &self.config.remember else {
            return Ok(None);
        };
        let forget_cookie = || auth.add_cookie(self.remember_cookie(auth, "", Duration::ZERO));
        let Some((selector, validator)) = remember::parse_cookie(value) else {
            forget_cookie();
            return Ok(None);
        };
        // Both digests before the lookup: an unknown selector and a wrong validator do the
        // same work (two keyed hashes, one read) and answer alike.
        let stored = stored_selector(&self.config.key, selector);
        let presented = validator_hash(&self.config.key, selector, validator);
        let Some(token) = remember
            .store
            .get(&stored)
            .await
            .map_err(AuthError::Registry)?
        else {
            forget_cookie();
            return Ok(None);
        };
        let now = self.config.clock.now();
        // The store drops expired tokens by its own clock; the layer's decides.
        if token.expires_at <= now {
            forget_cookie();
            return Ok(None);
        }
        let current = constant_time_eq(&presented, &token.validator_hash);
        let previous = token
            .previous_hash
            .as_deref()
            .is_some_and(|previous| constant_time_eq(&presented, previous));
        let within_grace = now
            .duration_since(token.rotated_at)
            .is_ok_and(|since| since <= remember.grace);
        // Read only once the validator is known to be the token's: the flag is in it.
        let after_second_factor = remember::after_second_factor(validator);
        let rotated_validator = if current {
            let (_, new_validator) = remember::new_secrets(after_second_factor);
            let new_hash = validator_hash(&self.config.key, selector, &new_validator);
            let rotated = remember
                .store
                .rotate(&stored, &presented, &new_hash, now)
                .await
                .map_err(AuthError::Registry)?;
            // Lost a race with another request of this browser rotating it: that one's new
            // cookie stands, and this visit logs in on the old one within the grace.
            rotated.then_some(new_validator)
        } else if previous && within_grace {
            None
        } else if previous {
            // Only the holder of a copy of the cookie from before the rotation can present
            // this validator, and the browser that rotated it holds the new one: two
            // browsers share the token.
            self.remember_theft(auth, &token.user).await?;
            forget_cookie();
            return Ok(None);
        } else {
            forget_cookie();
            return Ok(None);
        };
        let Ok(id) = token.user.parse_id::<S>() else {
            forget_cookie();
            return Ok(None);
        };
        let Some(user) = self.loader.store_load(&id).await? else {
            forget_cookie();
            return Ok(None);
        };
        if !user.is_active() {
            forget_cookie();
            return Ok(None);
        }
        if !after_second_factor && self.has_second_factor(&token.user).await? {
            self.remembered_first_factor(auth, &user, &stored).await?;
            forget_cookie();
            return Ok(None);
        }
        if let Some(new_validator) = rotated_validator {
            let left = token
                .expires_at
                .duration_since(now)
                .unwrap_or(Duration::ZERO);
            auth.add_cookie(self.remember_cookie(
                auth,
                &remember::cookie_value(selector, &new_validator),
                left,
            ));
        }
        // A new session, under a new id: whatever the visitor had was anonymous.
        let session = auth.session();
        if session.id().is_some() {
            session.cycle_id().await?;
        }
        let mut record = self.record_for(&user);
        record.remembered = true;
        record.entry = self.register(auth, &user, Some(stored)).await?;
        if let Some(entry) = &record.entry {
            self.follow_session_id(auth, user.id().to_string(), entry.clone());
        }
        let login = Login::of(Arc::new(user.clone()), &record);
        session.insert(SESSION_KEY, record).await?;
        self.config.emit(
            AuthEvent::RememberUsed {
                user: user.id().to_string(),
            },
            auth.client(),
        );
        self.config.emit(
            AuthEvent::LoggedIn {
                user: user.id().to_string(),
                method: LoginMethod::RememberMe,
            },
            auth.client(),
        );
        Ok(Some(login))
    }

    /// Whether the app says `user` has a second factor; `false` when it does not say.
    pub(crate) async fn has_second_factor(&self, user: &str) -> Result<bool, AuthError> {
        match &self.config.second_factors {
            Some(lookup) => lookup
                .has_second_factor(user)
                .await
                .map_err(AuthError::Store),
            None => Ok(false),
        }
    }

    /// A remembered visit of a user with a second factor, from a token that was not issued
    /// after one: the token is used up and the visit is left where a right password leaves
    /// it, waiting for the second factor, whose completion gives a new token.
    async fn remembered_first_factor(
        &self,
        auth: &RequestAuth,
        user: &S::User,
        stored_selector: &str,
    ) -> Result<(), AuthError> {
        if let Some(remember) = &self.config.remember {
            remember
                .store
                .remove(stored_selector)
                .await
                .map_err(AuthError::Registry)?;
        }
        let session = auth.session();
        if session.id().is_some() {
            session.cycle_id().await?;
        }
        let pending = PendingRecord {
            user_id: user.id(),
            digest: self.config.key.user_digest(&self.config.realm, user),
            at: crate::clock::unix_seconds(self.config.clock.now()),
            account: None,
            remember: true,
            remembered: true,
        };
        session.insert(PENDING_KEY, pending).await?;
        Ok(())
    }

    /// A stolen remember-me cookie came back: every token and session of `user` ends.
    async fn remember_theft(&self, auth: &RequestAuth, user: &str) -> Result<(), AuthError> {
        tracing::warn!(user_id = %crate::security::printable(user), "a replaced remember-me cookie came back: ending every session of the user");
        if let Some(remember) = &self.config.remember {
            remember
                .store
                .remove_user(user)
                .await
                .map_err(AuthError::Registry)?;
        }
        self.end_entries(auth, user, Which::All, true).await?;
        self.config.emit(
            AuthEvent::RememberTheft {
                user: user.to_owned(),
            },
            auth.client(),
        );
        Ok(())
    }

    /// The login a test asked for (feature `test-util`): the user with that id, loaded from the
    /// store, logged in just now, with no session written.
    #[cfg(feature = "test-util")]
    pub(crate) async fn test_login(
        &self,
        login: &crate::test_util::LoginAs,
    ) -> Result<Option<Login>, AuthError> {
        let Ok(id) = serde_json::from_value::<<S::User as AuthUser>::Id>(login.id.clone()) else {
            return Ok(None);
        };
        let Some(user) = self.loader.store_load(&id).await? else {
            return Ok(None);
        };
        let mut record = self.record_for(&user);
        record.second_factor_at = login.second_factor.then_some(record.login_at);
        Ok(Some(Login::of(Arc::new(user), &record)))
    }
}

/// The form a remember-me store keeps a selector in, and finds the token by: a keyed hash, so
/// that whoever reads the store (or the registry, which keeps the selector of a remembered
/// session) learns no selector to put into a cookie.
fn stored_selector(key: &SessionKey, selector: &str) -> String {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(key.tag("axum-login remember-me selector", &[selector.as_bytes()]))
}

/// The keyed hash a remember-me store keeps of a validator.
fn validator_hash(key: &SessionKey, selector: &str, validator: &str) -> String {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(key.tag(
        "axum-login remember-me validator",
        &[selector.as_bytes(), validator.as_bytes()],
    ))
}

/// Whether two hashes are equal, in time that does not depend on where they differ.
fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Reading a user id back from its text form, for tokens that keep it as text.
trait ParseId {
    fn parse_id<S: UserStore>(&self) -> Result<<S::User as AuthUser>::Id, ()>;
}

impl ParseId for String {
    fn parse_id<S: UserStore>(&self) -> Result<<S::User as AuthUser>::Id, ()> {
        // Ids are serde types: a number reads from its digits, a string from itself.
        serde_json::from_str(self)
            .or_else(|_| serde_json::from_value(serde_json::Value::String(self.clone())))
            .map_err(|_| ())
    }
}
