//! [`SqlxSessionStore`]: sessions in a table of SQLite, PostgreSQL or MySQL/MariaDB.

use std::{fmt, marker::PhantomData, sync::Arc};

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
};

use super::{SessionBackend, Update, decode_data, encode_data};
use crate::sqlx::{
    retry::retry,
    sql::{Dialect, Statement},
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
    pool: Pool<DB>,
    sql: Arc<Queries>,
    database: PhantomData<fn() -> DB>,
}

impl<DB: Database> Clone for SqlxSessionStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            sql: self.sql.clone(),
            database: PhantomData,
        }
    }
}

impl<DB: Database> fmt::Debug for SqlxSessionStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxSessionStore")
            .field("database", &DB::NAME)
            .field("table", &self.sql.table)
            .finish_non_exhaustive()
    }
}

/// Every statement, rendered for one database.
#[derive(Debug)]
struct Queries {
    dialect: Dialect,
    table: String,
    schema: String,
    insert: Statement,
    load: Statement,
    update: Statement,
    update_changed: Statement,
    exists: Statement,
    delete: Statement,
    delete_expired: Statement,
}

impl Queries {
    fn new(dialect: Dialect, table: &str) -> Self {
        let t = dialect.quote(table);
        let (id, data, expiry) = match dialect {
            Dialect::Postgres => ("TEXT", "BYTEA", "BIGINT"),
            Dialect::MySql => (
                "VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin",
                "MEDIUMBLOB",
                "BIGINT",
            ),
            Dialect::Sqlite => ("TEXT", "BLOB", "INTEGER"),
        };
        let index = dialect.quote(&format!("{}_expiry", table.replace('.', "_")));
        let schema = match dialect {
            // MySQL has no `CREATE INDEX IF NOT EXISTS`: the index goes with the table.
            Dialect::MySql => format!(
                "CREATE TABLE IF NOT EXISTS {t} (id {id} NOT NULL PRIMARY KEY, data {data} NOT NULL, expiry_date {expiry} NOT NULL, INDEX {index} (expiry_date))"
            ),
            _ => format!(
                "CREATE TABLE IF NOT EXISTS {t} (id {id} NOT NULL PRIMARY KEY, data {data} NOT NULL, expiry_date {expiry} NOT NULL); CREATE INDEX IF NOT EXISTS {index} ON {t} (expiry_date)"
            ),
        };
        // sqlx has no database-independent count of affected rows: PostgreSQL and SQLite return
        // a row per updated row, MySQL is asked for `ROW_COUNT()` on the same connection.
        let returning = if dialect == Dialect::MySql {
            ""
        } else {
            " RETURNING 1"
        };
        // An `UPDATE` locks rows in the order of the index it reads. Left to choose, MySQL may
        // read the expiry index (the `expiry_date > now` condition) and lock its entry before
        // the row, the opposite of a `DELETE` by id: two requests of one session then deadlock.
        // Reading by primary key, both lock the row first.
        let by_id = if dialect == Dialect::MySql {
            " FORCE INDEX (PRIMARY)"
        } else {
            ""
        };
        let render = |sql: String| dialect.render(&sql);
        Self {
            dialect,
            table: table.to_owned(),
            schema,
            insert: render(format!(
                "INSERT INTO {t} (id, data, expiry_date) VALUES ($1, $2, $3)"
            )),
            load: render(format!(
                "SELECT data FROM {t} WHERE id = $1 AND expiry_date > $2"
            )),
            update: render(format!(
                "UPDATE {t}{by_id} SET data = $1, expiry_date = $2 WHERE id = $3 AND expiry_date > $4{returning}"
            )),
            update_changed: render(format!(
                "UPDATE {t}{by_id} SET data = $1, expiry_date = $2 WHERE id = $3 AND expiry_date > $4 AND data <> $1{returning}"
            )),
            exists: render(format!(
                "SELECT 1 FROM {t} WHERE id = $1 AND expiry_date > $2"
            )),
            delete: render(format!("DELETE FROM {t} WHERE id = $1")),
            delete_expired: render(format!("DELETE FROM {t} WHERE expiry_date <= $1")),
        }
    }
}

/// One value of a statement's parameters.
enum Param {
    Text(String),
    Bytes(Vec<u8>),
    Int(i64),
}

