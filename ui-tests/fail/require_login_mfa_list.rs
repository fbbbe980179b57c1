use axum_login::require_login;

#[require_login(mfa(totp))]
async fn secure() -> &'static str {
    "secure"
}

fn main() {}
