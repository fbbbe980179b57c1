use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[derive(Debug)]
enum Plain {
    Admin,
}

#[require_login(role = Plain::Admin)]
async fn admin() -> &'static str {
    "admin"
}

fn main() {}
