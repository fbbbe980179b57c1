use axum_login::{AuthUser, UserStore};
use secrecy::SecretString;

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users; DROP TABLE users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
}

fn main() {}
