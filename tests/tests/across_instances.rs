//! Two instances behind one load balancer sharing the session registry and the remember-me
//! store, over HTTP, on SQLite, PostgreSQL, MariaDB and Redis: a list made on one shows the
//! other's sessions, an ending on either takes effect on both, a remember-me cookie from one logs
//! in on the other, and theft is caught whichever instance sees it.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum_login::{
    AuthLayer, SessionKey,
    clock::ManualClock,
    events::{AuthEvent, EventRecord},
    registry::{RedisSessionRegistry, RegistryConfig, SessionRegistry, SqlxSessionRegistry},
    remember::{RedisRememberStore, RememberMe, RememberStore, SqlxRememberStore},
    session::MemoryStore,
    session_layer,
};
use axum_login_tests::{
    db,
    directory::TestStore,
    http::serve_with_addr,
    lifecycle_app::{Browser, REMEMBER_COOKIE, Shared, routes},
};

/// Two instances of the app behind one load balancer: one session store, one key and realm,
/// and each its own connection to the shared registry and remember-me store.
async fn two_instances(
    registries: (impl SessionRegistry, impl SessionRegistry),
    remembers: (impl RememberStore, impl RememberStore),
) -> (String, String, ManualClock, Arc<Mutex<Vec<EventRecord>>>) {
    let store = TestStore::with_users(&[(1, "alice", "pw-alice"), (2, "bob", "pw-bob")]);
    let sessions = MemoryStore::default();
    let clock = ManualClock::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let instance = |registry: RegistryConfig, remember: RememberMe| {
        let sink = events.clone();
        AuthLayer::builder(store.clone(), session_layer(sessions.clone()))
            .session_key(SessionKey::from_bytes(&[5; 64]).expect("a key"))
            .realm("app")
            .clock(clock.clone())
            .session_registry(registry)
            .remember_me(remember)
            .events(move |record: &EventRecord| sink.lock().expect("lock").push(record.clone()))
            .build()
    };
    let a = instance(
        RegistryConfig::new(registries.0),
        RememberMe::new(remembers.0),
    );
    let b = instance(
        RegistryConfig::new(registries.1),
        RememberMe::new(remembers.1),
    );
    let a = serve_with_addr(routes(Shared::default()).layer(a)).await;
    let b = serve_with_addr(routes(Shared::default()).layer(b)).await;
    (format!("http://{a}"), format!("http://{b}"), clock, events)
}

