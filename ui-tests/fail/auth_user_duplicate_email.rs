use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: u64,
    #[auth(email)]
    email: String,
    #[auth(email)]
    backup_email: String,
}

fn main() {}
