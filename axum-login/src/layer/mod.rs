//! [`AuthLayer`]: the tower layer that puts authentication on a router, its builder and its service.
//!
//! # One guarded request, file by file
//!
//! What a `GET` to a bare `#[require_login]` handler reads, for a logged-in visitor whose user
//! is not cached, over `session_layer(MemoryStore)` and a store that does not batch its loads.
//! Each numbered file is entered once; a later step into a file already read is a return,
//! marked ↩ (a call that comes back to its caller is not one: the reading goes on where it
//! was). The features (`registry/`, `remember/`, `second_factor/`, `devices.rs`, through
//! `login/lifecycle.rs`) are not on this path: a visit reaches them only every `visit_every`,
//! and a session without a login only when a feature may restore it.
//!
//! 1. `session/service.rs`: `SessionService::call` finds the one session cookie in the
//!    `Cookie` header and reads its id, puts a `Session` in the request (loaded only if
//!    asked), and calls the inner service.
//! 2. `layer/service.rs`: `AuthService::call` keeps nothing of a `GET`'s headers (only an
//!    unsafe method is checked for its origin) and puts the request's authentication state in
//!    it, a `RequestAuth` from
//! 3. `login/request.rs`; then the router calls the handler, whose first argument is the guard:
//! 4. `guard/mod.rs`: `Guard<LoggedIn>` takes the `RequestAuth` and asks it who is logged in
//!    (`RequestAuth::login`, `login/request.rs` ↩), which loads the login once for the whole
//!    request through
//! 5. `login/backend.rs`: `Backend::load_typed` reads the login record from the session, which
//!    loads from
//! 6. `session/guarded.rs`, bounded in time, over
//! 7. `session/store/memory.rs`; decodes the record, and checks its times against
//! 8. `clock.rs` (the layer's clock); loads the user through
//! 9. `cache/mod.rs`: the `Loader` asks the cache (none here) and the store's `load_user`;
//!    verifies the record's digest of the user's credentials with
//! 10. `security/key.rs`, and that the user is active. Back in the guard, `LoggedIn` has no
//!     options and lets anyone logged in pass; the handler runs.
//!
//! On the way out, `AuthFuture` in `layer/service.rs` ↩ marks the response private (it
//! depended on the user) and adds any cookie a feature set; `session/service.rs` ↩ saves
//! nothing, since the session did not change.
//!
//! Ten files of this crate and three returns, not counting tower-sessions' `Session` and the
//! app's store. A user cache reads in the same `cache/mod.rs`; a store that batches its loads
//! adds `cache/batch.rs`.

mod builder;
mod service;

use std::{fmt, sync::Arc};

use tower_layer::Layer;
use tower_sessions::{
    SessionStore,
    service::{CookieController, PlaintextCookie},
};

pub use self::{
    builder::AuthLayerBuilder,
    service::{AuthFuture, AuthService},
};
pub use crate::login::DEFAULT_ABSOLUTE_TIMEOUT;
use crate::{
    login::ErasedBackend,
    session::{SessionService, Sessions},
};

/// Adds authentication to a router: sessions from tower-sessions, users from a
/// [`UserStore`](crate::UserStore).
///
/// Build it with [`AuthLayer::builder`] from the user store and a
/// [`session_layer`](crate::session_layer) (or a tower-sessions
/// [`SessionManagerLayer`](tower_sessions::SessionManagerLayer)); the layer wraps both, so add
/// only this one to the router.
///
/// Nothing is loaded until a handler asks: a route that never extracts
/// [`AuthSession`](crate::AuthSession), [`CurrentUser`](crate::CurrentUser) or a guard costs no
/// user-store call. A response that depended on who the user is gets `Cache-Control: no-store`
/// (unless the handler set a `Cache-Control` itself) and `Vary: Cookie`.
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_login::AuthLayer;
/// use axum_login::{session::MemoryStore, session_layer};
/// # use axum_login::{AuthUser, UserStore};
/// # #[derive(Clone)] struct User;
/// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { 1 } fn session_auth_hash(&self) -> &[u8] { b"" } }
/// # #[derive(Clone)] struct MyStore;
/// # impl UserStore for MyStore {
/// #     type User = User; type Credentials = (); type Error = std::convert::Infallible;
/// #     async fn authenticate(&self, _: ()) -> Result<Option<User>, Self::Error> { Ok(None) }
/// #     async fn load_user(&self, _: &u64) -> Result<Option<User>, Self::Error> { Ok(None) }
/// # }
///
/// let sessions = session_layer(MemoryStore::default());
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(AuthLayer::builder(MyStore, sessions).login_url("/login").build());
/// ```
pub struct AuthLayer<SS: SessionStore, C: CookieController = PlaintextCookie> {
    backend: Arc<dyn ErasedBackend>,
    sessions: Sessions<SS, C>,
}

impl<SS: SessionStore, C: CookieController> AuthLayer<SS, C> {
    /// The layer's store and options, for what is built beside the layer from it (the
    /// readiness probe of [`health`](crate::health)).
    pub(crate) fn backend(&self) -> &Arc<dyn ErasedBackend> {
        &self.backend
    }
}

impl<SS: SessionStore + Clone, C: CookieController + Clone> Clone for AuthLayer<SS, C> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            sessions: self.sessions.clone(),
        }
    }
}

impl<SS: SessionStore, C: CookieController> fmt::Debug for AuthLayer<SS, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("store", &self.backend.store_type())
            .field("redirect", &self.backend.config().redirect)
            .finish_non_exhaustive()
    }
}

impl<I, SS, C> Layer<I> for AuthLayer<SS, C>
where
    SS: SessionStore,
    C: CookieController,
{
    type Service = SessionService<AuthService<I>, SS, C>;

    fn layer(&self, inner: I) -> Self::Service {
        self.sessions.layer(AuthService {
            inner,
            backend: self.backend.clone(),
        })
    }
}
