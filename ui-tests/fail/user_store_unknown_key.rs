use axum_login::{AuthUser, UserStore};

#[derive(Clone, AuthUser, UserStore)]
#[user_store(tabel = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
}

fn main() {}
