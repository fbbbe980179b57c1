//! The demo app (`examples/sqlite`) against its contract in PRODUCT.md, over HTTP: each route,
//! each kind of caller, with a real client and cookie jar, on a fresh SQLite database per test.

use std::{net::SocketAddr, sync::Arc};

use axum_login::{PasswordCredentials, UserStore};
use axum_login_tests::http::serve_with_addr;
use example_sqlite::{Config, Demo};
use reqwest::{
    StatusCode,
    cookie::{CookieStore, Jar},
    header::{
        ACCEPT, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue, LOCATION, SET_COOKIE,
    },
    redirect::Policy,
};
use tempfile::TempDir;

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The demo served on an ephemeral loopback port, on a database in its own temporary directory.
struct Server {
    addr: SocketAddr,
    demo: Demo,
    _dir: TempDir,
}

impl Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let demo = Demo::new(Config {
            database: dir.path().join("demo.db"),
            session_key: None,
            mfa_key: None,
        })
        .await
        .expect("the demo starts on a fresh database");
        // Served as `main` serves it: with the client's address, for the login throttle.
        let addr = serve_with_addr(demo.router()).await;
        Self {
            addr,
            demo,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A browser: its own cookie jar, redirects not followed so each answer can be checked.
    fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        let mut headers = HeaderMap::new();
        // What a browser sends for a page; the framework tells browsers from API clients by it.
        headers.insert(ACCEPT, HeaderValue::from_static(BROWSER_ACCEPT));
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("client builds");
        Browser {
            client,
            jar,
            base: self.url(""),
        }
    }
}

struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

impl Browser {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET is answered")
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .expect("POST is answered")
    }

    /// A form POST as a page of another site makes it: `giveaway` is the header that tells.
    async fn post_cross_site(
        &self,
        path: &str,
        form: &[(&str, &str)],
        giveaway: (&str, &str),
    ) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header(giveaway.0, giveaway.1)
            .form(form)
            .send()
            .await
            .expect("POST is answered")
    }

    async fn login(&self, username: &str, password: &str, next: &str) -> reqwest::Response {
        self.post(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("next", next),
            ],
        )
        .await
    }

    /// Logs in and checks that it worked.
    async fn logged_in_as(&self, username: &str, password: &str) {
        let response = self.login(username, password, "").await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login of {username}"
        );
    }

    /// The `Cookie` header this browser would send now.
    fn cookie_header(&self) -> String {
        let url = self.base.parse().expect("base URL parses");
        self.jar
            .cookies(&url)
            .expect("the jar holds a session cookie")
            .to_str()
            .expect("cookie header is ASCII")
            .to_owned()
    }
}

async fn text(response: reqwest::Response) -> String {
    response.text().await.expect("body is text")
}

fn location(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("Location is ASCII")
}

