//! `#[axum::debug_handler]` below `#[require_login]` checks the guarded handler; above it, it
//! checks the handler as written, which the guard does not change for a handler with arguments.

use axum::{Json, Router, extract::{Path, State}, routing::{get, post}};
use axum_login::{CurrentUser, Role, require_login};
#[derive(Clone)]
struct AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[derive(Clone)]
struct User;

impl axum_login::AuthUser for User {
    type Id = u64;
    fn id(&self) -> u64 {
        1
    }
    fn session_auth_hash(&self) -> &[u8] {
        b""
    }
}

#[require_login(role = Access::Admin)]
#[axum::debug_handler]
async fn below(CurrentUser(_user): CurrentUser<User>, Path(id): Path<u32>) -> String {
    id.to_string()
}

#[axum::debug_handler]
#[require_login(role = Access::Admin)]
async fn above(Path(id): Path<u32>) -> String {
    id.to_string()
}

#[axum::debug_handler(state = AppState)]
#[require_login(role = Access::Admin)]
async fn above_with_state(State(_): State<AppState>, Json(body): Json<String>) -> String {
    body
}

#[require_login]
#[axum::debug_handler]
async fn below_bare() -> &'static str {
    "bare"
}

fn main() {
    let _: Router = Router::new()
        .route("/below/{id}", get(below))
        .route("/above/{id}", get(above))
        .route("/state", post(above_with_state))
        .route("/bare", get(below_bare))
        .with_state(AppState);
}
