use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
enum User {
    Admin { id: i64 },
}

fn main() {}
