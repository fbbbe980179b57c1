//! Remember-me as a [`Feature`] of the layer: it recognises a visitor without a login by
//! their cookie (checking and rotating it), gives the cookie at a login that asked for it,
//! and revokes tokens when the login ends or what it rests on changes.

use std::{any::Any, time::Duration};

use tower_sessions::{SessionStore, service::CookieController};

use super::{
    COOKIE_PLAIN, COOKIE_SECURE, RememberMe, RememberToken, Rotation, after_second_factor,
    cookie_value, new_secrets, parse_cookie,
};
use crate::{
    AuthError, AuthSession, AuthUser, UserStore,
    events::{AuthEvent, LoginMethod},
    layer::AuthLayerBuilder,
    login::{
        Change, EndedSession, Feature, Logout, NewLogin, RequestAuth, Restored, StoreCheck, Verdict,
    },
    security::{Keyed, Verified},
};

impl<S: UserStore, SS: SessionStore, C: CookieController> AuthLayerBuilder<S, SS, C> {
    /// Offers remember-me: a login asked to be remembered
    /// ([`AuthSession::remember_me`]) outlives its session cookie (see
    /// [`remember`](crate::remember)). Default: off.
    pub fn remember_me(self, remember: RememberMe) -> Self {
        self.feature(remember)
    }
}

impl<S: UserStore> AuthSession<S> {
    /// Gives this browser a remember-me cookie for the user logged in on this request, so the
    /// login outlives the session cookie (see [`remember`](crate::remember)); call it after
    /// [`login`](Self::login) when the user asked to be remembered. `false` when the layer
    /// has no [`remember_me`](crate::layer::AuthLayerBuilder::remember_me) or nobody is logged
    /// in.
    ///
    /// The token records whether this session completed a second factor: one that did not is
    /// only the first factor for a user who has a second factor (see
    /// [`remember`](crate::remember)). A login that waits for a second factor
    /// ([`begin_second_factor`](Self::begin_second_factor)) carries the choice through instead.
    pub async fn remember_me(&mut self) -> Result<bool, AuthError> {
        let Some(remember) = self.auth.config().features.get::<RememberMe>() else {
            return Ok(false);
        };
        let Some(user) = self.user().await? else {
            return Ok(false);
        };
        let after_second_factor = self.has_second_factor().await?;
        let entry = self.current_record().await?.and_then(|record| record.entry);
        remember
            .issue(
                &self.auth,
                &user.id().to_string(),
                after_second_factor,
                entry.as_deref(),
            )
            .await?;
        Ok(true)
    }
}

/// What [`RememberMe::restore`] keeps for its [`settle`](Feature::settle).
struct Presented {
    /// The cookie's selector, as it came.
    selector: String,
    /// The selector as the store keeps it.
    stored: String,
    /// The validator the cookie rotates to, when this visit rotated it.
    rotated: Option<String>,
    /// When the token ends.
    expires_at: std::time::SystemTime,
}

impl RememberMe {
    /// Gives the browser a token for `user`, recording whether the login completed a second
    /// factor, and links it to the session's registry entry, so ending the entry revokes it.
    async fn issue(
        &self,
        auth: &RequestAuth,
        user: &str,
        after_second_factor: bool,
        entry: Option<&str>,
    ) -> Result<(), AuthError> {
        let config = auth.config();
        let (selector, validator) = new_secrets(after_second_factor);
        let key = config.key.current();
        let stored = stored_selector(key, &selector);
        let now = config.clock.now();
        let token = RememberToken {
            selector: stored.clone(),
            user: user.to_owned(),
            validator_hash: validator_hash(key, &selector, &validator),
            previous_hash: None,
            rotated_at: now,
            expires_at: now + self.lifetime,
        };
        self.store
            .insert(&token)
            .await
            .map_err(AuthError::Registry)?;
        if let Some(entry) = entry {
            config.features.linked(user, entry, &stored).await?;
        }
        auth.add_cookie(cookie(
            auth,
            &cookie_value(&selector, &validator),
            self.lifetime,
        ));
        Ok(())
    }

