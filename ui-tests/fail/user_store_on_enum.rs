use axum_login::UserStore;

#[derive(Clone, UserStore)]
#[user_store(table = "users")]
enum User {
    Member { id: i64 },
}

fn main() {}
