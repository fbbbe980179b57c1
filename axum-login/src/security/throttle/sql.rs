//! [`SqlxThrottleStore`]: the throttle's counters in a table of SQLite, PostgreSQL or
//! MySQL/MariaDB, shared by every instance on the database.

use std::{
    fmt,
    marker::PhantomData,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, SystemTime},
};

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};

use super::{
    counter::Counter,
    store::{BoxFuture, Outcome, Rule, ThrottleKey, ThrottleStore, Verdict},
};
use crate::{
    clock::{from_millis, to_millis},
    error::BoxError,
    sqlx::{
        retry::retry,
        sql::{Dialect, Statement},
    },
};

/// Expired rows are deleted on one reservation in this many.
const SWEEP_EVERY: u32 = 512;

/// The throttle's counters in a sqlx database (feature `sqlx`): `sqlx::Sqlite`,
/// `sqlx::Postgres` or `sqlx::MySql`, so that instances sharing the database share the
/// counters.
///
/// A reservation is one short transaction that locks the counter's row first (an upsert), so
/// simultaneous attempts on one key queue on the row instead of slipping under its limit
/// together; the arithmetic is the in-memory store's. Counters with no failures and no check
/// in flight are deleted at once, expired ones now and then, so the table holds the failures
/// of one window. Keys are keyed hashes (16 bytes), never usernames or addresses. Tables
/// `axum_login_throttle` and `axum_login_throttle_revoked`; [`migrate`](Self::migrate) creates
/// them.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
/// use axum_login::{Throttle, security::SqlxThrottleStore};
///
/// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
/// let store = SqlxThrottleStore::new(pool);
/// store.migrate().await?;
/// let throttle = Throttle::new(store);
/// # let _ = throttle; Ok(()) }
/// ```
pub struct SqlxThrottleStore<DB: Database> {
    pool: Pool<DB>,
    sql: Arc<Queries>,
    reservations: Arc<AtomicU32>,
    database: PhantomData<fn() -> DB>,
}

impl<DB: Database> Clone for SqlxThrottleStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            sql: self.sql.clone(),
            reservations: self.reservations.clone(),
            database: PhantomData,
        }
    }
}

impl<DB: Database> fmt::Debug for SqlxThrottleStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxThrottleStore")
            .field("database", &DB::NAME)
            .finish_non_exhaustive()
    }
}

/// Every statement, rendered for one database.
#[derive(Debug)]
struct Queries {
    schema: String,
    lock_or_create: Statement,
    lock: Statement,
    select: Statement,
    update: Statement,
    delete: Statement,
    delete_expired: Statement,
    revoke: Statement,
    revoked_at: Statement,
    delete_expired_revocations: Statement,
}

impl Queries {
    fn new(dialect: Dialect) -> Self {
        let t = dialect.quote("axum_login_throttle");
        let r = dialect.quote("axum_login_throttle_revoked");
        let (key, int) = match dialect {
            Dialect::Postgres => ("BYTEA", "BIGINT"),
            Dialect::MySql => ("VARBINARY(16)", "BIGINT"),
            Dialect::Sqlite => ("BLOB", "INTEGER"),
        };
        let columns = format!(
            "k {key} NOT NULL PRIMARY KEY, window_start {int} NOT NULL, failures {int} NOT NULL, last_failure {int} NOT NULL, reserved {int} NOT NULL, lease_until {int} NOT NULL, reported {int} NOT NULL, expires {int} NOT NULL"
        );
        let revoked_columns = format!(
            "k {key} NOT NULL PRIMARY KEY, revoked_at {int} NOT NULL, expires {int} NOT NULL"
        );
        let schema = match dialect {
            // MySQL has no `CREATE INDEX IF NOT EXISTS`: the indexes go with the tables.
            Dialect::MySql => format!(
                "CREATE TABLE IF NOT EXISTS {t} ({columns}, INDEX axum_login_throttle_expires (expires)); CREATE TABLE IF NOT EXISTS {r} ({revoked_columns}, INDEX axum_login_throttle_revoked_expires (expires))"
            ),
            _ => format!(
                "CREATE TABLE IF NOT EXISTS {t} ({columns}); CREATE INDEX IF NOT EXISTS axum_login_throttle_expires ON {t} (expires); CREATE TABLE IF NOT EXISTS {r} ({revoked_columns}); CREATE INDEX IF NOT EXISTS axum_login_throttle_revoked_expires ON {r} (expires)"
            ),
        };
        // The first statement of a reservation writes the row, which locks it (and, on
        // SQLite, the database) until the transaction ends: every later read in it sees the
        // latest committed counter, and no other attempt on the key runs in between.
        let lock_or_create = match dialect {
            Dialect::MySql => format!(
                "INSERT INTO {t} (k, window_start, failures, last_failure, reserved, lease_until, reported, expires) VALUES ($1, $2, 0, $2, 0, $2, 0, $2) ON DUPLICATE KEY UPDATE failures = failures"
            ),
            _ => format!(
                "INSERT INTO {t} (k, window_start, failures, last_failure, reserved, lease_until, reported, expires) VALUES ($1, $2, 0, $2, 0, $2, 0, $2) ON CONFLICT (k) DO UPDATE SET failures = {t}.failures"
            ),
        };
        let for_update = if dialect == Dialect::Sqlite {
            ""
        } else {
            " FOR UPDATE"
        };
        let revoke = match dialect {
            Dialect::MySql => format!(
                "INSERT INTO {r} (k, revoked_at, expires) VALUES ($1, $2, $3) ON DUPLICATE KEY UPDATE expires = IF(VALUES(revoked_at) > revoked_at, VALUES(expires), expires), revoked_at = GREATEST(revoked_at, VALUES(revoked_at))"
            ),
            _ => format!(
                "INSERT INTO {r} (k, revoked_at, expires) VALUES ($1, $2, $3) ON CONFLICT (k) DO UPDATE SET revoked_at = excluded.revoked_at, expires = excluded.expires WHERE excluded.revoked_at > {r}.revoked_at"
            ),
        };
        let render = |sql: String| dialect.render(&sql);
        Self {
            schema,
            lock_or_create: render(lock_or_create),
            lock: render(format!("UPDATE {t} SET failures = failures WHERE k = $1")),
            select: render(format!(
                "SELECT window_start, failures, last_failure, reserved, lease_until, reported FROM {t} WHERE k = $1{for_update}"
            )),
            update: render(format!(
                "UPDATE {t} SET window_start = $2, failures = $3, last_failure = $4, reserved = $5, lease_until = $6, reported = $7, expires = $8 WHERE k = $1"
            )),
            delete: render(format!("DELETE FROM {t} WHERE k = $1")),
            delete_expired: render(format!("DELETE FROM {t} WHERE expires <= $1")),
            revoke: render(revoke),
            revoked_at: render(format!(
                "SELECT revoked_at FROM {r} WHERE k = $1 AND expires > $2"
            )),
            delete_expired_revocations: render(format!("DELETE FROM {r} WHERE expires <= $1")),
        }
    }
}

