// The runtime crate under another name: every generated path goes through `crate = "..."`.
extern crate axum_login as auth;

use auth::{
    AuthUser as _, Role as _,
    authz::{PermissionRef, RoleRef},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, auth::Role)]
#[role(crate = "auth")]
enum Access {
    #[role(implies(Reader))]
    Writer,
    Reader,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, auth::Permission)]
#[permission(crate = "auth")]
enum Perm {
    Publish,
}

#[derive(Clone, auth::AuthUser)]
#[auth(crate = "auth")]
struct User {
    #[auth(id)]
    id: u32,
    #[auth(password_hash, allow_plain_string)]
    hash: String,
    #[auth(role)]
    role: Access,
    #[auth(permissions)]
    permissions: Vec<Perm>,
}

fn main() {
    let user = User {
        id: 3,
        hash: "h".into(),
        role: Access::Writer,
        permissions: vec![Perm::Publish],
    };
    assert_eq!(user.id(), 3);
    assert_eq!(user.session_auth_hash(), b"h");
    assert!(user.has_role(RoleRef::new(&Access::Reader)));
    assert!(user.has_permission(PermissionRef::new(&Perm::Publish)));
    assert_eq!(Access::Writer.as_str(), "writer");
}
