//! The demo app (`examples/sqlite`) against the contract its README states, over HTTP: each route,
//! each kind of caller, with a real client and cookie jar, on a fresh SQLite database per test.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::SystemTime,
};

use axum_login::{
    PasswordCredentials, UserStore,
    mfa::{Totp, TotpSecret},
};
use axum_login_tests::{http::serve_with_addr, mail};
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

/// The user agent the test browsers send, which the sessions page shows.
const USER_AGENT: &str = "demo-test-browser/1.0";

/// The session cookie's name: the demo serves plain HTTP, so it is not `Secure` and has no
/// `__Host-` prefix.
const SESSION_COOKIE: &str = "id";

/// The remember-me cookie's name on plain HTTP.
const REMEMBER_COOKIE: &str = "axum_login_remember";

/// The cookie that keeps the CSRF secret of a browser without a session, on plain HTTP.
const CSRF_COOKIE: &str = "axum_login_csrf";

/// The demo served on an ephemeral loopback port, on a database in its own temporary directory.
struct Server {
    addr: SocketAddr,
    demo: Demo,
    _dir: TempDir,
}

impl Server {
    async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    /// The demo with `config`, on a database of its own.
    async fn start_with(config: Config) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let demo = Demo::new(Config {
            database: dir.path().join("demo.db"),
            ..config
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
        self.browser_with_cookies(&[])
    }

    /// A browser whose jar starts with `cookies` (`name=value`): one restarted with only its
    /// long-lived cookies, or another machine holding a copy of them.
    fn browser_with_cookies(&self, cookies: &[String]) -> Browser {
        let jar = Arc::new(Jar::default());
        let url = self.url("/").parse().expect("server URL parses");
        for cookie in cookies {
            jar.add_cookie_str(&format!("{cookie}; Path=/"), &url);
        }
        let mut headers = HeaderMap::new();
        // What a browser sends for a page; the framework tells browsers from API clients by it.
        headers.insert(ACCEPT, HeaderValue::from_static(BROWSER_ACCEPT));
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_provider(jar.clone())
            .user_agent(USER_AGENT)
            .redirect(Policy::none())
            .build()
            .expect("client builds");
        Browser {
            client,
            jar,
            base: self.url(""),
            page_token: Mutex::new(None),
        }
    }
}

struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
    /// The CSRF token of the page this browser shows: the last answer it read, if that was a
    /// page with a form.
    page_token: Mutex<Option<String>>,
}

impl Browser {
    async fn get(&self, path: &str) -> reqwest::Response {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET is answered");
        self.show(response).await
    }

