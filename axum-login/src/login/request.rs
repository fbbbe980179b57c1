//! [`RequestAuth`]: the authentication state of one request, shared by every extractor and
//! guard on it, so the user is loaded at most once.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use tokio::sync::Mutex;
use tower_sessions::Session;

use super::backend::{ErasedBackend, Login};
use crate::{AuthError, layer::Config, security::RequestOrigin};

enum UserState {
    NotAsked,
    Known(Option<Login>),
}

/// The authentication state of one request, shared by every extractor and guard on it.
#[derive(Clone)]
pub(crate) struct RequestAuth(Arc<RequestInner>);

struct RequestInner {
    session: Session,
    origin: RequestOrigin,
    client: Option<std::net::IpAddr>,
    backend: Arc<dyn ErasedBackend>,
    user: Mutex<UserState>,
    consulted: AtomicBool,
}

impl RequestAuth {
    pub(crate) fn new(
        session: Session,
        backend: Arc<dyn ErasedBackend>,
        origin: RequestOrigin,
        client: Option<std::net::IpAddr>,
    ) -> Self {
        Self(Arc::new(RequestInner {
            session,
            origin,
            client,
            backend,
            user: Mutex::new(UserState::NotAsked),
            consulted: AtomicBool::new(false),
        }))
    }

    pub(crate) fn session(&self) -> &Session {
        &self.0.session
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

    /// The client's address, when the app is served with `ConnectInfo<SocketAddr>`.
    pub(crate) fn client(&self) -> Option<std::net::IpAddr> {
        self.0.client
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
        let login = self.0.backend.load(&self.0.session).await?;
        *state = UserState::Known(login.clone());
        Ok(login)
    }

    /// Records who is logged in after a login or logout on this request.
    pub(crate) async fn set_login(&self, login: Option<Login>) {
        self.0.consulted.store(true, Ordering::Relaxed);
        *self.0.user.lock().await = UserState::Known(login);
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
