//! A role given by its name, as in the product's first sketch: compared with the names the
//! `Role` derive gives, and checked against them on the first request.

use axum::{Router, routing::get};
use axum_login::{Role, require, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

#[require_login(role = "admin")]
async fn admin() -> &'static str {
    "admin"
}

#[require_login(any(role = "editor", role = Access::Admin), not(role = "banned"))]
async fn edit() -> &'static str {
    "edit"
}

fn main() {
    let _ = Access::Editor;
    let _: Router = Router::new()
        .route("/admin", get(admin))
        .route("/edit", get(edit))
        .route_layer(require!(role = "staff"));
}
