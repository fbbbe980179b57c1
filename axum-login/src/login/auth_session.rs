//! [`AuthSession`]: the handle a handler uses to log users in and out.

use std::{any::type_name, fmt, sync::Arc};

use axum::{extract::FromRequestParts, http::request::Parts};
use tower_sessions::Session;

use super::{
    Change, Logout, NewLogin,
    backend::{Backend, Login, LoginRecord, SESSION_KEY},
    request::RequestAuth,
};
use crate::{
    AuthError, AuthUser, UserStore,
    events::{AuthEvent, LoginFailure, LoginMethod},
    security::{AttemptInput, Gate},
    store::UserId,
};

/// What a check behind the login throttle came to.
pub(super) enum Checked<T> {
    /// The throttle refused it; it did not run.
    Refused,
    /// It ran and answered this.
    Done(T),
}

/// The authentication side of a request: who is logged in, and logging in and out.
///
/// Extract it in any handler on a router with an [`AuthLayer`](crate::AuthLayer) whose store is
/// `S`. Extracting it costs nothing; [`user`](Self::user) loads the user at most once per
/// request, shared with [`CurrentUser`](crate::CurrentUser) and the guards.
///
/// ```
/// use axum::{Form, response::{IntoResponse, Redirect, Response}};
/// use axum_login::{AuthError, AuthSession, UserStore};
/// # use axum_login::AuthUser;
/// # #[derive(Clone)] struct User;
/// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { 1 } fn session_auth_hash(&self) -> &[u8] { b"" } }
/// # #[derive(Clone)] struct MyStore;
/// # #[derive(serde::Deserialize)] struct Credentials { username: String, password: String }
/// # impl UserStore for MyStore {
/// #     type User = User; type Credentials = Credentials; type Error = std::convert::Infallible;
/// #     async fn authenticate(&self, _: Credentials) -> Result<Option<User>, Self::Error> { Ok(None) }
/// #     async fn load_user(&self, _: &u64) -> Result<Option<User>, Self::Error> { Ok(None) }
/// # }
///
/// async fn login(
///     mut auth: AuthSession<MyStore>,
///     Form(credentials): Form<Credentials>,
/// ) -> Result<Response, AuthError> {
///     match auth.authenticate(credentials).await? {
///         Some(user) => {
///             auth.login(&user).await?;
///             Ok(Redirect::to("/").into_response())
///         }
///         None => Ok("wrong username or password".into_response()),
///     }
/// }
///
/// async fn logout(mut auth: AuthSession<MyStore>) -> Result<Redirect, AuthError> {
///     auth.logout().await?;
///     Ok(Redirect::to("/login"))
/// }
/// ```
pub struct AuthSession<S: UserStore> {
    pub(crate) auth: RequestAuth,
    pub(crate) backend: Arc<Backend<S>>,
}

impl<S: UserStore> Clone for AuthSession<S> {
    fn clone(&self) -> Self {
        Self {
            auth: self.auth.clone(),
            backend: self.backend.clone(),
        }
    }
}

impl<S: UserStore> fmt::Debug for AuthSession<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSession")
            .field("store", &type_name::<S>())
            .field("session_id", &self.auth.session().id())
            .finish_non_exhaustive()
    }
}

impl<S: UserStore> AuthSession<S> {
    /// The logged-in user, or `None` for an anonymous visitor.
    ///
    /// A session whose user was deleted, or whose password changed since login, is ended here
    /// and answers `None`.
    pub async fn user(&self) -> Result<Option<S::User>, AuthError> {
        Ok(self
            .auth
            .login()
            .await?
            .and_then(|login| login.user.as_any().downcast_ref::<S::User>().cloned()))
    }

    /// Whether someone is logged in.
    pub async fn is_authenticated(&self) -> Result<bool, AuthError> {
        Ok(self.auth.login().await?.is_some())
    }

