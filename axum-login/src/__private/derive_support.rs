//! What the code of `#[derive(Role)]` and `#[derive(Permission)]` calls, besides the public
//! traits.

use std::{fmt, marker::PhantomData, str::FromStr};

use serde::de::{self, Deserializer, Visitor};

use crate::authz::ParseNameError;

/// `Deserialize` for a `Role` or `Permission` enum: its name as a string; an unknown name is an
/// error listing the valid ones.
pub fn deserialize_name<'de, D, T>(deserializer: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = ParseNameError>,
{
    struct NameVisitor<T> {
        expecting: &'static str,
        marker: PhantomData<T>,
    }

    impl<T: FromStr<Err = ParseNameError>> Visitor<'_> for NameVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
            value.parse().map_err(E::custom)
        }
    }

    deserializer.deserialize_str(NameVisitor {
        expecting,
        marker: PhantomData,
    })
}

/// Stands in for `axum_login::accounts::EmailUser` when the `accounts` feature is off, so that
/// `#[auth(email)]` fails with one error that says to turn it on.
#[cfg(not(feature = "accounts"))]
pub trait EmailUser: AccountsFeatureIsOff {
    /// As the real trait's.
    fn email(&self) -> Option<&str>;

    /// As the real trait's.
    fn email_verified(&self) -> bool {
        false
    }
}

/// Stands in for `axum_login::accounts::EmailVerifiedField` when the `accounts` feature is off.
#[cfg(not(feature = "accounts"))]
pub trait EmailVerifiedField {
    /// As the real trait's.
    fn is_verified(&self) -> bool;
}

#[cfg(not(feature = "accounts"))]
impl<T> EmailVerifiedField for T {
    fn is_verified(&self) -> bool {
        false
    }
}

/// Stands in for `axum_login::accounts::EmailAddress` when the `accounts` feature is off.
#[cfg(not(feature = "accounts"))]
pub trait EmailAddress {
    /// As the real trait's.
    fn address(&self) -> Option<&str>;
}

#[cfg(not(feature = "accounts"))]
impl<T> EmailAddress for T {
    fn address(&self) -> Option<&str> {
        None
    }
}

/// Implemented by nothing: the bound that `#[auth(email)]` cannot meet without the feature.
#[cfg(not(feature = "accounts"))]
#[diagnostic::on_unimplemented(
    message = "`#[auth(email)]` needs the `accounts` feature of axum-login",
    label = "`{Self}` marks an email field, which only the `accounts` feature uses",
    note = "turn it on: `axum-login = {{ version = \"...\", features = [\"accounts\"] }}`, or remove `#[auth(email)]`"
)]
pub trait AccountsFeatureIsOff {}
