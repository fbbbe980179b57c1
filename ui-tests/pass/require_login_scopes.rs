//! Scopes, alone, combined and negated, and the choice of sessions or tokens, on handlers and
//! on a router's `require!`.

use axum::{Router, routing::get};
use axum_login::{require, require_login};

#[require_login(scope = "posts:write", scope = "posts:read")]
async fn write_posts() -> &'static str {
    "written"
}

#[require_login(any(scope = "admin:all", all(scope = "posts:read", not(scope = "banned"))))]
async fn read_posts() -> &'static str {
    "read"
}

#[require_login(token_only, scope = "profile:read")]
async fn api_me() -> &'static str {
    "me"
}

#[require_login(session_only)]
async fn account() -> &'static str {
    "account"
}

fn main() {
    let _: Router = Router::new()
        .route("/posts", get(read_posts).post(write_posts))
        .route("/api/me", get(api_me))
        .route("/account", get(account))
        .route_layer(require!(token_only, scope = "api"));
}
