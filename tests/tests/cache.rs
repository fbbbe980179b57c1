//! The lazy path and the optional user cache over HTTP: what a request costs the user store and
//! the session store, and that a cached user never keeps alive a session that should end
//! (beyond the TTL the docs state, for changes the cache was not told about).

use std::time::{Duration, Instant};

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
    directory::TestStore,
    directory::TestUser,
    http::browser,
    http::serve,
    login::{Ok200, login},
    session_stores::FlakySessionStore,
};
use tower_sessions::SessionManagerLayer;

type Auth = AuthSession<TestStore>;

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

/// An admin action that deletes a user through the store and tells the cache.
#[require_login]
async fn delete_user(auth: Auth, Path(id): Path<u64>) -> &'static str {
    auth.store().remove(id);
    auth.forget_cached_user(&id);
    "deleted"
}

struct App {
    base: String,
    store: TestStore,
    sessions: FlakySessionStore,
    cache: UserCache,
}

impl App {
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

    /// The status of `GET /guarded` for this client: `200` when logged in.
    async fn guarded(&self, client: &reqwest::Client) -> StatusCode {
        client
            .get(self.url("/guarded"))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .expect("guarded request")
            .status()
    }
}

fn router(
    store: &TestStore,
    sessions: &FlakySessionStore,
    key: &SessionKey,
    cache: &UserCache,
) -> Router {
    let session_layer = SessionManagerLayer::new(sessions.clone()).with_secure(false);
    Router::new()
        .route("/public", get(|| async { "public" }))
        .route("/login", post(login::<TestStore, Ok200>))
        .route("/guarded", get(guarded))
        .route("/password", post(change_password))
        .route("/users/{id}/delete", post(delete_user))
        .layer(
            AuthLayer::builder(store.clone(), session_layer)
                .session_key(key.clone())
                // Two instances built in one process: one realm, as two processes would have.
                .realm("instances")
                .user_cache(cache.clone())
                .build(),
        )
}

async fn app_with(store: TestStore, cache: UserCache) -> App {
    let sessions = FlakySessionStore::default();
    let base = format!(
        "http://{}",
        serve(router(&store, &sessions, &SessionKey::generate(), &cache)).await
    );
    App {
        base,
        store,
        sessions,
        cache,
    }
}

async fn app(ttl: Duration) -> App {
    let store = TestStore::with_users(&[(1, "ferris", "hunter42"), (2, "admin", "correct-horse")]);
    app_with(store, UserCache::new(100, ttl)).await
}

const LONG_TTL: Duration = Duration::from_secs(600);

#[tokio::test]
async fn public_route_reads_neither_user_store_nor_session_store() {
    let app = app(LONG_TTL).await;
    let client = browser();
    app.log_in(&client, "ferris", "hunter42").await;
    let loads = app.store.loads();
    let session_loads = app.sessions.loads.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..5 {
        let response = client.get(app.url("/public")).send().await.expect("public");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get(reqwest::header::VARY),
            None,
            "a response that did not depend on the user is not marked private"
        );
    }
    assert_eq!(app.store.loads(), loads, "no user-store call");
    assert_eq!(
        app.sessions.loads.load(std::sync::atomic::Ordering::SeqCst),
        session_loads,
        "no session-store read"
    );
}

#[tokio::test]
async fn warm_cache_serves_guarded_requests_without_store_calls() {
    let app = app(LONG_TTL).await;
    let client = browser();
    app.log_in(&client, "ferris", "hunter42").await;
    let loads = app.store.loads();
    assert_eq!(app.guarded(&client).await, StatusCode::OK);
    assert_eq!(app.store.loads() - loads, 1, "the first request loads");
    for _ in 0..10 {
        assert_eq!(app.guarded(&client).await, StatusCode::OK);
    }
    assert_eq!(
        app.store.loads() - loads,
        1,
        "a warm cache makes no user-store call"
    );
}

#[tokio::test]
async fn password_change_through_the_app_ends_other_sessions_at_once() {
    let app = app(LONG_TTL).await;
    let laptop = browser();
    let phone = browser();
    app.log_in(&laptop, "ferris", "hunter42").await;
    app.log_in(&phone, "ferris", "hunter42").await;
    assert_eq!(app.guarded(&laptop).await, StatusCode::OK);
    assert_eq!(app.guarded(&phone).await, StatusCode::OK);

    let response = laptop
        .post(app.url("/password"))
        .form(&[("password", "new-password")])
        .send()
        .await
        .expect("change password");
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(
        app.guarded(&phone).await,
        StatusCode::UNAUTHORIZED,
        "the other session ends on its very next request, despite the cache's 10-minute TTL"
    );
    assert_eq!(
        app.guarded(&laptop).await,
        StatusCode::OK,
        "the session that changed the password stays logged in"
    );
}

