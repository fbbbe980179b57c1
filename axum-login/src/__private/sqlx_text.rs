//! sqlx support for `#[derive(Role)]` and `#[derive(Permission)]` enums: stored as their names in
//! a text column.
//!
//! The derives always emit a call to this macro; whether it expands to anything depends on this
//! crate's `sqlx` feature, not on the features of the crate that uses the derive.

/// `sqlx::Type`, `Encode` and `Decode` for a name enum, for every database whose `str` and
/// `String` are text.
#[cfg(feature = "sqlx")]
#[doc(hidden)]
#[macro_export]
macro_rules! __axum_login_sqlx_text {
    ($ty:ty, $as_str:expr) => {
        #[automatically_derived]
        impl<DB> $crate::__private::sqlx::Type<DB> for $ty
        where
            DB: $crate::__private::sqlx::Database,
            ::std::string::String: $crate::__private::sqlx::Type<DB>,
        {
            fn type_info() -> <DB as $crate::__private::sqlx::Database>::TypeInfo {
                <::std::string::String as $crate::__private::sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &<DB as $crate::__private::sqlx::Database>::TypeInfo) -> bool {
                <::std::string::String as $crate::__private::sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[automatically_derived]
        impl<'q, DB> $crate::__private::sqlx::Encode<'q, DB> for $ty
        where
            DB: $crate::__private::sqlx::Database,
            &'q str: $crate::__private::sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as $crate::__private::sqlx::Database>::ArgumentBuffer<'q>,
            ) -> ::core::result::Result<
                $crate::__private::sqlx::encode::IsNull,
                $crate::__private::sqlx::error::BoxDynError,
            > {
                <&'q str as $crate::__private::sqlx::Encode<'q, DB>>::encode(($as_str)(self), buf)
            }

            fn size_hint(&self) -> usize {
                <&'q str as $crate::__private::sqlx::Encode<'q, DB>>::size_hint(&($as_str)(self))
            }
        }

        #[automatically_derived]
        impl<'r, DB> $crate::__private::sqlx::Decode<'r, DB> for $ty
        where
            DB: $crate::__private::sqlx::Database,
            ::std::string::String: $crate::__private::sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as $crate::__private::sqlx::Database>::ValueRef<'r>,
            ) -> ::core::result::Result<Self, $crate::__private::sqlx::error::BoxDynError> {
                let name =
                    <::std::string::String as $crate::__private::sqlx::Decode<'r, DB>>::decode(
                        value,
                    )?;
                ::core::result::Result::Ok(::core::str::FromStr::from_str(&name)?)
            }
        }
    };
}

/// Without the `sqlx` feature there is nothing to implement.
#[cfg(not(feature = "sqlx"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __axum_login_sqlx_text {
    ($ty:ty, $as_str:expr) => {};
}
