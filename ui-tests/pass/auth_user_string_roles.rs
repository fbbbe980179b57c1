//! Roles held as strings: compared by name, with no hierarchy.

use axum_login::{
    AuthUser, Role,
    authz::{AuthzKinds, Held, RoleRef},
};
use secrecy::SecretString;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[derive(Clone, AuthUser)]
struct Many {
    #[auth(id)]
    id: i64,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(roles)]
    roles: Vec<String>,
}

#[derive(Clone, AuthUser)]
struct One {
    #[auth(id)]
    id: i64,
    #[auth(role)]
    role: String,
}

fn main() {
    let many = Many {
        id: 1,
        password_hash: SecretString::from("h"),
        roles: vec!["admin".into(), "staff".into()],
    };
    assert!(many.has_role(RoleRef::from_name("staff")));
    assert!(many.has_role(RoleRef::new(&Access::Admin)));
    assert!(!many.has_role(RoleRef::from_name("root")));
    assert_eq!(Many::authz_kinds().roles, Held::Names);
    assert_eq!(Many::authz_kinds().permissions, Held::Nothing);

    let one = One {
        id: 2,
        role: "admin".into(),
    };
    assert!(one.has_role(RoleRef::from_name("admin")));
    assert!(!one.has_role(RoleRef::from_name("staff")));
    assert_eq!(
        One::authz_kinds(),
        AuthzKinds {
            roles: Held::Names,
            permissions: Held::Nothing
        }
    );
}
