// The runtime crate under another name: `crate = "..."` on `#[require_login]` and `require!`
// routes every generated path through it, with no `axum_login` in scope.
extern crate axum_login as auth;

use axum::{Router, routing::get};

#[derive(Clone, Copy, Debug, PartialEq, Eq, auth::Role)]
#[role(crate = "auth")]
enum Access {
    Admin,
}

async fn is_owner() -> bool {
    true
}

#[auth::require_login(crate = "auth")]
async fn dashboard() -> &'static str {
    "hello"
}

#[auth::require_login(crate = "auth", role = Access::Admin, check = is_owner, fresh = "5m")]
async fn admin() -> &'static str {
    "admin"
}

fn main() {
    let _: Router = Router::new()
        .route("/", get(dashboard))
        .route("/admin", get(admin))
        .route_layer(auth::require!(crate = "auth", not(permission = "banned")));
}
