use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
#[auth(crate = "axum login")]
struct User {
    #[auth(id)]
    id: i64,
}

fn main() {}
