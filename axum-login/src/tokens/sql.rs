//! [`SqlxTokenStore`]: API tokens in a table of SQLite, PostgreSQL or MySQL/MariaDB, shared by
//! every instance on the database.

use std::time::SystemTime;

use super::{ApiToken, Rehash, TokenStore, scopes_from_text, scopes_text};
use crate::clock::{from_millis, to_millis};
use crate::error::BoxError;
use crate::sqlx::SqlxDatabase;
use crate::sqlx::db::{Param, sqlx_store};
use crate::sqlx::sql::insert;

/// The columns of a token, in the order `insert_token` binds them and `token` reads them.
const COLUMNS: [&str; 8] = [
    "hash",
    "id",
    "user_id",
    "name",
    "scopes",
    "created_at",
    "last_used_at",
    "expires_at",
];

sqlx_store! {
    /// API tokens in a sqlx database (features `tokens` and `sqlx`): `sqlx::Sqlite`,
    /// `sqlx::Postgres` or `sqlx::MySql`, so that a token created on one instance works on
    /// every other.
    ///
    /// One row per token in the table `axum_login_api_tokens`, keyed by the hash of its secret
    /// (how a request finds it), its id unique, indexed by user; [`migrate`](Self::migrate)
    /// creates it. A rehash after a key rotation is one statement, `UPDATE ... WHERE id = ? AND
    /// hash = ?`, whose matched rows say whether it won: of two requests rehashing one token at
    /// once, exactly one does.
    ///
    /// Scopes are kept in one column, separated by spaces (a scope has none), and times as
    /// milliseconds since the epoch. An expired token stays until it is revoked: the layer
    /// refuses it by its own clock, and its user still sees it listed.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
    /// use axum_login::tokens::{ApiTokens, SqlxTokenStore};
    ///
    /// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
    /// let store = SqlxTokenStore::new(pool);
    /// store.migrate().await?;
    /// let tokens = ApiTokens::new(store);
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub struct SqlxTokenStore(Db<Queries>);

    fn new(dialect) {
        let t = dialect.quote("axum_login_api_tokens");
        let all = COLUMNS.join(", ");
        let (key, text, int) = (dialect.exact_text_type(), dialect.text_type(), dialect.int_type());
    }
    migrate: " Creates the table and its index, unless they exist.",
    schema: String = dialect.create_table(
        &t,
        &format!(
            "hash {key} NOT NULL PRIMARY KEY, id {key} NOT NULL UNIQUE, user_id {key} NOT NULL, name {text} NOT NULL, scopes {text} NOT NULL, created_at {int} NOT NULL, last_used_at {int}, expires_at {int}"
        ),
        &[("axum_login_api_tokens_user", "user_id")],
    ),
    insert = insert(&t, &COLUMNS),
    find = "SELECT {all} FROM {t} WHERE hash = $1",
    list = "SELECT {all} FROM {t} WHERE user_id = $1 ORDER BY created_at, id",
    // The hash is the key: two rehashes of one token wait on its row, and the second then
    // finds another hash there and matches nothing.
    rehash: Matched = "UPDATE {t} SET hash = $3 WHERE id = $1 AND hash = $2",
    revoke: Matched = "DELETE FROM {t} WHERE user_id = $1 AND id = $2",
    revoke_user: Matched = "DELETE FROM {t} WHERE user_id = $1",
    touch = "UPDATE {t} SET last_used_at = $2 WHERE id = $1",
}

impl<DB: SqlxDatabase> SqlxTokenStore<DB> {
    /// The token in a row of [`COLUMNS`].
    fn token(&self, row: &DB::Row) -> Result<ApiToken, sqlx::Error> {
        let db = &self.db;
        let time = |index| Ok::<_, sqlx::Error>(db.opt_int(row, index)?.map(from_millis));
        Ok(ApiToken {
            hash: db.text(row, 0)?.unwrap_or_default(),
            id: db.text(row, 1)?.unwrap_or_default(),
            user: db.text(row, 2)?.unwrap_or_default(),
            name: db.text(row, 3)?.unwrap_or_default(),
            scopes: scopes_from_text(&db.text(row, 4)?.unwrap_or_default()),
            created_at: from_millis(db.int(row, 5)?),
            last_used_at: time(6)?,
            expires_at: time(7)?,
        })
    }

