//! [`SqlxSessionRegistry`]: the session registry in a table of SQLite, PostgreSQL or
//! MySQL/MariaDB, shared by every instance on the database.

use std::{net::IpAddr, time::SystemTime};

use super::{
    Admission, Binding, Limit, OnLimit, SessionEntry, SessionRegistry, Which, to_make_room,
};
use crate::clock::{from_millis, to_millis};
use crate::error::BoxError;
use crate::sqlx::db::{Param, sqlx_store};
use crate::sqlx::sql::{Dialect, Matched, Statement};
use crate::sqlx::{SqlxDatabase, retry::retry};

/// Expired entries of every user are deleted on one [`add`](SessionRegistry::add) in this
/// many, as in the in-memory registry.
const SWEEP_EVERY: u32 = 1024;

/// The statements that remove the entries one [`Which`] names.
#[derive(Debug)]
struct Removal {
    /// PostgreSQL and SQLite: `DELETE ... RETURNING` the entries. MySQL: the `DELETE` alone.
    delete: Statement,
    /// MySQL only: the entries, locked until the transaction's `DELETE`.
    lock: Option<Statement>,
}

/// The columns an entry is read from, in the order `entry` reads them.
const COLUMNS: &str =
    "id, session_id, created_at, last_seen, address, user_agent, expires_at, remember";

sqlx_store! {
    /// The session registry in a sqlx database (feature `sqlx`): `sqlx::Sqlite`, `sqlx::Postgres`
    /// or `sqlx::MySql`, so that every instance sharing the database sees, and can end, every
    /// session of a user.
    ///
    /// One row per entry in the table `axum_login_session_registry`, keyed by user and entry id;
    /// [`migrate`](Self::migrate) creates it. [`bind`](SessionRegistry::bind) and
    /// [`touch`](SessionRegistry::touch) are each one `UPDATE` whose matched rows say whether the
    /// entry was still there, so a session id is never recorded on an entry that
    /// [`remove`](SessionRegistry::remove) took away. Removing is one `DELETE ... RETURNING` on
    /// PostgreSQL and SQLite, and a locking `SELECT ... FOR UPDATE` then a `DELETE` in one
    /// transaction on MySQL, which has no `RETURNING`.
    ///
    /// An expired entry is never listed, bound or touched. Expired rows of a user are deleted
    /// when the user logs in again, and those of every user on one login in 1024; or call
    /// [`delete_expired`](Self::delete_expired). Times are kept as milliseconds since the epoch.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
    /// use axum_login::registry::{RegistryConfig, SqlxSessionRegistry};
    ///
    /// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
    /// let registry = SqlxSessionRegistry::new(pool);
    /// registry.migrate().await?;
    /// let config = RegistryConfig::new(registry);
    /// # let _ = config; Ok(()) }
    /// ```
    pub struct SqlxSessionRegistry(Db<Queries>);

    fn new(dialect) {
        let t = dialect.quote("axum_login_session_registry");
        let (key, int) = (dialect.exact_text_type(), dialect.int_type());
        let text = dialect.text_type();
        let columns = format!(
            "user_id {key} NOT NULL, id {key} NOT NULL, session_id {text}, created_at {int} NOT NULL, last_seen {int} NOT NULL, address {text}, user_agent {text}, expires_at {int} NOT NULL, remember {text}, PRIMARY KEY (user_id, id)"
        );
        let greatest = if dialect == Dialect::Sqlite {
            "MAX"
        } else {
            "GREATEST"
        };
        let removal = |filter: &str| {
            let delete = format!("DELETE FROM {t} WHERE user_id = $1{filter}");
            if dialect == Dialect::MySql {
                Removal {
                    delete: dialect.render(&delete),
                    lock: Some(dialect.render(&format!(
                        "SELECT {COLUMNS} FROM {t} WHERE user_id = $1{filter} FOR UPDATE"
                    ))),
                }
            } else {
                Removal {
                    delete: dialect.render(&format!("{delete} RETURNING {COLUMNS}")),
                    lock: None,
                }
            }
        };
    }
    migrate: " Creates the table and its index, unless they exist.",
    schema: String = dialect.create_table(
        &t,
        &columns,
        &[("axum_login_session_registry_expires", "expires_at")],
    ),
    insert = "INSERT INTO {t} (user_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    /// Serialises the logins of one user within their limit, until the transaction ends:
    /// an advisory lock on PostgreSQL, the user's rows (and the gap they would go in) on
    /// MySQL. SQLite needs none: the transaction's first statement is a write, which takes
    /// the database's one write lock.
    lock_user: Option<Statement> = match dialect {
        Dialect::Postgres => Some(dialect.render(
            "SELECT pg_advisory_xact_lock(hashtextextended('axum_login_session_registry ' || $1, 0))",
        )),
        Dialect::MySql => Some(dialect.render(&format!(
            "SELECT id FROM {t} WHERE user_id = $1 FOR UPDATE"
        ))),
        Dialect::Sqlite => None,
    },
    /// One entry, by user and id, for making room within a limit.
    delete_one = "DELETE FROM {t} WHERE user_id = $1 AND id = $2",
    delete_expired_of_user = "DELETE FROM {t} WHERE user_id = $1 AND expires_at <= $2",
    list = "SELECT {COLUMNS} FROM {t} WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at, id",
    bind: Matched = "UPDATE {t} SET session_id = $3 WHERE user_id = $1 AND id = $2 AND expires_at > $4 AND (session_id IS NULL OR session_id = $5)",
    set_remember: Matched = "UPDATE {t} SET remember = $3 WHERE user_id = $1 AND id = $2 AND expires_at > $4",
    touch: Matched = "UPDATE {t} SET last_seen = {greatest}(last_seen, $3) WHERE user_id = $1 AND id = $2 AND expires_at > $4",
    remove_one: Removal = removal(" AND id = $2"),
    remove_all_but: Removal = removal(" AND id <> $2"),
    remove_all: Removal = removal(""),
    delete_expired = "DELETE FROM {t} WHERE expires_at <= $1",
}