    /// Checks `credentials` with the store; `Ok(None)` when they are wrong.
    ///
    /// `Ok(None)` also answers credentials of an [inactive](crate::AuthUser::is_active) user
    /// and attempts on an account or from an address that the [`Throttle`](crate::Throttle)
    /// has locked, so the caller cannot tell these apart and neither can an attacker. A
    /// cross-site request is refused with [`AuthError::CrossSiteRequest`].
    ///
    /// This does not log the user in: call [`login`](Self::login) with the user it returns (or
    /// [`begin_second_factor`](Self::begin_second_factor) when the user has one).
    pub async fn authenticate(
        &self,
        credentials: S::Credentials,
    ) -> Result<Option<S::User>, AuthError> {
        self.auth.check_same_site()?;
        let config = self.auth.config();
        let account = if config.throttle.is_enabled() {
            self.backend
                .store()
                .account_key(&credentials)
                .await
                .map_err(AuthError::store)?
        } else {
            None
        };
        let store = self.backend.store();
        let checked = self
            .through_gate(
                account.as_deref(),
                async { store.authenticate(credentials).await },
                |user: &Option<S::User>| user.as_ref().is_some_and(AuthUser::is_active),
            )
            .await?;
        let failure = match &checked {
            Checked::Refused => Some((LoginFailure::Throttled, None)),
            Checked::Done(None) => Some((LoginFailure::WrongCredentials, None)),
            Checked::Done(Some(user)) if !user.is_active() => {
                Some((LoginFailure::Inactive, Some(user.id().to_string())))
            }
            Checked::Done(Some(_)) => None,
        };
        if let Some((reason, user)) = failure {
            self.emit(AuthEvent::LoginFailed { reason, user });
            return Ok(None);
        }
        Ok(match checked {
            Checked::Done(user) => user,
            Checked::Refused => None,
        })
    }

