//! This crate's side: a hand-written `UserStore` over the user tables (one query loads the
//! user with every permission, direct and through groups), and its server.

use std::{collections::HashMap, time::Duration};

use crate::{
    Credentials,
    db::{Calls, LoadRow, Users, verify},
};
use axum::{
    Form, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::session::{MemoryStore, SessionBackend};
use axum_login::{
    AuthLayer, AuthSession, AuthUser, SessionKey, Throttle, UserCache, UserStore,
    authz::PermissionRef,
    csrf::{CsrfLayer, CsrfToken},
    registry::{MemorySessionRegistry, RegistryConfig},
    remember::{MemoryRememberStore, RememberMe},
    require_login, session_layer,
    tokens::{ApiTokens, MemoryTokenStore, NewToken},
};
use secrecy::ExposeSecret;

#[derive(Clone, Debug)]
pub(crate) struct User {
    id: i64,
    password_hash: String,
    permissions: Vec<String>,
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.password_hash.as_bytes()
    }

    fn has_permission(&self, permission: PermissionRef<'_>) -> bool {
        permission.is_granted_by_names(&self.permissions)
    }
}

#[derive(Clone)]
pub(crate) struct Store {
    pool: Users,
    pub(crate) calls: Calls,
    /// Compare the password with [`PASSWORD`](crate::db::PASSWORD) instead of its argon2
    /// hash, so that what the login throttle costs is not lost in the hash's cost.
    plain_passwords: bool,
}

fn user_from((id, password_hash, direct, via_groups): LoadRow) -> User {
    let names = |list: Option<String>| {
        list.unwrap_or_default()
            .split(',')
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let mut permissions = names(direct);
    permissions.extend(names(via_groups));
    User {
        id,
        password_hash,
        permissions,
    }
}

impl UserStore for Store {
    type User = User;
    type Credentials = Credentials;
    type Error = sqlx::Error;

    /// `load_users` is one query, so the layer batches concurrent loads by default.
    const BATCHED_LOADS: bool = true;

    async fn authenticate(&self, credentials: Credentials) -> Result<Option<User>, sqlx::Error> {
        let row = self.pool.load_by_name(&credentials.username).await?;
        let Some(user) = row.map(user_from) else {
            return Ok(None);
        };
        if self.plain_passwords {
            return Ok((credentials.password == crate::db::PASSWORD).then_some(user));
        }
        Ok(verify(credentials.password, user.password_hash.clone())
            .await
            .then_some(user))
    }

    /// Usernames are compared exactly: the name is the account.
    fn throttle_key(&self, credentials: &Credentials) -> Option<String> {
        Some(credentials.username.clone())
    }

    async fn load_user(&self, id: &i64) -> Result<Option<User>, sqlx::Error> {
        self.calls.bump();
        Ok(self.pool.load_by_id(*id).await?.map(user_from))
    }

    /// The users of concurrent requests in one query.
    async fn load_users(&self, ids: &[i64]) -> Result<Vec<Option<User>>, sqlx::Error> {
        self.calls.bump();
        let found: HashMap<i64, User> = self
            .pool
            .load_by_ids(ids)
            .await?
            .into_iter()
            .map(user_from)
            .map(|user| (user.id, user))
            .collect();
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }
}

async fn login(mut auth: AuthSession<Store>, Form(credentials): Form<Credentials>) -> Response {
    match auth.authenticate(credentials).await {
        Ok(Some(user)) => match auth.login(&user).await {
            // A remembered login, where the layer offers remember-me; nothing otherwise.
            Ok(()) => match auth.remember_me().await {
                Ok(_) => "logged in".into_response(),
                Err(error) => error.into_response(),
            },
            Err(error) => error.into_response(),
        },
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(error) => error.into_response(),
    }
}

#[require_login]
async fn guarded() -> &'static str {
    crate::BODY
}