    /// Revokes this browser's token, or every token of `user` when `all`, and removes the
    /// browser's cookie.
    async fn forget(&self, auth: &RequestAuth, user: &str, all: bool) -> Result<(), AuthError> {
        if all {
            self.store
                .remove_user(user)
                .await
                .map_err(AuthError::Registry)?;
        }
        if let Some(value) = presented_cookie(auth) {
            if let Some((selector, _)) = parse_cookie(value) {
                let config = auth.config();
                // Under each key of the ring: a token from before a rotation not yet used
                // since is kept under the previous key.
                for (key, _) in config.key.verifying(config.clock.now()) {
                    self.store
                        .remove(&stored_selector(key, selector))
                        .await
                        .map_err(AuthError::Registry)?;
                }
            }
            forget_cookie(auth);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Feature for RememberMe {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stores(&self) -> Vec<StoreCheck<'_>> {
        vec![StoreCheck {
            name: "remember_me",
            check: self.store.ping(),
        }]
    }

    /// A remembered visitor logs in on a `GET`, whose cookies the layer otherwise drops.
    fn reads_cookies(&self) -> bool {
        true
    }

    /// A visitor without a login who carries a remember-me cookie: checks and rotates it. The
    /// validator that the last rotation replaced coming back after the grace is a stolen
    /// cookie: all of the user's remember-me tokens and sessions end. Any other validator
    /// proves nothing (anyone who learnt a selector can make one up), so it only loses its
    /// cookie, as an unknown selector does.
    async fn restore(&self, auth: &RequestAuth) -> Result<Option<Restored>, AuthError> {
        let Some(value) = presented_cookie(auth) else {
            return Ok(None);
        };
        let Some((selector, validator)) = parse_cookie(value) else {
            forget_cookie(auth);
            return Ok(None);
        };
        let config = auth.config();
        let now = config.clock.now();
        // Under the current key, then the others of the ring (a token issued before a
        // rotation and not used since, or by an instance that signs under the next key), both digests before each lookup: an unknown selector
        // and a wrong validator do the same work (two keyed hashes and one read per key) and
        // answer alike.
        let mut found = None;
        for (key, verified) in config.key.verifying(now) {
            let stored = stored_selector(key, selector);
            let presented = validator_hash(key, selector, validator);
            if let Some(token) = self.store.get(&stored).await.map_err(AuthError::Registry)? {
                found = Some((
                    key,
                    verified == Verified::Previous,
                    stored,
                    presented,
                    token,
                ));
                break;
            }
        }
        let Some((key, migrating, stored, presented, token)) = found else {
            forget_cookie(auth);
            return Ok(None);
        };
        // The store drops expired tokens by its own clock; the layer's decides.
        if token.expires_at <= now {
            forget_cookie(auth);
            return Ok(None);
        }
        let current = constant_time_eq(&presented, &token.validator_hash);
        let previous = token
            .previous_hash
            .as_deref()
            .is_some_and(|previous| constant_time_eq(&presented, previous));
        let within_grace = now
            .duration_since(token.rotated_at)
            .is_ok_and(|since| since <= self.grace);
        // Read only once the validator is known to be the token's: the flag is in it.
        let after_second_factor = after_second_factor(validator);
        let rotated = if current {
            let (_, new_validator) = new_secrets(after_second_factor);
            let new_hash = validator_hash(key, selector, &new_validator);
            let rotation = Rotation {
                selector: &stored,
                current_hash: &presented,
                new_hash: &new_hash,
                at: now,
            };
            let rotated = self
                .store
                .rotate(&rotation)
                .await
                .map_err(AuthError::Registry)?;
            if rotated && migrating {
                self.migrate(auth, selector, validator, &new_validator, &stored, &token)
                    .await?;
            }
            // Lost a race with another request of this browser rotating it: that one's
            // new cookie stands, and this visit logs in on the old one within the grace.
            rotated.then_some(new_validator)
        } else if previous && within_grace {
            None
        } else if previous {
            // Only the holder of a copy of the cookie from before the rotation can
            // present this validator, and the browser that rotated it holds the new one:
            // two browsers share the token.
            self.theft(auth, &token.user).await?;
            forget_cookie(auth);
            return Ok(None);
        } else {
            forget_cookie(auth);
            return Ok(None);
        };
        // A token under a previous key moves to the current key's selector (above, by
        // whichever request of the browser won the rotation): the session links to it there.
        let stored = if migrating {
            stored_selector(config.key.current(), selector)
        } else {
            stored
        };
        Ok(Some(Restored {
            event: Some(AuthEvent::RememberUsed {
                user: token.user.clone(),
            }),
            user: token.user,
            method: LoginMethod::RememberMe,
            second_factor: after_second_factor,
            remember: true,
            link: Some(stored.clone()),
            state: Box::new(Presented {
                selector: selector.to_owned(),
                stored,
                rotated,
                expires_at: token.expires_at,
            }),
        }))
    }

    /// A visitor the core logged in gets the rotated cookie; one it refused loses the cookie;
    /// one that must still give a second factor uses the token up (completing the second
    /// factor gives a new one) and loses the cookie.
    async fn settle(
        &self,
        auth: &RequestAuth,
        restored: &Restored,
        verdict: Verdict,
    ) -> Result<(), AuthError> {
        let Some(presented) = restored.state.downcast_ref::<Presented>() else {
            return Ok(());
        };
        match verdict {
            Verdict::LoggedIn => {
                if let Some(validator) = &presented.rotated {
                    let left = presented
                        .expires_at
                        .duration_since(auth.config().clock.now())
                        .unwrap_or(Duration::ZERO);
                    auth.add_cookie(cookie(
                        auth,
                        &cookie_value(&presented.selector, validator),
                        left,
                    ));
                }
            }
            Verdict::FirstFactorOnly => {
                self.store
                    .remove(&presented.stored)
                    .await
                    .map_err(AuthError::Registry)?;
                forget_cookie(auth);
            }
            Verdict::Refused => forget_cookie(auth),
        }
        Ok(())
    }

    /// A login whose visitor asked to be remembered, completed by a second factor (a login
    /// that needs none asks with [`AuthSession::remember_me`]).
    async fn logged_in(&self, auth: &RequestAuth, login: &NewLogin<'_>) -> Result<(), AuthError> {
        if login.remember {
            self.issue(auth, login.user, login.second_factor, login.entry)
                .await?;
        }
        Ok(())
    }

    async fn logged_out(&self, auth: &RequestAuth, logout: &Logout<'_>) -> Result<(), AuthError> {
        match logout.user {
            Some(user) => self.forget(auth, user, false).await,
            None => Ok(()),
        }
    }

    async fn changed(
        &self,
        auth: &RequestAuth,
        user: &str,
        change: Change<'_>,
    ) -> Result<(), AuthError> {
        match change {
            // A token issued under the old password or second factors must not log in
            // under the new ones.
            Change::Password { .. } | Change::SecondFactors => self.forget(auth, user, true).await,
            Change::SessionsEnded | Change::Stolen => self
                .store
                .remove_user(user)
                .await
                .map_err(AuthError::Registry),
        }
    }

    /// The token that made an ended session is revoked with it.
    async fn session_ended(
        &self,
        _auth: &RequestAuth,
        ended: &EndedSession<'_>,
    ) -> Result<(), AuthError> {
        if let Some(selector) = ended.link {
            self.store
                .remove(selector)
                .await
                .map_err(AuthError::Registry)?;
        }
        Ok(())
    }
}

impl RememberMe {
    /// Moves a token found under a previous key of the ring, which this request just rotated
    /// from `validator` to `new_validator`, to the current key: a new entry under the current
    /// key's selector, whose previous validator is the one presented (so another request of
    /// the browser still holding it logs in within the grace, and a copy presented after it
    /// is a theft as before), then the old entry goes.
    async fn migrate(
        &self,
        auth: &RequestAuth,
        selector: &str,
        validator: &str,
        new_validator: &str,
        stored: &str,
        token: &RememberToken,
    ) -> Result<(), AuthError> {
        let config = auth.config();
        let key = config.key.current();
        let moved = RememberToken {
            selector: stored_selector(key, selector),
            user: token.user.clone(),
            validator_hash: validator_hash(key, selector, new_validator),
            previous_hash: Some(validator_hash(key, selector, validator)),
            rotated_at: config.clock.now(),
            expires_at: token.expires_at,
        };
        self.store
            .insert(&moved)
            .await
            .map_err(AuthError::Registry)?;
        self.store.remove(stored).await.map_err(AuthError::Registry)
    }

    /// A stolen remember-me cookie came back: every token and session of `user` ends.
    async fn theft(&self, auth: &RequestAuth, user: &str) -> Result<(), AuthError> {
        tracing::warn!(user_id = %crate::security::printable(user), "a replaced remember-me cookie came back: ending every session of the user");
        let config = auth.config();
        config.features.changed(auth, user, Change::Stolen).await?;
        config.emit(
            AuthEvent::RememberTheft {
                user: user.to_owned(),
            },
            auth.client(),
        );
        Ok(())
    }
}

/// The request's remember-me cookie, if it has one.
fn presented_cookie(auth: &RequestAuth) -> Option<&str> {
    auth.cookie(if auth.secure() {
        COOKIE_SECURE
    } else {
        COOKIE_PLAIN
    })
}

/// Removes the browser's remember-me cookie.
fn forget_cookie(auth: &RequestAuth) {
    auth.add_cookie(cookie(auth, "", Duration::ZERO));
}

/// The `Set-Cookie` value of the remember-me cookie; a `max_age` of zero removes it.
fn cookie(auth: &RequestAuth, value: &str, max_age: Duration) -> String {
    let secure = auth.secure();
    let name = if secure { COOKIE_SECURE } else { COOKIE_PLAIN };
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

/// The form a remember-me store keeps a selector in, and finds the token by: a keyed hash, so
/// that whoever reads the store (or the registry, which keeps the selector of a remembered
/// session) learns no selector to put into a cookie.
fn stored_selector(key: &Keyed, selector: &str) -> String {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(key.tag("axum-login remember-me selector", &[selector.as_bytes()]))
}

/// The keyed hash a remember-me store keeps of a validator.
fn validator_hash(key: &Keyed, selector: &str, validator: &str) -> String {
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
