//! The one SQLite user table every server reads, with direct and group permissions.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};

/// How many users the benchmark logs in: one per connection.
pub(crate) const USERS: usize = 64;
/// Every user's password.
pub(crate) const PASSWORD: &str = "correct-horse-battery";

/// A counter of user-store calls (queries), shared by a store and the report.
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<AtomicU64>);

impl Calls {
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub(crate) fn username(i: usize) -> String {
    format!("user{i}")
}

/// A fresh database file in the temp dir: users `user0..`, each with permissions `a` and `b`
/// directly and `c` through the group `staff`.
pub(crate) async fn open() -> Result<SqlitePool, sqlx::Error> {
    let path = std::env::temp_dir().join(format!("axum-login-bench-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .min_connections(4)
        .connect_with(options)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL);
         CREATE TABLE user_permissions (user_id INTEGER NOT NULL, name TEXT NOT NULL);
         CREATE TABLE user_groups (user_id INTEGER NOT NULL, group_name TEXT NOT NULL);
         CREATE TABLE group_permissions (group_name TEXT NOT NULL, name TEXT NOT NULL);
         CREATE INDEX user_permissions_user ON user_permissions (user_id);
         CREATE INDEX user_groups_user ON user_groups (user_id);
         CREATE INDEX group_permissions_group ON group_permissions (group_name);
         INSERT INTO group_permissions VALUES ('staff', 'c');",
    )
    .execute(&pool)
    .await?;
    // One hash for everyone: argon2 at its default cost, computed once.
    let hash = tokio::task::spawn_blocking(|| password_auth::generate_hash(PASSWORD))
        .await
        .expect("hashing does not panic");
    for i in 0..USERS {
        let id = i as i64 + 1;
        sqlx::query("INSERT INTO users (id, username, password_hash) VALUES (?, ?, ?)")
            .bind(id)
            .bind(username(i))
            .bind(&hash)
            .execute(&pool)
            .await?;
        sqlx::query("INSERT INTO user_permissions VALUES (?, 'a'), (?, 'b')")
            .bind(id)
            .bind(id)
            .execute(&pool)
            .await?;
        sqlx::query("INSERT INTO user_groups VALUES (?, 'staff')")
            .bind(id)
            .execute(&pool)
            .await?;
    }
    Ok(pool)
}

/// Whether password checks go through the library's `verify_password` (its password threads:
/// at most cores - 1 at once, at a lower priority) or straight to tokio's blocking pool with no
/// limit, as a hand-written store would do. The login check measures both.
static LIBRARY_HASHING: AtomicBool = AtomicBool::new(true);

pub(crate) fn use_library_hashing(on: bool) {
    LIBRARY_HASHING.store(on, Ordering::Relaxed);
}

/// Checks a password, never on the async runtime.
pub(crate) async fn verify(password: String, hash: String) -> bool {
    if LIBRARY_HASHING.load(Ordering::Relaxed) {
        return axum_login::password::verify_password(password.into(), hash)
            .await
            .unwrap_or(false);
    }
    tokio::task::spawn_blocking(move || password_auth::verify_password(password, &hash).is_ok())
        .await
        .unwrap_or(false)
}
