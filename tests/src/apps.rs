//! The suite's apps: one on the counting hand-written store (no hashing, for load, races and
//! session handling) and one on `SqlxStore` with real argon2id (for enumeration and bad input).

use std::{sync::Arc, time::Duration};

use axum::{
    Extension, Form, Json, Router,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, CurrentUser, PasswordCredentials, SessionKey, SqlxStore,
    UserStore,
    layer::AuthLayerBuilder,
    require_login,
    session::{SessionBackend, SessionLayer},
    session_layer,
    tower_sessions::service::PlaintextCookie,
};
use sqlx::{Sqlite, sqlite::SqlitePoolOptions};
use tokio::sync::Notify;

use crate::{
    db::SQLITE_SCHEMA,
    directory::{Credentials, TestStore, TestUser},
    http::serve_with_addr,
    login::log_in,
    session_stores::InspectableStore,
    users::{Access, SqlUser, password_hash},
};

/// The one page every failed login gets, whatever was wrong.
pub const LOGIN_FAILED: &str = "<!doctype html><title>Log in</title><p>Wrong username or password.</p><form method=post action=/login><input name=username><input name=password type=password></form>";

/// The session key both apps use.
pub const SESSION_KEY_BYTES: &[u8; 64] =
    b"security-suite-key-security-suite-key-security-suite-key-0123456";

pub fn session_key() -> SessionKey {
    SessionKey::from_bytes(SESSION_KEY_BYTES).expect("a long enough key")
}

fn login_failed() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        LOGIN_FAILED,
    )
        .into_response()
}

async fn login_outcome<S: UserStore>(
    mut auth: AuthSession<S>,
    credentials: S::Credentials,
) -> Result<Response, AuthError> {
    Ok(match log_in(&mut auth, credentials).await? {
        Some(_) => Redirect::to("/").into_response(),
        None => login_failed(),
    })
}

async fn logout<S: UserStore>(mut auth: AuthSession<S>) -> Result<Redirect, AuthError> {
    auth.logout().await?;
    Ok(Redirect::to("/login"))
}

async fn public() -> &'static str {
    "public"
}

/// Holds a request after it loaded and wrote its session, until the test lets it go.
#[derive(Default)]
pub struct Gate {
    pub entered: Notify,
    pub release: Notify,
}

// ---- the hand-written store -------------------------------------------------------------

pub type MemAuth = AuthSession<TestStore>;

async fn mem_login(
    auth: MemAuth,
    Form(credentials): Form<Credentials>,
) -> Result<Response, AuthError> {
    login_outcome(auth, credentials).await
}

async fn mem_me(auth: MemAuth) -> Result<String, AuthError> {
    Ok(auth
        .user()
        .await?
        .map_or_else(|| "anonymous".to_owned(), |user| user.name))
}

#[require_login]
async fn mem_protected(CurrentUser(user): CurrentUser<TestUser>) -> String {
    format!("protected page of {}", user.name)
}

#[derive(serde::Deserialize)]
struct NewPassword {
    new_password: String,
}

async fn mem_password(
    mut auth: MemAuth,
    CurrentUser(user): CurrentUser<TestUser>,
    Form(form): Form<NewPassword>,
) -> Result<&'static str, AuthError> {
    let user = auth.store().set_password(user.id, &form.new_password);
    auth.update_session_auth_hash(&user).await?;
    Ok("password changed")
}

/// Loads and writes the session, then waits for the test.
async fn mem_slow(
    auth: MemAuth,
    Extension(gate): Extension<Arc<Gate>>,
) -> Result<String, AuthError> {
    let who = auth.user().await?.map(|user| user.name);
    auth.session()
        .insert("note", "written by a slow request")
        .await?;
    gate.entered.notify_one();
    gate.release.notified().await;
    Ok(who.unwrap_or_else(|| "anonymous".to_owned()))
}

/// Puts the request body, any JSON, under the framework's session key.
async fn mem_raw(
    auth: MemAuth,
    Json(value): Json<serde_json::Value>,
) -> Result<&'static str, AuthError> {
    auth.session()
        .insert_value("axum_login.auth", value)
        .await?;
    Ok("stored")
}

/// Writes the session on every call (a counter), as a page that records a visit does; answers
/// who the user is.
async fn mem_touch(auth: MemAuth) -> Result<String, AuthError> {
    let who = auth.user().await?.map(|user| user.name);
    let visits: u64 = auth.session().get("visits").await?.unwrap_or(0);
    auth.session().insert("visits", visits + 1).await?;
    Ok(who.unwrap_or_else(|| "anonymous".to_owned()))
}

