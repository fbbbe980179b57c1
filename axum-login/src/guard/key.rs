//! How the value of a `role = ...` or `permission = ...` key reaches the policy.
//!
//! The macros wrap the value, `RoleKey(&Access::Admin)`, and call `.role_key()` on three
//! references to it; method resolution then picks the first impl that applies, in this order: the
//! right kind (a `Role` for `role`), the other kind (a `Permission` given to `role`), anything
//! else. So a permission written as a role is reported as that, on the key to change, instead of
//! as a type that should derive `Role`; and anything else gets the usual "is not a role" error.
//! This is the "autoref specialization" technique: the impls sit on `&&Key`, `&Key` and `Key`,
//! and the receiver `&&&Key` meets them in that order.

use std::marker::PhantomData;

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
    fn role_key(&self) -> RoleArg<'a, T>;
}

impl<'a, T: Role> RoleKeyIsRole<'a, T> for &&RoleKey<'a, T> {
    fn role_key(&self) -> RoleArg<'a, T> {
        RoleArg(self.0)
    }
}

/// A role key holding a permission: second choice, a mistake.
#[doc(hidden)]
pub trait RoleKeyIsPermission<T: ?Sized> {
    fn role_key(&self) -> PermissionGivenAsRole<T>;
}

impl<T: Permission> RoleKeyIsPermission<T> for &RoleKey<'_, T> {
    fn role_key(&self) -> PermissionGivenAsRole<T> {
        PermissionGivenAsRole(PhantomData)
    }
}

/// A role key holding anything else: the last choice, which the "is not a role" error reports.
#[doc(hidden)]
pub trait RoleKeyIsOther<'a, T: ?Sized> {
    fn role_key(&self) -> RoleArg<'a, T>;
}

impl<'a, T: ?Sized> RoleKeyIsOther<'a, T> for RoleKey<'a, T> {
    fn role_key(&self) -> RoleArg<'a, T> {
        RoleArg(self.0)
    }
}

/// A permission key holding a permission (or a name): first choice.
#[doc(hidden)]
pub trait PermissionKeyIsPermission<'a, T: ?Sized> {
    fn permission_key(&self) -> PermissionArg<'a, T>;
}

impl<'a, T: IntoPermissionRef + ?Sized> PermissionKeyIsPermission<'a, T>
    for &&PermissionKey<'a, T>
{
    fn permission_key(&self) -> PermissionArg<'a, T> {
        PermissionArg(self.0)
    }
}

/// A permission key holding a role: second choice, a mistake.
#[doc(hidden)]
pub trait PermissionKeyIsRole<T: ?Sized> {
    fn permission_key(&self) -> RoleGivenAsPermission<T>;
}

impl<T: Role> PermissionKeyIsRole<T> for &PermissionKey<'_, T> {
    fn permission_key(&self) -> RoleGivenAsPermission<T> {
        RoleGivenAsPermission(PhantomData)
    }
}

/// A permission key holding anything else: the last choice.
#[doc(hidden)]
pub trait PermissionKeyIsOther<'a, T: ?Sized> {
    fn permission_key(&self) -> PermissionArg<'a, T>;
}

impl<'a, T: ?Sized> PermissionKeyIsOther<'a, T> for PermissionKey<'a, T> {
    fn permission_key(&self) -> PermissionArg<'a, T> {
        PermissionArg(self.0)
    }
}

/// The value of a `role = ...` key, on its way to [`RoleLeaf`]: valid when it is a role. One
/// wrapper type per outcome, each with one impl, so that rustc reports the failing bound of that
/// impl (`Role`, `WrittenAsRole`) with its own message.
#[doc(hidden)]
pub struct RoleArg<'a, T: ?Sized>(&'a T);

/// The value of a `permission = ...` key, on its way to [`PermissionLeaf`].
#[doc(hidden)]
pub struct PermissionArg<'a, T: ?Sized>(&'a T);

/// A permission where a role was expected; never a valid [`RoleLeaf`].
#[doc(hidden)]
pub struct PermissionGivenAsRole<T: ?Sized>(PhantomData<fn() -> Box<T>>);

/// A role where a permission was expected; never a valid [`PermissionLeaf`].
#[doc(hidden)]
pub struct RoleGivenAsPermission<T: ?Sized>(PhantomData<fn() -> Box<T>>);

/// What a `role = ...` key may hold: a variant of a `Role` enum, or a role's name.
#[doc(hidden)]
pub trait RoleLeaf {
    fn role_ref(&self) -> RoleRef<'_>;
}

impl<R: Role> RoleLeaf for RoleArg<'_, R> {
    fn role_ref(&self) -> RoleRef<'_> {
        RoleRef::new(self.0)
    }
}

impl RoleLeaf for &str {
    fn role_ref(&self) -> RoleRef<'_> {
        RoleRef::from_name(self)
    }
}

/// Implemented by nothing: the error of a permission given to `role =`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a permission, not a role",
    label = "`role` takes a role: write `permission = ...` for a permission",
    note = "a guard asks for a role with `role = Role::Admin` and for a permission with `permission = Perm::PostsWrite`"
)]
pub trait WrittenAsRole {}

impl<T: WrittenAsRole + ?Sized> RoleLeaf for PermissionGivenAsRole<T> {
    fn role_ref(&self) -> RoleRef<'_> {
        // Only an app's own `WrittenAsRole` impl gets here: an empty name, which no role has.
        RoleRef::from_name("")
    }
}

/// What a `permission = ...` key may hold: a variant of a `Permission` enum, or a name.
#[doc(hidden)]
pub trait PermissionLeaf {
    fn permission_ref(&self) -> PermissionRef<'_>;
}

impl<P: IntoPermissionRef + ?Sized> PermissionLeaf for PermissionArg<'_, P> {
    fn permission_ref(&self) -> PermissionRef<'_> {
        self.0.as_permission_ref()
    }
}

impl PermissionLeaf for &str {
    fn permission_ref(&self) -> PermissionRef<'_> {
        PermissionRef::from_name(self)
    }
}

/// Implemented by nothing: the error of a role given to `permission =`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a role, not a permission",
    label = "`permission` takes a permission: write `role = ...` for a role",
    note = "a guard asks for a role with `role = Role::Admin` and for a permission with `permission = Perm::PostsWrite`"
)]
pub trait WrittenAsPermission {}

impl<T: WrittenAsPermission + ?Sized> PermissionLeaf for RoleGivenAsPermission<T> {
    fn permission_ref(&self) -> PermissionRef<'_> {
        PermissionRef::from_name("")
    }
}
