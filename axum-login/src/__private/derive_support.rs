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
