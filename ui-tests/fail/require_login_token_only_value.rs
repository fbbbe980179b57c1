use axum_login::require_login;

#[require_login(token_only = true)]
async fn api() -> &'static str {
    "api"
}

fn main() {}
