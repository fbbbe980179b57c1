//! Any number of app instances sharing logins: users in PostgreSQL, sessions in Redis, and one
//! [`SessionKey`] for all of them.
//!
//! What instances must share for a login to work on all of them:
//!
//! - **the session store**: Redis, through axum-login's `RedisSessionStore`, so a session created by
//!   one instance is found by every other, and a logout on one deletes it for all;
//! - **the user store**: PostgreSQL, through [`axum_login::SqlxStore`], so a password changed on
//!   one instance is what every instance checks sessions against;
//! - **the session key**: the session holds an HMAC of the user's password hash under this key,
//!   so every instance needs the same key to accept a session another one created;
//! - **the login throttle's counters**: Redis again, through `RedisThrottleStore`, so failed
//!   logins count the same on every instance: an attacker gains nothing by spreading guesses
//!   across them, and a lock holds on all of them. Device cookies are signed with the session
//!   key, so a browser that logged in on one instance is known to every other.
//!
//! | route | what it does |
//! | --- | --- |
//! | `POST /login` | JSON `{"username", "password"}`; `200`, or `401` JSON |
//! | `GET /me` | the logged-in user and the instance that answered; anonymous: `401` JSON |
//! | `POST /password` | JSON `{"current_password", "new_password"}`; ends every other session of the user, on every instance |
//! | `POST /logout` | ends the session on every instance; `204` |
//!
//! A login, logout or password change from another site's page is refused with `403`.

