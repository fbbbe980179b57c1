use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

struct Pages;

impl Pages {
    #[require_login]
    async fn admin(&self) -> &'static str {
        "admin"
    }
}

fn main() {}
