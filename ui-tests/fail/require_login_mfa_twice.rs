use axum_login::require_login;

#[require_login(mfa, mfa = "5m")]
async fn secure() -> &'static str {
    "secure"
}

fn main() {}
