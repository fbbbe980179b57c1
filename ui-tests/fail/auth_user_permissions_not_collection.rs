use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(permissions)]
    permissions: String,
}

fn main() {}