/// One value of a statement's parameters.
enum Param {
    Key(Vec<u8>),
    Int(i64),
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl<DB> SqlxThrottleStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    Vec<u8>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// A store on `pool`.
    pub fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            sql: Arc::new(Queries::new(Dialect::of::<DB>())),
            reservations: Arc::default(),
            database: PhantomData,
        }
    }

    /// Creates the tables and their indexes, unless they exist.
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(&self.sql.schema).execute(&self.pool).await?;
        Ok(())
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Deletes the counters and revocations whose time is over. Reservations do it now and
    /// then on their own.
    pub async fn delete_expired(&self, now: SystemTime) -> Result<(), sqlx::Error> {
        let now = [Param::Int(to_millis(now))];
        retry(|| Self::query(&self.sql.delete_expired, &now).execute(&self.pool)).await?;
        retry(|| Self::query(&self.sql.delete_expired_revocations, &now).execute(&self.pool))
            .await?;
        Ok(())
    }

    fn query<'q>(
        statement: &'q Statement,
        params: &[Param],
    ) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
        let mut query = sqlx::query::<DB>(&statement.sql);
        for index in &statement.params {
            query = match &params[index - 1] {
                Param::Key(bytes) => query.bind(bytes.clone()),
                Param::Int(int) => query.bind(*int),
            };
        }
        query
    }

    /// The counter as stored, in the open transaction `conn`.
    async fn load(
        conn: &mut DB::Connection,
        sql: &Queries,
        key: &[u8],
    ) -> Result<Option<Counter>, sqlx::Error> {
        let Some(row) = Self::query(&sql.select, &[Param::Key(key.to_vec())])
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let count = |index: usize| -> Result<u32, sqlx::Error> {
            let value: i64 = row.try_get(index)?;
            Ok(u32::try_from(value).unwrap_or(u32::MAX))
        };
        Ok(Some(Counter {
            window_start: from_millis(row.try_get(0)?),
            failures: count(1)?,
            last_failure: from_millis(row.try_get(2)?),
            reserved: count(3)?,
            lease_until: from_millis(row.try_get(4)?),
            reported: row.try_get::<i64, _>(5)? != 0,
        }))
    }

    async fn save(
        conn: &mut DB::Connection,
        sql: &Queries,
        key: &[u8],
        counter: &Counter,
        window: Duration,
    ) -> Result<(), sqlx::Error> {
        let params = [
            Param::Key(key.to_vec()),
            Param::Int(to_millis(counter.window_start)),
            Param::Int(i64::from(counter.failures)),
            Param::Int(to_millis(counter.last_failure)),
            Param::Int(i64::from(counter.reserved)),
            Param::Int(to_millis(counter.lease_until)),
            Param::Int(i64::from(counter.reported)),
            Param::Int(to_millis(counter.expires(window))),
        ];
        Self::query(&sql.update, &params)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn reserve_in_db(
        &self,
        key: &ThrottleKey,
        rule: &Rule,
        window: Duration,
        lease: Duration,
        now: SystemTime,
    ) -> Result<Verdict, sqlx::Error> {
        let bytes = key.as_bytes().to_vec();
        let verdict = retry(|| async {
            let mut tx = self.pool.begin().await?;
            Self::query(
                &self.sql.lock_or_create,
                &[Param::Key(bytes.clone()), Param::Int(to_millis(now))],
            )
            .execute(&mut *tx)
            .await?;
            let mut counter = Self::load(&mut tx, &self.sql, &bytes)
                .await?
                .unwrap_or_else(|| Counter::new(now));
            let verdict = counter.reserve(rule, window, lease, now);
            Self::save(&mut tx, &self.sql, &bytes, &counter, window).await?;
            tx.commit().await?;
            Ok(verdict)
        })
        .await?;
        if self
            .reservations
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            self.delete_expired(now).await?;
        }
        Ok(verdict)
    }

    async fn finish_in_db(
        &self,
        key: &ThrottleKey,
        outcome: Outcome,
        window: Duration,
        now: SystemTime,
    ) -> Result<(), sqlx::Error> {
        let bytes = key.as_bytes().to_vec();
        retry(|| async {
            let mut tx = self.pool.begin().await?;
            Self::query(&self.sql.lock, &[Param::Key(bytes.clone())])
                .execute(&mut *tx)
                .await?;
            let Some(mut counter) = Self::load(&mut tx, &self.sql, &bytes).await? else {
                return Ok(());
            };
            counter.finish(outcome, window, now);
            if counter.is_idle() {
                Self::query(&self.sql.delete, &[Param::Key(bytes.clone())])
                    .execute(&mut *tx)
                    .await?;
            } else {
                Self::save(&mut tx, &self.sql, &bytes, &counter, window).await?;
            }
            tx.commit().await
        })
        .await
    }
}

