use axum_login::require_login;

#[require_login(fresh)]
async fn settings() -> &'static str {
    "settings"
}

fn main() {}
