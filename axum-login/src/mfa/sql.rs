//! The second-factor stores on a sqlx database: SQLite, PostgreSQL or MySQL/MariaDB.
//!
//! Every state change is one conditional statement (or one transaction), and whether it took
//! effect is read from the statement itself ([`Db::matched`]).

use super::MfaError;
use crate::sqlx::{
    SqlxDatabase,
    db::{Param, sqlx_store},
    sql::Dialect,
};

/// The column types of a user id, of bytes, and of a whole number.
fn column_types(dialect: Dialect) -> (&'static str, &'static str, &'static str) {
    (
        dialect.exact_text_type(),
        dialect.bytes_type(),
        dialect.int_type(),
    )
}

#[cfg(feature = "totp")]
pub use self::totp::SqlxSecondFactorStore;

#[cfg(feature = "totp")]
mod totp {
    use secrecy::{ExposeSecret, SecretSlice};

    use super::*;
    use crate::{
        mfa::{RecoveryCodeHash, SecondFactorStore, StoredTotp, TotpReseal, TotpStep},
        sqlx::retry::retry,
    };

    sqlx_store! {
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
        pub struct SqlxSecondFactorStore(Db<Queries>);

        fn new(dialect) {
            let (user, bytes, int) = column_types(dialect);
            let totp = "axum_login_totp";
            let codes = "axum_login_recovery_codes";
            let code_hash = if dialect == Dialect::MySql {
                "BINARY(32)"
            } else {
                bytes
            };
        }
        migrate: " Creates the two tables, unless they exist.",
        schema: String = format!(
            "CREATE TABLE IF NOT EXISTS {totp} (user_id {user} NOT NULL PRIMARY KEY, secret {bytes}, pending {bytes}, last_step {int});
             CREATE TABLE IF NOT EXISTS {codes} (user_id {user} NOT NULL, code_hash {code_hash} NOT NULL, PRIMARY KEY (user_id, code_hash))"
        ),
        load = "SELECT secret, pending, last_step FROM {totp} WHERE user_id = $1",
        set_pending = dialect.upsert(totp, &["user_id", "pending"], "user_id"),
        // MySQL assigns left to right, the others from the old row: both read the pending
        // secret before it is cleared.
        activate: Matched = "UPDATE {totp} SET secret = pending, pending = NULL, last_step = $3 WHERE user_id = $1 AND pending = $2",
        record_step: Matched = "UPDATE {totp} SET last_step = $3 WHERE user_id = $1 AND secret = $2 AND (last_step IS NULL OR last_step < $3)",
        reseal: Matched = "UPDATE {totp} SET secret = $3 WHERE user_id = $1 AND secret = $2",
        remove_totp: Matched = "DELETE FROM {totp} WHERE user_id = $1",
        remove_codes = "DELETE FROM {codes} WHERE user_id = $1",
        insert_code = "INSERT INTO {codes} (user_id, code_hash) VALUES ($1, $2)",
        use_code: Matched = "DELETE FROM {codes} WHERE user_id = $1 AND code_hash = $2",
        count_codes = "SELECT COUNT(*) FROM {codes} WHERE user_id = $1",
    }

