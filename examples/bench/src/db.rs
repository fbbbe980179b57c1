//! The user tables every server reads, with direct and group permissions: in SQLite for the
//! one-process shape, in PostgreSQL (a schema of the run's own, dropped at the end) for the
//! deployment shape, with the same rows in both.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};

/// Connections in each user pool, SQLite or PostgreSQL, for every server alike.
const POOL_SIZE: u32 = 4;

/// A user row with its permission lists, comma-separated: direct ones and those through
/// groups.
pub(crate) type LoadRow = (i64, String, Option<String>, Option<String>);

/// The user database of one shape. Both stores (ours and axum-login 0.18's backend) go
/// through these queries, each spelled in the database's own dialect, so that what differs
/// between the rows is the framework, not the SQL.
#[derive(Clone)]
pub(crate) enum Users {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The user with every permission in one round trip: direct ones and those through groups.
/// For SQLite each list comes from its index in a subquery of its own, no `UNION` (its
/// temporary table made the query several times dearer there).
const LOAD_SQLITE: &str = "SELECT u.id, u.password_hash,
        (SELECT group_concat(name) FROM user_permissions WHERE user_id = u.id),
        (SELECT group_concat(gp.name) FROM user_groups g
            JOIN group_permissions gp ON gp.group_name = g.group_name
            WHERE g.user_id = u.id)
     FROM users u WHERE ";
/// For PostgreSQL one join over both kinds of permission, grouped by user, costs a third less
/// than the two subqueries per user (pgbench, 6 users a query); every name comes in the first
/// list.
const LOAD_POSTGRES: &str = "SELECT u.id, u.password_hash, string_agg(p.name, ','), NULL::text
     FROM users u LEFT JOIN (
         SELECT user_id, name FROM user_permissions
         UNION ALL
         SELECT g.user_id, gp.name FROM user_groups g
             JOIN group_permissions gp ON gp.group_name = g.group_name
     ) p ON p.user_id = u.id
     WHERE ";
/// What ends every PostgreSQL load.
const LOAD_POSTGRES_END: &str = " GROUP BY u.id";

impl Users {
    /// The user named so, with their permissions (ours).
    pub(crate) async fn load_by_name(&self, name: &str) -> Result<Option<LoadRow>, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query_as(&format!("{LOAD_SQLITE}u.username = ?"))
                    .bind(name)
                    .fetch_optional(pool)
                    .await
            }
            Self::Postgres(pool) => {
                sqlx::query_as(&format!(
                    "{LOAD_POSTGRES}u.username = $1{LOAD_POSTGRES_END}"
                ))
                .bind(name)
                .fetch_optional(pool)
                .await
            }
        }
    }

    /// The user with this id, with their permissions (ours).
    pub(crate) async fn load_by_id(&self, id: i64) -> Result<Option<LoadRow>, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query_as(&format!("{LOAD_SQLITE}u.id = ?"))
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
            Self::Postgres(pool) => {
                sqlx::query_as(&format!("{LOAD_POSTGRES}u.id = $1{LOAD_POSTGRES_END}"))
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
        }
    }

    /// The users with these ids, with their permissions, in one query (ours, batched).
    pub(crate) async fn load_by_ids(&self, ids: &[i64]) -> Result<Vec<LoadRow>, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => {
                let placeholders = vec!["?"; ids.len()].join(", ");
                let sql = format!("{LOAD_SQLITE}u.id IN ({placeholders})");
                let mut query = sqlx::query_as::<_, LoadRow>(&sql);
                for id in ids {
                    query = query.bind(id);
                }
                query.fetch_all(pool).await
            }
            Self::Postgres(pool) => {
                sqlx::query_as(&format!("{LOAD_POSTGRES}u.id = ANY($1){LOAD_POSTGRES_END}"))
                    .bind(ids)
                    .fetch_all(pool)
                    .await
            }
        }
    }

    /// Id and password hash of the user named so (axum-login 0.18's backend).
    pub(crate) async fn user_by_name(
        &self,
        name: &str,
    ) -> Result<Option<(i64, String)>, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query_as("SELECT id, password_hash FROM users WHERE username = ?")
                    .bind(name)
                    .fetch_optional(pool)
                    .await
            }
            Self::Postgres(pool) => {
                sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
                    .bind(name)
                    .fetch_optional(pool)
                    .await
            }
        }
    }

    /// Id and password hash of the user with this id (axum-login 0.18's backend).
    pub(crate) async fn user_by_id(&self, id: i64) -> Result<Option<(i64, String)>, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query_as("SELECT id, password_hash FROM users WHERE id = ?")
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
            Self::Postgres(pool) => {
                sqlx::query_as("SELECT id, password_hash FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
        }
    }

    /// The user's direct permissions (axum-login 0.18's backend).
    pub(crate) async fn user_permissions(&self, id: i64) -> Result<Vec<String>, sqlx::Error> {
        let rows: Vec<(String,)> = match self {
            Self::Sqlite(pool) => {
                sqlx::query_as("SELECT name FROM user_permissions WHERE user_id = ?")
                    .bind(id)
                    .fetch_all(pool)
                    .await?
            }
            Self::Postgres(pool) => {
                sqlx::query_as("SELECT name FROM user_permissions WHERE user_id = $1")
                    .bind(id)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }

    /// The user's permissions through groups (axum-login 0.18's backend).
    pub(crate) async fn group_permissions(&self, id: i64) -> Result<Vec<String>, sqlx::Error> {
        const SQL: &str = "SELECT gp.name FROM group_permissions gp
                JOIN user_groups g ON g.group_name = gp.group_name
                WHERE g.user_id = ";
        let rows: Vec<(String,)> = match self {
            Self::Sqlite(pool) => {
                sqlx::query_as(&format!("{SQL}?"))
                    .bind(id)
                    .fetch_all(pool)
                    .await?
            }
            Self::Postgres(pool) => {
                sqlx::query_as(&format!("{SQL}$1"))
                    .bind(id)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }
}

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
        .max_connections(POOL_SIZE)
        .min_connections(POOL_SIZE)
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

/// The same users in PostgreSQL at `url`, in a schema named after this process
/// (`axum_login_bench_<pid>`), so the run touches no table of anyone else's; [`drop_postgres`]
/// removes it.
pub(crate) async fn open_postgres(url: &str) -> Result<(PgPool, String), sqlx::Error> {
    let schema = format!("axum_login_bench_{}", std::process::id());
    let options: PgConnectOptions = url.parse()?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await?;
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
    ))
    .execute(&admin)
    .await?;
    admin.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .min_connections(POOL_SIZE)
        .connect_with(options.options([("search_path", schema.as_str())]))
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL);
         CREATE TABLE user_permissions (user_id BIGINT NOT NULL, name TEXT NOT NULL);
         CREATE TABLE user_groups (user_id BIGINT NOT NULL, group_name TEXT NOT NULL);
         CREATE TABLE group_permissions (group_name TEXT NOT NULL, name TEXT NOT NULL);
         CREATE INDEX user_permissions_user ON user_permissions (user_id);
         CREATE INDEX user_groups_user ON user_groups (user_id);
         CREATE INDEX group_permissions_group ON group_permissions (group_name);
         -- Every permission of a user, direct or through a group, as the one permissions
         -- table of a derived store (rows D4d-D7e).
         CREATE VIEW user_grants AS
             SELECT user_id, name FROM user_permissions
             UNION ALL
             SELECT g.user_id, gp.name FROM user_groups g
                 JOIN group_permissions gp ON gp.group_name = g.group_name;
         INSERT INTO group_permissions VALUES ('staff', 'c');",
    )
    .execute(&pool)
    .await?;
    let hash = tokio::task::spawn_blocking(|| password_auth::generate_hash(PASSWORD))
        .await
        .expect("hashing does not panic");
    for i in 0..USERS {
        let id = i as i64 + 1;
        sqlx::query("INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(username(i))
            .bind(&hash)
            .execute(&pool)
            .await?;
        sqlx::query("INSERT INTO user_permissions VALUES ($1, 'a'), ($1, 'b')")
            .bind(id)
            .execute(&pool)
            .await?;
        sqlx::query("INSERT INTO user_groups VALUES ($1, 'staff')")
            .bind(id)
            .execute(&pool)
            .await?;
    }
    // Fresh statistics, so the planner uses the indexes as it would on a table in service.
    sqlx::raw_sql("ANALYZE").execute(&pool).await?;
    Ok((pool, schema))
}

/// Drops the run's schema and everything in it.
pub(crate) async fn drop_postgres(pool: &PgPool, schema: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(pool)
        .await?;
    Ok(())
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
