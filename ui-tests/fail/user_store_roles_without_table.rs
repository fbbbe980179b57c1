use axum_login::{AuthUser, UserStore};

#[derive(Clone, Copy, Debug, PartialEq, Eq, axum_login::Role)]
enum Access {
    Admin,
    Viewer,
}

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
    #[auth(roles)]
    roles: Vec<Access>,
}

fn main() {}
