use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[require_login(any(role = Access::Admin, fresh = "5m"))]
async fn settings() -> &'static str {
    "settings"
}

fn main() {}
