//! What the layer costs a route that never asks who the user is: the same `GET /public`
//! through bare axum, through tower-sessions' `SessionManagerLayer`, and through `AuthLayer`
//! over `session_layer`, each with a session cookie, in process (no sockets), so that what is
//! measured is the middleware and nothing else.
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
use axum_login::{AuthLayer, AuthUser, SessionKey, UserStore, session::MemoryStore, session_layer};
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

async fn per_request(router: Router, iterations: u32) -> f64 {
    use tower_service::Service;
    // As `axum::serve` does: the handlers become services once, not on every request.
    let router: Router = router.with_state(());
    let request = || {
        Request::get("/public")
            .header(
                header::COOKIE,
                "__Host-id=AAAAAAAAAAAAAAAAAAAAAA; theme=dark",
            )
            .header(header::USER_AGENT, "bench/1.0")
            .body(Body::empty())
            .unwrap()
    };
    let mut best = f64::MAX;
    // The best of five passes: the machine's noise only ever adds.
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..iterations {
            let mut service = router.clone();
            std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut service, cx))
                .await
                .unwrap();
            let response = service.call(request()).await.unwrap();
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
    let bare = Router::new().route("/public", get(hello));
    let tower = Router::new()
        .route("/public", get(hello))
        .layer(SessionManagerLayer::new(
            tower_sessions::MemoryStore::default(),
        ));
    let ours = Router::new().route("/public", get(hello)).layer(
        AuthLayer::builder(Store, session_layer(MemoryStore::default()))
            .session_key(SessionKey::generate())
            .build(),
    );
    // For profiling one of them alone: `BENCH_ONLY=ours` (or `tower`).
    let only = std::env::var("BENCH_ONLY").ok();
    if let Some(only) = only.as_deref() {
        let router = if only == "tower" { tower } else { ours };
        println!(
            "{only}: {:.0} ns per request",
            per_request(router, iterations).await
        );
        return;
    }
    let bare_ns = per_request(bare, iterations).await;
    println!("| route | ns per request | over bare axum |");
    println!("| --- | ---: | ---: |");
    println!("| bare axum | {bare_ns:.0} | - |");
    for (label, router) in [
        ("tower-sessions SessionManagerLayer", tower),
        ("AuthLayer over session_layer", ours),
    ] {
        let ns = per_request(router, iterations).await;
        println!("| {label} | {ns:.0} | +{:.0} |", ns - bare_ns);
    }
}
