//! [`SqlxSessionStore`]: sessions in a table of SQLite, PostgreSQL or MySQL/MariaDB.

use std::fmt;

use sqlx::{Database, Executor, Pool};
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
};

use super::{SessionBackend, Update, decode_data, encode_data};
use crate::sqlx::{
    SqlxDatabase,
    db::{Db, Param, is_unique_violation},
    sql::{Dialect, Statement, statements},
};

/// Sessions in a table of a sqlx database: `sqlx::Sqlite`, `sqlx::Postgres` or `sqlx::MySql`
/// (feature `sqlx`).
///
/// Every write is one statement: `save` and [`update`](SessionBackend::update) are an
/// `UPDATE ... WHERE id = ? AND expiry_date > now` (with `AND data <> ?` to skip a write that
/// changes nothing), so a session deleted by a logout on any instance is never written back.
/// Rows are locked by primary key on every database, and a statement the database rolls back
/// to break a lock conflict (a deadlock, a lock-wait timeout, a busy SQLite) is run again after
/// a short random wait, up to six times in all, so concurrent requests of one session never
/// see the conflict.
/// The table is `axum_login_sessions` unless [`with_table_name`](Self::with_table_name) says
/// otherwise; [`migrate`](Self::migrate) creates it. Expired rows are never loaded; delete them
/// now and then with [`continuously_delete_expired`](Self::continuously_delete_expired).
///
/// The session data are stored as JSON bytes with sorted keys, compared byte for byte; on
/// MySQL the id column is ASCII with a binary collation, so ids differing only in letter case
/// (base64 uses both) are different sessions.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
/// use std::time::Duration;
///
/// use axum_login::session::SqlxSessionStore;
///
/// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
/// let store = SqlxSessionStore::new(pool);
/// store.migrate().await?;
/// tokio::spawn(store.clone().continuously_delete_expired(Duration::from_secs(60)));
/// let sessions = axum_login::session_layer(store);
/// # let _ = sessions; Ok(()) }
/// ```
pub struct SqlxSessionStore<DB: Database> {
    db: Db<DB, Queries>,
}

impl<DB: Database> Clone for SqlxSessionStore<DB> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
        }
    }
}

impl<DB: Database> fmt::Debug for SqlxSessionStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.db
            .debug(f, "SqlxSessionStore")
            .field("table", &self.db.sql.table)
            .finish_non_exhaustive()
    }
}

statements! {
    /// Every statement, rendered for one database.
    struct Queries;
    fn new(dialect, table: &str) {
        let t = dialect.quote(table);
        let (id, data) = match dialect {
            Dialect::MySql => (
                "VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin",
                "MEDIUMBLOB",
            ),
            _ => ("TEXT", dialect.bytes_type()),
        };
        let expiry = dialect.int_type();
        let index = dialect.quote(&format!("{}_expiry", table.replace('.', "_")));
        // An `UPDATE` locks rows in the order of the index it reads. Left to choose, MySQL may
        // read the expiry index (the `expiry_date > now` condition) and lock its entry before
        // the row, the opposite of a `DELETE` by id: two requests of one session then deadlock.
        // Reading by primary key, both lock the row first.
        let by_id = if dialect == Dialect::MySql {
            " FORCE INDEX (PRIMARY)"
        } else {
            ""
        };
    }
    table: String = table.to_owned(),
    schema: String = dialect.create_table(
        &t,
        &format!("id {id} NOT NULL PRIMARY KEY, data {data} NOT NULL, expiry_date {expiry} NOT NULL"),
        &[(&index, "expiry_date")],
    ),
    insert = "INSERT INTO {t} (id, data, expiry_date) VALUES ($1, $2, $3)",
    load = "SELECT data FROM {t} WHERE id = $1 AND expiry_date > $2",
    update: Matched = "UPDATE {t}{by_id} SET data = $1, expiry_date = $2 WHERE id = $3 AND expiry_date > $4",
    update_changed: Matched = "UPDATE {t}{by_id} SET data = $1, expiry_date = $2 WHERE id = $3 AND expiry_date > $4 AND data <> $1",
    exists = "SELECT 1 FROM {t} WHERE id = $1 AND expiry_date > $2",
    delete = "DELETE FROM {t} WHERE id = $1",
    delete_expired = "DELETE FROM {t} WHERE expiry_date <= $1",
}

