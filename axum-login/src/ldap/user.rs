//! What the store hands the app for each user ([`LdapEntry`]), how the app turns it into its user
//! type ([`FromLdapEntry`]), and a ready user type ([`LdapUser`]).

use std::{any::TypeId, collections::HashMap};

use crate::{
    AuthUser, Role,
    authz::{AuthzKinds, Held, PermissionRef, RoleRef},
    error::BoxError,
};

/// A user's entry as the store read it: DN, id, the requested attributes, groups, and the roles
/// and permissions that the configured group mapping grants.
///
/// Attribute names are matched ignoring ASCII case (`memberOf` and `memberof` are one
/// attribute), as the directory does.
#[derive(Clone, Debug)]
pub struct LdapEntry {
    pub(super) dn: String,
    pub(super) id: String,
    /// Keys lower-cased.
    pub(super) attributes: HashMap<String, Vec<String>>,
    pub(super) groups: Vec<String>,
    pub(super) roles: Vec<(&'static str, TypeId)>,
    pub(super) permissions: Vec<String>,
    pub(super) stamp: Vec<u8>,
}

impl LdapEntry {
    /// The entry's DN, as the directory spells it.
    pub fn dn(&self) -> &str {
        &self.dn
    }

    /// The user's id: the value of the configured id attribute (default `uid`), as the
    /// directory spells it, whatever case the user typed at login.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The first value of `attribute`, if the entry has it and it was requested (the id, the
    /// session stamp and group attributes are, and those given to
    /// [`LdapConfigBuilder::attributes`](super::LdapConfigBuilder::attributes)).
    pub fn attribute(&self, attribute: &str) -> Option<&str> {
        self.attribute_values(attribute).first().map(String::as_str)
    }

    /// Every value of `attribute`; empty when the entry has none.
    pub fn attribute_values(&self, attribute: &str) -> &[String] {
        self.attributes
            .get(&attribute.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// Every attribute read, by lower-cased name.
    pub fn attributes(&self) -> &HashMap<String, Vec<String>> {
        &self.attributes
    }

    /// The user's groups, from the configured group attribute or group search: DNs, or
    /// whatever values the attribute holds.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The roles of type `R` that the user's groups grant
    /// ([`LdapConfigBuilder::group_role`](super::LdapConfigBuilder::group_role)), each once.
    /// Roles granted with another enum type are not among them.
    pub fn roles<R: Role + Clone>(&self) -> Vec<R> {
        let mut roles: Vec<R> = Vec::new();
        for &(name, enum_type) in &self.roles {
            if enum_type != TypeId::of::<R>() {
                continue;
            }
            if let Some(role) = R::ALL.iter().find(|role| role.as_str() == name)
                && !roles.iter().any(|held| held.as_str() == name)
            {
                roles.push(role.clone());
            }
        }
        roles
    }

    /// The names of the permissions that the user's groups grant
    /// ([`LdapConfigBuilder::group_permission`](super::LdapConfigBuilder::group_permission)),
    /// each once.
    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }

    /// What [`AuthUser::session_auth_hash`] should answer: the entry's DN and the values of the
    /// configured stamp attributes, which change when the password does.
    pub fn session_stamp(&self) -> &[u8] {
        &self.stamp
    }
}

/// A user type that an [`LdapStore`](super::LdapStore) makes from a directory entry.
///
/// [`LdapUser`] implements it; implement it for an app's own user type to keep other
/// attributes or to decide more than the group mapping does. The id must be the entry's id
/// ([`LdapEntry::id`]), which the store looks the user up by on later requests, and
/// `session_auth_hash` should answer [`LdapEntry::session_stamp`].
///
/// ```
/// use axum_login::{AuthUser, ldap::{FromLdapEntry, LdapEntry}};
///
/// #[derive(Clone)]
/// struct Employee {
///     uid: String,
///     email: Option<String>,
///     stamp: Vec<u8>,
/// }
///
/// impl AuthUser for Employee {
///     type Id = String;
///     fn id(&self) -> String {
///         self.uid.clone()
///     }
///     fn session_auth_hash(&self) -> &[u8] {
///         &self.stamp
///     }
/// }
///
/// impl FromLdapEntry for Employee {
///     fn from_entry(entry: LdapEntry) -> Result<Self, axum_login::error::BoxError> {
///         Ok(Self {
///             uid: entry.id().to_owned(),
///             email: entry.attribute("mail").map(str::to_owned),
///             stamp: entry.session_stamp().to_vec(),
///         })
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be made from an LDAP entry: it does not implement `FromLdapEntry`",
    label = "this type must implement `FromLdapEntry`",
    note = "use `axum_login::ldap::LdapUser<YourRole>`, or implement `FromLdapEntry` (and `AuthUser<Id = String>`) for your user type"
)]
pub trait FromLdapEntry: AuthUser<Id = String> {
    /// Makes the user from their entry. An error is a `500` for the request (the cause is
    /// logged), not a failed login.
    fn from_entry(entry: LdapEntry) -> Result<Self, BoxError>;
}