fn store_error(error: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

impl<DB> SqlxSessionStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    Vec<u8>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// A store on `pool`, in the table `axum_login_sessions`.
    pub fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            sql: Arc::new(Queries::new(Dialect::of::<DB>(), "axum_login_sessions")),
            database: PhantomData,
        }
    }

    /// The sessions in `table` (letters, digits and `_`, optionally `schema.table`) instead.
    ///
    /// # Panics
    ///
    /// If `table` is not such a name: it goes into SQL, quoted, and a name that needed quoting
    /// is a mistake better caught at start-up.
    pub fn with_table_name(mut self, table: &str) -> Self {
        let valid = !table.is_empty()
            && table.split('.').count() <= 2
            && table.split('.').all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        assert!(
            valid,
            "SqlxSessionStore: the table name must be letters, digits and `_`, optionally `schema.table`; got {table:?}"
        );
        self.sql = Arc::new(Queries::new(Dialect::of::<DB>(), table));
        self
    }

    /// Creates the sessions table and its expiry index, unless they exist.
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(&self.sql.schema).execute(&self.pool).await?;
        Ok(())
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

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

    fn query<'q>(
        statement: &'q Statement,
        params: &[Param],
    ) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
        let mut query = sqlx::query::<DB>(&statement.sql);
        for index in &statement.params {
            query = match &params[index - 1] {
                Param::Text(text) => query.bind(text.clone()),
                Param::Bytes(bytes) => query.bind(bytes.clone()),
                Param::Int(int) => query.bind(*int),
            };
        }
        query
    }

    async fn execute(&self, statement: &Statement, params: &[Param]) -> session_store::Result<()> {
        retry(|| Self::query(statement, params).execute(&self.pool))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// How many rows an `UPDATE` from [`Queries`] changed.
    async fn updated(&self, statement: &Statement, params: &[Param]) -> session_store::Result<u64> {
        if self.sql.dialect != Dialect::MySql {
            let rows = retry(|| Self::query(statement, params).fetch_all(&self.pool))
                .await
                .map_err(store_error)?;
            return Ok(rows.len() as u64);
        }
        let count: i64 = retry(|| async {
            let mut conn = self.pool.acquire().await?;
            Self::query(statement, params).execute(&mut *conn).await?;
            sqlx::query::<DB>("SELECT ROW_COUNT()")
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)
        })
        .await
        .map_err(store_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

/// Whether a failed insert collided with an existing id.
fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.is_unique_violation())
}

#[async_trait::async_trait]
impl<DB> SessionStore for SqlxSessionStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    Vec<u8>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode_data(&record.data)?.into_bytes();
        loop {
            let params = [
                Param::Text(record.id.to_string()),
                Param::Bytes(data.clone()),
                Param::Int(record.expiry_date.unix_timestamp()),
            ];
            match retry(|| Self::query(&self.sql.insert, &params).execute(&self.pool)).await {
                Ok(_) => return Ok(()),
                Err(error) if is_unique_violation(&error) => record.id = Id::default(),
                Err(error) => return Err(store_error(error)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.update(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let params = [Param::Text(id.to_string()), Param::Int(now())];
        let row = retry(|| Self::query(&self.sql.load, &params).fetch_optional(&self.pool))
            .await
            .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: Vec<u8> = row.try_get(0).map_err(store_error)?;
        let text = std::str::from_utf8(&data)
            .map_err(|error| session_store::Error::Decode(error.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data: decode_data(text)?,
            // tower-sessions sets the expiry again from the layer's settings before each save.
            expiry_date: OffsetDateTime::now_utc(),
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.execute(&self.sql.delete, &[Param::Text(id.to_string())])
            .await
    }
}

#[async_trait::async_trait]
impl<DB> SessionBackend for SqlxSessionStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    Vec<u8>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn update(&self, record: &Record, skip_unchanged: bool) -> session_store::Result<Update> {
        let id = record.id.to_string();
        let params = [
            Param::Bytes(encode_data(&record.data)?.into_bytes()),
            Param::Int(record.expiry_date.unix_timestamp()),
            Param::Text(id.clone()),
            Param::Int(now()),
        ];
        let statement = if skip_unchanged {
            &self.sql.update_changed
        } else {
            &self.sql.update
        };
        if self.updated(statement, &params).await? > 0 {
            return Ok(Update::Written);
        }
        if !skip_unchanged {
            return Ok(Update::Missing);
        }
        // Nothing written: say whether for want of a session or of a change.
        let params = [Param::Text(id), Param::Int(now())];
        let exists = retry(|| Self::query(&self.sql.exists, &params).fetch_optional(&self.pool))
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
impl<DB> ExpiredDeletion for SqlxSessionStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    Vec<u8>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.execute(&self.sql.delete_expired, &[Param::Int(now())])
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
            mysql.update_changed.sql,
            "UPDATE `sessions` FORCE INDEX (PRIMARY) SET data = ?, expiry_date = ? WHERE id = ? AND expiry_date > ? AND data <> ?"
        );
        assert_eq!(mysql.update_changed.params, [1, 2, 3, 4, 1]);
        assert!(mysql.schema.contains("ascii_bin"), "{}", mysql.schema);
        let postgres = Queries::new(Dialect::Postgres, "auth.sessions");
        assert_eq!(
            postgres.load.sql,
            r#"SELECT data FROM "auth"."sessions" WHERE id = $1 AND expiry_date > $2"#
        );
    }
}