use std::{net::IpAddr, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, CurrentUser, PasswordCredentials, SessionKey,
    SqlxStore, Throttle, UserStore, require_login, security::RedisThrottleStore,
    session::RedisSessionStore, session_layer,
};
use fred::prelude::{Builder, ClientLike, Config, Pool, ReconnectPolicy};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use sqlx::{
    Postgres,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// A user: a row of `users` in PostgreSQL, read by [`SqlxStore`] as `#[derive(UserStore)]` says.
#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "users")]
pub struct User {
    /// The row id.
    #[auth(id)]
    pub id: i64,
    /// The login name.
    #[auth(username)]
    pub username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
}

/// The user store: users in PostgreSQL.
pub type Store = SqlxStore<User, Postgres>;

/// The session store: sessions in Redis, where every instance finds them and each key expires
/// with its session (a process's `MemoryStore` would be neither shared nor bounded).
pub type Sessions = RedisSessionStore<Pool>;

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// PostgreSQL refused or is unreachable.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    /// Redis refused or is unreachable.
    #[error("Redis: {0}")]
    Redis(#[from] fred::error::Error),
    /// Redis did not answer in time.
    #[error("Redis did not answer within {0:?}")]
    RedisTimeout(Duration),
    /// Seeding a user failed.
    #[error("seeding users: {0}")]
    Seed(#[from] axum_login::sqlx::SqlxStoreError),
}

/// How long to wait for a server at start-up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest one throttle command may take while serving: during an outage a login fails
/// after this instead of waiting for Redis to come back.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// A pool on the users database. The options say which database and, with a `search_path`,
/// which schema.
pub async fn connect_users(options: PgConnectOptions) -> Result<Store, StartError> {
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await?;
    Ok(Store::new(pool))
}

/// Creates the users tables if they are missing.
///
/// Run it from one place (a deploy step, or one instance): instances that start at the same
/// moment and all create tables can trip over each other in PostgreSQL's catalog.
pub async fn migrate(store: &Store) -> Result<(), StartError> {
    sqlx::raw_sql(store.schema()).execute(store.pool()).await?;
    Ok(())
}

/// Creates user `username` unless it exists.
pub async fn ensure_user(store: &Store, username: &str, password: &str) -> Result<(), StartError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
            .bind(username)
            .fetch_one(store.pool())
            .await?;
    if !exists {
        store.create_user(username, password.into()).await?;
    }
    Ok(())
}

/// The two Redis pools of an instance, on the same server.
#[derive(Clone)]
pub struct Redis {
    /// For the sessions, without a command timeout of its own: the session layer bounds every
    /// session call (two seconds by default), and a per-command timeout would register a timer
    /// for each command of every request (about 15% of a logged-in `GET`'s throughput, see
    /// `examples/bench/README.md`).
    pub sessions: Pool,
    /// For the throttle's counters, which nothing else bounds: each command waits at most
    /// [`COMMAND_TIMEOUT`], also while Redis is down and the client reconnects.
    pub counters: Pool,
}

/// Connected pools of Redis clients, for the sessions and the throttle's counters.
pub async fn connect_redis(redis_url: &str) -> Result<Redis, StartError> {
    let sessions = redis_pool(redis_url, None).await?;
    let counters = redis_pool(redis_url, Some(COMMAND_TIMEOUT)).await?;
    Ok(Redis { sessions, counters })
}

async fn redis_pool(
    redis_url: &str,
    command_timeout: Option<Duration>,
) -> Result<Pool, StartError> {
    let mut builder = Builder::from_config(Config::from_url(redis_url)?);
    builder.with_connection_config(|config| config.connection_timeout = CONNECT_TIMEOUT);
    if let Some(timeout) = command_timeout {
        builder.with_performance_config(|config| config.default_command_timeout = timeout);
    }
    // Keep trying after a Redis restart instead of failing every request from then on.
    let pool = builder
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
        .build_pool(4)?;
    match tokio::time::timeout(CONNECT_TIMEOUT, pool.init()).await {
        Ok(connected) => {
            connected?;
        }
        Err(_) => return Err(StartError::RedisTimeout(CONNECT_TIMEOUT)),
    }
    Ok(pool)
}

/// The login throttle of every instance: its counters in Redis, shared. `trusted_proxies` are
/// the load balancers whose `X-Forwarded-For` names the client (none when clients connect
/// directly).
pub fn throttle(redis: &Redis, trusted_proxies: &[IpAddr]) -> Throttle {
    Throttle::new(RedisThrottleStore::new(redis.counters.clone()))
        .trusted_proxies(trusted_proxies.iter().copied())
}

/// One instance's router. `instance` names it in responses, so a client can see which one
/// answered.
pub fn app(
    instance: &str,
    store: Store,
    redis: &Redis,
    key: SessionKey,
    throttle: Throttle,
) -> Router {
    // Plain HTTP on loopback, where a `Secure` cookie would never come back; `main` says so.
    // Behind a TLS-terminating load balancer, leave `Secure` on (`session_layer`'s default).
    let sessions: Sessions = RedisSessionStore::new(redis.sessions.clone());
    let sessions = session_layer(sessions).with_secure(false);
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/password", post(change_password))
        .with_state(Instance(instance.to_owned()))
        .layer(
            AuthLayer::builder(store, sessions)
                // The same key and realm on every instance, or a session works only where it
                // began. The realm is named rather than derived from the order in which layers
                // are built, which may differ between versions of the app during a rolling
                // deploy (and between instances built in one process, as in its tests).
                .session_key(key)
                .realm("scale-out")
                .throttle(throttle)
                .no_login_redirect()
                .build(),
        )
}

#[derive(Clone)]
struct Instance(String);

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

async fn login(
    mut auth: AuthSession<Store>,
    State(Instance(instance)): State<Instance>,
    Json(credentials): Json<PasswordCredentials>,
) -> Result<Response, AuthError> {
    let Some(user) = auth.authenticate(credentials).await? else {
        return Ok(error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Wrong username or password.",
        ));
    };
    auth.login(&user).await?;
    Ok(Json(json!({ "username": user.username, "instance": instance })).into_response())
}

async fn logout(mut auth: AuthSession<Store>) -> Result<StatusCode, AuthError> {
    auth.logout().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[require_login]
async fn me(
    State(Instance(instance)): State<Instance>,
    CurrentUser(user): CurrentUser<User>,
) -> Json<serde_json::Value> {
    Json(json!({ "username": user.username, "instance": instance }))
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: SecretString,
    new_password: SecretString,
}

#[require_login]
async fn change_password(
    mut auth: AuthSession<Store>,
    CurrentUser(user): CurrentUser<User>,
    Json(change): Json<PasswordChange>,
) -> Result<Response, AuthError> {
    // Checked like a login (refused cross-site, counted by the throttle), so whoever holds a
    // session cannot use it to guess the password.
    let check = PasswordCredentials {
        username: user.username.clone(),
        password: change.current_password,
    };
    if !auth.reauthenticate(check).await? {
        return Ok(error(
            StatusCode::FORBIDDEN,
            "wrong_password",
            "The current password is wrong.",
        ));
    }
    let updated = auth
        .store()
        .set_password(&user.id, change.new_password)
        .await
        .map_err(|error| AuthError::Store(error.into()))?;
    let Some(updated) = updated else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    // Every session of this user now fails its digest check, on every instance; this one is
    // re-signed with the new hash and kept.
    auth.update_session_auth_hash(&updated).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
