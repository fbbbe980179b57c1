//! [`SqlxStore`]: a [`UserStore`] on a sqlx pool, for SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! The store is generic over the database; what it needs to know about the user's table comes
//! from [`SqlxUser`], which `#[derive(UserStore)]` implements (or the app, by hand).

use std::{
    collections::HashMap,
    fmt::{self, Write as _},
    marker::PhantomData,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use secrecy::SecretString;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};

use crate::{
    AuthUser, BoxError, UserStore,
    password::{self, PasswordCredentials, PasswordError},
};

/// Where a user's row lives and which columns mean what.
///
/// Table and column names are plain names: the store quotes them for the database (`"users"` on
/// PostgreSQL and SQLite, `` `users` `` on MySQL). A dotted table name (`auth.users`) is quoted
/// part by part.
///
/// Custom queries ([`with_load_query`](Self::with_load_query),
/// [`with_authenticate_query`](Self::with_authenticate_query)) write their one parameter as `$1`
/// on every database; the store turns it into `?` for SQLite and MySQL. They must return the
/// columns that [`SqlxUser::from_row`] reads.
///
/// ```
/// use axum_login::{JoinTable, UserTable};
///
/// const USERS: UserTable = UserTable::new("users", "id", "email", "password_hash")
///     .with_columns(&["id", "email", "password_hash", "display_name"])
///     .with_roles(JoinTable::new("user_roles", "user_id", "role"));
/// assert_eq!(USERS.username_column(), "email");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct UserTable {
    table: &'static str,
    id_column: &'static str,
    username_column: &'static str,
    password_hash_column: &'static str,
    columns: &'static [&'static str],
    load_query: Option<&'static str>,
    authenticate_query: Option<&'static str>,
    roles: Option<JoinTable>,
    permissions: Option<JoinTable>,
}

impl UserTable {
    /// The users table, with its id, username and password hash columns; the row is read with
    /// `SELECT *` until [`with_columns`](Self::with_columns) names the columns.
    pub const fn new(
        table: &'static str,
        id_column: &'static str,
        username_column: &'static str,
        password_hash_column: &'static str,
    ) -> Self {
        Self {
            table,
            id_column,
            username_column,
            password_hash_column,
            columns: &[],
            load_query: None,
            authenticate_query: None,
            roles: None,
            permissions: None,
        }
    }

    /// The columns to select, in the order [`SqlxUser::from_row`] expects them.
    pub const fn with_columns(mut self, columns: &'static [&'static str]) -> Self {
        self.columns = columns;
        self
    }

    /// The query that loads a user by id (`$1`), instead of the generated one.
    pub const fn with_load_query(mut self, sql: &'static str) -> Self {
        self.load_query = Some(sql);
        self
    }

    /// The query that finds a user by username (`$1`), instead of the generated one.
    pub const fn with_authenticate_query(mut self, sql: &'static str) -> Self {
        self.authenticate_query = Some(sql);
        self
    }

    /// The table the user's role names come from.
    pub const fn with_roles(mut self, table: JoinTable) -> Self {
        self.roles = Some(table);
        self
    }

    /// The table the user's permission names come from.
    pub const fn with_permissions(mut self, table: JoinTable) -> Self {
        self.permissions = Some(table);
        self
    }

    /// The users table.
    pub const fn table(&self) -> &'static str {
        self.table
    }

    /// The id column.
    pub const fn id_column(&self) -> &'static str {
        self.id_column
    }

    /// The username column.
    pub const fn username_column(&self) -> &'static str {
        self.username_column
    }

    /// The password hash column.
    pub const fn password_hash_column(&self) -> &'static str {
        self.password_hash_column
    }
}

/// A table of `(user id, name)` rows: the roles or permissions each user holds.
#[derive(Debug, Clone, Copy)]
pub struct JoinTable {
    table: &'static str,
    user_id_column: &'static str,
    value_column: &'static str,
}

impl JoinTable {
    /// `table`, whose `user_id_column` holds the user's id and `value_column` a role or
    /// permission name.
    pub const fn new(
        table: &'static str,
        user_id_column: &'static str,
        value_column: &'static str,
    ) -> Self {
        Self {
            table,
            user_id_column,
            value_column,
        }
    }
}