/// What each shared store must do across instances, over HTTP: a list made on one instance
/// shows sessions begun on the other, ending one on either takes effect on the other at its
/// next request, a remember-me cookie issued by one logs in on the other, a validator made up
/// for its selector ends nothing, the store never holds the selector itself, and a stolen copy
/// is caught whichever instance sees it.
async fn sessions_and_remember_me_span_instances(
    registries: (impl SessionRegistry, impl SessionRegistry),
    remembers: (impl RememberStore + Clone, impl RememberStore),
) {
    let probe = remembers.0.clone();
    let (a, b, clock, events) = two_instances(registries, remembers).await;
    let laptop = Browser::new(&a).with_agent("Laptop/1.0");
    let phone = Browser::new(&b).with_agent("Phone/1.0");
    assert_eq!(laptop.login("alice", "pw-alice", false).await.status(), 303);
    // The list is oldest first; logins in the same second may come in either order.
    clock.advance(Duration::from_secs(1));
    assert_eq!(phone.login("alice", "pw-alice", true).await.status(), 303);

    let listed = laptop.at(&b).sessions().await;
    assert_eq!(
        listed
            .iter()
            .map(|session| (session.user_agent.as_deref(), session.current))
            .collect::<Vec<_>>(),
        [(Some("Laptop/1.0"), true), (Some("Phone/1.0"), false)]
    );
    let response = laptop
        .at(&b)
        .post(&format!("/sessions/{}/end", listed[1].id), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "true");
    assert_eq!(phone.at(&a).whoami().await, "anonymous");
    phone.restart();
    assert_eq!(
        phone.at(&a).whoami().await,
        "anonymous",
        "the ended session's remember-me token went with it"
    );
    assert_eq!(laptop.at(&a).sessions().await.len(), 1);

    // Remembered on one instance, logged in again on the other, after the browser restarts.
    let owner = Browser::new(&a);
    owner.login("bob", "pw-bob", true).await;
    owner.restart();
    let thief = owner.copy();

    // A validator made up for the real selector is no theft: it loses its cookie, and bob's
    // token and sessions stay.
    let cookie = owner.cookie(REMEMBER_COOKIE).expect("a remember-me cookie");
    let (selector, validator) = cookie.split_once('.').expect("selector.validator");
    assert_eq!(
        probe.get(selector).await.expect("the store answers"),
        None,
        "the store does not know the token by the cookie's selector"
    );
    let made_up = if validator.starts_with('A') { "B" } else { "A" }.repeat(43);
    let forger = Browser::new(&b).with_cookie(REMEMBER_COOKIE, &format!("{selector}.{made_up}"));
    assert_eq!(forger.whoami().await, "anonymous");
    assert_eq!(
        forger.cookie(REMEMBER_COOKIE),
        None,
        "the cookie is removed"
    );
    assert!(
        !events
            .lock()
            .expect("lock")
            .iter()
            .any(|record| matches!(record.event, AuthEvent::RememberTheft { .. })),
        "a made-up validator is no theft"
    );
    assert_eq!(owner.at(&b).whoami().await, "bob");
    clock.advance(Duration::from_secs(60));
    assert_eq!(thief.at(&a).whoami().await, "anonymous");
    assert_eq!(
        owner.at(&b).whoami().await,
        "anonymous",
        "every session of bob ended"
    );
    assert!(
        events
            .lock()
            .expect("lock")
            .iter()
            .any(|record| record.event
                == AuthEvent::RememberTheft {
                    user: "2".to_owned()
                })
    );
    owner.restart();
    assert_eq!(
        owner.at(&a).whoami().await,
        "anonymous",
        "bob's tokens are gone"
    );
    assert_eq!(laptop.at(&b).whoami().await, "alice", "alice is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_sessions_and_remember_me_span_instances() {
    let path = std::env::temp_dir().join(format!(
        "axl_registry_http_{:016x}.db",
        rand::random::<u64>()
    ));
    let pool = || async {
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true),
            )
            .await
            .expect("SQLite file in the temp dir")
    };
    let (first, second) = (pool().await, pool().await);
    let registry = SqlxSessionRegistry::new(first.clone());
    registry.migrate().await.expect("migrate");
    let remember = SqlxRememberStore::new(first.clone());
    remember.migrate().await.expect("migrate");
    sessions_and_remember_me_span_instances(
        (registry, SqlxSessionRegistry::new(second.clone())),
        (remember, SqlxRememberStore::new(second.clone())),
    )
    .await;
    first.close().await;
    second.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_sessions_and_remember_me_span_instances() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let other = db.pool_through(db.server()).await;
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    let remember = SqlxRememberStore::new(db.pool.clone());
    remember.migrate().await.expect("migrate");
    sessions_and_remember_me_span_instances(
        (registry, SqlxSessionRegistry::new(other.clone())),
        (remember, SqlxRememberStore::new(other.clone())),
    )
    .await;
    other.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_sessions_and_remember_me_span_instances() {
    let Some(db) = db::mysql().await else { return };
    let other = db.pool_through(db.server()).await;
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    let remember = SqlxRememberStore::new(db.pool.clone());
    remember.migrate().await.expect("migrate");
    sessions_and_remember_me_span_instances(
        (registry, SqlxSessionRegistry::new(other.clone())),
        (remember, SqlxRememberStore::new(other.clone())),
    )
    .await;
    other.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_sessions_and_remember_me_span_instances() {
    let test = "on_redis_sessions_and_remember_me_span_instances";
    let (Some(a), Some(b)) = (db::redis(test).await, db::redis(test).await) else {
        return;
    };
    let prefix = format!("axl_test_{:016x}:", rand::random::<u64>());
    sessions_and_remember_me_span_instances(
        (
            RedisSessionRegistry::new(a.clone()).with_prefix(&prefix),
            RedisSessionRegistry::new(b.clone()).with_prefix(&prefix),
        ),
        (
            RedisRememberStore::new(a).with_prefix(&prefix),
            RedisRememberStore::new(b).with_prefix(prefix),
        ),
    )
    .await;
}
