use std::collections::{BTreeSet, HashSet};

use axum_login::{AuthUser, Permission, authz::PermissionRef, Role, authz::RoleRef};
use secrecy::{SecretSlice, SecretString};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Role)]
enum Access {
    #[role(implies(Editor))]
    Admin,
    #[role(implies(Viewer))]
    Editor,
    Viewer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Permission)]
enum Perm {
    PostsRead,
    PostsWrite,
}

// `SecretString` keeps the hash out of `Debug` output.
#[derive(Clone, Debug, AuthUser)]
struct SecretUser {
    #[auth(id, column = "user_id")]
    id: i64,
    #[auth(username, column = "email")]
    email: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(column = "display_name")]
    display: String,
    #[auth(role)]
    role: Access,
    #[auth(permissions)]
    permissions: HashSet<String>,
}

#[derive(Clone, AuthUser)]
struct StringHash {
    #[auth(id)]
    id: String,
    #[auth(password_hash, allow_plain_string)]
    hash: String,
    #[auth(roles)]
    roles: Vec<Access>,
    #[auth(permissions)]
    permissions: Vec<Perm>,
}

#[derive(Clone, AuthUser)]
struct BytesHash {
    #[auth(id)]
    id: u64,
    #[auth(password_hash)]
    hash: Vec<u8>,
    #[auth(roles)]
    roles: HashSet<Access>,
    #[auth(permissions)]
    permissions: Vec<String>,
}

#[derive(Clone, AuthUser)]
struct BoxedHash {
    #[auth(id)]
    id: u64,
    #[auth(password_hash)]
    hash: Box<[u8]>,
    #[auth(roles)]
    roles: BTreeSet<Access>,
    #[auth(permissions)]
    permissions: HashSet<Perm>,
}

#[derive(Clone, AuthUser)]
struct OptionalHash {
    #[auth(id)]
    id: u64,
    #[auth(password_hash)]
    hash: Option<SecretSlice<u8>>,
    #[auth(roles)]
    roles: [Access; 1],
}

fn main() {
    let user = SecretUser {
        id: 1,
        email: "ferris@example.com".into(),
        password_hash: SecretString::from("$argon2id$secret"),
        display: "Ferris".into(),
        role: Access::Editor,
        permissions: HashSet::from(["posts.read".to_string()]),
    };
    assert_eq!(user.session_auth_hash(), b"$argon2id$secret");
    assert!(!format!("{user:?}").contains("argon2id"));
    assert!(user.has_role(RoleRef::new(&Access::Viewer)));
    assert!(!user.has_role(RoleRef::new(&Access::Admin)));
    assert!(user.has_permission(PermissionRef::from_name("posts.read")));
    assert!(!user.has_permission(PermissionRef::from_name("posts.write")));
    assert_eq!(
        (user.email.as_str(), user.display.as_str()),
        ("ferris@example.com", "Ferris")
    );

    let user = StringHash {
        id: "u1".into(),
        hash: "h".into(),
        roles: vec![Access::Viewer, Access::Admin],
        permissions: vec![Perm::PostsWrite],
    };
    assert_eq!(user.id(), "u1");
    assert_eq!(user.session_auth_hash(), b"h");
    assert!(user.has_role(RoleRef::new(&Access::Editor)));
    assert!(user.has_permission(PermissionRef::new(&Perm::PostsWrite)));
    assert!(user.has_permission(PermissionRef::from_name("posts_write")));
    assert!(!user.has_permission(PermissionRef::new(&Perm::PostsRead)));

    let user = BytesHash {
        id: 2,
        hash: vec![1, 2, 3],
        roles: HashSet::from([Access::Viewer]),
        permissions: vec!["posts_read".into()],
    };
    assert_eq!(user.session_auth_hash(), [1, 2, 3]);
    assert!(!user.has_role(RoleRef::new(&Access::Editor)));
    assert!(user.has_permission(PermissionRef::new(&Perm::PostsRead)));

    let user = BoxedHash {
        id: 3,
        hash: Box::from(&b"bx"[..]),
        roles: BTreeSet::from([Access::Admin]),
        permissions: HashSet::from([Perm::PostsRead]),
    };
    assert_eq!(user.session_auth_hash(), b"bx");
    assert!(user.has_role(RoleRef::new(&Access::Viewer)));
    assert!(user.has_permission(PermissionRef::new(&Perm::PostsRead)));

    let user = OptionalHash {
        id: 4,
        hash: None,
        roles: [Access::Viewer],
    };
    assert!(user.session_auth_hash().is_empty());
    assert!(user.has_role(RoleRef::new(&Access::Viewer)));
    assert_eq!(Perm::ALL, [Perm::PostsRead, Perm::PostsWrite]);
}