/// Changes nothing while telling the session it did: removes a key that is not there and sets
/// a value to what it already is.
async fn mem_noop(auth: MemAuth) -> Result<String, AuthError> {
    let who = auth.user().await?.map(|user| user.name);
    let _: Option<String> = auth.session().remove("never-set").await?;
    if let Some(visits) = auth.session().get::<u64>("visits").await? {
        auth.session().insert("visits", visits).await?;
    }
    Ok(who.unwrap_or_else(|| "anonymous".to_owned()))
}

/// The routes of the hand-written-store app, without the auth layer.
pub fn mem_routes(gate: Arc<Gate>) -> Router {
    Router::new()
        .route("/public", get(public))
        .route("/login", post(mem_login))
        .route("/logout", post(logout::<TestStore>))
        .route("/me", get(mem_me))
        .route("/protected", get(mem_protected))
        .route("/password", post(mem_password))
        .route("/slow", get(mem_slow))
        .route("/raw", post(mem_raw))
        .route("/touch", post(mem_touch))
        .route("/noop", post(mem_noop))
        .layer(Extension(gate))
}

/// `ferris`, `admin` and `user00`..`user19`, each with password `pw-<name>`.
pub fn mem_store() -> TestStore {
    let store = TestStore::with_users(&[(1, "ferris", "pw-ferris"), (2, "admin", "pw-admin")]);
    for n in 0..20 {
        store.add(100 + n, &format!("user{n:02}"), &format!("pw-user{n:02}"));
    }
    store
}

pub type MemBuilder<SS> =
    AuthLayerBuilder<TestStore, axum_login::session::GuardedStore<SS>, PlaintextCookie>;

pub struct MemApp<SS> {
    pub base: String,
    pub store: TestStore,
    pub sessions: SS,
    pub gate: Arc<Gate>,
}

/// The hand-written-store app under `session_layer(sessions)`, configured by `configure`.
pub async fn mem_app_with<SS>(
    sessions: SS,
    configure: impl FnOnce(MemBuilder<SS>) -> MemBuilder<SS>,
) -> MemApp<SS>
where
    SS: SessionBackend + Clone,
{
    mem_app_on(sessions.clone(), session_layer(sessions), configure).await
}

/// The hand-written-store app under `layer`, a session layer over `sessions` set up by the
/// test, configured by `configure`.
pub async fn mem_app_on<SS>(
    sessions: SS,
    layer: SessionLayer<SS>,
    configure: impl FnOnce(MemBuilder<SS>) -> MemBuilder<SS>,
) -> MemApp<SS>
where
    SS: SessionBackend + Clone,
{
    let store = mem_store();
    let gate = Arc::new(Gate::default());
    let layer =
        configure(AuthLayer::builder(store.clone(), layer).session_key(session_key())).build();
    let addr = serve_with_addr(mem_routes(gate.clone()).layer(layer)).await;
    MemApp {
        base: format!("http://{addr}"),
        store,
        sessions,
        gate,
    }
}

/// The hand-written-store app with the defaults and an inspectable session store.
pub async fn mem_app() -> MemApp<InspectableStore> {
    mem_app_with(InspectableStore::default(), |builder| builder).await
}

// ---- SqlxStore ----------------------------------------------------------------------------

pub type SqliteStore = SqlxStore<SqlUser, Sqlite>;

async fn sql_login<S>(
    auth: AuthSession<S>,
    Form(credentials): Form<PasswordCredentials>,
) -> Result<Response, AuthError>
where
    S: UserStore<Credentials = PasswordCredentials, User = SqlUser>,
{
    login_outcome(auth, credentials).await
}

async fn sql_login_json<S>(
    auth: AuthSession<S>,
    Json(credentials): Json<PasswordCredentials>,
) -> Result<Response, AuthError>
where
    S: UserStore<Credentials = PasswordCredentials, User = SqlUser>,
{
    login_outcome(auth, credentials).await
}

async fn sql_me<S: UserStore<User = SqlUser>>(auth: AuthSession<S>) -> Result<String, AuthError> {
    Ok(auth
        .user()
        .await?
        .map_or_else(|| "anonymous".to_owned(), |user| user.username))
}

/// Only parses: the credentials extractor, and the limits check, without the store.
async fn parse_form(Form(credentials): Form<PasswordCredentials>) -> StatusCode {
    parsed(&credentials)
}

async fn parse_json(Json(credentials): Json<PasswordCredentials>) -> StatusCode {
    parsed(&credentials)
}

fn parsed(credentials: &PasswordCredentials) -> StatusCode {
    if credentials.is_within_limits() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    }
}

#[require_login]
async fn sql_protected(CurrentUser(user): CurrentUser<SqlUser>) -> String {
    format!("protected page of {}", user.username)
}

#[require_login(role = Access::Admin)]
async fn sql_admin(CurrentUser(user): CurrentUser<SqlUser>) -> String {
    format!("admin page of {}", user.username)
}

