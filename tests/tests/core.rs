//! The runtime core over HTTP: login, logout, the current user, and what happens when things go
//! wrong. Each test serves a real axum app on an ephemeral loopback port and talks to it with
//! reqwest, cookie jar and all.

use std::sync::atomic::Ordering;

use axum::{
    Form, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::{AuthError, AuthLayer, AuthSession, CurrentUser, SessionKey};
use axum_login_tests::{
    directory::TestStore,
    directory::TestUser,
    http::bare_client,
    http::browser,
    http::serve,
    http::set_cookie_headers,
    http::set_cookie_value,
    login::{Answers, login},
    session_stores::FlakySessionStore,
};
use reqwest::header::{ACCEPT, COOKIE};
use tower_sessions::SessionManagerLayer;

type Auth = AuthSession<TestStore>;

/// The login's answers here name the user, so that a test can tell whose login it was.
struct LoggedInAs;

impl Answers<TestUser> for LoggedInAs {
    fn logged_in(user: &TestUser) -> Response {
        (StatusCode::OK, format!("logged in as {}", user.name)).into_response()
    }

    fn refused() -> Response {
        (StatusCode::UNAUTHORIZED, "invalid credentials").into_response()
    }
}

async fn logout(mut auth: Auth) -> Result<&'static str, AuthError> {
    auth.logout().await?;
    Ok("logged out")
}

async fn me(auth: Auth) -> Result<String, AuthError> {
    Ok(match auth.user().await? {
        Some(user) => user.name,
        None => "anonymous".to_owned(),
    })
}

async fn me_everywhere(
    auth: Auth,
    CurrentUser(first): CurrentUser<TestUser>,
    second: Option<CurrentUser<TestUser>>,
) -> Result<String, AuthError> {
    let third = auth.user().await?.map(|user| user.name);
    let second = second.map(|CurrentUser(user)| user.name);
    Ok(format!("{} {:?} {:?}", first.name, second, third))
}

async fn current(CurrentUser(user): CurrentUser<TestUser>) -> String {
    user.name
}

async fn put_cart(auth: Auth, body: String) -> Result<&'static str, AuthError> {
    auth.session()
        .insert("cart", body)
        .await
        .map_err(AuthError::from)?;
    Ok("saved")
}

async fn get_cart(auth: Auth) -> Result<String, AuthError> {
    let cart: Option<String> = auth.session().get("cart").await.map_err(AuthError::from)?;
    Ok(cart.unwrap_or_else(|| "empty".to_owned()))
}

#[derive(serde::Deserialize)]
struct NewPassword {
    password: String,
}

async fn change_password(
    mut auth: Auth,
    CurrentUser(user): CurrentUser<TestUser>,
    Form(form): Form<NewPassword>,
) -> Result<&'static str, AuthError> {
    let user = auth.store().set_password(user.id, &form.password);
    auth.update_session_auth_hash(&user).await?;
    Ok("changed")
}

