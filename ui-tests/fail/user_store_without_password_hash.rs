use axum_login::{AuthUser, UserStore};

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    password_hash: secrecy::SecretString,
}

fn main() {}