impl<DB> ThrottleStore for SqlxThrottleStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    Vec<u8>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    fn reserve<'a>(
        &'a self,
        key: &'a ThrottleKey,
        rule: &'a Rule,
        window: Duration,
        lease: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Verdict, BoxError>> {
        Box::pin(async move { Ok(self.reserve_in_db(key, rule, window, lease, now).await?) })
    }

    fn finish<'a>(
        &'a self,
        key: &'a ThrottleKey,
        _rule: &'a Rule,
        outcome: Outcome,
        window: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move { Ok(self.finish_in_db(key, outcome, window, now).await?) })
    }

    fn revoke_devices<'a>(
        &'a self,
        account: &'a ThrottleKey,
        at: SystemTime,
        keep: Duration,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let params = [
                Param::Key(account.as_bytes().to_vec()),
                Param::Int(to_millis(at)),
                Param::Int(to_millis(at).saturating_add(millis(keep))),
            ];
            retry(|| Self::query(&self.sql.revoke, &params).execute(&self.pool)).await?;
            Ok(())
        })
    }

    fn devices_revoked_at<'a>(
        &'a self,
        account: &'a ThrottleKey,
    ) -> BoxFuture<'a, Result<Option<SystemTime>, BoxError>> {
        Box::pin(async move {
            let params = [
                Param::Key(account.as_bytes().to_vec()),
                Param::Int(to_millis(SystemTime::now())),
            ];
            let row =
                retry(|| Self::query(&self.sql.revoked_at, &params).fetch_optional(&self.pool))
                    .await?;
            Ok(match row {
                Some(row) => Some(from_millis(row.try_get(0)?)),
                None => None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_locks_its_row_first_on_every_database() {
        let mysql = Queries::new(Dialect::MySql);
        assert!(mysql.lock_or_create.sql.contains("ON DUPLICATE KEY UPDATE"));
        assert!(mysql.select.sql.ends_with("FOR UPDATE"));
        assert_eq!(mysql.lock_or_create.params, [1, 2, 2, 2, 2]);
        let sqlite = Queries::new(Dialect::Sqlite);
        assert!(
            sqlite
                .lock_or_create
                .sql
                .contains("ON CONFLICT (k) DO UPDATE")
        );
        assert!(!sqlite.select.sql.contains("FOR UPDATE"));
        let postgres = Queries::new(Dialect::Postgres);
        assert!(postgres.lock_or_create.sql.contains("$2, 0, $2"));
    }

    #[tokio::test]
    async fn the_debug_form_names_the_database() {
        let pool = sqlx::SqlitePool::connect_lazy("sqlite::memory:").expect("a lazy pool");
        assert_eq!(
            format!("{:?}", SqlxThrottleStore::new(pool)),
            "SqlxThrottleStore { database: \"SQLite\", .. }"
        );
    }
}
