//! CSRF tokens (`axum_login::csrf`) over HTTP: a real server on an ephemeral port with an
//! `AuthLayer` and a `CsrfLayer`, and clients with cookie jars as browsers have.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    Extension, Form, Json, Router,
    http::StatusCode,
    response::{Html, Redirect},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession,
    csrf::{CsrfLayer, CsrfRefusal, CsrfToken},
    events::{AuthEvent, EventRecord},
    session::MemoryStore,
    session_layer,
};
use axum_login_tests::{
    apps::{mem_store, session_key},
    directory::{Credentials, TestStore},
    http::serve_with_addr,
    login::log_in,
};
use reqwest::{
    cookie::{CookieStore, Jar},
    header::{CACHE_CONTROL, COOKIE, SET_COOKIE},
};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// The session cookie's and the CSRF cookie's names: the app serves plain HTTP, so neither has
/// the `__Host-` prefix.
const SESSION_COOKIE: &str = "id";
const CSRF_COOKIE: &str = "axum_login_csrf";

type Auth = AuthSession<TestStore>;

/// How many times a state-changing handler ran.
#[derive(Default)]
struct Runs(AtomicUsize);

async fn form_page(token: CsrfToken) -> Html<String> {
    Html(format!(
        r#"<form method="post" action="/act">{}<button>Go</button></form>"#,
        token.hidden_field()
    ))
}

async fn token_json(token: CsrfToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "token": token.value() }))
}

async fn act(Extension(runs): Extension<Arc<Runs>>) -> &'static str {
    runs.0.fetch_add(1, Ordering::SeqCst);
    "done"
}

async fn read_only() -> &'static str {
    "read"
}

async fn echo(Json(value): Json<serde_json::Value>) -> Json<serde_json::Value> {
    Json(value)
}

async fn webhook(Extension(runs): Extension<Arc<Runs>>) -> &'static str {
    runs.0.fetch_add(1, Ordering::SeqCst);
    "received"
}

async fn login(
    mut auth: Auth,
    Form(credentials): Form<Credentials>,
) -> Result<Redirect, AuthError> {
    match log_in(&mut auth, credentials).await? {
        Some(_) => Ok(Redirect::to("/me")),
        None => Ok(Redirect::to("/form")),
    }
}

/// Logs in and answers a page with a form, as a login that asks for a second factor does: the
/// token was extracted before the login, which may have emptied the session (another user).
async fn login_then_form(
    token: CsrfToken,
    mut auth: Auth,
    Form(credentials): Form<Credentials>,
) -> Result<Html<String>, AuthError> {
    log_in(&mut auth, credentials).await?;
    Ok(Html(format!(
        r#"<form method="post" action="/act">{}</form>"#,
        token.hidden_field()
    )))
}

async fn logout(mut auth: Auth) -> Result<Redirect, AuthError> {
    auth.logout().await?;
    Ok(Redirect::to("/form"))
}

async fn me(auth: Auth) -> Result<String, AuthError> {
    Ok(auth
        .user()
        .await?
        .map_or_else(|| "anonymous".to_owned(), |user| user.name))
}

/// Changes the password of the logged-in user to what it was: the session gets a new id, as
/// after a real change.
async fn password(mut auth: Auth) -> Result<&'static str, AuthError> {
    let Some(user) = auth.user().await? else {
        return Ok("nobody");
    };
    auth.update_session_auth_hash(&user).await?;
    Ok("kept")
}

struct App {
    base: String,
    runs: Arc<Runs>,
    events: UnboundedReceiver<EventRecord>,
}

