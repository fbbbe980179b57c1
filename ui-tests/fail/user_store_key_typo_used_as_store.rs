use axum_login::{AuthUser, SqlxStore, UserStore};
use secrecy::SecretString;

// One error, on the typo: not "needs a username", and no later "add `#[derive(UserStore)]`"
// where the store is used.
#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(usrname)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
}

fn store(pool: sqlx::SqlitePool) -> SqlxStore<User, sqlx::Sqlite> {
    SqlxStore::new(pool)
}

fn main() {
    let _ = store;
}
