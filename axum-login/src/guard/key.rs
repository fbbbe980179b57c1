//! How the value of a `role = ...` or `permission = ...` key reaches the policy.
//!
//! The macros wrap the value, `RoleKey(&Access::Admin)`, and call `.role_key()` on three
//! references to it; method resolution then picks the first impl that applies, in this order: the
//! right kind (a `Role` for `role`), the other kind (a `Permission` given to `role`), anything
//! else. So a permission written as a role is reported as that, on the key to change, instead of
//! as a type that should derive `Role`; and anything else gets the usual "is not a role" error.
//! This is the "autoref specialization" technique: the impls sit on `&&Key`, `&Key` and `Key`,
//! and the receiver `&&&Key` meets them in that order.

use super::policy::IntoPermissionRef;
use crate::{
    Permission, Role,
    authz::{PermissionRef, RoleRef},
};

/// The value of a `role = ...` key; see the module documentation.
#[doc(hidden)]
pub struct RoleKey<'a, T: ?Sized>(pub &'a T);

/// The value of a `permission = ...` key; see the module documentation.
#[doc(hidden)]
pub struct PermissionKey<'a, T: ?Sized>(pub &'a T);

/// A role key holding a role: first choice.
#[doc(hidden)]
pub trait RoleKeyIsRole<'a, T: ?Sized> {
    fn role_key(&self) -> RoleRef<'a>;
}

impl<'a, T: Role> RoleKeyIsRole<'a, T> for &&RoleKey<'a, T> {
    fn role_key(&self) -> RoleRef<'a> {
        RoleRef::new(self.0)
    }
}

/// A role key holding a permission: second choice, a mistake. The bound sits on the method, not
/// the impl, so that method resolution still picks this impl and the failing bound is the one
/// whose message says what happened.
#[doc(hidden)]
pub trait RoleKeyIsPermission<'a, T: ?Sized> {
    fn role_key(&self) -> RoleRef<'a>
    where
        T: WrittenAsRole;
}

impl<'a, T: Permission> RoleKeyIsPermission<'a, T> for &RoleKey<'a, T> {
    fn role_key(&self) -> RoleRef<'a>
    where
        T: WrittenAsRole,
    {
        // Only an app's own `WrittenAsRole` impl gets here: an empty name, which no role has.
        RoleRef::from_name("")
    }
}

/// A role key holding anything else: the last choice, which reports "is not a role" through the
/// method's bound.
#[doc(hidden)]
pub trait RoleKeyIsOther<'a, T: ?Sized> {
    fn role_key(&self) -> RoleRef<'a>
    where
        T: Role;
}

impl<'a, T: ?Sized> RoleKeyIsOther<'a, T> for RoleKey<'a, T> {
    fn role_key(&self) -> RoleRef<'a>
    where
        T: Role,
    {
        RoleRef::new(self.0)
    }
}

/// A permission key holding a permission (or a name): first choice.
#[doc(hidden)]
pub trait PermissionKeyIsPermission<'a, T: ?Sized> {
    fn permission_key(&self) -> PermissionRef<'a>;
}

impl<'a, T: IntoPermissionRef + ?Sized> PermissionKeyIsPermission<'a, T>
    for &&PermissionKey<'a, T>
{
    fn permission_key(&self) -> PermissionRef<'a> {
        self.0.as_permission_ref()
    }
}

/// A permission key holding a role: second choice, a mistake.
#[doc(hidden)]
pub trait PermissionKeyIsRole<'a, T: ?Sized> {
    fn permission_key(&self) -> PermissionRef<'a>
    where
        T: WrittenAsPermission;
}

impl<'a, T: Role> PermissionKeyIsRole<'a, T> for &PermissionKey<'a, T> {
    fn permission_key(&self) -> PermissionRef<'a>
    where
        T: WrittenAsPermission,
    {
        PermissionRef::from_name("")
    }
}

/// A permission key holding anything else: the last choice.
#[doc(hidden)]
pub trait PermissionKeyIsOther<'a, T: ?Sized> {
    fn permission_key(&self) -> PermissionRef<'a>
    where
        T: IntoPermissionRef;
}

impl<'a, T: ?Sized> PermissionKeyIsOther<'a, T> for PermissionKey<'a, T> {
    fn permission_key(&self) -> PermissionRef<'a>
    where
        T: IntoPermissionRef,
    {
        self.0.as_permission_ref()
    }
}

/// Implemented by nothing: the error of a permission given to `role =`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a permission, not a role",
    label = "`role` takes a role: write `permission = ...` for a permission",
    note = "a guard asks for a role with `role = Role::Admin` and for a permission with `permission = Perm::PostsWrite`"
)]
pub trait WrittenAsRole {}

/// Implemented by nothing: the error of a role given to `permission =`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a role, not a permission",
    label = "`permission` takes a permission: write `role = ...` for a role",
    note = "a guard asks for a role with `role = Role::Admin` and for a permission with `permission = Perm::PostsWrite`"
)]
pub trait WrittenAsPermission {}
