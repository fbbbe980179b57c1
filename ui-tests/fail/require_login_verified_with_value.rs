use axum_login::require_login;

#[require_login(verified = true)]
async fn handler() {}

fn main() {}
