use axum_login::{Permission, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Permission)]
enum Perm {
    PostsWrite,
}

#[require_login(role = Perm::PostsWrite)]
async fn write() -> &'static str {
    "write"
}

fn main() {}