/// Changes the logged-in user's password and keeps this session, the documented way.
async fn sql_password(
    mut auth: AuthSession<SqliteStore>,
    CurrentUser(user): CurrentUser<SqlUser>,
    Form(form): Form<NewPassword>,
) -> Result<Response, AuthError> {
    let changed = auth
        .store()
        .set_password(&user.id, form.new_password.into())
        .await
        .map_err(|error| AuthError::Store(Box::new(error)))?;
    let Some(user) = changed else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    auth.update_session_auth_hash(&user).await?;
    Ok("password changed".into_response())
}

/// The routes of the `SqlxStore` app for the store type `S`, without the auth layer.
pub fn sql_routes<S>() -> Router
where
    S: UserStore<Credentials = PasswordCredentials, User = SqlUser>,
{
    Router::new()
        .route("/public", get(public))
        .route("/login", post(sql_login::<S>))
        .route("/login.json", post(sql_login_json::<S>))
        .route("/parse", post(parse_form))
        .route("/parse.json", post(parse_json))
        .route("/logout", post(logout::<S>))
        .route("/me", get(sql_me::<S>))
        .route("/protected", get(sql_protected))
        .route("/admin", get(sql_admin))
}

pub type SqlBuilder = AuthLayerBuilder<
    SqliteStore,
    axum_login::session::GuardedStore<InspectableStore>,
    PlaintextCookie,
>;

pub struct SqlApp {
    pub base: String,
    pub store: SqliteStore,
    pub sessions: InspectableStore,
}

impl SqlApp {
    /// Sets a column of a user's row.
    pub async fn update(&self, username: &str, assignment: &str) {
        sqlx::query(&format!(
            "UPDATE users SET {assignment} WHERE username = $1"
        ))
        .bind(username)
        .execute(self.store.pool())
        .await
        .expect("update the user");
    }

    pub fn hashes(&self) -> u64 {
        self.store.stats().hash_verifications
    }
}

/// Seeds `ferris` (user), `admin` (admin) and `disabled` (inactive), all with [`PASSWORD`](crate::users::PASSWORD),
/// sharing one hash.
pub async fn seed<'c, E>(executor: E)
where
    E: sqlx::Executor<'c> + Copy,
    for<'q> <E::Database as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, E::Database>,
    String: for<'q> sqlx::Encode<'q, E::Database> + sqlx::Type<E::Database>,
    bool: for<'q> sqlx::Encode<'q, E::Database> + sqlx::Type<E::Database>,
{
    let hash = password_hash().await;
    for (name, role, active) in [
        ("ferris", "user", true),
        ("admin", "admin", true),
        ("disabled", "user", false),
    ] {
        sqlx::query(
            "INSERT INTO users (username, password_hash, role, active) VALUES ($1, $2, $3, $4)",
        )
        .bind(name.to_owned())
        .bind(hash.clone())
        .bind(role.to_owned())
        .bind(active)
        .execute(executor)
        .await
        .expect("seed a user");
    }
}

/// The `SqlxStore` app on a private in-memory SQLite database.
pub async fn sql_app_with(configure: impl FnOnce(SqlBuilder) -> SqlBuilder) -> SqlApp {
    sql_app_on(true, configure).await
}

/// The `SqlxStore` app served as a plain-HTTP site (its cookies not `Secure`), so a client with
/// an ordinary cookie jar, which sends no `Secure` cookie over HTTP, keeps every cookie the app
/// sets (the session's and the device cookie).
pub async fn sql_app_on_plain_http(configure: impl FnOnce(SqlBuilder) -> SqlBuilder) -> SqlApp {
    sql_app_on(false, configure).await
}

async fn sql_app_on(secure: bool, configure: impl FnOnce(SqlBuilder) -> SqlBuilder) -> SqlApp {
    // One connection that never closes: each connection to `sqlite::memory:` is its own database.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(30))
        .connect("sqlite::memory:")
        .await
        .expect("open SQLite in memory");
    sqlx::raw_sql(SQLITE_SCHEMA)
        .execute(&pool)
        .await
        .expect("create the users table");
    seed(&pool).await;
    let store = SqliteStore::new(pool);
    let sessions = InspectableStore::default();
    let layer = configure(
        AuthLayer::builder(
            store.clone(),
            session_layer(sessions.clone()).with_secure(secure),
        )
        .session_key(session_key()),
    )
    .build();
    let routes = sql_routes::<SqliteStore>().route("/password", post(sql_password));
    let addr = serve_with_addr(routes.layer(layer)).await;
    SqlApp {
        base: format!("http://{addr}"),
        store,
        sessions,
    }
}

pub async fn sql_app() -> SqlApp {
    sql_app_with(|builder| builder).await
}
