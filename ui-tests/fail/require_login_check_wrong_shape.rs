use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

fn is_owner(id: u32) -> bool {
    id == 1
}

#[require_login(role = Access::Editor, check = is_owner)]
async fn edit() -> &'static str {
    "edit"
}

fn main() {}
