//! [`AuthSession`]'s two-step login: begin it after a right password, complete it with a
//! second factor, or drop it.

use std::time::Duration;

use super::{PENDING_KEY, PendingRecord, SecondFactorDue, TwoStep};
use crate::{
    AuthError, AuthSession, AuthUser, UserStore,
    clock::unix_seconds,
    events::{AuthEvent, LoginFailure, LoginMethod},
    login::Change,
    security::{SecondFactorGate, ThrottleKey},
};

impl<S: UserStore> AuthSession<S> {
    /// Leaves the session waiting for `user`'s second factor instead of logging them in: call
    /// it, in place of [`login`](Self::login), after [`authenticate`](Self::authenticate)
    /// answered a user who has one. `remember` carries the login form's remember-me choice to
    /// the login that the second factor completes.
    ///
    /// Nobody is logged in until [`complete_second_factor`](Self::complete_second_factor)
    /// succeeds; the waiting state ends after
    /// [`second_factor_timeout`](crate::layer::AuthLayerBuilder::second_factor_timeout) (5
    /// minutes by default), and when the user's password changes. The session id changes.
    /// A cross-site request is refused with [`AuthError::CrossSiteRequest`].
    pub async fn begin_second_factor(
        &mut self,
        user: &S::User,
        remember: bool,
    ) -> Result<(), AuthError> {
        self.auth.check_same_site()?;
        self.wait_for_second_factor(user, remember).await
    }

    /// [`begin_second_factor`](Self::begin_second_factor) for a first factor that arrives
    /// cross-site by nature (a provider's redirect), whose own check proves the browser.
    pub(crate) async fn wait_for_second_factor(
        &mut self,
        user: &S::User,
        remember: bool,
    ) -> Result<(), AuthError> {
        let config = self.auth.config();
        let session = self.auth.session();
        // Whoever was logged in on this session is not any more: the login is starting over.
        if self.current_record().await?.is_some() {
            session.flush().await?;
        }
        if session.id().is_some() {
            session.cycle_id().await?;
        }
        let pending = PendingRecord {
            user_id: user.id(),
            digest: config.key.user_digest(&config.realm, user),
            at: unix_seconds(config.clock.now()),
            account: self.auth.account().map(|account| account.to_string()),
            remember,
            remembered: false,
        };
        session.insert(PENDING_KEY, pending).await?;
        self.auth.set_login(None).await;
        Ok(())
    }

    /// Whose second factor is due on this session: a login waiting for it, else the logged-in
    /// user (a step-up), else `None`. A waiting login that timed out, or whose user changed
    /// their password or is gone or inactive, is dropped and answers as if there was none.
    pub async fn second_factor_due(&self) -> Result<Option<SecondFactorDue<S::User>>, AuthError> {
        if let Some(user) = self.pending_user().await? {
            return Ok(Some(SecondFactorDue::Login(user)));
        }
        Ok(self.user().await?.map(SecondFactorDue::StepUp))
    }

    /// The user of a valid waiting login, dropping one that is no longer valid.
    async fn pending_user(&self) -> Result<Option<S::User>, AuthError> {
        let config = self.auth.config();
        let session = self.auth.session();
        let Some(value) = session.get_value(PENDING_KEY).await? else {
            return Ok(None);
        };
        let drop_it = || async {
            session.remove_value(PENDING_KEY).await?;
            Ok::<_, AuthError>(None)
        };
        let Ok(pending) = serde_json::from_value::<PendingRecord<crate::store::UserId<S>>>(value)
        else {
            return drop_it().await;
        };
        let age = unix_seconds(config.clock.now()).saturating_sub(pending.at);
        if Duration::from_secs(age) > TwoStep::of(&self.auth).timeout
            || pending.at > unix_seconds(config.clock.now()) + config.clock_skew.as_secs()
        {
            return drop_it().await;
        }
        let Some(user) = self.backend.loader.store_load(&pending.user_id).await? else {
            return drop_it().await;
        };
        if !user.is_active()
            || config
                .key
                .verify_user(&config.realm, &user, &pending.digest, config.clock.now())
                .is_none()
        {
            return drop_it().await;
        }
        Ok(Some(user))
    }