    /// Runs `check` behind the login throttle: refused without running it when a counter is
    /// over its rule, counted by `succeeded` afterwards. On success the request remembers the
    /// account's counter key, for the device cookie that the completed login gives.
    pub(super) async fn through_gate<T, E>(
        &self,
        account_name: Option<&str>,
        check: impl std::future::Future<Output = Result<T, E>>,
        succeeded: impl FnOnce(&T) -> bool,
    ) -> Result<Checked<T>, AuthError>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let config = self.auth.config();
        let throttle = &config.throttle;
        let input = AttemptInput {
            account_name,
            device_cookie: self.auth.device_cookie(),
            address: self.auth.client(),
            clock: &*config.clock,
            key: &config.key,
        };
        let attempt = match throttle.gate(input).await.map_err(AuthError::Throttle)? {
            Gate::Pass(attempt) => attempt,
            Gate::Refused => return Ok(Checked::Refused),
        };
        let outcome = match check.await {
            Ok(outcome) => outcome,
            Err(error) => {
                attempt.abandon(config.clock.now()).await;
                return Err(AuthError::store(error));
            }
        };
        let success = succeeded(&outcome);
        let account = attempt.account();
        attempt
            .finish(success, config.clock.now())
            .await
            .map_err(AuthError::Throttle)?;
        if success {
            // The device cookie waits for the login to complete (see `install`): a second
            // factor may still be due.
            self.auth.set_account(account);
        }
        Ok(Checked::Done(outcome))
    }

    /// Checks the logged-in user's credentials again: the current password on a password-change
    /// form, or before a step that wants a recent login. `true` when `credentials` are right and
    /// belong to the user logged in on this session.
    ///
    /// It goes through the same gate as a login: a cross-site request is refused with
    /// [`AuthError::CrossSiteRequest`], and wrong guesses are counted by the
    /// [`Throttle`](crate::Throttle), so a stolen session cannot be used to guess the password.
    /// On success the login starts over as a fresh one (guards with `fresh` pass again, a
    /// remembered login becomes a password login) under a new session id; a second factor
    /// completed on the session still counts. The new id is given when the response goes out:
    /// if the request ends in a server error (the password change that follows fails), the
    /// session stays as it was, logged in under its old id, and nothing of it is saved.
    pub async fn reauthenticate(&mut self, credentials: S::Credentials) -> Result<bool, AuthError> {
        let Some(current) = self.user().await? else {
            return Ok(false);
        };
        let current_id = current.id().to_string();
        let Some(user) = self.authenticate(credentials).await? else {
            self.emit(AuthEvent::ReauthenticationFailed { user: current_id });
            return Ok(false);
        };
        // Ids compare by their `Display` form, the only comparison the `Id` bounds allow.
        if user.id().to_string() != current_id {
            tracing::warn!(
                user_id = %current.id(),
                "re-authentication with another account's credentials refused"
            );
            self.emit(AuthEvent::ReauthenticationFailed { user: current_id });
            return Ok(false);
        }
        let previous = self.current_record().await?;
        let mut record = self.backend.record_for(&user);
        if let Some(previous) = previous {
            record.second_factor_at = previous.second_factor_at;
            record.entry = previous.entry;
        }
        // The new id is given with the response, and only if it is not a server error: a
        // password change that fails after this check must not log the user out.
        self.auth.cycle_id_with_response();
        self.install(&user, record).await?;
        self.emit(AuthEvent::Reauthenticated { user: current_id });
        Ok(true)
    }

    /// Logs `user` in on this session.
    ///
    /// The session id always changes, so an id planted before login (session fixation) is
    /// worthless afterwards. Data already in the session is kept when it was anonymous or
    /// belonged to the same user; when another user was logged in, the session is discarded
    /// whole and a new one begins. A cross-site `POST` is refused with
    /// [`AuthError::CrossSiteRequest`] (login CSRF).
    ///
    /// With a [session registry](crate::registry), the session is registered, and a user at
    /// their session limit either loses their oldest session or is refused with
    /// [`AuthError::SessionLimit`], as the registry's
    /// [`max_sessions`](crate::registry::RegistryConfig::max_sessions) says.
    pub async fn login(&mut self, user: &S::User) -> Result<(), AuthError> {
        self.auth.check_same_site()?;
        self.complete_login(user, LoginMethod::Password, None, false, false)
            .await
    }

    /// Logs in `user`, whom a passkey assertion with user verification identified (a
    /// passwordless login): as [`login`](Self::login), and the login counts as having
    /// completed a second factor, since the assertion proves both the device and the person
    /// (its PIN or biometric), so `#[require_login(mfa)]` passes. Check the assertion's
    /// `user_verified()` (`PasskeyLogin::result`) before calling it; an assertion without user
    /// verification is one factor and belongs in
    /// [`complete_second_factor`](Self::complete_second_factor) after a password.
    pub async fn login_with_passkey(&mut self, user: &S::User) -> Result<(), AuthError> {
        self.auth.check_same_site()?;
        let now = crate::clock::unix_seconds(self.auth.config().clock.now());
        self.complete_login(user, LoginMethod::Passkey, Some(now), false, false)
            .await
    }

    /// Logs `user` in by `method` on a new session id, registered, with `second_factor_at`
    /// set when a second factor completed this login, and `remembered` when its first factor
    /// was a remember-me cookie (never fresh); reports the login, and tells the features,
    /// with `remember` when the visitor asked to be remembered.
    pub(crate) async fn complete_login(
        &mut self,
        user: &S::User,
        method: LoginMethod,
        second_factor_at: Option<u64>,
        remembered: bool,
        remember: bool,
    ) -> Result<(), AuthError> {
        let user_key = user.id().to_string();
        let mut login = NewLogin {
            user: &user_key,
            method,
            remember,
            second_factor: second_factor_at.is_some(),
            link: None,
            entry: None,
        };
        let session = self.auth.session();
        let previous = session.get_value(SESSION_KEY).await?;
        let same_user = match previous {
            None => true,
            Some(previous) => login_of(previous, user)?.is_some(),
        };
        let config = self.auth.config();
        let entry = config.features.register(&self.auth, &login).await?;
        if !same_user {
            // `flush` alone would let the next save reuse the old id: cycle it too.
            session.flush().await?;
            session.cycle_id().await?;
        } else if session.id().is_some() {
            session.cycle_id().await?;
        }
        let mut record = self.backend.record_for(user);
        record.second_factor_at = second_factor_at;
        record.entry = entry.clone();
        record.remembered = remembered;
        self.install(user, record).await?;
        self.emit(AuthEvent::LoggedIn {
            user: user_key.clone(),
            method: login.method,
        });
        login.entry = entry.as_deref();
        config.features.logged_in(&self.auth, &login).await
    }

    /// Logs out: the session ends on the server and the response removes its cookie. A
    /// cross-site `POST` is refused with [`AuthError::CrossSiteRequest`] (logout CSRF).
    ///
    /// The session leaves the session registry, and this browser's remember-me token is
    /// revoked.
    pub async fn logout(&mut self) -> Result<(), AuthError> {
        self.auth.check_same_site()?;
        self.end_login().await?;
        self.auth.session().flush().await?;
        self.auth.set_login(None).await;
        Ok(())
    }

    /// Logs out but keeps the rest of the session (a cart, preferences) under a new id: only
    /// what the framework keeps is removed: the login, and what features keep of it (a login
    /// waiting for its second factor, the throttle's account key). Otherwise as
    /// [`logout`](Self::logout).
    pub async fn logout_keeping_data(&mut self) -> Result<(), AuthError> {
        self.auth.check_same_site()?;
        self.end_login().await?;
        let session = self.auth.session();
        session.remove_value(SESSION_KEY).await?;
        if session.id().is_some() {
            session.cycle_id().await?;
        }
        self.auth.set_login(None).await;
        Ok(())
    }

    /// What both logouts do besides the session: tell the features (the registry entry,
    /// this browser's remember-me token, a login waiting for its second factor), report the
    /// event.
    async fn end_login(&mut self) -> Result<(), AuthError> {
        let record = self.current_record().await?;
        let user = record.as_ref().map(|record| record.user_id.to_string());
        let entry = record.as_ref().and_then(|record| record.entry.as_deref());
        self.auth
            .config()
            .features
            .logged_out(
                &self.auth,
                &Logout {
                    user: user.as_deref(),
                    entry,
                },
            )
            .await?;
        if let Some(user) = user {
            self.emit(AuthEvent::LoggedOut { user });
        }
        Ok(())
    }

    /// Keeps this session logged in after `user` changed their own password, while every other
    /// session of theirs ends on its next request (Django's `update_session_auth_hash`).
    ///
    /// Call it after saving the new password hash, with the user as it is now. The session gets
    /// a new id. Every remember-me token of the user is revoked, and so are the device cookies
    /// the login throttle trusts. If `user` is not the one logged in on this session, only the
    /// layer's user cache forgets them.
    ///
    /// A cross-site request is refused with [`AuthError::CrossSiteRequest`]: it ends sessions.
    #[doc(alias = "keep_session_after_password_change")]
    pub async fn update_session_auth_hash(&mut self, user: &S::User) -> Result<(), AuthError> {
        self.auth.check_same_site()?;
        // The user changed whatever this session is on: a cached copy must not outlive it.
        self.backend.loader.forget(&user.id());
        let session = self.auth.session();
        let Some(previous) = session.get_value(SESSION_KEY).await? else {
            return Ok(());
        };
        let Some(previous) = login_of(previous, user)? else {
            return Ok(());
        };
        let mut record = self.backend.record_for(user);
        // A password change does not restart the absolute timeout, nor undo a second factor.
        record.login_at = previous.login_at;
        record.second_factor_at = previous.second_factor_at;
        record.entry = previous.entry;
        record.remembered = previous.remembered;
        let entry = record.entry.clone();
        session.cycle_id().await?;
        self.install(user, record).await?;
        let user_key = user.id().to_string();
        // The other sessions end (the registry), the user's remember-me tokens, and the device
        // cookies of other browsers.
        let change = Change::Password {
            keep: entry.as_deref(),
        };
        self.auth
            .config()
            .features
            .changed(&self.auth, &user_key, change)
            .await?;
        self.emit(AuthEvent::PasswordChanged { user: user_key });
        Ok(())
    }

    /// Writes `record` to the session and makes `user` this request's logged-in user; the
    /// features hear of it (the session registry learns the id the session is saved under).
    pub(crate) async fn install(
        &self,
        user: &S::User,
        record: LoginRecord<UserId<S>>,
    ) -> Result<(), AuthError> {
        let login = Login::of(Arc::new(user.clone()), &record);
        let entry = record.entry.clone();
        self.auth.session().insert(SESSION_KEY, record).await?;
        self.auth
            .config()
            .features
            .installed(&self.auth, &user.id().to_string(), entry.as_deref())
            .await?;
        self.auth.set_login(Some(login)).await;
        Ok(())
    }

    /// The login record of this session, if it holds one.
    pub(crate) async fn current_record(&self) -> Result<Option<LoginRecord<UserId<S>>>, AuthError> {
        let Some(value) = self.auth.session().get_value(SESSION_KEY).await? else {
            return Ok(None);
        };
        Ok(LoginRecord::from_value(value).ok())
    }

    /// Reports `event` to the layer's [event handler](crate::layer::AuthLayerBuilder::events),
    /// with this request's address and time: for what the app does itself, such as enrolling
    /// or removing a second factor or using a recovery code.
    pub fn record_event(&self, event: AuthEvent) {
        self.emit(event);
    }

    pub(crate) fn emit(&self, event: AuthEvent) {
        self.auth.config().emit(event, self.auth.client());
    }

    /// Drops the user with `id` from the layer's user cache (feature `cache`; without a cache
    /// this does nothing). Call it after changing or deleting a user through
    /// [`store`](Self::store), so their sessions on this instance see the change on their next
    /// request.
    pub fn forget_cached_user(&self, id: &UserId<S>) {
        self.backend.loader.forget(id);
    }

    /// Refuses a request that another site made: `Err(AuthError::CrossSiteRequest)`, a `403`
    /// as a response, for a `POST` (or any method but `GET`, `HEAD` and `OPTIONS`) whose
    /// `Sec-Fetch-Site` is `cross-site` or `same-site`, or whose `Origin` is not this site or a
    /// [trusted origin](crate::layer::AuthLayerBuilder::trusted_origin).
    ///
    /// Login, logout, re-authentication and [`update_session_auth_hash`](Self::update_session_auth_hash)
    /// check this themselves; call it first in the app's own state-changing handlers (settings,
    /// "log out other devices", payments) so they are safe from cross-site request forgery
    /// without tokens.
    pub fn check_same_site(&self) -> Result<(), AuthError> {
        self.auth.check_same_site()
    }

    /// The user store.
    pub fn store(&self) -> &S {
        self.backend.store()
    }

    /// The underlying tower-sessions session, for the app's own data.
    pub fn session(&self) -> &Session {
        self.auth.session()
    }

    /// The query parameter that carries the page to return to after login (`next` by default).
    pub fn redirect_field(&self) -> &str {
        &self.auth.config().redirect.redirect_field
    }
}

impl<S, St> FromRequestParts<St> for AuthSession<S>
where
    S: UserStore,
    St: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let auth = RequestAuth::from_parts(parts, "AuthSession")?;
        let backend = auth
            .backend()
            .clone()
            .as_any()
            .downcast::<Backend<S>>()
            .map_err(|_| AuthError::TypeMismatch {
                extractor: format!("AuthSession<{}>", type_name::<S>()),
                layer_store: auth.backend().store_type(),
                layer_user: auth.backend().user_type(),
            })?;
        Ok(Self { auth, backend })
    }
}

/// The login kept in a session as `value`, if it is one and belongs to `user`.
fn login_of<U: AuthUser>(
    value: serde_json::Value,
    user: &U,
) -> Result<Option<LoginRecord<serde_json::Value>>, AuthError> {
    let id = serde_json::to_value(user.id()).map_err(tower_sessions::session::Error::SerdeJson)?;
    Ok(LoginRecord::from_value(value)
        .ok()
        .filter(|record| record.user_id == id))
}
