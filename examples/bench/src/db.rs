//! The one SQLite user table every server reads, with direct and group permissions.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
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

const SLOTS: u32 = 1024;
static VERIFY_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(SLOTS as usize);
static VERIFY_LIMIT: AtomicU64 = AtomicU64::new(SLOTS as u64);

/// How many password checks may run at once (at most 1024, which is no limit in practice).
pub(crate) fn limit_verifications(limit: u32) {
    VERIFY_LIMIT.store(u64::from(limit.clamp(1, SLOTS)), Ordering::Relaxed);
}

/// Checks a password on the blocking pool, never on the async runtime, with at most
/// [`limit_verifications`] checks running at once: argon2 is meant to eat a core, and on a small
/// machine unbounded parallel checks starve the runtime's threads of CPU (they are not blocked,
/// just never scheduled).
pub(crate) async fn verify(password: String, hash: String) -> bool {
    let limit = VERIFY_LIMIT.load(Ordering::Relaxed) as u32;
    let Ok(_slot) = VERIFY_SLOTS.acquire_many(SLOTS / limit).await else {
        return false;
    };
    tokio::task::spawn_blocking(move || password_auth::verify_password(password, &hash).is_ok())
        .await
        .unwrap_or(false)
}
