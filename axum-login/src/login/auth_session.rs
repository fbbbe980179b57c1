//! [`AuthSession`]: the handle a handler uses to log users in and out.

use std::{any::type_name, fmt, sync::Arc};

use axum::{extract::FromRequestParts, http::request::Parts};
use tower_sessions::Session;

use super::{
    backend::{Backend, Login},
    record::{LoginRecord, SESSION_KEY},
    request::RequestAuth,
};
use crate::{
    AuthError, AuthUser, UserStore,
    clock::from_unix_seconds,
    security::{AttemptInput, Gate, ThrottleKey, revoke_devices},
    store::UserId,
};

/// The session key under which the throttle's key of the logged-in account is kept.
const ACCOUNT_KEY: &str = "axum_login.account";

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
    auth: RequestAuth,
    backend: Arc<Backend<S>>,
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
    /// This does not log the user in: call [`login`](Self::login) with the user it returns.
    pub async fn authenticate(
        &self,
        credentials: S::Credentials,
    ) -> Result<Option<S::User>, AuthError> {
        self.auth.check_same_site()?;
        let config = self.auth.config();
        let throttle = &config.throttle;
        let account = if throttle.is_enabled() {
            self.backend
                .store()
                .account_key(&credentials)
                .await
                .map_err(AuthError::store)?
        } else {
            None
        };
        let input = AttemptInput {
            account_name: account.as_deref(),
            device_cookie: self.auth.device_cookie(),
            address: self.auth.client(),
            clock: &*config.clock,
            key: &config.key,
        };
        let attempt = match throttle.gate(input).await.map_err(AuthError::Throttle)? {
            Gate::Pass(attempt) => attempt,
            Gate::Refused => return Ok(None),
        };
        let user = match self.backend.store().authenticate(credentials).await {
            Ok(user) => user.filter(crate::AuthUser::is_active),
            Err(error) => {
                attempt.abandon(config.clock.now()).await;
                return Err(AuthError::store(error));
            }
        };
        let account_key = attempt.account();
        let device_cookie = attempt
            .finish(user.is_some(), config.clock.now())
            .await
            .map_err(AuthError::Throttle)?;
        if user.is_some() {
            self.auth.set_account(account_key);
            if let Some(value) = device_cookie {
                self.auth
                    .add_cookie(throttle.device_cookie_header(&value, self.auth.secure()));
            }
        }
        Ok(user)
    }

    /// Checks the logged-in user's credentials again: the current password on a password-change
    /// form, or before a step that wants a recent login. `true` when `credentials` are right and
    /// belong to the user logged in on this session.
    ///
    /// It goes through the same gate as a login: a cross-site request is refused with
    /// [`AuthError::CrossSiteRequest`], and wrong guesses are counted by the
    /// [`Throttle`](crate::Throttle), so a stolen session cannot be used to guess the password.
    /// On success the login starts over as a fresh one (guards with `fresh` pass again) under a
    /// new session id.
    pub async fn reauthenticate(&mut self, credentials: S::Credentials) -> Result<bool, AuthError> {
        let Some(current) = self.user().await? else {
            return Ok(false);
        };
        let Some(user) = self.authenticate(credentials).await? else {
            return Ok(false);
        };
        // Ids compare by their `Display` form, the only comparison the `Id` bounds allow.
        if user.id().to_string() != current.id().to_string() {
            tracing::warn!(
                user_id = %current.id(),
                "re-authentication with another account's credentials refused"
            );
            return Ok(false);
        }
        self.auth.session().cycle_id().await?;
        self.install(&user, self.backend.record_for(&user)).await?;
        Ok(true)
    }

    /// Logs `user` in on this session.
    ///
    /// The session id always changes, so an id planted before login (session fixation) is
    /// worthless afterwards. Data already in the session is kept when it was anonymous or
    /// belonged to the same user; when another user was logged in, the session is discarded
    /// whole and a new one begins. A cross-site `POST` is refused with
    /// [`AuthError::CrossSiteRequest`] (login CSRF).
    pub async fn login(&mut self, user: &S::User) -> Result<(), AuthError> {
        self.auth.check_same_site()?;
        let session = self.auth.session();
        let previous = session.get_value(SESSION_KEY).await?;
        let same_user = match previous {
            None => true,
            Some(previous) => login_of(previous, user)?.is_some(),
        };
        if !same_user {
            // `flush` alone would let the next save reuse the old id: cycle it too.
            session.flush().await?;
            session.cycle_id().await?;
        } else if session.id().is_some() {
            session.cycle_id().await?;
        }
        self.install(user, self.backend.record_for(user)).await
    }

    /// Logs out: the session ends on the server and the response removes its cookie. A
    /// cross-site `POST` is refused with [`AuthError::CrossSiteRequest`] (logout CSRF).
    pub async fn logout(&mut self) -> Result<(), AuthError> {
        self.auth.check_same_site()?;
        self.auth.session().flush().await?;
        self.auth.set_login(None).await;
        Ok(())
    }

    /// Keeps this session logged in after `user` changed their own password, while every other
    /// session of theirs ends on its next request (Django's `update_session_auth_hash`).
    ///
    /// Call it after saving the new password hash, with the user as it is now. The session gets
    /// a new id. If `user` is not the one logged in on this session, only the layer's user
    /// cache forgets them.
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
        // A password change does not restart the absolute timeout.
        record.login_at = previous.login_at;
        session.cycle_id().await?;
        self.install(user, record).await?;
        self.revoke_devices().await
    }

    /// Revokes the device cookies of the account logged in on this session (a browser that
    /// knew the old password is no longer trusted with the new one), and gives this browser a
    /// new one.
    async fn revoke_devices(&self) -> Result<(), AuthError> {
        let config = self.auth.config();
        let account: Option<String> = self.auth.session().get(ACCOUNT_KEY).await?;
        let Some(account) = account.as_deref().and_then(ThrottleKey::parse) else {
            return Ok(());
        };
        let renewed = revoke_devices(
            &config.throttle,
            account,
            self.auth.device_cookie(),
            &config.key,
            config.clock.now(),
        )
        .await
        .map_err(AuthError::Throttle)?;
        if let Some(value) = renewed {
            self.auth.add_cookie(
                config
                    .throttle
                    .device_cookie_header(&value, self.auth.secure()),
            );
        }
        Ok(())
    }

    /// Writes `record` to the session and makes `user` this request's logged-in user.
    async fn install(
        &self,
        user: &S::User,
        record: LoginRecord<UserId<S>>,
    ) -> Result<(), AuthError> {
        let login_at = from_unix_seconds(record.login_at);
        self.auth.session().insert(SESSION_KEY, record).await?;
        // The throttle's key of the account, when this request authenticated it: what a
        // password change later revokes the device cookies of.
        if let Some(account) = self.auth.account() {
            self.auth
                .session()
                .insert(ACCOUNT_KEY, account.to_string())
                .await?;
        }
        self.auth
            .set_login(Some(Login {
                user: Arc::new(user.clone()),
                login_at,
            }))
            .await;
        Ok(())
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
