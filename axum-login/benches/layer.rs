//! What the layer costs, in process (no sockets), so that what is measured is the middleware
//! and nothing else. A route that never asks who the user is: the same `GET /public` through
//! bare axum, through tower-sessions' `SessionManagerLayer`, and through `AuthLayer` over
//! `session_layer`, each with a session cookie. A logged-in request: tower-sessions reading one
//! value from the session, against `CurrentUser` (the session's login record, its digest
//! checked, the user from a store that answers at once), both over an in-memory session store.
//! A logged-in `POST` of a JSON client: the same `CurrentUser` route, without `CsrfLayer` and
//! under it, the request carrying its token in `X-CSRF-Token`.
//!
//! Run: `cargo bench -p axum-login@0.1.0 --bench layer` (`BENCH_ITERATIONS`, default 200 000).
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use axum::{
    Router,
    body::Body,
    http::{Request, header},
    routing::{get, post},
};
use axum_login::{
    AuthLayer, AuthSession, AuthUser, CurrentUser, SessionKey, UserStore,
    csrf::{CsrfLayer, CsrfToken},
    session::MemoryStore,
    session_layer,
};
use tower_sessions::Session;
use tower_sessions::SessionManagerLayer;

#[derive(Clone, Debug)]
struct User(i64);

impl AuthUser for User {
    type Id = i64;
    fn id(&self) -> i64 {
        self.0
    }
    fn session_auth_hash(&self) -> &[u8] {
        b"hash"
    }
}

#[derive(Clone)]
struct Store;

impl UserStore for Store {
    type User = User;
    type Credentials = ();
    type Error = std::convert::Infallible;

    async fn authenticate(&self, (): ()) -> Result<Option<User>, Self::Error> {
        Ok(None)
    }

    async fn load_user(&self, id: &i64) -> Result<Option<User>, Self::Error> {
        Ok(Some(User(*id)))
    }
}

async fn hello() -> &'static str {
    "hello"
}

async fn log_in(mut auth: AuthSession<Store>) -> &'static str {
    auth.login(&User(1)).await.unwrap();
    "ok"
}

async fn current_user(CurrentUser(user): CurrentUser<User>) -> &'static str {
    assert_eq!(user.0, 1);
    "hello"
}

async fn csrf_token(token: CsrfToken) -> String {
    token.value().to_owned()
}

async fn tower_log_in(session: Session) -> &'static str {
    session.insert("user_id", 1_i64).await.unwrap();
    "ok"
}

async fn tower_read(session: Session) -> &'static str {
    let user: Option<i64> = session.get("user_id").await.unwrap();
    assert_eq!(user, Some(1));
    "hello"
}

async fn call(router: &Router, request: Request<Body>) -> axum::response::Response {
    use tower_service::Service;
    let mut service = router.clone();
    std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut service, cx))
        .await
        .unwrap();
    service.call(request).await.unwrap()
}

