use axum_login::{AuthUser, UserStore};

#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: Option<std::string::String>,
}

fn main() {}