#[tokio::test]
async fn change_behind_the_caches_back_ends_sessions_after_the_ttl() {
    let ttl = Duration::from_millis(200);
    let app = app(ttl).await;
    let client = browser();
    app.log_in(&client, "ferris", "hunter42").await;
    assert_eq!(app.guarded(&client).await, StatusCode::OK);

    // As if another instance, or a SQL console, changed the password.
    app.store.set_password(1, "changed-elsewhere");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.guarded(&client).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            Instant::now() < deadline,
            "the session should end once the cached user expires ({ttl:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.guarded(&client).await,
        StatusCode::UNAUTHORIZED,
        "the ended session stays ended"
    );
}

#[tokio::test]
async fn deleted_user_is_anonymous_once_invalidated() {
    let app = app(LONG_TTL).await;
    let ferris = browser();
    let admin = browser();
    app.log_in(&ferris, "ferris", "hunter42").await;
    app.log_in(&admin, "admin", "correct-horse").await;
    assert_eq!(app.guarded(&ferris).await, StatusCode::OK);
    assert_eq!(app.guarded(&admin).await, StatusCode::OK);

    // Deleted by app code outside a request, which then invalidates through its handle.
    app.store.remove(2);
    app.cache.invalidate(&2);
    assert_eq!(app.guarded(&admin).await, StatusCode::UNAUTHORIZED);

    // Deleted through a request, invalidated through `AuthSession`.
    app.store.add(3, "root", "root-pw");
    let root = browser();
    app.log_in(&root, "root", "root-pw").await;
    let response = root
        .post(app.url("/users/1/delete"))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.guarded(&ferris).await,
        StatusCode::UNAUTHORIZED,
        "the deleted user's other session ends at once"
    );
}

#[tokio::test]
async fn cache_holds_at_most_its_capacity() {
    let users: Vec<(u64, String)> = (1..=12).map(|id| (id, format!("user{id}"))).collect();
    let store = TestStore::default();
    for (id, name) in &users {
        store.add(*id, name, "pw");
    }
    let app = app_with(store, UserCache::new(4, LONG_TTL)).await;
    for (_, name) in &users {
        let client = browser();
        app.log_in(&client, name, "pw").await;
        for _ in 0..3 {
            assert_eq!(app.guarded(&client).await, StatusCode::OK);
        }
    }
    let entries = app.cache.entry_count();
    assert!(
        (1..=4).contains(&entries),
        "the cache holds {entries} users, more than its capacity of 4"
    );
}

#[tokio::test]
async fn stale_cached_user_does_not_end_a_session_with_the_new_password() {
    // Two instances over one user store and one session store, each with its own cache.
    let store = TestStore::with_users(&[(1, "ferris", "hunter42")]);
    let sessions = FlakySessionStore::default();
    let key = SessionKey::generate();
    let cache_a = UserCache::new(100, LONG_TTL);
    let cache_b = UserCache::new(100, LONG_TTL);
    let a = App {
        base: format!(
            "http://{}",
            serve(router(&store, &sessions, &key, &cache_a)).await
        ),
        store: store.clone(),
        sessions: sessions.clone(),
        cache: cache_a,
    };
    let b = App {
        base: format!(
            "http://{}",
            serve(router(&store, &sessions, &key, &cache_b)).await
        ),
        store: store.clone(),
        sessions,
        cache: cache_b,
    };
    let client = browser();
    a.log_in(&client, "ferris", "hunter42").await;
    assert_eq!(b.guarded(&client).await, StatusCode::OK, "B caches ferris");

    // The password changes on A; this session is kept there with the new digest.
    let response = client
        .post(a.url("/password"))
        .form(&[("password", "new-password")])
        .send()
        .await
        .expect("change password");
    assert_eq!(response.status(), StatusCode::OK);

    let loads = store.loads();
    assert_eq!(
        b.guarded(&client).await,
        StatusCode::OK,
        "B's stale copy is reloaded, not used to end a valid session"
    );
    assert_eq!(store.loads() - loads, 1, "B reloaded the user once");
    assert_eq!(b.guarded(&client).await, StatusCode::OK);
    assert_eq!(store.loads() - loads, 1, "and cached the fresh copy");
}
