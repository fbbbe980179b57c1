use axum_login::AuthUser;

#[derive(Clone, Debug, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(password_hash)]
    password_hash: String,
}

fn main() {}