fn store_error(error: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

impl<DB: Database> SqlxSessionStore<DB> {
    /// A store on `pool`, in the table `axum_login_sessions`.
    pub fn new(pool: Pool<DB>) -> Self {
        Self {
            db: Db::new(pool, |dialect| Queries::new(dialect, "axum_login_sessions")),
        }
    }

    /// The sessions in `table` (letters, digits and `_`, optionally `schema.table`) instead.
    ///
    /// # Panics
    ///
    /// If `table` is not such a name: it goes into SQL, quoted, and a name that needed quoting
    /// is a mistake better caught at start-up.
    pub fn with_table_name(self, table: &str) -> Self {
        let valid = !table.is_empty()
            && table.split('.').count() <= 2
            && table.split('.').all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        assert!(
            valid,
            "SqlxSessionStore: the table name must be letters, digits and `_`, optionally `schema.table`; got {table:?}"
        );
        Self {
            db: Db::new(self.db.pool, |dialect| Queries::new(dialect, table)),
        }
    }

    /// Creates the sessions table and its expiry index, unless they exist.
    pub async fn migrate(&self) -> Result<(), sqlx::Error>
    where
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        self.db.migrate(&self.db.sql.schema).await
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.db.pool
    }
}

impl<DB: SqlxDatabase> SqlxSessionStore<DB> {
    /// Deletes expired sessions every `period`, until a deletion fails; spawn it as a task.
    /// Expired rows are never loaded, so this only keeps the table small.
    pub async fn continuously_delete_expired(
        self,
        period: std::time::Duration,
    ) -> session_store::Result<()> {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            self.delete_expired().await?;
        }
    }

    async fn execute(
        &self,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> session_store::Result<()> {
        self.db
            .execute(statement, params)
            .await
            .map_err(store_error)
    }
}

#[async_trait::async_trait]
impl<DB: SqlxDatabase> SessionStore for SqlxSessionStore<DB> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode_data(&record.data)?.into_bytes();
        loop {
            let id = record.id.to_string();
            let params = [
                Param::Text(&id),
                Param::Bytes(&data),
                Param::Int(record.expiry_date.unix_timestamp()),
            ];
            match self.db.execute(&self.db.sql.insert, &params).await {
                Ok(()) => return Ok(()),
                Err(error) if is_unique_violation(&error) => record.id = Id::default(),
                Err(error) => return Err(store_error(error)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.update(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = id.to_string();
        let params = [Param::Text(&key), Param::Int(now())];
        let row = self
            .db
            .fetch_optional(&self.db.sql.load, &params)
            .await
            .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data = self.db.bytes(&row, 0).map_err(store_error)?;
        let text = std::str::from_utf8(data.as_deref().unwrap_or_default())
            .map_err(|error| session_store::Error::Decode(error.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data: decode_data(text)?,
            // tower-sessions sets the expiry again from the layer's settings before each save.
            expiry_date: OffsetDateTime::now_utc(),
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.execute(&self.db.sql.delete, &[Param::Text(&id.to_string())])
            .await
    }
}

#[async_trait::async_trait]
impl<DB: SqlxDatabase> SessionBackend for SqlxSessionStore<DB> {
    async fn update(&self, record: &Record, skip_unchanged: bool) -> session_store::Result<Update> {
        let id = record.id.to_string();
        let data = encode_data(&record.data)?.into_bytes();
        let params = [
            Param::Bytes(&data),
            Param::Int(record.expiry_date.unix_timestamp()),
            Param::Text(&id),
            Param::Int(now()),
        ];
        let statement = if skip_unchanged {
            &self.db.sql.update_changed
        } else {
            &self.db.sql.update
        };
        if self
            .db
            .matched(statement, &params)
            .await
            .map_err(store_error)?
        {
            return Ok(Update::Written);
        }
        if !skip_unchanged {
            return Ok(Update::Missing);
        }
        // Nothing written: say whether for want of a session or of a change.
        let params = [Param::Text(&id), Param::Int(now())];
        let exists = self
            .db
            .fetch_optional(&self.db.sql.exists, &params)
            .await
            .map_err(store_error)?
            .is_some();
        Ok(if exists {
            Update::Unchanged
        } else {
            Update::Missing
        })
    }
}

#[async_trait::async_trait]
impl<DB: SqlxDatabase> ExpiredDeletion for SqlxSessionStore<DB> {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.execute(&self.db.sql.delete_expired, &[Param::Int(now())])
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_rendered_per_database() {
        let mysql = Queries::new(Dialect::MySql, "sessions");
        assert_eq!(
            mysql.update_changed.statement.sql,
            "UPDATE `sessions` FORCE INDEX (PRIMARY) SET data = ?, expiry_date = ? WHERE id = ? AND expiry_date > ? AND data <> ?"
        );
        assert_eq!(mysql.update_changed.statement.params, [1, 2, 3, 4, 1]);
        assert!(mysql.schema.contains("ascii_bin"), "{}", mysql.schema);
        let postgres = Queries::new(Dialect::Postgres, "auth.sessions");
        assert_eq!(
            postgres.load.sql,
            r#"SELECT data FROM "auth"."sessions" WHERE id = $1 AND expiry_date > $2"#
        );
    }
}
