//! A confirmed email address asked for by a guard (`verified`), on a handler and on a router,
//! alone or with other conditions and options.

use axum::{Router, routing::get};
use axum_login::{Role, require, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[require_login(verified)]
async fn newsletter() -> &'static str {
    "newsletter"
}

#[require_login(role = Access::Admin, verified, fresh = "15m")]
async fn billing() -> &'static str {
    "billing"
}

fn main() {
    let _: Router = Router::new()
        .route("/newsletter", get(newsletter))
        .route("/billing", get(billing))
        .route_layer(require!(verified, session_only));
}
