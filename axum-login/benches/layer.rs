//! What the layer costs, in process (no sockets), so that what is measured is the middleware
//! and nothing else. A route that never asks who the user is: the same `GET /public` through
//! bare axum, through tower-sessions' `SessionManagerLayer`, and through `AuthLayer` over
//! `session_layer`, each with a session cookie. A logged-in request: tower-sessions reading one
//! value from the session, against `CurrentUser` (the session's login record, its digest
//! checked, the user from a store that answers at once), both over an in-memory session store.
//!
//! Run: `cargo bench -p axum-login@0.1.0 --bench layer` (`BENCH_ITERATIONS`, default 200 000).
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use axum::{
    Router,
    body::Body,
    http::{Request, header},
    routing::get,
};
use axum_login::{
    AuthLayer, AuthSession, AuthUser, CurrentUser, SessionKey, UserStore, session::MemoryStore,
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

/// The best time per request of `GET path` with `cookie` on `router`.
async fn per_request(router: Router, path: &str, cookie: &str, iterations: u32) -> f64 {
    // As `axum::serve` does: the handlers become services once, not on every request.
    let router: Router = router.with_state(());
    let request = || {
        Request::get(path)
            .header(header::COOKIE, format!("{cookie}; theme=dark"))
            .header(header::USER_AGENT, "bench/1.0")
            .body(Body::empty())
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
        .route("/guarded", get(current_user))
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
    // For profiling one row alone: `BENCH_ONLY=public` (or `guarded`, `tower-public`,
    // `tower-read`).
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        let (router, path, cookie) = match only.as_str() {
            "tower-public" => (tower, "/public", no_session),
            "tower-read" => (tower, "/read", tower_cookie.as_str()),
            "guarded" => (ours, "/guarded", ours_cookie.as_str()),
            _ => (ours, "/public", no_session),
        };
        let ns = per_request(router, path, cookie, iterations).await;
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
            ours,
            "/guarded",
            ours_cookie.as_str(),
        ),
    ] {
        let ns = per_request(router, path, cookie, iterations).await;
        println!("| {label} | {ns:.0} | +{:.0} |", ns - bare_ns);
    }
}
