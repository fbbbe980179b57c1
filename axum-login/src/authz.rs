//! Roles and permissions: the traits derived on the app's enums, the type-erased references
//! through which guards ask a user about them, and the field types `#[derive(AuthUser)]`
//! accepts for them.

use std::{
    any::{Any, TypeId},
    borrow::Cow,
    collections::{BTreeSet, HashSet, VecDeque},
    fmt,
    rc::Rc,
    sync::Arc,
};

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
/// without naming its type: a variant of a `Role` enum, or a role known only by name
/// (`role = "admin"`).
#[derive(Clone, Copy)]
pub struct RoleRef<'a> {
    value: Option<&'a (dyn Any + Send + Sync)>,
    name: &'a str,
    type_name: Option<&'static str>,
}

impl<'a> RoleRef<'a> {
    /// Wraps a role.
    pub fn new<R: Role>(role: &'a R) -> Self {
        Self {
            value: Some(role),
            name: role.as_str(),
            type_name: Some(std::any::type_name::<R>()),
        }
    }

    /// A role known only by its name, compared with [`Role::as_str`] of the user's roles.
    pub fn from_name(name: &'a str) -> Self {
        Self {
            value: None,
            name,
            type_name: None,
        }
    }

    /// The required role's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The name of the required role's type, or `None` for a role given by name.
    pub fn type_name(&self) -> Option<&'static str> {
        self.type_name
    }

    /// The required role, if it is of type `R`.
    pub fn downcast<R: Role>(&self) -> Option<&'a R> {
        self.value.and_then(|value| value.downcast_ref())
    }

    /// Whether any of `held` satisfies this role, honouring the hierarchy declared on `R`; a
    /// role given by name is the variant of `R` with that name.
    ///
    /// A required role of another type than `R`, or a name that no variant of `R` has, is never
    /// satisfied; a guard reports both as a mistake before it asks (see
    /// [`AuthUser::authz_kinds`](crate::AuthUser::authz_kinds)).
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
    /// assert!(RoleRef::from_name("editor").is_satisfied_by(&held));
    /// assert!(!RoleRef::new(&Access::Admin).is_satisfied_by(&[Access::Editor]));
    /// ```
    pub fn is_satisfied_by<'h, R, I>(&self, held: I) -> bool
    where
        R: Role + 'h,
        I: IntoIterator<Item = &'h R>,
    {
        let required = match self.value {
            Some(_) => self.downcast::<R>(),
            None => R::ALL.iter().find(|role| role.as_str() == self.name),
        };
        required.is_some_and(|required| held.into_iter().any(|role| role.satisfies(required)))
    }

    /// Whether a role in `held`, given by name, is this one's name: for users whose roles are
    /// strings. There is no hierarchy between names.
    ///
    /// ```
    /// use axum_login::authz::RoleRef;
    ///
    /// let held = vec!["admin".to_string()];
    /// assert!(RoleRef::from_name("admin").is_satisfied_by_names(&held));
    /// assert!(!RoleRef::from_name("editor").is_satisfied_by_names(&held));
    /// ```
    pub fn is_satisfied_by_names<I>(&self, held: I) -> bool
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        held.into_iter().any(|role| role.as_ref() == self.name)
    }
}

impl RoleRef<'_> {
    pub(crate) fn type_id(&self) -> Option<TypeId> {
        self.value.map(|value| (*value).type_id())
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
    type_name: Option<&'static str>,
}

impl<'a> PermissionRef<'a> {
    /// Wraps a permission enum variant.
    pub fn new<P: Permission>(permission: &'a P) -> Self {
        Self {
            value: Some(permission),
            name: permission.as_str(),
            type_name: Some(std::any::type_name::<P>()),
        }
    }

    /// A permission known only by name, checked at run time.
    pub fn from_name(name: &'a str) -> Self {
        Self {
            value: None,
            name,
            type_name: None,
        }
    }

    /// The required permission's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The name of the required permission's type, or `None` for a permission given by name.
    pub fn type_name(&self) -> Option<&'static str> {
        self.type_name
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

impl PermissionRef<'_> {
    pub(crate) fn type_id(&self) -> Option<TypeId> {
        self.value.map(|value| (*value).type_id())
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

/// What a user type holds of one kind, roles or permissions: what a guard may ask it about.
///
/// A guard compares its question with this before it asks, so that a question the user type
/// can never answer (a role of another enum, a name that no variant has) is reported as a
/// mistake in the app, a `500` that names both sides, instead of a `403` for everyone; inside
/// `not(..)` it would otherwise let everyone in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Held {
    /// Not declared, as for a hand-written [`AuthUser::has_role`](crate::AuthUser::has_role):
    /// the guard asks and takes the answer.
    Unknown,
    /// Nothing of this kind: the user type has no such field, so every question is a mistake.
    Nothing,
    /// Names (strings): any name may be held, so a name cannot be checked; a variant is
    /// compared by its name.
    Names,
    /// Variants of one enum: a variant of another type, or a name that no variant has, is a
    /// mistake.
    Enum(HeldEnum),
}

impl Held {
    /// Roles of the enum `R`.
    pub fn role_enum<R: Role>() -> Self {
        Self::Enum(HeldEnum {
            type_id: TypeId::of::<R>(),
            type_name: std::any::type_name::<R>(),
            names: || R::ALL.iter().map(Role::as_str).collect(),
            has_name: |name| R::ALL.iter().any(|role| role.as_str() == name),
        })
    }

