//! [`SqlxUser`]: what [`SqlxStore`](super::SqlxStore) needs to know about a user type to load
//! it from a database.

use sqlx::Database;

use super::UserTable;
use crate::{AuthUser, error::BoxError};

/// What [`SqlxStore`](super::SqlxStore) calls on its user type, taken from the type's
/// [`SqlxUser`] impl when the store is made. So `SqlxStore::new` is the one place that asks for
/// `SqlxUser<DB>`: a user type whose derived impl does not apply (a field sqlx cannot decode) is
/// reported once, there, and not again at every use of the store (the layer, each handler).
pub(crate) struct UserOps<U, DB: Database> {
    pub(crate) from_row: fn(&DB::Row) -> Result<U, sqlx::Error>,
    pub(crate) password_hash: fn(&U) -> &str,
    pub(crate) set_password_hash: fn(&mut U, String),
    pub(crate) set_roles: fn(&mut U, Vec<String>) -> Result<(), BoxError>,
    pub(crate) set_permissions: fn(&mut U, Vec<String>) -> Result<(), BoxError>,
    pub(crate) username_column: &'static str,
}

impl<U: SqlxUser<DB>, DB: Database> UserOps<U, DB> {
    pub(crate) fn of() -> Self {
        Self {
            from_row: U::from_row,
            password_hash: U::password_hash,
            set_password_hash: U::set_password_hash,
            set_roles: U::set_roles,
            set_permissions: U::set_permissions,
            username_column: U::TABLE.username_column(),
        }
    }
}

// By hand: a derive would ask `U: Clone` and `DB: Clone`, which function pointers do not need.
impl<U, DB: Database> Clone for UserOps<U, DB> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<U, DB: Database> Copy for UserOps<U, DB> {}

/// A user type that [`SqlxStore`](super::SqlxStore) can load from database `DB`.
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
/// Its keys and what they mean: [`UserStore`](derive@crate::UserStore).
///
/// Roles and permissions from tables come with the user's row in the same query: the generated
/// load selects each table's names as a JSON array. A custom `load_query` or
/// `authenticate_query` selects the row alone, and then costs one more query per table.
///
/// # By hand
///
/// For a schema the derive cannot describe:
///
/// ```
/// use axum_login::{AuthUser, sqlx::SqlxUser, sqlx::UserTable};
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

/// A field type that `#[derive(UserStore)]` can read from a column of a `DB` database: any type
/// sqlx decodes there. The derive asks for it on each loaded field, so that a type sqlx cannot
/// decode is reported on that field, saying how to fix it.
#[diagnostic::on_unimplemented(
    message = "the field type `{Self}` cannot be read from a `{DB}` column",
    label = "`SqlxStore` loads a field of type `{Self}` from a `{DB}` column",
    note = "implement `sqlx::Type<{DB}>` and `sqlx::Decode<'_, {DB}>` for it (`#[derive(sqlx::Type)]` does, for a newtype or an enum stored as text), or leave it out of the query with `#[user_store(skip)]`, which gives it `Default::default()`"
)]
pub trait DecodeColumn<DB: Database>: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB> {}

// Not recommended: a type that is not decodable is then reported as not `DecodeColumn`, with
// the message above, rather than as two bare sqlx bounds.
#[diagnostic::do_not_recommend]
impl<T, DB> DecodeColumn<DB> for T
where
    DB: Database,
    T: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
{
}
