use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[require_login(redirect = "https://login.example/")]
async fn settings() -> &'static str {
    "settings"
}

fn main() {}
