//! [`AuthLayer`]: the tower layer that puts authentication on a router.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use tower_layer::Layer;
use tower_service::Service;
use tower_sessions::{
    Session, SessionStore,
    service::{CookieController, PlaintextCookie},
};

use crate::{
    Clock, LoginRedirect, SessionKey, SystemClock, UserStore,
    context::{Backend, Config, ErasedBackend, RequestAuth},
};

/// The default [`AuthLayerBuilder::absolute_timeout`]: 30 days.
pub const DEFAULT_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Adds authentication to a router: sessions from tower-sessions, users from a [`UserStore`].
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
/// use tower_sessions::{MemoryStore, SessionManagerLayer};
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
/// let sessions = SessionManagerLayer::new(MemoryStore::default());
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(AuthLayer::builder(MyStore, sessions).login_url("/login").build());
/// ```
pub struct AuthLayer<S, SS: SessionStore, C: CookieController = PlaintextCookie> {
    backend: Arc<dyn ErasedBackend>,
    sessions: crate::session_service::Sessions<SS, C>,
    _store: std::marker::PhantomData<fn() -> S>,
}

impl<S, SS: SessionStore + Clone, C: CookieController + Clone> Clone for AuthLayer<S, SS, C> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            sessions: self.sessions.clone(),
            _store: std::marker::PhantomData,
        }
    }
}

impl<S, SS: SessionStore, C: CookieController> fmt::Debug for AuthLayer<S, SS, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("store", &self.backend.store_type())
            .field("redirect", &self.backend.config().redirect)
            .finish_non_exhaustive()
    }
}

impl<S: UserStore, SS: SessionStore, C: CookieController> AuthLayer<S, SS, C> {
    /// Starts building a layer over `store` and `sessions`: a [`session_layer`] (safe cookie
    /// defaults) or any tower-sessions `SessionManagerLayer`.
    ///
    /// [`session_layer`]: crate::session_layer
    pub fn builder(
        store: S,
        sessions: impl crate::IntoSessionManager<SS, C>,
    ) -> AuthLayerBuilder<S, SS, C> {
        AuthLayerBuilder {
            store,
            sessions: sessions.into_session_manager(),
            key: None,
            redirect: LoginRedirect::default(),
            clock: Arc::new(SystemClock),
            responder: None,
            trusted_origins: Vec::new(),
            refuse_cross_site: true,
            throttle: crate::Throttle::default(),
            absolute_timeout: Some(DEFAULT_ABSOLUTE_TIMEOUT),
            idle_timeout: None,
            cache: Default::default(),
            batch_loads: None,
        }
    }
}

/// Options for an [`AuthLayer`]; from [`AuthLayer::builder`].
#[must_use = "call `.build()` to get the layer"]
pub struct AuthLayerBuilder<S, SS: SessionStore, C: CookieController> {
    store: S,
    sessions: crate::session_service::Sessions<SS, C>,
    key: Option<SessionKey>,
    redirect: LoginRedirect,
    clock: Arc<dyn Clock>,
    responder: Option<Arc<dyn crate::DenialResponder>>,
    trusted_origins: Vec<String>,
    refuse_cross_site: bool,
    throttle: crate::Throttle,
    absolute_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    pub(crate) cache: crate::cache::CacheSlot,
    batch_loads: Option<bool>,
}

impl<S: UserStore, SS: SessionStore, C: CookieController> AuthLayerBuilder<S, SS, C> {
    /// The server key for the session digests. Default: a random key per process, so logins do
    /// not survive a restart and are not shared between instances; see [`SessionKey`].
    pub fn session_key(mut self, key: SessionKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Where anonymous browsers are sent to log in. Default: `/login`.
    ///
    /// # Panics
    ///
    /// If `url` is not a local path (it must start with a single `/`), since a login page on
    /// another site would be an open redirect.
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        assert!(
            url.starts_with('/') && !url.starts_with("//") && !url.contains('\\'),
            "AuthLayer: login_url must be a local path such as \"/login\", got {url:?}"
        );
        self.redirect.login_url = Some(url);
        self
    }

    /// Answer anonymous browsers with `401` like API clients, instead of redirecting them.
    pub fn no_login_redirect(mut self) -> Self {
        self.redirect.login_url = None;
        self
    }

    /// The query parameter that carries the page to come back to after login. Default: `next`.
    pub fn redirect_field(mut self, field: impl Into<String>) -> Self {
        self.redirect.redirect_field = field.into();
        self
    }

