use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[require_login(permission = "")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
