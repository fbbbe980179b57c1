//! `LoginAs` (feature `test-util`): a request made as a user without a password round trip,
//! and the guards it satisfies.

use axum_login::{AuthLayer, SessionKey, session::MemoryStore, session_layer};
use axum_login_tests::{
    directory::TestStore,
    lifecycle_app::{Shared, routes},
};
use reqwest::header::{ACCEPT, SET_COOKIE};

/// `LoginAs` (feature `test-util`) makes a request the given user's with no login round trip:
/// guards admit it, `mfa` guards too unless told otherwise, and an unknown id is nobody.
#[tokio::test]
async fn login_as_makes_a_request_as_the_user_without_a_password() {
    use axum::body::Body;
    use axum_login::test_util::LoginAs;
    use tower_service::Service as _;

    let store = TestStore::with_users(&[(1, "alice", "pw-alice")]);
    let layer = AuthLayer::builder(store, session_layer(MemoryStore::default()))
        .session_key(SessionKey::from_bytes(&[5; 64]).expect("a key"))
        .build();
    let mut app = routes(Shared::default()).layer(layer);
    let send = |path: &str, login: Option<LoginAs>| {
        let mut request = http::Request::get(path).header(ACCEPT.as_str(), "application/json");
        if let Some(login) = login {
            request = request.extension(login);
        }
        request.body(Body::empty()).expect("a request")
    };
    let body = |response: http::Response<Body>| async move {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("a body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    };

    let response = app
        .call(send("/me", Some(LoginAs::user(&1_u64))))
        .await
        .expect("answered");
    assert_eq!(body(response).await, "alice");
    let response = app.call(send("/me", None)).await.expect("answered");
    assert_eq!(body(response).await, "anonymous");
    let response = app
        .call(send("/me", Some(LoginAs::user(&9_u64))))
        .await
        .expect("answered");
    assert_eq!(body(response).await, "anonymous", "no such user");

    for (path, login, status) in [
        ("/fresh", LoginAs::user(&1_u64), 200),
        ("/secure", LoginAs::user(&1_u64), 200),
        (
            "/secure",
            LoginAs::user(&1_u64).without_second_factor(),
            401,
        ),
        ("/recent-mfa", LoginAs::user(&1_u64), 200),
    ] {
        let response = app.call(send(path, Some(login))).await.expect("answered");
        assert_eq!(response.status(), status, "{path}");
        assert!(
            response.headers().get(SET_COOKIE.as_str()).is_none(),
            "{path}: no session is made"
        );
    }
}
