use axum::{Router, routing::get};
use axum_login::require;

fn main() {
    let _secure: Router = Router::new()
        .route("/", get(|| async { "secure" }))
        .route_layer(require!(mfa = 10));
}
