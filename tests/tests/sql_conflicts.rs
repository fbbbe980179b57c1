//! Lock conflicts that the database breaks by rolling back one side never reach the caller of a
//! store: each test forces the conflict against a real store on PostgreSQL or MariaDB, with a
//! transaction of its own holding the rows, and shows the store's operation succeeding.
//!
//! Two shapes of conflict:
//!
//! - a deadlock: the test locks the row the store's statement reaches second, waits until the
//!   database reports the store's statement blocked on it (the first row already taken), then
//!   asks for that first row. The database rolls back the store's statement (PostgreSQL: the
//!   test's own `deadlock_timeout` is longer, so the store's backend detects it; MariaDB: the
//!   test's transaction is made the heavier, and InnoDB rolls back the lighter);
//! - a lock-wait timeout (MariaDB, whose single-row statements cannot deadlock): the store's
//!   connections wait at most a second for a lock, and the test holds the row until the store
//!   has timed out once.
//!
//! Either way the test releases its rows only after the crate's retry counter shows the store's
//! statement failed and is being run again, so the conflict certainly happened. The tests run
//! one at a time, as that counter is shared by the process. They watch MariaDB's locks through
//! `information_schema.INNODB_LOCK_WAITS`, which MySQL 8 moved to `performance_schema`: on
//! MySQL they would wait in vain and fail (the stores themselves work the same there).

use std::{
    future::Future,
    time::{Duration, Instant, SystemTime},
};

use axum_login::{
    SqlxStore,
    mfa::{SecondFactorStore as _, SqlxSecondFactorStore},
    registry::{SessionEntry, SessionRegistry as _, SqlxSessionRegistry, Which},
    remember::{RememberStore as _, RememberToken, SqlxRememberStore},
    security::{Revocation, SqlxThrottleStore, ThrottleKey, ThrottleStore as _},
    session::SqlxSessionStore,
    test_util::sql_conflicts_retried,
};
use sqlx::{Executor as _, MySql, Pool, Postgres, mysql::MySqlPoolOptions};
use tower_sessions::{
    SessionStore as _,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store::ExpiredDeletion as _,
};

use axum_login_tests::{db, users::User};

/// The tests share the process's retry counter: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a forced step may take before the test gives up: far above the second or two each
/// takes, so that only a conflict that never resolves fails it.
const PATIENCE: Duration = Duration::from_secs(60);

/// Asks `condition` every `interval` until it holds.
async fn wait_until<F, Fut>(what: &str, interval: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(start.elapsed() < PATIENCE, "gave up waiting until {what}");
        tokio::time::sleep(interval).await;
    }
}

async fn retried_since(before: u64) {
    wait_until(
        "the store's statement failed and is run again",
        Duration::from_millis(5),
        || async move { sql_conflicts_retried() > before },
    )
    .await;
}

/// A deadlock on PostgreSQL between `operation` and a transaction that takes `second` (a
/// locking statement on the row the operation reaches second), then `first`.
async fn pg_deadlock<T, E>(
    pool: &Pool<Postgres>,
    first: &str,
    second: &str,
    operation: impl Future<Output = Result<T, E>> + Send + 'static,
) -> T
where
    T: Send + 'static,
    E: std::fmt::Debug + Send + 'static,
{
    let mut holder = pool.begin().await.expect("BEGIN");
    // The store's backend, waiting on the default second, detects the deadlock first.
    holder
        .execute("SET LOCAL deadlock_timeout = '30s'")
        .await
        .expect("SET LOCAL deadlock_timeout");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *holder)
        .await
        .expect("pid");
    holder.execute(second).await.expect("lock the second row");
    let before = sql_conflicts_retried();
    let operation = tokio::spawn(operation);
    wait_until(
        "the store waits on the test's lock",
        Duration::from_millis(5),
        || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            )
            .bind(pid)
            .fetch_one(pool)
            .await
            .expect("pg_stat_activity")
                > 0
        },
    )
    .await;
    holder.execute(first).await.expect("lock the first row");
    retried_since(before).await;
    holder.commit().await.expect("COMMIT");
    tokio::time::timeout(PATIENCE, operation)
        .await
        .expect("the operation finished")
        .expect("the operation did not panic")
        .expect("the operation succeeded despite the deadlock")
}

