//! [`RequestAuth`]: the authentication state of one request, shared by every extractor and
//! guard on it, so the user is loaded at most once.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use tokio::sync::Mutex;
use tower_sessions::Session;

use super::{
    Config,
    backend::{ErasedBackend, Login},
    rejection::Challenge,
};
use crate::{
    AuthError,
    security::{RequestOrigin, Scheme, ThrottleKey},
    session::AfterSaveFn,
};

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

enum UserState {
    NotAsked,
    Known(Option<Login>),
}

/// The authentication state of one request, shared by every extractor and guard on it.
#[derive(Clone)]
pub(crate) struct RequestAuth(Arc<RequestInner>);

struct RequestInner {
    session: Session,
    /// The id the session had when the request came in (its cookie's), before a login or a
    /// password change gave it a new one: what the session registry is told the new id
    /// replaces.
    incoming_session_id: Option<tower_sessions::session::Id>,
    origin: RequestOrigin,
    client: Option<std::net::IpAddr>,
    backend: Arc<dyn ErasedBackend>,
    user: Mutex<UserState>,
    consulted: AtomicBool,
    /// Cookies to set on the response besides the session's (the device cookie).
    cookies: std::sync::Mutex<Vec<String>>,
    /// The throttle's key of the account that logged in on this request.
    account: std::sync::Mutex<Option<ThrottleKey>>,
    /// The request's `User-Agent`, for the session registry.
    user_agent: Option<axum::http::HeaderValue>,
    /// Whether the session layer is the crate's own, which runs work after the session is
    /// saved.
    own_sessions: bool,
    /// That work, set by a login, handed to the session layer with the response.
    after_save: std::sync::Mutex<Option<AfterSaveFn>>,
    /// Whether the session's id is to change once the response is known (see
    /// [`RequestAuth::cycle_id_with_response`]).
    cycle_with_response: AtomicBool,
    /// The request's span, which gets the user's id once it is known.
    span: tracing::Span,
    /// The request's `Authorization` header, for a feature that reads credentials from it
    /// (API tokens, which a build may leave out).
    #[allow(dead_code)]
    authorization: Option<axum::http::HeaderValue>,
    /// How a refusal of this request asks for credentials (`WWW-Authenticate`), when a
    /// feature that reads them says.
    challenge: std::sync::Mutex<Option<Challenge>>,
    /// What a feature outside the core keeps for the rest of the request, by type (the CSRF
    /// layer's secret once a page uses a token): one map for every feature rather than a
    /// field each, and no allocation on a request that keeps nothing.
    feature_state: std::sync::Mutex<axum::http::Extensions>,
    /// The user a test made this request as (feature `test-util`).
    #[cfg(feature = "test-util")]
    test_user: Option<crate::test_util::LoginAs>,
}

/// What the auth layer's service knows of a request, for [`RequestAuth::new`].
pub(crate) struct RequestInfo {
    pub(crate) origin: RequestOrigin,
    pub(crate) client: Option<std::net::IpAddr>,
    pub(crate) user_agent: Option<axum::http::HeaderValue>,
    pub(crate) own_sessions: bool,
    pub(crate) span: tracing::Span,
    pub(crate) authorization: Option<axum::http::HeaderValue>,
    #[cfg(feature = "test-util")]
    pub(crate) test_user: Option<crate::test_util::LoginAs>,
}

impl RequestAuth {
    pub(crate) fn new(
        session: Session,
        backend: Arc<dyn ErasedBackend>,
        info: RequestInfo,
    ) -> Self {
        Self(Arc::new(RequestInner {
            incoming_session_id: session.id(),
            session,
            origin: info.origin,
            client: info.client,
            backend,
            user: Mutex::new(UserState::NotAsked),
            consulted: AtomicBool::new(false),
            cookies: std::sync::Mutex::default(),
            account: std::sync::Mutex::default(),
            user_agent: info.user_agent,
            own_sessions: info.own_sessions,
            after_save: std::sync::Mutex::default(),
            cycle_with_response: AtomicBool::new(false),
            span: info.span,
            authorization: info.authorization,
            challenge: std::sync::Mutex::default(),
            feature_state: std::sync::Mutex::default(),
            #[cfg(feature = "test-util")]
            test_user: info.test_user,
        }))
    }

