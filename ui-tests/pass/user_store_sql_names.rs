//! Names the store quotes: SQL keywords, a schema, underscores and digits.

use axum_login::{AuthUser, SqlxStore, UserStore};
use secrecy::SecretString;

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "app.user", permissions_table = "grant", permission_column = "select")]
struct User {
    #[auth(id, column = "_id")]
    id: i64,
    #[auth(username, column = "order")]
    username: String,
    #[auth(password_hash, column = "hash_v2")]
    password_hash: SecretString,
    #[auth(permissions)]
    permissions: Vec<String>,
}

fn main() {
    let _ = |pool: sqlx::SqlitePool| SqlxStore::<User, sqlx::Sqlite>::new(pool);
}
