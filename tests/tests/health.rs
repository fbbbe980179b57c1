//! The readiness and liveness checks (`AuthLayer::health`) with stores cut off behind a TCP
//! proxy, as `outages.rs` cuts them: `/health/ready` answers `503` naming the store that does
//! not answer (and only it), `/health/live` stays `200` throughout, and readiness is back to
//! `200` once the store is, without a restart.
//!
//! The servers come from `DATABASE_URL_POSTGRES` and `REDIS_URL`; without one the test fails
//! under CI and is skipped, loudly, elsewhere.

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use axum_login::{
    AuthLayer, SqlxStore, UserStore,
    registry::{RegistryConfig, SqlxSessionRegistry},
    remember::{RememberMe, SqlxRememberStore},
    session::{MemoryStore, RedisSessionStore},
    session_layer,
    tower_sessions::SessionStore,
};
use axum_login_tests::{
    db::{self, TestDb},
    http::serve_with_addr,
    proxy::{Mode, Proxy},
    users::User,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Each store's bound in the readiness check, and how much longer than it an answer may take
/// (scheduling on a loaded machine) before the test calls it a hang.
const TIMEOUT: Duration = Duration::from_secs(1);
const SLACK: Duration = Duration::from_millis(1500);

/// `layer` on a router with one page, and its health checks beside it.
async fn serve<SS: SessionStore + Clone>(layer: AuthLayer<SS>) -> String {
    let health = layer.health().timeout(TIMEOUT);
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .layer(layer)
        .merge(health.router());
    format!("http://{}", serve_with_addr(app).await)
}

/// The status and JSON body of `GET path`, and how long it took.
async fn probe(base: &str, path: &str) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let response = reqwest::get(format!("{base}{path}"))
        .await
        .expect("the probe is answered");
    let status = response.status();
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/json"),
        "{path}"
    );
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|value| value.to_str().ok()),
        Some("no-store"),
        "{path}"
    );
    let body = response.json().await.expect("a JSON body");
    (status, body, started.elapsed())
}

/// The readiness body when every one of `stores` answered, and when `failed` did not (each
/// with what it did) while the others did.
fn report(stores: &[&str], failed: &[(&str, &str)]) -> Value {
    let checks: serde_json::Map<String, Value> = stores
        .iter()
        .map(|store| {
            let status = failed
                .iter()
                .find(|(name, _)| name == store)
                .map_or("ok", |(_, status)| status);
            ((*store).to_owned(), json!(status))
        })
        .collect();
    let status = if failed.is_empty() { "ok" } else { "fail" };
    json!({ "status": status, "checks": checks })
}

