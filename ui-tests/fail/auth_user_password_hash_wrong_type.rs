use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(password_hash)]
    password_hash: u64,
}

fn main() {}
