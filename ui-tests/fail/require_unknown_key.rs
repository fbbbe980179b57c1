use axum::{Router, routing::get};
use axum_login::require;

fn main() {
    let _admin: Router = Router::new()
        .route("/", get(|| async { "admin" }))
        .route_layer(require!(permision = "admin.read"));
}