    async fn insert_token(&self, token: &ApiToken) -> Result<(), sqlx::Error> {
        let scopes = scopes_text(&token.scopes);
        let params = [
            Param::Text(&token.hash),
            Param::Text(&token.id),
            Param::Text(&token.user),
            Param::Text(&token.name),
            Param::Text(&scopes),
            Param::Int(to_millis(token.created_at)),
            Param::OptInt(token.last_used_at.map(to_millis)),
            Param::OptInt(token.expires_at.map(to_millis)),
        ];
        self.db.execute(&self.db.sql.insert, &params).await
    }

    async fn find_token(&self, hash: &str) -> Result<Option<ApiToken>, sqlx::Error> {
        let row = self
            .db
            .fetch_optional(&self.db.sql.find, &[Param::Text(hash)])
            .await?;
        row.map(|row| self.token(&row)).transpose()
    }

    async fn list_tokens(&self, user: &str) -> Result<Vec<ApiToken>, sqlx::Error> {
        let rows = self
            .db
            .fetch_all(&self.db.sql.list, &[Param::Text(user)])
            .await?;
        rows.iter().map(|row| self.token(row)).collect()
    }
}

#[async_trait::async_trait]
impl<DB: SqlxDatabase> TokenStore for SqlxTokenStore<DB> {
    async fn insert(&self, token: &ApiToken) -> Result<(), BoxError> {
        Ok(self.insert_token(token).await?)
    }

    async fn find(&self, hash: &str) -> Result<Option<ApiToken>, BoxError> {
        Ok(self.find_token(hash).await?)
    }

    async fn list(&self, user: &str) -> Result<Vec<ApiToken>, BoxError> {
        Ok(self.list_tokens(user).await?)
    }

    async fn touch(&self, id: &str, at: SystemTime) -> Result<(), BoxError> {
        let params = [Param::Text(id), Param::Int(to_millis(at))];
        Ok(self.db.execute(&self.db.sql.touch, &params).await?)
    }

    async fn rehash(&self, rehash: &Rehash<'_>) -> Result<bool, BoxError> {
        let params = [
            Param::Text(rehash.id),
            Param::Text(rehash.from),
            Param::Text(rehash.to),
        ];
        Ok(self.db.matched(&self.db.sql.rehash, &params).await?)
    }

    async fn revoke(&self, user: &str, id: &str) -> Result<bool, BoxError> {
        let params = [Param::Text(user), Param::Text(id)];
        Ok(self.db.matched(&self.db.sql.revoke, &params).await?)
    }

    async fn revoke_user(&self, user: &str) -> Result<u64, BoxError> {
        let params = [Param::Text(user)];
        Ok(self
            .db
            .rows_matched(&self.db.sql.revoke_user, &params)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlx::sql::Dialect;

    #[test]
    fn keys_compare_byte_for_byte_on_mysql_and_a_rehash_binds_the_new_hash_first() {
        let mysql = Queries::new(Dialect::MySql);
        for key in ["hash", "id", "user_id"] {
            let column = format!("{key} VARBINARY(255) NOT NULL");
            assert!(mysql.schema.contains(&column), "{column}");
        }
        assert_eq!(mysql.rehash.statement.params, [3, 1, 2]);
        assert_eq!(
            mysql.insert.sql,
            format!(
                "INSERT INTO `axum_login_api_tokens` ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                COLUMNS.join(", ")
            )
        );
        let postgres = Queries::new(Dialect::Postgres);
        assert_eq!(postgres.rehash.statement.params, [1, 2, 3]);
        assert!(postgres.revoke_user.statement.sql.ends_with(" RETURNING 1"));
    }
}
