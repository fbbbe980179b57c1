//! Around the guards: a login belongs to the layer that made it (its realm), a user cache shared
//! by layers never serves one layer's user to another, a login time in the future ends the
//! session instead of stretching it, and what `route_layer(require!(..))` covers (and what it
//! does not).

use std::time::Duration;

use axum::{
    Router,
    http::StatusCode,
    routing::{get, post},
};
use axum_login::{
    AuthLayer, CurrentUser, SessionKey, UserCache,
    clock::ManualClock,
    layer::AuthLayerBuilder,
    require,
    session::{GuardedStore, MemoryStore},
    session_layer,
    tower_sessions::service::PlaintextCookie,
};
use axum_login_tests::{
    directory::{TestStore, TestUser},
    http::{Visitor, serve_with_addr},
    login::{SeeOther, login},
};
use reqwest::header::ACCEPT;

type Builder = AuthLayerBuilder<TestStore, GuardedStore<MemoryStore>, PlaintextCookie>;

async fn me(user: Option<CurrentUser<TestUser>>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(user)| user.name)
}

#[axum_login::require_login(fresh = "5m")]
async fn sensitive() -> &'static str {
    "sensitive"
}

fn routes() -> Router {
    Router::new()
        .route("/login", post(login::<TestStore, SeeOther>))
        .route("/me", get(me))
        .route("/sensitive", get(sensitive))
}

/// An app over `store`, with sessions in `sessions` (shared between apps when cloned), the
/// suite's key, and `configure` on top.
async fn app(
    store: TestStore,
    sessions: &MemoryStore,
    configure: impl FnOnce(Builder) -> Builder,
) -> String {
    let layer = configure(
        AuthLayer::builder(store, session_layer(sessions.clone()))
            .session_key(SessionKey::from_bytes(&[9; 64]).expect("a key")),
    )
    .build();
    format!("http://{}", serve_with_addr(routes().layer(layer)).await)
}

/// Two tenants whose users share ids and credentials stamps: `alice` is user 1 of one, `bob` of
/// the other.
fn tenants() -> (TestStore, TestStore) {
    (
        TestStore::with_users(&[(1, "alice", "pw-alice")]),
        TestStore::with_users(&[(1, "bob", "pw-bob")]),
    )
}

#[tokio::test]
async fn a_login_is_not_accepted_by_another_layer_over_the_same_sessions() {
    // `TestStore` stamps user 1 `stamp-1-0` in both tenants: only the realm tells their
    // logins apart.
    let (a, b) = tenants();
    let sessions = MemoryStore::default();
    let tenant_a = app(a, &sessions, |builder| builder).await;
    let tenant_b = app(b, &sessions, |builder| builder).await;

    let bob = Visitor::new(&tenant_b);
    bob.login("bob", "pw-bob").await;
    assert_eq!(bob.whoami().await, "bob");
    let replayed = Visitor::with_cookie(&tenant_a, &bob.cookie().expect("bob's session"));
    assert_eq!(
        replayed.whoami().await,
        "anonymous",
        "tenant B's login came back as tenant A's user with the same id"
    );
}

#[tokio::test]
async fn layers_named_as_one_realm_accept_each_others_logins() {
    let (a, _) = tenants();
    let sessions = MemoryStore::default();
    let first = app(a.clone(), &sessions, |builder| builder.realm("app")).await;
    let second = app(a, &sessions, |builder| builder.realm("app")).await;
    let alice = Visitor::new(&first);
    alice.login("alice", "pw-alice").await;
    let elsewhere = Visitor::with_cookie(&second, &alice.cookie().expect("a session"));
    assert_eq!(elsewhere.whoami().await, "alice");
}

