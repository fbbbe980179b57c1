use axum::{Router, routing::get};
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, SqlxStore, UserStore, session::MemoryStore,
    session_layer,
};
use secrecy::SecretString;

#[derive(Clone, Debug)]
struct Address {
    city: String,
}

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    address: Address,
}

type Store = SqlxStore<User, sqlx::Sqlite>;

async fn logout(mut auth: AuthSession<Store>) -> Result<&'static str, AuthError> {
    auth.logout().await?;
    Ok("bye")
}

// One error, at the field, however many places use the store.
fn app(pool: sqlx::SqlitePool) -> Router {
    let store = Store::new(pool);
    let auth = AuthLayer::builder(store, session_layer(MemoryStore::default()))
        .login_url("/login")
        .build();
    Router::new().route("/logout", get(logout)).layer(auth)
}

fn main() {
    let _ = app;
    let _ = |user: User| user.address.city;
}
