//! The traits through which `#[derive(AuthUser)]`, `#[derive(Role)]` and `#[derive(Permission)]`
//! reach a field whatever its type: the derives call these instead of guessing from type names.

use std::{
    borrow::Cow,
    collections::{BTreeSet, HashSet, VecDeque},
    fmt,
    marker::PhantomData,
    rc::Rc,
    str::FromStr,
    sync::Arc,
};

use secrecy::{ExposeSecret, SecretBox, zeroize::Zeroize};
use serde::de::{self, Deserializer, Visitor};

use crate::{
    Permission, Role,
    authz::{ParseNameError, PermissionRef, RoleRef},
};

/// The bytes of an `#[auth(password_hash)]` field, returned by `session_auth_hash`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an `#[auth(password_hash)]` field",
    label = "the password hash must be a string or bytes",
    note = "use `secrecy::SecretString` (its `Debug` never prints the hash), `String`, `Vec<u8>`, `Box<[u8]>`, or an `Option` of one of them"
)]
pub trait AsSecretBytes {
    /// The secret's bytes; empty when there is none.
    fn as_secret_bytes(&self) -> &[u8];
}

impl AsSecretBytes for str {
    fn as_secret_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsSecretBytes for String {
    fn as_secret_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsSecretBytes for [u8] {
    fn as_secret_bytes(&self) -> &[u8] {
        self
    }
}

impl AsSecretBytes for Vec<u8> {
    fn as_secret_bytes(&self) -> &[u8] {
        self
    }
}

impl AsSecretBytes for Cow<'_, str> {
    fn as_secret_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsSecretBytes for Cow<'_, [u8]> {
    fn as_secret_bytes(&self) -> &[u8] {
        self
    }
}

impl<T: AsSecretBytes + ?Sized> AsSecretBytes for &T {
    fn as_secret_bytes(&self) -> &[u8] {
        (**self).as_secret_bytes()
    }
}

impl<T: AsSecretBytes + ?Sized> AsSecretBytes for Box<T> {
    fn as_secret_bytes(&self) -> &[u8] {
        (**self).as_secret_bytes()
    }
}

impl<T: AsSecretBytes + ?Sized> AsSecretBytes for Arc<T> {
    fn as_secret_bytes(&self) -> &[u8] {
        (**self).as_secret_bytes()
    }
}

impl<T: AsSecretBytes> AsSecretBytes for Option<T> {
    fn as_secret_bytes(&self) -> &[u8] {
        self.as_ref().map_or(&[], AsSecretBytes::as_secret_bytes)
    }
}

/// `secrecy::SecretString` and `secrecy::SecretSlice<u8>`.
impl<S: AsSecretBytes + Zeroize + ?Sized> AsSecretBytes for SecretBox<S> {
    fn as_secret_bytes(&self) -> &[u8] {
        self.expose_secret().as_secret_bytes()
    }
}

/// The type of an `#[auth(roles)]` field: a collection of one `Role` enum.
///
/// Implemented for each standard collection rather than for every `&C: IntoIterator`, so that
/// a field of another type gets the message below instead of an iterator error.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a collection of roles",
    label = "`#[auth(roles)]` needs a collection of a `#[derive(Role)]` enum",
    note = "use `Vec<R>`, `HashSet<R>`, `BTreeSet<R>`, `VecDeque<R>`, `[R; N]`, `Box<[R]>` or `Option<R>` where `R` derives `Role`; for a field holding one role, write `#[auth(role)]`"
)]
pub trait RoleSet {
    /// Whether a role in the set satisfies `required`.
    fn has_role(&self, required: RoleRef<'_>) -> bool;
}

/// The type of an `#[auth(permissions)]` field: a collection of one `Permission` enum, or of
/// permission names.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a collection of permissions",
    label = "`#[auth(permissions)]` needs a collection of permissions",
    note = "use `Vec<P>`, `HashSet<P>`, `BTreeSet<P>`, `VecDeque<P>`, `[P; N]` or `Box<[P]>` where `P` derives `Permission` or is `String`"
)]
pub trait PermissionSet {
    /// Whether a permission in the set grants `required`.
    fn has_permission(&self, required: PermissionRef<'_>) -> bool;
}

/// An element of an `#[auth(permissions)]` collection: a `Permission` enum or a name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a permission",
    label = "`#[auth(permissions)]` needs elements that derive `Permission`, or strings",
    note = "add `#[derive(Permission)]` to the enum, or hold the permissions as `String`s"
)]
pub trait PermissionItem {
    /// Whether any of `held` grants `required`.
    fn granted<'h, I>(required: &PermissionRef<'_>, held: I) -> bool
    where
        Self: 'h,
        I: Iterator<Item = &'h Self>;
}

