use axum_login::{AuthUser, UserStore};

#[derive(Clone, AuthUser, UserStore)]
#[user_store(
    table = "users",
    authenticate_query = "SELECT id, username, password_hash FROM users WHERE username = ?"
)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
}

fn main() {}
