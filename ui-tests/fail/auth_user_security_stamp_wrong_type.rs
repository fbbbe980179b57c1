use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: u64,
    #[auth(security_stamp)]
    stamp: f64,
}

fn main() {}
