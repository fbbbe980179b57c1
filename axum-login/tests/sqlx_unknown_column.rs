//! A column the database does not have is an error that names it at the first query, on
//! SQLite too: a double-quoted unknown name would be read there as a string, and the query would
//! match no one ("no such user") instead of failing.
#![cfg(feature = "sqlx")]

use axum_login::{AuthUser, PasswordCredentials, SqlxStore, UserStore};
use secrecy::SecretString;

/// `nickname` is a column the conventional schema does not have.
#[allow(dead_code)] // Read only by the store, which never gets that far.
#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "users")]
struct Misspelt {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    nickname: String,
}

/// The id column misspelt: the lookup itself names a column that is not there.
#[allow(dead_code)]
#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "users")]
struct MisspeltId {
    #[auth(id, column = "user_id")]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
}

async fn pool() -> sqlx::SqlitePool {
    let pool = sqlx::SqlitePool::connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite");
    sqlx::raw_sql(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL, password_hash TEXT);
         INSERT INTO users (id, username, password_hash) VALUES (1, 'ferris', 'x');",
    )
    .execute(&pool)
    .await
    .expect("schema");
    pool
}

#[tokio::test]
async fn an_unknown_selected_column_fails_the_load_naming_it() {
    let store = SqlxStore::<Misspelt, sqlx::Sqlite>::new(pool().await);
    let error = store.load_user(&1).await.expect_err("no such column");
    assert!(error.to_string().contains("nickname"), "{error}");
    let error = store
        .authenticate(PasswordCredentials::new("ferris", "hunter42"))
        .await
        .expect_err("no such column");
    assert!(error.to_string().contains("nickname"), "{error}");
}

#[tokio::test]
async fn an_unknown_id_column_fails_the_load_naming_it() {
    let store = SqlxStore::<MisspeltId, sqlx::Sqlite>::new(pool().await);
    let error = store.load_user(&1).await.expect_err("no such column");
    assert!(error.to_string().contains("user_id"), "{error}");
    let error = store
        .load_users(&[1, 2])
        .await
        .expect_err("no such column, in a batch too");
    assert!(error.to_string().contains("user_id"), "{error}");
}
