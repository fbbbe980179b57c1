use axum_login::require_login;

#[require_login(not(mfa))]
async fn settings() -> &'static str {
    "settings"
}

fn main() {}
