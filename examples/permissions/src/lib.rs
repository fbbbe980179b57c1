//! Roles with a hierarchy, permissions from database tables, and every form of the guard grammar:
//! `role`, `permission`, `any(..)`, `all(..)`, `not(..)`, `check = ..`, and a router-level guard.
//!
//! Roles are an enum whose hierarchy is declared in code (`Admin` implies `Editor` implies
//! `Author`). Which user holds which role is the `user_roles` table; what each role may do is the
//! `role_permissions` table, plus grants to single users in `user_permissions`. The store loads a
//! user in one query: the user row with their roles and their permissions (through the
//! `user_grants` view, which joins roles to permissions) as subqueries. Sessions are rows of the same database.
//!
//! | route | guard |
//! | --- | --- |
//! | `GET /posts/{id}` | `permission = "posts.read"` |
//! | `POST /posts/{id}/edit` | `any(role = Access::Editor, check = is_author)` |
//! | `POST /posts/{id}/publish` | `all(role = Access::Author, permission = Perm::PostsPublish)` |
//! | `POST /posts/{id}/comments` | `not(role = Access::Muted)` |
//! | `/admin/*` | `.route_layer(require!(role = Access::Admin))` on the nested router |
//!
//! A login or logout from another site's page is refused with `403`.

use std::time::Duration;

use axum::{
    Form, Json, Router,
    extract::{Path, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::session::SqlxSessionStore;
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, CurrentUser, PasswordCredentials, Permission,
    Role, SessionKey, SqlxStore, UserStore, require, require_login, safe_next, session_layer,
};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use sqlx::{
    Row, Sqlite,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

/// The roles, strongest first. A role passes every check for the roles it implies, directly or
/// through others: an admin is an editor and an author too. Not called `Role`, which is the name
/// of the derive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
pub enum Access {
    /// Runs the site.
    #[role(implies(Editor))]
    Admin,
    /// Edits anyone's posts.
    #[role(implies(Author))]
    Editor,
    /// Writes posts.
    Author,
    /// May not comment.
    Muted,
}

/// The permissions the code checks by enum variant; their names are what the tables hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Permission)]
pub enum Perm {
    /// Read posts.
    #[permission(rename = "posts.read")]
    PostsRead,
    /// Publish posts.
    #[permission(rename = "posts.publish")]
    PostsPublish,
    /// Manage users.
    #[permission(rename = "users.manage")]
    UsersManage,
}

/// A user, with the roles and permissions the store read from the tables.
#[derive(Clone, Debug, AuthUser, UserStore)]
// Roles and permissions come from their own tables: one query each when a user is loaded.
#[user_store(
    table = "users",
    roles_table = "user_roles",
    permissions_table = "user_grants"
)]
pub struct User {
    /// The row id.
    #[auth(id)]
    pub id: i64,
    /// The login name.
    #[auth(username)]
    pub username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    /// From `user_roles`.
    #[auth(roles)]
    pub roles: Vec<Access>,
    /// From `role_permissions` through the user's roles, and `user_permissions`.
    #[auth(permissions)]
    pub permissions: Vec<Perm>,
}

/// The user store.
pub type Store = SqlxStore<User, Sqlite>;

const SCHEMA: &str = r#"
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);
CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE TABLE role_permissions (
    role TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);
CREATE TABLE user_permissions (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (user_id, permission)
);
-- Everything a user may do: through their roles, or granted to them alone. The store reads it
-- like a table, in one query.
CREATE VIEW user_grants (user_id, permission) AS
    SELECT user_roles.user_id, role_permissions.permission
    FROM user_roles JOIN role_permissions ON role_permissions.role = user_roles.role
    UNION
    SELECT user_id, permission FROM user_permissions;
CREATE TABLE posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL REFERENCES users (id),
    title TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id INTEGER NOT NULL REFERENCES posts (id),
    author_id INTEGER NOT NULL REFERENCES users (id),
    body TEXT NOT NULL
);
INSERT INTO role_permissions (role, permission) VALUES
    ('admin', 'posts.read'), ('admin', 'posts.publish'), ('admin', 'users.manage'),
    ('editor', 'posts.read'), ('editor', 'posts.publish'),
    ('author', 'posts.read');
