use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[require_login(any(role = Access::Admin, mfa))]
async fn settings() -> &'static str {
    "settings"
}

fn main() {}
