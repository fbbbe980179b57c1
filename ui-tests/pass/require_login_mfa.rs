//! A second factor asked for by a guard: at any time since login (`mfa`), or within a time
//! (`mfa = "10m"`), alone or with a role and `fresh`.

use axum::{Router, routing::get};
use axum_login::{Role, require, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[require_login(mfa)]
async fn secure() -> &'static str {
    "secure"
}

#[require_login(role = Access::Admin, mfa = "10m", fresh = "15m")]
async fn keys() -> &'static str {
    "keys"
}

fn main() {
    let _: Router = Router::new()
        .route("/secure", get(secure))
        .route("/keys", get(keys))
        .route_layer(require!(mfa));
}
