//! [`SqlxStore`]: a [`UserStore`] on a sqlx pool, for SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! The store is generic over the database; what it needs to know about the user's table comes
//! from [`SqlxUser`], which `#[derive(UserStore)]` implements (or the app, by hand).
//!
//! The other sqlx stores (sessions, the registry, remember-me tokens, the throttle, second
//! factors, passkeys and API tokens) are written with one kit, kept here: statements rendered once per
//! database, their parameters bound, a conditional statement's match read, MySQL's binary text
//! decoded, tables created and lock conflicts retried the same way for all of them. They run on
//! any [`SqlxDatabase`]. How their traits are written: [`crate::store`].

pub(crate) mod db;
mod error;
pub(crate) mod retry;
pub(crate) mod sql;
mod table;
mod user;

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, atomic::Ordering},
};

use secrecy::SecretString;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};

use self::user::UserOps;
pub use self::{
    db::SqlxDatabase,
    error::{SqlxStoreError, SqlxStoreStats},
    table::{JoinTable, UserTable},
    user::{DecodeColumn, SqlxUser},
};
use self::{
    error::Counters,
    retry::retry,
    sql::{Dialect, Grant, JoinSql, Statement, Statements, bind_ids, placeholders},
};
use crate::{
    AuthUser, UserStore,
    credentials::{MAX_USERNAME_LEN, PasswordCredentials},
    password,
};

/// A [`UserStore`] on a sqlx pool: users of type `U` (see [`SqlxUser`]) in a database `DB`
/// (`sqlx::Sqlite`, `sqlx::Postgres` or `sqlx::MySql`).
///
/// - [`authenticate`](UserStore::authenticate) takes [`PasswordCredentials`], finds the user by
///   username and checks the password with argon2id on the password threads. An unknown username
///   is checked against a stand-in hash, so it takes as long as a wrong password. A hash with
///   outdated parameters is replaced on successful login.
/// - [`load_user`](UserStore::load_user) is one query: roles and permissions from their tables
///   come in the user's row (as JSON arrays, aggregated by the database), and
///   [`load_users`](UserStore::load_users) loads a batch in one query too. A custom load or
///   authenticate query takes one more query per roles or permissions table.
///
/// The SQL is rendered for the database once, when the store is made. The app keeps the pool:
/// [`pool`](Self::pool) hands it out for the app's own queries.
///
/// ```
/// # use axum_login::{AuthUser, sqlx::SqlxUser, sqlx::UserTable};
/// # use sqlx::{Row, sqlite::{Sqlite, SqliteRow}};
/// # #[derive(Clone)] struct User { id: i64, username: String, password_hash: String }
/// # impl AuthUser for User { type Id = i64; fn id(&self) -> i64 { self.id } fn session_auth_hash(&self) -> &[u8] { self.password_hash.as_bytes() } }
/// # impl SqlxUser<Sqlite> for User {
/// #     const TABLE: UserTable = UserTable::new("users", "id", "username", "password_hash");
/// #     fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
/// #         Ok(Self { id: row.try_get("id")?, username: row.try_get("username")?, password_hash: row.try_get("password_hash")? })
/// #     }
/// #     fn password_hash(&self) -> &str { &self.password_hash }
/// #     fn set_password_hash(&mut self, hash: String) { self.password_hash = hash; }
/// # }
/// use axum_login::{PasswordCredentials, SqlxStore, UserStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let store = SqlxStore::<User, Sqlite>::new(pool);
/// sqlx::raw_sql(store.schema()).execute(store.pool()).await?;
///
/// store.create_user("ferris", "hunter42".into()).await?;
/// let user = store.authenticate(PasswordCredentials::new("ferris", "hunter42")).await?;
/// assert_eq!(user.map(|u| u.username).as_deref(), Some("ferris"));
/// # Ok(()) }
/// ```
pub struct SqlxStore<U, DB: Database> {
    pool: Pool<DB>,
    sql: Arc<Statements>,
    counters: Arc<Counters>,
    dialect: Dialect,
    user: UserOps<U, DB>,
}

