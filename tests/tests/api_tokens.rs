//! API tokens over HTTP: created on a session, used as `Authorization: Bearer` by the same
//! guards, refused with RFC 6750's answers (never a redirect), scoped, revoked one by one, all
//! at once and by a password change, expired by the layer's clock, and never a fresh login.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::Path,
    http::StatusCode,
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, CurrentUser, SessionKey, Throttle,
    clock::{Clock, ManualClock},
    events::{AuthEvent, EventRecord, TokenRefusal},
    require_login,
    session::MemoryStore,
    session_layer,
    tokens::{ApiTokens, MemoryTokenStore, NewToken, TokenStore},
};
use axum_login_tests::{
    directory::{TestStore, TestUser},
    http::serve_with_addr,
    lifecycle_app::{Browser, Shared, routes},
};
use secrecy::ExposeSecret;
use serde::Deserialize;

#[derive(Deserialize)]
struct TokenForm {
    name: String,
    scopes: String,
    days: Option<u64>,
}

async fn create(
    auth: AuthSession<TestStore>,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<(StatusCode, String), AuthError> {
    let new = NewToken {
        name: form.name,
        scopes: form.scopes.split_whitespace().map(str::to_owned).collect(),
        lifetime: form.days.map(|days| Duration::from_secs(days * 24 * 3600)),
    };
    Ok(match auth.create_token(new).await? {
        Some(created) => (
            StatusCode::CREATED,
            format!("{} {}", created.token.id, created.secret.expose_secret()),
        ),
        None => (StatusCode::UNAUTHORIZED, String::new()),
    })
}

async fn list(auth: AuthSession<TestStore>) -> Result<String, AuthError> {
    let tokens = auth.tokens().await?;
    Ok(tokens
        .iter()
        .map(|token| format!("{}:{}", token.name, token.scopes.join(",")))
        .collect::<Vec<_>>()
        .join(" "))
}

async fn revoke(auth: AuthSession<TestStore>, Path(id): Path<String>) -> Result<String, AuthError> {
    Ok(auth.revoke_token(&id).await?.to_string())
}

async fn revoke_all(
    auth: AuthSession<TestStore>,
    CurrentUser(user): CurrentUser<TestUser>,
) -> Result<String, AuthError> {
    Ok(auth.revoke_tokens_of(&user.id).await?.to_string())
}

#[require_login]
async fn me(
    auth: AuthSession<TestStore>,
    CurrentUser(user): CurrentUser<TestUser>,
) -> Result<Json<serde_json::Value>, AuthError> {
    let via = if auth.token_scopes().await?.is_some() {
        "token"
    } else {
        "session"
    };
    Ok(Json(serde_json::json!({"username": user.name, "via": via})))
}

#[require_login(scope = "posts:write")]
async fn write_posts() -> &'static str {
    "written"
}

#[require_login(any(scope = "admin:all", scope = "posts:read"))]
async fn read_posts() -> &'static str {
    "read"
}

#[require_login(token_only)]
async fn token_only() -> &'static str {
    "token"
}

#[require_login(session_only)]
async fn session_only() -> &'static str {
    "session"
}

#[require_login(fresh = "5m")]
async fn fresh() -> &'static str {
    "fresh"
}

#[require_login(mfa)]
async fn mfa() -> &'static str {
    "mfa"
}

struct App {
    base: String,
    store: TestStore,
    tokens: MemoryTokenStore,
    clock: ManualClock,
    events: Arc<Mutex<Vec<EventRecord>>>,
}