"#;

/// The seeded users: name, password, roles, permissions granted to them alone.
pub const SEED_USERS: &[(&str, &str, &[Access], &[Perm])] = &[
    ("admin", "correct-horse-battery", &[Access::Admin], &[]),
    ("erin", "editor-pass", &[Access::Editor], &[]),
    (
        "alice",
        "author-pass",
        &[Access::Author],
        &[Perm::PostsPublish],
    ),
    ("bob", "author-pass", &[Access::Author], &[]),
    (
        "mallory",
        "muted-pass",
        &[Access::Author, Access::Muted],
        &[],
    ),
    ("carol", "reader-pass", &[], &[]),
];

/// An in-memory SQLite database with the schema, the [`SEED_USERS`], and one post by `alice`
/// (id 1) and one by `bob` (id 2).
pub async fn seeded_store() -> Result<Store, Box<dyn std::error::Error + Send + Sync>> {
    // One connection that never closes: every connection to `:memory:` is a database of its own.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(
            SqliteConnectOptions::new()
                .in_memory(true)
                .foreign_keys(true),
        )
        .await?;
    let store = Store::new(pool);
    sqlx::raw_sql(SCHEMA).execute(store.pool()).await?;
    for &(username, password, roles, permissions) in SEED_USERS {
        let user = store.create_user(username, password.into()).await?;
        for role in roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES (?, ?)")
                .bind(user.id)
                .bind(role)
                .execute(store.pool())
                .await?;
        }
        for permission in permissions {
            sqlx::query("INSERT INTO user_permissions (user_id, permission) VALUES (?, ?)")
                .bind(user.id)
                .bind(permission)
                .execute(store.pool())
                .await?;
        }
    }
    sqlx::raw_sql(
        "INSERT INTO posts (author_id, title) SELECT id, 'Alice''s post' FROM users WHERE username = 'alice';
         INSERT INTO posts (author_id, title) SELECT id, 'Bob''s post' FROM users WHERE username = 'bob';",
    )
    .execute(store.pool())
    .await?;
    Ok(store)
}

/// How often expired sessions are deleted from the database.
const SESSION_CLEANUP_PERIOD: Duration = Duration::from_secs(60);

