use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(roles)]
    roles: String,
}

fn main() {}
