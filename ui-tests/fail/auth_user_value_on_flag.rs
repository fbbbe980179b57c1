use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id = 1)]
    id: i64,
}

fn main() {}
