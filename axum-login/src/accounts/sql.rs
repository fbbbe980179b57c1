//! [`SqlxAccountTokenStore`]: mailed tokens in a table of SQLite, PostgreSQL or MySQL/MariaDB,
//! shared by every instance on the database.

use std::time::SystemTime;

use super::token::{AccountToken, AccountTokenStore, Purpose, Revoke};
use crate::clock::{from_millis, to_millis};
use crate::error::BoxError;
use crate::sqlx::SqlxDatabase;
use crate::sqlx::db::{Param, sqlx_store};
use crate::sqlx::sql::insert;

/// The columns of a token, in the order `insert_token` binds them and `token` reads them.
const COLUMNS: [&str; 8] = [
    "hash",
    "purpose",
    "user_id",
    "email",
    "stamp",
    "created_at",
    "expires_at",
    "new_email",
];

sqlx_store! {
    /// Mailed tokens (password reset) in a sqlx database (features `accounts` and `sqlx`):
    /// `sqlx::Sqlite`, `sqlx::Postgres` or `sqlx::MySql`, so that a link mailed by one
    /// instance works on every other.
    ///
    /// One row per token in the table `axum_login_account_tokens`, keyed by the SHA-256 of its
    /// secret, indexed by user; [`migrate`](Self::migrate) creates it. Using a token is one
    /// `DELETE ... WHERE hash = ?`, whose matched rows say whether this request used it: of two
    /// requests presenting one token at once, exactly one does. Times are milliseconds since
    /// the epoch; [`delete_expired`](AccountTokenStore::delete_expired) removes the expired
    /// rows (the layer refuses them by its own clock before then).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
    /// use axum_login::accounts::SqlxAccountTokenStore;
    ///
    /// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
    /// let tokens = SqlxAccountTokenStore::new(pool);
    /// tokens.migrate().await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub struct SqlxAccountTokenStore(Db<Queries>);

    fn new(dialect) {
        let t = dialect.quote("axum_login_account_tokens");
        let all = COLUMNS.join(", ");
        let (key, text, int) = (dialect.exact_text_type(), dialect.text_type(), dialect.int_type());
    }
    migrate: " Creates the table and its index, unless they exist.",
    schema: String = dialect.create_table(
        &t,
        &format!(
            "hash {key} NOT NULL PRIMARY KEY, purpose {key} NOT NULL, user_id {key} NOT NULL, email {text} NOT NULL, stamp {text} NOT NULL, created_at {int} NOT NULL, expires_at {int} NOT NULL, new_email {text}"
        ),
        &[("axum_login_account_tokens_user", "user_id")],
    ),
    insert = insert(&t, &COLUMNS),
    find = "SELECT {all} FROM {t} WHERE hash = $1",
    consume: Matched = "DELETE FROM {t} WHERE hash = $1",
    revoke_user: Matched = "DELETE FROM {t} WHERE user_id = $1",
    revoke_at_login: Matched = "DELETE FROM {t} WHERE user_id = $1 AND purpose = $2",
    delete_expired: Matched = "DELETE FROM {t} WHERE expires_at <= $1",
}

impl<DB: SqlxDatabase> SqlxAccountTokenStore<DB> {
    /// The token in a row of [`COLUMNS`]; `None` for a purpose this version does not know.
    fn token(&self, row: &DB::Row) -> Result<Option<AccountToken>, sqlx::Error> {
        let db = &self.db;
        let text = |index| Ok::<_, sqlx::Error>(db.text(row, index)?.unwrap_or_default());
        let Some(purpose) = Purpose::parse(&text(1)?) else {
            return Ok(None);
        };
        Ok(Some(AccountToken {
            hash: text(0)?,
            purpose,
            user: text(2)?,
            email: text(3)?,
            stamp: text(4)?,
            created_at: from_millis(db.int(row, 5)?),
            expires_at: from_millis(db.int(row, 6)?),
            new_email: db.text(row, 7)?,
        }))
    }
}