/// A deadlock on MariaDB, as [`pg_deadlock`].
async fn mariadb_deadlock<T, E>(
    pool: &Pool<MySql>,
    first: &str,
    second: &str,
    operation: impl Future<Output = Result<T, E>> + Send + 'static,
) -> T
where
    T: Send + 'static,
    E: std::fmt::Debug + Send + 'static,
{
    pool.execute("CREATE TABLE IF NOT EXISTS ballast (n INT NOT NULL)")
        .await
        .expect("CREATE TABLE ballast");
    let mut holder = pool.begin().await.expect("BEGIN");
    // InnoDB rolls back the transaction that changed fewer rows: make it the store's.
    holder
        .execute("INSERT INTO ballast (n) WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200) SELECT n FROM s")
        .await
        .expect("ballast");
    let trx: String = sqlx::query_scalar(
        "SELECT CAST(trx_id AS CHAR) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()",
    )
    .fetch_one(&mut *holder)
    .await
    .expect("the test's transaction id");
    holder.execute(second).await.expect("lock the second row");
    let before = sql_conflicts_retried();
    let operation = tokio::spawn(operation);
    // InnoDB refreshes these tables only when they were last read over 100 ms ago: asking
    // more often would keep reading the picture from before the store's statement.
    wait_until(
        "the store waits on the test's lock",
        Duration::from_millis(250),
        || async {
            sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM information_schema.INNODB_LOCK_WAITS WHERE blocking_trx_id = ?",
        )
        .bind(&trx)
        .fetch_one(pool)
        .await
        .expect("INNODB_LOCK_WAITS")
            > 0
        },
    )
    .await;
    holder.execute(first).await.expect("lock the first row");
    retried_since(before).await;
    holder.commit().await.expect("COMMIT");
    tokio::time::timeout(PATIENCE, operation)
        .await
        .expect("the operation finished")
        .expect("the operation did not panic")
        .expect("the operation succeeded despite the deadlock")
}

/// A pool on the same MariaDB database whose connections give up a lock wait after a second.
async fn impatient(pool: &Pool<MySql>) -> Pool<MySql> {
    MySqlPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET SESSION innodb_lock_wait_timeout = 1")
                    .await?;
                Ok(())
            })
        })
        .connect_with((*pool.connect_options()).clone())
        .await
        .expect("a second pool")
}

/// `operation` waits on rows the test holds (`lock`) until MariaDB times the wait out; the
/// test lets go once the store runs the statement again.
async fn mariadb_lock_wait<T, E>(
    pool: &Pool<MySql>,
    lock: &str,
    operation: impl Future<Output = Result<T, E>> + Send + 'static,
) -> T
where
    T: Send + 'static,
    E: std::fmt::Debug + Send + 'static,
{
    let mut holder = pool.begin().await.expect("BEGIN");
    holder.execute(lock).await.expect("lock the rows");
    let before = sql_conflicts_retried();
    let operation = tokio::spawn(operation);
    retried_since(before).await;
    holder.commit().await.expect("COMMIT");
    tokio::time::timeout(PATIENCE, operation)
        .await
        .expect("the operation finished")
        .expect("the operation did not panic")
        .expect("the operation succeeded despite the lock-wait timeout")
}

fn expired_session_rows() -> &'static str {
    "INSERT INTO axum_login_sessions (id, data, expiry_date) VALUES ('aaaa', 'x', 1), ('bbbb', 'x', 2)"
}

const SESSION_FIRST: &str = "SELECT id FROM axum_login_sessions WHERE id = 'aaaa' FOR UPDATE";
const SESSION_SECOND: &str = "SELECT id FROM axum_login_sessions WHERE id = 'bbbb' FOR UPDATE";

async fn count<DB: sqlx::Database>(pool: &Pool<DB>, sql: &str) -> i64
where
    for<'c> &'c Pool<DB>: sqlx::Executor<'c, Database = DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    sqlx::query_scalar::<DB, i64>(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn session_sweep_survives_a_deadlock_on_postgres() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let store = SqlxSessionStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    db.pool.execute(expired_session_rows()).await.expect("rows");
    let sweep = store.clone();
    pg_deadlock(&db.pool, SESSION_FIRST, SESSION_SECOND, async move {
        sweep.delete_expired().await
    })
    .await;
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM axum_login_sessions").await,
        0
    );
    db.finish().await;
}

