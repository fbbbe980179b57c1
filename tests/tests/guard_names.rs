//! A role or permission that a guard gives as a string (`role = "Admin"`), which no user type of
//! the program can hold, stops `AuthLayerBuilder::build` with the guard's file and line, before
//! any request; the program's other guards are not in the way. Its own test binary: every guard
//! of a program is checked by every layer the program builds.
#![allow(clippy::unwrap_used)]

use std::{convert::Infallible, panic::AssertUnwindSafe};

use axum_login::{
    AuthLayer, AuthUser, Role, UserStore, require_login, session::MemoryStore, session_layer,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    User,
}

#[derive(Clone, Debug, AuthUser)]
struct Member {
    #[auth(id)]
    id: i64,
    #[auth(role)]
    role: Access,
}

#[derive(Clone)]
struct Members;

impl UserStore for Members {
    type User = Member;
    type Credentials = i64;
    type Error = Infallible;

    async fn authenticate(&self, id: i64) -> Result<Option<Member>, Infallible> {
        Ok(Some(Member {
            id,
            role: Access::User,
        }))
    }

    async fn load_user(&self, id: &i64) -> Result<Option<Member>, Infallible> {
        Ok(Some(Member {
            id: *id,
            role: Access::Admin,
        }))
    }
}

/// The derive names the variant `admin`.
const CAPITALISED_LINE: u32 = line!() + 1;
#[require_login(role = "Admin")]
async fn capitalised() -> &'static str {
    "never"
}

// Kept over several lines: the line reported is the literal's, not the attribute's.
const NO_PERMISSIONS_LINE: u32 = line!() + 4;
#[rustfmt::skip]
#[require_login(
    role = "user",
    not(permission = "banned")
)]
async fn no_permissions() -> &'static str {
    "never"
}

#[require_login(role = "admin")]
async fn right() -> &'static str {
    "admin"
}

#[test]
fn build_names_every_guard_name_that_no_user_type_can_hold_with_its_line() {
    let _routes = axum::Router::<()>::new()
        .route("/a", axum::routing::get(capitalised))
        .route("/b", axum::routing::get(no_permissions))
        .route("/c", axum::routing::get(right));
    let built = std::panic::catch_unwind(AssertUnwindSafe(|| {
        AuthLayer::builder(Members, session_layer(MemoryStore::default())).build()
    }));
    let panic = built.expect_err("the layer is not built");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("2 guard name(s)"), "{message}");
    assert!(
        message.contains(&format!("guard_names.rs:{CAPITALISED_LINE}: ")),
        "{message}"
    );
    assert!(
        message.contains("\"Admin\"") && message.contains("expected one of: `admin`, `user`"),
        "{message}"
    );
    assert!(
        message.contains(&format!("guard_names.rs:{NO_PERMISSIONS_LINE}: ")),
        "the line of the literal, inside a guard written over several: {message}"
    );
    assert!(message.contains("hold no permissions"), "{message}");
    assert!(
        !message.contains("\"user\""),
        "a right name is not listed: {message}"
    );
}
