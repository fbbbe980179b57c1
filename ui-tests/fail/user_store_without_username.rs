use axum_login::{AuthUser, UserStore};

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    email: String,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
}

fn main() {}
