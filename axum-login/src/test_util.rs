//! Requests made as a given user, for tests (feature `test-util`): no login form, no password
//! hash, no session.
//!
//! ```
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use axum_login::test_util::LoginAs;
//! # use axum_login::{AuthLayer, AuthUser, CurrentUser, UserStore, session::MemoryStore, session_layer};
//! # #[derive(Clone)] struct User;
//! # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { 7 } fn session_auth_hash(&self) -> &[u8] { b"" } }
//! # #[derive(Clone)] struct Store;
//! # impl UserStore for Store {
//! #     type User = User; type Credentials = (); type Error = std::convert::Infallible;
//! #     async fn authenticate(&self, _: ()) -> Result<Option<User>, Self::Error> { Ok(None) }
//! #     async fn load_user(&self, id: &u64) -> Result<Option<User>, Self::Error> { Ok((*id == 7).then_some(User)) }
//! # }
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use tower_service::Service as _;
//!
//! # let layer = AuthLayer::builder(Store, session_layer(MemoryStore::default())).build();
//! let mut app: Router = Router::new()
//!     .route("/me", get(|CurrentUser(user): CurrentUser<User>| async move { user.id().to_string() }))
//!     .layer(layer);
//! let request = Request::get("/me")
//!     .extension(LoginAs::user(&7_u64))
//!     .body(Body::empty())
//!     .unwrap();
//! let response = app.call(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```
//!
//! The layer honours [`LoginAs`] only with this feature on, and the feature refuses to build
//! without debug assertions (a release build): list it under `[dev-dependencies]`, never
//! `[dependencies]`, and it cannot reach a release build of the app. Even where it is on, a
//! [`LoginAs`] is a request extension, which only code in the same process can add: nothing a
//! client sends can become one.

#[cfg(not(debug_assertions))]
compile_error!(
    "axum-login's `test-util` feature is for tests only and refuses to build without debug assertions: move `features = [\"test-util\"]` to the `[dev-dependencies]` entry of axum-login"
);

use serde::Serialize;

/// A request extension that makes the request one of the user with this id, logged in just
/// now, as far as the layer's extractors and guards are concerned. The user is loaded from the
/// store; no session is read or written.
#[derive(Debug, Clone)]
pub struct LoginAs {
    pub(crate) id: serde_json::Value,
    pub(crate) second_factor: bool,
}

impl LoginAs {
    /// The user with `id`, with a second factor completed (so `#[require_login(mfa)]` passes).
    ///
    /// # Panics
    ///
    /// If `id` does not serialise to JSON, which no `AuthUser::Id` fails to do.
    pub fn user<I: Serialize + ?Sized>(id: &I) -> Self {
        Self {
            id: serde_json::to_value(id).expect("a user id serialises to JSON"),
            second_factor: true,
        }
    }

    /// Without a completed second factor, to test what guards that ask for one do.
    pub fn without_second_factor(mut self) -> Self {
        self.second_factor = false;
        self
    }
}

/// How many times, in this process, a SQL store of the crate ran a statement again after the
/// database rolled it back to break a lock conflict (a deadlock, a lock-wait timeout, a busy
/// SQLite). A test that forces such a conflict waits on this to know the conflict happened.
#[cfg(feature = "sqlx")]
pub fn sql_conflicts_retried() -> u64 {
    crate::sqlx::retry::RETRIES.load(std::sync::atomic::Ordering::Relaxed)
}
