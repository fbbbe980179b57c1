//! The [`AuthUser`] trait: what the framework needs to know about a user; and the password
//! hash field types that `#[derive(AuthUser)]` and `#[derive(UserStore)]` accept.

use std::{borrow::Cow, fmt::Display, sync::Arc};

use secrecy::{ExposeSecret, SecretBox, zeroize::Zeroize};
use serde::{Serialize, de::DeserializeOwned};

use crate::authz::{AuthzKinds, PermissionRef, RoleRef};

/// A user that can log in.
///
/// Derive it with `#[derive(AuthUser)]`, or implement it by hand: only [`id`](Self::id) and
/// [`session_auth_hash`](Self::session_auth_hash) are required.
///
/// The session stores the user's id and a keyed digest (HMAC-SHA256 under the layer's
/// [`SessionKey`](crate::SessionKey)) of [`session_auth_hash`](Self::session_auth_hash); it never
/// stores the hash itself. When the material changes (the user sets a new password), the digest no
/// longer matches and every session of that user ends on its next request.
///
/// ```
/// use axum_login::AuthUser;
///
/// #[derive(Clone)]
/// struct User {
///     id: u64,
///     password_hash: String,
/// }
///
/// impl AuthUser for User {
///     type Id = u64;
///
///     fn id(&self) -> u64 {
///         self.id
///     }
///
///     fn session_auth_hash(&self) -> &[u8] {
///         self.password_hash.as_bytes()
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a user type: it does not implement `AuthUser`",
    label = "this type must implement `AuthUser`",
    note = "add `#[derive(AuthUser)]` to the struct and mark its fields with `#[auth(id)]` and `#[auth(password_hash)]`, or implement `axum_login::AuthUser` by hand"
)]
pub trait AuthUser: Clone + Send + Sync + 'static {
    /// The type of the user's identifier, as stored in the session.
    type Id: Clone + Display + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The user's identifier.
    fn id(&self) -> Self::Id;

    /// The secret material whose change must end every session of this user: normally the
    /// password hash.
    ///
    /// A store that never sees a hash (an LDAP bind, an OAuth provider) returns an empty slice
    /// and gives the user a [`security_stamp`](Self::security_stamp) instead.
    fn session_auth_hash(&self) -> &[u8];

    /// A value that changes whenever the user's sessions must end: when the account is deleted
    /// and its id given to someone else, when an administrator wants every session gone, when
    /// the password changes in a system that holds no hash here. Sessions are bound to it as to
    /// the password hash (both go into the session's digest). Default: empty.
    ///
    /// Without a password hash and without a stamp, every user of a type has the same digest,
    /// and a session of a deleted user whose id is reused would belong to the new user. A random
    /// token set when the account is created (and replaced to end its sessions), or a counter
    /// raised on each such event, is enough. `#[derive(AuthUser)]` reads it from an
    /// `#[auth(security_stamp)]` field (see [`SecurityStamp`] for the types it takes).
    fn security_stamp(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&[])
    }

    /// Whether the user holds `role`, directly or through the role hierarchy.
    ///
    /// The default grants no role. `#[derive(AuthUser)]` implements it from an `#[auth(role)]` or
    /// `#[auth(roles)]` field; by hand, use [`RoleRef::is_satisfied_by`].
    fn has_role(&self, role: RoleRef<'_>) -> bool {
        let _ = role;
        false
    }

    /// Whether the user holds `permission`.
    ///
    /// The default grants no permission. `#[derive(AuthUser)]` implements it from an
    /// `#[auth(permissions)]` field; by hand, use [`PermissionRef::is_granted_by`] or
    /// [`PermissionRef::is_granted_by_names`].
    fn has_permission(&self, permission: PermissionRef<'_>) -> bool {
        let _ = permission;
        false
    }

    /// The kind of roles and of permissions users of this type hold, which guards compare their
    /// questions with before they ask.
    ///
    /// With it, a guard that asks for a role of another enum, or for a role or permission name
    /// that no variant has, answers a `500` naming both sides (a mistake in the app) instead of
    /// a `403` for everyone, and `not(..)` never lets everyone in. The default,
    /// [`AuthzKinds::UNKNOWN`], checks nothing: the guard asks [`has_role`](Self::has_role)
    /// and [`has_permission`](Self::has_permission) and takes their answer.
    /// `#[derive(AuthUser)]` implements it from the `#[auth(role)]`, `#[auth(roles)]` and
    /// `#[auth(permissions)]` fields.
    ///
    /// ```
    /// use axum_login::{AuthUser, Role, authz::{AuthzKinds, Held, RoleRef}};
    ///
    /// #[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
    /// enum Access {
    ///     Admin,
    /// }
    ///
    /// #[derive(Clone)]
    /// struct User {
    ///     roles: Vec<Access>,
    /// }
    ///
    /// impl AuthUser for User {
    ///     type Id = u64;
    ///     fn id(&self) -> u64 {
    ///         1
    ///     }
    ///     fn session_auth_hash(&self) -> &[u8] {
    ///         b""
    ///     }
    ///     fn has_role(&self, role: RoleRef<'_>) -> bool {
    ///         role.is_satisfied_by(&self.roles)
    ///     }
    ///     fn authz_kinds() -> AuthzKinds {
    ///         AuthzKinds {
    ///             roles: Held::role_enum::<Access>(),
    ///             permissions: Held::Nothing,
    ///         }
    ///     }
    /// }
    /// ```
    fn authz_kinds() -> AuthzKinds {
        AuthzKinds::UNKNOWN
    }

    /// Whether the user may log in. An inactive user's correct credentials get the same answer
    /// as wrong ones, and their existing sessions end on their next request. Default: `true`.
    fn is_active(&self) -> bool {
        true
    }
}

