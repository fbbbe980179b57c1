use axum_login::require_login;

#[axum::debug_handler]
#[require_login]
async fn dashboard() -> &'static str {
    "dashboard"
}

fn main() {}
