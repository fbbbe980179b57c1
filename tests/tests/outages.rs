//! Outages fail closed within a bound, on every store: the user database (PostgreSQL, MariaDB)
//! or the session store (Redis, PostgreSQL) goes away behind a TCP proxy, either refusing
//! connections or swallowing them without an answer (where only a timeout ends the wait).
//! Guarded routes answer a generic 5xx within the configured bound, never a page of the user and
//! never a 200 to an anonymous visitor, and work again without a restart when the server comes
//! back.
//!
//! The servers come from `DATABASE_URL_POSTGRES`, `DATABASE_URL_MYSQL` and `REDIS_URL`; without
//! one the test fails under CI and is skipped, loudly, elsewhere.

use std::time::{Duration, Instant};

use axum::{Router, routing::get, routing::post};
use axum_login::{
    AuthLayer, CurrentUser, PasswordCredentials, SqlxStore, UserStore, require_login,
    session::{MemoryStore, RedisSessionStore, SessionBackend, SqlxSessionStore},
    session_layer,
};
use axum_login_tests::{
    db::{self, TestDb},
    http::{Visitor, serve_with_addr},
    login::{SeeOther, login},
    proxy::{Mode, Proxy},
    users::User,
};
use reqwest::{StatusCode, header::ACCEPT};

/// The bound the apps are given, and how much longer than it a failure may take (scheduling,
/// the request's own work) before the test calls it a hang. The bound also applies to the
/// healthy requests before and after the outage, so it is the crate's default, 2 s: at 500 ms a
/// healthy login through the proxy (a new PostgreSQL connection, the session insert) took
/// longer once in 22 runs on a 2-core machine at load 10, and was answered 500.
const BOUND: Duration = Duration::from_secs(2);
const SLACK: Duration = Duration::from_millis(1500);

#[require_login]
async fn protected(CurrentUser(user): CurrentUser<User>) -> String {
    format!("the page of {}", user.username)
}

async fn me(user: Option<CurrentUser<User>>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(user)| user.username)
}

fn routes<S>() -> Router
where
    S: UserStore<Credentials = PasswordCredentials, User = User>,
{
    Router::new()
        .route("/login", post(login::<S, SeeOther>))
        .route("/protected", get(protected))
        .route("/me", get(me))
}

/// `store` under `sessions`, every store call bounded by [`BOUND`].
async fn serve<S, B>(store: S, sessions: B) -> String
where
    S: UserStore<Credentials = PasswordCredentials, User = User>,
    B: SessionBackend + Clone,
{
    let layer = AuthLayer::builder(store, session_layer(sessions).with_store_timeout(BOUND))
        .store_timeout(BOUND)
        .build();
    format!(
        "http://{}",
        serve_with_addr(routes::<S>().layer(layer)).await
    )
}