struct App {
    base: String,
    store: TestStore,
    sessions: FlakySessionStore,
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn app() -> App {
    let store = TestStore::with_users(&[(1, "ferris", "hunter42"), (2, "admin", "correct-horse")]);
    let sessions = FlakySessionStore::default();
    let session_layer = SessionManagerLayer::new(sessions.clone()).with_secure(false);
    let router = Router::new()
        .route("/public", get(|| async { "public" }))
        .route("/login", post(login::<TestStore, LoggedInAs>))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/me/current", get(current))
        .route("/me/everywhere", get(me_everywhere))
        .route("/cart", get(get_cart).post(put_cart))
        .route("/password", post(change_password))
        .layer(
            AuthLayer::builder(store.clone(), session_layer)
                .session_key(SessionKey::generate())
                .build(),
        );
    let addr = serve(router).await;
    App {
        base: format!("http://{addr}"),
        store,
        sessions,
    }
}

async fn log_in(
    app: &App,
    client: &reqwest::Client,
    username: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/login"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("login request")
}

async fn text(client: &reqwest::Client, url: String) -> (StatusCode, String) {
    let response = client.get(url).send().await.expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

async fn text_with_cookie(url: String, cookie: &str) -> (StatusCode, String) {
    let response = bare_client()
        .get(url)
        .header(COOKIE, format!("id={cookie}"))
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn login_rotates_the_session_id() {
    let app = app().await;
    let client = browser();
    let before = client
        .post(app.url("/cart"))
        .body("apples")
        .send()
        .await
        .expect("cart");
    let anonymous_id = set_cookie_value(&before, "id").expect("an anonymous session cookie");

    let response = log_in(&app, &client, "ferris", "hunter42").await;
    assert_eq!(response.status(), StatusCode::OK);
    let logged_in_id = set_cookie_value(&response, "id").expect("login sets a new cookie");
    assert_ne!(
        anonymous_id, logged_in_id,
        "login must change the session id"
    );

    // The id from before login is worthless: it is not logged in and holds nothing.
    assert_eq!(
        text_with_cookie(app.url("/me"), &anonymous_id).await.1,
        "anonymous"
    );
    assert_eq!(
        text_with_cookie(app.url("/cart"), &anonymous_id).await.1,
        "empty"
    );
    // The new id is logged in and kept the anonymous session's data.
    assert_eq!(
        text_with_cookie(app.url("/me"), &logged_in_id).await.1,
        "ferris"
    );
    assert_eq!(text(&client, app.url("/cart")).await.1, "apples");
}

#[tokio::test]
async fn logging_in_as_another_user_discards_the_previous_session() {
    let app = app().await;
    let client = browser();
    let first = log_in(&app, &client, "ferris", "hunter42").await;
    let ferris_id = set_cookie_value(&first, "id").expect("cookie");
    client
        .post(app.url("/cart"))
        .body("ferris's cart")
        .send()
        .await
        .expect("cart");

    let second = log_in(&app, &client, "admin", "correct-horse").await;
    assert_eq!(second.status(), StatusCode::OK);
    let admin_id = set_cookie_value(&second, "id").expect("cookie");
    assert_ne!(ferris_id, admin_id);
    assert_eq!(text(&client, app.url("/me")).await.1, "admin");
    assert_eq!(
        text(&client, app.url("/cart")).await.1,
        "empty",
        "the previous user's session data must not carry over"
    );
    assert_eq!(
        text_with_cookie(app.url("/me"), &ferris_id).await.1,
        "anonymous"
    );
}

#[tokio::test]
async fn logout_invalidates_replayed_cookie() {
    let app = app().await;
    let client = browser();
    let response = log_in(&app, &client, "ferris", "hunter42").await;
    let cookie = set_cookie_value(&response, "id").expect("cookie");
    assert_eq!(text(&client, app.url("/me")).await.1, "ferris");

    let response = client
        .post(app.url("/logout"))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::OK);
    let removal = set_cookie_headers(&response)
        .into_iter()
        .find(|header| header.starts_with("id="))
        .expect("logout sends a Set-Cookie for the session cookie");
    assert!(
        removal.starts_with("id=;") && removal.contains("Max-Age=0"),
        "logout must remove the cookie, got {removal}"
    );

    assert_eq!(text(&client, app.url("/me")).await.1, "anonymous");
    assert_eq!(
        text_with_cookie(app.url("/me"), &cookie).await.1,
        "anonymous",
        "a replayed cookie from before logout must be anonymous"
    );
}

#[tokio::test]
async fn deleted_user_is_anonymous_and_their_session_ends() {
    let app = app().await;
    let client = browser();
    let response = log_in(&app, &client, "ferris", "hunter42").await;
    let cookie = set_cookie_value(&response, "id").expect("cookie");
    app.store.remove(1);

    let response = client.get(app.url("/me")).send().await.expect("me");
    assert!(
        set_cookie_headers(&response)
            .iter()
            .any(|header| header.starts_with("id=;")),
        "the ended session's cookie is removed"
    );
    assert_eq!(response.text().await.expect("body"), "anonymous");

    let loads = app.store.loads();
    assert_eq!(
        text_with_cookie(app.url("/me"), &cookie).await.1,
        "anonymous"
    );
    assert_eq!(
        app.store.loads(),
        loads,
        "an ended session is not looked up in the user store again"
    );
}

#[tokio::test]
async fn changed_password_ends_other_sessions_and_keeps_this_one() {
    let app = app().await;
    let laptop = browser();
    let phone = browser();
    log_in(&app, &laptop, "ferris", "hunter42").await;
    let phone_login = log_in(&app, &phone, "ferris", "hunter42").await;
    let phone_cookie = set_cookie_value(&phone_login, "id").expect("cookie");
    let laptop_before = laptop.get(app.url("/me")).send().await.expect("me");
    assert_eq!(laptop_before.text().await.expect("body"), "ferris");

    let response = laptop
        .post(app.url("/password"))
        .form(&[("password", "new-password")])
        .send()
        .await
        .expect("change password");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookie_value(&response, "id").is_some(),
        "the session that changed the password gets a new id"
    );

    assert_eq!(text(&laptop, app.url("/me")).await.1, "ferris");
    assert_eq!(text(&phone, app.url("/me")).await.1, "anonymous");
    let loads = app.store.loads();
    assert_eq!(
        text_with_cookie(app.url("/me"), &phone_cookie).await.1,
        "anonymous"
    );
    assert_eq!(
        app.store.loads(),
        loads,
        "the ended session is not re-queried"
    );
    // Changing the password through the store directly ends the laptop's session too.
    app.store.set_password(1, "third");
    assert_eq!(text(&laptop, app.url("/me")).await.1, "anonymous");
}

#[tokio::test]
async fn routes_that_do_not_ask_never_load_the_user() {
    let app = app().await;
    let client = browser();
    log_in(&app, &client, "ferris", "hunter42").await;
    let loads = app.store.loads();
    for _ in 0..5 {
        let (status, body) = text(&client, app.url("/public")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "public"));
    }
    assert_eq!(
        app.store.loads(),
        loads,
        "a public route must not call the user store"
    );
}