/// A user type that [`SqlxStore`] can load from database `DB`.
///
/// # `#[derive(UserStore)]`
///
/// The derive implements it for every sqlx database at once, from the same `#[auth(...)]`
/// attributes as `#[derive(AuthUser)]` (derive both):
///
/// ```
/// use axum_login::{AuthUser, Role, UserStore};
/// use secrecy::SecretString;
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Role)]
/// enum Access {
///     Admin,
///     User,
/// }
///
/// #[derive(Clone, Debug, AuthUser, UserStore)]
/// #[user_store(table = "users")]
/// struct User {
///     #[auth(id)]
///     id: i64,
///     #[auth(username, column = "email")]
///     email: String,
///     #[auth(password_hash)]
///     password_hash: SecretString,
///     #[auth(role)]
///     role: Access,
/// }
///
/// type Store = axum_login::SqlxStore<User, sqlx::Sqlite>;
/// ```
///
/// On the struct, `#[user_store(...)]` takes:
///
/// | key | meaning |
/// | --- | --- |
/// | `table = "users"` | the users table (required) |
/// | `roles_table = "user_roles"` | fills the `#[auth(roles)]` collection from `(user_id, role)` rows |
/// | `permissions_table = "user_permissions"` | fills `#[auth(permissions)]` from `(user_id, permission)` rows |
/// | `user_id_column = "..."` | the user id column of those tables (default `user_id`) |
/// | `role_column`, `permission_column` | their name columns (defaults `role`, `permission`) |
/// | `load_query = "..."` | the query that loads a user by id, written with `$1` |
/// | `authenticate_query = "..."` | the query that finds a user by username, written with `$1` |
///
/// Every field is a column of the users table, named like the field unless
/// `#[auth(column = "...")]` says otherwise, except the collections filled from a roles or
/// permissions table and fields marked `#[user_store(skip)]` (both start from `Default`). An
/// `#[auth(role)]` field is read from its column through the role's sqlx impl (its name as
/// text). The password hash field may be `String`, `SecretString`, or an `Option` of one; a
/// `NULL` hash never verifies. Custom queries must return the columns the struct reads; their one
/// parameter is written `$1` on every database and sent as `?` to SQLite and MySQL.
///
/// Roles and permissions from tables cost one query per table when a user is loaded.
///
/// # By hand
///
/// For a schema the derive cannot describe:
///
/// ```
/// use axum_login::{AuthUser, SqlxUser, UserTable};
/// use sqlx::{Row, Sqlite, sqlite::SqliteRow};
///
/// #[derive(Clone)]
/// struct User {
///     id: i64,
///     name: String,
///     password_hash: String,
/// }
///
/// impl AuthUser for User {
///     type Id = i64;
///     fn id(&self) -> i64 {
///         self.id
///     }
///     fn session_auth_hash(&self) -> &[u8] {
///         self.password_hash.as_bytes()
///     }
/// }
///
/// impl SqlxUser<Sqlite> for User {
///     const TABLE: UserTable = UserTable::new("users", "id", "name", "password_hash")
///         .with_columns(&["id", "name", "password_hash"]);
///
///     fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
///         Ok(Self {
///             id: row.try_get("id")?,
///             name: row.try_get("name")?,
///             password_hash: row.try_get("password_hash")?,
///         })
///     }
///     fn password_hash(&self) -> &str {
///         &self.password_hash
///     }
///     fn set_password_hash(&mut self, hash: String) {
///         self.password_hash = hash;
///     }
/// }
///
/// type Store = axum_login::SqlxStore<User, Sqlite>;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be loaded from a `{DB}` database: it does not implement `SqlxUser<{DB}>`",
    label = "this user type has no sqlx store",
    note = "add `#[derive(UserStore)]` and `#[user_store(table = \"users\")]` to the struct, or implement `axum_login::SqlxUser` by hand"
)]
pub trait SqlxUser<DB: Database>: AuthUser + Unpin {
    /// The user's table and columns.
    const TABLE: UserTable;

    /// The user from a row of the load or authenticate query; fields loaded from a join table
    /// start empty and are filled by [`set_roles`](Self::set_roles) and
    /// [`set_permissions`](Self::set_permissions).
    fn from_row(row: &DB::Row) -> Result<Self, sqlx::Error>;

    /// The stored password hash (a PHC string).
    fn password_hash(&self) -> &str;

    /// Replaces the password hash, after the store saved a new one.
    fn set_password_hash(&mut self, hash: String);