#[tokio::test]
async fn session_sweep_survives_a_deadlock_on_mariadb() {
    let Some(db) = db::mysql().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let store = SqlxSessionStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    db.pool.execute(expired_session_rows()).await.expect("rows");
    let sweep = store.clone();
    mariadb_deadlock(&db.pool, SESSION_FIRST, SESSION_SECOND, async move {
        sweep.delete_expired().await
    })
    .await;
    assert_eq!(
        count(&db.pool, "SELECT COUNT(*) FROM axum_login_sessions").await,
        0
    );
    db.finish().await;
}

#[tokio::test]
async fn session_save_survives_a_lock_wait_timeout_on_mariadb() {
    let Some(db) = db::mysql().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let store = SqlxSessionStore::new(impatient(&db.pool).await);
    store.migrate().await.expect("migrate");
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: OffsetDateTime::now_utc() + Duration::from_secs(3600),
    };
    store.create(&mut record).await.expect("create");
    record
        .data
        .insert("seen".to_owned(), serde_json::json!(true));
    let lock = format!(
        "SELECT id FROM axum_login_sessions WHERE id = '{}' FOR UPDATE",
        record.id
    );
    let (save, saved) = (store.clone(), record.clone());
    mariadb_lock_wait(&db.pool, &lock, async move { save.save(&saved).await }).await;
    let loaded = store
        .load(&record.id)
        .await
        .expect("load")
        .expect("a session");
    assert_eq!(loaded.data.get("seen"), Some(&serde_json::json!(true)));
    db.finish().await;
}

fn entry(user: &str, id: &str) -> SessionEntry {
    let now = SystemTime::now();
    SessionEntry {
        id: id.to_owned(),
        user: user.to_owned(),
        session_id: None,
        created_at: now,
        last_seen: now,
        address: None,
        user_agent: None,
        expires_at: now + Duration::from_secs(3600),
        remember: None,
    }
}

const REGISTRY_FIRST: &str =
    "SELECT id FROM axum_login_session_registry WHERE user_id = 'u' AND id = 'e1' FOR UPDATE";
const REGISTRY_SECOND: &str =
    "SELECT id FROM axum_login_session_registry WHERE user_id = 'u' AND id = 'e2' FOR UPDATE";

#[tokio::test]
async fn registry_removal_survives_a_deadlock_on_postgres() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    for id in ["e1", "e2"] {
        registry.add(&entry("u", id)).await.expect("add");
    }
    let remove = registry.clone();
    let removed = pg_deadlock(&db.pool, REGISTRY_FIRST, REGISTRY_SECOND, async move {
        remove.remove("u", Which::All).await
    })
    .await;
    assert_eq!(removed.len(), 2);
    assert!(registry.list("u").await.expect("list").is_empty());
    db.finish().await;
}

#[tokio::test]
async fn registry_removal_survives_a_deadlock_on_mariadb() {
    let Some(db) = db::mysql().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    for id in ["e1", "e2"] {
        registry.add(&entry("u", id)).await.expect("add");
    }
    let remove = registry.clone();
    let removed = mariadb_deadlock(&db.pool, REGISTRY_FIRST, REGISTRY_SECOND, async move {
        remove.remove("u", Which::All).await
    })
    .await;
    assert_eq!(removed.len(), 2);
    assert!(registry.list("u").await.expect("list").is_empty());
    db.finish().await;
}

const FACTORS_ROWS: [&str; 2] = [
    "INSERT INTO axum_login_totp (user_id, pending) VALUES ('u', 'sealed')",
    "INSERT INTO axum_login_recovery_codes (user_id, code_hash) VALUES ('u', 'h1'), ('u', 'h2')",
];
/// The store deletes the codes, then the TOTP row.
const FACTORS_FIRST: &str = "SELECT user_id FROM axum_login_recovery_codes WHERE user_id = 'u' AND code_hash = 'h1' FOR UPDATE";
const FACTORS_SECOND: &str = "SELECT user_id FROM axum_login_totp WHERE user_id = 'u' FOR UPDATE";

