use axum_login::require_login;

#[require_login(any(token_only, scope = "posts:write"))]
async fn api() -> &'static str {
    "api"
}

fn main() {}