    /// The request's `Authorization` header, if it is text.
    #[allow(dead_code)] // For feature folders a build may leave out (API tokens).
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.0
            .authorization
            .as_ref()
            .and_then(|value| value.to_str().ok())
    }

    /// Says how a refusal of this request asks for credentials.
    #[allow(dead_code)] // For feature folders a build may leave out (API tokens).
    pub(crate) fn set_challenge(&self, challenge: Challenge) {
        *lock(&self.0.challenge) = Some(challenge);
    }

    /// Runs `use_state` on the state features keep for the rest of this request.
    pub(crate) fn with_feature_state<R>(
        &self,
        use_state: impl FnOnce(&mut axum::http::Extensions) -> R,
    ) -> R {
        use_state(&mut lock(&self.0.feature_state))
    }

    /// How a refusal of this request asks for credentials, if a feature said.
    pub(crate) fn challenge(&self) -> Option<Challenge> {
        *lock(&self.0.challenge)
    }

    /// The request's `User-Agent`, as text, if it is text.
    pub(crate) fn user_agent(&self) -> Option<&str> {
        self.0
            .user_agent
            .as_ref()
            .and_then(|value| value.to_str().ok())
    }

    /// Sets the work for after the session is saved, replacing any set before (the last login
    /// of a request is the one that counts); dropped when the session layer is not the crate's
    /// own, which would not run it.
    pub(crate) fn set_after_save(&self, work: AfterSaveFn) {
        if self.0.own_sessions {
            *lock(&self.0.after_save) = Some(work);
        }
    }

    /// Takes the work for after the session is saved, if a login set it.
    pub(crate) fn take_after_save(&self) -> Option<AfterSaveFn> {
        lock(&self.0.after_save).take()
    }

    /// Has the session's id change when the response is not a server error, instead of now.
    ///
    /// Changing the id deletes the session under the old one at once, and the session layers
    /// save nothing on a `5xx`: a request that failed after an id change would leave the
    /// browser's cookie naming a session that no longer exists, logged out. Deferred, a failed
    /// request leaves the stored session as it was.
    pub(crate) fn cycle_id_with_response(&self) {
        self.0.cycle_with_response.store(true, Ordering::Relaxed);
    }

    /// Whether [`cycle_id_with_response`](Self::cycle_id_with_response) was asked for; taken.
    pub(crate) fn take_cycle_with_response(&self) -> bool {
        self.0.cycle_with_response.swap(false, Ordering::Relaxed)
    }

    /// The value of the request's cookie `name`, if it has exactly one.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.0.origin.cookie(name)
    }

    /// The user a test made this request as (feature `test-util`).
    #[cfg(feature = "test-util")]
    pub(crate) fn test_user(&self) -> Option<&crate::test_util::LoginAs> {
        self.0.test_user.as_ref()
    }

    pub(crate) fn session(&self) -> &Session {
        &self.0.session
    }

    /// The session id the request came in with, whatever the request did to it since.
    pub(crate) fn incoming_session_id(&self) -> Option<tower_sessions::session::Id> {
        self.0.incoming_session_id
    }

    /// `Err` when this is a cross-site request that must not log anyone in or out.
    pub(crate) fn check_same_site(&self) -> Result<(), AuthError> {
        let config = self.config();
        if config.refuse_cross_site
            && !self
                .0
                .origin
                .is_same_site(&config.trusted_origins, config.site_scheme)
        {
            return Err(AuthError::CrossSiteRequest);
        }
        Ok(())
    }

    /// The client's address to count login attempts against: the peer's
    /// (`ConnectInfo<SocketAddr>`), or, behind a trusted proxy, the one it reports.
    pub(crate) fn client(&self) -> Option<std::net::IpAddr> {
        self.config().throttle.client_address(
            self.0.client,
            self.0.origin.forwarded(),
            self.0.origin.forwarded_for(),
        )
    }

    /// Whether the site is served over HTTPS, as far as the layer knows (a layer over an app's
    /// own tower-sessions layer does not, and assumes it is).
    pub(crate) fn secure(&self) -> bool {
        self.config().site_scheme != Some(Scheme::Http)
    }

    /// The request's device cookie, if it has one.
    pub(crate) fn device_cookie(&self) -> Option<&str> {
        self.0
            .origin
            .cookie(crate::Throttle::device_cookie_name(self.secure()))
    }

    /// Sets a cookie on the response.
    pub(crate) fn add_cookie(&self, cookie: String) {
        // A response that sets a cookie is this visitor's: not to be cached for another.
        self.0.consulted.store(true, Ordering::Relaxed);
        lock(&self.0.cookies).push(cookie);
    }

    /// The cookies to set on the response, taken.
    pub(crate) fn take_cookies(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.0.cookies))
    }

    /// Remembers the throttle's key of the account that just authenticated.
    pub(crate) fn set_account(&self, account: Option<ThrottleKey>) {
        *lock(&self.0.account) = account;
    }

    /// The throttle's key of the account that authenticated on this request.
    pub(crate) fn account(&self) -> Option<ThrottleKey> {
        *lock(&self.0.account)
    }

    pub(crate) fn backend(&self) -> &Arc<dyn ErasedBackend> {
        &self.0.backend
    }

    pub(crate) fn config(&self) -> &Config {
        self.0.backend.config()
    }

    /// Whether anything on this request asked who the user is (so the response depends on it).
    pub(crate) fn was_consulted(&self) -> bool {
        self.0.consulted.load(Ordering::Relaxed)
    }

    /// The logged-in user, loaded from the store at most once per request.
    pub(crate) async fn login(&self) -> Result<Option<Login>, AuthError> {
        self.0.consulted.store(true, Ordering::Relaxed);
        let mut state = self.0.user.lock().await;
        if let UserState::Known(login) = &*state {
            return Ok(login.clone());
        }
        let login = self.0.backend.load(self).await?;
        self.record_user(login.as_ref());
        *state = UserState::Known(login.clone());
        Ok(login)
    }

    /// Records who is logged in after a login or logout on this request.
    pub(crate) async fn set_login(&self, login: Option<Login>) {
        self.0.consulted.store(true, Ordering::Relaxed);
        self.record_user(login.as_ref());
        *self.0.user.lock().await = UserState::Known(login);
    }

    /// Puts the user's id on the request's span, so every log line of the request names them.
    fn record_user(&self, login: Option<&Login>) {
        if let Some(login) = login {
            self.0
                .span
                .record("user_id", tracing::field::display(UserId(&*login.user)));
        }
    }
}

/// A user's id as text, for a log line or a lookup by id.
pub(crate) struct UserId<'a>(pub(crate) &'a dyn super::backend::ErasedUser);

impl std::fmt::Display for UserId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt_id(f)
    }
}

impl RequestAuth {
    /// The request's state, or the error that names the missing layer.
    pub(crate) fn from_parts(
        parts: &axum::http::request::Parts,
        extractor: &'static str,
    ) -> Result<Self, AuthError> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(AuthError::MissingLayer { extractor })
    }
}