/// The values of [`COLUMNS`] after the user, as the insert binds them.
struct Row<'a> {
    address: Option<String>,
    entry: &'a SessionEntry,
}

impl<'a> Row<'a> {
    fn new(entry: &'a SessionEntry) -> Self {
        Self {
            address: entry.address.map(|address| address.to_string()),
            entry,
        }
    }

    fn params(&self) -> [Param<'_>; 9] {
        let entry = self.entry;
        [
            Param::Text(&entry.user),
            Param::Text(&entry.id),
            Param::OptText(entry.session_id.as_deref()),
            Param::Int(to_millis(entry.created_at)),
            Param::Int(to_millis(entry.last_seen)),
            Param::OptText(self.address.as_deref()),
            Param::OptText(entry.user_agent.as_deref()),
            Param::Int(to_millis(entry.expires_at)),
            Param::OptText(entry.remember.as_deref()),
        ]
    }
}

impl<DB: SqlxDatabase> SqlxSessionRegistry<DB> {
    /// Deletes the entries that expired by `now`. Logins do it now and then on their own.
    pub async fn delete_expired(&self, now: SystemTime) -> Result<(), sqlx::Error> {
        let params = [Param::Int(to_millis(now))];
        self.db.execute(&self.db.sql.delete_expired, &params).await
    }

    /// The entry of `user` in a row of [`COLUMNS`].
    fn entry(&self, user: &str, row: &DB::Row) -> Result<SessionEntry, BoxError> {
        let db = &self.db;
        let address = db
            .text(row, 4)?
            .map(|address| address.parse::<IpAddr>())
            .transpose()?;
        Ok(SessionEntry {
            id: db.text(row, 0)?.unwrap_or_default(),
            user: user.to_owned(),
            session_id: db.text(row, 1)?,
            created_at: from_millis(db.int(row, 2)?),
            last_seen: from_millis(db.int(row, 3)?),
            address,
            user_agent: db.text(row, 5)?,
            expires_at: from_millis(db.int(row, 6)?),
            remember: db.text(row, 7)?,
        })
    }

