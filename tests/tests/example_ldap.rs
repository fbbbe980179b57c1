//! `examples/ldap` over HTTP against the test directory of `tests/ldap/start-slapd.sh` (the
//! variables it writes, or their defaults): the demo's login surface, as the other examples
//! serve it, and what comes from the directory. Prints `SKIPPED` and passes when the directory
//! is unreachable, except under `CI=true`.

use std::net::SocketAddr;

use axum_login::SessionKey;
use axum_login_tests::{
    env::skipped,
    http::serve_with_addr,
    login_surface::{Browser, check_login_surface, location, text},
};
use example_ldap::Settings;
use reqwest::StatusCode;

/// The example on an ephemeral loopback port, with the client's address, or `None` after a
/// loud `SKIPPED`.
async fn start(test: &str) -> Option<SocketAddr> {
    let settings = Settings::from_env().expect("LDAP settings");
    let store = example_ldap::store(&settings).expect("the example's configuration builds");
    if let Err(error) = store.connect().await {
        skipped(
            test,
            &format!(
                "the LDAP directory at {} is unreachable ({error}); tests/ldap/start-slapd.sh starts one",
                settings.url
            ),
        );
        return None;
    }
    Some(serve_with_addr(example_ldap::app(store, SessionKey::generate())).await)
}

#[tokio::test]
async fn ldap_example_serves_the_login_surface() {
    let Some(addr) = start("ldap_example_serves_the_login_surface").await else {
        return;
    };
    check_login_surface(addr).await;
}

#[tokio::test]
async fn ldap_example_shows_the_directory_entry_and_every_role() {
    let Some(addr) = start("ldap_example_shows_the_directory_entry_and_every_role").await else {
        return;
    };
    let admin = Browser::new(addr);
    let response = admin
        .login("admin", "correct-horse-battery", "/admin")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");
    let response = admin.get("/admin").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(body.contains(r#"<p id="name">Ada Admin</p>"#), "{body}");
    assert!(
        body.contains(r#"<span id="roles">admin, user</span>"#),
        "{body}"
    );

    // carol is in no group: logged in, but neither page of a role opens.
    let carol = Browser::new(addr);
    let response = carol.login("carol", "carol-password", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let body = text(carol.get("/").await).await;
    assert!(
        body.contains("Logged in as <strong>carol</strong> (role: none)."),
        "{body}"
    );
    assert_eq!(carol.get("/protected").await.status(), StatusCode::OK);
    assert_eq!(carol.get("/admin").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ldap_example_answers_a_filter_injection_like_a_wrong_password() {
    let Some(addr) = start("ldap_example_answers_a_filter_injection_like_a_wrong_password").await
    else {
        return;
    };
    let browser = Browser::new(addr);
    let wrong = browser.login("ferris", "hunter43", "").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong = text(wrong).await;
    for username in ["*", "fer*", "ferris)(uid=*", "*)(|(uid=*"] {
        let response = browser.login(username, "hunter42", "").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{username}");
        assert_eq!(text(response).await, wrong, "{username}");
    }
}
