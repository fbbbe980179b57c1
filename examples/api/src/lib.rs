//! A JSON API on axum-login: log in with JSON credentials, keep the session cookie in the client's
//! cookie jar, and get `401` and `403` as JSON.
//!
//! Users live in SQLite (in memory) behind [`axum_login::SqlxStore`]; sessions live in the same
//! database, in axum-login's `SqlxSessionStore`.
//!
//! | route | what it does |
//! | --- | --- |
//! | `POST /login` | JSON `{"username", "password"}`; `200` with the user, or `401` JSON |
//! | `GET /me` | the logged-in user; anonymous: `401` JSON |
//! | `GET /admin/stats` | admins only; other users: `403` JSON |
//! | `POST /logout` | ends the session; `204` |
//!
//! A login or logout from another site's page is refused with `403`.

use std::time::Duration;

use axum::{
    Json, Router,
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::session::SqlxSessionStore;
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, CurrentUser, PasswordCredentials, Role,
    SessionKey, SqlxStore, UserStore, require_login, session_layer,
};
use secrecy::SecretString;
use serde_json::json;
use sqlx::{
    Sqlite,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

/// What a user may do. Not called `Role`, which is the name of the derive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
pub enum Access {
    /// Everything a user may, and the admin endpoints.
    #[role(implies(User))]
    Admin,
    /// An ordinary user.
    User,
}

/// A user of the API, a row of `users`. The password hash is a [`SecretString`], so `Debug` never
/// prints it. `#[derive(UserStore)]` tells [`SqlxStore`] which columns to read.
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
    /// The user's role.
    #[auth(role)]
    pub role: Access,
}

/// The user store: users in SQLite.
pub type Store = SqlxStore<User, Sqlite>;

/// The seeded users: `(username, password, role)`.
pub const SEED_USERS: &[(&str, &str, Access)] = &[
    ("ferris", "hunter42", Access::User),
    ("admin", "correct-horse-battery", Access::Admin),
];

/// How often expired sessions are deleted from the database.
const SESSION_CLEANUP_PERIOD: Duration = Duration::from_secs(60);

/// An in-memory SQLite database with the store's schema and the [`SEED_USERS`].
pub async fn seeded_store() -> Result<Store, Box<dyn std::error::Error + Send + Sync>> {
    // One connection that never closes: every connection to `:memory:` is a database of its own,
    // and the database disappears with its last connection.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(SqliteConnectOptions::new().in_memory(true))
        .await?;
    let store = Store::new(pool);
    sqlx::raw_sql(store.schema()).execute(store.pool()).await?;
    for &(username, password, role) in SEED_USERS {
        let user = store.create_user(username, password.into()).await?;
        sqlx::query("UPDATE users SET role = ? WHERE id = ?")
            .bind(role)
            .bind(user.id)
            .execute(store.pool())
            .await?;
    }
    Ok(store)
}

/// The API's router, with authentication on it, and sessions in the users' database.
///
/// Starts a task that deletes expired sessions; it runs as long as the tokio runtime.
pub async fn app(store: Store, key: SessionKey) -> Result<Router, sqlx::Error> {
    // Sessions are rows next to the users, deleted by the task once they expire; tower-sessions'
    // `MemoryStore` would keep every session ever begun, however many clients log in.
    let sessions = SqlxSessionStore::<sqlx::Sqlite>::new(store.pool().clone());
    sessions.migrate().await?;
    tokio::spawn(delete_expired_sessions(sessions.clone()));
    // Plain HTTP on loopback, where a `Secure` cookie would never come back; `main` says so.
    let sessions = session_layer(sessions).with_secure(false);
    Ok(Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/admin/stats", get(admin_stats))
        .layer(
            AuthLayer::builder(store, sessions)
                .session_key(key)
                // An API has no login page: anonymous callers get `401`, whatever they accept.
                .no_login_redirect()
                .build(),
        ))
}

async fn delete_expired_sessions(sessions: SqlxSessionStore<sqlx::Sqlite>) {
    if let Err(error) = sessions
        .continuously_delete_expired(SESSION_CLEANUP_PERIOD)
        .await
    {
        tracing::error!(%error, "expired-session cleanup stopped");
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

fn user_json(user: &User) -> serde_json::Value {
    json!({ "id": user.id, "username": user.username, "role": user.role })
}

async fn login(
    mut auth: AuthSession<Store>,
    credentials: Result<Json<PasswordCredentials>, JsonRejection>,
) -> Result<Response, AuthError> {
    let Json(credentials) = match credentials {
        Ok(credentials) => credentials,
        Err(rejection) => {
            return Ok(error(
                rejection.status(),
                "bad_request",
                "Send JSON: {\"username\": \"...\", \"password\": \"...\"}.",
            ));
        }
    };
    match auth.authenticate(credentials).await? {
        Some(user) => {
            auth.login(&user).await?;
            Ok(Json(user_json(&user)).into_response())
        }
        // One answer whatever was wrong, so the API does not tell which usernames exist.
        None => Ok(error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Wrong username or password.",
        )),
    }
}

async fn logout(mut auth: AuthSession<Store>) -> Result<StatusCode, AuthError> {
    auth.logout().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[require_login]
async fn me(CurrentUser(user): CurrentUser<User>) -> Json<serde_json::Value> {
    Json(user_json(&user))
}

#[require_login(role = Access::Admin)]
async fn admin_stats(auth: AuthSession<Store>) -> Result<Response, AuthError> {
    let users: i64 = match sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(auth.store().pool())
        .await
    {
        Ok(count) => count,
        Err(cause) => {
            tracing::error!(%cause, "counting users failed");
            return Ok(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong.",
            ));
        }
    };
    Ok(Json(json!({ "users": users })).into_response())
}