    /// Another origin allowed to send login and logout requests, e.g. a front end served from
    /// `https://app.example` talking to this API; repeat for several. By default only requests
    /// from this site may log in or out: a `POST` whose `Sec-Fetch-Site` is `cross-site` or
    /// `same-site`, or whose `Origin` is not this host, gets `403`.
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted_origins
            .push(origin.into().trim_end_matches('/').to_owned());
        self
    }

    /// Lets other sites send login and logout requests. This opens the app to login CSRF (a
    /// site logs the visitor in as the attacker) and logout CSRF; only for apps that protect
    /// those routes with their own CSRF tokens.
    pub fn allow_cross_site_auth(mut self) -> Self {
        self.refuse_cross_site = false;
        self
    }

    /// How failed logins are throttled. Default: [`Throttle::default`](crate::Throttle), 5
    /// failures per account and 50 per client address per 15 minutes, in memory.
    pub fn throttle(mut self, throttle: crate::Throttle) -> Self {
        self.throttle = throttle;
        self
    }

    /// The longest a login lasts, however active: after it the session ends and the user logs
    /// in again. Default: [`DEFAULT_ABSOLUTE_TIMEOUT`] (30 days); `None` for no limit.
    pub fn absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// The longest a login lasts unused. Default: `None`, leaving idle expiry to the session
    /// layer's own expiry. With a timeout, the session is written at most every tenth of it to
    /// record activity.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Answers turned-away requests (anonymous, stale login, forbidden) the app's own way, e.g.
    /// a branded 403 page; returning `None` keeps the default answer. See [`DenialResponder`].
    ///
    /// [`DenialResponder`]: crate::DenialResponder
    pub fn on_denied(mut self, responder: impl crate::DenialResponder) -> Self {
        self.responder = Some(Arc::new(responder));
        self
    }

    /// Whether the users of concurrent requests are loaded together, through
    /// [`UserStore::load_users`]. Default: [`UserStore::BATCHED_LOADS`], so on for a store that
    /// says its `load_users` is one query, otherwise one [`UserStore::load_user`] per request.
    ///
    /// The first load starts at once; loads that arrive while it runs go together in the next
    /// call (at most 100 users each), so a load waits at most for the batch in flight, reads
    /// the store after its request arrived, and a quiet server loads one user at a time. Under
    /// load this trades one query per request for one query per batch: with a store whose
    /// `load_users` is one `WHERE id IN (...)` query, the `cargo run --release -p bench` guarded
    /// route without a cache serves 1.6–1.8x the requests of one load per request (see the
    /// README's benchmarks). Each user is checked to be the one asked for, so a store that
    /// answers out of order logs no one in as someone else.
    ///
    /// The store's `load_users` runs on a task of its own, outside the request's tracing span.
    pub fn batch_user_loads(mut self, on: bool) -> Self {
        self.batch_loads = Some(on);
        self
    }

    /// The clock for login times and timeouts. Default: [`SystemClock`]. Tests use
    /// [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the layer.
    pub fn build(self) -> AuthLayer<S, SS, C> {
        let key = self.key.unwrap_or_else(|| {
            tracing::warn!(
                "AuthLayer: no session key given, using a random one; logins will not survive a restart or be shared between instances (see `AuthLayerBuilder::session_key`)"
            );
            SessionKey::generate()
        });
        let batcher = self
            .batch_loads
            .unwrap_or(S::BATCHED_LOADS)
            .then(|| crate::batch::Batcher::new(self.store.clone()));
        let backend = Backend {
            store: self.store,
            config: Config {
                redirect: self.redirect,
                clock: self.clock,
                responder: self.responder,
                trusted_origins: self.trusted_origins,
                refuse_cross_site: self.refuse_cross_site,
                throttle: self.throttle,
                absolute_timeout: self.absolute_timeout,
                idle_timeout: self.idle_timeout,
                key,
            },
            cache: self.cache,
            batcher,
        };
        AuthLayer {
            backend: Arc::new(backend),
            sessions: self.sessions,
            _store: std::marker::PhantomData,
        }
    }
}

impl<I, S, SS, C> Layer<I> for AuthLayer<S, SS, C>
where
    SS: SessionStore,
    C: CookieController,
{
    type Service = crate::session_service::SessionService<AuthService<I>, SS, C>;

    fn layer(&self, inner: I) -> Self::Service {
        self.sessions.layer(AuthService {
            inner,
            backend: self.backend.clone(),
        })
    }
}

/// The service that [`AuthLayer`] puts inside the session manager.
#[derive(Clone)]
pub struct AuthService<I> {
    inner: I,
    backend: Arc<dyn ErasedBackend>,
}

impl<I> fmt::Debug for AuthService<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("store", &self.backend.store_type())
            .finish_non_exhaustive()
    }
}

impl<I, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<I>
where
    I: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = I::Error;
    type Future = AuthFuture<I::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let Some(session) = req.extensions().get::<Session>().cloned() else {
            // The session layer wraps this service, so this only happens if someone builds an
            // `AuthService` by hand; answer rather than panic.
            tracing::error!("AuthService without a session: build it through `AuthLayer`");
            return AuthFuture::failed();
        };
        let origin = crate::origin::RequestOrigin::of(req.method(), req.headers());
        let client = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        let auth = RequestAuth::new(session, self.backend.clone(), origin, client);
        req.extensions_mut().insert(auth.clone());
        AuthFuture::running(self.inner.call(req), auth)
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`AuthService`].
    pub struct AuthFuture<F> {
        #[pin]
        state: FutureState<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = FutureStateProj]
    enum FutureState<F> {
        Running {
            #[pin]
            future: F,
            auth: RequestAuth,
        },
        Failed,
    }
}

impl<F> AuthFuture<F> {
    fn running(future: F, auth: RequestAuth) -> Self {
        Self {
            state: FutureState::Running { future, auth },
        }
    }

    fn failed() -> Self {
        Self {
            state: FutureState::Failed,
        }
    }
}

impl<F, ResBody, E> Future for AuthFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            FutureStateProj::Running { future, auth } => {
                let mut response = ready!(future.poll(cx))?;
                if auth.was_consulted() {
                    mark_private(&mut response);
                }
                Poll::Ready(Ok(response))
            }
            FutureStateProj::Failed => {
                let mut response = Response::new(ResBody::default());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// A response that depends on who is logged in must not be cached and served to someone else.
fn mark_private<B>(response: &mut Response<B>) {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let varies_on_cookie = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| {
            let name = name.trim();
            name == "*" || name.eq_ignore_ascii_case("cookie")
        });
    if !varies_on_cookie {
        headers.append(header::VARY, HeaderValue::from_static("Cookie"));
    }
}
