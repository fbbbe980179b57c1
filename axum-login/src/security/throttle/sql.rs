//! [`SqlxThrottleStore`]: the throttle's counters in a table of SQLite, PostgreSQL or
//! MySQL/MariaDB, shared by every instance on the database.

use std::time::{Duration, SystemTime};

use super::{
    counter::Counter,
    store::{Ended, Reservation, Revocation, ThrottleKey, ThrottleStore, Verdict},
};
use crate::clock::{duration_millis, from_millis, to_millis};
use crate::error::BoxError;
use crate::sqlx::db::{Param, sqlx_store};
use crate::sqlx::sql::Dialect;
use crate::sqlx::{SqlxDatabase, retry::retry};

/// Expired rows are deleted on one reservation in this many.
const SWEEP_EVERY: u32 = 512;

sqlx_store! {
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
    pub struct SqlxThrottleStore(Db<Queries>);

    fn new(dialect) {
        let t = dialect.quote("axum_login_throttle");
        let r = dialect.quote("axum_login_throttle_revoked");
        let key = if dialect == Dialect::MySql {
            "VARBINARY(16)"
        } else {
            dialect.bytes_type()
        };
        let int = dialect.int_type();
        let columns = format!(
            "k {key} NOT NULL PRIMARY KEY, window_start {int} NOT NULL, failures {int} NOT NULL, last_failure {int} NOT NULL, reserved {int} NOT NULL, lease_until {int} NOT NULL, reported {int} NOT NULL, expires {int} NOT NULL"
        );
        let revoked_columns = format!(
            "k {key} NOT NULL PRIMARY KEY, revoked_at {int} NOT NULL, expires {int} NOT NULL"
        );
        let for_update = if dialect == Dialect::Sqlite {
            ""
        } else {
            " FOR UPDATE"
        };
    }
    migrate: " Creates the tables and their indexes, unless they exist.",
    schema: String = [
        dialect.create_table(&t, &columns, &[("axum_login_throttle_expires", "expires")]),
        dialect.create_table(
            &r,
            &revoked_columns,
            &[("axum_login_throttle_revoked_expires", "expires")],
        ),
    ]
    .join("; "),
    // The first statement of a reservation writes the row, which locks it (and, on SQLite,
    // the database) until the transaction ends: every later read in it sees the latest
    // committed counter, and no other attempt on the key runs in between.
    lock_or_create = match dialect {
        Dialect::MySql => format!(
            "INSERT INTO {t} (k, window_start, failures, last_failure, reserved, lease_until, reported, expires) VALUES ($1, $2, 0, $2, 0, $2, 0, $2) ON DUPLICATE KEY UPDATE failures = failures"
        ),
        _ => format!(
            "INSERT INTO {t} (k, window_start, failures, last_failure, reserved, lease_until, reported, expires) VALUES ($1, $2, 0, $2, 0, $2, 0, $2) ON CONFLICT (k) DO UPDATE SET failures = {t}.failures"
        ),
    },
    lock = "UPDATE {t} SET failures = failures WHERE k = $1",
    select = "SELECT window_start, failures, last_failure, reserved, lease_until, reported FROM {t} WHERE k = $1{for_update}",
    update = "UPDATE {t} SET window_start = $2, failures = $3, last_failure = $4, reserved = $5, lease_until = $6, reported = $7, expires = $8 WHERE k = $1",
    delete = "DELETE FROM {t} WHERE k = $1",
    delete_expired = "DELETE FROM {t} WHERE expires <= $1",
    revoke = match dialect {
        Dialect::MySql => format!(
            "INSERT INTO {r} (k, revoked_at, expires) VALUES ($1, $2, $3) ON DUPLICATE KEY UPDATE expires = IF(VALUES(revoked_at) > revoked_at, VALUES(expires), expires), revoked_at = GREATEST(revoked_at, VALUES(revoked_at))"
        ),
        _ => format!(
            "INSERT INTO {r} (k, revoked_at, expires) VALUES ($1, $2, $3) ON CONFLICT (k) DO UPDATE SET revoked_at = excluded.revoked_at, expires = excluded.expires WHERE excluded.revoked_at > {r}.revoked_at"
        ),
    },
    revoked_at = "SELECT revoked_at FROM {r} WHERE k = $1 AND expires > $2",
    delete_expired_revocations = "DELETE FROM {r} WHERE expires <= $1",
}

impl<DB: SqlxDatabase> SqlxThrottleStore<DB> {
    /// Deletes the counters and revocations whose time is over. Reservations do it now and
    /// then on their own.
    pub async fn delete_expired(&self, now: SystemTime) -> Result<(), sqlx::Error> {
        let now = [Param::Int(to_millis(now))];
        self.db.execute(&self.db.sql.delete_expired, &now).await?;
        self.db
            .execute(&self.db.sql.delete_expired_revocations, &now)
            .await
    }

