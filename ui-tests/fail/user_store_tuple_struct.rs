use axum_login::UserStore;

#[derive(Clone, UserStore)]
#[user_store(table = "users")]
struct User(i64, String);

fn main() {}
