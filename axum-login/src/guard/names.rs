//! The role and permission names that guards give as strings (`role = "admin"`), which no type
//! checks: `#[require_login]` and `require!` register each one with where it is written, and
//! [`AuthLayerBuilder::build`](crate::layer::AuthLayerBuilder::build) checks them all against the
//! layer's user type, so a misspelt name stops the app at start-up instead of answering every
//! request that reaches the guard with a `500`.
//!
//! A guard does not know which layer it will sit under. A program may have several layers over
//! several user types; a name is refused only when no user type the program knows of can hold
//! it: the layer's, every type that derives `AuthUser`, and those named with
//! [`other_user_type`](crate::layer::AuthLayerBuilder::other_user_type). The first request still
//! checks each name against the user type actually logged in.

use std::{any::type_name, collections::BTreeSet};

use super::setup::{check_permission, check_role};
use crate::error::PolicyError;
use crate::{
    AuthUser,
    authz::{AuthzKinds, PermissionRef, RoleRef},
};

/// Which kind of name a guard asks for.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameKind {
    Role,
    Permission,
}

/// A name a guard asks for, and where it is written.
#[doc(hidden)]
#[derive(Debug)]
pub struct GuardName {
    pub kind: NameKind,
    pub name: &'static str,
    pub file: &'static str,
    pub line: u32,
}

/// A user type that derives `AuthUser`: what it can hold.
#[doc(hidden)]
pub struct DerivedUserType {
    pub type_name: fn() -> &'static str,
    pub kinds: fn() -> AuthzKinds,
}

inventory::collect!(GuardName);
inventory::collect!(DerivedUserType);

/// A user type, by name, and the roles and permissions it can hold.
#[derive(Clone, Copy)]
pub(crate) struct UserKinds {
    type_name: &'static str,
    kinds: AuthzKinds,
}

impl UserKinds {
    pub(crate) fn of<U: AuthUser>() -> Self {
        Self {
            type_name: type_name::<U>(),
            kinds: U::authz_kinds(),
        }
    }
}

fn holds(user: &UserKinds, name: &GuardName) -> Result<(), PolicyError> {
    match name.kind {
        NameKind::Role => check_role(user.kinds, user.type_name, &RoleRef::from_name(name.name)),
        NameKind::Permission => check_permission(
            user.kinds,
            user.type_name,
            &PermissionRef::from_name(name.name),
        ),
    }
}

/// `Err` with a message listing every name of the program's guards that neither `layer` nor
/// `others` nor a derived user type can hold, each with its file and line.
pub(crate) fn check_guard_names(layer: UserKinds, others: &[UserKinds]) -> Result<(), String> {
    let derived: Vec<UserKinds> = inventory::iter::<DerivedUserType>
        .into_iter()
        .map(|user| UserKinds {
            type_name: (user.type_name)(),
            kinds: (user.kinds)(),
        })
        .collect();
    let others: Vec<UserKinds> = others.iter().copied().chain(derived).collect();
    check_names(inventory::iter::<GuardName>, layer, &others)
}

fn check_names<'a>(
    names: impl IntoIterator<Item = &'a GuardName>,
    layer: UserKinds,
    others: &[UserKinds],
) -> Result<(), String> {
    // Sorted and once each: a stable message however the linker ordered the registrations.
    let problems: BTreeSet<(&str, u32, String)> = names
        .into_iter()
        .filter_map(|name| {
            let error = holds(&layer, name).err()?;
            if others.iter().any(|other| holds(other, name).is_ok()) {
                return None;
            }
            Some((name.file, name.line, error.to_string()))
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "AuthLayer: {} guard name(s) that users of type `{}` can never hold, nor any other user type of this program:",
        problems.len(),
        layer.type_name
    );
    for (file, line, error) in &problems {
        message.push_str(&format!("\n  {file}:{line}: {error}"));
    }
    message.push_str(
        "\nFix the name. If that guard serves another layer, whose user type implements `AuthUser` by hand, name that type on this layer's builder: `.other_user_type::<OtherUser>()`.",
    );
    Err(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Permission, Role, authz::Held};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Access {
        Admin,
        User,
    }

    impl Role for Access {
        const ALL: &'static [Self] = &[Self::Admin, Self::User];
        fn as_str(&self) -> &'static str {
            match self {
                Self::Admin => "admin",
                Self::User => "user",
            }
        }
        fn satisfies(&self, required: &Self) -> bool {
            self == required
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Perm {
        Read,
    }

    impl Permission for Perm {
        const ALL: &'static [Self] = &[Self::Read];
        fn as_str(&self) -> &'static str {
            "read"
        }
    }

    fn user(roles: Held, permissions: Held) -> UserKinds {
        UserKinds {
            type_name: "app::User",
            kinds: AuthzKinds { roles, permissions },
        }
    }

    fn name(kind: NameKind, name: &'static str, line: u32) -> GuardName {
        GuardName {
            kind,
            name,
            file: "src/main.rs",
            line,
        }
    }

    #[test]
    fn names_the_user_type_holds_pass() {
        let layer = user(Held::role_enum::<Access>(), Held::permission_enum::<Perm>());
        let names = [
            name(NameKind::Role, "admin", 1),
            name(NameKind::Permission, "read", 2),
        ];
        assert_eq!(check_names(&names, layer, &[]), Ok(()));
    }

    #[test]
    fn a_name_no_role_has_is_reported_with_its_file_and_line_and_the_valid_names() {
        let layer = user(Held::role_enum::<Access>(), Held::Nothing);
        let names = [
            name(NameKind::Role, "Admin", 12),
            name(NameKind::Permission, "posts.write", 20),
            name(NameKind::Role, "user", 30),
        ];
        let message = check_names(&names, layer, &[]).expect_err("two mistakes");
        assert!(message.contains("2 guard name(s)"), "{message}");
        assert!(message.contains("src/main.rs:12: "), "{message}");
        assert!(message.contains("\"Admin\""), "{message}");
        assert!(
            message.contains("expected one of: `admin`, `user`"),
            "{message}"
        );
        assert!(message.contains("src/main.rs:20: "), "{message}");
        assert!(message.contains("hold no permissions"), "{message}");
        assert!(!message.contains(":30:"), "{message}");
    }

    #[test]
    fn a_name_another_user_type_holds_is_left_to_the_first_request() {
        let layer = user(Held::role_enum::<Access>(), Held::Nothing);
        let other = user(Held::Names, Held::Names);
        let names = [name(NameKind::Role, "superuser", 1)];
        assert!(check_names(&names, layer, &[]).is_err());
        assert_eq!(check_names(&names, layer, &[other]), Ok(()));
    }

    #[test]
    fn a_user_type_that_declares_nothing_checks_nothing() {
        let layer = user(Held::Unknown, Held::Unknown);
        let names = [name(NameKind::Role, "anything", 1)];
        assert_eq!(check_names(&names, layer, &[]), Ok(()));
    }
}
