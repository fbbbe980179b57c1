use axum_login::require_login;

#[require_login(mfa = "ten minutes")]
async fn secure() -> &'static str {
    "secure"
}

fn main() {}