#[tokio::test]
async fn one_request_loads_the_user_once() {
    let app = app().await;
    let client = browser();
    log_in(&app, &client, "ferris", "hunter42").await;
    let loads = app.store.loads();
    let (status, body) = text(&client, app.url("/me/everywhere")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"ferris Some("ferris") Some("ferris")"#);
    assert_eq!(
        app.store.loads() - loads,
        1,
        "three extractors asking who the user is share one load"
    );
}

#[tokio::test]
async fn user_store_failure_is_a_generic_500_and_nobody_is_logged_in() {
    axum_login_tests::logs::capture_logs();
    let app = app().await;
    let client = browser();
    log_in(&app, &client, "ferris", "hunter42").await;
    app.store.set_failing(true);

    for path in ["/me", "/me/current"] {
        let response = client.get(app.url(path)).send().await.expect("request");
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        let body = response.text().await.expect("body");
        assert_eq!(
            body, "Internal Server Error",
            "{path}: the body must not leak the cause"
        );
    }
    let response = log_in(&app, &browser(), "ferris", "hunter42").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        set_cookie_value(&response, "id").is_none(),
        "a failed login sets no session"
    );
    assert!(
        axum_login_tests::logs::logs().contains("test directory is down (load_user)"),
        "the cause is logged"
    );

    // When the store is back, the same session works again.
    app.store.set_failing(false);
    assert_eq!(text(&client, app.url("/me")).await.1, "ferris");
}

#[tokio::test]
async fn session_store_failure_is_a_generic_500() {
    axum_login_tests::logs::capture_logs();
    let app = app().await;
    let client = browser();
    log_in(&app, &client, "ferris", "hunter42").await;
    app.sessions.failing.store(true, Ordering::SeqCst);

    let response = client.get(app.url("/me")).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.text().await.expect("body"),
        "Internal Server Error"
    );
    assert!(axum_login_tests::logs::logs().contains("test session store is down"));

    app.sessions.failing.store(false, Ordering::SeqCst);
    assert_eq!(text(&client, app.url("/me")).await.1, "ferris");
}

