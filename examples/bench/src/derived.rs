//! An app as the README writes one: users from `#[derive(UserStore)]`, with their permissions
//! from a join table (here a view over direct and group grants), in the deployment shape
//! (PostgreSQL users, Redis sessions). Once with the generated load query, which selects the
//! permissions in the user's row, and once with a custom load query that selects the row alone,
//! so the store asks the permissions table in a query of its own: the two sides of a load's
//! round trips, against axum-login 0.18 in the same run.

use axum::{
    Form, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::{
    AuthLayer, AuthSession, AuthUser, PasswordCredentials, SessionKey, SqlxStore, UserStore,
    require_login, session::SessionBackend, session_layer,
};
use secrecy::SecretString;

use crate::Credentials;

/// Permissions from the `user_grants` view, loaded with the user.
#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(
    table = "users",
    permissions_table = "user_grants",
    permission_column = "name"
)]
pub(crate) struct User {
    #[auth(id)]
    id: i64,
    // The login looks the user up by this column; the bench never reads it back.
    #[allow(dead_code)]
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(permissions)]
    permissions: Vec<String>,
}

/// The same user by a custom load query: the permissions in a second query.
#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(
    table = "users",
    permissions_table = "user_grants",
    permission_column = "name",
    load_query = "SELECT id, username, password_hash FROM users WHERE id = $1"
)]
pub(crate) struct UserByTable {
    #[auth(id)]
    id: i64,
    // The login looks the user up by this column; the bench never reads it back.
    #[allow(dead_code)]
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(permissions)]
    permissions: Vec<String>,
}

async fn login<U>(
    mut auth: AuthSession<SqlxStore<U, sqlx::Postgres>>,
    Form(credentials): Form<Credentials>,
) -> Response
where
    SqlxStore<U, sqlx::Postgres>: UserStore<User = U, Credentials = PasswordCredentials>,
    U: AuthUser,
{
    let credentials = PasswordCredentials::new(credentials.username, credentials.password);
    match auth.authenticate(credentials).await {
        Ok(Some(user)) => match auth.login(&user).await {
            Ok(()) => "logged in".into_response(),
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

#[require_login(permission = "a", permission = "b", permission = "c")]
async fn three_permissions() -> &'static str {
    crate::BODY
}

/// The README's app over `users`' store and `sessions`: the recommended session layer (not
/// `Secure` on loopback), no cache, the default throttle and batching.
pub(crate) fn app<U, S>(users: sqlx::PgPool, sessions: S) -> Router
where
    U: axum_login::sqlx::SqlxUser<sqlx::Postgres> + Clone + Send + Sync + 'static,
    SqlxStore<U, sqlx::Postgres>: UserStore<User = U, Credentials = PasswordCredentials>,
    S: SessionBackend + Clone,
{
    let store = SqlxStore::<U, sqlx::Postgres>::new(users);
    let layer = AuthLayer::builder(store, session_layer(sessions).with_secure(false))
        .session_key(SessionKey::generate())
        .no_login_redirect()
        .build();
    Router::new()
        .route("/login", post(login::<U>))
        .route("/guarded", get(guarded))
        .route("/three", get(three_permissions))
        .layer(layer)
}
