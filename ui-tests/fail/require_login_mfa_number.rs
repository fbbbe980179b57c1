use axum_login::require_login;

#[require_login(mfa = 10)]
async fn secure() -> &'static str {
    "secure"
}

fn main() {}
