use axum_login::{AuthUser, SqlxStore, UserStore};
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

fn store(pool: sqlx::SqlitePool) -> SqlxStore<User, sqlx::Sqlite> {
    SqlxStore::new(pool)
}

fn main() {
    let _ = store;
    let _ = |user: User| user.address.city;
}
