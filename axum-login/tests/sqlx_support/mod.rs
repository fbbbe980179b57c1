//! Fresh databases for each test, and hand-written user types (`SqlxUser` implemented without
//! the derive, as an app with its own needs would).
#![allow(dead_code, unreachable_pub)]

use std::{path::PathBuf, str::FromStr};

use axum_login::{
    AuthUser, Role, authz::ParseNameError, authz::PermissionRef, authz::RoleRef, error::BoxError,
    sqlx::JoinTable, sqlx::SqlxUser, sqlx::UserTable,
};
use sqlx::{
    ColumnIndex, ConnectOptions, Connection, Database, Decode, Pool, Row, Type,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

/// A role enum written by hand, stored as its name in a text column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Admin,
    User,
}

impl Access {
    pub fn as_name(&self) -> &'static str {
        Role::as_str(self)
    }
}

impl Role for Access {
    const ALL: &'static [Self] = &[Self::Admin, Self::User];

    fn as_str(&self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }

    fn satisfies(&self, required: &Self) -> bool {
        self == required || *self == Self::Admin
    }
}

impl FromStr for Access {
    type Err = ParseNameError;

    fn from_str(name: &str) -> Result<Self, ParseNameError> {
        Self::ALL
            .iter()
            .copied()
            .find(|role| role.as_str() == name)
            .ok_or_else(|| ParseNameError::new("role", name, &["admin", "user"]))
    }
}

impl<DB: Database> Type<DB> for Access
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Access
where
    String: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(<String as Decode<'r, DB>>::decode(value)?.parse()?)
    }
}

fn parse_all<T: FromStr<Err = ParseNameError>>(names: Vec<String>) -> Result<Vec<T>, BoxError> {
    names
        .iter()
        .map(|name| name.parse::<T>().map_err(Into::into))
        .collect()
}

/// The conventional `users` table, with the role in a column.
#[derive(Clone, Debug)]
pub struct HandUser {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Access,
}

impl AuthUser for HandUser {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.password_hash.as_bytes()
    }

    fn has_role(&self, role: RoleRef<'_>) -> bool {
        role.is_satisfied_by([&self.role])
    }
}

impl<DB: Database> SqlxUser<DB> for HandUser
where
    i64: for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    const TABLE: UserTable = UserTable::new("users", "id", "username", "password_hash")
        .with_columns(&["id", "username", "password_hash", "role"]);

    fn from_row(row: &DB::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: row.try_get("role")?,
        })
    }

    fn password_hash(&self) -> &str {
        &self.password_hash
    }

    fn set_password_hash(&mut self, hash: String) {
        self.password_hash = hash;
    }
}

/// The conventional tables, with roles and permissions from `user_roles` and
/// `user_permissions`; loaded through a custom query that names its parameter twice.
#[derive(Clone, Debug)]
pub struct TableUser {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub roles: Vec<Access>,
    pub permissions: Vec<String>,
}

impl AuthUser for TableUser {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.password_hash.as_bytes()
    }

    fn has_role(&self, role: RoleRef<'_>) -> bool {
        role.is_satisfied_by(&self.roles)
    }

    fn has_permission(&self, permission: PermissionRef<'_>) -> bool {
        permission.is_granted_by_names(&self.permissions)
    }
}

impl<DB: Database> SqlxUser<DB> for TableUser
where
    i64: for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    const TABLE: UserTable = UserTable::new("users", "id", "username", "password_hash")
        .with_columns(&["id", "username", "password_hash"])
        .with_load_query("SELECT id, username, password_hash FROM users WHERE id = $1 AND $1 > 0")
        .with_roles(JoinTable::new("user_roles", "user_id", "role"))
        .with_permissions(JoinTable::new("user_permissions", "user_id", "permission"));

    fn from_row(row: &DB::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            roles: Vec::new(),
            permissions: Vec::new(),
        })
    }

    fn password_hash(&self) -> &str {
        &self.password_hash
    }

    fn set_password_hash(&mut self, hash: String) {
        self.password_hash = hash;
    }

    fn set_roles(&mut self, names: Vec<String>) -> Result<(), BoxError> {
        self.roles = parse_all(names)?;
        Ok(())
    }

    fn set_permissions(&mut self, names: Vec<String>) -> Result<(), BoxError> {
        self.permissions = names;
        Ok(())
    }
}

