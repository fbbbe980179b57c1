use axum_login::require_login;

#[require_login(mfa = false)]
async fn secure() -> &'static str {
    "secure"
}

fn main() {}
