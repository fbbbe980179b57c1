use axum::{Router, routing::get};
use axum_login::{AuthLayer, AuthUser, SqlxStore, UserStore, session_layer};
use secrecy::SecretString;

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
}

// tower-sessions' own memory store can write a logged-out session back: one error, on the
// store, and none further down where the layer is used.
fn app(pool: sqlx::SqlitePool) -> Router {
    let sessions = session_layer(tower_sessions::MemoryStore::default()).with_secure(false);
    let auth = AuthLayer::builder(SqlxStore::<User, sqlx::Sqlite>::new(pool), sessions)
        .login_url("/login")
        .build();
    Router::new().route("/", get(|| async { "hello" })).layer(auth)
}

fn main() {
    let _ = app;
}
