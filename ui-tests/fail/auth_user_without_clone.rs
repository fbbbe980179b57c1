use axum_login::AuthUser;
use secrecy::SecretString;

#[derive(AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(password_hash)]
    password_hash: SecretString,
}

fn main() {}
