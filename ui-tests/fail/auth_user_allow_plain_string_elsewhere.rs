use axum_login::AuthUser;
use secrecy::SecretString;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username, allow_plain_string)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
}

fn main() {}
