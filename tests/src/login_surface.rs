//! The login surface an example app serves (the demo's pages: `/`, `/login`, `/logout`,
//! `/protected`, `/admin`), checked over HTTP with a real client and cookie jar, as a browser
//! uses it; the store examples (`examples/sea-orm`, `examples/rusqlite`, `examples/sled`) share
//! it.

use std::{net::SocketAddr, sync::Arc};

use reqwest::{
    StatusCode,
    cookie::{CookieStore, Jar},
    header::{ACCEPT, CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue, LOCATION},
    redirect::Policy,
};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A browser: its own cookie jar, HTML in `Accept`, redirects not followed so that each answer
/// can be checked.
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Self {
        let jar = Arc::new(Jar::default());
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(BROWSER_ACCEPT));
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("client builds");
        Self {
            client,
            jar,
            base: format!("http://{addr}"),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET is answered")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .expect("POST is answered")
    }

    /// A `POST` as another site's form would send it: the browser marks it `cross-site`.
    pub async fn post_cross_site(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("sec-fetch-site", "cross-site")
            .form(form)
            .send()
            .await
            .expect("POST is answered")
    }

    pub async fn login(&self, username: &str, password: &str, next: &str) -> reqwest::Response {
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

    /// The `Cookie` header this browser would send now.
    pub fn cookie_header(&self) -> String {
        let url = self.base.parse().expect("base URL parses");
        self.jar
            .cookies(&url)
            .expect("the jar holds a session cookie")
            .to_str()
            .expect("cookie header is ASCII")
            .to_owned()
    }

    /// `GET path` with exactly `cookie`, from a client without a jar.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("client builds")
            .get(format!("{}{path}", self.base))
            .header(ACCEPT, BROWSER_ACCEPT)
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("GET is answered")
    }
}

pub fn location(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("Location is ASCII")
}

pub async fn text(response: reqwest::Response) -> String {
    response.text().await.expect("body is text")
}

/// The value of the login form's hidden `next` field (the tests use values without entities).
fn hidden_next(body: &str) -> &str {
    let field = r#"<input type="hidden" name="next" value=""#;
    let start = body.find(field).expect("the hidden next field") + field.len();
    let rest = &body[start..];
    &rest[..rest.find('"').expect("the value's closing quote")]
}

/// The login surface every store example serves, checked over HTTP: anonymous visitors, the
/// login form, failures that all look alike, cross-site requests, a user and an admin, logout
/// and a replayed cookie.
pub async fn check_login_surface(addr: SocketAddr) {
    let browser = Browser::new(addr);

    // Anonymous: a browser is sent to the login page with where it was going; an API client
    // gets 401; the home page says nobody is logged in.
    let response = browser.get("/protected").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Fprotected");
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/protected"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("GET is answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = text(browser.get("/").await).await;
    assert!(body.contains("Nobody is logged in."), "{body}");

    // The form carries a safe `next`, and drops an unsafe one.
    let response = browser.get("/login?next=%2Fprotected").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = text(response).await;
    assert!(
        body.contains(r#"<form method="post" action="/login">"#),
        "{body}"
    );
    assert!(body.contains(r#"name="username""#), "{body}");
    assert!(
        body.contains(r#"type="password" name="password""#),
        "{body}"
    );
    assert_eq!(hidden_next(&body), "/protected");
    let body = text(browser.get("/login?next=%2F%2Fevil.example").await).await;
    assert_eq!(hidden_next(&body), "");

    // Every failure: the same status and the same page.
    let wrong_password = browser.login("ferris", "hunter43", "/protected").await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    let wrong_password = text(wrong_password).await;
    assert!(
        wrong_password.contains("Wrong username or password."),
        "{wrong_password}"
    );
    let unknown_user = browser.login("nobody", "hunter42", "/protected").await;
    assert_eq!(unknown_user.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(text(unknown_user).await, wrong_password);
    let long = "x".repeat(2000);
    let over_long = browser.login("ferris", &long, "/protected").await;
    assert_eq!(over_long.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(text(over_long).await, wrong_password);
    let missing_password = browser
        .post("/login", &[("username", "ferris"), ("next", "/protected")])
        .await;
    assert_eq!(missing_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(text(missing_password).await, wrong_password);

    // A login that another site's form sends is refused, even with the right password.
    let response = browser
        .post_cross_site(
            "/login",
            &[
                ("username", "ferris"),
                ("password", "hunter42"),
                ("next", "/protected"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        browser.get("/protected").await.status(),
        StatusCode::SEE_OTHER,
        "a refused cross-site login logs nobody in"
    );

    // ferris: logged in, sent on to `next`, a user but not an admin.
    let response = browser.login("ferris", "hunter42", "/protected").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/protected");
    let response = browser.get("/protected").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(
        body.contains("Logged in as <strong>ferris</strong> (role: user)."),
        "{body}"
    );
    assert_eq!(browser.get("/admin").await.status(), StatusCode::FORBIDDEN);
    let body = text(browser.get("/").await).await;
    assert!(
        body.contains("Logged in as <strong>ferris</strong>"),
        "{body}"
    );

    // Logout: only a same-site POST; then the old cookie is nobody's.
    let cookie = browser.cookie_header();
    assert_eq!(
        browser.get("/logout").await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    let response = browser.post_cross_site("/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        browser.get("/protected").await.status(),
        StatusCode::OK,
        "a refused cross-site logout leaves the user logged in"
    );
    let response = browser.post("/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    assert_eq!(
        browser.get("/protected").await.status(),
        StatusCode::SEE_OTHER
    );
    let replayed = browser.get_with_cookie("/protected", &cookie).await;
    assert_eq!(
        replayed.status(),
        StatusCode::SEE_OTHER,
        "the cookie from before the logout is anonymous"
    );
    let body = text(browser.get_with_cookie("/", &cookie).await).await;
    assert!(body.contains("Nobody is logged in."), "{body}");

    // admin: the admin page opens; no `next` lands on `/`.
    let admin = Browser::new(addr);
    let response = admin.login("admin", "correct-horse-battery", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    let response = admin.get("/admin").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(
        body.contains("Logged in as <strong>admin</strong> (role: admin)."),
        "{body}"
    );
    // An off-site `next` is not followed.
    let response = admin
        .login("admin", "correct-horse-battery", "https://evil.example/")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
}
