//! A handler named with a raw identifier, as a route called `match` might be: the guard's policy
//! type is named from the identifier without its `r#`.

use axum::{Router, routing::get};
use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[require_login(role = Access::Admin)]
async fn r#match() -> &'static str {
    "match"
}

#[require_login]
async fn r#type() -> &'static str {
    "type"
}

fn main() {
    let _: Router = Router::new()
        .route("/match", get(r#match))
        .route("/type", get(r#type));
}