/// The session cookie (`name=value`) that `GET /login` on `router` sets.
async fn session_cookie(router: &Router) -> String {
    let response = call(router, Request::get("/login").body(Body::empty()).unwrap()).await;
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The token that `GET /csrf-token` on `router` gives the session of `cookie`.
async fn token(router: &Router, cookie: &str) -> String {
    let request = Request::get("/csrf-token")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let response = call(router, request).await;
    assert!(response.status().is_success());
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

/// What a row sends.
#[derive(Clone, Copy)]
enum Send<'a> {
    Get,
    /// A `POST` with an empty JSON body, and the token in `X-CSRF-Token` when there is one.
    Post(Option<&'a str>),
}

/// The best time per request of `GET path` with `cookie` on `router`.
async fn per_request(router: Router, path: &str, cookie: &str, iterations: u32) -> f64 {
    per_request_of(router, Send::Get, path, cookie, iterations).await
}

/// The best time per request of `send` to `path` with `cookie` on `router`.
async fn per_request_of(
    router: Router,
    send: Send<'_>,
    path: &str,
    cookie: &str,
    iterations: u32,
) -> f64 {
    // As `axum::serve` does: the handlers become services once, not on every request.
    let router: Router = router.with_state(());
    let request = || {
        let builder = Request::builder()
            .uri(path)
            .header(header::COOKIE, format!("{cookie}; theme=dark"))
            .header(header::USER_AGENT, "bench/1.0");
        match send {
            Send::Get => builder.method("GET").body(Body::empty()),
            Send::Post(token) => {
                let builder = builder
                    .method("POST")
                    .header(header::CONTENT_TYPE, "application/json");
                match token {
                    Some(token) => builder.header(CsrfToken::HEADER, token),
                    None => builder,
                }
                .body(Body::from("{}"))
            }
        }
        .unwrap()
    };
    let mut best = f64::MAX;
    // The best of five passes: the machine's noise only ever adds.
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..iterations {
            let response = call(&router, request()).await;
            assert!(response.status().is_success());
        }
        best = best.min(started.elapsed().as_nanos() as f64 / f64::from(iterations));
    }
    best
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iterations: u32 = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000)
        / 5;
    let no_session = "__Host-id=AAAAAAAAAAAAAAAAAAAAAA";
    let bare = Router::new().route("/public", get(hello));
    let tower = Router::new()
        .route("/public", get(hello))
        .route("/login", get(tower_log_in))
        .route("/read", get(tower_read))
        .layer(SessionManagerLayer::new(tower_sessions::MemoryStore::default()).with_secure(false));
    let ours = Router::new()
        .route("/public", get(hello))
        .route("/login", get(log_in))
        .route("/guarded", get(current_user).post(current_user))
        .layer(
            AuthLayer::builder(
                Store,
                session_layer(MemoryStore::default()).with_secure(false),
            )
            .session_key(SessionKey::generate())
            .build(),
        );
    let tower_cookie = session_cookie(&tower).await;
    let ours_cookie = session_cookie(&ours).await;
    // The same app with `CsrfLayer` under the auth layer, and a token of its session.
    let csrf = Router::new()
        .route("/login", get(log_in))
        .route("/guarded", post(current_user))
        .route("/csrf-token", get(csrf_token))
        .layer(CsrfLayer::new())
        .layer(
            AuthLayer::builder(
                Store,
                session_layer(MemoryStore::default()).with_secure(false),
            )
            .session_key(SessionKey::generate())
            .build(),
        );
    let csrf_cookie = session_cookie(&csrf).await;
    let csrf_token = token(&csrf, &csrf_cookie).await;
    // For profiling one row alone: `BENCH_ONLY=public` (or `guarded`, `tower-public`,
    // `tower-read`, `post`, `csrf-post`).
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        let (router, send, path, cookie) = match only.as_str() {
            "tower-public" => (tower, Send::Get, "/public", no_session),
            "tower-read" => (tower, Send::Get, "/read", tower_cookie.as_str()),
            "guarded" => (ours, Send::Get, "/guarded", ours_cookie.as_str()),
            "post" => (ours, Send::Post(None), "/guarded", ours_cookie.as_str()),
            "csrf-post" => (
                csrf,
                Send::Post(Some(&csrf_token)),
                "/guarded",
                csrf_cookie.as_str(),
            ),
            _ => (ours, Send::Get, "/public", no_session),
        };
        let ns = per_request_of(router, send, path, cookie, iterations).await;
        println!("{only}: {ns:.0} ns per request");
        return;
    }
    let bare_ns = per_request(bare, "/public", no_session, iterations).await;
    println!("| request | ns per request | over bare axum |");
    println!("| --- | ---: | ---: |");
    println!("| bare axum, public route | {bare_ns:.0} | - |");
    for (label, router, path, cookie) in [
        (
            "tower-sessions SessionManagerLayer, public route",
            tower.clone(),
            "/public",
            no_session,
        ),
        (
            "AuthLayer over session_layer, public route",
            ours.clone(),
            "/public",
            no_session,
        ),
        (
            "tower-sessions SessionManagerLayer, reads a value",
            tower,
            "/read",
            tower_cookie.as_str(),
        ),
        (
            "AuthLayer over session_layer, CurrentUser",
            ours.clone(),
            "/guarded",
            ours_cookie.as_str(),
        ),
    ] {
        let ns = per_request(router, path, cookie, iterations).await;
        println!("| {label} | {ns:.0} | +{:.0} |", ns - bare_ns);
    }
    // The two `POST`s, alternated pass by pass so that a slower stretch of the machine falls
    // on both; the best of each.
    let (mut plain_ns, mut checked_ns) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        plain_ns = plain_ns.min(
            per_request_of(
                ours.clone(),
                Send::Post(None),
                "/guarded",
                &ours_cookie,
                iterations,
            )
            .await,
        );
        checked_ns = checked_ns.min(
            per_request_of(
                csrf.clone(),
                Send::Post(Some(&csrf_token)),
                "/guarded",
                &csrf_cookie,
                iterations,
            )
            .await,
        );
    }
    println!(
        "| AuthLayer over session_layer, CurrentUser, POST | {plain_ns:.0} | +{:.0} |",
        plain_ns - bare_ns
    );
    println!(
        "| the same POST under CsrfLayer, token in X-CSRF-Token | {checked_ns:.0} | +{:.0} |",
        checked_ns - bare_ns
    );
}
