use axum_login::{AuthUser, UserStore};
use secrecy::SecretString;

#[derive(Clone, AuthUser, UserStore)]
#[user_store(
    table = "users",
    permissions_table = "user_permissions",
    user_id_column = "user_permissions.user_id"
)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(permissions)]
    permissions: Vec<String>,
}

fn main() {}
