//! The kit every sqlx store of the crate is written with: the sessions, the registry, the
//! remember-me tokens, the throttle, the second factors and the API tokens.
//!
//! A store renders its statements once (see [`Dialect::render`]) and runs them through a
//! [`Db`]: it binds their parameters ([`Param`]), tells whether a conditional statement matched
//! a row (or how many), reads text that MySQL hands back as bytes, creates the store's tables,
//! and runs each statement again when the database rolled it back to break a lock conflict
//! ([`retry`]).
//! Everything that differs between SQLite, PostgreSQL and MySQL/MariaDB at run time is here, so
//! a store holds only its SQL and what its rows mean.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
};

use futures_util::future::BoxFuture;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type,
    query::Query,
};

use super::{
    retry::retry,
    sql::{Dialect, Matched, Statement},
};

/// A database that the crate's sqlx stores run on: `sqlx::Sqlite`, `sqlx::Postgres` or
/// `sqlx::MySql`.
///
/// It stands for what the stores need of the driver (binding and reading text, bytes and
/// integers, running statements on a connection), in one bound instead of ten. Every sqlx
/// database that can do all of it has it; there is nothing to implement.
///
/// ```
/// use axum_login::{registry::SqlxSessionRegistry, sqlx::SqlxDatabase};
///
/// fn registry<DB: SqlxDatabase>(pool: sqlx::Pool<DB>) -> SqlxSessionRegistry<DB> {
///     SqlxSessionRegistry::new(pool)
/// }
/// # let _ = registry::<sqlx::Sqlite>;
/// ```
#[diagnostic::on_unimplemented(
    message = "the sqlx stores of axum-login do not run on `{Self}`",
    label = "not a database the stores support",
    note = "use `sqlx::Sqlite`, `sqlx::Postgres` or `sqlx::MySql`"
)]
pub trait SqlxDatabase: Database {
    // The driver's bounds live in the one impl below, and these methods carry them to the
    // stores: a bound on a trait's own methods reaches every user of the trait, while `where`
    // clauses on the trait itself would have to be repeated at each use.
    #[doc(hidden)]
    fn bind_text<'q>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        value: Option<&'q str>,
    ) -> Query<'q, Self, Self::Arguments<'q>>;

    #[doc(hidden)]
    fn bind_bytes<'q>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        value: &'q [u8],
    ) -> Query<'q, Self, Self::Arguments<'q>>;

    #[doc(hidden)]
    fn bind_int<'q>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        value: Option<i64>,
    ) -> Query<'q, Self, Self::Arguments<'q>>;

    #[doc(hidden)]
    fn execute<'q: 'c, 'c>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        conn: &'c mut Self::Connection,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;

    #[doc(hidden)]
    fn fetch_all<'q: 'c, 'c>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        conn: &'c mut Self::Connection,
    ) -> BoxFuture<'c, Result<Vec<Self::Row>, sqlx::Error>>;

    #[doc(hidden)]
    fn fetch_optional<'q: 'c, 'c>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        conn: &'c mut Self::Connection,
    ) -> BoxFuture<'c, Result<Option<Self::Row>, sqlx::Error>>;

    #[doc(hidden)]
    fn get_int(row: &Self::Row, index: usize) -> Result<Option<i64>, sqlx::Error>;

    #[doc(hidden)]
    fn get_bytes(row: &Self::Row, index: usize) -> Result<Option<Vec<u8>>, sqlx::Error>;

    #[doc(hidden)]
    fn get_string(row: &Self::Row, index: usize) -> Result<Option<String>, sqlx::Error>;
}

