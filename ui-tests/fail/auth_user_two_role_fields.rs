use axum_login::{AuthUser, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(role)]
    role: Access,
    #[auth(roles)]
    extra_roles: Vec<Access>,
}

fn main() {}
