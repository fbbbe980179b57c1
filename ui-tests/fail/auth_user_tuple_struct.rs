use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User(i64, String);

fn main() {}
