use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

struct Pages;

impl Pages {
    #[require_login(role = Access::Admin)]
    async fn admin() -> &'static str {
        "admin"
    }
}

fn main() {}
