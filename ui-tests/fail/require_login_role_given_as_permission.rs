use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[require_login(any(permission = Access::Admin, permission = "posts.write"))]
async fn write() -> &'static str {
    "write"
}

fn main() {}
