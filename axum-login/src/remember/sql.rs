//! [`SqlxRememberStore`]: remember-me tokens in a table of SQLite, PostgreSQL or
//! MySQL/MariaDB, shared by every instance on the database.

use std::time::SystemTime;

use super::{RememberStore, RememberToken, Rotation};
use crate::clock::{from_millis, to_millis};
use crate::error::BoxError;
use crate::sqlx::SqlxDatabase;
use crate::sqlx::db::{Param, sqlx_store};
use crate::sqlx::sql::Statement;

/// Expired tokens are deleted on one insert in this many, as in the in-memory store.
const SWEEP_EVERY: u32 = 1024;

sqlx_store! {
    /// Remember-me tokens in a sqlx database (feature `sqlx`): `sqlx::Sqlite`, `sqlx::Postgres`
    /// or `sqlx::MySql`, so that a cookie rotated by one instance is checked by every other.
    ///
    /// One row per token in the table `axum_login_remember`, keyed by selector and indexed by
    /// user; [`migrate`](Self::migrate) creates it. A rotation is a compare-and-swap in one
    /// statement, `UPDATE ... WHERE selector = ? AND validator_hash = ?`, whose matched rows say
    /// whether it won: of two requests rotating one token at once, exactly one does.
    ///
    /// Expired tokens are never answered; they are deleted on one insert in 1024, or call
    /// [`delete_expired`](Self::delete_expired). Times are kept as milliseconds since the epoch.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
    /// use axum_login::remember::{RememberMe, SqlxRememberStore};
    ///
    /// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
    /// let store = SqlxRememberStore::new(pool);
    /// store.migrate().await?;
    /// let remember = RememberMe::new(store);
    /// # let _ = remember; Ok(()) }
    /// ```
    pub struct SqlxRememberStore(Db<Queries>);

    fn new(dialect) {
        let t = dialect.quote("axum_login_remember");
        let (key, int) = (dialect.exact_text_type(), dialect.int_type());
        let columns = format!(
            "selector {key} NOT NULL PRIMARY KEY, user_id {key} NOT NULL, validator_hash {key} NOT NULL, previous_hash {key}, rotated_at {int} NOT NULL, expires_at {int} NOT NULL"
        );
    }
    migrate: " Creates the table and its indexes, unless they exist.",
    schema: String = dialect.create_table(
        &t,
        &columns,
        &[
            ("axum_login_remember_user", "user_id"),
            ("axum_login_remember_expires", "expires_at"),
        ],
    ),
    // An insert replaces a token under the same selector, as the in-memory store does.
    upsert = dialect.upsert(
        &t,
        &["selector", "user_id", "validator_hash", "previous_hash", "rotated_at", "expires_at"],
        "selector",
    ),
    get = "SELECT user_id, validator_hash, previous_hash, rotated_at, expires_at FROM {t} WHERE selector = $1 AND expires_at > $2",
    // MySQL assigns left to right, the others from the old row: either way the previous
    // hash is the one being replaced.
    rotate: Matched = "UPDATE {t} SET previous_hash = validator_hash, validator_hash = $3, rotated_at = $4 WHERE selector = $1 AND validator_hash = $2",
    remove = "DELETE FROM {t} WHERE selector = $1",
    remove_user = "DELETE FROM {t} WHERE user_id = $1",
    delete_expired = "DELETE FROM {t} WHERE expires_at <= $1",
}

impl<DB: SqlxDatabase> SqlxRememberStore<DB> {
    /// Deletes the tokens that expired by `now`. Inserts do it now and then on their own.
    pub async fn delete_expired(&self, now: SystemTime) -> Result<(), sqlx::Error> {
        let params = [Param::Int(to_millis(now))];
        self.db.execute(&self.db.sql.delete_expired, &params).await
    }

    async fn insert_token(&self, token: &RememberToken) -> Result<(), BoxError> {
        if self.db.sweep_due(SWEEP_EVERY) {
            self.delete_expired(SystemTime::now()).await?;
        }
        let params = [
            Param::Text(&token.selector),
            Param::Text(&token.user),
            Param::Text(&token.validator_hash),
            Param::OptText(token.previous_hash.as_deref()),
            Param::Int(to_millis(token.rotated_at)),
            Param::Int(to_millis(token.expires_at)),
        ];
        self.db.execute(&self.db.sql.upsert, &params).await?;
        Ok(())
    }

    async fn get_token(&self, selector: &str) -> Result<Option<RememberToken>, BoxError> {
        let params = [
            Param::Text(selector),
            Param::Int(to_millis(SystemTime::now())),
        ];
        let db = &self.db;
        let Some(row) = db.fetch_optional(&db.sql.get, &params).await? else {
            return Ok(None);
        };
        Ok(Some(RememberToken {
            selector: selector.to_owned(),
            user: db.text(&row, 0)?.unwrap_or_default(),
            validator_hash: db.text(&row, 1)?.unwrap_or_default(),
            previous_hash: db.text(&row, 2)?,
            rotated_at: from_millis(db.int(&row, 3)?),
            expires_at: from_millis(db.int(&row, 4)?),
        }))
    }

    async fn rotate_token(&self, rotation: &Rotation<'_>) -> Result<bool, BoxError> {
        let params = [
            Param::Text(rotation.selector),
            Param::Text(rotation.current_hash),
            Param::Text(rotation.new_hash),
            Param::Int(to_millis(rotation.at)),
        ];
        Ok(self.db.matched(&self.db.sql.rotate, &params).await?)
    }

    async fn execute(&self, statement: &Statement, key: &str) -> Result<(), BoxError> {
        self.db.execute(statement, &[Param::Text(key)]).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl<DB: SqlxDatabase> RememberStore for SqlxRememberStore<DB> {
    async fn insert(&self, token: &RememberToken) -> Result<(), BoxError> {
        self.insert_token(token).await
    }

    async fn get(&self, selector: &str) -> Result<Option<RememberToken>, BoxError> {
        self.get_token(selector).await
    }

    async fn rotate(&self, rotation: &Rotation<'_>) -> Result<bool, BoxError> {
        self.rotate_token(rotation).await
    }

    async fn remove(&self, selector: &str) -> Result<(), BoxError> {
        self.execute(&self.db.sql.remove, selector).await
    }

    async fn remove_user(&self, user: &str) -> Result<(), BoxError> {
        self.execute(&self.db.sql.remove_user, user).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlx::sql::Dialect;

    #[test]
    fn a_rotation_compares_the_current_hash_and_keeps_it_as_the_previous() {
        for dialect in [Dialect::MySql, Dialect::Postgres, Dialect::Sqlite] {
            let rotate = Queries::new(dialect).rotate.statement;
            assert!(
                rotate
                    .sql
                    .contains("SET previous_hash = validator_hash, validator_hash ="),
                "{dialect:?}"
            );
            let order: &[usize] = if dialect == Dialect::Postgres {
                &[1, 2, 3, 4]
            } else {
                &[3, 4, 1, 2]
            };
            assert_eq!(rotate.params, order, "{dialect:?}");
        }
        assert!(
            Queries::new(Dialect::MySql)
                .rotate
                .statement
                .sql
                .ends_with("WHERE selector = ? AND validator_hash = ?")
        );
    }
}
