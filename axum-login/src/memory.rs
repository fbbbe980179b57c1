//! What the bounded in-memory stores share: their default bound and their `Debug` form.

/// How many entries a bounded in-memory store keeps unless told otherwise.
pub(crate) const DEFAULT_MAX: usize = 100_000;

/// Implements, for the bounded in-memory store `$name` (with `new(max)` and `len()`),
/// `Default`, a store of at most [`DEFAULT_MAX`] entries, and a `Debug` that shows how many
/// entries it holds (as `$entries`) and its bound (the field `$max`), never the entries: they
/// are sessions and login counters, which have no place in a log.
macro_rules! bounded_store {
    ($name:ident, $entries:literal, $max:ident) => {
        impl ::core::default::Default for $name {
            fn default() -> Self {
                Self::new($crate::memory::DEFAULT_MAX)
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(::core::stringify!($name))
                    .field($entries, &self.len())
                    .field(::core::stringify!($max), &self.$max)
                    .finish()
            }
        }
    };
}

pub(crate) use bounded_store;
