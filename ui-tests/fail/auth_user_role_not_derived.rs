use axum_login::AuthUser;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Admin,
    Editor,
}

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(role)]
    role: Access,
}

fn main() {}
