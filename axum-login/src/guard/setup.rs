//! Mistakes in how a guard is written that only the first request can find, because a guard does
//! not know the layer's user type at compile time: a role or permission the user type can never
//! hold, and a check whose error says "OK".
//!
//! Each is an [`AuthError::Policy`](crate::AuthError::Policy), a setup error: a `500` whose body
//! says what to fix, logged at error level, never a `403` (which would hide the mistake) and never
//! a pass (inside `not(..)`, "cannot hold" would let everyone in).

use crate::{
    authz::{AuthzKinds, Held, HeldEnum, PermissionRef, RoleRef},
    error::PolicyError,
};

/// At most this many characters of a name asked for are echoed: it is the app's, but it may
/// come from a configuration value or a database row.
const ECHO: usize = 64;

fn echo(name: &str) -> String {
    name.chars().take(ECHO).collect()
}

fn expected(held: &HeldEnum) -> String {
    held.names()
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether users of `user_type`, holding `kinds`, can ever hold `role`.
pub(crate) fn check_role(
    kinds: AuthzKinds,
    user_type: &'static str,
    role: &RoleRef<'_>,
) -> Result<(), PolicyError> {
    match kinds.roles {
        Held::Enum(held) => match (role.type_id(), role.type_name()) {
            (Some(id), _) if held.is(id) => Ok(()),
            (Some(_), Some(role_type)) => Err(PolicyError::RoleOfAnotherType {
                role: echo(role.name()),
                role_type,
                held_type: held.type_name(),
                user_type,
            }),
            _ if held.has_name(role.name()) => Ok(()),
            _ => Err(PolicyError::UnknownRoleName {
                name: echo(role.name()),
                held_type: held.type_name(),
                user_type,
                expected: expected(&held),
            }),
        },
        Held::Nothing => Err(PolicyError::NoRoles {
            role: echo(role.name()),
            user_type,
        }),
        // Names compare with names, whatever their type; an undeclared kind is the user type's
        // own business.
        Held::Names | Held::Unknown => Ok(()),
    }
}

/// Whether users of `user_type`, holding `kinds`, can ever hold `permission`.
pub(crate) fn check_permission(
    kinds: AuthzKinds,
    user_type: &'static str,
    permission: &PermissionRef<'_>,
) -> Result<(), PolicyError> {
    match kinds.permissions {
        Held::Enum(held) => match (permission.type_id(), permission.type_name()) {
            (Some(id), _) if held.is(id) => Ok(()),
            (Some(_), Some(permission_type)) => Err(PolicyError::PermissionOfAnotherType {
                permission: echo(permission.name()),
                permission_type,
                held_type: held.type_name(),
                user_type,
            }),
            _ if held.has_name(permission.name()) => Ok(()),
            _ => Err(PolicyError::UnknownPermissionName {
                name: echo(permission.name()),
                held_type: held.type_name(),
                user_type,
                expected: expected(&held),
            }),
        },
        Held::Nothing => Err(PolicyError::NoPermissions {
            permission: echo(permission.name()),
            user_type,
        }),
        Held::Names | Held::Unknown => Ok(()),
    }
}

/// A check's error response, unless it says anything but a refusal: a 1xx, 2xx or 3xx from a
/// check's error would let a denied request look served (a `200` with the check's body) or
/// redirect it, so it becomes the setup error instead.
pub(crate) fn refusal(
    response: axum::response::Response,
    check: &'static str,
) -> axum::response::Response {
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        return response;
    }
    axum::response::IntoResponse::into_response(crate::AuthError::Policy(
        PolicyError::CheckErrorNotARefusal { check, status },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Permission, Role};
    use axum::http::StatusCode;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Access {
        Admin,
    }

    impl Role for Access {
        const ALL: &'static [Self] = &[Self::Admin];
        fn as_str(&self) -> &'static str {
            "admin"
        }
        fn satisfies(&self, _: &Self) -> bool {
            true
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
        fn satisfies(&self, _: &Self) -> bool {
            true
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

    fn kinds(roles: Held, permissions: Held) -> AuthzKinds {
        AuthzKinds { roles, permissions }
    }

    #[test]
    fn a_role_of_the_held_enum_or_one_of_its_names_is_fine() {
        let kinds = kinds(Held::role_enum::<Access>(), Held::Nothing);
        assert_eq!(
            check_role(kinds, "User", &RoleRef::new(&Access::Admin)),
            Ok(())
        );
        assert_eq!(
            check_role(kinds, "User", &RoleRef::from_name("admin")),
            Ok(())
        );
    }

    #[test]
    fn a_role_of_another_enum_names_both_types() {
        let kinds = kinds(Held::role_enum::<Access>(), Held::Nothing);
        let error =
            check_role(kinds, "app::User", &RoleRef::new(&Other::Admin)).expect_err("another enum");
        let message = error.to_string();
        assert!(message.contains("Other`"), "{message}");
        assert!(message.contains("Access`"), "{message}");
        assert!(message.contains("app::User"), "{message}");
    }

    #[test]
    fn an_unknown_role_name_lists_the_valid_ones() {
        let kinds = kinds(Held::role_enum::<Access>(), Held::Nothing);
        let error = check_role(kinds, "User", &RoleRef::from_name("root")).expect_err("no such");
        let message = error.to_string();
        assert!(message.contains("\"root\""), "{message}");
        assert!(message.contains("expected one of: `admin`"), "{message}");
    }

    #[test]
    fn no_roles_or_permissions_at_all_is_a_mistake() {
        let kinds = kinds(Held::Nothing, Held::Nothing);
        assert!(matches!(
            check_role(kinds, "User", &RoleRef::from_name("admin")),
            Err(PolicyError::NoRoles { .. })
        ));
        assert!(matches!(
            check_permission(kinds, "User", &PermissionRef::from_name("read")),
            Err(PolicyError::NoPermissions { .. })
        ));
    }

    #[test]
    fn names_and_unknown_kinds_check_nothing() {
        for held in [Held::Names, Held::Unknown] {
            let kinds = kinds(held, held);
            assert_eq!(
                check_role(kinds, "User", &RoleRef::new(&Other::Admin)),
                Ok(())
            );
            assert_eq!(
                check_permission(kinds, "User", &PermissionRef::from_name("anything")),
                Ok(())
            );
        }
    }

    #[test]
    fn permissions_are_checked_like_roles() {
        let kinds = kinds(Held::Nothing, Held::permission_enum::<Perm>());
        assert_eq!(
            check_permission(kinds, "User", &PermissionRef::new(&Perm::Read)),
            Ok(())
        );
        assert_eq!(
            check_permission(kinds, "User", &PermissionRef::from_name("read")),
            Ok(())
        );
        assert!(matches!(
            check_permission(kinds, "User", &PermissionRef::from_name("write")),
            Err(PolicyError::UnknownPermissionName { .. })
        ));
    }

    #[test]
    fn long_names_are_echoed_in_part() {
        let kinds = kinds(Held::role_enum::<Access>(), Held::Nothing);
        let long = "x".repeat(1000);
        let error = check_role(kinds, "User", &RoleRef::from_name(&long)).expect_err("unknown");
        assert!(error.to_string().len() < 400);
    }

    #[test]
    fn a_check_error_that_is_not_a_refusal_becomes_a_500() {
        use axum::response::IntoResponse;
        for status in [StatusCode::OK, StatusCode::NO_CONTENT, StatusCode::FOUND] {
            let response = refusal((status, "fine").into_response(), "is_owner");
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        }
        for status in [
            StatusCode::FORBIDDEN,
            StatusCode::NOT_FOUND,
            StatusCode::BAD_GATEWAY,
        ] {
            let response = refusal((status, "no").into_response(), "is_owner");
            assert_eq!(response.status(), status);
        }
    }
}