    /// Takes the role names read from the roles table.
    fn set_roles(&mut self, names: Vec<String>) -> Result<(), BoxError> {
        let _ = names;
        Ok(())
    }

    /// Takes the permission names read from the permissions table.
    fn set_permissions(&mut self, names: Vec<String>) -> Result<(), BoxError> {
        let _ = names;
        Ok(())
    }
}

/// The error of a [`SqlxStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlxStoreError {
    /// A query failed.
    #[error("the user store's query failed: {0}")]
    Database(#[source] sqlx::Error),

    /// A column holds a value the user type cannot take, such as an unknown role name.
    #[error("column `{column}` holds a value that does not decode: {source}")]
    Decode {
        /// The column (`table.column` for a roles or permissions table).
        column: String,
        /// Why it does not decode; its message quotes the value.
        #[source]
        source: BoxError,
    },

    /// A password could not be hashed.
    #[error(transparent)]
    Password(#[from] PasswordError),
}

impl From<sqlx::Error> for SqlxStoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::ColumnDecode { index, source } => Self::Decode {
                column: index.trim_matches('"').to_owned(),
                source,
            },
            other => Self::Database(other),
        }
    }
}

/// How much work a [`SqlxStore`] has done, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SqlxStoreStats {
    /// Round trips to the database.
    pub queries: u64,
    /// Password hash verifications, including those against the stand-in hash for unknown
    /// usernames.
    pub hash_verifications: u64,
}

#[derive(Default)]
struct Counters {
    queries: AtomicU64,
    hash_verifications: AtomicU64,
}

/// The placeholder and identifier syntax of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    Sqlite,
    MySql,
}

impl Dialect {
    fn of<DB: Database>() -> Self {
        match DB::NAME {
            "PostgreSQL" => Self::Postgres,
            "MySQL" => Self::MySql,
            _ => Self::Sqlite,
        }
    }

    fn quote(self, name: &str) -> String {
        let quote = if self == Self::MySql { '`' } else { '"' };
        name.split('.')
            .map(|part| {
                let escaped = part.replace(quote, &format!("{quote}{quote}"));
                format!("{quote}{escaped}{quote}")
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// `sql` with its `$n` placeholders in this database's syntax, and the parameter each
    /// placeholder takes, in order (positional `?` needs a value per occurrence).
    fn render(self, sql: &str) -> Statement {
        let mut out = String::with_capacity(sql.len());
        let mut params = Vec::new();
        let mut quote: Option<char> = None;
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                    out.push(c);
                }
                None if matches!(c, '\'' | '"' | '`') => {
                    quote = Some(c);
                    out.push(c);
                }
                None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        digits.push(d);
                        chars.next();
                    }
                    let index: usize = digits.parse().unwrap_or(usize::MAX);
                    params.push(index);
                    if self == Self::Postgres {
                        out.push('$');
                        out.push_str(&digits);
                    } else {
                        out.push('?');
                    }
                }
                None => out.push(c),
            }
        }
        if self == Self::Postgres {
            params.sort_unstable();
            params.dedup();
        }
        Statement { sql: out, params }
    }
}

/// A statement rendered for one database.
#[derive(Debug)]
struct Statement {
    sql: String,
    /// The 1-based parameter of each bind, in bind order.
    params: Vec<usize>,
}

/// `$1, $2, ..., $n`.
fn placeholders(n: usize) -> String {
    let mut list = String::with_capacity(4 * n);
    for i in 1..=n {
        if i > 1 {
            list.push_str(", ");
        }
        let _ = write!(list, "${i}");
    }
    list
}

/// `statement` with each placeholder bound to its id.
fn bind_ids<'q, DB, Id>(
    statement: &'q Statement,
    ids: &[Id],
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    Id: for<'e> Encode<'e, DB> + Type<DB> + Clone + Send + 'q,
{
    let mut query = sqlx::query::<DB>(&statement.sql);
    for param in &statement.params {
        query = query.bind(ids[param - 1].clone());
    }
    query
}

/// The statements of a roles or permissions table.
#[derive(Debug)]
struct JoinSql {
    /// The names one user holds.
    one: Statement,
    /// `table.column`, for errors.
    column: String,
    /// The quoted table, user id column and name column, for loads of several users.
    table: String,
    user_id: String,
    value: String,
}

