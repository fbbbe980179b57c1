//! A bare `#[require_login]` on an associated function: the guard needs no type of its own.

use axum::{Router, extract::Path, routing::get};
use axum_login::require_login;

struct Pages;

impl Pages {
    #[require_login]
    async fn dashboard() -> &'static str {
        "dashboard"
    }

    #[require_login]
    async fn page(Path(id): Path<u32>) -> String {
        format!("page {id}")
    }
}

fn main() {
    let _: Router = Router::new()
        .route("/", get(Pages::dashboard))
        .route("/{id}", get(Pages::page));
}