    async fn add_entry(&self, entry: &SessionEntry) -> Result<(), BoxError> {
        let now = SystemTime::now();
        if self.db.sweep_due(SWEEP_EVERY) {
            self.delete_expired(now).await?;
        } else {
            let params = [Param::Text(&entry.user), Param::Int(to_millis(now))];
            self.db
                .execute(&self.db.sql.delete_expired_of_user, &params)
                .await?;
        }
        let row = Row::new(entry);
        self.db.execute(&self.db.sql.insert, &row.params()).await?;
        Ok(())
    }

    /// [`SessionRegistry::add_within`]: in one transaction that holds the user's lock, the
    /// user's expired entries go, the live ones are counted, room is made or the login
    /// refused, and the entry is added. Two transactions that still meet in a deadlock (two
    /// first logins of a user on MySQL, whose gap locks do not exclude each other) are
    /// retried whole: the one the database rolled back starts again and counts the other's
    /// entry.
    async fn add_entry_within(
        &self,
        entry: &SessionEntry,
        limit: Limit,
    ) -> Result<Admission, BoxError> {
        let now = SystemTime::now();
        if self.db.sweep_due(SWEEP_EVERY) {
            self.delete_expired(now).await?;
        }
        retry(|| self.try_add_within(entry, limit, now)).await?
    }

    /// One attempt of [`add_entry_within`](Self::add_entry_within); the outer error is the
    /// database's, which may call for another attempt.
    async fn try_add_within(
        &self,
        entry: &SessionEntry,
        limit: Limit,
        now: SystemTime,
    ) -> Result<Result<Admission, BoxError>, sqlx::Error> {
        let (db, sql) = (&self.db, &self.db.sql);
        let mut tx = db.pool.begin().await?;
        if let Some(lock) = &sql.lock_user {
            db.execute_in(&mut tx, lock, &[Param::Text(&entry.user)])
                .await?;
        }
        let params = [Param::Text(&entry.user), Param::Int(to_millis(now))];
        db.execute_in(&mut tx, &sql.delete_expired_of_user, &params)
            .await?;
        let rows = db.fetch_all_in(&mut tx, &sql.list, &params).await?;
        let live: Result<Vec<SessionEntry>, BoxError> = rows
            .iter()
            .map(|row| self.entry(&entry.user, row))
            .collect();
        let live = match live {
            Ok(live) => live,
            Err(error) => return Ok(Err(error)),
        };
        let ended = to_make_room(live, limit.max);
        if !ended.is_empty() && limit.on_limit == OnLimit::RefuseNew {
            tx.rollback().await?;
            return Ok(Ok(Admission::Refused));
        }
        for gone in &ended {
            let params = [Param::Text(&entry.user), Param::Text(&gone.id)];
            db.execute_in(&mut tx, &sql.delete_one, &params).await?;
        }
        let row = Row::new(entry);
        db.execute_in(&mut tx, &sql.insert, &row.params()).await?;
        tx.commit().await?;
        Ok(Ok(Admission::Added(ended)))
    }

