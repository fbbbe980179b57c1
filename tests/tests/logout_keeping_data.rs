//! The logout that keeps the session's data: the cart stays, under a new id, and nothing of the
//! login does.

use axum::http::StatusCode;
use axum_login::{
    events::AuthEvent,
    tower_sessions::{SessionStore as _, session::Id},
};
use axum_login_tests::lifecycle_app::{REMEMBER_COOKIE, SESSION_COOKIE, app_default};

#[tokio::test]
async fn logout_keeping_data_keeps_the_cart_under_a_new_id_and_nothing_of_the_login() {
    let app = app_default().await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    assert_eq!(browser.post("/cart", "").await.status(), 405);
    let response = browser
        .send(
            browser
                .client
                .put(format!("{}/cart", app.base))
                .body("two apples"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let before = browser.cookie(SESSION_COOKIE).expect("a session cookie");
    let stolen = browser.copy();

    assert_eq!(browser.post("/logout-keeping-data", "").await.status(), 303);
    let after = browser.cookie(SESSION_COOKIE).expect("the session stays");
    assert_ne!(after, before, "under a new id");
    assert_eq!(browser.whoami().await, "anonymous");
    assert_eq!(
        browser.get("/cart").await.text().await.expect("body"),
        "two apples"
    );
    assert!(browser.cookie(REMEMBER_COOKIE).is_none());
    assert!(app.registry.is_empty());
    assert!(app.remembered.is_empty());
    // The old id is no session any more, and nothing of the login is left in the new one.
    assert_eq!(stolen.whoami().await, "anonymous");
    let record = app
        .sessions
        .load(&after.parse::<Id>().expect("a session id"))
        .await
        .expect("the store loads")
        .expect("kept");
    let keys: Vec<&String> = record.data.keys().collect();
    assert_eq!(keys, ["cart"], "only the app's data is left");
    assert!(app.events().contains(&AuthEvent::LoggedOut {
        user: "1".to_owned()
    }));
}