// Here rather than in `authz`, next to the trait it reads, so that `authz` does not depend on
// `user` (which depends on `authz`).
impl AuthzKinds {
    /// The kinds of user type `U`: what a guard may ask users of that type about.
    pub fn of<U: AuthUser>() -> Self {
        U::authz_kinds()
    }
}

/// The type of an `#[auth(password_hash)]` field: its bytes are what
/// [`AuthUser::session_auth_hash`] returns.
///
/// Implemented for `secrecy::SecretString` and `secrecy::SecretSlice<u8>` (whose `Debug` shows
/// `[REDACTED]`), `String`, `str`, `Vec<u8>`, `[u8]`, `Cow<str>`, `Cow<[u8]>`, references and
/// boxes of them, and `Option` of each (`None` is an empty hash).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an `#[auth(password_hash)]` field",
    label = "the password hash must be a string or bytes",
    note = "use `secrecy::SecretString`: its `Debug` never prints the hash"
)]
pub trait AsSecretBytes {
    /// The secret's bytes; empty when there is none.
    fn as_secret_bytes(&self) -> &[u8];
}

macro_rules! secret_bytes {
    ($($ty:ty => |$value:ident| $bytes:expr;)*) => {$(
        #[diagnostic::do_not_recommend]
        impl AsSecretBytes for $ty {
            fn as_secret_bytes(&self) -> &[u8] {
                let $value = self;
                $bytes
            }
        }
    )*};
}

secret_bytes! {
    str => |value| value.as_bytes();
    String => |value| value.as_bytes();
    [u8] => |value| value;
    Vec<u8> => |value| value;
    Cow<'_, str> => |value| value.as_bytes();
    Cow<'_, [u8]> => |value| value;
}

#[diagnostic::do_not_recommend]
impl<T: AsSecretBytes + ?Sized> AsSecretBytes for &T {
    fn as_secret_bytes(&self) -> &[u8] {
        (**self).as_secret_bytes()
    }
}

#[diagnostic::do_not_recommend]
impl<T: AsSecretBytes + ?Sized> AsSecretBytes for Box<T> {
    fn as_secret_bytes(&self) -> &[u8] {
        (**self).as_secret_bytes()
    }
}

#[diagnostic::do_not_recommend]
impl<T: AsSecretBytes + ?Sized> AsSecretBytes for Arc<T> {
    fn as_secret_bytes(&self) -> &[u8] {
        (**self).as_secret_bytes()
    }
}

#[diagnostic::do_not_recommend]
impl<T: AsSecretBytes> AsSecretBytes for Option<T> {
    fn as_secret_bytes(&self) -> &[u8] {
        self.as_ref().map_or(&[], AsSecretBytes::as_secret_bytes)
    }
}

