//! The code `#[require_login]` and `require!` generate is warning-free, even under strict lints,
//! for public and private handlers alike.

#![deny(
    warnings,
    unused,
    nonstandard_style,
    rust_2018_idioms,
    missing_docs,
    unreachable_pub,
    clippy::all
)]

use axum::{Router, extract::Path, routing::get};
use axum_login::{CurrentUser, Role, require, require_login};

/// A user.
#[derive(Clone, Debug)]
pub struct User {
    id: i64,
}

impl axum_login::AuthUser for User {
    type Id = i64;
    fn id(&self) -> i64 {
        self.id
    }
    fn session_auth_hash(&self) -> &[u8] {
        b""
    }
}

/// Roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
pub enum Access {
    /// Everything.
    #[role(implies(Editor))]
    Admin,
    /// Some things.
    Editor,
}

/// Whether the path id is the user's own.
pub async fn is_self(CurrentUser(user): CurrentUser<User>, Path(id): Path<i64>) -> bool {
    user.id == id
}

/// A public, guarded handler.
#[require_login(any(role = Access::Admin, check = is_self), not(permission = "banned"), fresh = "1h")]
pub async fn public_handler(Path(id): Path<i64>) -> String {
    id.to_string()
}

#[require_login(redirect = "/in", redirect_field = "back", role = "editor")]
async fn private_handler() -> &'static str {
    "private"
}

#[require_login(redirect = false, all(role = Access::Editor, not(role = "admin")))]
async fn folded_handler(Path(id): Path<i64>, body: String) -> String {
    format!("{id} {body}")
}

#[require_login]
pub(crate) async fn crate_handler() -> &'static str {
    "crate"
}

fn router() -> Router {
    Router::new()
        .route("/public/{id}", get(public_handler))
        .route("/private", get(private_handler))
        .route("/crate", get(crate_handler))
        .route("/folded/{id}", get(folded_handler))
        .route_layer(require!(role = Access::Editor))
}

#[test]
fn generated_code_compiles_without_warnings() {
    let router = router();
    assert!(router.has_routes());
}
