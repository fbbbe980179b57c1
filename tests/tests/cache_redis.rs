//! Two instances, each with its own user cache, kept in step through Redis pub/sub
//! (`UserCache::connect_redis`): a change made through one is seen by the other within 100 ms,
//! and an instance whose subscription is down serves from the store, never from memory.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{
    Form, Router,
    extract::Path,
    http::StatusCode,
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, CurrentUser, SessionKey, UserCache, require_login,
};
use axum_login_tests::{
    directory::{TestStore, TestUser},
    http::{browser, serve},
    login::{Ok200, login},
    proxy::Proxy,
};
use fred::prelude::*;
use tower_sessions::{MemoryStore, SessionManagerLayer};

type Auth = AuthSession<TestStore>;

/// How soon another instance must see a published change.
const PROPAGATION: Duration = Duration::from_millis(100);
const LONG_TTL: Duration = Duration::from_secs(600);

#[require_login]
async fn guarded(CurrentUser(user): CurrentUser<TestUser>) -> String {
    user.name
}

#[derive(serde::Deserialize)]
struct NewPassword {
    password: String,
}

#[require_login]
async fn change_password(
    mut auth: Auth,
    CurrentUser(user): CurrentUser<TestUser>,
    Form(form): Form<NewPassword>,
) -> Result<&'static str, AuthError> {
    let user = auth.store().set_password(user.id, &form.password);
    auth.update_session_auth_hash(&user).await?;
    Ok("changed")
}

#[derive(serde::Deserialize)]
struct NewName {
    name: String,
}

/// An admin action that changes a user's record without ending their sessions, as a change of
/// roles or permissions does, and tells the cache. The name stands for the roles: it is what
/// `/guarded` shows, so a stale cached copy is visible.
#[require_login]
async fn change_record(auth: Auth, Path(id): Path<u64>, Form(form): Form<NewName>) -> &'static str {
    auth.store().rename(id, &form.name);
    auth.forget_cached_user(&id);
    "changed"
}

struct Instance {
    base: String,
    cache: UserCache,
}

impl Instance {
    /// An instance over the shared `store` and `sessions`, with a cache of its own connected
    /// to `channel` through its own Redis client, at `redis` (Redis itself or a proxy).
    async fn start(
        store: &TestStore,
        sessions: &MemoryStore,
        key: &SessionKey,
        redis: SocketAddr,
        channel: &str,
    ) -> Self {
        let client = redis_client(redis).await;
        let cache = UserCache::new(100, LONG_TTL);
        cache
            .connect_redis(&client, channel)
            .await
            .expect("connect the cache to Redis");
        let session_layer = SessionManagerLayer::new(sessions.clone()).with_secure(false);
        let router = Router::new()
            .route("/login", post(login::<TestStore, Ok200>))
            .route("/guarded", get(guarded))
            .route("/password", post(change_password))
            .route("/users/{id}/record", post(change_record))
            .layer(
                AuthLayer::builder(store.clone(), session_layer)
                    .session_key(key.clone())
                    .realm("app")
                    .user_cache(cache.clone())
                    .build(),
            );
        Self {
            base: format!("http://{}", serve(router).await),
            cache,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn log_in(&self, client: &reqwest::Client, name: &str, password: &str) {
        let response = client
            .post(self.url("/login"))
            .form(&[("username", name), ("password", password)])
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), StatusCode::OK, "{name} logs in");
    }

    /// Status and body of `GET /guarded` for this client.
    async fn guarded(&self, client: &reqwest::Client) -> (StatusCode, String) {
        let response = client
            .get(self.url("/guarded"))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .expect("guarded request");
        let status = response.status();
        (status, response.text().await.expect("guarded body"))
    }

    async fn post(&self, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) {
        let response = client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), StatusCode::OK, "POST {path}");
    }
}