/// `secrecy::SecretString` and `secrecy::SecretSlice<u8>`.
#[diagnostic::do_not_recommend]
impl<S: AsSecretBytes + Zeroize + ?Sized> AsSecretBytes for SecretBox<S> {
    fn as_secret_bytes(&self) -> &[u8] {
        self.expose_secret().as_secret_bytes()
    }
}

/// The bytes of an `#[auth(security_stamp)]` field, for
/// [`AuthUser::security_stamp`]: text, bytes, an integer (a counter of session generations),
/// or an `Option` of one (`None` is empty).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an `#[auth(security_stamp)]` field",
    label = "a security stamp must be text, bytes or an integer",
    note = "use a `String` (a random token), a `Vec<u8>`, an integer (a counter raised to end sessions), or an `Option` of one of them"
)]
pub trait SecurityStamp {
    /// The stamp's bytes; integers in little-endian order.
    fn stamp_bytes(&self) -> Cow<'_, [u8]>;
}

impl SecurityStamp for str {
    fn stamp_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl SecurityStamp for String {
    fn stamp_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl SecurityStamp for [u8] {
    fn stamp_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl SecurityStamp for Vec<u8> {
    fn stamp_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<const N: usize> SecurityStamp for [u8; N] {
    fn stamp_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<T: SecurityStamp + ?Sized> SecurityStamp for Box<T> {
    fn stamp_bytes(&self) -> Cow<'_, [u8]> {
        (**self).stamp_bytes()
    }
}

impl<T: SecurityStamp> SecurityStamp for Option<T> {
    fn stamp_bytes(&self) -> Cow<'_, [u8]> {
        self.as_ref()
            .map_or(Cow::Borrowed(&[][..]), SecurityStamp::stamp_bytes)
    }
}

macro_rules! integer_stamp {
    ($($ty:ty),*) => {$(
        impl SecurityStamp for $ty {
            fn stamp_bytes(&self) -> Cow<'_, [u8]> {
                Cow::Owned(self.to_le_bytes().to_vec())
            }
        }
    )*};
}

integer_stamp!(i32, i64, u32, u64, i128, u128);

#[cfg(feature = "sqlx")]
pub use self::stored::StoredPasswordHash;

#[cfg(feature = "sqlx")]
mod stored {
    use secrecy::{ExposeSecret, SecretString};

    /// The type of an `#[auth(password_hash)]` field that `#[derive(UserStore)]` loads.
    ///
    /// The column is read as an optional text: `NULL` is an account without a password (one that
    /// logs in only through another provider), whose empty hash never verifies.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot hold the password hash that `#[derive(UserStore)]` loads",
        label = "the password hash field must be a string",
        note = "use `secrecy::SecretString` (its `Debug` never prints the hash), or an `Option` of it"
    )]
    pub trait StoredPasswordHash {
        /// The field's value for the column's content.
        fn from_stored(hash: Option<String>) -> Self;
        /// The hash as a PHC string; empty when there is none.
        fn as_hash(&self) -> &str;
    }

    #[diagnostic::do_not_recommend]
    impl StoredPasswordHash for String {
        fn from_stored(hash: Option<String>) -> Self {
            hash.unwrap_or_default()
        }

        fn as_hash(&self) -> &str {
            self
        }
    }

    #[diagnostic::do_not_recommend]
    impl StoredPasswordHash for SecretString {
        fn from_stored(hash: Option<String>) -> Self {
            SecretString::from(hash.unwrap_or_default())
        }

        fn as_hash(&self) -> &str {
            self.expose_secret()
        }
    }

    #[diagnostic::do_not_recommend]
    impl<T: StoredPasswordHash> StoredPasswordHash for Option<T> {
        fn from_stored(hash: Option<String>) -> Self {
            hash.map(|hash| T::from_stored(Some(hash)))
        }

        fn as_hash(&self) -> &str {
            self.as_ref().map_or("", T::as_hash)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_null_hash_is_empty() {
            assert_eq!(String::from_stored(None), "");
            assert_eq!(Option::<SecretString>::from_stored(None).as_hash(), "");
            assert_eq!(SecretString::from_stored(Some("h".into())).as_hash(), "h");
        }
    }
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
}
