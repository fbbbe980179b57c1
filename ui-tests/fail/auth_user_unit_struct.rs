use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User;

fn main() {}
