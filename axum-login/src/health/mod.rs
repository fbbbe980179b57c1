//! Health checks for a deployment's probes: [`AuthLayer::health`] hands the app a [`Health`]
//! whose [`router`](Health::router) serves
//!
//! - `GET /health/ready`: **readiness**. Every store the layer uses is asked, at once, to
//!   answer one cheap round trip within a [`timeout`](Health::timeout) (default
//!   [`DEFAULT_TIMEOUT`]); `200` when all did, `503` otherwise, with a JSON body that names each
//!   store and what it did:
//!
//!   ```json
//!   {"status":"fail","checks":{"registry":"ok","sessions":"timeout","throttle":"ok","users":"ok"}}
//!   ```
//!
//!   A check is `"ok"`, `"error"` (the store answered with an error, or the connection was
//!   refused) or `"timeout"`. The cause is logged (`tracing`, at `warn`), never sent: the
//!   endpoint is often reachable by more than the operator, and a database error can name
//!   hosts and users.
//! - `GET /health/live`: **liveness**, `200 {"status":"ok"}` from the process itself. It never
//!   touches a store, so an orchestrator does not restart every instance because the database
//!   is down (which a restart cannot fix).
//!
//! The stores, by their names in the report:
//!
//! | name | store | how it is asked |
//! |---|---|---|
//! | `sessions` | the [`session_layer`](crate::session_layer)'s store | loads a random session id, which no session has |
//! | `users` | the [`UserStore`](crate::UserStore) | [`UserStore::ping`](crate::UserStore::ping): [`SqlxStore`](crate::SqlxStore) pings a pooled connection; the default answers without asking |
//! | `throttle` | the [`Throttle`](crate::Throttle)'s store, unless throttling is off | [`ThrottleStore::ping`](crate::security::ThrottleStore::ping) |
//! | `registry` | the [session registry](crate::registry), if registered | [`SessionRegistry::ping`](crate::registry::SessionRegistry::ping) |
//! | `remember_me` | the [remember-me](crate::remember) tokens, if registered | [`RememberStore::ping`](crate::remember::RememberStore::ping) |
//! | `second_factors` | the [`second_factors`](crate::layer::AuthLayerBuilder::second_factors) lookup, if given | [`SecondFactorLookup::ping`](crate::second_factor::SecondFactorLookup::ping): `Mfa` reads its store |
//! | `api_tokens` | the [API tokens](crate::tokens), if registered (feature `tokens`) | `TokenStore::ping`: looks up a hash no token has |
//! | `account_tokens` | the mailed tokens of [`Accounts`](crate::accounts::Accounts), if registered (feature `accounts`) | `AccountTokenStore::ping`: looks up a hash no token has |
//!
//! The feature stores' default `ping` reads a key no one has, so a store of the app's is asked
//! a real round trip without writing a ping of its own. A layer over a tower-sessions
//! `SessionManagerLayer` of the app's keeps its session store to itself: `sessions` is then not
//! in the report.
//!
//! Mount the router beside the layer, not under it (`.merge` after `.layer`), so a probe does
//! not go through the session middleware:
//!
//! ```
//! use axum::{Router, routing::get};
//! use axum_login::{AuthLayer, session::MemoryStore, session_layer};
//! # use axum_login::{AuthUser, UserStore};
//! # #[derive(Clone)] struct User;
//! # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { 1 } fn session_auth_hash(&self) -> &[u8] { b"" } }
//! # #[derive(Clone)] struct MyStore;
//! # impl UserStore for MyStore {
//! #     type User = User; type Credentials = (); type Error = std::convert::Infallible;
//! #     async fn authenticate(&self, _: ()) -> Result<Option<User>, Self::Error> { Ok(None) }
//! #     async fn load_user(&self, _: &u64) -> Result<Option<User>, Self::Error> { Ok(None) }
//! # }
//!
//! let auth = AuthLayer::builder(MyStore, session_layer(MemoryStore::default())).build();
//! let health = auth.health().timeout(std::time::Duration::from_millis(500));
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(auth)
//!     .merge(health.router());
//! ```
//!
//! There is no cargo feature for this: it needs nothing the crate does not already depend on,
//! and costs nothing until the app mounts it.

