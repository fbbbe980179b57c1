use axum_login::require_login;

#[require_login(token_only, fresh = "5m")]
async fn never() -> &'static str {
    "never"
}

fn main() {}