    /// The counter as stored, in the open transaction `conn`.
    async fn load(
        &self,
        conn: &mut DB::Connection,
        key: &[u8],
    ) -> Result<Option<Counter>, sqlx::Error> {
        let db = &self.db;
        let Some(row) = db
            .fetch_optional_in(conn, &db.sql.select, &[Param::Bytes(key)])
            .await?
        else {
            return Ok(None);
        };
        let count = |index: usize| -> Result<u32, sqlx::Error> {
            Ok(u32::try_from(db.int(&row, index)?).unwrap_or(u32::MAX))
        };
        Ok(Some(Counter {
            window_start: from_millis(db.int(&row, 0)?),
            failures: count(1)?,
            last_failure: from_millis(db.int(&row, 2)?),
            reserved: count(3)?,
            lease_until: from_millis(db.int(&row, 4)?),
            reported: db.int(&row, 5)? != 0,
        }))
    }

    async fn save(
        &self,
        conn: &mut DB::Connection,
        key: &[u8],
        counter: &Counter,
        window: Duration,
    ) -> Result<(), sqlx::Error> {
        let params = [
            Param::Bytes(key),
            Param::Int(to_millis(counter.window_start)),
            Param::Int(i64::from(counter.failures)),
            Param::Int(to_millis(counter.last_failure)),
            Param::Int(i64::from(counter.reserved)),
            Param::Int(to_millis(counter.lease_until)),
            Param::Int(i64::from(counter.reported)),
            Param::Int(to_millis(counter.expires(window))),
        ];
        self.db.execute_in(conn, &self.db.sql.update, &params).await
    }

    async fn reserve_in_db(
        &self,
        reservation: &Reservation,
        now: SystemTime,
    ) -> Result<Verdict, sqlx::Error> {
        let Reservation {
            key,
            rule,
            window,
            lease,
        } = *reservation;
        let (db, key) = (&self.db, key.as_bytes().as_slice());
        let verdict = retry(|| async {
            let mut tx = db.pool.begin().await?;
            let params = [Param::Bytes(key), Param::Int(to_millis(now))];
            db.execute_in(&mut tx, &db.sql.lock_or_create, &params)
                .await?;
            let mut counter = self
                .load(&mut tx, key)
                .await?
                .unwrap_or_else(|| Counter::new(now));
            let verdict = counter.reserve(&rule, window, lease, now);
            self.save(&mut tx, key, &counter, window).await?;
            tx.commit().await?;
            Ok(verdict)
        })
        .await?;
        if db.sweep_due(SWEEP_EVERY) {
            self.delete_expired(now).await?;
        }
        Ok(verdict)
    }

    async fn finish_in_db(
        &self,
        reservation: &Reservation,
        ended: Ended,
    ) -> Result<(), sqlx::Error> {
        let (db, window) = (&self.db, reservation.window);
        let key = reservation.key.as_bytes().as_slice();
        retry(|| async {
            let mut tx = db.pool.begin().await?;
            db.execute_in(&mut tx, &db.sql.lock, &[Param::Bytes(key)])
                .await?;
            let Some(mut counter) = self.load(&mut tx, key).await? else {
                return Ok(());
            };
            counter.finish(ended.outcome, window, ended.at);
            if counter.is_idle() {
                db.execute_in(&mut tx, &db.sql.delete, &[Param::Bytes(key)])
                    .await?;
            } else {
                self.save(&mut tx, key, &counter, window).await?;
            }
            tx.commit().await
        })
        .await
    }
}

#[async_trait::async_trait]
impl<DB: SqlxDatabase> ThrottleStore for SqlxThrottleStore<DB> {
    async fn reserve(
        &self,
        reservation: &Reservation,
        now: SystemTime,
    ) -> Result<Verdict, BoxError> {
        Ok(self.reserve_in_db(reservation, now).await?)
    }

    async fn finish(&self, reservation: &Reservation, ended: Ended) -> Result<(), BoxError> {
        Ok(self.finish_in_db(reservation, ended).await?)
    }

    async fn revoke_devices(&self, revocation: &Revocation) -> Result<(), BoxError> {
        let Revocation { account, at, keep } = revocation;
        let params = [
            Param::Bytes(account.as_bytes()),
            Param::Int(to_millis(*at)),
            Param::Int(to_millis(*at).saturating_add(duration_millis(*keep))),
        ];
        self.db.execute(&self.db.sql.revoke, &params).await?;
        Ok(())
    }

    async fn devices_revoked_at(
        &self,
        account: &ThrottleKey,
    ) -> Result<Option<SystemTime>, BoxError> {
        let params = [
            Param::Bytes(account.as_bytes()),
            Param::Int(to_millis(SystemTime::now())),
        ];
        let row = self
            .db
            .fetch_optional(&self.db.sql.revoked_at, &params)
            .await?;
        Ok(match row {
            Some(row) => Some(from_millis(self.db.int(&row, 0)?)),
            None => None,
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
