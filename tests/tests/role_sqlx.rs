//! `#[derive(Role)]` and `#[derive(Permission)]` enums stored as their names in text columns,
//! next to `#[derive(sqlx::FromRow, AuthUser)]` on one struct.

use axum_login::{AuthUser, Permission, Role, authz::RoleRef};
use sqlx::{SqlitePool, sqlite::SqlitePoolOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    #[role(implies(Viewer))]
    Admin,
    #[role(rename = "read_only")]
    Viewer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Permission)]
enum Perm {
    PostsWrite,
}

// sqlx reads `#[sqlx(...)]` and ignores `#[auth(...)]`; the AuthUser derive does the reverse.
#[derive(Clone, Debug, sqlx::FromRow, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    #[sqlx(rename = "email")]
    login: String,
    #[auth(password_hash, allow_plain_string)]
    password_hash: String,
    #[auth(role)]
    role: Access,
}

async fn pool() -> SqlitePool {
    // One connection: each connection to `:memory:` is a database of its own.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("open in-memory sqlite");
    sqlx::query(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, password_hash TEXT NOT NULL, role TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .expect("create table");
    pool
}

#[tokio::test]
async fn role_is_stored_as_its_name_and_read_back() {
    let pool = pool().await;
    sqlx::query("INSERT INTO users (id, email, password_hash, role) VALUES (?, ?, ?, ?)")
        .bind(1_i64)
        .bind("ferris@example.com")
        .bind("$argon2id$hash")
        .bind(Access::Viewer)
        .execute(&pool)
        .await
        .expect("insert");

    let raw: String = sqlx::query_scalar("SELECT role FROM users WHERE id = 1")
        .fetch_one(&pool)
        .await
        .expect("raw role");
    assert_eq!(raw, "read_only");

    let user: User = sqlx::query_as("SELECT * FROM users WHERE id = 1")
        .fetch_one(&pool)
        .await
        .expect("user row");
    assert_eq!(user.role, Access::Viewer);
    assert_eq!(user.login, "ferris@example.com");
    assert_eq!(user.id(), 1);
    assert_eq!(user.session_auth_hash(), b"$argon2id$hash");
    assert!(user.has_role(RoleRef::new(&Access::Viewer)));
    assert!(!user.has_role(RoleRef::new(&Access::Admin)));

    sqlx::query("UPDATE users SET role = ? WHERE id = 1")
        .bind(Access::Admin)
        .execute(&pool)
        .await
        .expect("update");
    let role: Access = sqlx::query_scalar("SELECT role FROM users WHERE id = 1")
        .fetch_one(&pool)
        .await
        .expect("role");
    assert_eq!(role, Access::Admin);
    assert_eq!(role.as_str(), "admin");
}

#[tokio::test]
async fn permission_is_read_from_text() {
    let pool = pool().await;
    let perm: Perm = sqlx::query_scalar("SELECT 'posts_write'")
        .fetch_one(&pool)
        .await
        .expect("permission");
    assert_eq!(perm, Perm::PostsWrite);
    assert_eq!(perm.as_str(), "posts_write");
}

#[tokio::test]
async fn unknown_name_in_the_column_is_a_decode_error_naming_it() {
    let pool = pool().await;
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, role) VALUES (2, 'x', 'h', 'superuser')",
    )
    .execute(&pool)
    .await
    .expect("insert");
    let error = sqlx::query_as::<_, User>("SELECT * FROM users WHERE id = 2")
        .fetch_one(&pool)
        .await
        .expect_err("`superuser` is no role");
    let message = error.to_string();
    assert!(message.contains("`superuser`"), "{message}");
    assert!(message.contains("`admin`, `read_only`"), "{message}");
}
