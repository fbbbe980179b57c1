//! The two-step login: a login waiting for its second factor is nobody until the code, expires
//! and ends when the password changes, never completes as another user; wrong codes are
//! throttled like passwords; the `mfa` guard sends a password-only login to the second step; a
//! remembered login still asks for the second factor.

use std::time::Duration;

use axum::http::StatusCode;
use axum_login::events::{AuthEvent, LoginFailure, LoginMethod};
use axum_login_tests::lifecycle_app::{CODE, REMEMBER_COOKIE, SESSION_COOKIE, app, app_default};
use reqwest::header::ACCEPT;

#[tokio::test]
async fn a_login_waiting_for_its_second_factor_is_nobody_until_the_code() {
    let app = app_default().await;
    app.shared.second_factor.lock().expect("lock").insert(1);
    let browser = app.browser();
    let response = browser.login("alice", "pw-alice", false).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("body"), "code please");
    assert_eq!(browser.whoami().await, "anonymous");
    for path in ["/fresh", "/secure", "/recent-mfa", "/sessions"] {
        let response = browser
            .send(
                browser
                    .client
                    .get(format!("{}{path}", app.base))
                    .header(ACCEPT, "application/json"),
            )
            .await;
        assert!(
            matches!(response.status().as_u16(), 401 | 200),
            "{path}: {}",
            response.status()
        );
        if path == "/sessions" {
            assert_eq!(response.text().await.expect("body"), "[]");
        } else {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        }
    }
    assert_eq!(
        browser.get("/login/due").await.text().await.expect("body"),
        "login alice"
    );
    let waiting = browser.cookie(SESSION_COOKIE).expect("a session cookie");
    let loads = app.store.loads();

    assert_eq!(
        browser
            .post_form("/login/code", &[("code", "000000")])
            .await
            .status(),
        401
    );
    assert_eq!(browser.whoami().await, "anonymous");
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        303
    );
    assert_ne!(
        browser.cookie(SESSION_COOKIE).expect("a session cookie"),
        waiting,
        "id cycled"
    );
    assert_eq!(browser.whoami().await, "alice");
    assert_eq!(browser.get("/secure").await.status(), 200);
    assert_eq!(browser.get("/recent-mfa").await.status(), 200);
    assert!(app.store.loads() > loads);
    let events = app.events();
    assert!(events.contains(&AuthEvent::LoginFailed {
        reason: LoginFailure::SecondFactor,
        user: Some("1".to_owned()),
    }));
    assert!(events.contains(&AuthEvent::LoggedIn {
        user: "1".to_owned(),
        method: LoginMethod::SecondFactor,
    }));
    assert!(
        !events.iter().any(|event| matches!(
            event,
            AuthEvent::LoggedIn {
                method: LoginMethod::Password,
                ..
            }
        )),
        "the password alone logged nobody in"
    );
}

#[tokio::test]
async fn a_waiting_login_expires_and_ends_when_the_password_changes() {
    let app = app_default().await;
    app.shared.second_factor.lock().expect("lock").insert(1);
    let browser = app.browser();
    browser.login("alice", "pw-alice", false).await;
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        401
    );
    assert_eq!(browser.whoami().await, "anonymous");

    browser.login("alice", "pw-alice", false).await;
    app.store.set_password(1, "pw-changed");
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        401
    );
    assert_eq!(browser.whoami().await, "anonymous");
}

/// A waiting login is bound to its user: a session that waits for alice's code cannot end up
/// logged in as bob, however the two logins are mixed on one browser.
#[tokio::test]
async fn a_waiting_login_for_one_user_never_completes_as_another() {
    let app = app_default().await;
    app.shared
        .second_factor
        .lock()
        .expect("lock")
        .extend([1, 2]);
    let browser = app.browser();
    browser.login("alice", "pw-alice", false).await;
    let alice_waiting = browser.copy();
    browser.login("bob", "pw-bob", false).await;
    assert_eq!(
        browser.get("/login/due").await.text().await.expect("body"),
        "login bob"
    );
    // Alice's copy of the waiting session is gone: the second login started a new session.
    assert_eq!(
        alice_waiting
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        401
    );
    assert_eq!(alice_waiting.whoami().await, "anonymous");
    browser.post_form("/login/code", &[("code", CODE)]).await;
    assert_eq!(browser.whoami().await, "bob");

    // A logged-in bob who starts alice's login is logged out until alice's code.
    browser.login("alice", "pw-alice", false).await;
    assert_eq!(browser.whoami().await, "anonymous");
    browser.post_form("/login/code", &[("code", CODE)]).await;
    assert_eq!(browser.whoami().await, "alice");
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let app = app_default().await;
    app.shared.second_factor.lock().expect("lock").insert(1);
    let browser = app.browser();
    browser.login("alice", "pw-alice", false).await;
    for _ in 0..12 {
        browser
            .post_form("/login/code", &[("code", "111111")])
            .await;
    }
    // The right code is refused while the account is locked.
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        401
    );
    assert_eq!(browser.whoami().await, "anonymous");
    assert!(app.events().contains(&AuthEvent::LoginFailed {
        reason: LoginFailure::Throttled,
        user: Some("1".to_owned()),
    }));
}

#[tokio::test]
async fn the_mfa_guard_sends_a_password_only_login_to_the_second_step_and_counts_time() {
    let app = app(|builder| builder.second_factor_url("/login/code")).await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", false).await;
    assert_eq!(browser.whoami().await, "alice");
    let response = browser.page("/secure").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"]
            .to_str()
            .expect("an ASCII location"),
        "/login/code?next=%2Fsecure"
    );
    let response = browser
        .send(
            browser
                .client
                .get(format!("{}/secure", app.base))
                .header(ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("second_factor_required")
    );

    // A step-up on the logged-in session.
    assert_eq!(
        browser.get("/login/due").await.text().await.expect("body"),
        "step-up alice"
    );
    let before = browser.cookie(SESSION_COOKIE).expect("a session cookie");
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        303
    );
    assert_ne!(
        browser.cookie(SESSION_COOKIE).expect("a session cookie"),
        before
    );
    assert_eq!(browser.get("/secure").await.status(), 200);
    assert_eq!(browser.get("/recent-mfa").await.status(), 200);
    assert!(app.events().contains(&AuthEvent::SecondFactorCompleted {
        user: "1".to_owned()
    }));

    // Ten minutes later `mfa = "10m"` asks again, bare `mfa` does not.
    app.clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(browser.get("/secure").await.status(), 200);
    assert_eq!(browser.page("/recent-mfa").await.status(), 303);
}

#[tokio::test]
async fn a_remembered_login_after_a_second_factor_still_asks_for_one() {
    let app = app_default().await;
    app.shared.second_factor.lock().expect("lock").insert(1);
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    assert!(
        browser.cookie(REMEMBER_COOKIE).is_none(),
        "nothing remembered before the code"
    );
    browser.post_form("/login/code", &[("code", CODE)]).await;
    assert!(browser.cookie(REMEMBER_COOKIE).is_some());
    browser.restart();
    assert_eq!(browser.whoami().await, "alice");
    let response = browser
        .send(
            browser
                .client
                .get(format!("{}/secure", app.base))
                .header(ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
