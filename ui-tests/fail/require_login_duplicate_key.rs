use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[require_login(role = Access::Editor, fresh = "5m", fresh = "10m")]
async fn edit() -> &'static str {
    "edit"
}

fn main() {}
