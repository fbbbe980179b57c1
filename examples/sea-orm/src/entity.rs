//! The `seaorm_users` entity: one struct that is Sea-ORM's model, axum-login's user and the
//! description `SqlxStore` reads the table by.
//!
//! Each derive reads its own attributes: `#[sea_orm(...)]` for Sea-ORM, `#[auth(...)]` for
//! `AuthUser` and `UserStore`, `#[user_store(...)]` for `UserStore`.

use std::fmt;

use axum_login::{AuthUser, UserStore};
use sea_orm::entity::prelude::*;

/// What a user may do. Stored by name (`user`, `admin`) in `seaorm_users.role`.
///
/// `#[derive(axum_login::Role)]` gives it its names, `Display` and `FromStr`; Sea-ORM's
/// `DeriveValueType` with `value_type = "String"` stores it through those, and with this crate's
/// `sqlx` feature the `Role` derive also lets `SqlxStore` decode the same column. Named `Access`,
/// not `Role`, so that it does not hide `axum_login`'s `Role` trait and derive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, axum_login::Role, DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum Access {
    /// Any logged-in user.
    User,
    /// May open `/admin`; passes every check for [`Access::User`] too.
    #[role(implies(User))]
    Admin,
}

/// A row of `seaorm_users`, and the app's user.
///
/// Sea-ORM needs `Debug` on a model; it is written by hand below so that `{:?}` never prints the
/// password hash (Sea-ORM cannot load a column into a `secrecy::SecretString`). The session
/// keeps only a keyed digest of the hash.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel, AuthUser, UserStore)]
#[sea_orm(table_name = "seaorm_users")]
#[user_store(table = "seaorm_users")]
pub struct Model {
    /// The primary key, assigned by the database.
    #[sea_orm(primary_key)]
    #[auth(id)]
    pub id: i64,
    /// The name the user logs in with.
    #[sea_orm(unique)]
    #[auth(username)]
    pub username: String,
    /// The argon2id hash, as a PHC string.
    #[sea_orm(column_type = "Text")]
    #[auth(password_hash, allow_plain_string)]
    pub password_hash: String,
    /// What the user may do.
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    #[auth(role)]
    pub role: Access,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"[REDACTED]")
            .field("role", &self.role)
            .finish()
    }
}

/// The entity has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
