//! What the code of `#[derive(UserStore)]` calls, reached through `__private`.

/// Compiles only for a type that implements `AuthUser`: the check `#[derive(UserStore)]` emits
/// when the `sqlx` feature is off, so that a missing `#[derive(AuthUser)]` is reported the same
/// way with or without it.
pub fn assert_auth_user<T: crate::AuthUser>() {}

/// The `SqlxUser` impl of `#[derive(UserStore)]`: its first group with the `sqlx` feature, the
/// second without it.
#[cfg(feature = "sqlx")]
#[doc(hidden)]
#[macro_export]
macro_rules! __axum_login_sqlx_user {
    ({ $($with:tt)* } { $($without:tt)* }) => { $($with)* };
}

/// The `SqlxUser` impl of `#[derive(UserStore)]`: its first group with the `sqlx` feature, the
/// second without it.
#[cfg(not(feature = "sqlx"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __axum_login_sqlx_user {
    ({ $($with:tt)* } { $($without:tt)* }) => { $($without)* };
}

#[cfg(feature = "sqlx")]
pub use self::with_sqlx::*;

#[cfg(feature = "sqlx")]
mod with_sqlx {
    use std::str::FromStr;

    use secrecy::{ExposeSecret, SecretString};

    use crate::error::BoxError;

    /// The type of an `#[auth(password_hash)]` field that `#[derive(UserStore)]` loads.
    ///
    /// The column is read as an optional text: `NULL` is an account without a password (one that
    /// logs in only through another provider), whose empty hash never verifies.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot hold the password hash that `#[derive(UserStore)]` loads",
        label = "the password hash field must be a string",
        note = "use `secrecy::SecretString` (its `Debug` never prints the hash), `String`, or an `Option` of one of them"
    )]
    pub trait PasswordHashField {
        /// The field's value for the column's content.
        fn from_stored(hash: Option<String>) -> Self;
        /// The hash as a PHC string; empty when there is none.
        fn as_hash(&self) -> &str;
    }

    impl PasswordHashField for String {
        fn from_stored(hash: Option<String>) -> Self {
            hash.unwrap_or_default()
        }

        fn as_hash(&self) -> &str {
            self
        }
    }

    impl PasswordHashField for SecretString {
        fn from_stored(hash: Option<String>) -> Self {
            SecretString::from(hash.unwrap_or_default())
        }

        fn as_hash(&self) -> &str {
            self.expose_secret()
        }
    }

    impl<T: PasswordHashField> PasswordHashField for Option<T> {
        fn from_stored(hash: Option<String>) -> Self {
            hash.map(|hash| T::from_stored(Some(hash)))
        }

        fn as_hash(&self) -> &str {
            self.as_ref().map_or("", T::as_hash)
        }
    }

    /// A roles or permissions collection from the names read out of its table.
    pub fn from_names<C, T>(names: Vec<String>) -> Result<C, BoxError>
    where
        C: FromIterator<T> + IntoIterator<Item = T>,
        T: FromStr,
        T::Err: Into<BoxError>,
    {
        names
            .iter()
            .map(|name| name.parse::<T>().map_err(Into::into))
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use std::collections::BTreeSet;

        use super::*;

        #[test]
        fn a_null_hash_is_empty() {
            assert_eq!(String::from_stored(None), "");
            assert_eq!(Option::<SecretString>::from_stored(None).as_hash(), "");
            assert_eq!(SecretString::from_stored(Some("h".into())).as_hash(), "h");
        }

        #[test]
        fn names_fill_any_collection() {
            let names = vec!["b".to_owned(), "a".to_owned()];
            let set: BTreeSet<String> = from_names(names).expect("strings always parse");
            assert_eq!(set.into_iter().collect::<Vec<_>>(), ["a", "b"]);
            let numbers: Result<Vec<u8>, _> = from_names(vec!["x".into()]);
            assert!(numbers.is_err());
        }
    }
}
