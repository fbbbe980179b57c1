//! [`SqlxLinkStore`]: provider links in a table of SQLite, PostgreSQL or MySQL/MariaDB.

use super::links::{LinkStore, ProviderLink};
use crate::clock::{from_millis, to_millis};
use crate::error::BoxError;
use crate::sqlx::SqlxDatabase;
use crate::sqlx::db::{Param, is_unique_violation, sqlx_store};
use crate::sqlx::sql::insert;

/// The columns of a link, in the order `insert` binds them and `link` reads them.
const COLUMNS: [&str; 6] = [
    "issuer",
    "subject",
    "user_id",
    "provider",
    "email",
    "linked_at",
];

sqlx_store! {
    /// Provider links in a sqlx database (features `oidc` and `sqlx`): `sqlx::Sqlite`,
    /// `sqlx::Postgres` or `sqlx::MySql`, beside the app's users.
    ///
    /// One row per linked provider account in the table `axum_login_provider_links`, keyed by
    /// `(issuer, subject)` (so an insertion that finds the account linked fails on the key:
    /// of two first sign-ins at once, one links it), indexed by user; [`migrate`](Self::migrate)
    /// creates it. The link names the user by id as text, like the other tables of the crate,
    /// with no foreign key: the app's users table is the app's.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
    /// use axum_login::oidc::SqlxLinkStore;
    ///
    /// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
    /// let links = SqlxLinkStore::new(pool);
    /// links.migrate().await?;
    /// # let _ = links; Ok(()) }
    /// ```
    pub struct SqlxLinkStore(Db<Queries>);

    fn new(dialect) {
        let t = dialect.quote("axum_login_provider_links");
        let all = COLUMNS.join(", ");
        let (key, text, int) = (dialect.exact_text_type(), dialect.text_type(), dialect.int_type());
    }
    migrate: " Creates the table and its index, unless they exist.",
    schema: String = dialect.create_table(
        &t,
        &format!(
            "issuer {key} NOT NULL, subject {key} NOT NULL, user_id {key} NOT NULL, provider {text} NOT NULL, email {text}, linked_at {int} NOT NULL, PRIMARY KEY (issuer, subject)"
        ),
        &[("axum_login_provider_links_user", "user_id")],
    ),
    insert = insert(&t, &COLUMNS),
    find = "SELECT {all} FROM {t} WHERE issuer = $1 AND subject = $2",
    for_user = "SELECT {all} FROM {t} WHERE user_id = $1 ORDER BY linked_at, issuer, subject",
    remove: Matched = "DELETE FROM {t} WHERE user_id = $1 AND issuer = $2 AND subject = $3",
}

impl<DB: SqlxDatabase> SqlxLinkStore<DB> {
    /// The link in a row of [`COLUMNS`].
    fn link(&self, row: &DB::Row) -> Result<ProviderLink, sqlx::Error> {
        let db = &self.db;
        let text = |index| Ok::<_, sqlx::Error>(db.text(row, index)?.unwrap_or_default());
        Ok(ProviderLink {
            issuer: text(0)?,
            subject: text(1)?,
            user: text(2)?,
            provider: text(3)?,
            email: db.text(row, 4)?,
            linked_at: from_millis(db.int(row, 5)?),
        })
    }
}

#[async_trait::async_trait]
impl<DB: SqlxDatabase> LinkStore for SqlxLinkStore<DB> {
    async fn find(&self, issuer: &str, subject: &str) -> Result<Option<ProviderLink>, BoxError> {
        let params = [Param::Text(issuer), Param::Text(subject)];
        let row = self.db.fetch_optional(&self.db.sql.find, &params).await?;
        Ok(row.map(|row| self.link(&row)).transpose()?)
    }

    async fn insert(&self, link: &ProviderLink) -> Result<bool, BoxError> {
        let params = [
            Param::Text(&link.issuer),
            Param::Text(&link.subject),
            Param::Text(&link.user),
            Param::Text(&link.provider),
            Param::OptText(link.email.as_deref()),
            Param::Int(to_millis(link.linked_at)),
        ];
        match self.db.execute(&self.db.sql.insert, &params).await {
            Ok(()) => Ok(true),
            Err(error) if is_unique_violation(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn for_user(&self, user: &str) -> Result<Vec<ProviderLink>, BoxError> {
        let rows = self
            .db
            .fetch_all(&self.db.sql.for_user, &[Param::Text(user)])
            .await?;
        Ok(rows
            .iter()
            .map(|row| self.link(row))
            .collect::<Result<_, _>>()?)
    }

    async fn remove(&self, user: &str, issuer: &str, subject: &str) -> Result<bool, BoxError> {
        let params = [Param::Text(user), Param::Text(issuer), Param::Text(subject)];
        Ok(self.db.matched(&self.db.sql.remove, &params).await?)
    }
}
