use axum_login::UserStore;
use secrecy::SecretString;

// Two mistakes, two errors: the typo, and the missing `AuthUser`. Neither compiles silently.
#[derive(Clone, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(idd)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
}

fn main() {}