#[tokio::test]
async fn second_factor_removal_survives_a_deadlock_on_postgres() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let factors = SqlxSecondFactorStore::new(db.pool.clone());
    factors.migrate().await.expect("migrate");
    for rows in FACTORS_ROWS {
        db.pool.execute(rows).await.expect("rows");
    }
    let remove = factors.clone();
    let removed = pg_deadlock(&db.pool, FACTORS_FIRST, FACTORS_SECOND, async move {
        remove.remove_second_factors("u").await
    })
    .await;
    assert!(removed, "the TOTP row was there to remove");
    assert_eq!(factors.recovery_codes_left("u").await.expect("codes"), 0);
    db.finish().await;
}

#[tokio::test]
async fn second_factor_removal_survives_a_deadlock_on_mariadb() {
    let Some(db) = db::mysql().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let factors = SqlxSecondFactorStore::new(db.pool.clone());
    factors.migrate().await.expect("migrate");
    for rows in FACTORS_ROWS {
        db.pool.execute(rows).await.expect("rows");
    }
    let remove = factors.clone();
    let removed = mariadb_deadlock(&db.pool, FACTORS_FIRST, FACTORS_SECOND, async move {
        remove.remove_second_factors("u").await
    })
    .await;
    assert!(removed, "the TOTP row was there to remove");
    assert_eq!(factors.recovery_codes_left("u").await.expect("codes"), 0);
    db.finish().await;
}

#[tokio::test]
async fn remember_revocation_survives_a_lock_wait_timeout_on_mariadb() {
    let Some(db) = db::mysql().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let store = SqlxRememberStore::new(impatient(&db.pool).await);
    store.migrate().await.expect("migrate");
    let now = SystemTime::now();
    for selector in ["s1", "s2"] {
        let token = RememberToken {
            selector: selector.to_owned(),
            user: "u".to_owned(),
            validator_hash: "v".to_owned(),
            previous_hash: None,
            rotated_at: now,
            expires_at: now + Duration::from_secs(3600),
        };
        store.insert(&token).await.expect("insert");
    }
    let remove = store.clone();
    mariadb_lock_wait(
        &db.pool,
        "SELECT user_id FROM axum_login_remember WHERE user_id = 'u' FOR UPDATE",
        async move { remove.remove_user("u").await },
    )
    .await;
    assert_eq!(
        count(&db.pool, "SELECT COUNT(*) FROM axum_login_remember").await,
        0
    );
    db.finish().await;
}

#[tokio::test]
async fn throttle_revocation_survives_a_lock_wait_timeout_on_mariadb() {
    let Some(db) = db::mysql().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let store = SqlxThrottleStore::new(impatient(&db.pool).await);
    store.migrate().await.expect("migrate");
    let account = ThrottleKey::from_bytes([7; 16]);
    let first = SystemTime::now();
    let keep = Duration::from_secs(3600);
    store
        .revoke_devices(&Revocation {
            account,
            at: first,
            keep,
        })
        .await
        .expect("first revocation");
    let later = first + Duration::from_secs(5);
    let revoke = store.clone();
    mariadb_lock_wait(
        &db.pool,
        "SELECT k FROM axum_login_throttle_revoked FOR UPDATE",
        async move {
            let revocation = Revocation {
                account,
                at: later,
                keep,
            };
            revoke.revoke_devices(&revocation).await
        },
    )
    .await;
    let at = store
        .devices_revoked_at(&account)
        .await
        .expect("revoked at")
        .expect("a revocation");
    let millis = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .expect("after the epoch")
            .as_millis()
    };
    assert_eq!(
        millis(at),
        millis(later),
        "the second revocation was written"
    );
    db.finish().await;
}

#[tokio::test]
async fn password_change_survives_a_lock_wait_timeout_on_mariadb() {
    let Some(db) = db::mysql().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let store = SqlxStore::<User, MySql>::new(impatient(&db.pool).await);
    sqlx::raw_sql(store.schema())
        .execute(store.pool())
        .await
        .expect("schema");
    let user = store
        .create_user("ferris", "hunter42".into())
        .await
        .expect("create user");
    let change = store.clone();
    let id = user.id;
    let changed = mariadb_lock_wait(
        &db.pool,
        "SELECT id FROM users WHERE username = 'ferris' FOR UPDATE",
        async move { change.set_password(&id, "a new password".into()).await },
    )
    .await
    .expect("the user");
    assert_ne!(changed.password_hash, user.password_hash);
    db.finish().await;
}
