use axum_login::{AuthUser, UserStore};

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users", permissions_table = "user_permissions")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
    #[auth(permissions, column = "permission_name")]
    permissions: Vec<String>,
}

fn main() {}