impl JoinSql {
    /// The names `n` users hold, each row `(the index of its user among the ids, name)`: the
    /// index is a text literal chosen by `CASE`, so no database has to decode the id column.
    fn many(&self, dialect: Dialect, n: usize) -> Statement {
        let mut sql = format!("SELECT CASE {}", self.user_id);
        for i in 1..=n {
            let _ = write!(sql, " WHEN ${i} THEN '{}'", i - 1);
        }
        let _ = write!(
            sql,
            " END, {} FROM {} WHERE {} IN ({})",
            self.value,
            self.table,
            self.user_id,
            placeholders(n)
        );
        dialect.render(&sql)
    }
}

/// What a join table grants.
#[derive(Debug, Clone, Copy)]
enum Grant {
    Roles,
    Permissions,
}

/// Every statement the store runs, rendered once at construction.
#[derive(Debug)]
struct Statements {
    dialect: Dialect,
    load: Statement,
    /// `SELECT ... WHERE id IN (`, for loads of several users; `None` with a custom load query,
    /// which takes one id.
    load_many: Option<String>,
    find: Statement,
    update_hash: Statement,
    insert: Statement,
    roles: Option<JoinSql>,
    permissions: Option<JoinSql>,
}

impl Statements {
    /// The roles and permissions tables the user type has.
    fn joins(&self) -> impl Iterator<Item = (&JoinSql, Grant)> {
        let roles = self.roles.as_ref().map(|join| (join, Grant::Roles));
        let permissions = self
            .permissions
            .as_ref()
            .map(|join| (join, Grant::Permissions));
        roles.into_iter().chain(permissions)
    }

