use axum_login::{AuthUser, UserStore};
use secrecy::SecretString;

#[derive(AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
}

fn main() {}
