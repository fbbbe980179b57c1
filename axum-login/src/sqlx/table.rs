//! [`UserTable`] and [`JoinTable`]: where a user's row, roles and permissions live.

/// Where a user's row lives and which columns mean what.
///
/// Table and column names are plain names: the store quotes them for the database (`"users"` on
/// PostgreSQL, `` `users` `` on SQLite and MySQL; on SQLite a double-quoted name that is no
/// column would be read as a string). A dotted table name (`auth.users`) is quoted part by part.
///
/// Custom queries ([`with_load_query`](Self::with_load_query),
/// [`with_authenticate_query`](Self::with_authenticate_query)) write their one parameter as `$1`
/// on every database; the store turns it into `?` for SQLite and MySQL. They must return the
/// columns that [`SqlxUser::from_row`](super::SqlxUser::from_row) reads.
///
/// ```
/// use axum_login::{sqlx::JoinTable, sqlx::UserTable};
///
/// const USERS: UserTable = UserTable::new("users", "id", "email", "password_hash")
///     .with_columns(&["id", "email", "password_hash", "display_name"])
///     .with_roles(JoinTable::new("user_roles", "user_id", "role"));
/// assert_eq!(USERS.username_column(), "email");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct UserTable {
    pub(super) table: &'static str,
    pub(super) id_column: &'static str,
    pub(super) username_column: &'static str,
    pub(super) password_hash_column: &'static str,
    pub(super) email_column: Option<&'static str>,
    pub(super) email_verified_column: Option<&'static str>,
    pub(super) columns: &'static [&'static str],
    pub(super) load_query: Option<&'static str>,
    pub(super) authenticate_query: Option<&'static str>,
    pub(super) roles: Option<JoinTable>,
    pub(super) permissions: Option<JoinTable>,
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
            email_column: None,
            email_verified_column: None,
            columns: &[],
            load_query: None,
            authenticate_query: None,
            roles: None,
            permissions: None,
        }
    }

    /// The columns to select, in the order [`SqlxUser::from_row`](super::SqlxUser::from_row) expects them.
    pub const fn with_columns(mut self, columns: &'static [&'static str]) -> Self {
        self.columns = columns;
        self
    }

    /// The column of the user's email address, which
    /// [`SqlxStore::find_by_email`](super::SqlxStore::find_by_email) (and password reset by
    /// mail, feature `accounts`) finds users by. Compared as the column compares: exactly on
    /// PostgreSQL and SQLite unless its collation says otherwise (`citext`, `COLLATE NOCASE`),
    /// ignoring case on MySQL/MariaDB by default; store addresses lower-cased, or give the
    /// column a case-insensitive collation, so that `Ferris@Example.com` finds
    /// `ferris@example.com`. `#[auth(email)]` on a field of a `#[derive(UserStore)]` struct
    /// sets it.
    pub const fn with_email(mut self, column: &'static str) -> Self {
        self.email_column = Some(column);
        self
    }

    /// The boolean column that says the user's email address is confirmed, which
    /// [`SqlxStore::mark_email_verified`](super::SqlxStore::mark_email_verified) sets (feature
    /// `accounts`). `#[auth(email_verified)]` on a `bool` field sets it.
    pub const fn with_email_verified(mut self, column: &'static str) -> Self {
        self.email_verified_column = Some(column);
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

    /// The email column, if the table has one ([`with_email`](Self::with_email)).
    pub const fn email_column(&self) -> Option<&'static str> {
        self.email_column
    }
}

/// A table of `(user id, name)` rows: the roles or permissions each user holds.
#[derive(Debug, Clone, Copy)]
pub struct JoinTable {
    pub(super) table: &'static str,
    pub(super) user_id_column: &'static str,
    pub(super) value_column: &'static str,
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
