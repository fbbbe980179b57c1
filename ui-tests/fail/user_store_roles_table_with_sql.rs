use axum_login::{AuthUser, Role, UserStore};
use secrecy::SecretString;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users", roles_table = "user_roles WHERE 1 = 1")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(roles)]
    roles: Vec<Access>,
}

fn main() {}