    fn new(dialect: Dialect, table: &UserTable) -> Self {
        let q = |name: &str| dialect.quote(name);
        let columns = if table.columns.is_empty() {
            "*".to_owned()
        } else {
            table
                .columns
                .iter()
                .map(|c| q(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let select = |column: &str| {
            format!(
                "SELECT {columns} FROM {} WHERE {} = $1",
                q(table.table),
                q(column)
            )
        };
        let join = |join: &JoinTable| JoinSql {
            one: dialect.render(&format!(
                "SELECT {} FROM {} WHERE {} = $1",
                q(join.value_column),
                q(join.table),
                q(join.user_id_column)
            )),
            column: format!("{}.{}", join.table, join.value_column),
            table: q(join.table),
            user_id: q(join.user_id_column),
            value: q(join.value_column),
        };
        Self {
            dialect,
            load: dialect.render(
                &table
                    .load_query
                    .map_or_else(|| select(table.id_column), str::to_owned),
            ),
            load_many: table.load_query.is_none().then(|| {
                format!(
                    "SELECT {columns} FROM {} WHERE {} IN (",
                    q(table.table),
                    q(table.id_column)
                )
            }),
            find: dialect.render(
                &table
                    .authenticate_query
                    .map_or_else(|| select(table.username_column), str::to_owned),
            ),
            update_hash: dialect.render(&format!(
                "UPDATE {} SET {} = $1 WHERE {} = $2",
                q(table.table),
                q(table.password_hash_column),
                q(table.id_column)
            )),
            insert: dialect.render(&format!(
                "INSERT INTO {} ({}, {}) VALUES ($1, $2)",
                q(table.table),
                q(table.username_column),
                q(table.password_hash_column)
            )),
            roles: table.roles.as_ref().map(join),
            permissions: table.permissions.as_ref().map(join),
        }
    }
}

/// A [`UserStore`] on a sqlx pool: users of type `U` (see [`SqlxUser`]) in a database `DB`
/// (`sqlx::Sqlite`, `sqlx::Postgres` or `sqlx::MySql`).
///
/// - [`authenticate`](UserStore::authenticate) takes [`PasswordCredentials`], finds the user by
///   username and checks the password with argon2id on the password threads. An unknown username
///   is checked against a stand-in hash, so it takes as long as a wrong password. A hash with
///   outdated parameters is replaced on successful login.
/// - [`load_user`](UserStore::load_user) is one query, plus one per roles or permissions table.
///
/// The SQL is rendered for the database once, when the store is made. The app keeps the pool:
/// [`pool`](Self::pool) hands it out for the app's own queries.
///
/// ```
/// # use axum_login::{AuthUser, SqlxUser, UserTable};
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
    user: PhantomData<fn() -> U>,
}

impl<U, DB: Database> Clone for SqlxStore<U, DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            sql: self.sql.clone(),
            counters: self.counters.clone(),
            dialect: self.dialect,
            user: PhantomData,
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

const SCHEMA_SQLITE: &str = include_str!("../migrations/sqlite/0001_users.sql");
const SCHEMA_POSTGRES: &str = include_str!("../migrations/postgres/0001_users.sql");
const SCHEMA_MYSQL: &str = include_str!("../migrations/mysql/0001_users.sql");

impl<U: SqlxUser<DB>, DB: Database> SqlxStore<U, DB> {
    /// A store on `pool`, with the SQL rendered for `DB`.
    pub fn new(pool: Pool<DB>) -> Self {
        let dialect = Dialect::of::<DB>();
        Self {
            pool,
            sql: Arc::new(Statements::new(dialect, &U::TABLE)),
            counters: Arc::default(),
            dialect,
            user: PhantomData,
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
    U: SqlxUser<DB>,
    U::Id: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
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
        let mut query = sqlx::query::<DB>(&self.sql.insert.sql);
        for param in &self.sql.insert.params {
            query = match param {
                1 => query.bind(username.to_owned()),
                _ => query.bind(hash.clone()),
            };
        }
        self.count_query();
        query.execute(&self.pool).await?;
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
        let mut query = sqlx::query::<DB>(&self.sql.update_hash.sql);
        for param in &self.sql.update_hash.params {
            query = match param {
                1 => query.bind(hash.clone()),
                _ => query.bind(id.clone()),
            };
        }
        self.count_query();
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn find(&self, username: &str) -> Result<Option<U>, SqlxStoreError> {
        let mut query = sqlx::query::<DB>(&self.sql.find.sql);
        for _ in &self.sql.find.params {
            query = query.bind(username.to_owned());
        }
        self.count_query();
        let row = query.fetch_optional(&self.pool).await?;
        row.map(|row| U::from_row(&row))
            .transpose()
            .map_err(Into::into)
    }

    /// Gives `user` the `names` read from `join`; a name the user type does not know is an
    /// error naming the column.
    fn set_grant(
        grant: Grant,
        user: &mut U,
        join: &JoinSql,
        names: Vec<String>,
    ) -> Result<(), SqlxStoreError> {
        let set = match grant {
            Grant::Roles => user.set_roles(names),
            Grant::Permissions => user.set_permissions(names),
        };
        set.map_err(|source| SqlxStoreError::Decode {
            column: join.column.clone(),
            source,
        })
    }

    /// The user with `id` and its roles and permissions, all on one connection of the pool.
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
        let mut user = U::from_row(&row)?;
        self.load_grants(&mut conn, &mut user).await?;
        Ok(Some(user))
    }

    /// The users with `ids`, in their order: one query for the users and one per roles or
    /// permissions table, on one connection. With a custom load query (it takes one id), a
    /// load per id, side by side.
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
        let mut conn = self.pool.acquire().await?;
        self.count_query();
        let mut users: Vec<Option<U>> = std::iter::repeat_with(|| None).take(ids.len()).collect();
        for row in bind_ids(&statement, ids).fetch_all(&mut *conn).await? {
            let user = U::from_row(&row)?;
            if let Some(&slot) = slots.get(&user.id().to_string()) {
                users[slot] = Some(user);
            }
        }
        if !users.iter().any(Option::is_some) {
            return Ok(users);
        }
        for (join, grant) in self.sql.joins() {
            let mut names: Vec<Vec<String>> = vec![Vec::new(); ids.len()];
            let statement = join.many(self.sql.dialect, ids.len());
            self.count_query();
            for row in bind_ids(&statement, ids).fetch_all(&mut *conn).await? {
                let slot: String = row.try_get(0)?;
                let name: String = row.try_get(1)?;
                if let Some(list) = slot.parse::<usize>().ok().and_then(|i| names.get_mut(i)) {
                    list.push(name);
                }
            }
            for (user, names) in users.iter_mut().zip(names) {
                if let Some(user) = user {
                    Self::set_grant(grant, user, join, names)?;
                }
            }
        }
        Ok(users)
    }

    /// Fills in roles and permissions from their tables: one query per table.
    async fn load_grants(
        &self,
        conn: &mut DB::Connection,
        user: &mut U,
    ) -> Result<(), SqlxStoreError> {
        for (join, grant) in self.sql.joins() {
            let names = self.names(conn, &join.one, &user.id()).await?;
            Self::set_grant(grant, user, join, names)?;
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
            password::verify_dummy(password).await?;
            return Ok(None);
        };
        self.count_verification();
        let hash = user.password_hash().to_owned();
        let (valid, obsolete, password) = password::off_runtime(move || {
            let valid = password::verify_blocking(&password, &hash);
            (valid, valid && password::is_obsolete(&hash), password)
        })
        .await?;
        if !valid {
            return Ok(None);
        }
        if obsolete {
            let hash = password::hash_password(password).await?;
            self.save_hash(&user.id(), hash.clone()).await?;
            user.set_password_hash(hash);
        }
        if self.sql.roles.is_some() || self.sql.permissions.is_some() {
            let mut conn = self.pool.acquire().await?;
            self.load_grants(&mut conn, &mut user).await?;
        }
        Ok(Some(user))
    }
}

impl<U, DB> UserStore for SqlxStore<U, DB>
where
    DB: Database,
    U: SqlxUser<DB>,
    U::Id: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
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

    /// [`load_users`](Self::load_users) is one query per table.
    const BATCHED_LOADS: bool = true;

    async fn load_user(&self, id: &U::Id) -> Result<Option<U>, SqlxStoreError> {
        self.load(id).await
    }

    async fn load_users(&self, ids: &[U::Id]) -> Result<Vec<Option<U>>, SqlxStoreError> {
        self.load_many(ids).await
    }

    /// The lower-cased username, so every spelling of one account counts against one limit
    /// (MySQL compares usernames case-insensitively by default); unknown usernames get a key
    /// like any other.
    fn throttle_key(&self, credentials: &PasswordCredentials) -> Option<String> {
        Some(
            credentials
                .username
                .chars()
                .take(password::MAX_USERNAME_LEN + 1)
                .flat_map(char::to_lowercase)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rendered_per_database() {
        let sql = "SELECT a FROM t WHERE x = $1 AND y = '$2' AND z = $1";
        let pg = Dialect::Postgres.render(sql);
        assert_eq!(pg.sql, sql);
        assert_eq!(pg.params, [1]);
        let my = Dialect::MySql.render(sql);
        assert_eq!(my.sql, "SELECT a FROM t WHERE x = ? AND y = '$2' AND z = ?");
        assert_eq!(my.params, [1, 1]);
    }

    #[test]
    fn identifiers_are_quoted_per_database() {
        assert_eq!(Dialect::Postgres.quote("auth.users"), r#""auth"."users""#);
        assert_eq!(Dialect::Sqlite.quote(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(Dialect::MySql.quote("users"), "`users`");
    }

    #[test]
    fn generated_statements_use_the_table_description() {
        let table = UserTable::new("users", "user_id", "email", "hash")
            .with_columns(&["user_id", "email", "hash"])
            .with_roles(JoinTable::new("user_roles", "uid", "role"));
        let sql = Statements::new(Dialect::MySql, &table);
        assert_eq!(
            sql.find.sql,
            "SELECT `user_id`, `email`, `hash` FROM `users` WHERE `email` = ?"
        );
        assert_eq!(
            sql.update_hash.sql,
            "UPDATE `users` SET `hash` = ? WHERE `user_id` = ?"
        );
        assert_eq!(sql.update_hash.params, [1, 2]);
        assert_eq!(
            sql.roles.as_ref().map(|s| s.one.sql.as_str()),
            Some("SELECT `role` FROM `user_roles` WHERE `uid` = ?")
        );
        let roles = sql.roles.as_ref().expect("a roles table");
        assert_eq!(roles.column, "user_roles.role");
        let many = roles.many(Dialect::MySql, 2);
        assert_eq!(
            many.sql,
            "SELECT CASE `uid` WHEN ? THEN '0' WHEN ? THEN '1' END, `role` FROM `user_roles` WHERE `uid` IN (?, ?)"
        );
        assert_eq!(many.params, [1, 2, 1, 2]);
        let many = roles.many(Dialect::Postgres, 2);
        assert_eq!(many.params, [1, 2]);
        assert_eq!(
            sql.load_many.as_deref(),
            Some("SELECT `user_id`, `email`, `hash` FROM `users` WHERE `user_id` IN (")
        );
    }
}
