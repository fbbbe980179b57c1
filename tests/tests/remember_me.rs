//! Remember-me over HTTP: a remembered browser logged in again on a new session, a stolen
//! cookie caught, two requests with one cookie at once not taken for a theft, expiry and
//! revocation by logout and password change, and a made-up validator that ends nothing. On the
//! lifecycle app's in-memory stores.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::http::StatusCode;
use axum_login::{
    error::BoxError,
    events::{AuthEvent, LoginMethod},
    registry::SessionRegistry as _,
    remember::{MemoryRememberStore, RememberMe, RememberStore},
};
use axum_login_tests::lifecycle_app::{
    App, Browser, REMEMBER_COOKIE, SESSION_COOKIE, app, app_default,
};
use reqwest::header::ACCEPT;

#[tokio::test]
async fn a_remembered_browser_is_logged_in_again_on_a_new_session_and_not_without_remember() {
    let app = app(|builder| builder).await;
    let remembered = app.browser();
    let forgotten = app.browser();
    remembered.login("alice", "pw-alice", true).await;
    forgotten.login("alice", "pw-alice", false).await;
    assert!(forgotten.cookie(REMEMBER_COOKIE).is_none());
    let first_session = remembered.cookie(SESSION_COOKIE).expect("a session cookie");
    let first_token = remembered
        .cookie(REMEMBER_COOKIE)
        .expect("a remember-me cookie");

    remembered.restart();
    forgotten.restart();
    assert_eq!(forgotten.whoami().await, "anonymous");
    assert_eq!(remembered.whoami().await, "alice");
    let second_session = remembered.cookie(SESSION_COOKIE).expect("a session cookie");
    assert_ne!(second_session, first_session, "a new session id");
    let second_token = remembered
        .cookie(REMEMBER_COOKIE)
        .expect("a remember-me cookie");
    assert_ne!(second_token, first_token, "the validator rotated");
    assert_eq!(
        first_token.split('.').next(),
        second_token.split('.').next(),
        "the selector stays"
    );
    assert!(app.events().contains(&AuthEvent::RememberUsed {
        user: "1".to_owned()
    }));
    assert!(app.events().contains(&AuthEvent::LoggedIn {
        user: "1".to_owned(),
        method: LoginMethod::RememberMe,
    }));
    let listed = remembered.sessions().await;
    assert!(
        listed
            .iter()
            .any(|session| session.current && session.remembered),
        "{listed:?}"
    );
    // Neither the validator nor the selector is kept in the store, only keyed hashes: the
    // token is found by the one the session's registry entry names.
    let validator = second_token.split('.').nth(1).expect("a validator");
    let selector = second_token.split('.').next().expect("a selector");
    assert_eq!(
        RememberStore::get(&app.remembered, selector)
            .await
            .expect("the store answers"),
        None
    );
    let stored = app
        .registry
        .list("1")
        .await
        .expect("the registry lists")
        .into_iter()
        .find_map(|entry| entry.remember)
        .expect("the remembered session's entry names its token");
    assert!(!stored.contains(selector));
    let token = RememberStore::get(&app.remembered, &stored)
        .await
        .expect("the store answers")
        .expect("the token is kept");
    assert!(!token.validator_hash.contains(validator));
    assert_ne!(token.validator_hash, validator);

    // A remembered login is not fresh: the password is asked for again.
    let response = remembered
        .send(
            remembered
                .client
                .get(format!("{}/fresh", app.base))
                .header(ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_stolen_remember_me_cookie_used_after_its_owner_ends_every_session_of_the_user() {
    let app = app(|builder| builder).await;
    let owner = app.browser();
    let bystander = app.browser();
    owner.login("alice", "pw-alice", true).await;
    bystander.login("alice", "pw-alice", false).await;
    owner.restart();
    let thief = owner.copy();

    // The owner comes back first: the cookie rotates.
    assert_eq!(owner.whoami().await, "alice");
    // The thief's copy still holds the old validator; within the grace it is a duplicate
    // request of the owner's, after it a theft.
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(thief.whoami().await, "anonymous");
    assert!(app.events().contains(&AuthEvent::RememberTheft {
        user: "1".to_owned()
    }));
    assert_eq!(
        owner.whoami().await,
        "anonymous",
        "the owner's session ended"
    );
    assert_eq!(bystander.whoami().await, "anonymous");
    owner.restart();
    assert_eq!(owner.whoami().await, "anonymous", "its token was revoked");
    assert!(app.remembered.is_empty());
    assert!(app.registry.is_empty());
}

#[tokio::test]
async fn two_requests_with_the_same_remember_me_cookie_at_once_are_not_a_theft() {
    let app = app(|builder| builder).await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    browser.restart();
    let twin = browser.copy();
    let (first, second) = tokio::join!(browser.whoami(), twin.whoami());
    assert_eq!((first.as_str(), second.as_str()), ("alice", "alice"));
    assert!(
        !app.events()
            .iter()
            .any(|event| matches!(event, AuthEvent::RememberTheft { .. }))
    );
    assert!(!app.remembered.is_empty());
}

#[tokio::test]
async fn remember_me_expires_and_is_revoked_by_logout_and_password_change() {
    let app = app(|builder| {
        builder.remember_me(
            RememberMe::new(MemoryRememberStore::default()).lifetime(Duration::from_secs(3600)),
        )
    })
    .await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    let header = browser.get("/me").await;
    drop(header);
    browser.restart();
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(browser.whoami().await, "anonymous", "expired");

    let app = app_default().await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    let copy = browser.copy();
    browser.post("/logout", "").await;
    assert!(
        browser.cookie(REMEMBER_COOKIE).is_none(),
        "the cookie is removed"
    );
    copy.restart();
    assert_eq!(copy.whoami().await, "anonymous", "the token was revoked");

    let laptop = app.browser();
    let phone = app.browser();
    laptop.login("alice", "pw-alice", false).await;
    phone.login("alice", "pw-alice", true).await;
    assert_eq!(laptop.post("/password", "pw-new").await.status(), 204);
    assert_eq!(laptop.whoami().await, "alice");
    phone.restart();
    assert_eq!(phone.whoami().await, "anonymous");
    assert!(app.events().contains(&AuthEvent::PasswordChanged {
        user: "1".to_owned()
    }));
}

/// A remember-me store that records which of its methods were called, in order.
#[derive(Clone, Default)]
struct Recording {
    inner: MemoryRememberStore,
    calls: Arc<Mutex<Vec<&'static str>>>,
}

impl Recording {
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }

    fn record(&self, call: &'static str) {
        self.calls.lock().expect("lock").push(call);
    }
}

#[async_trait::async_trait]
impl RememberStore for Recording {
    async fn insert(&self, token: &axum_login::remember::RememberToken) -> Result<(), BoxError> {
        self.record("insert");
        self.inner.insert(token).await
    }

    async fn get(
        &self,
        selector: &str,
    ) -> Result<Option<axum_login::remember::RememberToken>, BoxError> {
        self.record("get");
        self.inner.get(selector).await
    }

    async fn rotate(
        &self,
        rotation: &axum_login::remember::Rotation<'_>,
    ) -> Result<bool, BoxError> {
        self.record("rotate");
        self.inner.rotate(rotation).await
    }

    async fn remove(&self, selector: &str) -> Result<(), BoxError> {
        self.record("remove");
        self.inner.remove(selector).await
    }

    async fn remove_user(&self, user: &str) -> Result<(), BoxError> {
        self.record("remove_user");
        self.inner.remove_user(user).await
    }
}

/// A browser whose jar holds only a remember-me cookie of `value`.
fn with_remember_cookie(app: &App, value: &str) -> Browser {
    app.browser().with_cookie(REMEMBER_COOKIE, value)
}

/// Whoever learnt a token's selector can put any validator next to it; that proves nothing,
/// so it must end nothing: the made-up cookie is dropped, with the same store work as a
/// selector nobody has, and the owner's sessions and token live on. The stores never see the
/// selector itself.
#[tokio::test]
async fn a_made_up_validator_for_a_real_selector_ends_nothing() {
    let remembered = Recording::default();
    let app = app(|builder| builder.remember_me(RememberMe::new(remembered.clone()))).await;
    let owner = app.browser();
    let bystander = app.browser();
    owner.login("alice", "pw-alice", true).await;
    bystander.login("alice", "pw-alice", false).await;
    let cookie = owner.cookie(REMEMBER_COOKIE).expect("a remember-me cookie");
    let (selector, validator) = cookie.split_once('.').expect("selector.validator");
    assert_eq!(remembered.inner.len(), 1);
    assert_eq!(
        remembered.inner.get(selector).await.expect("get"),
        None,
        "the store does not know the token by the cookie's selector"
    );

    let made_up = if validator.starts_with('A') { "B" } else { "A" }.repeat(43);
    let unknown = format!("{}.{made_up}", "C".repeat(22));
    remembered.take();
    let forger = with_remember_cookie(&app, &format!("{selector}.{made_up}"));
    assert_eq!(forger.whoami().await, "anonymous");
    assert_eq!(
        forger.cookie(REMEMBER_COOKIE),
        None,
        "the cookie is removed"
    );
    let forged_calls = remembered.take();
    let stranger = with_remember_cookie(&app, &unknown);
    assert_eq!(stranger.whoami().await, "anonymous");
    assert_eq!(
        stranger.cookie(REMEMBER_COOKIE),
        None,
        "the cookie is removed"
    );
    assert_eq!(
        forged_calls,
        remembered.take(),
        "a wrong validator costs what an unknown selector costs"
    );
    assert_eq!(forged_calls, ["get"]);

    assert!(
        !app.events()
            .iter()
            .any(|event| matches!(event, AuthEvent::RememberTheft { .. })),
        "no theft is concluded"
    );
    assert_eq!(owner.whoami().await, "alice");
    assert_eq!(bystander.whoami().await, "alice");
    owner.restart();
    assert_eq!(owner.whoami().await, "alice", "the token still logs in");
}