impl App {
    async fn start() -> Self {
        let runs = Arc::new(Runs::default());
        let (sender, events) = unbounded_channel();
        let sessions = session_layer(MemoryStore::default()).with_secure(false);
        let auth = AuthLayer::builder(mem_store(), sessions)
            .session_key(session_key())
            .events(sender)
            .build();
        let app = Router::new()
            .route("/form", get(form_page))
            .route("/token", get(token_json))
            .route(
                "/act",
                get(read_only).post(act).put(act).patch(act).delete(act),
            )
            .route("/json", post(echo))
            .route("/login", post(login))
            .route("/login-then-form", post(login_then_form))
            .route("/logout", post(logout))
            .route("/password", post(password))
            .route("/me", get(me))
            .route("/webhooks/{provider}", post(webhook))
            .layer(CsrfLayer::new().exempt("/webhooks/{provider}"))
            .layer(Extension(runs.clone()))
            .layer(auth);
        let addr = serve_with_addr(app).await;
        Self {
            base: format!("http://{addr}"),
            runs,
            events,
        }
    }

    fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        Browser {
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client builds"),
            jar,
            base: self.base.clone(),
        }
    }

    fn runs(&self) -> usize {
        self.runs.0.load(Ordering::SeqCst)
    }

    /// The CSRF refusals reported since the last call.
    fn refusals(&mut self) -> Vec<CsrfRefusal> {
        let mut refusals = Vec::new();
        while let Ok(record) = self.events.try_recv() {
            if let AuthEvent::CsrfRefused { reason } = record.event {
                refusals.push(reason);
            }
        }
        refusals
    }
}

struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

impl Browser {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The token of the form on `/form`, read from the page as a browser renders it.
    async fn form_token(&self) -> String {
        let response = self.get("/form").await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.text().await.expect("a page");
        let field = r#"name="csrf_token" value=""#;
        let value = &body[body.find(field).expect("a token field") + field.len()..];
        value[..value.find('"').expect("the closing quote")].to_owned()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("answered")
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("answered")
    }

    async fn login(&self, username: &str, token: &str) -> reqwest::Response {
        let password = format!("pw-{username}");
        self.post(
            "/login",
            &[
                ("username", username),
                ("password", &password),
                ("csrf_token", token),
            ],
        )
        .await
    }

    async fn whoami(&self) -> String {
        self.get("/me").await.text().await.expect("a name")
    }

    /// The value of this browser's cookie `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        let url = self.base.parse().expect("the base URL parses");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .expect("ASCII cookies")
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    }
}

async fn body(response: reqwest::Response) -> String {
    response.text().await.expect("a body")
}