    /// Checks the second factor of whoever [`second_factor_due`](Self::second_factor_due)
    /// names with `check` (a TOTP code, a recovery code, a passkey assertion); `true` when it
    /// passed.
    ///
    /// Checks are counted by the login throttle per user, in a counter that only a right
    /// second factor resets (entering the right password again does not): after
    /// [`max_second_factor_failures`](crate::Throttle::max_second_factor_failures) wrong ones
    /// (5 by default) the user's second factor is locked until the throttle's window ends,
    /// every check is refused without running, a right one too, and the layer reports
    /// [`AuthEvent::SecondFactorLocked`] once.
    ///
    /// On success a waiting login is completed: the user is logged in under a new session id
    /// (registered, remembered if the login asked), with the second factor recorded, and the
    /// browser gets its device cookie for the account; a logged-in session records the second
    /// factor and gets a new id. On failure, or when nothing is due or the throttle refuses,
    /// it answers `false` and nothing changes. A cross-site request is refused with
    /// [`AuthError::CrossSiteRequest`].
    ///
    /// ```ignore
    /// let passed = auth
    ///     .complete_second_factor(|user| async move {
    ///         Ok::<_, MfaError>(mfa.verify_totp(&user.id, &code, &SystemClock).await?.is_accepted())
    ///     })
    ///     .await?;
    /// ```
    pub async fn complete_second_factor<F, Fut, E>(&mut self, check: F) -> Result<bool, AuthError>
    where
        F: FnOnce(S::User) -> Fut,
        Fut: std::future::Future<Output = Result<bool, E>>,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.auth.check_same_site()?;
        let Some(due) = self.second_factor_due().await? else {
            return Ok(false);
        };
        let session = self.auth.session();
        let pending = match &due {
            SecondFactorDue::Login(_) => session.get_value(PENDING_KEY).await?.and_then(|value| {
                serde_json::from_value::<PendingRecord<serde_json::Value>>(value).ok()
            }),
            SecondFactorDue::StepUp(_) => None,
        };
        let user = due.user().clone();
        let user_key = user.id().to_string();
        let config = self.auth.config();
        let gate = config
            .throttle
            .gate_second_factor(&user_key, &*config.clock, &config.key)
            .await
            .map_err(AuthError::Throttle)?;
        let attempt = match gate {
            SecondFactorGate::Pass(attempt) => attempt,
            SecondFactorGate::Locked { first } => {
                if first {
                    self.emit(AuthEvent::SecondFactorLocked {
                        user: user_key.clone(),
                    });
                }
                self.emit(AuthEvent::LoginFailed {
                    reason: LoginFailure::Throttled,
                    user: Some(user_key),
                });
                return Ok(false);
            }
        };
        let passed = match check(user.clone()).await {
            Ok(passed) => passed,
            Err(error) => {
                attempt.abandon(config.clock.now()).await;
                return Err(AuthError::store(error));
            }
        };
        attempt
            .finish(passed, config.clock.now())
            .await
            .map_err(AuthError::Throttle)?;
        if !passed {
            self.emit(AuthEvent::LoginFailed {
                reason: LoginFailure::SecondFactor,
                user: Some(user_key),
            });
            return Ok(false);
        }
        let now = unix_seconds(config.clock.now());
        match due {
            SecondFactorDue::Login(user) => {
                let (account, remember, remembered) =
                    pending.map_or((None, false, false), |pending| {
                        (
                            pending.account.as_deref().and_then(ThrottleKey::parse),
                            pending.remember,
                            pending.remembered,
                        )
                    });
                // The password step's account: the completed login gives its device cookie.
                self.auth.set_account(account);
                self.complete_login(
                    &user,
                    LoginMethod::SecondFactor,
                    Some(now),
                    remembered,
                    remember,
                )
                .await?;
            }
            SecondFactorDue::StepUp(user) => {
                let Some(mut record) = self.current_record().await? else {
                    return Ok(false);
                };
                record.second_factor_at = Some(now);
                session.cycle_id().await?;
                self.install(&user, record).await?;
                self.emit(AuthEvent::SecondFactorCompleted { user: user_key });
            }
        }
        Ok(true)
    }

    /// Call after enrolling, replacing or removing a second factor of the logged-in user, or
    /// giving them new recovery codes: every remember-me token of the user is revoked (this
    /// browser's cookie too), since a token issued under the old factors must not log in
    /// under the new ones, and the layer reports [`AuthEvent::SecondFactorChanged`] with
    /// `change`. Does nothing when nobody is logged in. A cross-site request is refused with
    /// [`AuthError::CrossSiteRequest`].
    ///
    /// Guard the handler that makes the change with `#[require_login(fresh_mfa = "10m")]`, so
    /// that a user who has a second factor proves it before changing it.
    pub async fn second_factors_changed(
        &mut self,
        change: crate::events::SecondFactorChange,
    ) -> Result<(), AuthError> {
        self.auth.check_same_site()?;
        let Some(user) = self.user().await? else {
            return Ok(());
        };
        let user = user.id().to_string();
        self.auth
            .config()
            .features
            .changed(&self.auth, &user, Change::SecondFactors)
            .await?;
        self.emit(AuthEvent::SecondFactorChanged { user, change });
        Ok(())
    }

    /// Drops a login waiting for its second factor ("cancel" on the code form).
    pub async fn abandon_second_factor(&mut self) -> Result<(), AuthError> {
        self.auth.session().remove_value(PENDING_KEY).await?;
        Ok(())
    }

    /// Whether a second factor was completed on this session (at login or since).
    pub async fn has_second_factor(&self) -> Result<bool, AuthError> {
        Ok(self
            .auth
            .login()
            .await?
            .is_some_and(|login| login.second_factor_at.is_some()))
    }
}