/// Logs `ferris` in, breaks the service with `mode`, and checks what each kind of visitor gets;
/// then brings it back and checks that the session works again.
async fn fail_closed_and_recover(base: &str, proxy: &Proxy, mode: Mode) {
    let visitor = Visitor::new(base);
    assert_eq!(
        visitor.login("ferris", "hunter42").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(visitor.get("/protected").await.status(), StatusCode::OK);

    proxy.set_mode(mode);
    for (path, accept) in [
        ("/protected", "text/html"),
        ("/protected", "application/json"),
        ("/me", "*/*"),
    ] {
        let started = Instant::now();
        let response = visitor
            .send(visitor.client.get(visitor.url(path)).header(ACCEPT, accept))
            .await;
        let took = started.elapsed();
        let status = response.status();
        let body = response.text().await.expect("a body");
        assert!(
            status.is_server_error(),
            "{path} ({accept}) during {mode:?}: {status} {body}"
        );
        assert!(
            took < BOUND + SLACK,
            "{path} ({accept}) during {mode:?} took {took:?}, past the bound of {BOUND:?}"
        );
        assert!(!body.contains("ferris"), "{path}: {body}");
        let lower = body.to_ascii_lowercase();
        for leak in [
            "sqlx",
            "redis",
            "postgres",
            "mysql",
            "timed out",
            "did not answer",
        ] {
            assert!(
                !lower.contains(leak),
                "{path}: the body tells `{leak}`: {body}"
            );
        }
    }
    // An anonymous visitor is sent to log in as ever, never let through.
    let anonymous = Visitor::new(base)
        .send(
            reqwest::Client::new()
                .get(format!("{base}/protected"))
                .header(ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    proxy.set_mode(Mode::Up);
    let mut status = StatusCode::INTERNAL_SERVER_ERROR;
    for _ in 0..40 {
        status = visitor.get("/protected").await.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "the session did not come back after {mode:?}"
    );
    assert_eq!(visitor.whoami().await, "ferris");
}

/// A user store on `db`, reached through a proxy, with `ferris` in it.
async fn postgres_users(
    test: &str,
) -> Option<(
    TestDb<sqlx::Postgres>,
    Proxy,
    SqlxStore<User, sqlx::Postgres>,
)> {
    let db = db::postgres().await?;
    let _ = test;
    let proxy = Proxy::start(db.server()).await;
    let store = SqlxStore::<User, sqlx::Postgres>::new(db.pool_through(proxy.addr).await);
    sqlx::raw_sql(store.schema())
        .execute(store.pool())
        .await
        .expect("the users table");
    store
        .create_user("ferris", "hunter42".into())
        .await
        .expect("ferris");
    Some((db, proxy, store))
}

async fn mariadb_users(
    test: &str,
) -> Option<(TestDb<sqlx::MySql>, Proxy, SqlxStore<User, sqlx::MySql>)> {
    let db = db::mysql().await?;
    let _ = test;
    let proxy = Proxy::start(db.server()).await;
    let store = SqlxStore::<User, sqlx::MySql>::new(db.pool_through(proxy.addr).await);
    sqlx::raw_sql(store.schema())
        .execute(store.pool())
        .await
        .expect("the users table");
    store
        .create_user("ferris", "hunter42".into())
        .await
        .expect("ferris");
    Some((db, proxy, store))
}

/// A user store that is never down, for the session-store outages.
async fn sqlite_users() -> (TestDb<sqlx::Sqlite>, SqlxStore<User, sqlx::Sqlite>) {
    let db = db::sqlite_memory().await.expect("in-memory SQLite");
    let store = SqlxStore::<User, sqlx::Sqlite>::new(db.pool.clone());
    sqlx::raw_sql(store.schema())
        .execute(store.pool())
        .await
        .expect("the users table");
    store
        .create_user("ferris", "hunter42".into())
        .await
        .expect("ferris");
    (db, store)
}

macro_rules! outage {
    ($name:ident, $mode:expr, $setup:ident, user_store) => {
        #[tokio::test]
        async fn $name() {
            let Some((db, proxy, store)) = $setup(stringify!($name)).await else {
                return;
            };
            let base = serve(store, MemoryStore::default()).await;
            fail_closed_and_recover(&base, &proxy, $mode).await;
            db.finish().await;
        }
    };
}

outage!(
    user_database_on_postgres_that_hangs_fails_within_the_bound,
    Mode::Blackhole,
    postgres_users,
    user_store
);
outage!(
    user_database_on_postgres_that_refuses_fails_and_recovers,
    Mode::Refusing,
    postgres_users,
    user_store
);
outage!(
    user_database_on_mariadb_that_hangs_fails_within_the_bound,
    Mode::Blackhole,
    mariadb_users,
    user_store
);
outage!(
    user_database_on_mariadb_that_refuses_fails_and_recovers,
    Mode::Refusing,
    mariadb_users,
    user_store
);

/// A Redis client through a proxy, reconnecting after an outage, with no command timeout of its
/// own: the session layer's bound is what is tested.
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

async fn redis_outage(test: &str, mode: Mode) {
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
    let Some(pool) = redis_through(test, &proxy).await else {
        return;
    };
    let (db, users) = sqlite_users().await;
    let prefix = format!("axum_login_outage:{:016x}:", rand::random::<u64>());
    let sessions = RedisSessionStore::new(pool).with_prefix(prefix);
    let base = serve(users, sessions).await;
    fail_closed_and_recover(&base, &proxy, mode).await;
    db.finish().await;
}

#[tokio::test]
async fn sessions_on_redis_that_hangs_fail_within_the_bound() {
    redis_outage(
        "sessions_on_redis_that_hangs_fail_within_the_bound",
        Mode::Blackhole,
    )
    .await;
}

#[tokio::test]
async fn sessions_on_redis_that_refuses_fail_and_recover() {
    redis_outage(
        "sessions_on_redis_that_refuses_fail_and_recover",
        Mode::Refusing,
    )
    .await;
}

#[tokio::test]
async fn sessions_on_postgres_that_hangs_fail_within_the_bound() {
    let Some(sessions_db) = db::postgres().await else {
        return;
    };
    let proxy = Proxy::start(sessions_db.server()).await;
    let sessions = SqlxSessionStore::new(sessions_db.pool_through(proxy.addr).await);
    sessions.migrate().await.expect("the sessions table");
    let (db, users) = sqlite_users().await;
    let base = serve(users, sessions).await;
    fail_closed_and_recover(&base, &proxy, Mode::Blackhole).await;
    db.finish().await;
    sessions_db.finish().await;
}

/// Without any setting, a hanging user database fails a guarded request after the default
/// bound of two seconds: not sooner (nothing else cut it short), not much later.
#[tokio::test]
async fn the_default_bound_is_two_seconds() {
    let Some((db, proxy, store)) = postgres_users("the_default_bound_is_two_seconds").await else {
        return;
    };
    let layer = AuthLayer::builder(store, session_layer(MemoryStore::default())).build();
    let base = format!(
        "http://{}",
        serve_with_addr(routes::<SqlxStore<User, sqlx::Postgres>>().layer(layer)).await
    );
    let visitor = Visitor::new(&base);
    assert_eq!(
        visitor.login("ferris", "hunter42").await.status(),
        StatusCode::SEE_OTHER
    );
    proxy.set_mode(Mode::Blackhole);
    let started = Instant::now();
    let status = visitor.get("/protected").await.status();
    let took = started.elapsed();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        (Duration::from_millis(1900)..Duration::from_millis(3500)).contains(&took),
        "a hanging database failed the request after {took:?}"
    );
    proxy.set_mode(Mode::Up);
    db.finish().await;
}
