//! The errors and work counters of a [`SqlxStore`](super::SqlxStore).

use std::sync::atomic::AtomicU64;

use crate::{AuthError, error::BoxError, password::PasswordError};

/// The error of a [`SqlxStore`](super::SqlxStore).
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

    /// The store was asked to find a user by email address, but its table names no email
    /// column.
    #[error(
        "the users table has no email column: add `#[auth(email)]` to the email field of the user struct, or `UserTable::with_email(\"email\")` to a hand-written `SqlxUser::TABLE`"
    )]
    NoEmailColumn,

    /// The store was asked to mark an address confirmed, but its table names no
    /// email-verified column.
    #[error(
        "the users table has no email-verified column: add `#[auth(email_verified)]` to a `bool` field of the user struct, or `UserTable::with_email_verified(\"email_verified\")` to a hand-written `SqlxUser::TABLE`"
    )]
    NoEmailVerifiedColumn,

    /// A password could not be hashed. Its source is the [`PasswordError`], so that
    /// [`AuthError::store`](crate::AuthError::store) finds a refused new password through it.
    #[error("{0}")]
    Password(
        #[from]
        #[source]
        PasswordError,
    ),
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

impl From<SqlxStoreError> for AuthError {
    fn from(error: SqlxStoreError) -> Self {
        Self::store(error)
    }
}

/// How much work a [`SqlxStore`](super::SqlxStore) has done, for tests and metrics.
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
pub(super) struct Counters {
    pub(super) queries: AtomicU64,
    pub(super) hash_verifications: AtomicU64,
}
