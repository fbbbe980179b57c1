use axum_login::AuthUser;

#[derive(Clone, Copy, AuthUser)]
union User {
    id: i64,
}

fn main() {}
