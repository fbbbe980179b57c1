use axum_login::require_login;

#[require_login(fresh_mfa)]
async fn disable_two_factor() -> &'static str {
    "off"
}

fn main() {}