/// The app's router, with authentication on it, and sessions in the users' database.
///
/// Starts a task that deletes expired sessions; it runs as long as the tokio runtime.
pub async fn app(store: Store, key: SessionKey) -> Result<Router, sqlx::Error> {
    // Sessions are rows next to the users, deleted by the task once they expire; tower-sessions'
    // `MemoryStore` would keep every session ever begun, however many visitors log in.
    let sessions = SqlxSessionStore::<sqlx::Sqlite>::new(store.pool().clone());
    sessions.migrate().await?;
    tokio::spawn(delete_expired_sessions(sessions.clone()));
    // Plain HTTP on loopback, where a `Secure` cookie would never come back; `main` says so.
    let sessions = session_layer(sessions).with_secure(false);

    // Every route in here needs an admin; the guard runs before the handlers, which check
    // nothing themselves. `route_layer`, so that unknown paths still answer 404.
    let admin = Router::new()
        .route("/", get(|| async { "admin area" }))
        .route("/users", get(list_users))
        .route_layer(require!(role = Access::Admin));

    Ok(Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/posts/{id}", get(read_post))
        .route("/posts/{id}/edit", post(edit_post))
        .route("/posts/{id}/publish", post(publish_post))
        .route("/posts/{id}/comments", post(comment))
        .nest("/admin", admin)
        .layer(
            AuthLayer::builder(store, sessions)
                .session_key(key)
                .login_url("/login")
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

async fn home(user: Option<CurrentUser<User>>) -> String {
    match user {
        Some(CurrentUser(user)) => format!(
            "logged in as {} (roles: {:?}, permissions: {:?})",
            user.username, user.roles, user.permissions
        ),
        None => "not logged in".to_owned(),
    }
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Form login: `303` to the validated `next`, or `/`; `401` whatever was wrong.
async fn login(
    mut auth: AuthSession<Store>,
    Query(query): Query<Next>,
    Form(credentials): Form<PasswordCredentials>,
) -> Result<Response, AuthError> {
    let Some(user) = auth.authenticate(credentials).await? else {
        return Ok((StatusCode::UNAUTHORIZED, "wrong username or password").into_response());
    };
    auth.login(&user).await?;
    let next = query.next.as_deref().and_then(safe_next).unwrap_or("/");
    Ok(Redirect::to(next).into_response())
}

async fn logout(mut auth: AuthSession<Store>) -> Result<Redirect, AuthError> {
    auth.logout().await?;
    Ok(Redirect::to("/"))
}

fn internal(cause: sqlx::Error) -> Response {
    tracing::error!(%cause, "query failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
}

async fn post_author(auth: &AuthSession<Store>, id: i64) -> Result<Option<i64>, Response> {
    sqlx::query_scalar("SELECT author_id FROM posts WHERE id = ?")
        .bind(id)
        .fetch_optional(auth.store().pool())
        .await
        .map_err(internal)
}

/// Whether the logged-in user wrote post `id`: a check is an async fn taking extractors, like a
/// handler. `AuthSession` hands out the store, and with it the pool.
async fn is_author(
    CurrentUser(user): CurrentUser<User>,
    Path(id): Path<i64>,
    auth: AuthSession<Store>,
) -> Result<bool, Response> {
    Ok(post_author(&auth, id).await? == Some(user.id))
}

/// A permission by name, as it is spelled in the tables.
#[require_login(permission = "posts.read")]
async fn read_post(Path(id): Path<i64>, auth: AuthSession<Store>) -> Response {
    let row = sqlx::query("SELECT title, published FROM posts WHERE id = ?")
        .bind(id)
        .fetch_optional(auth.store().pool())
        .await;
    match row {
        Ok(Some(row)) => Json(json!({
            "id": id,
            "title": row.get::<String, _>("title"),
            "published": row.get::<bool, _>("published"),
        }))
        .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(cause) => internal(cause),
    }
}

#[derive(Deserialize)]
struct Edit {
    title: String,
}

/// Editors (and so admins) edit any post; authors only their own.
#[require_login(any(role = Access::Editor, check = is_author))]
async fn edit_post(
    Path(id): Path<i64>,
    auth: AuthSession<Store>,
    Form(edit): Form<Edit>,
) -> Response {
    let result = sqlx::query("UPDATE posts SET title = ? WHERE id = ?")
        .bind(&edit.title)
        .bind(id)
        .execute(auth.store().pool())
        .await;
    match result {
        Ok(done) if done.rows_affected() == 1 => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(cause) => internal(cause),
    }
}

/// An author who was granted `posts.publish`; editors have it through their role.
#[require_login(all(role = Access::Author, permission = Perm::PostsPublish))]
async fn publish_post(Path(id): Path<i64>, auth: AuthSession<Store>) -> Response {
    let result = sqlx::query("UPDATE posts SET published = 1 WHERE id = ?")
        .bind(id)
        .execute(auth.store().pool())
        .await;
    match result {
        Ok(done) if done.rows_affected() == 1 => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(cause) => internal(cause),
    }
}

#[derive(Deserialize)]
struct NewComment {
    body: String,
}

/// Anyone logged in, except muted users.
#[require_login(not(role = Access::Muted))]
async fn comment(
    Path(id): Path<i64>,
    CurrentUser(user): CurrentUser<User>,
    auth: AuthSession<Store>,
    Form(comment): Form<NewComment>,
) -> Response {
    match post_author(&auth, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(response) => return response,
    }
    let result = sqlx::query("INSERT INTO comments (post_id, author_id, body) VALUES (?, ?, ?)")
        .bind(id)
        .bind(user.id)
        .bind(&comment.body)
        .execute(auth.store().pool())
        .await;
    match result {
        Ok(_) => StatusCode::CREATED.into_response(),
        Err(cause) => internal(cause),
    }
}

/// Guarded by the nested router's layer alone.
async fn list_users(auth: AuthSession<Store>) -> Response {
    match sqlx::query_scalar::<_, String>("SELECT username FROM users ORDER BY id")
        .fetch_all(auth.store().pool())
        .await
    {
        Ok(names) => Json(json!({ "users": names })).into_response(),
        Err(cause) => internal(cause),
    }
}