    fn step_params<'a>(code: &TotpStep<'a>) -> [Param<'a>; 3] {
        [
            Param::Text(code.user),
            Param::Bytes(code.sealed.expose_secret()),
            Param::Int(i64::try_from(code.step).unwrap_or(i64::MAX)),
        ]
    }

    #[async_trait::async_trait]
    impl<DB: SqlxDatabase> SecondFactorStore for SqlxSecondFactorStore<DB> {
        async fn totp(&self, user: &str) -> Result<Option<StoredTotp>, MfaError> {
            let db = &self.db;
            let read = async {
                let Some(row) = db
                    .fetch_optional(&db.sql.load, &[Param::Text(user)])
                    .await?
                else {
                    return Ok(None);
                };
                let columns = (db.bytes(&row, 0)?, db.bytes(&row, 1)?, db.opt_int(&row, 2)?);
                Ok::<_, sqlx::Error>(Some(columns))
            };
            let Some((secret, pending, last_step)) = read.await.map_err(MfaError::store)? else {
                return Ok(None);
            };
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
            let params = [Param::Text(user), Param::Bytes(sealed.expose_secret())];
            self.db
                .execute(&self.db.sql.set_pending, &params)
                .await
                .map_err(MfaError::store)
        }

        async fn activate_totp(&self, code: &TotpStep<'_>) -> Result<bool, MfaError> {
            self.db
                .matched(&self.db.sql.activate, &step_params(code))
                .await
                .map_err(MfaError::store)
        }

        async fn record_totp_step(&self, code: &TotpStep<'_>) -> Result<bool, MfaError> {
            self.db
                .matched(&self.db.sql.record_step, &step_params(code))
                .await
                .map_err(MfaError::store)
        }

        async fn reseal_totp(&self, reseal: &TotpReseal<'_>) -> Result<bool, MfaError> {
            let params = [
                Param::Text(reseal.user),
                Param::Bytes(reseal.from.expose_secret()),
                Param::Bytes(reseal.to.expose_secret()),
            ];
            self.db
                .matched(&self.db.sql.reseal, &params)
                .await
                .map_err(MfaError::store)
        }

        async fn remove_second_factors(&self, user: &str) -> Result<bool, MfaError> {
            let db = &self.db;
            let user = [Param::Text(user)];
            retry(|| async {
                let mut tx = db.pool.begin().await?;
                db.execute_in(&mut tx, &db.sql.remove_codes, &user).await?;
                let removed = db.matched_in(&mut tx, &db.sql.remove_totp, &user).await?;
                tx.commit().await?;
                Ok(removed)
            })
            .await
            .map_err(MfaError::store)
        }

        async fn replace_recovery_codes(
            &self,
            user: &str,
            hashes: &[RecoveryCodeHash],
        ) -> Result<(), MfaError> {
            let db = &self.db;
            retry(|| async {
                let mut tx = db.pool.begin().await?;
                db.execute_in(&mut tx, &db.sql.remove_codes, &[Param::Text(user)])
                    .await?;
                for hash in hashes {
                    let params = [Param::Text(user), Param::Bytes(hash.as_bytes())];
                    db.execute_in(&mut tx, &db.sql.insert_code, &params).await?;
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
            let params = [Param::Text(user), Param::Bytes(hash.as_bytes())];
            self.db
                .matched(&self.db.sql.use_code, &params)
                .await
                .map_err(MfaError::store)
        }

        async fn recovery_codes_left(&self, user: &str) -> Result<usize, MfaError> {
            let db = &self.db;
            let row = db
                .fetch_optional(&db.sql.count_codes, &[Param::Text(user)])
                .await
                .map_err(MfaError::store)?
                .ok_or(sqlx::Error::RowNotFound)
                .map_err(MfaError::store)?;
            let count = db.int(&row, 0).map_err(MfaError::store)?;
            Ok(usize::try_from(count).unwrap_or(0))
        }
    }
}

#[cfg(feature = "passkeys")]
pub use self::passkeys::SqlxPasskeyStore;

#[cfg(feature = "passkeys")]
mod passkeys {
    use super::*;
    use crate::{
        mfa::passkey::{Passkey, PasskeyStore, PasskeyUpdate, Uuid},
        sqlx::db::is_unique_violation,
    };

    sqlx_store! {
        /// A [`PasskeyStore`] in two tables of a sqlx database (`sqlx::Sqlite`, `sqlx::Postgres` or
        /// `sqlx::MySql`; features `passkeys` and `sqlx`): `axum_login_passkey_users` (each user's
        /// WebAuthn handle) and `axum_login_passkeys` (one row per credential, the passkey as JSON
        /// with its signature counter). [`migrate`](Self::migrate) creates them.
        ///
        /// ```no_run
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
        /// use axum_login::mfa::{Passkeys, SqlxPasskeyStore, passkey::Url};
        ///
        /// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
        /// let store = SqlxPasskeyStore::new(pool);
        /// store.migrate().await?;
        /// let origin = Url::parse("https://app.example.com")?;
        /// let passkeys = Passkeys::new(store, "app.example.com", &origin, "Example")?;
        /// # let _ = passkeys; Ok(()) }
        /// ```
        pub struct SqlxPasskeyStore(Db<Queries>);

        fn new(dialect) {
            let (user, bytes, int) = column_types(dialect);
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
        }
        migrate: " Creates the two tables, unless they exist.",
        schema: String = match dialect {
            Dialect::MySql => format!(
                "CREATE TABLE IF NOT EXISTS {users} (user_id {user} NOT NULL PRIMARY KEY, handle {handle} NOT NULL UNIQUE);
                 CREATE TABLE IF NOT EXISTS {keys} (credential_id {key_bytes} NOT NULL PRIMARY KEY, user_id {user} NOT NULL, passkey {bytes} NOT NULL, counter {int} NOT NULL, INDEX axum_login_passkeys_user (user_id))"
            ),
            _ => format!(
                "CREATE TABLE IF NOT EXISTS {users} (user_id {user} NOT NULL PRIMARY KEY, handle {handle} NOT NULL UNIQUE);
                 CREATE TABLE IF NOT EXISTS {keys} (credential_id {key_bytes} NOT NULL PRIMARY KEY, user_id {user} NOT NULL, passkey {bytes} NOT NULL, counter {int} NOT NULL);
                 CREATE INDEX IF NOT EXISTS axum_login_passkeys_user ON {keys} (user_id)"
            ),
        },
        // A concurrent first call inserts too: the loser's row is ignored and both read the
        // winner's handle.
        insert_handle = dialect.insert_or_ignore(users, &["user_id", "handle"]),
        handle = "SELECT handle FROM {users} WHERE user_id = $1",
        user_by_handle = "SELECT user_id FROM {users} WHERE handle = $1",
        passkeys = "SELECT passkey FROM {keys} WHERE user_id = $1",
        insert = "INSERT INTO {keys} (credential_id, user_id, passkey, counter) VALUES ($1, $2, $3, 0)",
        update: Matched = "UPDATE {keys} SET passkey = $3, counter = $4 WHERE credential_id = $1 AND user_id = $2 AND counter <= $4",
        remove: Matched = "DELETE FROM {keys} WHERE credential_id = $1 AND user_id = $2",
    }

    fn to_json(passkey: &Passkey) -> Result<Vec<u8>, MfaError> {
        serde_json::to_vec(passkey).map_err(MfaError::store)
    }

    #[async_trait::async_trait]
    impl<DB: SqlxDatabase> PasskeyStore for SqlxPasskeyStore<DB> {
        async fn user_handle(&self, user: &str) -> Result<Uuid, MfaError> {
            let db = &self.db;
            let fresh = Uuid::new_v4().hyphenated().to_string();
            db.execute(
                &db.sql.insert_handle,
                &[Param::Text(user), Param::Text(&fresh)],
            )
            .await
            .map_err(MfaError::store)?;
            let handle = db
                .fetch_optional(&db.sql.handle, &[Param::Text(user)])
                .await
                .and_then(|row| row.ok_or(sqlx::Error::RowNotFound))
                .and_then(|row| db.text(&row, 0))
                .map_err(MfaError::store)?;
            Uuid::parse_str(&handle.unwrap_or_default()).map_err(MfaError::store)
        }

        async fn user_by_handle(&self, handle: Uuid) -> Result<Option<String>, MfaError> {
            let db = &self.db;
            let handle = handle.hyphenated().to_string();
            let row = db
                .fetch_optional(&db.sql.user_by_handle, &[Param::Text(&handle)])
                .await
                .map_err(MfaError::store)?;
            let user = row.map(|row| db.text(&row, 0)).transpose();
            user.map(Option::flatten).map_err(MfaError::store)
        }

        async fn passkeys(&self, user: &str) -> Result<Vec<Passkey>, MfaError> {
            let db = &self.db;
            let rows = db
                .fetch_all(&db.sql.passkeys, &[Param::Text(user)])
                .await
                .map_err(MfaError::store)?;
            rows.iter()
                .map(|row| {
                    let json = db.bytes(row, 0).map_err(MfaError::store)?;
                    serde_json::from_slice(json.as_deref().unwrap_or_default())
                        .map_err(MfaError::store)
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
            match self.db.execute(&self.db.sql.insert, &params).await {
                Ok(()) => Ok(true),
                Err(error) if is_unique_violation(&error) => Ok(false),
                Err(error) => Err(MfaError::store(error)),
            }
        }

        async fn update_passkey(&self, update: &PasskeyUpdate<'_>) -> Result<bool, MfaError> {
            let json = to_json(update.passkey)?;
            let params = [
                Param::Bytes(update.passkey.cred_id().as_slice()),
                Param::Text(update.user),
                Param::Bytes(&json),
                Param::Int(i64::from(update.counter)),
            ];
            self.db
                .matched(&self.db.sql.update, &params)
                .await
                .map_err(MfaError::store)
        }

        async fn remove_passkey(&self, user: &str, credential_id: &[u8]) -> Result<bool, MfaError> {
            let params = [Param::Bytes(credential_id), Param::Text(user)];
            self.db
                .matched(&self.db.sql.remove, &params)
                .await
                .map_err(MfaError::store)
        }
    }
}