    async fn remove_entries(
        &self,
        user: &str,
        which: Which<'_>,
    ) -> Result<Vec<SessionEntry>, BoxError> {
        let (db, sql) = (&self.db, &self.db.sql);
        let (removal, params) = match which {
            Which::One(id) => (&sql.remove_one, vec![Param::Text(user), Param::Text(id)]),
            Which::AllBut(id) => (
                &sql.remove_all_but,
                vec![Param::Text(user), Param::Text(id)],
            ),
            Which::All => (&sql.remove_all, vec![Param::Text(user)]),
        };
        let rows = match &removal.lock {
            None => db.fetch_all(&removal.delete, &params).await?,
            Some(lock) => {
                retry(|| async {
                    let mut tx = db.pool.begin().await?;
                    let rows = db.fetch_all_in(&mut tx, lock, &params).await?;
                    db.execute_in(&mut tx, &removal.delete, &params).await?;
                    tx.commit().await?;
                    Ok(rows)
                })
                .await?
            }
        };
        rows.iter().map(|row| self.entry(user, row)).collect()
    }

    /// Whether the conditional `UPDATE` `statement` found the entry, for `bind`, `touch` and
    /// `set_remember`.
    async fn matched(&self, statement: &Matched, params: &[Param<'_>]) -> Result<bool, BoxError> {
        Ok(self.db.matched(statement, params).await?)
    }
}

#[async_trait::async_trait]
impl<DB: SqlxDatabase> SessionRegistry for SqlxSessionRegistry<DB> {
    async fn add(&self, entry: &SessionEntry) -> Result<(), BoxError> {
        self.add_entry(entry).await
    }

    async fn add_within(&self, entry: &SessionEntry, limit: Limit) -> Result<Admission, BoxError> {
        self.add_entry_within(entry, limit).await
    }

    async fn list(&self, user: &str) -> Result<Vec<SessionEntry>, BoxError> {
        let params = [Param::Text(user), Param::Int(to_millis(SystemTime::now()))];
        let rows = self.db.fetch_all(&self.db.sql.list, &params).await?;
        rows.iter().map(|row| self.entry(user, row)).collect()
    }

    async fn bind(&self, binding: &Binding<'_>) -> Result<bool, BoxError> {
        let params = [
            Param::Text(binding.user),
            Param::Text(binding.id),
            Param::Text(binding.session_id),
            Param::Int(to_millis(SystemTime::now())),
            Param::OptText(binding.previous),
        ];
        self.matched(&self.db.sql.bind, &params).await
    }

    async fn set_remember(&self, user: &str, id: &str, selector: &str) -> Result<bool, BoxError> {
        let params = [
            Param::Text(user),
            Param::Text(id),
            Param::Text(selector),
            Param::Int(to_millis(SystemTime::now())),
        ];
        self.matched(&self.db.sql.set_remember, &params).await
    }

    async fn touch(&self, user: &str, id: &str, at: SystemTime) -> Result<bool, BoxError> {
        let params = [
            Param::Text(user),
            Param::Text(id),
            Param::Int(to_millis(at)),
            Param::Int(to_millis(SystemTime::now())),
        ];
        self.matched(&self.db.sql.touch, &params).await
    }

    async fn remove(&self, user: &str, which: Which<'_>) -> Result<Vec<SessionEntry>, BoxError> {
        self.remove_entries(user, which).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_lock_then_delete_on_mysql_and_return_rows_elsewhere() {
        let mysql = Queries::new(Dialect::MySql);
        let lock = mysql
            .remove_all_but
            .lock
            .as_ref()
            .expect("a locking select");
        assert!(lock.sql.ends_with("AND id <> ? FOR UPDATE"));
        assert!(!mysql.remove_all_but.delete.sql.contains("RETURNING"));
        assert!(mysql.touch.statement.sql.contains("GREATEST(last_seen, ?)"));
        assert_eq!(mysql.touch.statement.params, [3, 1, 2, 4]);
        let sqlite = Queries::new(Dialect::Sqlite);
        assert!(sqlite.remove_one.lock.is_none());
        assert!(
            sqlite
                .remove_one
                .delete
                .sql
                .contains("RETURNING id, session_id")
        );
        assert!(sqlite.touch.statement.sql.contains("MAX(last_seen, ?)"));
        assert!(sqlite.bind.statement.sql.ends_with("RETURNING 1"));
    }
}