    /// Permissions of the enum `P`.
    pub fn permission_enum<P: Permission>() -> Self {
        Self::Enum(HeldEnum {
            type_id: TypeId::of::<P>(),
            type_name: std::any::type_name::<P>(),
            names: || P::ALL.iter().map(Permission::as_str).collect(),
            has_name: |name| P::ALL.iter().any(|permission| permission.as_str() == name),
        })
    }
}

/// The enum of a [`Held::Enum`].
#[derive(Clone, Copy)]
pub struct HeldEnum {
    type_id: TypeId,
    type_name: &'static str,
    names: fn() -> Vec<&'static str>,
    has_name: fn(&str) -> bool,
}

impl HeldEnum {
    /// The enum's type name, as `std::any::type_name` spells it.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Whether `type_id` is this enum's.
    pub fn is(&self, type_id: TypeId) -> bool {
        self.type_id == type_id
    }

    /// Whether a variant is named `name`.
    pub fn has_name(&self, name: &str) -> bool {
        (self.has_name)(name)
    }

    /// Every variant's name, in declaration order.
    pub fn names(&self) -> Vec<&'static str> {
        (self.names)()
    }
}

impl PartialEq for HeldEnum {
    fn eq(&self, other: &Self) -> bool {
        self.type_id == other.type_id
    }
}

impl Eq for HeldEnum {}

impl fmt::Debug for HeldEnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HeldEnum").field(&self.type_name).finish()
    }
}

/// What a user type holds: the kind of its roles and of its permissions
/// ([`AuthUser::authz_kinds`](crate::AuthUser::authz_kinds)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthzKinds {
    /// The roles.
    pub roles: Held,
    /// The permissions.
    pub permissions: Held,
}

impl AuthzKinds {
    /// Nothing declared: what a hand-written `AuthUser` says unless it overrides
    /// [`authz_kinds`](crate::AuthUser::authz_kinds).
    pub const UNKNOWN: Self = Self {
        roles: Held::Unknown,
        permissions: Held::Unknown,
    };
}

/// What a user can hold as a role: a variant of a [`Role`] enum, or a name (`String`, `&str`,
/// `Box<str>`, `Arc<str>`, `Rc<str>`, `Cow<str>`). The type of an `#[auth(role)]` field, and
/// the element of an `#[auth(roles)]` collection.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a role",
    label = "expected an enum that derives `Role`, or a string",
    note = "add `#[derive(Role)]` to the enum, e.g. `#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)] enum Role {{ Admin, Editor }}`, or hold role names as `String`s"
)]
pub trait RoleItem {
    /// Whether any of `held` satisfies `required`.
    fn satisfies<'h, I>(required: &RoleRef<'_>, held: I) -> bool
    where
        Self: 'h,
        I: Iterator<Item = &'h Self>;

    /// What users holding this can be asked about.
    fn held() -> Held;
}

impl<R: Role> RoleItem for R {
    fn satisfies<'h, I>(required: &RoleRef<'_>, held: I) -> bool
    where
        Self: 'h,
        I: Iterator<Item = &'h Self>,
    {
        required.is_satisfied_by(held)
    }

    fn held() -> Held {
        Held::role_enum::<R>()
    }
}

/// What a user can hold as a permission: a variant of a [`Permission`] enum (which must also be
/// `PartialEq`), or a name. The element of an `#[auth(permissions)]` collection.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a permission",
    label = "`#[auth(permissions)]` needs elements that derive `Permission`, or strings",
    note = "add `#[derive(Permission)]` (and `PartialEq`) to the enum, or hold the permissions as `String`s"
)]
pub trait PermissionItem {
    /// Whether any of `held` grants `required`.
    fn grants<'h, I>(required: &PermissionRef<'_>, held: I) -> bool
    where
        Self: 'h,
        I: Iterator<Item = &'h Self>;

    /// What users holding this can be asked about.
    fn held() -> Held;
}

impl<P: Permission + PartialEq> PermissionItem for P {
    fn grants<'h, I>(required: &PermissionRef<'_>, held: I) -> bool
    where
        Self: 'h,
        I: Iterator<Item = &'h Self>,
    {
        required.is_granted_by(held)
    }

    fn held() -> Held {
        Held::permission_enum::<P>()
    }
}