impl<DB> SqlxDatabase for DB
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    Option<i64>: for<'q> Encode<'q, DB> + Type<DB>,
    Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    fn bind_text<'q>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        value: Option<&'q str>,
    ) -> Query<'q, Self, Self::Arguments<'q>> {
        query.bind(value)
    }

    fn bind_bytes<'q>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        value: &'q [u8],
    ) -> Query<'q, Self, Self::Arguments<'q>> {
        query.bind(value)
    }

    fn bind_int<'q>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        value: Option<i64>,
    ) -> Query<'q, Self, Self::Arguments<'q>> {
        query.bind(value)
    }

    fn execute<'q: 'c, 'c>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        conn: &'c mut Self::Connection,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move { query.execute(conn).await.map(|_| ()) })
    }

    fn fetch_all<'q: 'c, 'c>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        conn: &'c mut Self::Connection,
    ) -> BoxFuture<'c, Result<Vec<Self::Row>, sqlx::Error>> {
        Box::pin(query.fetch_all(conn))
    }

    fn fetch_optional<'q: 'c, 'c>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        conn: &'c mut Self::Connection,
    ) -> BoxFuture<'c, Result<Option<Self::Row>, sqlx::Error>> {
        Box::pin(query.fetch_optional(conn))
    }

    fn get_int(row: &Self::Row, index: usize) -> Result<Option<i64>, sqlx::Error> {
        row.try_get(index)
    }

    fn get_bytes(row: &Self::Row, index: usize) -> Result<Option<Vec<u8>>, sqlx::Error> {
        row.try_get(index)
    }

    fn get_string(row: &Self::Row, index: usize) -> Result<Option<String>, sqlx::Error> {
        row.try_get(index)
    }
}

/// One value of a statement's parameters; a [`Statement`] names them by position (`$1` is the
/// first), and [`Db`] binds each as often as the database's placeholders need it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Bytes(&'a [u8]),
    Int(i64),
    /// An integer or `NULL` (an API token's optional times).
    #[cfg(feature = "tokens")]
    OptInt(Option<i64>),
}

/// A store's pool and statements (`Q`, rendered once for the pool's database), and its count
/// of the calls that now and then also delete expired rows. Clones share all three.
pub(crate) struct Db<DB: Database, Q> {
    pub(crate) pool: Pool<DB>,
    pub(crate) sql: Arc<Q>,
    dialect: Dialect,
    calls: Arc<AtomicU32>,
}

// By hand: a derive would ask `DB: Clone`, which no sqlx database is.
impl<DB: Database, Q> Clone for Db<DB, Q> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            sql: self.sql.clone(),
            dialect: self.dialect,
            calls: self.calls.clone(),
        }
    }
}

impl<DB: Database, Q> Db<DB, Q> {
    /// A store on `pool`, whose statements `sql` renders for the pool's database.
    pub(crate) fn new(pool: Pool<DB>, sql: impl FnOnce(Dialect) -> Q) -> Self {
        let dialect = Dialect::of::<DB>();
        Self {
            pool,
            sql: Arc::new(sql(dialect)),
            dialect,
            calls: Arc::default(),
        }
    }

    /// The store's `Debug` form, `name { database: "SQLite", .. }` once finished: the pool and
    /// the SQL say nothing a reader of a log needs.
    pub(crate) fn debug<'a, 'b: 'a>(
        &self,
        f: &'a mut fmt::Formatter<'b>,
        name: &str,
    ) -> fmt::DebugStruct<'a, 'b> {
        let mut debug = f.debug_struct(name);
        debug.field("database", &DB::NAME);
        debug
    }

    /// Whether this call is the one in `every` that also deletes the expired rows of every
    /// user, so that a table nobody sweeps by hand still stays small.
    pub(crate) fn sweep_due(&self, every: u32) -> bool {
        self.calls
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(every)
    }

    /// Runs `schema`, the store's `CREATE TABLE IF NOT EXISTS` and `CREATE INDEX` statements.
    // Only the executor bound, not `SqlxDatabase`: a store can be migrated wherever it can be
    // made, also in code generic over the database that names the driver's bounds one by one.
    pub(crate) async fn migrate(&self, schema: &str) -> Result<(), sqlx::Error>
    where
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        sqlx::raw_sql(schema).execute(&self.pool).await?;
        Ok(())
    }
}

impl<DB: SqlxDatabase, Q> Db<DB, Q> {
    /// `statement` with its parameters bound from `params`.
    fn query<'q>(
        statement: &'q Statement,
        params: &[Param<'q>],
    ) -> Query<'q, DB, DB::Arguments<'q>> {
        let mut query = sqlx::query::<DB>(&statement.sql);
        for index in &statement.params {
            query = match params[index - 1] {
                Param::Text(text) => DB::bind_text(query, Some(text)),
                Param::OptText(text) => DB::bind_text(query, text),
                Param::Bytes(bytes) => DB::bind_bytes(query, bytes),
                Param::Int(int) => DB::bind_int(query, Some(int)),
                #[cfg(feature = "tokens")]
                Param::OptInt(int) => DB::bind_int(query, int),
            };
        }
        query
    }

