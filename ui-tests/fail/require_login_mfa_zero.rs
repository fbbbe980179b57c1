use axum_login::require_login;

#[require_login(mfa = "0m")]
async fn secure() -> &'static str {
    "secure"
}

fn main() {}