/// Redis's address, or `None` (after a loud skip outside CI, a failure under CI) when Redis
/// cannot be reached.
async fn redis_server(test: &str) -> Option<SocketAddr> {
    axum_login_tests::db::redis(test).await?;
    let url = axum_login_tests::env::redis_url();
    let config = Config::from_url(&url).expect("a Redis URL");
    let ServerConfig::Centralized { server } = config.server else {
        panic!("REDIS_URL names one server");
    };
    tokio::net::lookup_host((server.host.to_string(), server.port))
        .await
        .expect("resolve Redis")
        .next()
}

/// A client of its own at `addr`, which reconnects quickly, as a service's would.
async fn redis_client(addr: SocketAddr) -> Client {
    let mut config = Config::from_url(&axum_login_tests::env::redis_url()).expect("a Redis URL");
    config.server = ServerConfig::new_centralized(addr.ip().to_string(), addr.port());
    let client = Builder::from_config(config)
        .with_performance_config(|performance| {
            performance.default_command_timeout = Duration::from_secs(2);
        })
        .with_connection_config(|connection| {
            connection.connection_timeout = Duration::from_secs(2);
        })
        .set_policy(ReconnectPolicy::new_constant(0, 50))
        .build()
        .expect("a Redis client");
    client.init().await.expect("connect to Redis");
    client
}

/// A channel no other test uses.
fn channel() -> String {
    format!("axum_login_test:user_cache:{:016x}", rand::random::<u64>())
}

/// Two instances sharing users, sessions, key and realm; the second reaches Redis at
/// `second_redis` when given (a proxy), else directly.
async fn two_instances(
    redis: SocketAddr,
    second_redis: Option<SocketAddr>,
) -> (TestStore, Instance, Instance) {
    let store = TestStore::with_users(&[(1, "ferris", "hunter42"), (2, "admin", "correct-horse")]);
    let sessions = MemoryStore::default();
    let key = SessionKey::generate();
    let channel = channel();
    let a = Instance::start(&store, &sessions, &key, redis, &channel).await;
    let b = Instance::start(
        &store,
        &sessions,
        &key,
        second_redis.unwrap_or(redis),
        &channel,
    )
    .await;
    (store, a, b)
}

/// Loads the client's user into both caches, and checks that both then serve it without a
/// store call.
async fn warm_both(store: &TestStore, a: &Instance, b: &Instance, client: &reqwest::Client) {
    for instance in [a, b] {
        assert_eq!(instance.guarded(client).await.0, StatusCode::OK);
    }
    let loads = store.loads();
    for _ in 0..5 {
        for instance in [a, b] {
            assert_eq!(instance.guarded(client).await.0, StatusCode::OK);
        }
    }
    assert_eq!(
        store.loads(),
        loads,
        "both instances serve from their caches"
    );
}

/// Polls `check` until it holds, failing if that takes longer than `within`.
async fn within<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{what}: not seen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn both_instances_serve_a_logged_in_user_from_their_caches() {
    let test = "both_instances_serve_a_logged_in_user_from_their_caches";
    let Some(redis) = redis_server(test).await else {
        return;
    };
    let (store, a, b) = two_instances(redis, None).await;
    let client = browser();
    a.log_in(&client, "ferris", "hunter42").await;
    warm_both(&store, &a, &b, &client).await;
    assert_eq!(a.cache.entry_count(), 1);
    assert_eq!(b.cache.entry_count(), 1);
}

#[tokio::test]
async fn password_change_on_one_instance_ends_other_sessions_on_the_other_within_100ms() {
    let test = "password_change_on_one_instance_ends_other_sessions_on_the_other_within_100ms";
    let Some(redis) = redis_server(test).await else {
        return;
    };
    let (store, a, b) = two_instances(redis, None).await;
    let laptop = browser();
    let phone = browser();
    a.log_in(&laptop, "ferris", "hunter42").await;
    a.log_in(&phone, "ferris", "hunter42").await;
    warm_both(&store, &a, &b, &laptop).await;
    warm_both(&store, &a, &b, &phone).await;

    a.post(&laptop, "/password", &[("password", "new-password")])
        .await;
    within(
        PROPAGATION,
        "the phone's session ends on the other instance despite its 10-minute cache",
        || async { b.guarded(&phone).await.0 == StatusCode::UNAUTHORIZED },
    )
    .await;
    assert_eq!(
        b.guarded(&laptop).await.0,
        StatusCode::OK,
        "the session that changed the password stays logged in on the other instance"
    );
}