impl App {
    fn refusals(&self) -> Vec<TokenRefusal> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|record| match &record.event {
                AuthEvent::TokenRefused { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }
}

async fn app(tokens: ApiTokens, token_store: MemoryTokenStore) -> App {
    let store = TestStore::with_users(&[
        (1, "alice", "pw-alice"),
        (2, "bob", "pw-bob"),
        (3, "carol", "pw-carol"),
    ]);
    let clock = ManualClock::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let layer = AuthLayer::builder(store.clone(), session_layer(MemoryStore::default()))
        .session_key(SessionKey::from_bytes(&[3; 64]).expect("a key"))
        .clock(clock.clone())
        .login_url("/login")
        .api_tokens(tokens)
        .events(move |record: &EventRecord| sink.lock().expect("lock").push(record.clone()))
        .build();
    let router: Router = routes(Shared::default())
        .route("/tokens", post(create).get(list))
        .route("/tokens/{id}/revoke", post(revoke))
        .route("/tokens/revoke-all", post(revoke_all))
        .route("/api/me", get(me))
        .route("/api/posts", post(write_posts).get(read_posts))
        .route("/api/token-only", get(token_only))
        .route("/api/session-only", get(session_only))
        .route("/api/fresh", get(fresh))
        .route("/api/mfa", get(mfa));
    let addr = serve_with_addr(router.layer(layer)).await;
    App {
        base: format!("http://{addr}"),
        store,
        tokens: token_store,
        clock,
        events,
    }
}

async fn default_app() -> App {
    let store = MemoryTokenStore::default();
    app(ApiTokens::new(store.clone()), store).await
}

/// Logs `user` in on a new browser and creates a token with `scopes`: its id and secret.
async fn token_for(app: &App, user: &str, scopes: &str) -> (Browser, String, String) {
    let browser = Browser::new(&app.base);
    let password = format!("pw-{user}");
    assert_eq!(browser.login(user, &password, false).await.status(), 303);
    let created = browser
        .post_form("/tokens", &[("name", "ci"), ("scopes", scopes)])
        .await;
    assert_eq!(created.status(), 201);
    let body = created.text().await.expect("body");
    let (id, secret) = body.split_once(' ').expect("id and secret");
    (browser, id.to_owned(), secret.to_owned())
}

/// A request as an API client: no cookies, `Accept: application/json`.
async fn api(app: &App, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = format!("{}{path}", app.base);
    let request = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    }
    .header("accept", "application/json");
    let request = match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    };
    request.send().await.expect("answered")
}

fn challenge(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().expect("ASCII").to_owned())
}

