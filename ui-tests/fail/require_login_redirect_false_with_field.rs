use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[require_login(redirect = false, redirect_field = "return_to")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
