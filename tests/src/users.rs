//! The user and role types the suites share: a hand-written role enum, users with `SqlxUser`
//! implemented by hand and by the derive, the security suite's user with an `active` flag, and
//! its seed password.

use std::str::FromStr;

use axum_login::{
    AuthUser, Role,
    authz::{ParseNameError, PermissionRef, RoleRef},
    error::BoxError,
    sqlx::{JoinTable, SqlxUser, UserTable},
};
use sqlx::{ColumnIndex, Database, Decode, Row, Type};
use tokio::sync::OnceCell;

/// The one password every seeded SQL user of the security suite starts with.
pub const PASSWORD: &str = "hunter42";

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
    #[auth(password_hash, allow_plain_string)]
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

/// Roles and permissions from their tables with the generated load query, which selects them
/// with the user: one user or several load in one query.
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
    #[auth(password_hash, column = "pw", allow_plain_string)]
    pub pw: String,
}

/// A row of the security suite's `users` table: a role and an `active` flag.
#[derive(Clone, Debug)]
pub struct SqlUser {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Access,
    pub active: bool,
}

impl AuthUser for SqlUser {
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

    fn is_active(&self) -> bool {
        self.active
    }
}

impl<DB: Database> SqlxUser<DB> for SqlUser
where
    i64: for<'r> Decode<'r, DB> + Type<DB>,
    bool: for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    const TABLE: UserTable = UserTable::new("users", "id", "username", "password_hash")
        .with_columns(&["id", "username", "password_hash", "role", "active"]);

    fn from_row(row: &DB::Row) -> Result<Self, sqlx::Error> {
        let role: String = row.try_get("role")?;
        Ok(Self {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: role.parse().map_err(|error| sqlx::Error::ColumnDecode {
                index: "role".into(),
                source: Box::new(error),
            })?,
            active: row.try_get("active")?,
        })
    }

    fn password_hash(&self) -> &str {
        &self.password_hash
    }

    fn set_password_hash(&mut self, hash: String) {
        self.password_hash = hash;
    }
}

/// One argon2id hash of [`PASSWORD`] per test process: debug-mode argon2 takes seconds, so the
/// seeded users share it.
pub async fn password_hash() -> String {
    static HASH: OnceCell<String> = OnceCell::const_new();
    HASH.get_or_init(|| async {
        axum_login::hash_password(PASSWORD.into())
            .await
            .expect("hash the seed password")
    })
    .await
    .clone()
}
