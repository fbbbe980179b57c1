//! What the Redis stores share: the shell of their type and how they write times.

use std::time::SystemTime;

use crate::clock::to_millis;

/// Declares the shell of a Redis store: a struct of a `fred` client `C` and a key prefix,
/// `Clone`, a `Debug` that shows the prefix and never the client, `new` (keys under
/// `prefix`), `with_prefix`, `client`, and `key`, which puts the prefix before a name, so that
/// every key of every store is under the prefix. The store adds its trait impl.
macro_rules! redis_store {
    (
        $(#[$meta:meta])*
        pub struct $name:ident;
        new: $new:literal,
        prefix: $prefix:literal $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name<C> {
            client: C,
            prefix: ::std::string::String,
        }

        impl<C> ::core::fmt::Debug for $name<C> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("prefix", &self.prefix)
                    .finish_non_exhaustive()
            }
        }

        impl<C> $name<C> {
            #[doc = $new]
            pub fn new(client: C) -> Self {
                Self {
                    client,
                    prefix: ::std::borrow::ToOwned::to_owned($prefix),
                }
            }

            /// Keys start with `prefix` instead, e.g. to keep two apps apart on one server.
            pub fn with_prefix(mut self, prefix: impl ::core::convert::Into<::std::string::String>) -> Self {
                self.prefix = prefix.into();
                self
            }

            /// The client.
            pub fn client(&self) -> &C {
                &self.client
            }

            fn key(&self, name: impl ::core::fmt::Display) -> ::std::string::String {
                ::std::format!("{}{name}", self.prefix)
            }
        }
    };
}

pub(crate) use redis_store;

/// A time as the scripts take it: milliseconds since the Unix epoch, in decimal.
pub(crate) fn millis_text(time: SystemTime) -> String {
    to_millis(time).to_string()
}
