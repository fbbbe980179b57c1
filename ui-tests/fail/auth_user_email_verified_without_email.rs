use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: u64,
    email: String,
    #[auth(email_verified)]
    email_verified: bool,
}

fn main() {}