#[tokio::test]
async fn a_token_from_another_session_is_refused() {
    let mut app = App::start().await;
    let (a, b) = (app.browser(), app.browser());
    let token_a = a.form_token().await;
    assert_eq!(
        a.login("ferris", &token_a).await.status(),
        StatusCode::SEE_OTHER
    );
    let token_b = b.form_token().await;
    assert_eq!(
        b.login("admin", &token_b).await.status(),
        StatusCode::SEE_OTHER
    );
    let token_a = a.form_token().await;

    let response = b.post("/act", &[("csrf_token", &token_a)]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.runs(), 0);
    assert_eq!(app.refusals(), [CsrfRefusal::Mismatch]);
    // Anonymous B too: A's token is not B's, with or without a login.
    let response = app
        .browser()
        .post("/act", &[("csrf_token", &token_a)])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = b.post("/act", &[("csrf_token", &token_b)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = a.post("/act", &[("csrf_token", &token_a)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.runs(), 2);
}

#[tokio::test]
async fn a_token_fetched_before_login_is_accepted_after_it_and_after_a_new_session_id() {
    let app = App::start().await;
    let browser = app.browser();
    let before_login = browser.form_token().await;
    assert!(
        browser.cookie(SESSION_COOKIE).is_none(),
        "showing a form to a new visitor stores no session"
    );
    assert!(browser.cookie(CSRF_COOKIE).is_some());

    assert_eq!(
        browser.login("ferris", &before_login).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(browser.whoami().await, "ferris");
    assert!(
        browser.cookie(CSRF_COOKIE).is_none(),
        "the secret moved into the session"
    );
    let response = browser.post("/act", &[("csrf_token", &before_login)]).await;
    assert_eq!(response.status(), StatusCode::OK);

    let session = browser.cookie(SESSION_COOKIE).expect("a session");
    let response = browser
        .post("/password", &[("csrf_token", &before_login)])
        .await;
    assert_eq!(body(response).await, "kept");
    assert_ne!(
        browser.cookie(SESSION_COOKIE).expect("a session"),
        session,
        "the session has a new id"
    );
    let response = browser.post("/act", &[("csrf_token", &before_login)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.runs(), 2);
}

/// Once logged in, the secret is the session's: the CSRF cookie no longer counts, so one
/// planted by a sibling subdomain (with a token that pairs with it) is of no use.
#[tokio::test]
async fn a_logged_in_session_checks_its_own_secret_not_the_cookie() {
    let app = App::start().await;
    let victim = app.browser();
    let token = victim.form_token().await;
    assert_eq!(
        victim.login("ferris", &token).await.status(),
        StatusCode::SEE_OTHER
    );
    let attacker = app.browser();
    let attackers_token = attacker.form_token().await;
    let attackers_cookie = attacker.cookie(CSRF_COOKIE).expect("a CSRF cookie");

    let planted = reqwest::Client::new()
        .post(victim.url("/act"))
        .header(
            COOKIE,
            format!(
                "{SESSION_COOKIE}={}; {CSRF_COOKIE}={attackers_cookie}",
                victim.cookie(SESSION_COOKIE).expect("a session")
            ),
        )
        .form(&[("csrf_token", &attackers_token)])
        .send()
        .await
        .expect("answered");
    assert_eq!(planted.status(), StatusCode::FORBIDDEN);

    // Without its CSRF cookie, the session's own token still passes.
    let session_only = reqwest::Client::new()
        .post(victim.url("/act"))
        .header(
            COOKIE,
            format!(
                "{SESSION_COOKIE}={}",
                victim.cookie(SESSION_COOKIE).expect("a session")
            ),
        )
        .form(&[("csrf_token", &token)])
        .send()
        .await
        .expect("answered");
    assert_eq!(session_only.status(), StatusCode::OK);
    assert_eq!(app.runs(), 1);
}

/// What another site's page can send: a form post, no `Origin`, no `Sec-Fetch-Site` (an old
/// browser, a proxy that strips them), the victim's cookies, and no token.
#[tokio::test]
async fn a_cross_site_form_without_headers_or_token_is_refused_with_403() {
    let mut app = App::start().await;
    let victim = app.browser();
    let token = victim.form_token().await;
    assert_eq!(
        victim.login("ferris", &token).await.status(),
        StatusCode::SEE_OTHER
    );

    let response = victim.post("/act", &[("amount", "1000")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|value| value.to_str().ok()),
        Some("no-store")
    );
    let text = body(response).await;
    assert!(text.contains("no valid CSRF token"), "{text}");
    assert_eq!(app.runs(), 0);

    // Login CSRF: logging the visitor in as the attacker.
    let visitor = app.browser();
    visitor.form_token().await;
    let response = visitor
        .post("/login", &[("username", "admin"), ("password", "pw-admin")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(visitor.whoami().await, "anonymous");

    // Logout CSRF.
    let response = victim.post("/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(victim.whoami().await, "ferris");
    assert_eq!(app.refusals(), [CsrfRefusal::Missing; 3]);
}

#[tokio::test]
async fn a_json_client_sending_the_header_is_accepted() {
    let app = App::start().await;
    let client = app.browser();
    let token: serde_json::Value = client.get("/token").await.json().await.expect("JSON");
    let token = token["token"].as_str().expect("a token").to_owned();
    let sent = serde_json::json!({ "title": "hello" });

    let response = client
        .client
        .post(client.url("/json"))
        .header(CsrfToken::HEADER, &token)
        .json(&sent)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("JSON"),
        sent
    );

    let response = client
        .client
        .post(client.url("/json"))
        .json(&sent)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    for method in [
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let without = client
            .client
            .request(method.clone(), client.url("/act"))
            .send()
            .await
            .expect("answered");
        assert_eq!(without.status(), StatusCode::FORBIDDEN, "{method}");
        let with = client
            .client
            .request(method.clone(), client.url("/act"))
            .header(CsrfToken::HEADER, &token)
            .send()
            .await
            .expect("answered");
        assert_eq!(with.status(), StatusCode::OK, "{method}");
    }
    assert_eq!(app.runs(), 3);
}

#[tokio::test]
async fn safe_methods_are_never_checked() {
    let mut app = App::start().await;
    let browser = app.browser();
    browser.form_token().await;
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let response = browser
            .client
            .request(method.clone(), browser.url("/act"))
            .header(CsrfToken::HEADER, "not a token")
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::OK, "{method}");
    }
    let response = browser
        .client
        .request(reqwest::Method::OPTIONS, browser.url("/act"))
        .send()
        .await
        .expect("answered");
    assert_ne!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.refusals(), []);
}

#[tokio::test]
async fn a_malformed_token_is_403_never_500() {
    let mut app = App::start().await;
    let browser = app.browser();
    let token = browser.form_token().await;
    let long = "A".repeat(100_000);
    let cut = &token[..token.len() - 3];
    for bad in ["", "not a token!", "%00%ff", cut, &long, "AAAA"] {
        let response = browser.post("/act", &[("csrf_token", bad)]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{bad:.20}");
        let response = browser
            .client
            .post(browser.url("/act"))
            .header(CsrfToken::HEADER, bad)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{bad:.20}");
    }
    // A header that is not text.
    let response = browser
        .client
        .post(browser.url("/act"))
        .header(
            CsrfToken::HEADER,
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").expect("opaque bytes"),
        )
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.runs(), 0);
    let refusals = app.refusals();
    assert_eq!(refusals.len(), 13);
    assert!(refusals.contains(&CsrfRefusal::Malformed), "{refusals:?}");
}

#[tokio::test]
async fn an_exempt_route_accepts_a_post_without_token() {
    let mut app = App::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/stripe", app.base))
        .body("{\"type\":\"charge.succeeded\"}")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, "received");
    assert_eq!(app.runs(), 1);
    assert_eq!(app.refusals(), []);
}

#[tokio::test]
async fn logging_out_ends_the_secret() {
    let app = App::start().await;
    let browser = app.browser();
    let token = browser.form_token().await;
    assert_eq!(
        browser.login("ferris", &token).await.status(),
        StatusCode::SEE_OTHER
    );
    let response = browser.post("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let removed = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|cookie| cookie.starts_with(&format!("{CSRF_COOKIE}=;")));
    assert!(removed, "the CSRF cookie is removed");

    let response = browser.post("/act", &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let fresh = browser.form_token().await;
    assert_ne!(fresh, token);
    let response = browser.post("/act", &[("csrf_token", &fresh)]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_page_with_a_token_is_not_cached() {
    let app = App::start().await;
    let response = app.browser().get("/form").await;
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|value| value.to_str().ok()),
        Some("no-store")
    );
}

/// A login as another user empties the session on the request that renders the next form; the
/// token on that form still posts.
#[tokio::test]
async fn a_form_rendered_after_the_session_was_emptied_keeps_a_valid_token() {
    let app = App::start().await;
    let browser = app.browser();
    let token = browser.form_token().await;
    assert_eq!(
        browser.login("ferris", &token).await.status(),
        StatusCode::SEE_OTHER
    );
    let token = browser.form_token().await;
    let response = browser
        .post(
            "/login-then-form",
            &[
                ("username", "admin"),
                ("password", "pw-admin"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = body(response).await;
    let field = r#"name="csrf_token" value=""#;
    let rendered = &page[page.find(field).expect("a token field") + field.len()..];
    let rendered = &rendered[..rendered.find('"').expect("the closing quote")];
    assert_eq!(browser.whoami().await, "admin");

    let response = browser.post("/act", &[("csrf_token", rendered)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.runs(), 1);
}
