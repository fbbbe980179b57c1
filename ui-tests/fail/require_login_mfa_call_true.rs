use axum_login::require_login;

#[require_login(mfa(true))]
async fn secure() -> &'static str {
    "secure"
}

fn main() {}