#[tokio::test]
async fn a_token_is_its_user_on_every_guard_and_the_session_is_untouched() {
    let app = default_app().await;
    let (browser, _, secret) = token_for(&app, "alice", "posts:write profile:read").await;
    assert!(secret.starts_with("alt_") && secret.len() == 50, "{secret}");
    assert_eq!(
        browser.get("/tokens").await.text().await.expect("body"),
        "ci:posts:write,profile:read"
    );

    let me = api(&app, "GET", "/api/me", Some(&secret)).await;
    assert_eq!(me.status(), 200);
    assert!(
        me.headers().get("set-cookie").is_none(),
        "a token request sets no cookie"
    );
    let body: serde_json::Value = me.json().await.expect("JSON");
    assert_eq!(
        body,
        serde_json::json!({"username": "alice", "via": "token"})
    );
    let by_session: serde_json::Value = browser.get("/api/me").await.json().await.expect("JSON");
    assert_eq!(by_session["via"], "session");

    // Scopes: the token's, or any for a session.
    assert_eq!(
        api(&app, "POST", "/api/posts", Some(&secret))
            .await
            .status(),
        200
    );
    assert_eq!(browser.post("/api/posts", "").await.status(), 200);
    assert_eq!(
        api(&app, "GET", "/api/token-only", Some(&secret))
            .await
            .status(),
        200
    );
    let refused = api(&app, "GET", "/api/session-only", Some(&secret)).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(browser.get("/api/session-only").await.status(), 200);
    let refused = browser.get("/api/token-only").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(challenge(&refused).as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn refusals_follow_rfc_6750_and_never_redirect() {
    let app = default_app().await;
    let (_, _, secret) = token_for(&app, "alice", "profile:read").await;

    // No credentials: 401 with the bare challenge. A browser still goes to the login page.
    let anonymous = api(&app, "GET", "/api/me", None).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(challenge(&anonymous).as_deref(), Some("Bearer"));
    let browser = Browser::new(&app.base);
    assert_eq!(browser.page("/api/me").await.status(), 303);

    // A token without the scope: 403 naming it.
    let unscoped = api(&app, "POST", "/api/posts", Some(&secret)).await;
    assert_eq!(unscoped.status(), 403);
    assert_eq!(
        challenge(&unscoped).as_deref(),
        Some(r#"Bearer error="insufficient_scope", scope="posts:write""#)
    );
    // Inside `any`, a scope is a condition like a role.
    assert_eq!(
        api(&app, "GET", "/api/posts", Some(&secret)).await.status(),
        403
    );

    // Bad tokens: malformed, a typo (checksum), unknown; each 401 invalid_token, even for a
    // client that says it prefers HTML.
    let mut typo = secret.clone().into_bytes();
    typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).expect("ASCII");
    let unknown = {
        let (_, _, other) = token_for(&app, "bob", "profile:read").await;
        app.tokens.revoke_user("2").await.expect("revoke");
        other
    };
    for (bad, reason) in [
        ("not-a-token", TokenRefusal::Malformed),
        (typo.as_str(), TokenRefusal::Malformed),
        (unknown.as_str(), TokenRefusal::Unknown),
    ] {
        let refused = api(&app, "GET", "/api/me", Some(bad)).await;
        assert_eq!(refused.status(), 401, "{bad}");
        assert_eq!(
            challenge(&refused).as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
        assert_eq!(app.refusals().last(), Some(&reason));
        let as_browser = browser
            .send(
                browser
                    .client
                    .get(format!("{}/api/me", app.base))
                    .header("accept", "text/html")
                    .header("authorization", format!("Bearer {bad}")),
            )
            .await;
        assert_eq!(
            as_browser.status(),
            401,
            "a client that sent a token is not redirected"
        );
    }

    // A token is never a fresh login, nor one that passed a second factor.
    assert_eq!(
        api(&app, "GET", "/api/fresh", Some(&secret)).await.status(),
        401
    );
    assert_eq!(
        api(&app, "GET", "/api/mfa", Some(&secret)).await.status(),
        401
    );
}

#[tokio::test]
async fn tokens_end_by_revocation_expiry_password_change_and_their_user() {
    let store = MemoryTokenStore::default();
    let app = app(
        ApiTokens::new(store.clone()).max_lifetime(Some(Duration::from_secs(30 * 24 * 3600))),
        store,
    )
    .await;
    let (browser, id, one) = token_for(&app, "alice", "profile:read").await;
    // Over the longest lifetime: refused with a 422 that says so.
    let too_long = browser
        .post_form(
            "/tokens",
            &[("name", "ci"), ("scopes", "x"), ("days", "31")],
        )
        .await;
    assert_eq!(too_long.status(), 422);
    let bad_scope = browser
        .post_form("/tokens", &[("name", "ci"), ("scopes", "a\"b")])
        .await;
    assert_eq!(bad_scope.status(), 422);

    // Revoked by id: only its owner can.
    let (bob, _, _) = token_for(&app, "bob", "profile:read").await;
    assert_eq!(
        bob.post(&format!("/tokens/{id}/revoke"), "")
            .await
            .text()
            .await
            .expect("body"),
        "false"
    );
    assert_eq!(api(&app, "GET", "/api/me", Some(&one)).await.status(), 200);
    assert_eq!(
        browser
            .post(&format!("/tokens/{id}/revoke"), "")
            .await
            .text()
            .await
            .expect("body"),
        "true"
    );
    assert_eq!(api(&app, "GET", "/api/me", Some(&one)).await.status(), 401);

    // Expired by the layer's clock: a token of 1 day.
    let created = browser
        .post_form(
            "/tokens",
            &[("name", "short"), ("scopes", "profile:read"), ("days", "1")],
        )
        .await;
    let body = created.text().await.expect("body");
    let (_, short) = body.split_once(' ').expect("id and secret");
    assert_eq!(api(&app, "GET", "/api/me", Some(short)).await.status(), 200);
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(api(&app, "GET", "/api/me", Some(short)).await.status(), 401);
    assert_eq!(app.refusals().last(), Some(&TokenRefusal::Expired));

    // A password change revokes them all.
    let (browser, _, two) = token_for(&app, "alice", "profile:read").await;
    assert_eq!(api(&app, "GET", "/api/me", Some(&two)).await.status(), 200);
    assert_eq!(
        browser.post("/password", "new-password").await.status(),
        204
    );
    assert_eq!(api(&app, "GET", "/api/me", Some(&two)).await.status(), 401);

    // So does revoking all, and a token of a user who is gone is refused.
    let (browser, _, three) = token_for(&app, "bob", "profile:read").await;
    assert_eq!(
        browser
            .post("/tokens/revoke-all", "")
            .await
            .text()
            .await
            .expect("body"),
        "2"
    );
    assert_eq!(
        api(&app, "GET", "/api/me", Some(&three)).await.status(),
        401
    );
    let (_, _, four) = token_for(&app, "bob", "profile:read").await;
    app.store.remove(2);
    assert_eq!(api(&app, "GET", "/api/me", Some(&four)).await.status(), 401);
    assert_eq!(app.refusals().last(), Some(&TokenRefusal::InactiveUser));

    // A token cannot mint tokens.
    let (_, _, five) = token_for(&app, "carol", "profile:read").await;
    let minted = reqwest::Client::new()
        .post(format!("{}/tokens", app.base))
        .header("authorization", format!("Bearer {five}"))
        .form(&[("name", "x"), ("scopes", "profile:read")])
        .send()
        .await
        .expect("answered");
    assert_eq!(minted.status(), 401);
}

#[tokio::test]
async fn last_use_is_written_at_most_once_a_minute() {
    let app = default_app().await;
    let (_, _, secret) = token_for(&app, "alice", "profile:read").await;
    let last_used = || async { app.tokens.list("1").await.expect("list")[0].last_used_at };
    assert_eq!(last_used().await, None);
    assert_eq!(
        api(&app, "GET", "/api/me", Some(&secret)).await.status(),
        200
    );
    let first = last_used().await.expect("recorded");
    app.clock.advance(Duration::from_secs(59));
    api(&app, "GET", "/api/me", Some(&secret)).await;
    assert_eq!(
        last_used().await,
        Some(first),
        "not written again within the minute"
    );
    app.clock.advance(Duration::from_secs(1));
    api(&app, "GET", "/api/me", Some(&secret)).await;
    assert_eq!(last_used().await, Some(first + Duration::from_secs(60)));
}

#[tokio::test]
async fn a_token_follows_a_key_rotation() {
    let store = MemoryTokenStore::default();
    let old = default_app_with_key(
        store.clone(),
        SessionKey::from_bytes(&[3; 64]).expect("key"),
    )
    .await;
    let (_, _, secret) = token_for(&old, "alice", "profile:read").await;
    let deadline = old.clock.now() + Duration::from_secs(3600);
    let ring = SessionKey::from_bytes(&[4; 64])
        .expect("key")
        .with_previous(SessionKey::from_bytes(&[3; 64]).expect("key"), deadline);
    let new = default_app_with_key(store.clone(), ring).await;
    new.clock.advance(
        old.clock
            .now()
            .duration_since(new.clock.now())
            .unwrap_or_default(),
    );
    let before = store.list("1").await.expect("list")[0].hash.clone();
    assert_eq!(
        api(&new, "GET", "/api/me", Some(&secret)).await.status(),
        200
    );
    let after = store.list("1").await.expect("list")[0].hash.clone();
    assert_ne!(before, after, "hashed again under the new key");
    new.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        api(&new, "GET", "/api/me", Some(&secret)).await.status(),
        200
    );
}

async fn default_app_with_key(store: MemoryTokenStore, key: SessionKey) -> App {
    let users = TestStore::with_users(&[(1, "alice", "pw-alice"), (2, "bob", "pw-bob")]);
    let clock = ManualClock::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let layer = AuthLayer::builder(users.clone(), session_layer(MemoryStore::default()))
        .session_key(key)
        .clock(clock.clone())
        .api_tokens(ApiTokens::new(store.clone()))
        .build();
    let router: Router = routes(Shared::default())
        .route("/tokens", post(create).get(list))
        .route("/api/me", get(me));
    let addr = serve_with_addr(router.layer(layer)).await;
    App {
        base: format!("http://{addr}"),
        store: users,
        tokens: store,
        clock,
        events,
    }
}

#[tokio::test]
async fn a_token_request_needs_no_csrf_token_and_never_borrows_the_session() {
    let tokens = MemoryTokenStore::default();
    let users = TestStore::with_users(&[(1, "alice", "pw-alice")]);
    let layer = AuthLayer::builder(users, session_layer(MemoryStore::default()))
        .api_tokens(ApiTokens::new(tokens.clone()))
        .build();
    let router: Router = routes(Shared::default())
        .route("/tokens", post(create))
        .route("/api/posts", post(write_posts))
        .layer(
            axum_login::csrf::CsrfLayer::new()
                .exempt("/login")
                .exempt("/tokens"),
        );
    let addr = serve_with_addr(router.layer(layer)).await;
    let app = App {
        base: format!("http://{addr}"),
        store: TestStore::default(),
        tokens,
        clock: ManualClock::new(),
        events: Arc::default(),
    };
    let (browser, _, secret) = token_for(&app, "alice", "posts:write").await;
    // The session's POST without a CSRF token is refused; the token's goes through.
    assert_eq!(browser.post("/api/posts", "").await.status(), 403);
    assert_eq!(
        api(&app, "POST", "/api/posts", Some(&secret))
            .await
            .status(),
        200
    );
    // A bad token with the browser's cookie is a refused token, not the session's login.
    let forged = browser
        .send(
            browser
                .client
                .post(format!("{}/api/posts", app.base))
                .header("accept", "application/json")
                .header("authorization", "Bearer alt_forged"),
        )
        .await;
    assert_eq!(forged.status(), 401);
    assert_eq!(
        challenge(&forged).as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
}

#[tokio::test]
async fn sessions_can_be_made_to_carry_no_scope() {
    let store = MemoryTokenStore::default();
    let app = app(
        ApiTokens::new(store.clone()).sessions_have_every_scope(false),
        store,
    )
    .await;
    let (browser, _, secret) = token_for(&app, "alice", "posts:write").await;
    assert_eq!(browser.post("/api/posts", "").await.status(), 403);
    assert_eq!(
        api(&app, "POST", "/api/posts", Some(&secret))
            .await
            .status(),
        200
    );
    // Unscoped routes still take the session.
    assert_eq!(browser.get("/api/me").await.status(), 200);
}

#[tokio::test]
async fn guessed_tokens_lock_out_their_address_and_no_account() {
    let tokens = MemoryTokenStore::default();
    let users = TestStore::with_users(&[(1, "alice", "pw-alice")]);
    let clock = ManualClock::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let layer = AuthLayer::builder(users.clone(), session_layer(MemoryStore::default()))
        .clock(clock.clone())
        .throttle(Throttle::default().max_token_failures_per_address(3))
        .api_tokens(ApiTokens::new(tokens.clone()))
        .events(move |record: &EventRecord| sink.lock().expect("lock").push(record.clone()))
        .build();
    let router: Router = routes(Shared::default())
        .route("/tokens", post(create))
        .route("/tokens/{id}/revoke", post(revoke))
        .route("/api/me", get(me));
    let addr = serve_with_addr(router.layer(layer)).await;
    let app = App {
        base: format!("http://{addr}"),
        store: users,
        tokens,
        clock,
        events,
    };
    let (browser, _, valid) = token_for(&app, "alice", "profile:read").await;
    let (_, revoked_id, revoked) = token_for(&app, "alice", "profile:read").await;
    assert_eq!(
        browser
            .post(&format!("/tokens/{revoked_id}/revoke"), "")
            .await
            .status(),
        200
    );
    // Malformed tokens are refused without a lookup, and not counted.
    for _ in 0..10 {
        assert_eq!(
            api(&app, "GET", "/api/me", Some("alt_x")).await.status(),
            401
        );
    }
    assert_eq!(
        api(&app, "GET", "/api/me", Some(&valid)).await.status(),
        200
    );
    // Three unknown tokens are the limit; the next is refused, and so is every token from
    // the address, a valid one too, without a lookup.
    for _ in 0..4 {
        assert_eq!(
            api(&app, "GET", "/api/me", Some(&revoked)).await.status(),
            401
        );
    }
    let refused = api(&app, "GET", "/api/me", Some(&valid)).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        challenge(&refused).as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
    assert_eq!(app.refusals().last(), Some(&TokenRefusal::Throttled));
    // No account was touched: the password still logs in, and the session still works.
    assert_eq!(
        Browser::new(&app.base)
            .login("alice", "pw-alice", false)
            .await
            .status(),
        303
    );
    assert_eq!(browser.get("/api/me").await.status(), 200);
    // The window ends, and with it the lock.
    app.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(
        api(&app, "GET", "/api/me", Some(&valid)).await.status(),
        200
    );
}

#[tokio::test]
async fn a_token_user_comes_from_the_user_cache_like_a_session_user() {
    let tokens = MemoryTokenStore::default();
    let users = TestStore::with_users(&[(1, "alice", "pw-alice")]);
    let layer = AuthLayer::builder(users.clone(), session_layer(MemoryStore::default()))
        .user_cache(axum_login::UserCache::new(100, Duration::from_secs(60)))
        .api_tokens(ApiTokens::new(tokens.clone()))
        .build();
    let router: Router = routes(Shared::default())
        .route("/tokens", post(create))
        .route("/api/me", get(me));
    let addr = serve_with_addr(router.layer(layer)).await;
    let app = App {
        base: format!("http://{addr}"),
        store: users.clone(),
        tokens,
        clock: ManualClock::new(),
        events: Arc::default(),
    };
    let (_, _, secret) = token_for(&app, "alice", "profile:read").await;
    assert_eq!(
        api(&app, "GET", "/api/me", Some(&secret)).await.status(),
        200
    );
    let loads = users.loads();
    for _ in 0..5 {
        assert_eq!(
            api(&app, "GET", "/api/me", Some(&secret)).await.status(),
            200
        );
    }
    assert_eq!(users.loads(), loads, "served from the cache");
}