    /// Submits a form of the page this browser shows, with the CSRF token of that page, as a
    /// browser does. A browser that shows no form (a fresh one, or one just redirected) opens
    /// the login page first, as a visitor would: every page's forms carry a token of the same
    /// session.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let token = self.form_token().await;
        let mut fields = form.to_vec();
        fields.push(("csrf_token", &token));
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(&fields)
            .send()
            .await
            .expect("POST is answered");
        self.show(response).await
    }

    /// The CSRF token of a form this browser shows, opening the login page for one if it
    /// shows none.
    async fn form_token(&self) -> String {
        if let Some(token) = self.page_token() {
            return token;
        }
        self.get("/login").await;
        self.page_token().expect("the login page has a form")
    }

    fn page_token(&self) -> Option<String> {
        self.page_token
            .lock()
            .expect("the token lock is never poisoned")
            .clone()
    }

    /// Reads `response` as the page this browser now shows, and answers it unchanged.
    async fn show(&self, response: reqwest::Response) -> reqwest::Response {
        let mut page = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = page.headers_mut() {
            *headers = response.headers().clone();
        }
        let body = response.bytes().await.expect("the body is read");
        *self
            .page_token
            .lock()
            .expect("the token lock is never poisoned") =
            csrf_token(&String::from_utf8_lossy(&body));
        page.body(body).expect("a response rebuilds").into()
    }

    /// A form POST as a page of another site makes it: `giveaway` is the header that tells.
    /// It carries this browser's CSRF token, as if the other site had got hold of one, so
    /// that what refuses it is the origin check.
    async fn post_cross_site(
        &self,
        path: &str,
        form: &[(&str, &str)],
        giveaway: (&str, &str),
    ) -> reqwest::Response {
        let token = self.form_token().await;
        let mut fields = form.to_vec();
        fields.push(("csrf_token", &token));
        self.client
            .post(format!("{}{path}", self.base))
            .header(giveaway.0, giveaway.1)
            .form(&fields)
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

    /// Logs in with "remember me" ticked and checks that it worked; answers the remember-me
    /// cookie (`name=value`).
    async fn logged_in_remembered(&self, username: &str, password: &str) -> String {
        let response = self
            .post(
                "/login",
                &[
                    ("username", username),
                    ("password", password),
                    ("remember", "on"),
                ],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login of {username}"
        );
        let value = cookie_set(&response, REMEMBER_COOKIE).expect("a remember-me cookie");
        format!("{REMEMBER_COOKIE}={value}")
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

/// The value the response sets for cookie `name`, unless it removes it.
fn cookie_set(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|header| {
            let pair = header.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key.trim() == name && !value.trim().is_empty()).then(|| value.trim().to_owned())
        })
        .next()
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

/// The CSRF token of the first form of a page, if it has one.
fn csrf_token(body: &str) -> Option<String> {
    let field = r#"<input type="hidden" name="csrf_token" value=""#;
    let value = &body[body.find(field)? + field.len()..];
    Some(value[..value.find('"')?].to_owned())
}

/// The value of the login form's hidden `next` field, HTML entities decoded.
fn hidden_next(body: &str) -> String {
    let start = body
        .find(r#"<input type="hidden" name="next" value=""#)
        .expect("the hidden next field");
    let rest = &body[start..];
    let value_start = rest.find("value=\"").expect("a value") + "value=\"".len();
    let value = &rest[value_start..];
    unescape(&value[..value.find('"').expect("the value's closing quote")])
}

/// HTML text with the entities the templates write decoded.
fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
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
        // Each page masks the CSRF token afresh, whatever the login did: the one difference.
        let token = csrf_token(&body).expect("the form has a token");
        let body = body.replace(&token, "TOKEN");
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
    // With a token of this browser, so that what refuses it is the guard.
    let token = browser.form_token().await;
    let response = browser
        .client
        .post(server.url("/password"))
        .header(ACCEPT, "application/json")
        .form(&[
            ("current_password", "hunter42"),
            ("new_password", "whatever-1"),
            ("csrf_token", &token),
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
        ..Config::default()
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

/// Anonymous visits leave nothing behind in the session store: no session cookie and no
/// session row, so a flood of them cannot fill it. The login form's CSRF secret is kept in a
/// cookie of its own until a session exists, for that reason; the other pages set no cookie.
#[tokio::test]
async fn anonymous_pages_store_no_session() {
    let server = Server::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    for (path, cookies) in [
        ("/", &[][..]),
        ("/login", &[CSRF_COOKIE][..]),
        ("/login?next=%2Fadmin", &[CSRF_COOKIE][..]),
        ("/protected", &[][..]),
        ("/admin", &[][..]),
    ] {
        let response = client
            .get(server.url(path))
            .header(reqwest::header::ACCEPT, "text/html")
            .send()
            .await
            .expect("answered");
        let set: Vec<&str> = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok()?.split('=').next())
            .collect();
        assert_eq!(set, cookies, "{path}");
    }
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM axum_login_sessions")
        .fetch_one(server.demo.pool())
        .await
        .expect("the sessions table");
    assert_eq!(sessions, 0);
}

/// The sessions listed on `/account/sessions`: each row's registry id, and whether it is the
/// one marked as this browser's.
async fn listed_sessions(browser: &Browser) -> Vec<(String, bool)> {
    let response = browser.get("/account/sessions").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    body.split("<tr class=\"session")
        .skip(1)
        .map(|row| {
            let current = row.starts_with(" current\"");
            let id = row
                .split_once("data-session=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .expect("a row names its session")
                .0
                .to_owned();
            (id, current)
        })
        .collect()
}

#[tokio::test]
async fn sessions_page_lists_each_session_with_the_current_one_marked() {
    let server = Server::start().await;
    let response = server.browser().get("/account/sessions").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Faccount%2Fsessions");

    let here = server.browser();
    let elsewhere = server.browser();
    here.logged_in_as("ferris", "hunter42").await;
    elsewhere.logged_in_as("ferris", "hunter42").await;
    server
        .browser()
        .logged_in_as("admin", "correct-horse-battery")
        .await;

    let response = here.get("/account/sessions").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_html(&response);
    let body = unescape(&text(response).await);
    assert!(body.contains("127.0.0.1"), "the client address: {body}");
    assert!(body.contains(USER_AGENT), "the user agent: {body}");
    assert!(body.contains(" UTC</td>"), "when: {body}");
    assert!(body.contains("This session"), "{body}");

    let seen_here = listed_sessions(&here).await;
    let seen_elsewhere = listed_sessions(&elsewhere).await;
    assert_eq!(seen_here.len(), 2, "ferris's two sessions, not admin's");
    assert_eq!(seen_here.iter().filter(|(_, current)| *current).count(), 1);
    assert_eq!(seen_elsewhere.len(), 2);
    let current = |seen: &[(String, bool)]| {
        seen.iter()
            .find(|(_, current)| *current)
            .map(|(id, _)| id.clone())
    };
    assert_ne!(
        current(&seen_here),
        current(&seen_elsewhere),
        "each browser sees its own session marked"
    );
}

#[tokio::test]
async fn ending_another_session_makes_that_browser_anonymous_at_its_next_request() {
    let server = Server::start().await;
    let here = server.browser();
    let elsewhere = server.browser();
    here.logged_in_as("ferris", "hunter42").await;
    elsewhere.logged_in_as("ferris", "hunter42").await;
    assert_eq!(elsewhere.get("/protected").await.status(), StatusCode::OK);

    let (other, _) = listed_sessions(&here)
        .await
        .into_iter()
        .find(|(_, current)| !current)
        .expect("the other session is listed");
    let response = here
        .post(&format!("/account/sessions/{other}/end"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account/sessions");

    let response = elsewhere.get("/protected").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Fprotected");
    let body = text(elsewhere.get("/").await).await;
    assert!(body.contains("Nobody is logged in."), "{body}");

    assert_eq!(here.get("/protected").await.status(), StatusCode::OK);
    let body = text(here.get("/account/sessions").await).await;
    assert!(body.contains("The session has been logged out."), "{body}");
    assert_eq!(listed_sessions(&here).await.len(), 1);

    // Another user's session cannot be ended by its id.
    let admin = server.browser();
    admin.logged_in_as("admin", "correct-horse-battery").await;
    let (admins, _) = listed_sessions(&admin).await.remove(0);
    let response = here
        .post(&format!("/account/sessions/{admins}/end"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin.get("/admin").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn ending_this_session_from_the_list_logs_out() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let (this, _) = listed_sessions(&browser)
        .await
        .into_iter()
        .find(|(_, current)| *current)
        .expect("this session is listed");
    let response = browser
        .post(&format!("/account/sessions/{this}/end"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    assert_eq!(
        browser.get("/protected").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn end_others_ends_every_other_session_and_their_remember_me() {
    let server = Server::start().await;
    let remembered = server.browser();
    let cookie = remembered.logged_in_remembered("ferris", "hunter42").await;
    let plain = server.browser();
    plain.logged_in_as("ferris", "hunter42").await;
    let here = server.browser();
    here.logged_in_as("ferris", "hunter42").await;
    let admin = server.browser();
    admin.logged_in_as("admin", "correct-horse-battery").await;
    assert_eq!(listed_sessions(&here).await.len(), 3);

    let response = here.post("/account/sessions/end-others", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account/sessions");
    let body = text(here.get("/account/sessions").await).await;
    assert!(body.contains("Logged out 2 other sessions."), "{body}");
    assert_eq!(listed_sessions(&here).await.len(), 1);

    for (what, browser) in [("remembered", &remembered), ("plain", &plain)] {
        let response = browser.get("/protected").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{what}");
        assert_eq!(location(&response), "/login?next=%2Fprotected", "{what}");
    }
    // The remember-me cookie was revoked too: a browser holding only it is anonymous.
    let restarted = server.browser_with_cookies(&[cookie]);
    let response = restarted.get("/protected").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    assert_eq!(here.get("/protected").await.status(), StatusCode::OK);
    assert_eq!(
        admin.get("/admin").await.status(),
        StatusCode::OK,
        "other users go on"
    );
}

#[tokio::test]
async fn remember_me_logs_a_restarted_browser_back_in_with_a_new_session_id() {
    let server = Server::start().await;
    let login = server.browser();
    let response = login
        .post(
            "/login",
            &[
                ("username", "ferris"),
                ("password", "hunter42"),
                ("remember", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = cookie_set(&response, SESSION_COOKIE).expect("a session cookie");
    let remember = cookie_set(&response, REMEMBER_COOKIE).expect("a remember-me cookie");
    let set_cookies: Vec<_> = response.headers().get_all(SET_COOKIE).iter().collect();
    let remember_header = set_cookies
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|header| header.starts_with(REMEMBER_COOKIE))
        .expect("the remember-me Set-Cookie");
    assert!(remember_header.contains("HttpOnly"), "{remember_header}");
    assert!(
        remember_header.contains("Max-Age="),
        "outlives the browser: {remember_header}"
    );

    // The browser restarts: the session cookie is gone, the remember-me cookie stays.
    let restarted = server.browser_with_cookies(&[format!("{REMEMBER_COOKIE}={remember}")]);
    let response = restarted.get("/protected").await;
    assert_eq!(response.status(), StatusCode::OK);
    let new_session = cookie_set(&response, SESSION_COOKIE).expect("a new session cookie");
    assert_ne!(new_session, session, "a new session id");
    assert!(text(response).await.contains("Hello, ferris."));
    assert_eq!(restarted.get("/protected").await.status(), StatusCode::OK);
    let sessions = listed_sessions(&restarted).await;
    assert_eq!(
        sessions.len(),
        2,
        "the remembered login is a session of its own"
    );

    // Without "remember me", the login ends with the session cookie.
    let forgetful = server.browser();
    let response = forgetful
        .post(
            "/login",
            &[("username", "ferris"), ("password", "hunter42")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(cookie_set(&response, REMEMBER_COOKIE), None);
    let restarted = server.browser_with_cookies(&[]);
    assert_eq!(
        restarted.get("/protected").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn remembered_login_must_enter_the_password_again_to_enrol_a_second_factor() {
    let server = Server::start().await;
    let cookie = server
        .browser()
        .logged_in_remembered("ferris", "hunter42")
        .await;
    let restarted = server.browser_with_cookies(&[cookie]);
    assert_eq!(restarted.get("/protected").await.status(), StatusCode::OK);
    let response = restarted.get("/account/2fa").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Faccount%2F2fa");
}

/// The TOTP code for `secret` at the time step `offset` steps from now.
fn totp_code(secret: &TotpSecret, offset: i64) -> String {
    let totp = Totp::new("axum-login demo");
    let now = totp.step_at(SystemTime::now());
    totp.code_at_step(secret, now.saturating_add_signed(offset))
}

/// Text between `start` and the next `<` in `body`.
fn element_text<'a>(body: &'a str, start: &str) -> &'a str {
    let (_, rest) = body
        .split_once(start)
        .unwrap_or_else(|| panic!("{start:?} in {body}"));
    &rest[..rest.find('<').expect("the element ends")]
}

/// Enrols TOTP for the browser's user through `/account/2fa` with a code for the current time
/// step; answers the secret and the recovery codes.
async fn enrol(browser: &Browser) -> (TotpSecret, Vec<String>) {
    let response = browser.get("/account/2fa").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(
        body.contains(r#"<form method="post" action="/account/2fa/start""#),
        "the page offers to start, a GET starts nothing: {body}"
    );
    assert!(!body.contains("<div id=\"qr\">"), "{body}");
    let (secret, body) = start_enrolment(browser).await;
    assert!(body.contains("<div id=\"qr\"><svg"), "the QR code: {body}");

    let response = browser.post("/account/2fa", &[("code", "000000")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(response).await.contains("That code is not right."));

    let response = browser
        .post("/account/2fa", &[("code", &totp_code(&secret, 0))])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    let codes: Vec<String> = body
        .split("<code class=\"recovery-code\">")
        .skip(1)
        .map(|rest| rest[..rest.find('<').expect("code ends")].to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes: {body}");

    // Shown once: the page does not show them again.
    let body = text(browser.get("/account/2fa").await).await;
    assert!(!body.contains(&codes[0]), "{body}");
    assert!(body.contains("10 recovery codes left"), "{body}");
    (secret, codes)
}

/// Starts an enrolment (`POST /account/2fa/start`); answers the new secret and the page.
async fn start_enrolment(browser: &Browser) -> (TotpSecret, String) {
    let response = browser.post("/account/2fa/start", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|value| value.to_str().ok()),
        Some("no-store"),
        "a page with a secret is not cached"
    );
    let body = text(response).await;
    let uri = unescape(element_text(&body, "<code id=\"otpauth-uri\">"));
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let secret = element_text(&body, "<code id=\"secret\">");
    assert!(
        uri.contains(&format!("secret={secret}&")),
        "{uri} holds {secret}"
    );
    let secret = TotpSecret::from_base32(secret).expect("the secret is base32");
    (secret, body)
}

/// Logs `browser` in as ferris as far as the password: the answer must be the code form.
async fn password_step(browser: &Browser, next: &str) {
    let response = browser.login("ferris", "hunter42", next).await;
    assert_eq!(response.status(), StatusCode::OK, "the second step");
    let body = text(response).await;
    assert!(
        body.contains(r#"<form method="post" action="/login/code""#),
        "{body}"
    );
    assert!(body.contains(r#"name="code""#), "{body}");
    // Not logged in yet.
    assert_eq!(
        browser.get("/protected").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn totp_enrolment_then_login_asks_for_the_code_and_refuses_a_wrong_one() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let (secret, _) = enrol(&browser).await;
    assert_eq!(
        browser.post("/logout", &[]).await.status(),
        StatusCode::SEE_OTHER
    );

    password_step(&browser, "/protected").await;
    let response = browser.post("/login/code", &[("code", "123456")]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(text(response).await.contains("That code is not right."));
    assert_eq!(
        browser.get("/protected").await.status(),
        StatusCode::SEE_OTHER
    );

    // One step ahead: the enrolment used up the current one.
    let response = browser
        .post(
            "/login/code",
            &[("code", &totp_code(&secret, 1)), ("next", "/protected")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/protected");
    let response = browser.get("/protected").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(text(response).await.contains("Hello, ferris."));

    // Users without TOTP log in with the password alone, as before.
    let admin = server.browser();
    admin.logged_in_as("admin", "correct-horse-battery").await;
}

#[tokio::test]
async fn a_recovery_code_logs_in_once() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let (_, codes) = enrol(&browser).await;
    browser.post("/logout", &[]).await;

    password_step(&browser, "").await;
    let response = browser.post("/login/code", &[("code", &codes[0])]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    assert_eq!(browser.get("/protected").await.status(), StatusCode::OK);
    let body = text(browser.get("/account/2fa").await).await;
    assert!(body.contains("9 recovery codes left"), "{body}");
    browser.post("/logout", &[]).await;

    // This time with "remember me", which the second step carries through.
    let response = browser
        .post(
            "/login",
            &[
                ("username", "ferris"),
                ("password", "hunter42"),
                ("remember", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "the second step");
    assert_eq!(cookie_set(&response, REMEMBER_COOKIE), None, "not yet");
    let response = browser.post("/login/code", &[("code", &codes[0])]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "used up");
    assert_eq!(
        browser.get("/protected").await.status(),
        StatusCode::SEE_OTHER
    );
    let response = browser.post("/login/code", &[("code", &codes[1])]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let remember = cookie_set(&response, REMEMBER_COOKIE).expect("remembered after the code");
    assert_eq!(browser.get("/protected").await.status(), StatusCode::OK);
    let restarted = server.browser_with_cookies(&[format!("{REMEMBER_COOKIE}={remember}")]);
    assert_eq!(restarted.get("/protected").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn cancelling_the_second_step_drops_the_waiting_login() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let (_, codes) = enrol(&browser).await;
    browser.post("/logout", &[]).await;

    password_step(&browser, "").await;
    let response = browser.post("/login/cancel", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    let response = browser.post("/login/code", &[("code", &codes[0])]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login", "nothing waits for a code");
    assert_eq!(
        browser.get("/protected").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn secure_page_sends_to_the_second_step_until_a_second_factor_this_session() {
    let server = Server::start().await;
    let response = server.browser().get("/account/secure").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Faccount%2Fsecure");

    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let response = browser.get("/account/secure").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login/code?next=%2Faccount%2Fsecure");
    let body = text(browser.get("/login/code?next=%2Faccount%2Fsecure").await).await;
    assert!(
        body.contains("turn on two-factor authentication first"),
        "{body}"
    );

    // Enrolling does not complete a second factor for this session.
    let (secret, codes) = enrol(&browser).await;
    let response = browser.get("/account/secure").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = browser.get("/login/code?next=%2Faccount%2Fsecure").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert_eq!(hidden_next(&body), "/account/secure");

    let response = browser
        .post(
            "/login/code",
            &[
                ("code", &totp_code(&secret, 1)),
                ("next", "/account/secure"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account/secure");
    let response = browser.get("/account/secure").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(text(response).await.contains("Hello, ferris."));

    // A login completed by its second factor is admitted at once.
    let other = server.browser();
    password_step(&other, "/account/secure").await;
    let response = other
        .post(
            "/login/code",
            &[("code", &codes[0]), ("next", "/account/secure")],
        )
        .await;
    assert_eq!(location(&response), "/account/secure");
    assert_eq!(other.get("/account/secure").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn cross_site_posts_to_the_account_pages_are_403_and_change_nothing() {
    let server = Server::start().await;
    let here = server.browser();
    let elsewhere = server.browser();
    here.logged_in_as("ferris", "hunter42").await;
    elsewhere.logged_in_as("ferris", "hunter42").await;
    let (other, _) = listed_sessions(&here)
        .await
        .into_iter()
        .find(|(_, current)| !current)
        .expect("the other session");
    let admin = server.browser();
    admin.logged_in_as("admin", "correct-horse-battery").await;
    let (secret, _) = enrol(&admin).await;
    let pending = server.browser();
    let response = pending.login("admin", "correct-horse-battery", "").await;
    assert_eq!(response.status(), StatusCode::OK, "waits for the code");

    for giveaway in CROSS_SITE {
        let end = format!("/account/sessions/{other}/end");
        for (path, form) in [
            (end.as_str(), vec![]),
            ("/account/sessions/end-others", vec![]),
            ("/account/2fa", vec![("code", "123456")]),
            ("/account/2fa/start", vec![]),
            ("/account/2fa/recovery-codes", vec![]),
            ("/account/2fa/disable", vec![]),
        ] {
            let response = here.post_cross_site(path, &form, giveaway).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} {giveaway:?}"
            );
        }
        let code = totp_code(&secret, 1);
        let response = pending
            .post_cross_site("/login/code", &[("code", &code)], giveaway)
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{giveaway:?}");
        let response = pending
            .post_cross_site("/login/cancel", &[], giveaway)
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{giveaway:?}");
    }
    assert_eq!(elsewhere.get("/protected").await.status(), StatusCode::OK);
    assert_eq!(listed_sessions(&here).await.len(), 2);
    let body = text(here.get("/account/2fa").await).await;
    assert!(body.contains("Two-factor authentication is off."), "{body}");
    assert_eq!(pending.get("/admin").await.status(), StatusCode::SEE_OTHER);

    // The same forms from this site pass: the code was not used up by the refused posts, and
    // the login still waits for it.
    let response = pending
        .post("/login/code", &[("code", &totp_code(&secret, 1))])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(pending.get("/admin").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn second_step_without_a_password_sends_to_login() {
    let server = Server::start().await;
    let browser = server.browser();
    let response = browser.get("/login/code").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    let response = browser.post("/login/code", &[("code", "123456")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    assert_eq!(
        browser.get("/protected").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn auth_events_are_written_to_the_audit_log() {
    axum_login_tests::logs::capture_logs();
    let server = Server::start().await;
    let browser = server.browser();
    let other = server.browser();
    let response = browser.login("admin", "wrong-password", "").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    browser.logged_in_as("admin", "correct-horse-battery").await;
    other.logged_in_as("admin", "correct-horse-battery").await;
    let response = browser.post("/account/sessions/end-others", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    enrol(&browser).await;
    browser.post("/logout", &[]).await;

    // Tests run at once in this process, so each line is looked for, not counted.
    let logs = axum_login_tests::logs::logs();
    let audit: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains(" audit: "))
        .collect();
    for expected in [
        "login failed (WrongCredentials)",
        "user 2 logged in (Password)",
        "of user 2 was ended",
        "second factor of user 2: TotpEnrolled",
        "user 2 logged out",
    ] {
        assert!(
            audit.iter().any(|line| line.contains(expected)),
            "{expected:?} in the audit log:\n{}",
            audit.join("\n")
        );
    }
    assert!(
        audit
            .iter()
            .all(|line| !line.contains("correct-horse-battery")),
        "no password in the audit log"
    );
}

#[tokio::test]
async fn turning_totp_off_needs_a_fresh_login_and_the_password_alone_logs_in_again() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let (_, codes) = enrol(&browser).await;
    let admin = server.browser();
    admin.logged_in_as("admin", "correct-horse-battery").await;
    let (admin_secret, _) = enrol(&admin).await;

    // A session that is not fresh (here: one made by remember-me) is sent to the password.
    let remembered = server.browser();
    let response = remembered
        .post(
            "/login",
            &[
                ("username", "admin"),
                ("password", "correct-horse-battery"),
                ("remember", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "the second step");
    let response = remembered
        .post("/login/code", &[("code", &totp_code(&admin_secret, 1))])
        .await;
    let remember = cookie_set(&response, REMEMBER_COOKIE).expect("remembered");
    let restarted = server.browser_with_cookies(&[format!("{REMEMBER_COOKIE}={remember}")]);
    let response = restarted.post("/account/2fa/disable", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with("/login"),
        "{}",
        location(&response)
    );
    let body = text(admin.get("/account/2fa").await).await;
    assert!(body.contains("Two-factor authentication is on"), "{body}");

    // The password alone, however fresh, does not turn it off: the second factor itself does.
    let response = browser.post("/account/2fa/disable", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/login/code?next=%2Faccount%2F2fa%2Fdisable"
    );
    let body = text(browser.get("/account/2fa").await).await;
    assert!(body.contains("Two-factor authentication is on"), "{body}");
    let response = browser.post("/login/code", &[("code", &codes[0])]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = browser.post("/account/2fa/disable", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account/2fa");
    let body = text(browser.get("/account/2fa").await).await;
    assert!(body.contains("Two-factor authentication is off."), "{body}");
    browser.post("/logout", &[]).await;
    let response = browser.login("ferris", "hunter42", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "no code asked");
    assert_eq!(browser.get("/protected").await.status(), StatusCode::OK);
}

/// Six-digit codes that are not right for `secret` now (nor a step either side).
fn wrong_codes(secret: &TotpSecret, count: usize) -> Vec<String> {
    let right: Vec<String> = (-1..=1).map(|offset| totp_code(secret, offset)).collect();
    (0..)
        .map(|n: u32| format!("{:06}", n * 7919 % 1_000_000))
        .filter(|code| !right.contains(code))
        .take(count)
        .collect()
}

/// The attack from the hostile review, on the demo: whoever knows the password repeats, in
/// each of four browsers at once, the right password then four wrong codes. The password
/// steps never give a device cookie, and once the second factor is locked the right code is
/// refused too: the owner's phone no longer opens the account until the lock ends, and
/// neither would a guess.
#[tokio::test]
async fn guessing_codes_between_right_passwords_locks_the_second_factor() {
    let server = Server::start().await;
    let owner = server.browser();
    owner.logged_in_as("ferris", "hunter42").await;
    let (secret, _) = enrol(&owner).await;
    owner.post("/logout", &[]).await;

    let guesses = Arc::new(wrong_codes(&secret, 48));
    let attacks: Vec<_> = (0..4)
        .map(|attacker| {
            let browser = server.browser();
            let guesses = guesses.clone();
            async move {
                for cycle in 0..3 {
                    let response = browser.login("ferris", "hunter42", "").await;
                    assert_eq!(response.status(), StatusCode::OK, "the code form");
                    assert_eq!(
                        cookie_set(&response, "axum_login_device"),
                        None,
                        "no device cookie for the password alone"
                    );
                    for guess in 0..4 {
                        let code = &guesses[attacker * 12 + cycle * 4 + guess];
                        let response = browser.post("/login/code", &[("code", code)]).await;
                        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
                    }
                }
                assert_eq!(
                    browser.get("/protected").await.status(),
                    StatusCode::SEE_OTHER
                );
            }
        })
        .collect();
    futures_join_all(attacks).await;

    password_step(&owner, "/protected").await;
    let response = owner
        .post("/login/code", &[("code", &totp_code(&secret, 1))])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the right code is refused while the second factor is locked"
    );
    assert_eq!(
        owner.get("/protected").await.status(),
        StatusCode::SEE_OTHER
    );
}

/// Runs the futures at once on this task, as four browsers would.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        futures.retain_mut(|future| future.as_mut().poll(cx).is_pending());
        if futures.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

/// The hostile review's finding: a remembered session that never passed the second factor
/// entered the password again (`POST /password`) and then turned the second factor off. Now
/// the password, fresh as it is, does not open the removal: the second factor itself does.
#[tokio::test]
async fn a_remembered_session_cannot_remove_the_second_factor_with_the_password_alone() {
    let server = Server::start().await;
    let owner = server.browser();
    owner.logged_in_as("ferris", "hunter42").await;
    let (secret, codes) = enrol(&owner).await;

    let login = server.browser();
    let response = login
        .post(
            "/login",
            &[
                ("username", "ferris"),
                ("password", "hunter42"),
                ("remember", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "the second step");
    let response = login
        .post("/login/code", &[("code", &totp_code(&secret, 1))])
        .await;
    let remember = cookie_set(&response, REMEMBER_COOKIE).expect("remembered");
    let restarted = server.browser_with_cookies(&[format!("{REMEMBER_COOKIE}={remember}")]);
    assert_eq!(restarted.get("/protected").await.status(), StatusCode::OK);

    let response = restarted
        .post(
            "/password",
            &[
                ("current_password", "hunter42"),
                ("new_password", "hunter43-new"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "password changed");
    for path in [
        "/account/2fa/disable",
        "/account/2fa/recovery-codes",
        "/account/2fa/start",
    ] {
        let response = restarted.post(path, &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            location(&response).starts_with("/login/code?next="),
            "{path}: {}",
            location(&response)
        );
    }
    let check = server.browser();
    let response = check.login("ferris", "hunter43-new", "").await;
    assert_eq!(response.status(), StatusCode::OK, "TOTP is still on");

    // With a recovery code, this session may turn it off.
    let response = restarted.post("/login/code", &[("code", &codes[0])]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = restarted.post("/account/2fa/disable", &[]).await;
    assert_eq!(location(&response), "/account/2fa");
    let response = check.login("ferris", "hunter43-new", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "TOTP is off");
}

/// Enrolling, new recovery codes and turning TOTP off each end every remember-me cookie of
/// the user, issued before the change; a cookie issued after the second factor logs in.
#[tokio::test]
async fn changes_to_the_second_factor_end_every_remember_me_cookie() {
    let server = Server::start().await;
    let before = server
        .browser()
        .logged_in_remembered("ferris", "hunter42")
        .await;
    let owner = server.browser();
    owner.logged_in_as("ferris", "hunter42").await;
    let (secret, codes) = enrol(&owner).await;
    let restarted = server.browser_with_cookies(std::slice::from_ref(&before));
    let response = restarted.get("/protected").await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "enrolment ended it"
    );
    assert_eq!(location(&response), "/login?next=%2Fprotected");

    // Remembered after the code: it logs a restarted browser in, until the codes change.
    let remembered = |code: String| {
        let browser = server.browser();
        async move {
            let response = browser
                .post(
                    "/login",
                    &[
                        ("username", "ferris"),
                        ("password", "hunter42"),
                        ("remember", "on"),
                    ],
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK, "the second step");
            let response = browser.post("/login/code", &[("code", &code)]).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            let value = cookie_set(&response, REMEMBER_COOKIE).expect("remembered");
            format!("{REMEMBER_COOKIE}={value}")
        }
    };
    let after = remembered(totp_code(&secret, 1)).await;
    let restarted = server.browser_with_cookies(std::slice::from_ref(&after));
    assert_eq!(restarted.get("/protected").await.status(), StatusCode::OK);
    // The owner proves the second factor, then asks for new recovery codes.
    owner.post("/login/code", &[("code", &codes[0])]).await;
    let response = owner.post("/account/2fa/recovery-codes", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    let new_codes: Vec<String> = body
        .split("<code class=\"recovery-code\">")
        .skip(1)
        .map(|rest| rest[..rest.find('<').expect("code ends")].to_owned())
        .collect();
    assert_eq!(new_codes.len(), 10, "{body}");
    let restarted = server.browser_with_cookies(&[after]);
    assert_eq!(
        restarted.get("/protected").await.status(),
        StatusCode::SEE_OTHER,
        "new recovery codes ended it"
    );

    let after = remembered(new_codes[0].clone()).await;
    let response = owner.post("/account/2fa/disable", &[]).await;
    assert_eq!(location(&response), "/account/2fa");
    let restarted = server.browser_with_cookies(&[after]);
    assert_eq!(
        restarted.get("/protected").await.status(),
        StatusCode::SEE_OTHER,
        "turning TOTP off ended it"
    );
}

/// A page of another site can make the browser `GET /account/2fa`: that must not replace the
/// secret the user is scanning. The secret is made by the `POST` that starts the enrolment
/// (refused cross-site), and the first one is still the one a code confirms.
#[tokio::test]
async fn loading_the_two_factor_page_never_replaces_a_pending_enrolment() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let (secret, _) = start_enrolment(&browser).await;
    for _ in 0..2 {
        let response = browser
            .client
            .get(format!("{}/account/2fa", browser.base))
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .expect("GET is answered");
        assert_eq!(response.status(), StatusCode::OK);
        let body = text(response).await;
        assert!(
            !body.contains("id=\"secret\""),
            "no secret on a GET: {body}"
        );
    }
    for giveaway in CROSS_SITE {
        let response = browser
            .post_cross_site("/account/2fa/start", &[], giveaway)
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{giveaway:?}");
    }
    let response = browser
        .post("/account/2fa", &[("code", &totp_code(&secret, 0))])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the first secret is still pending"
    );
    assert!(
        text(response)
            .await
            .contains("Two-factor authentication is on.")
    );
}

/// Every form that posts carries the CSRF token field, on every page of the demo.
#[tokio::test]
async fn every_form_that_posts_carries_a_csrf_token() {
    let server = Server::start().await;
    let browser = server.browser();
    let mut pages = Vec::new();
    pages.push(text(browser.get("/login").await).await);
    browser.logged_in_as("ferris", "hunter42").await;
    for path in [
        "/",
        "/password",
        "/account/sessions",
        "/account/2fa",
        "/account/tokens",
    ] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        pages.push(text(response).await);
    }
    let (_, page) = start_enrolment(&browser).await;
    pages.push(page);
    for page in pages {
        let forms = page.matches(r#"<form method="post""#).count();
        let tokens = page
            .matches(r#"<input type="hidden" name="csrf_token" value=""#)
            .count();
        assert!(forms > 0, "{page}");
        assert_eq!(forms, tokens, "{page}");
    }
}

/// Every `POST` of the demo without its token is `403`, although the request has neither
/// `Origin` nor `Sec-Fetch-Site` (an old browser, a proxy that drops them), and changes nothing.
#[tokio::test]
async fn every_post_without_a_csrf_token_is_403_and_changes_nothing() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let (this, _) = listed_sessions(&browser)
        .await
        .into_iter()
        .find(|(_, current)| *current)
        .expect("this session is listed");
    let end_this = format!("/account/sessions/{this}/end");
    for (path, form) in [
        (
            "/login",
            &[("username", "admin"), ("password", "correct-horse-battery")][..],
        ),
        ("/logout", &[][..]),
        ("/login/code", &[("code", "123456")][..]),
        ("/login/cancel", &[][..]),
        (
            "/password",
            &[
                ("current_password", "hunter42"),
                ("new_password", "changed-1"),
            ][..],
        ),
        ("/account/sessions/end-others", &[][..]),
        (&end_this, &[][..]),
        ("/account/2fa/start", &[][..]),
        ("/account/2fa", &[("code", "123456")][..]),
        ("/account/2fa/recovery-codes", &[][..]),
        ("/account/2fa/disable", &[][..]),
        (
            "/account/tokens",
            &[("name", "ci"), ("scopes", "profile:read")][..],
        ),
        ("/account/tokens/any/revoke", &[][..]),
    ] {
        let response = browser
            .client
            .post(format!("{}{path}", browser.base))
            .form(form)
            .send()
            .await
            .expect("POST is answered");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let body = text(response).await;
        assert!(body.contains("CSRF token"), "{path}: {body}");
    }
    let home = text(browser.get("/").await).await;
    assert!(home.contains(r#"<span id="who">ferris</span>"#), "{home}");
    assert_eq!(listed_sessions(&browser).await.len(), 1);
    let other = server.browser();
    other.logged_in_as("ferris", "hunter42").await;
}

/// The secret a token page shows once, if it shows one.
fn new_token(page: &str) -> Option<String> {
    let start = page.find(r#"<code id="new-token">"#)? + r#"<code id="new-token">"#.len();
    let end = start + page[start..].find("</code>")?;
    Some(page[start..end].to_owned())
}

/// `GET /api/me` as an API client with `token`, if any.
async fn api_me(server: &Server, token: Option<&str>) -> reqwest::Response {
    let request = reqwest::Client::new()
        .get(server.url("/api/me"))
        .header("accept", "application/json");
    let request = match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    };
    request.send().await.expect("GET is answered")
}

/// The API tokens of the account page: created with a name, scopes and an expiry and shown
/// once, listed, used on `GET /api/me` as the session is, refused per RFC 6750, and revoked.
#[tokio::test]
async fn api_tokens_are_created_listed_used_and_revoked() {
    let server = Server::start().await;
    let browser = server.browser();
    browser.logged_in_as("ferris", "hunter42").await;
    let page = browser.get("/account/tokens").await;
    assert_eq!(page.status(), StatusCode::OK);
    let created = browser
        .post(
            "/account/tokens",
            &[
                ("name", "laptop script"),
                ("scopes", "profile:read"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let page = text(created).await;
    let secret = new_token(&page).expect("the new token is shown");
    assert!(secret.starts_with("alt_"), "{secret}");
    assert!(page.contains("laptop script"), "{page}");
    let listed = text(browser.get("/account/tokens").await).await;
    assert!(listed.contains("laptop script"), "{listed}");
    assert!(new_token(&listed).is_none(), "a secret is shown once");

    // The same JSON for the session and the token, but for how.
    let by_session: serde_json::Value = browser.get("/api/me").await.json().await.expect("JSON");
    assert_eq!(
        by_session,
        serde_json::json!({"username": "ferris", "via": "session"})
    );
    let by_token = api_me(&server, Some(&secret)).await;
    assert_eq!(by_token.status(), StatusCode::OK);
    let by_token: serde_json::Value = by_token.json().await.expect("JSON");
    assert_eq!(
        by_token,
        serde_json::json!({"username": "ferris", "via": "token"})
    );

    // RFC 6750: no credentials, a bad token, a token without the scope.
    let anonymous = api_me(&server, None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let bad = api_me(&server, Some("alt_not_a_token")).await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bad.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    let writer = browser
        .post(
            "/account/tokens",
            &[("name", "poster"), ("scopes", "posts:write")],
        )
        .await;
    let writer = new_token(&text(writer).await).expect("a second token");
    let unscoped = api_me(&server, Some(&writer)).await;
    assert_eq!(unscoped.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        unscoped.headers()["www-authenticate"],
        r#"Bearer error="insufficient_scope", scope="profile:read""#
    );

    // An unknown scope or a year and a day: refused, with the form again.
    let refused = browser
        .post("/account/tokens", &[("name", "x"), ("scopes", "admin")])
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = browser
        .post(
            "/account/tokens",
            &[
                ("name", "x"),
                ("scopes", "profile:read"),
                ("expires_in_days", "367"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Revoked from the page: the token stops at once.
    let listed = text(browser.get("/account/tokens").await).await;
    let marker = r#"<tr class="token" data-token=""#;
    let start = listed.find(marker).expect("a token row") + marker.len();
    let id = &listed[start..start + listed[start..].find('"').expect("the id ends")];
    let revoked = browser
        .post(&format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        api_me(&server, Some(&secret)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// A token's user holds their roles as a session's does: `/admin` (a role guard) lets the
/// admin's token in and turns ferris's away with `403`, never a redirect.
#[tokio::test]
async fn a_token_user_holds_their_roles() {
    let server = Server::start().await;
    let mut tokens = Vec::new();
    for (user, password) in [("ferris", "hunter42"), ("admin", "correct-horse-battery")] {
        let browser = server.browser();
        browser.logged_in_as(user, password).await;
        let created = browser
            .post(
                "/account/tokens",
                &[("name", "roles"), ("scopes", "profile:read")],
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        tokens.push(new_token(&text(created).await).expect("a token"));
    }
    let admin_page = |token: &str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client")
            .get(server.url("/admin"))
            .header("accept", "text/html")
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    let ferris = admin_page(&tokens[0]).await.expect("answered");
    assert_eq!(ferris.status(), StatusCode::FORBIDDEN);
    assert!(ferris.headers().get(LOCATION).is_none());
    let admin = admin_page(&tokens[1]).await.expect("answered");
    assert_eq!(admin.status(), StatusCode::OK);
    assert!(text(admin).await.contains("Only admins see this page."));
}

/// Where the demo's reset links point: another host than the one serving it, so a link built
/// from the request would show.
const DEMO_PUBLIC_URL: &str = "https://demo.example.test";

#[tokio::test]
async fn password_reset_goes_through_the_smtp_server_and_ends_every_session() {
    let Some(smtp) = mail::server("password_reset_goes_through_the_smtp_server").await else {
        return;
    };
    let server = Server::start_with(Config {
        public_url: DEMO_PUBLIC_URL.to_owned(),
        smtp_url: Some(smtp.url.clone()),
        ..Config::default()
    })
    .await;
    // An address of this run's own: the server's mailbox is shared by every run.
    let address = format!("ferris-{:016x}@example.test", rand::random::<u64>());
    sqlx::query("UPDATE users SET email = ? WHERE username = 'ferris'")
        .bind(&address)
        .execute(server.demo.pool())
        .await
        .expect("the address is set");

    let elsewhere = server.browser();
    elsewhere.logged_in_as("ferris", "hunter42").await;
    assert_eq!(elsewhere.get("/protected").await.status(), StatusCode::OK);

    let browser = server.browser();
    let login_page = text(browser.get("/login").await).await;
    assert!(
        login_page.contains("href=\"/password-reset\""),
        "{login_page}"
    );
    assert_eq!(
        browser.get("/password-reset").await.status(),
        StatusCode::OK
    );
    let known = browser
        .post(
            "/password-reset",
            &[("email", address.to_uppercase().as_str())],
        )
        .await;
    let known = (known.status(), text(known).await);
    let unknown = browser
        .post("/password-reset", &[("email", "nobody@example.test")])
        .await;
    let unknown = (unknown.status(), text(unknown).await);
    assert_eq!(known.0, StatusCode::OK);
    // The page differs only in its CSRF token.
    let without_token = |page: &str| {
        page.split("csrf_token")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(without_token(&known.1), without_token(&unknown.1));
    assert!(known.1.contains("If an account uses this address"));

    let raw = mail::delivered_to(&smtp.mailbox, &address).await;
    let mail = mail::Mail::parse(&raw);
    let text_part = &mail.parts.first().expect("a text part").1;
    let prefix = format!("{DEMO_PUBLIC_URL}/password-reset/");
    let start = text_part.find(&prefix).expect("the link, from PUBLIC_URL");
    let link = text_part[start..]
        .split_whitespace()
        .next()
        .expect("a link");
    let path = link.strip_prefix(DEMO_PUBLIC_URL).expect("a path");
    assert!(
        mail.parts.iter().all(|(_, body)| body.contains(link)),
        "both parts carry the link"
    );

    // Opening the link (twice: a mail scanner, then the user) only shows the form.
    assert_eq!(server.browser().get(path).await.status(), StatusCode::OK);
    let page = browser.get(path).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(text(page).await.contains("name=\"new_password\""));
    let reset = browser
        .post(path, &[("new_password", "a brand new passphrase")])
        .await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    assert_eq!(reset.headers()[LOCATION], "/login");
    assert!(
        text(browser.get("/login").await)
            .await
            .contains("Your password is changed")
    );

    let old = server.browser();
    assert_eq!(
        old.login("ferris", "hunter42", "").await.status(),
        StatusCode::UNAUTHORIZED
    );
    server
        .browser()
        .logged_in_as("ferris", "a brand new passphrase")
        .await;
    assert_eq!(
        elsewhere.get("/protected").await.status(),
        StatusCode::SEE_OTHER,
        "the other browser is logged out"
    );
    // Used: the link's page and its form both say so.
    assert_eq!(browser.get(path).await.status(), StatusCode::BAD_REQUEST);
    let again = browser
        .post(path, &[("new_password", "yet another one")])
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(text(again).await.contains("Ask for a new one"));
}

#[tokio::test]
async fn sign_up_and_email_verification_go_through_the_smtp_server() {
    let Some(smtp) =
        mail::server("sign_up_and_email_verification_go_through_the_smtp_server").await
    else {
        return;
    };
    let server = Server::start_with(Config {
        public_url: DEMO_PUBLIC_URL.to_owned(),
        smtp_url: Some(smtp.url.clone()),
        ..Config::default()
    })
    .await;
    let run = format!("{:016x}", rand::random::<u64>());
    let address = format!("crab-{run}@example.test");
    let taken = format!("ferris-{run}@example.test");
    sqlx::query("UPDATE users SET email = ? WHERE username = 'ferris'")
        .bind(&taken)
        .execute(server.demo.pool())
        .await
        .expect("the address is set");

    let browser = server.browser();
    assert_eq!(browser.get("/signup").await.status(), StatusCode::OK);
    let fields = |email: &str, username: &str| {
        [
            ("username", username.to_owned()),
            ("email", email.to_owned()),
            ("password", "shells and sand".to_owned()),
        ]
    };
    let form = fields(&address, "crab");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let new = browser.post("/signup", &form).await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
    assert_eq!(new.headers()[LOCATION], "/signup/check-mail");
    let form = fields(&taken, "impostor");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let again = server.browser().post("/signup", &form).await;
    assert_eq!(
        again.status(),
        StatusCode::SEE_OTHER,
        "the same answer for a taken address"
    );
    assert_eq!(again.headers()[LOCATION], "/signup/check-mail");
    let form = fields("someone@example.test", "admin");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let username_taken = server.browser().post("/signup", &form).await;
    assert_eq!(username_taken.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text(username_taken)
            .await
            .contains("That username is taken")
    );

    let notice = mail::Mail::parse(&mail::delivered_to(&smtp.mailbox, &taken).await);
    assert!(notice.header("Subject").starts_with("Your account at"));
    let raw = mail::delivered_to(&smtp.mailbox, &address).await;
    let mail = mail::Mail::parse(&raw);
    let text_part = &mail.parts.first().expect("a text part").1;
    let prefix = format!("{DEMO_PUBLIC_URL}/verify-email/");
    let start = text_part.find(&prefix).expect("the link, from PUBLIC_URL");
    let link = text_part[start..]
        .split_whitespace()
        .next()
        .expect("a link");
    let path = link.strip_prefix(DEMO_PUBLIC_URL).expect("a path");

    let verified = || async {
        sqlx::query_scalar::<_, bool>("SELECT email_verified FROM users WHERE username = 'crab'")
            .fetch_one(server.demo.pool())
            .await
            .expect("crab exists")
    };
    assert!(!verified().await);
    // Logged in before confirming: the `verified` page sends the browser to confirm, and an
    // API client gets 403.
    let crab = server.browser();
    crab.logged_in_as("crab", "shells and sand").await;
    let guarded = crab.get("/account/verified").await;
    assert_eq!(guarded.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        guarded.headers()[LOCATION],
        "/account/verify?next=%2Faccount%2Fverified"
    );
    let api = crab
        .client
        .get(format!("{}/account/verified", crab.base))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("answered");
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    let page = crab.get("/account/verify").await;
    assert!(
        text(page)
            .await
            .contains(&format!("Your address {address} is not confirmed yet"))
    );
    let page = browser.get(path).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!verified().await, "the GET confirms nothing");
    let confirmed = browser.post(path, &[]).await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(confirmed.headers()[LOCATION], "/");
    assert!(verified().await);
    assert!(
        text(browser.get("/").await)
            .await
            .contains("Your address is confirmed")
    );
    assert_eq!(
        browser.post(path, &[]).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(crab.get("/account/verified").await.status(), StatusCode::OK);
    assert!(
        !server
            .browser()
            .login("impostor", "shells and sand", "")
            .await
            .status()
            .is_redirection(),
        "no account was made for the taken address"
    );
}

#[tokio::test]
async fn sign_in_by_email_goes_through_the_smtp_server() {
    let Some(smtp) = mail::server("sign_in_by_email_goes_through_the_smtp_server").await else {
        return;
    };
    let server = Server::start_with(Config {
        public_url: DEMO_PUBLIC_URL.to_owned(),
        smtp_url: Some(smtp.url.clone()),
        ..Config::default()
    })
    .await;
    let address = format!("ferris-{:016x}@example.test", rand::random::<u64>());
    sqlx::query("UPDATE users SET email = ? WHERE username = 'ferris'")
        .bind(&address)
        .execute(server.demo.pool())
        .await
        .expect("the address is set");

    let browser = server.browser();
    assert!(
        text(browser.get("/login").await)
            .await
            .contains("href=\"/login/email\"")
    );
    assert_eq!(browser.get("/login/email").await.status(), StatusCode::OK);
    let asked = browser
        .post("/login/email", &[("email", address.as_str())])
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let page = text(asked).await;
    assert!(page.contains("name=\"code\""), "{page}");
    let unknown = server
        .browser()
        .post("/login/email", &[("email", "nobody@example.test")])
        .await;
    assert_eq!(unknown.status(), StatusCode::OK);

    let raw = mail::delivered_to(&smtp.mailbox, &address).await;
    let mail = mail::Mail::parse(&raw);
    let text_part = mail.parts.first().expect("a text part").1.clone();
    let marker = "code on the page that asked for it: ";
    let at = text_part.find(marker).expect("a code") + marker.len();
    let code = &text_part[at..at + 6];
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let refused = browser.post("/login/email/code", &[("code", wrong)]).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let logged_in = browser.post("/login/email/code", &[("code", code)]).await;
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(logged_in.headers()[LOCATION], "/");
    assert_eq!(browser.get("/protected").await.status(), StatusCode::OK);
    // The login voided the mail's link.
    let prefix = format!("{DEMO_PUBLIC_URL}/login/email/");
    let start = text_part.find(&prefix).expect("the link");
    let link = text_part[start..]
        .split_whitespace()
        .next()
        .expect("a link");
    let path = link.strip_prefix(DEMO_PUBLIC_URL).expect("a path");
    assert_eq!(
        server.browser().get(path).await.status(),
        StatusCode::BAD_REQUEST
    );
}

/// The demo signing in with the test OpenID Connect provider, over HTTP: the login page's link,
/// the provider's pages, the callback (to the demo on whatever port it was served: the
/// provider accepts any loopback callback), a new account, and its providers page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_sign_in_makes_an_account_that_lists_its_provider_and_keeps_it() {
    let Some(provider) = axum_login_tests::oidc::provider("demo sign-in with a provider").await
    else {
        return;
    };
    let server = Server::start_with(Config {
        oidc: Some(example_sqlite::OidcConfig {
            issuer: provider.issuer.clone(),
            client_id: provider.client_id.clone(),
            client_secret: provider.client_secret.clone(),
            name: Some("Test Provider".to_owned()),
        }),
        ..Config::default()
    })
    .await;
    let browser = server.browser();
    let page = browser
        .get("/login?next=/protected")
        .await
        .text()
        .await
        .expect("a page");
    assert!(
        page.contains(
            // `/` escaped for HTML, as every value the templates print.
            r#"<a href="/login/oidc?next=&#x2f;protected" id="oidc-login">Sign in with Test Provider</a>"#
        ),
        "{page}"
    );
    let response = browser.get("/login/oidc?next=/protected").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to_provider = response.headers()[LOCATION]
        .to_str()
        .expect("a text header")
        .to_owned();
    assert!(to_provider.starts_with(&provider.issuer), "{to_provider}");
    let callback =
        axum_login_tests::oidc::sign_in_at_provider(&to_provider, "alice", "alice-password")
            .await
            .expect("alice signs in at the provider");
    // The demo's configured public URL is the default address; it is served elsewhere here.
    let path = &callback[url::Position::BeforePath..];
    assert!(path.starts_with("/login/oidc/callback?"), "{path}");
    let response = browser.get(path).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/protected");
    let page = browser
        .get("/protected")
        .await
        .text()
        .await
        .expect("a page");
    assert!(page.contains("alice"), "{page}");

    let page = browser
        .get("/account/providers")
        .await
        .text()
        .await
        .expect("a page");
    assert!(page.contains("Test Provider (alice@example.com)"), "{page}");
    // Made by the provider, the account has no password: its only provider stays.
    let response = browser.post("/account/providers/oidc/unlink", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = browser
        .get("/account/providers")
        .await
        .text()
        .await
        .expect("a page");
    assert!(page.contains("This provider is how you sign in"), "{page}");
    assert!(page.contains("Test Provider (alice@example.com)"), "{page}");

    // A replayed callback logs nobody in: a page saying so, 401.
    let other = server.browser();
    let response = other.get(path).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let page = response.text().await.expect("a page");
    assert!(page.contains("not started here"), "{page}");
}