    /// Runs `statement` on a connection of the pool, again after a lock conflict.
    pub(crate) async fn execute(
        &self,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> Result<(), sqlx::Error> {
        retry(|| async {
            let mut conn = self.pool.acquire().await?;
            DB::execute(Self::query(statement, params), &mut conn).await
        })
        .await
    }

    /// The row `statement` finds, if any, again after a lock conflict.
    pub(crate) async fn fetch_optional(
        &self,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> Result<Option<DB::Row>, sqlx::Error> {
        retry(|| async {
            let mut conn = self.pool.acquire().await?;
            DB::fetch_optional(Self::query(statement, params), &mut conn).await
        })
        .await
    }

    /// The rows `statement` finds, again after a lock conflict.
    pub(crate) async fn fetch_all(
        &self,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> Result<Vec<DB::Row>, sqlx::Error> {
        retry(|| async {
            let mut conn = self.pool.acquire().await?;
            DB::fetch_all(Self::query(statement, params), &mut conn).await
        })
        .await
    }

    /// Whether the conditional `UPDATE` or `DELETE` `statement` matched a row, again after a
    /// lock conflict.
    pub(crate) async fn matched(
        &self,
        statement: &Matched,
        params: &[Param<'_>],
    ) -> Result<bool, sqlx::Error> {
        Ok(self.rows_matched(statement, params).await? > 0)
    }

    /// How many rows the conditional `UPDATE` or `DELETE` `statement` matched, again after a
    /// lock conflict.
    pub(crate) async fn rows_matched(
        &self,
        statement: &Matched,
        params: &[Param<'_>],
    ) -> Result<u64, sqlx::Error> {
        retry(|| async {
            let mut conn = self.pool.acquire().await?;
            self.rows_matched_in(&mut conn, statement, params).await
        })
        .await
    }

    /// Runs `statement` on `conn`, in a transaction that the caller retries whole.
    pub(crate) async fn execute_in(
        &self,
        conn: &mut DB::Connection,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> Result<(), sqlx::Error> {
        DB::execute(Self::query(statement, params), conn).await
    }

    /// The row `statement` finds on `conn`, if any.
    pub(crate) async fn fetch_optional_in(
        &self,
        conn: &mut DB::Connection,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> Result<Option<DB::Row>, sqlx::Error> {
        DB::fetch_optional(Self::query(statement, params), conn).await
    }

    /// The rows `statement` finds on `conn`.
    pub(crate) async fn fetch_all_in(
        &self,
        conn: &mut DB::Connection,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> Result<Vec<DB::Row>, sqlx::Error> {
        DB::fetch_all(Self::query(statement, params), conn).await
    }

    /// Whether `statement` matched a row, on `conn` (the TOTP store's removal, in a
    /// transaction).
    #[cfg(feature = "totp")]
    pub(crate) async fn matched_in(
        &self,
        conn: &mut DB::Connection,
        statement: &Matched,
        params: &[Param<'_>],
    ) -> Result<bool, sqlx::Error> {
        Ok(self.rows_matched_in(conn, statement, params).await? > 0)
    }

    /// How many rows `statement` matched, on `conn`.
    ///
    /// sqlx has no count of affected rows that is the same on every database: PostgreSQL and
    /// SQLite return a row per matched row (`RETURNING 1`), and MySQL is asked for
    /// `ROW_COUNT()` on the same connection, which counts matched rows, not changed ones, as
    /// sqlx connects with `CLIENT_FOUND_ROWS`.
    async fn rows_matched_in(
        &self,
        conn: &mut DB::Connection,
        statement: &Matched,
        params: &[Param<'_>],
    ) -> Result<u64, sqlx::Error> {
        let statement = &statement.statement;
        if self.dialect != Dialect::MySql {
            let rows = DB::fetch_all(Self::query(statement, params), &mut *conn).await?;
            return Ok(rows.len() as u64);
        }
        DB::execute(Self::query(statement, params), &mut *conn).await?;
        let row = DB::fetch_optional(sqlx::query::<DB>("SELECT ROW_COUNT()"), conn).await?;
        let count = match row {
            Some(row) => DB::get_int(&row, 0)?,
            None => None,
        };
        // -1 answers a statement that changed no table (it cannot be one of these).
        Ok(count.map_or(0, |count| u64::try_from(count).unwrap_or(0)))
    }

    /// The integer in column `index`, which is `NOT NULL`.
    pub(crate) fn int(&self, row: &DB::Row, index: usize) -> Result<i64, sqlx::Error> {
        DB::get_int(row, index)?.ok_or_else(|| sqlx::Error::ColumnDecode {
            index: index.to_string(),
            source: Box::new(sqlx::error::UnexpectedNullError),
        })
    }

    /// The integer in column `index`, or `None` for `NULL` (the TOTP store's last step, an API
    /// token's optional times).
    #[cfg(any(feature = "totp", feature = "tokens"))]
    pub(crate) fn opt_int(&self, row: &DB::Row, index: usize) -> Result<Option<i64>, sqlx::Error> {
        DB::get_int(row, index)
    }

    /// The bytes in column `index`, or `None` for `NULL`.
    pub(crate) fn bytes(
        &self,
        row: &DB::Row,
        index: usize,
    ) -> Result<Option<Vec<u8>>, sqlx::Error> {
        DB::get_bytes(row, index)
    }

    /// The text in column `index`, or `None` for `NULL`.
    ///
    /// The stores keep ids and hashes in binary columns on MySQL, so that they compare byte for
    /// byte (its text collations ignore case and trailing spaces), and MySQL reports those (and
    /// text columns of a binary collation) as `VARBINARY`, which sqlx reads only as bytes.
    pub(crate) fn text(&self, row: &DB::Row, index: usize) -> Result<Option<String>, sqlx::Error> {
        if self.dialect != Dialect::MySql {
            return DB::get_string(row, index);
        }
        DB::get_bytes(row, index)?
            .map(String::from_utf8)
            .transpose()
            .map_err(|error| sqlx::Error::ColumnDecode {
                index: index.to_string(),
                source: Box::new(error),
            })
    }
}

/// Whether a failed insert collided with an existing key.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.is_unique_violation())
}

/// Declares a sqlx store and its statement table: `pub struct $name<DB>` on a [`Db`] of
/// `$queries`, with what every such store has: `Clone`, the `Debug` form naming the database,
/// `new`, `migrate` and `pool`.
///
/// The statement table follows the struct, as [`statements!`](super::sql::statements) takes it
/// (`fn new(dialect) { ... }`, then the fields), and begins with the doc of `migrate` and the
/// `schema` that it runs: `migrate: " Creates ...", schema: String = ...`. A store so states
/// only what is its own: its docs and name, its tables and its statements.
macro_rules! sqlx_store {
    (
        $(#[$meta:meta])*
        pub struct $name:ident(Db<$queries:ident>);
        fn new($dialect:ident) { $($setup:tt)* }
        migrate: $migrate:literal,
        schema: String = $schema:expr,
        $($fields:tt)*
    ) => {
        $(#[$meta])*
        pub struct $name<DB: ::sqlx::Database> {
            db: $crate::sqlx::db::Db<DB, $queries>,
        }

        impl<DB: ::sqlx::Database> ::core::clone::Clone for $name<DB> {
            fn clone(&self) -> Self {
                Self {
                    db: self.db.clone(),
                }
            }
        }

        impl<DB: ::sqlx::Database> ::core::fmt::Debug for $name<DB> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                self.db.debug(f, ::core::stringify!($name)).finish_non_exhaustive()
            }
        }

        impl<DB: ::sqlx::Database> $name<DB> {
            /// A store on `pool`.
            pub fn new(pool: ::sqlx::Pool<DB>) -> Self {
                Self {
                    db: $crate::sqlx::db::Db::new(pool, $queries::new),
                }
            }

            #[doc = $migrate]
            pub async fn migrate(&self) -> ::core::result::Result<(), ::sqlx::Error>
            where
                for<'c> &'c mut DB::Connection: ::sqlx::Executor<'c, Database = DB>,
            {
                self.db.migrate(&self.db.sql.schema).await
            }

            /// The pool.
            pub fn pool(&self) -> &::sqlx::Pool<DB> {
                &self.db.pool
            }
        }

        $crate::sqlx::sql::statements! {
            /// Every statement, rendered for one database.
            struct $queries;
            fn new($dialect) {
                $($setup)*
            }
            schema: String = $schema,
            $($fields)*
        }
    };
}

pub(crate) use sqlx_store;
