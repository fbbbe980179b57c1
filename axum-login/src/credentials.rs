//! What a login sends the store: [`PasswordCredentials`], and the limits on them. The form a
//! browser posts, with the page to return to, is [`LoginForm`](crate::LoginForm).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The longest password, in bytes, that is ever hashed; a longer one is refused before any
/// hashing, so nobody can make the server hash megabytes per request.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// The longest username, in bytes, that is ever looked up; a longer one is refused like a wrong
/// password.
pub const MAX_USERNAME_LEN: usize = 256;

/// Why a new password is refused before it is hashed: a mistake in the request, which an app
/// answers with the form again (`AuthError::InvalidPassword` is a `422` as a response), never a
/// server error.
///
/// ```
/// use axum_login::credentials::{InvalidPassword, MAX_PASSWORD_LEN, check_new_password};
///
/// assert_eq!(check_new_password(""), Err(InvalidPassword::Empty));
/// assert_eq!(check_new_password(&"x".repeat(MAX_PASSWORD_LEN + 1)), Err(InvalidPassword::TooLong));
/// assert_eq!(check_new_password("correct-horse-battery"), Ok(()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPassword {
    /// The password is empty.
    #[error("the password is empty")]
    Empty,
    /// The password is longer than [`MAX_PASSWORD_LEN`] bytes.
    #[error("the password is longer than {MAX_PASSWORD_LEN} bytes")]
    TooLong,
}

/// Whether `password` may become a password: not empty, and at most [`MAX_PASSWORD_LEN`] bytes.
/// [`hash_password`](crate::hash_password) checks this before hashing; an app with rules of its
/// own (a minimum length) checks those too.
pub fn check_new_password(password: &str) -> Result<(), InvalidPassword> {
    if password.is_empty() {
        Err(InvalidPassword::Empty)
    } else if password.len() > MAX_PASSWORD_LEN {
        Err(InvalidPassword::TooLong)
    } else {
        Ok(())
    }
}

/// A username and a password, as a login form or a JSON body sends them.
///
/// Both fields are required: a body without one fails to deserialize, which axum's `Form` and
/// `Json` extractors answer with `4xx` before the handler runs. `Debug` never shows the password.
///
/// ```
/// use axum_login::PasswordCredentials;
///
/// let credentials: PasswordCredentials =
///     serde_json::from_str(r#"{"username": "ferris", "password": "hunter42"}"#).unwrap();
/// assert_eq!(credentials.username, "ferris");
/// assert!(!format!("{credentials:?}").contains("hunter42"));
///
/// assert!(serde_json::from_str::<PasswordCredentials>(r#"{"username": "ferris"}"#).is_err());
/// ```
#[derive(Clone, Deserialize)]
pub struct PasswordCredentials {
    /// The name the user logs in with (whatever the store's username column holds: a name, an
    /// email address, ...).
    pub username: String,
    /// The password, kept in a [`SecretString`] so it is zeroed on drop and never printed.
    pub password: SecretString,
}

impl PasswordCredentials {
    /// Credentials from a username and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// Whether both parts are within [`MAX_USERNAME_LEN`] and [`MAX_PASSWORD_LEN`]; credentials
    /// that are not must be refused without looking anything up or hashing anything.
    pub fn is_within_limits(&self) -> bool {
        self.username.len() <= MAX_USERNAME_LEN
            && self.password.expose_secret().len() <= MAX_PASSWORD_LEN
    }
}

impl fmt::Debug for PasswordCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordCredentials")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_password() {
        let credentials = PasswordCredentials::new("ferris", "hunter42");
        let debug = format!("{credentials:?}");
        assert!(debug.contains("ferris"));
        assert!(!debug.contains("hunter42"));
    }

    #[test]
    fn credentials_deserialize_from_a_form_and_refuse_a_missing_field() {
        let credentials: PasswordCredentials =
            serde_json::from_value(serde_json::json!({"username": "a", "password": "b"}))
                .expect("complete credentials");
        assert_eq!(credentials.password.expose_secret(), "b");
        assert!(
            serde_json::from_value::<PasswordCredentials>(serde_json::json!({"password": "b"}))
                .is_err()
        );
    }

    #[test]
    fn limits_are_inclusive() {
        assert!(PasswordCredentials::new("u", "p".repeat(MAX_PASSWORD_LEN)).is_within_limits());
        assert!(
            !PasswordCredentials::new("u", "p".repeat(MAX_PASSWORD_LEN + 1)).is_within_limits()
        );
        assert!(
            !PasswordCredentials::new("u".repeat(MAX_USERNAME_LEN + 1), "p").is_within_limits()
        );
    }
}