/// A user from the directory, with roles of type `R` and permissions from the group mapping.
///
/// [`has_role`](AuthUser::has_role) honours `R`'s hierarchy; [`has_permission`](AuthUser::has_permission)
/// compares names, so both `permission = "posts.publish"` and a `Permission` enum variant of
/// that name work.
///
/// ```
/// use axum_login::{AuthUser, Role, authz::RoleRef, ldap::LdapUser};
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
/// enum Access {
///     #[role(implies(Staff))]
///     Admin,
///     Staff,
/// }
///
/// let user = LdapUser::<Access>::new("ferris", "uid=ferris,ou=people,dc=example,dc=test")
///     .with_roles([Access::Admin]);
/// assert_eq!(user.id(), "ferris");
/// assert!(user.has_role(RoleRef::new(&Access::Staff)));
/// ```
#[derive(Clone, Debug)]
pub struct LdapUser<R> {
    /// The id ([`LdapEntry::id`]), e.g. the `uid`.
    pub uid: String,
    /// The entry's DN.
    pub dn: String,
    /// The user's groups ([`LdapEntry::groups`]).
    pub groups: Vec<String>,
    /// The roles the groups grant.
    pub roles: Vec<R>,
    /// The permissions the groups grant, by name.
    pub permissions: Vec<String>,
    /// The attributes read, by lower-cased name ([`LdapEntry::attributes`]).
    pub attributes: HashMap<String, Vec<String>>,
    stamp: Vec<u8>,
}

impl<R> LdapUser<R> {
    /// A user with no groups, roles, permissions or attributes, and an empty session stamp;
    /// for tests and fixtures. The store makes users with [`FromLdapEntry::from_entry`].
    pub fn new(uid: impl Into<String>, dn: impl Into<String>) -> Self {
        Self {
            uid: uid.into(),
            dn: dn.into(),
            groups: Vec::new(),
            roles: Vec::new(),
            permissions: Vec::new(),
            attributes: HashMap::new(),
            stamp: Vec::new(),
        }
    }

    /// The same user holding `roles`.
    #[must_use]
    pub fn with_roles(mut self, roles: impl IntoIterator<Item = R>) -> Self {
        self.roles = roles.into_iter().collect();
        self
    }

    /// The first value of `attribute` (requested with
    /// [`LdapConfigBuilder::attributes`](super::LdapConfigBuilder::attributes)), e.g. `cn`.
    pub fn attribute(&self, attribute: &str) -> Option<&str> {
        self.attributes
            .get(&attribute.to_ascii_lowercase())
            .and_then(|values| values.first())
            .map(String::as_str)
    }
}

impl<R: Role + Clone> AuthUser for LdapUser<R> {
    type Id = String;

    fn id(&self) -> String {
        self.uid.clone()
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.stamp
    }

    fn has_role(&self, role: RoleRef<'_>) -> bool {
        role.is_satisfied_by(&self.roles)
    }

    fn has_permission(&self, permission: PermissionRef<'_>) -> bool {
        permission.is_granted_by_names(self.permissions.iter().map(String::as_str))
    }

    /// Roles of `R` (so a guard's role of another enum, or a name `R` has no variant for, is
    /// a setup error), and permissions as names from the directory.
    fn authz_kinds() -> AuthzKinds {
        AuthzKinds {
            roles: Held::role_enum::<R>(),
            permissions: Held::Names,
        }
    }
}

impl<R: Role + Clone> FromLdapEntry for LdapUser<R> {
    fn from_entry(entry: LdapEntry) -> Result<Self, BoxError> {
        let roles = entry.roles::<R>();
        Ok(Self {
            uid: entry.id,
            dn: entry.dn,
            groups: entry.groups,
            roles,
            permissions: entry.permissions,
            attributes: entry.attributes,
            stamp: entry.stamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Access {
        Admin,
        Staff,
    }

    impl Role for Access {
        const ALL: &'static [Self] = &[Self::Admin, Self::Staff];
        fn as_str(&self) -> &'static str {
            match self {
                Self::Admin => "admin",
                Self::Staff => "staff",
            }
        }
        fn satisfies(&self, required: &Self) -> bool {
            self == required || *self == Self::Admin
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Other {
        Admin,
    }

    impl Role for Other {
        const ALL: &'static [Self] = &[Self::Admin];
        fn as_str(&self) -> &'static str {
            "admin"
        }
        fn satisfies(&self, required: &Self) -> bool {
            self == required
        }
    }

    fn entry() -> LdapEntry {
        LdapEntry {
            dn: "uid=ferris,ou=people,dc=example,dc=test".into(),
            id: "ferris".into(),
            attributes: HashMap::from([
                ("memberof".to_owned(), vec!["cn=staff".to_owned()]),
                (
                    "cn".to_owned(),
                    vec!["Ferris".to_owned(), "Crab".to_owned()],
                ),
            ]),
            groups: vec!["cn=staff".into()],
            roles: vec![
                ("staff", TypeId::of::<Access>()),
                ("admin", TypeId::of::<Other>()),
                ("staff", TypeId::of::<Access>()),
            ],
            permissions: vec!["posts.read".into()],
            stamp: b"stamp".to_vec(),
        }
    }

    #[test]
    fn roles_are_those_of_the_asked_enum_once_each() {
        assert_eq!(entry().roles::<Access>(), [Access::Staff]);
        assert_eq!(entry().roles::<Other>(), [Other::Admin]);
    }

    #[test]
    fn attributes_ignore_case() {
        let entry = entry();
        assert_eq!(entry.attribute("CN"), Some("Ferris"));
        assert_eq!(entry.attribute_values("memberOf"), ["cn=staff"]);
        assert!(entry.attribute_values("mail").is_empty());
    }

    #[test]
    fn the_ready_user_answers_from_its_entry() {
        let user = LdapUser::<Access>::from_entry(entry()).expect("user");
        assert_eq!(user.id(), "ferris");
        assert_eq!(user.session_auth_hash(), b"stamp");
        assert_eq!(user.attribute("Cn"), Some("Ferris"));
        assert!(user.has_role(RoleRef::new(&Access::Staff)));
        assert!(!user.has_role(RoleRef::new(&Access::Admin)));
        assert!(!user.has_role(RoleRef::new(&Other::Admin)));
        assert!(user.has_permission(PermissionRef::from_name("posts.read")));
        assert!(!user.has_permission(PermissionRef::from_name("posts.write")));
    }
}
