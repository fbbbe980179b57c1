//! The demo's user and its roles, and how the store reads them from the `users` table.

use axum_login::{AuthUser, SqlxUser, UserTable};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{Row, Sqlite, sqlite::SqliteRow};

/// What a user may do. Stored by name (`user`, `admin`) in `users.role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, axum_login::Role)]
pub enum Role {
    /// Any logged-in user.
    User,
    /// May open `/admin`; passes every check for [`Role::User`] too.
    #[role(implies(User))]
    Admin,
}

/// A row of `users`.
///
/// The password hash is a [`SecretString`], so `{:?}` never prints it; the session keeps only a
/// keyed digest of it, so changing it ends the user's other sessions.
#[derive(Clone, Debug, AuthUser)]
pub struct User {
    /// The primary key.
    #[auth(id)]
    pub id: i64,
    /// The name the user logs in with.
    #[auth(username)]
    pub username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    /// What the user may do.
    #[auth(role)]
    pub role: Role,
}

// Written by hand: `#[derive(UserStore)]` with `#[user_store(table = "users")]` generates this
// impl, but that derive is not finished yet. Replace this block with the derive once it is.
impl SqlxUser<Sqlite> for User {
    const TABLE: UserTable = UserTable::new("users", "id", "username", "password_hash")
        .with_columns(&["id", "username", "password_hash", "role"]);

    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            password_hash: SecretString::from(row.try_get::<String, _>("password_hash")?),
            role: row.try_get("role")?,
        })
    }

    fn password_hash(&self) -> &str {
        self.password_hash.expose_secret()
    }

    fn set_password_hash(&mut self, hash: String) {
        self.password_hash = SecretString::from(hash);
    }
}
