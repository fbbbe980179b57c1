//! Roles and permissions: the traits derived on the app's enums, and the type-erased references
//! through which guards ask a user about them.

use std::{any::Any, fmt};

/// A role: a fieldless enum with `#[derive(Role)]`.
///
/// Each variant has a stable name ([`as_str`](Self::as_str)) and may imply others:
/// with `#[role(implies(Editor))]` on `Admin`, an admin passes every check for an editor.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a role: it does not implement `Role`",
    label = "expected a variant of an enum that derives `Role`",
    note = "add `#[derive(Role)]` to the enum, e.g. `#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)] enum Role {{ Admin, Editor }}`"
)]
pub trait Role: Sized + fmt::Debug + Send + Sync + 'static {
    /// Every variant, in declaration order.
    const ALL: &'static [Self];

    /// The variant's stable name, as stored in a database column or written in a session.
    fn as_str(&self) -> &'static str;

    /// Whether holding `self` satisfies a check for `required`: it is `required`, or implies it,
    /// directly or transitively.
    fn satisfies(&self, required: &Self) -> bool;
}

/// A permission: a fieldless enum with `#[derive(Permission)]`.
///
/// Permissions may also be plain strings (`permission = "posts.write"`) for apps that keep them in
/// the database; an enum permission and a string permission match when the names are equal.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a permission: it does not implement `Permission`",
    label = "expected a variant of an enum that derives `Permission`, or a string literal",
    note = "add `#[derive(Permission)]` to the enum, or write the permission as a string: `permission = \"posts.write\"`"
)]
pub trait Permission: Sized + fmt::Debug + Send + Sync + 'static {
    /// Every variant, in declaration order.
    const ALL: &'static [Self];

    /// The variant's stable name.
    fn as_str(&self) -> &'static str;
}

/// A role that a check requires, passed to [`AuthUser::has_role`](crate::AuthUser::has_role)
/// without naming its type.
#[derive(Clone, Copy)]
pub struct RoleRef<'a> {
    value: &'a (dyn Any + Send + Sync),
    name: &'static str,
}

impl<'a> RoleRef<'a> {
    /// Wraps a role.
    pub fn new<R: Role>(role: &'a R) -> Self {
        Self {
            value: role,
            name: role.as_str(),
        }
    }

    /// The required role's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The required role, if it is of type `R`.
    pub fn downcast<R: Role>(&self) -> Option<&'a R> {
        self.value.downcast_ref()
    }

    /// Whether any of `held` satisfies this role, honouring the hierarchy declared on `R`.
    ///
    /// A required role of another type than `R` is never satisfied.
    ///
    /// ```
    /// use axum_login::{Role, authz::RoleRef};
    ///
    /// #[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
    /// enum Access {
    ///     #[role(implies(Editor))]
    ///     Admin,
    ///     Editor,
    /// }
    ///
    /// let held = [Access::Admin];
    /// assert!(RoleRef::new(&Access::Editor).is_satisfied_by(&held));
    /// assert!(!RoleRef::new(&Access::Admin).is_satisfied_by(&[Access::Editor]));
    /// ```
    pub fn is_satisfied_by<'h, R, I>(&self, held: I) -> bool
    where
        R: Role + 'h,
        I: IntoIterator<Item = &'h R>,
    {
        self.downcast::<R>()
            .is_some_and(|required| held.into_iter().any(|role| role.satisfies(required)))
    }
}

impl fmt::Debug for RoleRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RoleRef").field(&self.name).finish()
    }
}

/// A permission that a check requires, passed to
/// [`AuthUser::has_permission`](crate::AuthUser::has_permission): an enum variant or a plain name.
#[derive(Clone, Copy)]
pub struct PermissionRef<'a> {
    value: Option<&'a (dyn Any + Send + Sync)>,
    name: &'a str,
}

impl<'a> PermissionRef<'a> {
    /// Wraps a permission enum variant.
    pub fn new<P: Permission>(permission: &'a P) -> Self {
        Self {
            value: Some(permission),
            name: permission.as_str(),
        }
    }

    /// A permission known only by name, checked at run time.
    pub fn from_name(name: &'a str) -> Self {
        Self { value: None, name }
    }

    /// The required permission's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The required permission, if it is a variant of `P`.
    pub fn downcast<P: Permission>(&self) -> Option<&'a P> {
        self.value.and_then(|value| value.downcast_ref())
    }

    /// Whether `held` grants this permission: the same variant, or, for a permission given by
    /// name, a variant with that name.
    ///
    /// ```
    /// use axum_login::{Permission, authz::PermissionRef};
    ///
    /// #[derive(Clone, Copy, Debug, PartialEq, Eq, Permission)]
    /// enum Perm {
    ///     PostsRead,
    ///     PostsWrite,
    /// }
    ///
    /// let held = [Perm::PostsRead];
    /// assert!(PermissionRef::new(&Perm::PostsRead).is_granted_by(&held));
    /// assert!(PermissionRef::from_name("posts_read").is_granted_by(&held));
    /// assert!(!PermissionRef::new(&Perm::PostsWrite).is_granted_by(&held));
    /// ```
    pub fn is_granted_by<'h, P, I>(&self, held: I) -> bool
    where
        P: Permission + PartialEq + 'h,
        I: IntoIterator<Item = &'h P>,
    {
        match self.downcast::<P>() {
            Some(required) => held.into_iter().any(|p| p == required),
            None if self.value.is_none() => held.into_iter().any(|p| p.as_str() == self.name),
            None => false,
        }
    }

    /// Whether a permission in `held`, given by name, grants this one.
    ///
    /// ```
    /// use axum_login::authz::PermissionRef;
    ///
    /// let held = vec!["posts.read".to_string()];
    /// assert!(PermissionRef::from_name("posts.read").is_granted_by_names(&held));
    /// assert!(!PermissionRef::from_name("posts.write").is_granted_by_names(&held));
    /// ```
    pub fn is_granted_by_names<I>(&self, held: I) -> bool
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        held.into_iter().any(|p| p.as_ref() == self.name)
    }
}

impl fmt::Debug for PermissionRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PermissionRef").field(&self.name).finish()
    }
}

/// The error of parsing a role or permission from a name that no variant has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{given}`; expected one of: {expected}")]
pub struct ParseNameError {
    kind: &'static str,
    given: String,
    expected: String,
}

impl ParseNameError {
    /// An error for `given`, which names no variant of the `kind` enum whose names are `valid`.
    pub fn new(kind: &'static str, given: &str, valid: &[&str]) -> Self {
        let expected = valid
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        // Echo at most a short prefix of the input: it may come from a request or a database row.
        let given: String = given.chars().take(64).collect();
        Self {
            kind,
            given,
            expected,
        }
    }

    /// The name that was given (at most 64 characters of it).
    pub fn given(&self) -> &str {
        &self.given
    }
}
