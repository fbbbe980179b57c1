//! The second-factor stores on a sqlx database: SQLite, PostgreSQL or MySQL/MariaDB.
//!
//! Every state change is one conditional statement (or one transaction), and whether it took
//! effect is read from the statement itself: `RETURNING 1` rows on PostgreSQL and SQLite,
//! `ROW_COUNT()` on the same connection on MySQL, as the session store does.

use std::{fmt, marker::PhantomData, sync::Arc};

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};

use super::MfaError;
use crate::sqlx::{
    retry::retry,
    sql::{Dialect, Statement},
};

/// One value of a statement's parameters.
enum Param<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
    Int(i64),
}

/// Shared plumbing of both stores.
struct Db<DB: Database> {
    pool: Pool<DB>,
    dialect: Dialect,
}

impl<DB: Database> Clone for Db<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            dialect: self.dialect,
        }
    }
}

impl<DB> Db<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            dialect: Dialect::of::<DB>(),
        }
    }

    fn query<'q>(
        statement: &'q Statement,
        params: &[Param<'q>],
    ) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
        let mut query = sqlx::query::<DB>(&statement.sql);
        for index in &statement.params {
            query = match params[index - 1] {
                Param::Text(text) => query.bind(text),
                Param::Bytes(bytes) => query.bind(bytes),
                Param::Int(int) => query.bind(int),
            };
        }
        query
    }

    /// How many rows a conditional statement changed, on `conn`.
    async fn changed(
        &self,
        conn: &mut DB::Connection,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> Result<u64, sqlx::Error> {
        if self.dialect != Dialect::MySql {
            let rows = Self::query(statement, params).fetch_all(&mut *conn).await?;
            return Ok(rows.len() as u64);
        }
        Self::query(statement, params).execute(&mut *conn).await?;
        let count: i64 = sqlx::query::<DB>("SELECT ROW_COUNT()")
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn changed_one(
        &self,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> Result<bool, MfaError> {
        let changed = retry(|| async {
            let mut conn = self.pool.acquire().await?;
            self.changed(&mut conn, statement, params).await
        })
        .await
        .map_err(MfaError::store)?;
        Ok(changed > 0)
    }

    async fn execute(&self, statement: &Statement, params: &[Param<'_>]) -> Result<(), MfaError> {
        retry(|| Self::query(statement, params).execute(&self.pool))
            .await
            .map_err(MfaError::store)?;
        Ok(())
    }

    async fn migrate(&self, schema: &str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(schema).execute(&self.pool).await?;
        Ok(())
    }
}

/// The column types of each database.
struct Types {
    user: &'static str,
    bytes: &'static str,
    int: &'static str,
}

fn types(dialect: Dialect) -> Types {
    match dialect {
        Dialect::Postgres => Types {
            user: "TEXT",
            bytes: "BYTEA",
            int: "BIGINT",
        },
        // Bytes, compared as bytes: ids that differ only in case, accents or trailing spaces
        // (which MySQL's text collations all ignore) are different users.
        Dialect::MySql => Types {
            user: "VARBINARY(255)",
            bytes: "BLOB",
            int: "BIGINT",
        },
        Dialect::Sqlite => Types {
            user: "TEXT",
            bytes: "BLOB",
            int: "INTEGER",
        },
    }
}

fn returning(dialect: Dialect) -> &'static str {
    if dialect == Dialect::MySql {
        ""
    } else {
        " RETURNING 1"
    }
}

#[cfg(feature = "totp")]
pub use self::totp::SqlxSecondFactorStore;

#[cfg(feature = "totp")]
mod totp {
    use secrecy::{ExposeSecret, SecretSlice};

    use super::*;
    use crate::mfa::{RecoveryCodeHash, SecondFactorStore, StoredTotp};

    /// A [`SecondFactorStore`] in two tables of a sqlx database (`sqlx::Sqlite`,
    /// `sqlx::Postgres` or `sqlx::MySql`; features `totp` and `sqlx`): `axum_login_totp` (one
    /// row per user: the secrets and the last accepted step) and `axum_login_recovery_codes`
    /// (one row per unused code hash). [`migrate`](Self::migrate) creates them.
    ///
    /// The replay guard is `UPDATE ... SET last_step = ? WHERE ... AND (last_step IS NULL OR
    /// last_step < ?)`, a recovery code is used by a `DELETE` of its row: each succeeds for
    /// exactly one of several concurrent callers.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
    /// use axum_login::mfa::{EncryptionKey, Mfa, SqlxSecondFactorStore, Totp};
    ///
    /// let pool = sqlx::SqlitePool::connect("sqlite://app.db").await?;
    /// let store = SqlxSecondFactorStore::new(pool);
    /// store.migrate().await?;
    /// let key = EncryptionKey::from_base64(&std::env::var("TOTP_KEY").unwrap_or_default())
    ///     .expect("TOTP_KEY: 32 bytes of base64");
    /// let mfa = Mfa::new(store, Totp::new("Example")).with_encryption_key(key);
    /// # let _ = mfa; Ok(()) }
    /// ```
    pub struct SqlxSecondFactorStore<DB: Database> {
        db: Db<DB>,
        sql: Arc<Queries>,
        database: PhantomData<fn() -> DB>,
    }

    impl<DB: Database> Clone for SqlxSecondFactorStore<DB> {
        fn clone(&self) -> Self {
            Self {
                db: self.db.clone(),
                sql: self.sql.clone(),
                database: PhantomData,
            }
        }
    }

    impl<DB: Database> fmt::Debug for SqlxSecondFactorStore<DB> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SqlxSecondFactorStore")
                .field("database", &DB::NAME)
                .finish_non_exhaustive()
        }
    }

    #[derive(Debug)]
    struct Queries {
        schema: String,
        load: Statement,
        set_pending: Statement,
        activate: Statement,
        record_step: Statement,
        remove_totp: Statement,
        remove_codes: Statement,
        insert_code: Statement,
        use_code: Statement,
        count_codes: Statement,
    }

    impl Queries {
        fn new(dialect: Dialect) -> Self {
            let Types { user, bytes, int } = types(dialect);
            let totp = "axum_login_totp";
            let codes = "axum_login_recovery_codes";
            let code_hash = if dialect == Dialect::MySql {
                "BINARY(32)"
            } else {
                bytes
            };
            let schema = format!(
                "CREATE TABLE IF NOT EXISTS {totp} (user_id {user} NOT NULL PRIMARY KEY, secret {bytes}, pending {bytes}, last_step {int});
                 CREATE TABLE IF NOT EXISTS {codes} (user_id {user} NOT NULL, code_hash {code_hash} NOT NULL, PRIMARY KEY (user_id, code_hash))"
            );
            let ret = returning(dialect);
            let set_pending = match dialect {
                Dialect::MySql => format!(
                    "INSERT INTO {totp} (user_id, pending) VALUES ($1, $2) ON DUPLICATE KEY UPDATE pending = VALUES(pending)"
                ),
                _ => format!(
                    "INSERT INTO {totp} (user_id, pending) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET pending = excluded.pending"
                ),
            };
            let render = |sql: String| dialect.render(&sql);
            Self {
                schema,
                load: render(format!(
                    "SELECT secret, pending, last_step FROM {totp} WHERE user_id = $1"
                )),
                set_pending: render(set_pending),
                // MySQL assigns left to right, the others from the old row: both read the
                // pending secret before it is cleared.
                activate: render(format!(
                    "UPDATE {totp} SET secret = pending, pending = NULL, last_step = $3 WHERE user_id = $1 AND pending = $2{ret}"
                )),
                record_step: render(format!(
                    "UPDATE {totp} SET last_step = $3 WHERE user_id = $1 AND secret = $2 AND (last_step IS NULL OR last_step < $3){ret}"
                )),
                remove_totp: render(format!("DELETE FROM {totp} WHERE user_id = $1{ret}")),
                remove_codes: render(format!("DELETE FROM {codes} WHERE user_id = $1")),
                insert_code: render(format!(
                    "INSERT INTO {codes} (user_id, code_hash) VALUES ($1, $2)"
                )),
                use_code: render(format!(
                    "DELETE FROM {codes} WHERE user_id = $1 AND code_hash = $2{ret}"
                )),
                count_codes: render(format!("SELECT COUNT(*) FROM {codes} WHERE user_id = $1")),
            }
        }
    }

    impl<DB> SqlxSecondFactorStore<DB>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
        Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
        String: for<'r> Decode<'r, DB> + Type<DB>,
        i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
        usize: ColumnIndex<DB::Row>,
    {
        /// A store on `pool`.
        pub fn new(pool: Pool<DB>) -> Self {
            let db = Db::new(pool);
            Self {
                sql: Arc::new(Queries::new(db.dialect)),
                db,
                database: PhantomData,
            }
        }

        /// Creates the two tables, unless they exist.
        pub async fn migrate(&self) -> Result<(), sqlx::Error> {
            self.db.migrate(&self.sql.schema).await
        }

        /// The pool.
        pub fn pool(&self) -> &Pool<DB> {
            &self.db.pool
        }
    }

    fn step_param(step: u64) -> i64 {
        i64::try_from(step).unwrap_or(i64::MAX)
    }

    #[async_trait::async_trait]
    impl<DB> SecondFactorStore for SqlxSecondFactorStore<DB>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
        Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
        String: for<'r> Decode<'r, DB> + Type<DB>,
        i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
        usize: ColumnIndex<DB::Row>,
    {
        async fn totp(&self, user: &str) -> Result<Option<StoredTotp>, MfaError> {
            let params = [Param::Text(user)];
            let row = retry(|| Db::query(&self.sql.load, &params).fetch_optional(&self.db.pool))
                .await
                .map_err(MfaError::store)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let secret: Option<Vec<u8>> = row.try_get(0).map_err(MfaError::store)?;
            let pending: Option<Vec<u8>> = row.try_get(1).map_err(MfaError::store)?;
            let last_step: Option<i64> = row.try_get(2).map_err(MfaError::store)?;
            if secret.is_none() && pending.is_none() {
                return Ok(None);
            }
            Ok(Some(StoredTotp {
                secret: secret.map(SecretSlice::from),
                pending: pending.map(SecretSlice::from),
                last_step: last_step.and_then(|step| u64::try_from(step).ok()),
            }))
        }

        async fn set_pending_totp(
            &self,
            user: &str,
            sealed: &SecretSlice<u8>,
        ) -> Result<(), MfaError> {
            self.db
                .execute(
                    &self.sql.set_pending,
                    &[Param::Text(user), Param::Bytes(sealed.expose_secret())],
                )
                .await
        }

        async fn activate_totp(
            &self,
            user: &str,
            sealed: &SecretSlice<u8>,
            step: u64,
        ) -> Result<bool, MfaError> {
            self.db
                .changed_one(
                    &self.sql.activate,
                    &[
                        Param::Text(user),
                        Param::Bytes(sealed.expose_secret()),
                        Param::Int(step_param(step)),
                    ],
                )
                .await
        }

        async fn record_totp_step(
            &self,
            user: &str,
            sealed: &SecretSlice<u8>,
            step: u64,
        ) -> Result<bool, MfaError> {
            self.db
                .changed_one(
                    &self.sql.record_step,
                    &[
                        Param::Text(user),
                        Param::Bytes(sealed.expose_secret()),
                        Param::Int(step_param(step)),
                    ],
                )
                .await
        }

        async fn remove_second_factors(&self, user: &str) -> Result<bool, MfaError> {
            let removed = retry(|| async {
                let mut tx = self.db.pool.begin().await?;
                Db::query(&self.sql.remove_codes, &[Param::Text(user)])
                    .execute(&mut *tx)
                    .await?;
                let removed = self
                    .db
                    .changed(&mut tx, &self.sql.remove_totp, &[Param::Text(user)])
                    .await?;
                tx.commit().await?;
                Ok(removed)
            })
            .await
            .map_err(MfaError::store)?;
            Ok(removed > 0)
        }

        async fn replace_recovery_codes(
            &self,
            user: &str,
            hashes: &[RecoveryCodeHash],
        ) -> Result<(), MfaError> {
            retry(|| async {
                let mut tx = self.db.pool.begin().await?;
                Db::query(&self.sql.remove_codes, &[Param::Text(user)])
                    .execute(&mut *tx)
                    .await?;
                for hash in hashes {
                    Db::query(
                        &self.sql.insert_code,
                        &[Param::Text(user), Param::Bytes(hash.as_bytes())],
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await
            })
            .await
            .map_err(MfaError::store)
        }

        async fn use_recovery_code(
            &self,
            user: &str,
            hash: &RecoveryCodeHash,
        ) -> Result<bool, MfaError> {
            self.db
                .changed_one(
                    &self.sql.use_code,
                    &[Param::Text(user), Param::Bytes(hash.as_bytes())],
                )
                .await
        }

        async fn recovery_codes_left(&self, user: &str) -> Result<usize, MfaError> {
            let params = [Param::Text(user)];
            let row = retry(|| Db::query(&self.sql.count_codes, &params).fetch_one(&self.db.pool))
                .await
                .map_err(MfaError::store)?;
            let count: i64 = row.try_get(0).map_err(MfaError::store)?;
            Ok(usize::try_from(count).unwrap_or(0))
        }
    }
}

#[cfg(feature = "passkeys")]
pub use self::passkeys::SqlxPasskeyStore;

#[cfg(feature = "passkeys")]
mod passkeys {
    use super::*;
    use crate::mfa::passkey::{Passkey, PasskeyStore, Uuid};

    /// Column `index` of `row` as text: MySQL reports binary columns (and text columns of a binary
    /// collation) as `VARBINARY`, which sqlx decodes only as bytes.
    fn text<DB>(dialect: Dialect, row: &DB::Row, index: usize) -> Result<String, MfaError>
    where
        DB: Database,
        Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
        String: for<'r> Decode<'r, DB> + Type<DB>,
        usize: ColumnIndex<DB::Row>,
    {
        if dialect == Dialect::MySql {
            let bytes: Vec<u8> = row.try_get(index).map_err(MfaError::store)?;
            return String::from_utf8(bytes).map_err(MfaError::store);
        }
        row.try_get(index).map_err(MfaError::store)
    }

    fn is_unique_violation(error: &sqlx::Error) -> bool {
        matches!(error, sqlx::Error::Database(database) if database.is_unique_violation())
    }

    /// A [`PasskeyStore`] in two tables of a sqlx database (`sqlx::Sqlite`, `sqlx::Postgres` or
    /// `sqlx::MySql`; features `passkeys` and `sqlx`): `axum_login_passkey_users` (each user's
    /// WebAuthn handle) and `axum_login_passkeys` (one row per credential, the passkey as JSON
    /// with its signature counter). [`migrate`](Self::migrate) creates them.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use axum_login::mfa::{Passkeys, SqlxPasskeyStore, passkey::Url};
    ///
    /// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
    /// let store = SqlxPasskeyStore::new(pool);
    /// store.migrate().await?;
    /// let origin = Url::parse("https://app.example.com")?;
    /// let passkeys = Passkeys::new(store, "app.example.com", &origin, "Example")?;
    /// # let _ = passkeys; Ok(()) }
    /// ```
    pub struct SqlxPasskeyStore<DB: Database> {
        db: Db<DB>,
        sql: Arc<Queries>,
        database: PhantomData<fn() -> DB>,
    }

    impl<DB: Database> Clone for SqlxPasskeyStore<DB> {
        fn clone(&self) -> Self {
            Self {
                db: self.db.clone(),
                sql: self.sql.clone(),
                database: PhantomData,
            }
        }
    }

    impl<DB: Database> fmt::Debug for SqlxPasskeyStore<DB> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SqlxPasskeyStore")
                .field("database", &DB::NAME)
                .finish_non_exhaustive()
        }
    }

    #[derive(Debug)]
    struct Queries {
        schema: String,
        insert_handle: Statement,
        handle: Statement,
        user_by_handle: Statement,
        passkeys: Statement,
        insert: Statement,
        update: Statement,
        remove: Statement,
    }

    impl Queries {
        fn new(dialect: Dialect) -> Self {
            let Types { user, bytes, int } = types(dialect);
            // A credential id is up to 1023 bytes (WebAuthn), and MySQL keys need a length.
            let key_bytes = if dialect == Dialect::MySql {
                "VARBINARY(1023)"
            } else {
                bytes
            };
            let users = "axum_login_passkey_users";
            let keys = "axum_login_passkeys";
            let handle = if dialect == Dialect::MySql {
                "CHAR(36) CHARACTER SET ascii"
            } else {
                "TEXT"
            };
            let schema = match dialect {
                Dialect::MySql => format!(
                    "CREATE TABLE IF NOT EXISTS {users} (user_id {user} NOT NULL PRIMARY KEY, handle {handle} NOT NULL UNIQUE);
                     CREATE TABLE IF NOT EXISTS {keys} (credential_id {key_bytes} NOT NULL PRIMARY KEY, user_id {user} NOT NULL, passkey {bytes} NOT NULL, counter {int} NOT NULL, INDEX axum_login_passkeys_user (user_id))"
                ),
                _ => format!(
                    "CREATE TABLE IF NOT EXISTS {users} (user_id {user} NOT NULL PRIMARY KEY, handle {handle} NOT NULL UNIQUE);
                     CREATE TABLE IF NOT EXISTS {keys} (credential_id {key_bytes} NOT NULL PRIMARY KEY, user_id {user} NOT NULL, passkey {bytes} NOT NULL, counter {int} NOT NULL);
                     CREATE INDEX IF NOT EXISTS axum_login_passkeys_user ON {keys} (user_id)"
                ),
            };
            // A concurrent first call inserts too: the loser's row is ignored and both read
            // the winner's handle.
            let insert_handle = match dialect {
                Dialect::MySql => {
                    format!("INSERT IGNORE INTO {users} (user_id, handle) VALUES ($1, $2)")
                }
                _ => format!(
                    "INSERT INTO {users} (user_id, handle) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                ),
            };
            let ret = returning(dialect);
            let render = |sql: String| dialect.render(&sql);
            Self {
                schema,
                insert_handle: render(insert_handle),
                handle: render(format!("SELECT handle FROM {users} WHERE user_id = $1")),
                user_by_handle: render(format!("SELECT user_id FROM {users} WHERE handle = $1")),
                passkeys: render(format!("SELECT passkey FROM {keys} WHERE user_id = $1")),
                insert: render(format!(
                    "INSERT INTO {keys} (credential_id, user_id, passkey, counter) VALUES ($1, $2, $3, 0)"
                )),
                update: render(format!(
                    "UPDATE {keys} SET passkey = $3, counter = $4 WHERE credential_id = $1 AND user_id = $2 AND counter <= $4{ret}"
                )),
                remove: render(format!(
                    "DELETE FROM {keys} WHERE credential_id = $1 AND user_id = $2{ret}"
                )),
            }
        }
    }

    impl<DB> SqlxPasskeyStore<DB>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
        Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
        String: for<'r> Decode<'r, DB> + Type<DB>,
        i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
        usize: ColumnIndex<DB::Row>,
    {
        /// A store on `pool`.
        pub fn new(pool: Pool<DB>) -> Self {
            let db = Db::new(pool);
            Self {
                sql: Arc::new(Queries::new(db.dialect)),
                db,
                database: PhantomData,
            }
        }

        /// Creates the two tables, unless they exist.
        pub async fn migrate(&self) -> Result<(), sqlx::Error> {
            self.db.migrate(&self.sql.schema).await
        }

        /// The pool.
        pub fn pool(&self) -> &Pool<DB> {
            &self.db.pool
        }
    }

    fn to_json(passkey: &Passkey) -> Result<Vec<u8>, MfaError> {
        serde_json::to_vec(passkey).map_err(MfaError::store)
    }

    #[async_trait::async_trait]
    impl<DB> PasskeyStore for SqlxPasskeyStore<DB>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
        Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
        String: for<'r> Decode<'r, DB> + Type<DB>,
        i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
        usize: ColumnIndex<DB::Row>,
    {
        async fn user_handle(&self, user: &str) -> Result<Uuid, MfaError> {
            let fresh = Uuid::new_v4().hyphenated().to_string();
            self.db
                .execute(
                    &self.sql.insert_handle,
                    &[Param::Text(user), Param::Text(&fresh)],
                )
                .await?;
            let params = [Param::Text(user)];
            let row = retry(|| Db::query(&self.sql.handle, &params).fetch_one(&self.db.pool))
                .await
                .map_err(MfaError::store)?;
            let handle = text::<DB>(self.db.dialect, &row, 0)?;
            Uuid::parse_str(&handle).map_err(MfaError::store)
        }

        async fn user_by_handle(&self, handle: Uuid) -> Result<Option<String>, MfaError> {
            let handle = handle.hyphenated().to_string();
            let params = [Param::Text(&handle)];
            let row = retry(|| {
                Db::query(&self.sql.user_by_handle, &params).fetch_optional(&self.db.pool)
            })
            .await
            .map_err(MfaError::store)?;
            row.map(|row| text::<DB>(self.db.dialect, &row, 0))
                .transpose()
        }

        async fn passkeys(&self, user: &str) -> Result<Vec<Passkey>, MfaError> {
            let params = [Param::Text(user)];
            let rows = retry(|| Db::query(&self.sql.passkeys, &params).fetch_all(&self.db.pool))
                .await
                .map_err(MfaError::store)?;
            rows.iter()
                .map(|row| {
                    let json: Vec<u8> = row.try_get(0).map_err(MfaError::store)?;
                    serde_json::from_slice(&json).map_err(MfaError::store)
                })
                .collect()
        }

        async fn add_passkey(&self, user: &str, passkey: &Passkey) -> Result<bool, MfaError> {
            let json = to_json(passkey)?;
            let params = [
                Param::Bytes(passkey.cred_id().as_slice()),
                Param::Text(user),
                Param::Bytes(&json),
            ];
            let inserted =
                retry(|| Db::query(&self.sql.insert, &params).execute(&self.db.pool)).await;
            match inserted {
                Ok(_) => Ok(true),
                Err(error) if is_unique_violation(&error) => Ok(false),
                Err(error) => Err(MfaError::store(error)),
            }
        }

        async fn update_passkey(
            &self,
            user: &str,
            passkey: &Passkey,
            counter: u32,
        ) -> Result<bool, MfaError> {
            let json = to_json(passkey)?;
            self.db
                .changed_one(
                    &self.sql.update,
                    &[
                        Param::Bytes(passkey.cred_id().as_slice()),
                        Param::Text(user),
                        Param::Bytes(&json),
                        Param::Int(i64::from(counter)),
                    ],
                )
                .await
        }

        async fn remove_passkey(&self, user: &str, credential_id: &[u8]) -> Result<bool, MfaError> {
            self.db
                .changed_one(
                    &self.sql.remove,
                    &[Param::Bytes(credential_id), Param::Text(user)],
                )
                .await
        }
    }
}