#[tokio::test]
async fn record_change_published_from_one_instance_is_seen_on_the_other_within_100ms() {
    let test = "record_change_published_from_one_instance_is_seen_on_the_other_within_100ms";
    let Some(redis) = redis_server(test).await else {
        return;
    };
    let (store, a, b) = two_instances(redis, None).await;
    let ferris = browser();
    let admin = browser();
    a.log_in(&ferris, "ferris", "hunter42").await;
    a.log_in(&admin, "admin", "correct-horse").await;
    warm_both(&store, &a, &b, &ferris).await;
    assert_eq!(b.guarded(&ferris).await.1, "ferris");

    a.post(&admin, "/users/1/record", &[("name", "ferris the admin")])
        .await;
    within(
        PROPAGATION,
        "the other instance serves the changed user",
        || async { b.guarded(&ferris).await == (StatusCode::OK, "ferris the admin".to_owned()) },
    )
    .await;

    // An invalidation made outside a request, through a clone of the cache, travels too.
    store.rename(1, "ferris again");
    a.cache.invalidate(&1);
    within(
        PROPAGATION,
        "the other instance serves the user changed outside a request",
        || async { b.guarded(&ferris).await.1 == "ferris again" },
    )
    .await;
}

#[tokio::test]
async fn lost_subscription_serves_from_the_store_and_caches_again_after_reconnecting() {
    let test = "lost_subscription_serves_from_the_store_and_caches_again_after_reconnecting";
    let Some(redis) = redis_server(test).await else {
        return;
    };
    let proxy = Proxy::start(redis).await;
    let (store, a, b) = two_instances(redis, Some(proxy.addr)).await;
    let client = browser();
    a.log_in(&client, "ferris", "hunter42").await;
    warm_both(&store, &a, &b, &client).await;

    // The second instance's connections to Redis are cut, its subscription with them.
    proxy.set_up(false);
    within(
        Duration::from_secs(5),
        "the instance whose subscription is down goes to the store",
        || async {
            let loads = store.loads();
            assert_eq!(b.guarded(&client).await.0, StatusCode::OK);
            store.loads() > loads
        },
    )
    .await;
    let loads = store.loads();
    for _ in 0..5 {
        assert_eq!(b.guarded(&client).await.0, StatusCode::OK);
    }
    assert_eq!(
        store.loads() - loads,
        5,
        "every request loads from the store while the subscription is down"
    );
    // A change it cannot hear about is still seen at once: nothing is served from memory.
    store.rename(1, "changed while cut off");
    a.cache.invalidate(&1);
    assert_eq!(b.guarded(&client).await.1, "changed while cut off");
    assert_eq!(
        a.guarded(&client).await.1,
        "changed while cut off",
        "the connected instance still caches, and heard its own invalidation"
    );

    proxy.set_up(true);
    within(
        Duration::from_secs(10),
        "the instance caches again once its subscription is back",
        || async {
            assert_eq!(b.guarded(&client).await.0, StatusCode::OK);
            let loads = store.loads();
            for _ in 0..3 {
                assert_eq!(b.guarded(&client).await.0, StatusCode::OK);
            }
            store.loads() == loads
        },
    )
    .await;

    assert_eq!(
        b.guarded(&client).await.1,
        "changed while cut off",
        "the copy cached before the outage, which missed an invalidation, was dropped on reconnecting"
    );

    // And it hears invalidations again.
    store.rename(1, "ferris after the outage");
    a.cache.invalidate(&1);
    within(
        PROPAGATION,
        "the reconnected instance hears invalidations",
        || async { b.guarded(&client).await.1 == "ferris after the outage" },
    )
    .await;
}
