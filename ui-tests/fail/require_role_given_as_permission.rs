use axum::{Router, routing::get};
use axum_login::{Role, require};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

fn main() {
    let _admin: Router = Router::new()
        .route("/", get(|| async { "admin" }))
        .route_layer(require!(permission = Access::Admin));
}
