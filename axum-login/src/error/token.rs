//! [`NewTokenError`]: an API token that cannot be created as asked. It lives with the other
//! errors, not in `tokens`, so that [`AuthError`](super::AuthError) can hold it while `tokens`
//! depends on `error` and not the other way round.

use std::time::Duration;

/// A token that cannot be created as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NewTokenError {
    /// The name is empty or longer than 100 characters.
    #[error("a token's name is 1 to 100 characters")]
    Name,
    /// A scope is empty, longer than 100 characters, or has characters other than
    /// `A-Za-z0-9:._-`.
    #[error("a scope is 1 to 100 of the characters A-Z a-z 0-9 : . _ -, got {0:?}")]
    Scope(String),
    /// The lifetime is longer than [`ApiTokens::max_lifetime`](crate::tokens::ApiTokens::max_lifetime).
    #[error("a token lasts at most {max:?}")]
    TooLong {
        /// The longest allowed.
        max: Duration,
    },
}
