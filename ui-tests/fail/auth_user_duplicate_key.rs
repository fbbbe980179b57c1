use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id, id)]
    id: i64,
}

fn main() {}
