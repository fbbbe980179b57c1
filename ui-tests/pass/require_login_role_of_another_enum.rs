//! A role of an enum that is not the user's role type compiles: a guard does not know the user
//! type. The first request answers it with a `500` that names both types (`tests/tests/guard.rs`).

use axum::{Router, routing::get};
use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Other {
    Muted,
}

#[require_login(role = Access::Admin, not(role = Other::Muted))]
async fn admin() -> &'static str {
    "admin"
}

fn main() {
    let _: Router = Router::new().route("/admin", get(admin));
}
