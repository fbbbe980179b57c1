use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[require_login(not(role = Access::Admin, role = Access::Editor))]
async fn guests() -> &'static str {
    "guests"
}

fn main() {}