impl<P: Permission + PartialEq> PermissionItem for P {
    fn granted<'h, I>(required: &PermissionRef<'_>, held: I) -> bool
    where
        Self: 'h,
        I: Iterator<Item = &'h Self>,
    {
        required.is_granted_by(held)
    }
}

macro_rules! permission_names {
    ($($ty:ty),*) => {$(
        impl PermissionItem for $ty {
            fn granted<'h, I>(required: &PermissionRef<'_>, held: I) -> bool
            where
                Self: 'h,
                I: Iterator<Item = &'h Self>,
            {
                required.is_granted_by_names(held)
            }
        }
    )*};
}

permission_names!(String, &str, Box<str>, Arc<str>, Rc<str>, Cow<'_, str>);

macro_rules! collections {
    ($(impl<$item:ident $(, $extra:ident)* $(; const $n:ident: usize)?> for $ty:ty;)*) => {$(
        impl<$item: Role $(, $extra)* $(, const $n: usize)?> RoleSet for $ty {
            fn has_role(&self, required: RoleRef<'_>) -> bool {
                required.is_satisfied_by(self.iter())
            }
        }

        impl<$item: PermissionItem $(, $extra)* $(, const $n: usize)?> PermissionSet for $ty {
            fn has_permission(&self, required: PermissionRef<'_>) -> bool {
                $item::granted(&required, self.iter())
            }
        }
    )*};
}

collections! {
    impl<T> for Vec<T>;
    impl<T> for VecDeque<T>;
    impl<T, S> for HashSet<T, S>;
    impl<T> for BTreeSet<T>;
    impl<T> for [T];
    impl<T; const N: usize> for [T; N];
    impl<T> for Box<[T]>;
    impl<T> for Arc<[T]>;
    impl<T> for Option<T>;
}

impl<C: RoleSet + ?Sized> RoleSet for &C {
    fn has_role(&self, required: RoleRef<'_>) -> bool {
        (**self).has_role(required)
    }
}

impl<C: PermissionSet + ?Sized> PermissionSet for &C {
    fn has_permission(&self, required: PermissionRef<'_>) -> bool {
        (**self).has_permission(required)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_bytes_of_each_supported_type() {
        assert_eq!("a".to_string().as_secret_bytes(), b"a");
        assert_eq!(vec![1u8, 2].as_secret_bytes(), [1, 2]);
        assert_eq!(Box::<[u8]>::from(&b"x"[..]).as_secret_bytes(), b"x");
        assert_eq!(Cow::Borrowed("c").as_secret_bytes(), b"c");
        assert_eq!(None::<String>.as_secret_bytes(), b"");
        assert_eq!(Some("s".to_string()).as_secret_bytes(), b"s");
        assert_eq!(secrecy::SecretString::from("h").as_secret_bytes(), b"h");
    }

    #[test]
    fn permission_names_grant_by_name() {
        let held = vec!["posts.read".to_string()];
        assert!(held.has_permission(PermissionRef::from_name("posts.read")));
        assert!(!held.has_permission(PermissionRef::from_name("posts.write")));
        let held: HashSet<&str> = ["a"].into();
        assert!(held.has_permission(PermissionRef::from_name("a")));
    }
}