macro_rules! names {
    ($($ty:ty),*) => {$(
        #[diagnostic::do_not_recommend]
        impl RoleItem for $ty {
            fn satisfies<'h, I>(required: &RoleRef<'_>, held: I) -> bool
            where
                Self: 'h,
                I: Iterator<Item = &'h Self>,
            {
                required.is_satisfied_by_names(held)
            }

            fn held() -> Held {
                Held::Names
            }
        }

        #[diagnostic::do_not_recommend]
        impl PermissionItem for $ty {
            fn grants<'h, I>(required: &PermissionRef<'_>, held: I) -> bool
            where
                Self: 'h,
                I: Iterator<Item = &'h Self>,
            {
                required.is_granted_by_names(held)
            }

            fn held() -> Held {
                Held::Names
            }
        }
    )*};
}

names!(String, &str, Box<str>, Arc<str>, Rc<str>, Cow<'_, str>);

/// The type of an `#[auth(roles)]` field: a collection of one [`RoleItem`] type.
///
/// Implemented for each standard collection rather than for every `&C: IntoIterator`, so that
/// a field of another type gets the message below instead of an iterator error.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a collection of roles",
    label = "`#[auth(roles)]` needs a collection of a `#[derive(Role)]` enum, or of strings",
    note = "use `Vec<R>`, `HashSet<R>`, `BTreeSet<R>`, `VecDeque<R>`, `[R; N]`, `Box<[R]>` or `Option<R>` where `R` derives `Role` or is `String`; for a field holding one role, write `#[auth(role)]`"
)]
pub trait RoleSet {
    /// Whether a role in the set satisfies `required`.
    fn has_role(&self, required: RoleRef<'_>) -> bool;

    /// What users holding such a set can be asked about.
    fn held() -> Held;
}

/// The type of an `#[auth(permissions)]` field: a collection of one [`PermissionItem`] type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a collection of permissions",
    label = "`#[auth(permissions)]` needs a collection of permissions",
    note = "use `Vec<P>`, `HashSet<P>`, `BTreeSet<P>`, `VecDeque<P>`, `[P; N]` or `Box<[P]>` where `P` derives `Permission` or is `String`"
)]
pub trait PermissionSet {
    /// Whether a permission in the set grants `required`.
    fn has_permission(&self, required: PermissionRef<'_>) -> bool;

    /// What users holding such a set can be asked about.
    fn held() -> Held;
}

macro_rules! collections {
    ($(impl<$item:ident $(, $extra:ident)* $(; const $n:ident: usize)?> for $ty:ty;)*) => {$(
        #[diagnostic::do_not_recommend]
        impl<$item: RoleItem $(, $extra)* $(, const $n: usize)?> RoleSet for $ty {
            fn has_role(&self, required: RoleRef<'_>) -> bool {
                $item::satisfies(&required, self.iter())
            }

            fn held() -> Held {
                $item::held()
            }
        }

        #[diagnostic::do_not_recommend]
        impl<$item: PermissionItem $(, $extra)* $(, const $n: usize)?> PermissionSet for $ty {
            fn has_permission(&self, required: PermissionRef<'_>) -> bool {
                $item::grants(&required, self.iter())
            }

            fn held() -> Held {
                $item::held()
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

#[diagnostic::do_not_recommend]
impl<C: RoleSet + ?Sized> RoleSet for &C {
    fn has_role(&self, required: RoleRef<'_>) -> bool {
        (**self).has_role(required)
    }

    fn held() -> Held {
        C::held()
    }
}

#[diagnostic::do_not_recommend]
impl<C: PermissionSet + ?Sized> PermissionSet for &C {
    fn has_permission(&self, required: PermissionRef<'_>) -> bool {
        (**self).has_permission(required)
    }

    fn held() -> Held {
        C::held()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Access {
        Admin,
        Editor,
    }

    impl Role for Access {
        const ALL: &'static [Self] = &[Self::Admin, Self::Editor];

        fn as_str(&self) -> &'static str {
            match self {
                Self::Admin => "admin",
                Self::Editor => "editor",
            }
        }

        fn satisfies(&self, required: &Self) -> bool {
            matches!(
                (self, required),
                (Self::Admin, _) | (Self::Editor, Self::Editor)
            )
        }
    }

    #[test]
    fn a_role_given_by_name_honours_the_hierarchy() {
        let held = vec![Access::Admin];
        assert!(held.has_role(RoleRef::from_name("editor")));
        assert!(!vec![Access::Editor].has_role(RoleRef::from_name("admin")));
        assert!(!held.has_role(RoleRef::from_name("root")));
    }

    #[test]
    fn roles_held_as_names_compare_names() {
        let held = vec!["admin".to_string()];
        assert!(held.has_role(RoleRef::from_name("admin")));
        assert!(held.has_role(RoleRef::new(&Access::Admin)));
        assert!(!held.has_role(RoleRef::new(&Access::Editor)));
        assert_eq!(<Vec<String> as RoleSet>::held(), Held::Names);
    }

    #[test]
    fn held_kinds_name_their_enum() {
        let Held::Enum(roles) = <Vec<Access> as RoleSet>::held() else {
            panic!("a role enum");
        };
        assert!(roles.type_name().ends_with("Access"));
        assert!(roles.is(TypeId::of::<Access>()));
        assert!(roles.has_name("editor"));
        assert!(!roles.has_name("Editor"));
        assert_eq!(roles.names(), ["admin", "editor"]);
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