/// Another table with other column names, and a case-insensitive login query.
#[derive(Clone, Debug)]
pub struct RenamedUser {
    pub account_id: i64,
    pub email: String,
    pub pw: String,
}

impl AuthUser for RenamedUser {
    type Id = i64;

    fn id(&self) -> i64 {
        self.account_id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.pw.as_bytes()
    }
}

impl<DB: Database> SqlxUser<DB> for RenamedUser
where
    i64: for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    const TABLE: UserTable = UserTable::new("accounts", "account_id", "email", "pw")
        .with_columns(&["account_id", "email", "pw"])
        .with_authenticate_query(
            "SELECT account_id, email, pw FROM accounts WHERE lower(email) = lower($1)",
        );

    fn from_row(row: &DB::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            account_id: row.try_get("account_id")?,
            email: row.try_get("email")?,
            pw: row.try_get("pw")?,
        })
    }

    fn password_hash(&self) -> &str {
        &self.pw
    }

    fn set_password_hash(&mut self, hash: String) {
        self.pw = hash;
    }
}

/// A role enum with the derive, stored as its name (`admin`, `user`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, axum_login::Role)]
pub enum Level {
    #[role(implies(User))]
    Admin,
    User,
}

/// The conventional `users` table, with the role in a column.
#[derive(Clone, Debug, axum_login::AuthUser, axum_login::UserStore)]
#[user_store(table = "users")]
pub struct User {
    #[auth(id)]
    pub id: i64,
    #[auth(username)]
    pub username: String,
    #[auth(password_hash)]
    pub password_hash: String,
    #[auth(role)]
    pub role: Level,
}

/// Roles and permissions from their tables, a secret hash, a field the store does not load, and a
/// custom load query that names its parameter twice.
#[derive(Clone, Debug, axum_login::AuthUser, axum_login::UserStore)]
#[user_store(
    table = "users",
    roles_table = "user_roles",
    permissions_table = "user_permissions",
    load_query = "SELECT id, username, password_hash FROM users WHERE id = $1 AND $1 > 0"
)]
pub struct GrantsUser {
    #[auth(id)]
    pub id: i64,
    #[auth(username)]
    pub username: String,
    #[auth(password_hash)]
    pub password_hash: secrecy::SecretString,
    #[auth(roles)]
    pub roles: Vec<Level>,
    #[auth(permissions)]
    pub permissions: Vec<String>,
    #[user_store(skip)]
    pub note: Option<String>,
}

/// Roles and permissions from their tables with the generated load query, so several users
/// load in one query per table.
#[derive(Clone, Debug, axum_login::AuthUser, axum_login::UserStore)]
#[user_store(
    table = "users",
    roles_table = "user_roles",
    permissions_table = "user_permissions"
)]
pub struct TeamUser {
    #[auth(id)]
    pub id: i64,
    #[auth(username)]
    pub username: String,
    #[auth(password_hash)]
    pub password_hash: secrecy::SecretString,
    #[auth(roles)]
    pub roles: Vec<Level>,
    #[auth(permissions)]
    pub permissions: Vec<String>,
}

/// Other table and column names, and a case-insensitive login query.
#[derive(Clone, Debug, axum_login::AuthUser, axum_login::UserStore)]
#[user_store(
    table = "accounts",
    authenticate_query = "SELECT account_id, email, pw FROM accounts WHERE lower(email) = lower($1)"
)]
pub struct Account {
    #[auth(id, column = "account_id")]
    pub id: i64,
    #[auth(username, column = "email")]
    pub email: String,
    #[auth(password_hash, column = "pw")]
    pub pw: String,
}

