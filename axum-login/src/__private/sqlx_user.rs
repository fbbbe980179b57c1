//! What the code of `#[derive(UserStore)]` calls, reached through `__private`.

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

    use crate::error::BoxError;

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
        fn names_fill_any_collection() {
            let names = vec!["b".to_owned(), "a".to_owned()];
            let set: BTreeSet<String> = from_names(names).expect("strings always parse");
            assert_eq!(set.into_iter().collect::<Vec<_>>(), ["a", "b"]);
            let numbers: Result<Vec<u8>, _> = from_names(vec!["x".into()]);
            assert!(numbers.is_err());
        }
    }
}