#[tokio::test]
async fn malformed_cookies_are_anonymous_visitors() {
    let app = app().await;
    let client = browser();
    let response = log_in(&app, &client, "ferris", "hunter42").await;
    let valid = set_cookie_value(&response, "id").expect("cookie");
    let never_issued = "AAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let cookies = [
        String::new(),
        "garbage".to_owned(),
        "%%%".to_owned(),
        valid[..valid.len() / 2].to_owned(),
        format!("{valid}x"),
        never_issued,
        "A".repeat(4096),
        "%00%01".to_owned(),
    ];
    for cookie in cookies {
        for path in ["/me", "/public"] {
            let response = bare_client()
                .get(app.url(path))
                .header(COOKIE, format!("id={cookie}"))
                .send()
                .await
                .expect("request");
            assert!(
                !response.status().is_server_error(),
                "{path} with cookie {cookie:?} gave {}",
                response.status()
            );
            if path == "/me" {
                assert_eq!(
                    response.text().await.expect("body"),
                    "anonymous",
                    "{cookie:?}"
                );
            }
        }
        let response = bare_client()
            .get(app.url("/me/current"))
            .header(COOKIE, format!("id={cookie}"))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{cookie:?}");
    }
    // Two session cookies at once: neither confuses the server.
    let response = bare_client()
        .get(app.url("/me"))
        .header(COOKIE, format!("id=garbage; id={valid}"))
        .send()
        .await
        .expect("request");
    assert!(!response.status().is_server_error());
}

#[tokio::test]
async fn the_directory_checks_the_password_and_no_hash_leaves_it() {
    let app = app().await;
    let client = browser();
    let wrong = log_in(&app, &client, "ferris", "wrong").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie_value(&wrong, "id").is_none());
    let unknown = log_in(&app, &client, "nobody", "hunter42").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let right = log_in(&app, &client, "ferris", "hunter42").await;
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(right.text().await.expect("body"), "logged in as ferris");
    assert_eq!(text(&client, app.url("/me/current")).await.1, "ferris");
    assert_eq!(app.store.authenticate_calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn anonymous_current_user_is_redirected_or_401() {
    let app = app().await;
    let response = bare_client()
        .get(app.url("/me/current?tab=1"))
        .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "/login?next=%2Fme%2Fcurrent%3Ftab%3D1"
    );
    let response = bare_client()
        .get(app.url("/me/current"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.expect("json body");
    assert_eq!(body["error"], "unauthorized");
}

#[tokio::test]
async fn two_users_at_once_see_only_themselves() {
    let app = app().await;
    let ferris = browser();
    let admin = browser();
    log_in(&app, &ferris, "ferris", "hunter42").await;
    log_in(&app, &admin, "admin", "correct-horse").await;
    let mut requests = tokio::task::JoinSet::new();
    for round in 0..100 {
        let (client, expected) = if round % 2 == 0 {
            (ferris.clone(), "ferris")
        } else {
            (admin.clone(), "admin")
        };
        let url = app.url("/me/current");
        requests.spawn(async move {
            let body = client
                .get(url)
                .send()
                .await
                .expect("request")
                .text()
                .await
                .expect("body");
            assert_eq!(body, expected);
        });
    }
    while let Some(result) = requests.join_next().await {
        result.expect("every request saw its own user");
    }
}

#[tokio::test]
async fn responses_that_depend_on_the_user_are_not_cached() {
    let app = app().await;
    let client = browser();
    log_in(&app, &client, "ferris", "hunter42").await;
    let response = client.get(app.url("/me")).send().await.expect("request");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["vary"], "Cookie");
    let response = client
        .get(app.url("/public"))
        .send()
        .await
        .expect("request");
    assert!(response.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn extractors_without_the_layer_name_it() {
    axum_login_tests::logs::capture_logs();
    let router = Router::new()
        .route("/me", get(me))
        .route("/current", get(current));
    let addr = serve(router).await;
    for path in ["/me", "/current"] {
        let response = bare_client()
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = response.text().await.expect("body");
        // The log says what to fix; the body names no type.
        assert!(!body.contains("AuthLayer"), "{path}: {body}");
    }
    assert!(
        axum_login_tests::logs::logs().contains("was used on a route without `AuthLayer`"),
        "logged"
    );
}