use std::{collections::BTreeMap, fmt, sync::Arc, time::Duration};

use axum::{
    Router,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::future::join_all;
use serde::Serialize;
use tower_sessions::{SessionStore, service::CookieController};

use crate::{
    AuthLayer,
    error::BoxError,
    login::{BoxFuture, ErasedBackend},
};

/// The default [`Health::timeout`]: 1 second, the default probe timeout of Kubernetes, so a
/// slow store is reported as such before the orchestrator gives up on the probe itself.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

impl<SS: SessionStore, C: CookieController> AuthLayer<SS, C> {
    /// The readiness and liveness checks of this layer's stores: see [`health`](crate::health).
    pub fn health(&self) -> Health {
        Health {
            backend: self.backend().clone(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The health checks of one [`AuthLayer`], from [`AuthLayer::health`]. Cheap to clone.
#[derive(Clone)]
pub struct Health {
    backend: Arc<dyn ErasedBackend>,
    timeout: Duration,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health")
            .field("store", &self.backend.store_type())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Health {
    /// How long each store has to answer a readiness check. Default: [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `GET /health/ready` ([`ready`](Self::ready)) and `GET /health/live` ([`live`]), for
    /// `Router::merge`.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let health = self.clone();
        Router::new()
            .route(
                "/health/ready",
                get(move || {
                    let health = health.clone();
                    async move { health.ready().await }
                }),
            )
            .route("/health/live", get(live))
    }

    /// Asks every store of the layer at once, each bounded by the [`timeout`](Self::timeout).
    pub async fn ready(&self) -> Readiness {
        let config = self.backend.config();
        let mut pending: Vec<(&'static str, BoxFuture<'_, Result<(), BoxError>>)> =
            vec![("users", self.backend.ping_users())];
        if let Some(sessions) = &config.session_deleter {
            pending.push(("sessions", sessions.ping()));
        }
        if config.throttle.is_enabled() {
            pending.push(("throttle", Box::pin(config.throttle.ping())));
        }
        for store in config.features.stores() {
            pending.push((store.name, store.check));
        }
        let timeout = self.timeout;
        let answers = join_all(pending.into_iter().map(|(name, check)| async move {
            let status = match tokio::time::timeout(timeout, check).await {
                Ok(Ok(())) => CheckStatus::Ok,
                Ok(Err(error)) => {
                    tracing::warn!(store = name, %error, "readiness: the store failed");
                    CheckStatus::Error
                }
                Err(_) => {
                    tracing::warn!(
                        store = name,
                        ?timeout,
                        "readiness: the store did not answer in time"
                    );
                    CheckStatus::Timeout
                }
            };
            (name, status)
        }))
        .await;
        let checks: BTreeMap<_, _> = answers.into_iter().collect();
        let status = if checks.values().all(|status| *status == CheckStatus::Ok) {
            Status::Ok
        } else {
            Status::Fail
        };
        Readiness { status, checks }
    }
}

/// The liveness check: `200 {"status":"ok"}`, from the process alone.
pub async fn live() -> Response {
    json(StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
}

/// What a readiness check found; as a response, `200` or `503` with itself as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Readiness {
    /// Whether every store answered.
    pub status: Status,
    /// Each store's answer, by its name (see [the table](crate::health)).
    pub checks: BTreeMap<&'static str, CheckStatus>,
}

impl Readiness {
    /// Whether every store answered.
    pub fn is_ready(&self) -> bool {
        self.status == Status::Ok
    }
}

/// Whether a deployment is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every store answered.
    Ok,
    /// At least one did not.
    Fail,
}

/// What one store did when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// It answered.
    Ok,
    /// It answered with an error, or could not be reached.
    Error,
    /// It did not answer within the [`timeout`](Health::timeout).
    Timeout,
}

impl IntoResponse for Readiness {
    fn into_response(self) -> Response {
        let status = if self.is_ready() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        match serde_json::to_string(&self) {
            Ok(body) => json(status, body),
            // Names and fixed words only: it cannot fail, but a probe gets the status anyway.
            Err(_) => status.into_response(),
        }
    }
}

/// A JSON response that no cache keeps: a probe must see the state of now.
fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
