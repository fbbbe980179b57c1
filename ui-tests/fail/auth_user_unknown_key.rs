use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(passwrd_hash)]
    password_hash: String,
}

fn main() {}
