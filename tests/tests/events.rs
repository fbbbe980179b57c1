//! Auth events and the request's tracing span: logins, failures and logouts reported with
//! address and time and no secret; the user's id on every log line of an authenticated request.

use axum::http::StatusCode;
use axum_login::events::{AuthEvent, LoginFailure, LoginMethod};
use axum_login_tests::lifecycle_app::app_default;

#[tokio::test]
async fn events_report_logins_failures_and_logouts_with_address_and_time_and_no_secret() {
    let app = app_default().await;
    let browser = app.browser();
    browser.login("alice", "wrong", false).await;
    browser.login("nobody", "pw-alice", false).await;
    browser.login("alice", "pw-alice", false).await;
    browser.post("/logout", "").await;
    assert_eq!(
        app.events(),
        [
            AuthEvent::LoginFailed {
                reason: LoginFailure::WrongCredentials,
                user: None
            },
            AuthEvent::LoginFailed {
                reason: LoginFailure::WrongCredentials,
                user: None
            },
            AuthEvent::LoggedIn {
                user: "1".to_owned(),
                method: LoginMethod::Password
            },
            AuthEvent::LoggedOut {
                user: "1".to_owned()
            },
        ]
    );
    let records = app.events.lock().expect("lock").clone();
    for record in &records {
        assert_eq!(
            record.address,
            Some("127.0.0.1".parse().expect("an address"))
        );
        assert_eq!(record.at, axum_login::clock::Clock::now(&app.clock));
        let shown = format!("{:?} {}", record, record.event);
        assert!(
            !shown.contains("pw-alice") && !shown.contains("wrong"),
            "{shown}"
        );
    }
}

/// Every log line of an authenticated request carries the user's id on the layer's `auth` span,
/// the handler's own lines included; an anonymous request's span has none.
#[tokio::test]
async fn the_request_span_carries_the_user_id() {
    axum_login_tests::logs::capture_logs();
    let app = app_default().await;
    let browser = app.browser();
    browser.login("bob", "pw-bob", false).await;
    assert_eq!(browser.get("/logged").await.status(), StatusCode::OK);
    let logs = axum_login_tests::logs::logs();
    let line = logs
        .lines()
        .find(|line| line.contains("handler of bob ran"))
        .unwrap_or_else(|| panic!("the handler's line is logged: {logs}"));
    assert!(line.contains("auth{user_id=2}"), "{line}");
}
