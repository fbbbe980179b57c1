//! The [`AuthUser`] trait: what the framework needs to know about a user.

use std::fmt::Display;

use serde::{Serialize, de::DeserializeOwned};

use crate::authz::{PermissionRef, RoleRef};

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
    /// A store that never sees a hash (an LDAP bind, an OAuth provider) returns something else
    /// that changes when the user's sessions must end, such as a "security stamp" column, or an
    /// empty slice when nothing ever should end them.
    fn session_auth_hash(&self) -> &[u8];

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

    /// Whether the user may log in. An inactive user's correct credentials get the same answer
    /// as wrong ones, and their existing sessions end on their next request. Default: `true`.
    fn is_active(&self) -> bool {
        true
    }
}