#[tokio::test]
async fn a_user_cache_shared_by_two_layers_never_serves_one_layers_user_to_the_other() {
    let (a, b) = tenants();
    let cache = UserCache::new(100, Duration::from_secs(600));
    let sessions = MemoryStore::default();
    let tenant_a = app(a, &sessions, |builder| builder.user_cache(cache.clone())).await;
    let tenant_b = app(b, &sessions, |builder| builder.user_cache(cache.clone())).await;

    let alice = Visitor::new(&tenant_a);
    alice.login("alice", "pw-alice").await;
    assert_eq!(alice.whoami().await, "alice");
    let bob = Visitor::new(&tenant_b);
    bob.login("bob", "pw-bob").await;
    // Each layer asks the shared cache for user 1 in turn: each gets its own.
    for _ in 0..3 {
        assert_eq!(bob.whoami().await, "bob");
        assert_eq!(alice.whoami().await, "alice");
    }
    let replayed = Visitor::with_cookie(&tenant_a, &bob.cookie().expect("bob's session"));
    assert_eq!(replayed.whoami().await, "anonymous");
}

#[tokio::test]
async fn a_login_time_in_the_future_ends_the_session() {
    let (a, _) = tenants();
    let clock = ManualClock::new();
    let sessions = MemoryStore::default();
    let base = app(a, &sessions, {
        let clock = clock.clone();
        |builder| builder.clock(clock)
    })
    .await;

    // Within the tolerance a step back is harmless.
    let visitor = Visitor::new(&base);
    visitor.login("alice", "pw-alice").await;
    clock.rewind(Duration::from_secs(20));
    assert_eq!(visitor.whoami().await, "alice");
    assert_eq!(visitor.get("/sensitive").await.status(), StatusCode::OK);

    // A login an hour in the future would be fresh and young for an hour too long.
    clock.advance(Duration::from_secs(20));
    let visitor = Visitor::new(&base);
    visitor.login("alice", "pw-alice").await;
    clock.rewind(Duration::from_secs(3600));
    let response = visitor
        .send(
            visitor
                .client
                .get(visitor.url("/sensitive"))
                .header(ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(visitor.whoami().await, "anonymous");
    // Ended, not suspended: the clock coming right does not bring it back.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(visitor.whoami().await, "anonymous");
}

#[tokio::test]
async fn the_tolerance_for_clock_skew_is_configurable() {
    let (a, _) = tenants();
    let clock = ManualClock::new();
    let sessions = MemoryStore::default();
    let base = app(a, &sessions, {
        let clock = clock.clone();
        |builder| builder.clock(clock).clock_skew(Duration::from_secs(7200))
    })
    .await;
    let visitor = Visitor::new(&base);
    visitor.login("alice", "pw-alice").await;
    clock.rewind(Duration::from_secs(3600));
    assert_eq!(visitor.whoami().await, "alice");
}

async fn anonymous_status(base: &str, path: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("answered")
        .status()
}

/// `route_layer` guards the routes added before it, and neither those added after nor the
/// fallback; `layer` guards the whole router, fallback and unknown paths included.
#[tokio::test]
async fn route_layer_guards_only_the_routes_before_it_and_layer_guards_everything() {
    let (a, _) = tenants();
    let sessions = MemoryStore::default();
    let auth = || {
        AuthLayer::builder(a.clone(), session_layer(sessions.clone()))
            .session_key(SessionKey::generate())
            .build()
    };
    let routes_layered = Router::new()
        .route("/before", get(|| async { "before" }))
        .route_layer(require!())
        .route("/after", get(|| async { "after" }))
        .fallback(|| async { "fallback" })
        .layer(auth());
    let base = format!("http://{}", serve_with_addr(routes_layered).await);
    assert_eq!(
        anonymous_status(&base, "/before").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(anonymous_status(&base, "/after").await, StatusCode::OK);
    assert_eq!(anonymous_status(&base, "/anything").await, StatusCode::OK);

    let closed = Router::new()
        .route("/before", get(|| async { "before" }))
        .fallback(|| async { "fallback" })
        .layer(require!())
        .layer(auth());
    let base = format!("http://{}", serve_with_addr(closed).await);
    for path in ["/before", "/anything", "/before/"] {
        assert_eq!(
            anonymous_status(&base, path).await,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
}