impl<U, DB: Database> Clone for SqlxStore<U, DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            sql: self.sql.clone(),
            counters: self.counters.clone(),
            dialect: self.dialect,
            user: self.user,
        }
    }
}

impl<U, DB: Database> fmt::Debug for SqlxStore<U, DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxStore")
            .field("database", &DB::NAME)
            .field("user", &std::any::type_name::<U>())
            .finish_non_exhaustive()
    }
}

const SCHEMA_SQLITE: &str = include_str!("../../migrations/sqlite/0001_users.sql");
const SCHEMA_POSTGRES: &str = include_str!("../../migrations/postgres/0001_users.sql");
const SCHEMA_MYSQL: &str = include_str!("../../migrations/mysql/0001_users.sql");

impl<U, DB: Database> SqlxStore<U, DB> {
    /// A store on `pool`, with the SQL rendered for `DB`.
    // The bound on the function, not the impl: a user type that is not `SqlxUser<DB>` is then
    // reported with that trait's message, even through a type alias (`Store::new`).
    pub fn new(pool: Pool<DB>) -> Self
    where
        U: SqlxUser<DB>,
    {
        let dialect = Dialect::of::<DB>();
        Self {
            pool,
            sql: Arc::new(Statements::new(dialect, &U::TABLE)),
            counters: Arc::default(),
            dialect,
            user: UserOps::of(),
        }
    }
    /// The pool, for the app's own queries.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The work done so far by this store and its clones.
    pub fn stats(&self) -> SqlxStoreStats {
        SqlxStoreStats {
            queries: self.counters.queries.load(Ordering::Relaxed),
            hash_verifications: self.counters.hash_verifications.load(Ordering::Relaxed),
        }
    }

    /// The `CREATE TABLE` statements of the conventional schema for `DB` (the files in
    /// `axum-login/migrations/`): `users (id, username, password_hash, role)`,
    /// `user_roles (user_id, role)` and `user_permissions (user_id, permission)`.
    ///
    /// Run it with `sqlx::raw_sql(store.schema()).execute(store.pool())`. Apps with other table
    /// or column names write their own.
    pub fn schema(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => SCHEMA_POSTGRES,
            Dialect::MySql => SCHEMA_MYSQL,
            Dialect::Sqlite => SCHEMA_SQLITE,
        }
    }

    /// The SQL that loads a user by id, as sent to this database.
    pub fn load_sql(&self) -> &str {
        &self.sql.load.sql
    }

    /// The SQL that finds a user by username, as sent to this database.
    pub fn authenticate_sql(&self) -> &str {
        &self.sql.find.sql
    }

    fn count_query(&self) {
        self.counters.queries.fetch_add(1, Ordering::Relaxed);
    }

    fn count_verification(&self) {
        self.counters
            .hash_verifications
            .fetch_add(1, Ordering::Relaxed);
    }
}

