use axum_login::require_login;

#[derive(Debug)]
enum Plain {
    PostsWrite,
}

#[require_login(permission = Plain::PostsWrite)]
async fn write() -> &'static str {
    "write"
}

fn main() {}