#[async_trait::async_trait]
impl<DB: SqlxDatabase> AccountTokenStore for SqlxAccountTokenStore<DB> {
    async fn insert(&self, token: &AccountToken) -> Result<(), BoxError> {
        let params = [
            Param::Text(&token.hash),
            Param::Text(token.purpose.as_str()),
            Param::Text(&token.user),
            Param::Text(&token.email),
            Param::Text(&token.stamp),
            Param::Int(to_millis(token.created_at)),
            Param::Int(to_millis(token.expires_at)),
            Param::OptText(token.new_email.as_deref()),
        ];
        Ok(self.db.execute(&self.db.sql.insert, &params).await?)
    }

    async fn find(&self, hash: &str) -> Result<Option<AccountToken>, BoxError> {
        let row = self
            .db
            .fetch_optional(&self.db.sql.find, &[Param::Text(hash)])
            .await?;
        Ok(row.map(|row| self.token(&row)).transpose()?.flatten())
    }

    async fn consume(&self, hash: &str) -> Result<bool, BoxError> {
        Ok(self
            .db
            .matched(&self.db.sql.consume, &[Param::Text(hash)])
            .await?)
    }

    async fn revoke_user(&self, user: &str, which: Revoke) -> Result<u64, BoxError> {
        match which {
            Revoke::All => Ok(self
                .db
                .rows_matched(&self.db.sql.revoke_user, &[Param::Text(user)])
                .await?),
            Revoke::EndedByLogin => {
                let mut revoked = 0;
                for purpose in Purpose::ALL {
                    if purpose.ends_at_login() {
                        let params = [Param::Text(user), Param::Text(purpose.as_str())];
                        revoked += self
                            .db
                            .rows_matched(&self.db.sql.revoke_at_login, &params)
                            .await?;
                    }
                }
                Ok(revoked)
            }
        }
    }

    async fn delete_expired(&self, now: SystemTime) -> Result<u64, BoxError> {
        Ok(self
            .db
            .rows_matched(&self.db.sql.delete_expired, &[Param::Int(to_millis(now))])
            .await?)
    }
}

impl<U, DB> super::AccountStore for crate::SqlxStore<U, DB>
where
    DB: sqlx::Database,
    U: super::EmailUser,
    U::Id: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'c> &'c str: sqlx::ColumnIndex<DB::Row>,
{
    /// [`SqlxStore::find_by_email`](crate::SqlxStore::find_by_email): the table needs an email
    /// column (`#[auth(email)]`).
    async fn find_by_email(&self, email: &str) -> Result<Option<U>, crate::sqlx::SqlxStoreError> {
        crate::SqlxStore::find_by_email(self, email).await
    }

    async fn set_password(
        &self,
        id: &U::Id,
        password: secrecy::SecretString,
    ) -> Result<Option<U>, crate::sqlx::SqlxStoreError> {
        crate::SqlxStore::set_password(self, id, password).await
    }

    async fn create_account(
        &self,
        username: &str,
        email: &str,
        password: secrecy::SecretString,
    ) -> Result<Option<U>, crate::sqlx::SqlxStoreError> {
        self.create_user_with_email(username, email, password).await
    }

    /// [`SqlxStore::mark_email_verified`](crate::SqlxStore::mark_email_verified): the table
    /// needs an email-verified column (`#[auth(email_verified)]`).
    async fn mark_email_verified(
        &self,
        id: &U::Id,
        email: &str,
    ) -> Result<Option<U>, crate::sqlx::SqlxStoreError> {
        crate::SqlxStore::mark_email_verified(self, id, email).await
    }

    async fn change_email(
        &self,
        id: &U::Id,
        old: &str,
        new: &str,
    ) -> Result<Option<bool>, crate::sqlx::SqlxStoreError> {
        crate::SqlxStore::change_email(self, id, old, new).await
    }
}