/// The `accounts` table of [`RenamedUser`] and [`Account`].
pub fn renamed_schema<DB: Database>() -> &'static str {
    match DB::NAME {
        "PostgreSQL" => {
            "CREATE TABLE accounts (account_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, email TEXT NOT NULL UNIQUE, pw TEXT NOT NULL)"
        }
        "MySQL" => {
            "CREATE TABLE accounts (account_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, pw VARCHAR(255) NOT NULL)"
        }
        _ => {
            "CREATE TABLE accounts (account_id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE, pw TEXT NOT NULL)"
        }
    }
}

/// A test's own SQL, written with `$n`, for `DB`.
pub fn sql<DB: Database>(sql: &str) -> String {
    if DB::NAME == "PostgreSQL" {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

enum Cleanup {
    Nothing,
    File(PathBuf),
    PgSchema { url: String, schema: String },
    MySqlDatabase { url: String, database: String },
}

/// A database of one test's own; [`finish`](Self::finish) removes it (best effort: a failed test
/// leaves it behind under a random name).
pub struct TestDb<DB: Database> {
    pub pool: Pool<DB>,
    cleanup: Cleanup,
}

impl<DB: Database> TestDb<DB> {
    pub async fn finish(self) {
        self.pool.close().await;
        match self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::PgSchema { url, schema } => {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            }
            Cleanup::MySqlDatabase { url, database } => {
                if let Ok(mut conn) = sqlx::MySqlConnection::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{database}`"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            }
        }
    }
}

fn unique_name() -> String {
    format!("axl_{:016x}", rand::random::<u64>())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// The server's URL from `var`, or the local default.
fn server_url(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// `None` (and a loud note) when the server cannot be reached outside CI; a failure under CI.
fn unreachable<T>(what: &str, url: &str, error: &dyn std::fmt::Display) -> Option<T> {
    assert!(!in_ci(), "{what} at {url} is unreachable under CI: {error}");
    eprintln!(
        "SKIPPED: {what} at {url} is unreachable ({error}); start it or set the URL to run this test"
    );
    None
}

pub async fn sqlite_memory() -> Option<TestDb<sqlx::Sqlite>> {
    // Each connection to `:memory:` is its own database: keep exactly one, forever.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(SqliteConnectOptions::from_str("sqlite::memory:").ok()?)
        .await
        .expect("in-memory SQLite");
    Some(TestDb {
        pool,
        cleanup: Cleanup::Nothing,
    })
}

pub async fn sqlite_file() -> Option<TestDb<sqlx::Sqlite>> {
    let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true),
        )
        .await
        .expect("SQLite file in the temp dir");
    Some(TestDb {
        pool,
        cleanup: Cleanup::File(path),
    })
}

pub async fn postgres() -> Option<TestDb<sqlx::Postgres>> {
    let url = server_url(
        "DATABASE_URL_POSTGRES",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let mut admin = match sqlx::PgConnection::connect(&url).await {
        Ok(conn) => conn,
        Err(error) => return unreachable("PostgreSQL", &url, &error),
    };
    let schema = unique_name();
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&mut admin)
        .await
        .expect("CREATE SCHEMA");
    let _ = admin.close().await;
    let options = PgConnectOptions::from_str(&url)
        .expect("a PostgreSQL URL")
        .options([("search_path", schema.as_str())])
        .disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .expect("PostgreSQL pool");
    Some(TestDb {
        pool,
        cleanup: Cleanup::PgSchema { url, schema },
    })
}

pub async fn mysql() -> Option<TestDb<sqlx::MySql>> {
    let url = server_url("DATABASE_URL_MYSQL", "mysql://root@127.0.0.1:3306/test");
    let mut admin = match sqlx::MySqlConnection::connect(&url).await {
        Ok(conn) => conn,
        Err(error) => return unreachable("MariaDB/MySQL", &url, &error),
    };
    let database = unique_name();
    sqlx::query(&format!("CREATE DATABASE `{database}`"))
        .execute(&mut admin)
        .await
        .expect("CREATE DATABASE");
    let _ = admin.close().await;
    let options = MySqlConnectOptions::from_str(&url)
        .expect("a MySQL URL")
        .database(&database)
        .disable_statement_logging();
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .expect("MariaDB pool");
    Some(TestDb {
        pool,
        cleanup: Cleanup::MySqlDatabase { url, database },
    })
}