/// Readiness while `proxy` is in `mode`: `503` with `failed`, within the bound; liveness `200`.
async fn not_ready_while(
    base: &str,
    proxy: &Proxy,
    mode: Mode,
    stores: &[&str],
    failed: &[(&str, &str)],
) {
    proxy.set_mode(mode);
    let (status, body, took) = probe(base, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{mode:?}: {body}");
    assert_eq!(body, report(stores, failed), "{mode:?}");
    assert!(
        took < TIMEOUT + SLACK,
        "readiness during {mode:?} took {took:?}, past the bound of {TIMEOUT:?}"
    );
    let (status, body, _) = probe(base, "/health/live").await;
    assert_eq!(status, StatusCode::OK, "liveness during {mode:?}");
    assert_eq!(body, json!({ "status": "ok" }));
}

/// Readiness after the proxy is up again: `200` with every store `ok`, within a few seconds
/// (a pool may first hand out a connection the outage cut, which fails and is replaced).
async fn ready_again(base: &str, proxy: &Proxy, stores: &[&str]) {
    proxy.set_mode(Mode::Up);
    let mut last = None;
    for _ in 0..40 {
        let (status, body, _) = probe(base, "/health/ready").await;
        if status == StatusCode::OK {
            assert_eq!(body, report(stores, &[]));
            return;
        }
        last = Some((status, body));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("readiness did not come back after the outage: {last:?}");
}

/// A user store that is never down, with `ferris` in it.
async fn sqlite_users() -> (TestDb<sqlx::Sqlite>, SqlxStore<User, sqlx::Sqlite>) {
    let db = db::sqlite_memory().await.expect("in-memory SQLite");
    let store = SqlxStore::<User, sqlx::Sqlite>::new(db.pool.clone());
    sqlx::raw_sql(store.schema())
        .execute(store.pool())
        .await
        .expect("the users table");
    (db, store)
}

#[tokio::test]
async fn ready_names_the_user_database_when_it_refuses_or_hangs_and_live_stays_up() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let proxy = Proxy::start(db.server()).await;
    let users = SqlxStore::<User, sqlx::Postgres>::new(db.pool_through(proxy.addr).await);
    let layer = AuthLayer::builder(users, session_layer(MemoryStore::default())).build();
    let base = serve(layer).await;
    let stores = ["sessions", "throttle", "users"];

    let (status, body, _) = probe(&base, "/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, report(&stores, &[]));

    not_ready_while(
        &base,
        &proxy,
        Mode::Refusing,
        &stores,
        &[("users", "error")],
    )
    .await;
    not_ready_while(
        &base,
        &proxy,
        Mode::Blackhole,
        &stores,
        &[("users", "timeout")],
    )
    .await;
    ready_again(&base, &proxy, &stores).await;
    db.finish().await;
}

#[tokio::test]
async fn ready_names_the_registry_and_remember_me_on_postgres_when_it_refuses() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let proxy = Proxy::start(db.server()).await;
    let pool = db.pool_through(proxy.addr).await;
    let registry = SqlxSessionRegistry::new(pool.clone());
    registry.migrate().await.expect("the registry's table");
    let remember = SqlxRememberStore::new(pool);
    remember.migrate().await.expect("the remember-me table");
    let (users_db, users) = sqlite_users().await;
    let layer = AuthLayer::builder(users, session_layer(MemoryStore::default()))
        .session_registry(RegistryConfig::new(registry))
        .remember_me(RememberMe::new(remember))
        .build();
    let base = serve(layer).await;
    let stores = ["registry", "remember_me", "sessions", "throttle", "users"];

    let (status, body, _) = probe(&base, "/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, report(&stores, &[]));

    not_ready_while(
        &base,
        &proxy,
        Mode::Refusing,
        &stores,
        &[("registry", "error"), ("remember_me", "error")],
    )
    .await;
    ready_again(&base, &proxy, &stores).await;
    users_db.finish().await;
    db.finish().await;
}

/// A Redis client through `proxy` that reconnects after an outage.
async fn redis_through(test: &str, proxy: &Proxy) -> Option<fred::clients::Pool> {
    use fred::prelude::*;
    db::redis(test).await?;
    let config = Config::from_url(&format!("redis://{}", proxy.addr)).expect("a Redis URL");
    let pool = Builder::from_config(config)
        .set_policy(ReconnectPolicy::new_constant(0, 100))
        .build_pool(2)
        .expect("a Redis pool");
    pool.init().await.expect("Redis through the proxy");
    Some(pool)
}

#[tokio::test]
async fn ready_names_the_session_store_on_redis_when_it_hangs() {
    let upstream = {
        let url = axum_login_tests::env::redis_url();
        let host_port = url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        tokio::net::lookup_host(host_port)
            .await
            .expect("resolve Redis")
            .next()
            .expect("an address for Redis")
    };
    let proxy = Proxy::start(upstream).await;
    let Some(pool) = redis_through("ready_names_the_session_store_on_redis", &proxy).await else {
        return;
    };
    let prefix = format!("axum_login_health:{:016x}:", rand::random::<u64>());
    let sessions = RedisSessionStore::new(pool).with_prefix(prefix);
    let (users_db, users) = sqlite_users().await;
    let layer = AuthLayer::builder(users, session_layer(sessions)).build();
    let base = serve(layer).await;
    let stores = ["sessions", "throttle", "users"];

    let (status, body, _) = probe(&base, "/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, report(&stores, &[]));

    not_ready_while(
        &base,
        &proxy,
        Mode::Blackhole,
        &stores,
        &[("sessions", "timeout")],
    )
    .await;
    ready_again(&base, &proxy, &stores).await;
    users_db.finish().await;
}

/// The user store's `ping` is what readiness asks of it: a store that overrides it is heard.
#[tokio::test]
async fn ready_asks_the_user_store_its_own_ping() {
    #[derive(Clone)]
    struct Down;
    impl UserStore for Down {
        type User = User;
        type Credentials = ();
        type Error = std::io::Error;
        async fn authenticate(&self, (): ()) -> Result<Option<User>, Self::Error> {
            Ok(None)
        }
        async fn load_user(&self, _: &i64) -> Result<Option<User>, Self::Error> {
            Ok(None)
        }
        async fn ping(&self) -> Result<(), Self::Error> {
            Err(std::io::Error::other("the directory is down"))
        }
    }
    let base = serve(AuthLayer::builder(Down, session_layer(MemoryStore::default())).build()).await;
    let (status, body, _) = probe(&base, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        report(&["sessions", "throttle", "users"], &[("users", "error")])
    );
    // The cause is logged, not sent.
    assert!(!body.to_string().contains("directory"), "{body}");
}
