use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[require_login(fresh = "15 minutes")]
async fn settings() -> &'static str {
    "settings"
}

fn main() {}
