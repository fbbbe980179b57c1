//! What the option types of the features share: their setters, and a `Debug` that leaves out
//! the store they keep.

/// Builder setters, in an `impl` of an option type: for each `field: Type`, with its doc
/// comment, `pub fn field(self, field: Type) -> Self`, which sets the field.
macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $field(mut self, $field: $ty) -> Self {
                self.$field = $field;
                self
            }
        )*
    };
}

/// Implements `Debug` for the option type `$name`, which keeps its store as a `dyn` trait
/// object (with no `Debug` of its own): the listed fields, then `..` for the store.
macro_rules! debug_options {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(::core::stringify!($name))
                    $(.field(::core::stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use {debug_options, setters};