/// The value of the login form's hidden `next` field, HTML entities decoded.
fn hidden_next(body: &str) -> String {
    let start = body
        .find(r#"<input type="hidden" name="next" value=""#)
        .expect("the hidden next field");
    let rest = &body[start..];
    let value_start = rest.find("value=\"").expect("a value") + "value=\"".len();
    let value = &rest[value_start..];
    let value = &value[..value.find('"').expect("the value's closing quote")];
    value
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn assert_html(response: &reqwest::Response) {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "content type {content_type:?}"
    );
}

#[tokio::test]
async fn public_page_shows_nobody_then_the_logged_in_user() {
    let server = Server::start().await;
    let browser = server.browser();

    let response = browser.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_html(&response);
    let body = text(response).await;
    assert!(body.contains("Nobody is logged in."), "{body}");
    assert!(body.contains(r#"href="/login""#), "{body}");

    browser.logged_in_as("ferris", "hunter42").await;
    let response = browser.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "a page that shows who is logged in is not cached"
    );
    let body = text(response).await;
    assert!(
        body.contains("Logged in as <strong>ferris</strong> (role: user)."),
        "{body}"
    );
    assert!(
        body.contains(r#"<form method="post" action="/logout""#),
        "{body}"
    );
}

#[tokio::test]
async fn login_form_has_username_password_and_validated_hidden_next() {
    let server = Server::start().await;
    let browser = server.browser();

    let response = browser.get("/login?next=%2Fprotected").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_html(&response);
    let body = text(response).await;
    assert!(
        body.contains(r#"<form method="post" action="/login""#),
        "{body}"
    );
    assert!(body.contains(r#"name="username""#), "{body}");
    assert!(
        body.contains(r#"type="password" name="password""#),
        "{body}"
    );
    assert_eq!(hidden_next(&body), "/protected");

    let body = text(browser.get("/login?next=%2F%2Fevil.example").await).await;
    assert_eq!(
        hidden_next(&body),
        "",
        "an unsafe next is not put into the form"
    );
}

#[tokio::test]
async fn login_success_redirects_303_to_next() {
    let server = Server::start().await;
    let browser = server.browser();

    let response = browser.login("ferris", "hunter42", "/protected").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/protected");
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("id="))
        .expect("login sets the session cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: not Secure: {cookie}"
    );

    let response = browser.get("/protected").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(body.contains("Hello, ferris."), "{body}");
}

#[tokio::test]
async fn login_success_without_next_redirects_303_to_root() {
    let server = Server::start().await;
    let browser = server.browser();

    let response = browser.login("admin", "correct-horse-battery", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");

    let response = browser
        .post(
            "/login",
            &[("username", "ferris"), ("password", "hunter42")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/", "a form without next at all");
}

#[tokio::test]
async fn login_with_open_redirect_next_lands_on_root() {
    let server = Server::start().await;
    for next in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
    ] {
        let browser = server.browser();
        let response = browser.login("ferris", "hunter42", next).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(
            location(&response),
            "/",
            "next {next:?} must not be followed"
        );
    }
}

#[tokio::test]
async fn login_failure_is_identical_for_unknown_user_wrong_password_and_overlong_input() {
    let server = Server::start().await;
    let long = "x".repeat(axum_login::credentials::MAX_PASSWORD_LEN + 1);
    let long_name = "u".repeat(axum_login::credentials::MAX_USERNAME_LEN + 1);
    let attempts: [(&str, &[(&str, &str)]); 6] = [
        (
            "unknown user",
            &[
                ("username", "nobody"),
                ("password", "hunter42"),
                ("next", "/protected"),
            ],
        ),
        (
            "wrong password",
            &[
                ("username", "ferris"),
                ("password", "hunter43"),
                ("next", "/protected"),
            ],
        ),
        (
            "over-long password",
            &[
                ("username", "ferris"),
                ("password", &long),
                ("next", "/protected"),
            ],
        ),
        (
            "over-long username",
            &[
                ("username", &long_name),
                ("password", "hunter42"),
                ("next", "/protected"),
            ],
        ),
        (
            "missing password",
            &[("username", "ferris"), ("next", "/protected")],
        ),
        ("missing username and password", &[("next", "/protected")]),
    ];
    let mut answers = Vec::new();
    for (what, form) in attempts {
        let browser = server.browser();
        let response = browser.post("/login", form).await;
        assert!(response.headers().get(LOCATION).is_none(), "{what}");
        let status = response.status();
        let body = text(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            body.matches("Wrong username or password.").count(),
            1,
            "{what}: one generic message: {body}"
        );
        assert!(
            body.contains(r#"name="password""#),
            "{what}: the form again"
        );
        assert_eq!(hidden_next(&body), "/protected", "{what}: next is kept");
        // Nobody got logged in.
        let home = text(browser.get("/").await).await;
        assert!(home.contains("Nobody is logged in."), "{what}: {home}");
        answers.push((what, status, body));
    }
    let (first, status, body) = &answers[0];
    for (what, other_status, other_body) in &answers[1..] {
        assert_eq!(status, other_status, "{first} vs {what}");
        assert_eq!(body, other_body, "{first} vs {what}: bodies differ");
    }
}

/// How a browser marks a form that another site's page posts here: Fetch Metadata, or, in a
/// browser without it, the `Origin`.
const CROSS_SITE: [(&str, &str); 2] = [
    ("sec-fetch-site", "cross-site"),
    ("origin", "https://evil.example"),
];

#[tokio::test]
async fn cross_site_login_is_403_and_logs_nobody_in() {
    let server = Server::start().await;
    let form = [("username", "ferris"), ("password", "hunter42")];
    for giveaway in CROSS_SITE {
        let browser = server.browser();
        let response = browser.post_cross_site("/login", &form, giveaway).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{giveaway:?}");
        assert!(response.headers().get(LOCATION).is_none(), "{giveaway:?}");
        assert!(
            response.headers().get(SET_COOKIE).is_none(),
            "{giveaway:?}: no session begins"
        );
        let body = text(browser.get("/").await).await;
        assert!(
            body.contains("Nobody is logged in."),
            "{giveaway:?}: {body}"
        );

        // Login CSRF against someone logged in: they stay who they were.
        let admin = server.browser();
        admin.logged_in_as("admin", "correct-horse-battery").await;
        let response = admin.post_cross_site("/login", &form, giveaway).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{giveaway:?}");
        let body = text(admin.get("/").await).await;
        assert!(
            body.contains("Logged in as <strong>admin</strong>"),
            "{giveaway:?}: {body}"
        );
    }

    // The login page's own form, as a browser posts it, passes.
    let browser = server.browser();
    let response = browser
        .post_cross_site("/login", &form, ("origin", &server.url("")))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn cross_site_logout_is_403_and_the_session_goes_on() {
    let server = Server::start().await;
    for giveaway in CROSS_SITE {
        let browser = server.browser();
        browser.logged_in_as("ferris", "hunter42").await;
        let cookie = browser.cookie_header();

        let response = browser.post_cross_site("/logout", &[], giveaway).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{giveaway:?}");
        assert!(response.headers().get(SET_COOKIE).is_none(), "{giveaway:?}");
        assert_eq!(browser.cookie_header(), cookie, "{giveaway:?}");
        let response = browser.get("/protected").await;
        assert_eq!(response.status(), StatusCode::OK, "{giveaway:?}");
        assert!(text(response).await.contains("Hello, ferris."));

        // The session was not ended on the server either: the logout button still works.
        let response = browser.post("/logout", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{giveaway:?}");
    }
}

#[tokio::test]
async fn cross_site_password_change_is_403_and_changes_nothing() {
    let server = Server::start().await;
    let form = [
        ("current_password", "hunter42"),
        ("new_password", "crab-rave-2026"),
    ];
    for giveaway in CROSS_SITE {
        let browser = server.browser();
        browser.logged_in_as("ferris", "hunter42").await;
        let response = browser.post_cross_site("/password", &form, giveaway).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{giveaway:?}");
        assert_eq!(browser.get("/protected").await.status(), StatusCode::OK);
    }
    let other = server.browser();
    assert_eq!(
        other.login("ferris", "crab-rave-2026", "").await.status(),
        StatusCode::UNAUTHORIZED,
        "the password did not change"
    );
    other.logged_in_as("ferris", "hunter42").await;
}

#[tokio::test]
async fn logout_post_redirects_to_login_and_replayed_cookie_is_anonymous() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let old_cookie = browser.cookie_header();

    let response = browser.post("/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    let body = text(browser.get("/").await).await;
    assert!(body.contains("Nobody is logged in."), "{body}");

    // An attacker who kept the cookie from before logout.
    let replay = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client builds");
    let response = replay
        .get(server.url("/"))
        .header(COOKIE, &old_cookie)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(body.contains("Nobody is logged in."), "replayed: {body}");
    let response = replay
        .get(server.url("/protected"))
        .header(ACCEPT, BROWSER_ACCEPT)
        .header(COOKIE, &old_cookie)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Fprotected");
}

#[tokio::test]
async fn logout_by_get_is_405() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;

    let response = browser.get("/logout").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response
        .headers()
        .get("allow")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(allow.contains("POST"), "Allow: {allow}");
    let body = text(browser.get("/").await).await;
    assert!(
        body.contains("Logged in as <strong>ferris</strong>"),
        "a GET does not log out: {body}"
    );
}

#[tokio::test]
async fn protected_sends_anonymous_browser_to_login_and_api_client_gets_401() {
    let server = Server::start().await;
    let browser = server.browser();

    let response = browser.get("/protected").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Fprotected");

    let response = browser
        .client
        .get(server.url("/protected"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(LOCATION).is_none());
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert!(body.is_object(), "{body}");
}

#[tokio::test]
async fn admin_is_403_for_ferris_and_200_for_admin() {
    let server = Server::start().await;

    let ferris = server.browser();
    ferris.logged_in_as("ferris", "hunter42").await;
    let response = ferris.get("/admin").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response.headers().get(LOCATION).is_none(),
        "a logged-in user without the role is not redirected"
    );
    assert!(!text(response).await.contains("Only admins see this page."));

    let admin = server.browser();
    admin.logged_in_as("admin", "correct-horse-battery").await;
    let response = admin.get("/admin").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(
        body.contains("Hello, admin. Only admins see this page."),
        "{body}"
    );
    // Admin implies user.
    assert_eq!(admin.get("/protected").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn password_page_shows_the_form() {
    let server = Server::start().await;
    let browser = server.browser();
    let response = browser.get("/password").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Fpassword");

    browser.logged_in_as("ferris", "hunter42").await;
    let response = browser.get("/password").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(
        body.contains(r#"<form method="post" action="/password""#),
        "{body}"
    );
    assert!(body.contains(r#"name="current_password""#), "{body}");
    assert!(body.contains(r#"name="new_password""#), "{body}");
}

#[tokio::test]
async fn password_change_keeps_this_session_and_ends_the_others() {
    let server = Server::start().await;
    let here = server.browser();
    let elsewhere = server.browser();
    here.logged_in_as("ferris", "hunter42").await;
    elsewhere.logged_in_as("ferris", "hunter42").await;
    assert_eq!(elsewhere.get("/protected").await.status(), StatusCode::OK);

    let response = here
        .post(
            "/password",
            &[
                ("current_password", "hunter42"),
                ("new_password", "crab-rave-2026"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/password");
    let body = text(here.get("/password").await).await;
    assert!(
        body.contains("Password changed. Your other sessions have been logged out."),
        "{body}"
    );

    // This session goes on.
    let response = here.get("/protected").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(text(response).await.contains("Hello, ferris."));

    // The other one ended.
    let response = elsewhere.get("/protected").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Fprotected");
    let body = text(elsewhere.get("/").await).await;
    assert!(body.contains("Nobody is logged in."), "{body}");

    // The new password works, the old one does not.
    let fresh = server.browser();
    let response = fresh.login("ferris", "hunter42", "").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = fresh.login("ferris", "crab-rave-2026", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");

    let stored = UserStore::load_user(server.demo.store(), &1)
        .await
        .expect("store answers")
        .expect("ferris has id 1");
    assert_eq!(stored.username, "ferris");
}

#[tokio::test]
async fn password_change_with_wrong_current_password_changes_nothing() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;

    let response = browser
        .post(
            "/password",
            &[
                ("current_password", "not-it"),
                ("new_password", "crab-rave-2026"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = text(response).await;
    assert!(body.contains("The current password is wrong."), "{body}");

    let response = browser
        .post(
            "/password",
            &[("current_password", "hunter42"), ("new_password", "short")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(response).await.contains("8 to 1024 bytes"));

    assert_eq!(browser.get("/protected").await.status(), StatusCode::OK);
    let other = server.browser();
    assert_eq!(
        other.login("ferris", "hunter42", "").await.status(),
        StatusCode::SEE_OTHER,
        "the old password still works"
    );
}

#[tokio::test]
async fn password_change_checks_the_current_password_through_the_login_throttle() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    // Someone holding the session guesses; the throttle allows five failures per account.
    for guess in 0..5 {
        let response = browser
            .post(
                "/password",
                &[
                    ("current_password", &format!("guess-{guess}")),
                    ("new_password", "crab-rave-2026"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Now even the right password is refused, like any throttled login.
    let response = browser
        .post(
            "/password",
            &[
                ("current_password", "hunter42"),
                ("new_password", "crab-rave-2026"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text(response)
            .await
            .contains("The current password is wrong.")
    );
    let unchanged = UserStore::authenticate(
        server.demo.store(),
        PasswordCredentials::new("ferris", "hunter42"),
    )
    .await
    .expect("store answers");
    assert!(unchanged.is_some(), "the password did not change");
}

#[tokio::test]
async fn password_change_by_anonymous_post_is_refused() {
    let server = Server::start().await;
    let browser = server.browser();
    let response = browser
        .client
        .post(server.url("/password"))
        .header(ACCEPT, "application/json")
        .form(&[
            ("current_password", "hunter42"),
            ("new_password", "whatever-1"),
        ])
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let other = server.browser();
    assert_eq!(
        other.login("ferris", "hunter42", "").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn restart_on_the_same_database_keeps_users_and_does_not_reseed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = Config {
        database: dir.path().join("demo.db"),
        session_key: None,
        mfa_key: None,
    };
    let first = Demo::new(config.clone()).await.expect("first start");
    let ferris = first
        .store()
        .set_password(&1, "changed-before-restart".to_owned().into())
        .await
        .expect("set password")
        .expect("ferris has id 1");
    assert_eq!(ferris.username, "ferris");
    drop(first);

    let second = Demo::new(config)
        .await
        .expect("second start on the same file");
    for (id, exists) in [(1, true), (2, true), (3, false)] {
        let user = UserStore::load_user(second.store(), &id)
            .await
            .expect("store answers");
        assert_eq!(user.is_some(), exists, "user {id}: seeded once, not twice");
    }
    let user = UserStore::authenticate(
        second.store(),
        PasswordCredentials::new("ferris", "changed-before-restart"),
    )
    .await
    .expect("store answers");
    assert!(
        user.is_some(),
        "seeding again did not reset ferris's password"
    );
}

/// Anonymous visits that store nothing leave nothing behind: no cookie and no session row, so a
/// flood of them cannot fill the session store.
#[tokio::test]
async fn anonymous_pages_store_no_session() {
    let server = Server::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    for path in [
        "/",
        "/login",
        "/login?next=%2Fadmin",
        "/protected",
        "/admin",
    ] {
        let response = client
            .get(server.url(path))
            .header(reqwest::header::ACCEPT, "text/html")
            .send()
            .await
            .expect("answered");
        assert!(
            response
                .headers()
                .get(reqwest::header::SET_COOKIE)
                .is_none(),
            "{path} set a cookie"
        );
    }
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM axum_login_sessions")
        .fetch_one(server.demo.pool())
        .await
        .expect("the sessions table");
    assert_eq!(sessions, 0);
}