/// An API token for the connection's user, made once before the measure.
async fn api_token(auth: AuthSession<Store>) -> Response {
    let new = NewToken {
        name: "bench".to_owned(),
        scopes: Vec::new(),
        lifetime: None,
    };
    match auth.create_token(new).await {
        Ok(Some(created)) => created.secret.expose_secret().to_owned().into_response(),
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(error) => error.into_response(),
    }
}

/// A token for the connection's `POST`s, as an endpoint of a JSON client's app gives it.
async fn csrf_token(token: CsrfToken) -> String {
    token.value().to_owned()
}

#[require_login(permission = "a", permission = "b", permission = "c")]
async fn three_permissions() -> &'static str {
    crate::BODY
}

/// What a row adds to the app, for its cost against the same row without.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extra {
    Nothing,
    /// The auth-event counters (`.metrics()`).
    Metrics,
    /// The CSRF layer on every route but the login, which the bench's client posts without
    /// reading a form first; `/csrf-token` gives a connection its token.
    Csrf,
    /// API tokens (in memory); `POST /api-token` gives a logged-in connection one, which it
    /// sends instead of its session cookie.
    Tokens,
}

/// The app over `sessions`, with the user cache when `cache` is given, batched user loads
/// (the default for this store) unless `batch` is false, a session registry and
/// remember-me (in memory) when `accounts`, and what `extra` adds.
pub(crate) fn app<S>(
    pool: Users,
    sessions: S,
    cache: Option<UserCache>,
    batch: bool,
    accounts: bool,
    extra: Extra,
) -> (Router, Calls)
where
    S: SessionBackend + Clone,
{
    let calls = Calls::default();
    let store = Store {
        pool,
        calls: calls.clone(),
        plain_passwords: false,
    };
    // The recommended session layer; plain HTTP on loopback, so not `Secure`.
    let sessions = session_layer(sessions).with_secure(false);
    let mut layer = AuthLayer::builder(store, sessions)
        .session_key(SessionKey::generate())
        .no_login_redirect();
    if let Some(cache) = cache {
        layer = layer.user_cache(cache);
    }
    if !batch {
        layer = layer.batch_user_loads(false);
    }
    if extra == Extra::Metrics {
        layer = layer.metrics();
    }
    if extra == Extra::Tokens {
        layer = layer.api_tokens(ApiTokens::new(MemoryTokenStore::default()));
    }
    if accounts {
        layer = layer
            .session_registry(RegistryConfig::new(MemorySessionRegistry::default()))
            .remember_me(RememberMe::new(MemoryRememberStore::default()));
    }
    let mut router = Router::new()
        .route("/login", post(login))
        .route("/public", get(crate::hello))
        // `POST` is the state-changing request, the one the CSRF layer checks.
        .route("/guarded", get(guarded).post(guarded))
        .route("/three", get(three_permissions));
    if extra == Extra::Tokens {
        router = router.route("/api-token", post(api_token));
    }
    if extra == Extra::Csrf {
        router = router
            .route("/csrf-token", get(csrf_token))
            .layer(CsrfLayer::new().exempt("/login"));
    }
    let router = router.layer(layer.build());
    (router, calls)
}

/// The app for the throttle's cost: its login route, with the default throttle or none, and
/// argon2 or a plain comparison for the password.
pub(crate) fn login_app(pool: Users, throttled: bool, plain_passwords: bool) -> Router {
    let store = Store {
        pool,
        calls: Calls::default(),
        plain_passwords,
    };
    let sessions = session_layer(MemoryStore::default()).with_secure(false);
    let throttle = if throttled {
        Throttle::default()
    } else {
        Throttle::disabled()
    };
    let layer = AuthLayer::builder(store, sessions)
        .session_key(SessionKey::generate())
        .throttle(throttle)
        .no_login_redirect()
        .build();
    Router::new().route("/login", post(login)).layer(layer)
}

/// A cache whose TTL outlasts the run, so a warm cache is measured: with a shorter one, each
/// user is loaded again once per TTL (16 loads in half a million requests).
pub(crate) fn cache() -> UserCache {
    UserCache::new(10_000, Duration::from_secs(600))
}