impl<U, DB> SqlxStore<U, DB>
where
    DB: Database,
    U: AuthUser,
    U::Id: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
{
    /// Inserts a user with `username` and a hash of `password` (the other columns take their
    /// defaults), and answers the user as loaded back.
    ///
    /// Apps whose users table needs more columns insert the row themselves through
    /// [`pool`](Self::pool), with a hash from [`hash_password`](crate::hash_password).
    pub async fn create_user(
        &self,
        username: &str,
        password: SecretString,
    ) -> Result<U, SqlxStoreError> {
        let hash = password::hash_password(password).await?;
        self.count_query();
        retry(|| {
            let mut query = sqlx::query::<DB>(&self.sql.insert.sql);
            for param in &self.sql.insert.params {
                query = match param {
                    1 => query.bind(username.to_owned()),
                    _ => query.bind(hash.clone()),
                };
            }
            query.execute(&self.pool)
        })
        .await?;
        self.find(username)
            .await?
            .ok_or(SqlxStoreError::Database(sqlx::Error::RowNotFound))
    }

    /// Sets the password of the user with `id`, and answers the user as it is now (`None` when
    /// there is no such user).
    ///
    /// The new hash changes [`AuthUser::session_auth_hash`], so every session of this user ends
    /// on its next request; to keep the current one, pass the user answered here to
    /// [`AuthSession::update_session_auth_hash`](crate::AuthSession::update_session_auth_hash).
    pub async fn set_password(
        &self,
        id: &U::Id,
        password: SecretString,
    ) -> Result<Option<U>, SqlxStoreError> {
        let hash = password::hash_password(password).await?;
        self.save_hash(id, hash).await?;
        self.load(id).await
    }

    async fn save_hash(&self, id: &U::Id, hash: String) -> Result<(), SqlxStoreError> {
        self.count_query();
        retry(|| {
            let mut query = sqlx::query::<DB>(&self.sql.update_hash.sql);
            for param in &self.sql.update_hash.params {
                query = match param {
                    1 => query.bind(hash.clone()),
                    _ => query.bind(id.clone()),
                };
            }
            query.execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// The username as stored of the user that `username` finds, by the same query as a
    /// login, so that it matches exactly what a login would.
    async fn stored_username(&self, username: &str) -> Result<Option<String>, SqlxStoreError> {
        let mut query = sqlx::query::<DB>(&self.sql.find.sql);
        for _ in &self.sql.find.params {
            query = query.bind(username.to_owned());
        }
        self.count_query();
        let Some(row) = query.fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let column = self.user.username_column;
        Ok(Some(row.try_get::<String, &str>(column)?))
    }

    async fn find(&self, username: &str) -> Result<Option<U>, SqlxStoreError> {
        self.find_by(&self.sql.find, self.sql.find_grants, username)
            .await
    }

    /// The user whose email address is `email` (compared as the column compares: see
    /// [`UserTable::with_email`]), with their roles and permissions.
    ///
    /// [`SqlxStoreError::NoEmailColumn`] when the table names no email column.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<U>, SqlxStoreError> {
        let statement = self
            .sql
            .find_by_email
            .as_ref()
            .ok_or(SqlxStoreError::NoEmailColumn)?;
        // No stored address holds a NUL, and PostgreSQL answers one with an error.
        if email.contains('\0') {
            return Ok(None);
        }
        self.find_by(statement, self.sql.find_by_email_grants, email)
            .await
    }

    /// Inserts a user with `username`, `email` and a hash of `password` (the other columns take
    /// their defaults, the address unconfirmed), and answers the user as loaded back; `None`
    /// when the username or the address is taken (a unique constraint refused the row).
    ///
    /// [`SqlxStoreError::NoEmailColumn`] when the table names no email column.
    pub async fn create_user_with_email(
        &self,
        username: &str,
        email: &str,
        password: SecretString,
    ) -> Result<Option<U>, SqlxStoreError> {
        let statement = self
            .sql
            .insert_with_email
            .as_ref()
            .ok_or(SqlxStoreError::NoEmailColumn)?;
        let hash = password::hash_password(password).await?;
        self.count_query();
        let inserted = retry(|| {
            let mut query = sqlx::query::<DB>(&statement.sql);
            for param in &statement.params {
                query = match param {
                    1 => query.bind(username.to_owned()),
                    2 => query.bind(email.to_owned()),
                    _ => query.bind(hash.clone()),
                };
            }
            query.execute(&self.pool)
        })
        .await;
        match inserted {
            Ok(_) => self
                .find(username)
                .await?
                .map(Some)
                .ok_or(SqlxStoreError::Database(sqlx::Error::RowNotFound)),
            Err(error) if db::is_unique_violation(&error) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Marks `email` confirmed as the address of the user with `id`, if it is still theirs
    /// (a change of address in between marks nothing), and answers the user as it is now
    /// (`None` when there is no such user).
    ///
    /// [`SqlxStoreError::NoEmailVerifiedColumn`] when the table names no email-verified
    /// column.
    pub async fn mark_email_verified(
        &self,
        id: &U::Id,
        email: &str,
    ) -> Result<Option<U>, SqlxStoreError> {
        let statement = self
            .sql
            .mark_email_verified
            .as_ref()
            .ok_or(SqlxStoreError::NoEmailVerifiedColumn)?;
        self.count_query();
        retry(|| {
            let mut query = sqlx::query::<DB>(&statement.sql);
            for param in &statement.params {
                query = match param {
                    1 => query.bind(id.clone()),
                    _ => query.bind(email.to_owned()),
                };
            }
            query.execute(&self.pool)
        })
        .await?;
        self.load(id).await
    }

    /// Replaces the address `old` of the user with `id` by `new` (confirmed, when the table has
    /// an email-verified column): `Some(true)` when it did, `Some(false)` when another user has
    /// `new` (a unique constraint refused it), `None` when no user with that id has `old`.
    ///
    /// [`SqlxStoreError::NoEmailColumn`] when the table names no email column.
    pub async fn change_email(
        &self,
        id: &U::Id,
        old: &str,
        new: &str,
    ) -> Result<Option<bool>, SqlxStoreError> {
        let statement = self
            .sql
            .change_email
            .as_ref()
            .ok_or(SqlxStoreError::NoEmailColumn)?;
        self.count_query();
        let updated = retry(|| {
            let mut query = sqlx::query::<DB>(&statement.sql);
            for param in &statement.params {
                query = match param {
                    1 => query.bind(new.to_owned()),
                    2 => query.bind(id.clone()),
                    _ => query.bind(old.to_owned()),
                };
            }
            query.execute(&self.pool)
        })
        .await;
        match updated {
            // Whether the row matched: the user with `new` now is this one.
            Ok(_) => Ok(self
                .find_by_email(new)
                .await?
                .filter(|user| user.id().to_string() == id.to_string())
                .map(|_| true)),
            Err(error) if db::is_unique_violation(&error) => Ok(Some(false)),
            Err(error) => Err(error.into()),
        }
    }

    /// The user that `statement` finds by `value`, with their roles and permissions.
    async fn find_by(
        &self,
        statement: &Statement,
        grants: bool,
        value: &str,
    ) -> Result<Option<U>, SqlxStoreError> {
        let mut query = sqlx::query::<DB>(&statement.sql);
        for _ in &statement.params {
            query = query.bind(value.to_owned());
        }
        self.count_query();
        let Some(row) = query.fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let mut user = (self.user.from_row)(&row)?;
        if grants {
            self.grants_of_row(&row, &mut user)?;
        }
        Ok(Some(user))
    }

    /// Gives `user` the `names` read from `join`; a name the user type does not know is an
    /// error naming the column.
    fn set_grant(
        &self,
        grant: Grant,
        user: &mut U,
        join: &JoinSql,
        names: Vec<String>,
    ) -> Result<(), SqlxStoreError> {
        let set = match grant {
            Grant::Roles => (self.user.set_roles)(user, names),
            Grant::Permissions => (self.user.set_permissions)(user, names),
        };
        set.map_err(|source| SqlxStoreError::Decode {
            column: join.column.clone(),
            source,
        })
    }

    /// The user with `id` and its roles and permissions: one query, or with a custom load query
    /// one more per roles or permissions table, on one connection of the pool.
    async fn load(&self, id: &U::Id) -> Result<Option<U>, SqlxStoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut query = sqlx::query::<DB>(&self.sql.load.sql);
        for _ in &self.sql.load.params {
            query = query.bind(id.clone());
        }
        self.count_query();
        let Some(row) = query.fetch_optional(&mut *conn).await? else {
            return Ok(None);
        };
        let mut user = (self.user.from_row)(&row)?;
        if self.sql.load_grants {
            self.grants_of_row(&row, &mut user)?;
        } else {
            self.load_grants(&mut conn, &mut user).await?;
        }
        Ok(Some(user))
    }

    /// The users with `ids`, in their order, with their roles and permissions: one query. With
    /// a custom load query (it takes one id), a load per id, side by side.
    async fn load_many(&self, ids: &[U::Id]) -> Result<Vec<Option<U>>, SqlxStoreError> {
        let Some(select) = self.sql.load_many.as_ref().filter(|_| ids.len() > 1) else {
            return futures_util::future::try_join_all(ids.iter().map(|id| self.load(id))).await;
        };
        // Ids compare by their `Display` form, the only comparison the `Id` bounds allow.
        let slots: HashMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(slot, id)| (id.to_string(), slot))
            .collect();
        let statement = self
            .sql
            .dialect
            .render(&format!("{select}{})", placeholders(ids.len())));
        self.count_query();
        let mut users: Vec<Option<U>> = std::iter::repeat_with(|| None).take(ids.len()).collect();
        for row in bind_ids(&statement, ids).fetch_all(&self.pool).await? {
            let mut user = (self.user.from_row)(&row)?;
            if let Some(&slot) = slots.get(&user.id().to_string()) {
                self.grants_of_row(&row, &mut user)?;
                users[slot] = Some(user);
            }
        }
        Ok(users)
    }

    /// Fills in roles and permissions from the columns of a load or find statement that selects
    /// them (see [`Statements::load_grants`]): JSON arrays of names.
    fn grants_of_row(&self, row: &DB::Row, user: &mut U) -> Result<(), SqlxStoreError> {
        for (join, grant) in self.sql.joins() {
            let list: String = row.try_get(grant.column())?;
            let names = serde_json::from_str::<Vec<String>>(&list).map_err(|source| {
                SqlxStoreError::Decode {
                    column: join.column.clone(),
                    source: source.into(),
                }
            })?;
            self.set_grant(grant, user, join, names)?;
        }
        Ok(())
    }

    /// Fills in roles and permissions from their tables, after a custom query that selected the
    /// user's row alone: one query per table.
    async fn load_grants(
        &self,
        conn: &mut DB::Connection,
        user: &mut U,
    ) -> Result<(), SqlxStoreError> {
        for (join, grant) in self.sql.joins() {
            let names = self.names(conn, &join.one, &user.id()).await?;
            self.set_grant(grant, user, join, names)?;
        }
        Ok(())
    }

    async fn names(
        &self,
        conn: &mut DB::Connection,
        statement: &Statement,
        id: &U::Id,
    ) -> Result<Vec<String>, SqlxStoreError> {
        let mut query = sqlx::query::<DB>(&statement.sql);
        for _ in &statement.params {
            query = query.bind(id.clone());
        }
        self.count_query();
        let rows = query.fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|row| row.try_get::<String, usize>(0).map_err(Into::into))
            .collect()
    }

    async fn check(&self, credentials: PasswordCredentials) -> Result<Option<U>, SqlxStoreError> {
        if !credentials.is_within_limits() {
            return Ok(None);
        }
        let PasswordCredentials { username, password } = credentials;
        // No stored name holds a NUL, and PostgreSQL refuses one in a text value with an error:
        // answer like any unknown name, with the same hash work.
        let found = if username.contains('\0') {
            None
        } else {
            self.find(&username).await?
        };
        let Some(mut user) = found else {
            self.count_verification();
            password::verify_unknown_user(password).await?;
            return Ok(None);
        };
        self.count_verification();
        let hash = (self.user.password_hash)(&user).to_owned();
        let (valid, obsolete, password) = password::off_runtime(move || {
            let valid = password::verify_blocking(&password, &hash);
            (valid, valid && password::needs_rehash(&hash), password)
        })
        .await?;
        if !valid {
            return Ok(None);
        }
        if obsolete {
            let hash = password::hash_password(password).await?;
            self.save_hash(&user.id(), hash.clone()).await?;
            (self.user.set_password_hash)(&mut user, hash);
        }
        if !self.sql.find_grants && (self.sql.roles.is_some() || self.sql.permissions.is_some()) {
            let mut conn = self.pool.acquire().await?;
            self.load_grants(&mut conn, &mut user).await?;
        }
        Ok(Some(user))
    }
}

impl<U, DB> UserStore for SqlxStore<U, DB>
where
    DB: Database,
    U: AuthUser,
    U::Id: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
{
    type User = U;
    type Credentials = PasswordCredentials;
    type Error = SqlxStoreError;

    async fn authenticate(
        &self,
        credentials: PasswordCredentials,
    ) -> Result<Option<U>, SqlxStoreError> {
        self.check(credentials).await
    }

    /// [`load_users`](Self::load_users) is one query.
    const BATCHED_LOADS: bool = true;

    async fn load_user(&self, id: &U::Id) -> Result<Option<U>, SqlxStoreError> {
        self.load(id).await
    }

    /// Pings a connection of the pool: a new one, or an idle one checked with the database's
    /// own ping (whatever the pool's `test_before_acquire`).
    async fn ping(&self) -> Result<(), SqlxStoreError> {
        use sqlx::Connection as _;
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(SqlxStoreError::Database)?;
        connection.ping().await.map_err(SqlxStoreError::Database)
    }

    async fn load_users(&self, ids: &[U::Id]) -> Result<Vec<Option<U>>, SqlxStoreError> {
        self.load_many(ids).await
    }

    /// The username normalised (see [`account_key`](Self::account_key)), without a lookup.
    fn throttle_key(&self, credentials: &PasswordCredentials) -> Option<String> {
        credentials
            .is_within_limits()
            .then(|| normalize(&credentials.username, self.dialect == Dialect::MySql))
    }

    /// The account a login attempt reaches, so that every spelling of one account counts
    /// against one limit: the username as stored, when the database finds one for the given
    /// spelling (whatever its collation ignores: case and accents on MySQL/MariaDB by default,
    /// trailing spaces), else the given one; either normalised (Unicode NFKC, lower case,
    /// trailing spaces dropped, and on MySQL/MariaDB accents dropped too). Credentials over
    /// the length limits get no account key, so they create no counter.
    async fn account_key(
        &self,
        credentials: &PasswordCredentials,
    ) -> Result<Option<String>, SqlxStoreError> {
        if !credentials.is_within_limits() {
            return Ok(None);
        }
        let given = credentials.username.as_str();
        // No stored name holds a NUL, and PostgreSQL answers one with an error.
        let stored = if given.contains('\0') {
            None
        } else {
            self.stored_username(given).await?
        };
        Ok(Some(normalize(
            stored.as_deref().unwrap_or(given),
            self.dialect == Dialect::MySql,
        )))
    }
}

/// A username as the throttle counts it: Unicode NFKC (full-width letters become ASCII, ligatures
/// come apart), lower case, trailing spaces dropped (SQL's `PAD SPACE` comparisons ignore them),
/// and, for MySQL/MariaDB, whose default collations ignore accents, accents dropped.
fn normalize(name: &str, fold_accents: bool) -> String {
    use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};
    let composed: String = name
        .chars()
        .take(MAX_USERNAME_LEN + 1)
        .nfkc()
        .flat_map(char::to_lowercase)
        .collect();
    let trimmed = composed.trim_end_matches(' ');
    if fold_accents {
        trimmed.nfd().filter(|c| !is_combining_mark(*c)).collect()
    } else {
        trimmed.to_owned()
    }
}
