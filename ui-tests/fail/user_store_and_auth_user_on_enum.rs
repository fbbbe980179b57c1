use axum_login::{AuthUser, UserStore};

// Both derives read the struct; the mistake is reported once.
#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users")]
enum User {
    Member { id: i64 },
}

fn main() {}
