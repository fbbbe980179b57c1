use axum_login::require_login;

#[require_login(session_only, token_only)]
async fn nobody() -> &'static str {
    "nobody"
}

fn main() {}
