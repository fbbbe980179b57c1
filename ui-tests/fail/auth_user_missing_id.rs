use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    id: i64,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
}

fn main() {}
