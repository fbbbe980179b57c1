use axum_login::UserStore;

#[derive(Clone, UserStore)]
#[user_store(table = "users")]
struct User;

fn main() {}
