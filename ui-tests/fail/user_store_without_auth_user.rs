use axum_login::UserStore;

#[derive(Clone, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
}

fn main() {}
