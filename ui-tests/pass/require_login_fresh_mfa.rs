//! A guard for changes to the second factors themselves: a recent login and, for a user who
//! has a second factor, one completed within the same time (`fresh_mfa = "10m"`), alone or
//! with other options.

use axum::{Router, routing::post};
use axum_login::{require, require_login};

#[require_login(fresh_mfa = "10m")]
async fn disable_two_factor() -> &'static str {
    "off"
}

#[require_login(fresh_mfa = "5m", redirect = "/signin")]
async fn new_recovery_codes() -> &'static str {
    "codes"
}

fn main() {
    let _: Router = Router::new()
        .route("/account/2fa/disable", post(disable_two_factor))
        .route("/account/2fa/recovery", post(new_recovery_codes))
        .route_layer(require!(fresh_mfa = "1h"));
}
