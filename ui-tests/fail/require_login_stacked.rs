use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[require_login(role = Access::Editor)]
#[require_login(permission = "posts.publish")]
async fn publish() -> &'static str {
    "published"
}

fn main() {}
