//! Login abuse defence that never locks out the real user, over HTTP: concurrent right
//! passwords are never refused, concurrent wrong ones never get more checks than the limit,
//! a browser that logged in before is not locked out by a stranger's guesses, untrusted
//! attempts slow down before the lock, memory stays bounded under a flood of new usernames,
//! client addresses come from a trusted proxy only, re-authentication is throttled, and log
//! lines cannot be forged through a username.

use std::time::Duration;

use axum::{Router, routing::post};
use axum_login::{
    AuthLayer, SessionKey, Throttle, UserStore, clock::ManualClock, security::MemoryThrottleStore,
    session::MemoryStore, session_layer,
};
use axum_login_tests::{
    apps::{SqlApp, sql_app_on_plain_http},
    directory::{Credentials, DirectoryError, TestStore, TestUser},
    http::{browser, serve, serve_with_addr},
    login::{SeeOther, login as login_route},
    logs::{capture_logs, logs},
    users::PASSWORD,
};
use reqwest::{StatusCode, header::SET_COOKIE};

async fn login(
    client: &reqwest::Client,
    app: &SqlApp,
    username: &str,
    password: &str,
) -> StatusCode {
    client
        .post(format!("{}/login", app.base))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answered")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_simultaneous_right_passwords_all_log_in() {
    // The default `max_wait` (10 s) bounds how long an attempt waits for the checks ahead of
    // it; fifty argon2 checks on the password thread, at nice 19 while the rest of this suite
    // (the 200 000-username flood) keeps both cores busy, can take longer than that. What is
    // tested here is that being one of many is never a refusal, so the bound is set out of
    // the way.
    let app = sql_app_on_plain_http(|builder| {
        builder.throttle(Throttle::default().max_wait(Duration::from_secs(300)))
    })
    .await;
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let url = format!("{}/login", app.base);
            tokio::spawn(async move {
                browser()
                    .post(url)
                    .form(&[("username", "ferris"), ("password", PASSWORD)])
                    .send()
                    .await
                    .expect("answered")
                    .status()
            })
        })
        .collect();
    for attempt in attempts {
        assert_eq!(
            attempt.await.expect("a login task"),
            StatusCode::SEE_OTHER,
            "a right password was refused for being one of many at once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_simultaneous_wrong_passwords_get_no_more_checks_than_the_limit() {
    let app = sql_app_on_plain_http(|builder| {
        builder.throttle(Throttle::new(MemoryThrottleStore::default()).max_failures_per_account(5))
    })
    .await;
    let before = app.hashes();
    let attempts: Vec<_> = (0..50)
        .map(|n| {
            let url = format!("{}/login", app.base);
            tokio::spawn(async move {
                browser()
                    .post(url)
                    .form(&[
                        ("username", "ferris".to_owned()),
                        ("password", format!("guess-{n}")),
                    ])
                    .send()
                    .await
                    .expect("answered")
                    .status()
            })
        })
        .collect();
    for attempt in attempts {
        assert_eq!(
            attempt.await.expect("a login task"),
            StatusCode::UNAUTHORIZED
        );
    }
    let checks = app.hashes() - before;
    assert!(
        checks <= 5,
        "{checks} passwords checked against a limit of 5"
    );
    assert!(checks >= 1, "no password was checked at all");
}

#[tokio::test]
async fn a_stranger_who_locks_the_account_does_not_lock_out_its_owner() {
    let app = sql_app_on_plain_http(|builder| builder).await;
    let owner = browser();
    assert_eq!(
        login(&owner, &app, "ferris", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        owner
            .post(format!("{}/logout", app.base))
            .send()
            .await
            .expect("logout")
            .status(),
        StatusCode::SEE_OTHER
    );

    // A hundred wrong guesses, each from a browser without the owner's device cookie.
    for n in 0..100 {
        assert_eq!(
            login(&browser(), &app, "ferris", &format!("guess-{n}")).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let fresh = browser();
    assert_eq!(
        login(&fresh, &app, "ferris", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "a browser the account never logged in from got past the lock"
    );
    assert_eq!(
        login(&owner, &app, "ferris", PASSWORD).await,
        StatusCode::SEE_OTHER,
        "the owner's browser was locked out by a stranger"
    );
}

#[tokio::test]
async fn a_password_change_revokes_the_accounts_device_cookies() {
    let app = sql_app_on_plain_http(|builder| builder).await;
    let old_laptop = browser();
    assert_eq!(
        login(&old_laptop, &app, "ferris", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    // The password changes elsewhere, through the documented path.
    let changer = browser();
    assert_eq!(
        login(&changer, &app, "ferris", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let response = changer
        .post(format!("{}/password", app.base))
        .form(&[("new_password", "a-new-password")])
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|cookie| cookie
                .to_str()
                .is_ok_and(|c| c.starts_with("axum_login_device="))),
        "the browser that changed the password keeps a (new) device cookie"
    );
    // A stranger locks the account; the old laptop is now as untrusted as any browser.
    for n in 0..20 {
        login(&browser(), &app, "ferris", &format!("guess-{n}")).await;
    }
    assert_eq!(
        login(&old_laptop, &app, "ferris", "a-new-password").await,
        StatusCode::UNAUTHORIZED,
        "a device cookie from before the password change still bypassed the lock"
    );
    assert_eq!(
        login(&changer, &app, "ferris", "a-new-password").await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn untrusted_attempts_slow_down_before_the_lock() {
    let clock = ManualClock::new();
    let app = sql_app_on_plain_http({
        let clock = clock.clone();
        |builder| {
            builder.clock(clock).throttle(
                Throttle::new(MemoryThrottleStore::default())
                    .max_failures_per_account(8)
                    .backoff(2, Duration::from_secs(10)),
            )
        }
    })
    .await;
    let client = browser();
    for _ in 0..2 {
        assert_eq!(
            login(&client, &app, "ferris", "nope").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Past the free failures each attempt waits 10 s, then 20 s, then 40 s after the last one;
    // an attempt too early fails like a wrong password, without a check.
    for wait in [10, 20, 40] {
        let before = app.hashes();
        assert_eq!(
            login(&client, &app, "ferris", PASSWORD).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.hashes(),
            before,
            "an attempt during the wait was checked"
        );
        clock.advance(Duration::from_secs(wait));
        assert_eq!(
            login(&client, &app, "ferris", "nope").await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.hashes(), before + 1);
    }
    clock.advance(Duration::from_secs(80));
    assert_eq!(
        login(&client, &app, "ferris", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn every_spelling_of_an_account_shares_its_counter() {
    let app = sql_app_on_plain_http(|builder| {
        builder.throttle(
            Throttle::new(MemoryThrottleStore::default())
                .max_failures_per_account(5)
                .max_failures_per_address(1000),
        )
    })
    .await;
    for spelling in ["ferris", "FERRIS", "Ferris ", "ＦＥＲＲＩＳ", "ferris  "] {
        assert_eq!(
            login(&browser(), &app, spelling, "nope").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&browser(), &app, "ferris", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "failures under other spellings were counted apart"
    );
}

/// An app on the hand-written store (no hashing), whose account key is the username as typed.
fn directory_app(throttle: Throttle) -> Router {
    let store = TestStore::with_users(&[(1, "ferris", "pw-ferris")]);
    let layer = AuthLayer::builder(
        store,
        session_layer(MemoryStore::default()).with_secure(false),
    )
    .session_key(SessionKey::generate())
    .throttle(throttle)
    .build();
    Router::new()
        .route("/login", post(login_route::<TestStore, SeeOther>))
        .layer(layer)
}

async fn post_login(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> StatusCode {
    client
        .post(format!("{base}/login"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answered")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_new_usernames_cannot_unlock_an_account() {
    const CAPACITY: usize = 4_000;
    // A store of 4,000 counters, overfilled twice: the flood must push out its own counters,
    // never the locked account's. Eviction does not depend on the capacity; a small one keeps
    // the flood to 8,000 requests (the default's 100,000 took minutes under load).
    let throttle = Throttle::new(MemoryThrottleStore::new(CAPACITY))
        .max_failures_per_account(3)
        .max_failures_per_address(u32::MAX);
    let base = format!("http://{}", serve_with_addr(directory_app(throttle)).await);
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(
            post_login(&client, &base, "ferris", "nope").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let floods: Vec<_> = (0..4)
        .map(|worker| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                for n in (worker..2 * CAPACITY).step_by(4) {
                    post_login(&client, &base, &format!("flood-{n}"), "x").await;
                }
            })
        })
        .collect();
    for flood in floods {
        flood.await.expect("a flood worker");
    }
    assert_eq!(
        post_login(&client, &base, "ferris", "pw-ferris").await,
        StatusCode::UNAUTHORIZED,
        "a flood of new usernames unlocked the account"
    );
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let throttled = |proxies: Vec<std::net::IpAddr>| {
        Throttle::new(MemoryThrottleStore::default())
            .max_failures_per_account(u32::MAX)
            .max_failures_per_address(3)
            .trusted_proxies(proxies)
    };
    let attempt = |base: String, client: reqwest::Client, from: &'static str, user: String| async move {
        client
            .post(format!("{base}/login"))
            .header("x-forwarded-for", from)
            .form(&[("username", user.as_str()), ("password", "nope")])
            .send()
            .await
            .expect("answered")
            .status()
    };
    // Behind the proxy (the test client, on loopback): each forwarded address has its own
    // counter, and one locked address does not lock another.
    let base = format!(
        "http://{}",
        serve_with_addr(directory_app(throttled(vec![
            "127.0.0.1".parse().expect("ip")
        ])))
        .await
    );
    let client = reqwest::Client::new();
    for n in 0..3 {
        attempt(
            base.clone(),
            client.clone(),
            "198.51.100.1",
            format!("u{n}"),
        )
        .await;
    }
    let pass = |base: String, from| {
        let client = client.clone();
        async move {
            client
                .post(format!("{base}/login"))
                .header("x-forwarded-for", from)
                .form(&[("username", "ferris"), ("password", "pw-ferris")])
                .send()
                .await
                .expect("answered")
                .status()
        }
    };
    assert_eq!(
        pass(base.clone(), "198.51.100.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        pass(base.clone(), "198.51.100.2").await,
        StatusCode::SEE_OTHER
    );

    // No trusted proxy: the header is anyone's to write, and changing it changes nothing.
    let base = format!(
        "http://{}",
        serve_with_addr(directory_app(throttled(Vec::new()))).await
    );
    for n in 0..3 {
        attempt(
            base.clone(),
            client.clone(),
            "198.51.100.1",
            format!("u{n}"),
        )
        .await;
    }
    assert_eq!(pass(base, "198.51.100.9").await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn log_lines_escape_usernames_and_name_a_lock_once_per_window() {
    capture_logs();
    let throttle = Throttle::new(MemoryThrottleStore::default())
        .max_failures_per_account(2)
        .max_failures_per_address(u32::MAX);
    // Served without `ConnectInfo`: the layer says once that addresses are not counted.
    let base = format!("http://{}", serve(directory_app(throttle)).await);
    let client = reqwest::Client::new();
    let forged = "mallory\nERROR admin logged in";
    for _ in 0..10 {
        post_login(&client, &base, forged, "nope").await;
    }
    let logs = logs();
    assert!(
        !logs.contains("mallory\nERROR"),
        "a username forged a log line:\n{logs}"
    );
    let throttled = logs
        .lines()
        .filter(|line| line.contains("mallory\\nERROR") && line.contains("throttled"))
        .count();
    assert_eq!(
        throttled, 1,
        "the lock was logged {throttled} times:\n{logs}"
    );
    let unaddressed = logs
        .lines()
        .filter(|line| line.contains("not counted per client address"))
        .count();
    assert_eq!(unaddressed, 1, "{logs}");
}

/// The directory, with an account lookup (`account_key`) that answers no account, or fails.
#[derive(Clone)]
struct NoAccountKey {
    directory: TestStore,
    lookup_down: bool,
}

impl UserStore for NoAccountKey {
    type User = TestUser;
    type Credentials = Credentials;
    type Error = DirectoryError;

    async fn authenticate(
        &self,
        credentials: Credentials,
    ) -> Result<Option<TestUser>, DirectoryError> {
        self.directory.authenticate(credentials).await
    }

    async fn load_user(&self, id: &u64) -> Result<Option<TestUser>, DirectoryError> {
        self.directory.load_user(id).await
    }

    async fn account_key(&self, _: &Credentials) -> Result<Option<String>, DirectoryError> {
        if self.lookup_down {
            return Err(DirectoryError("the account lookup is down".into()));
        }
        Ok(None)
    }
}

async fn no_account_key_app(lookup_down: bool, throttle: Throttle) -> String {
    let store = NoAccountKey {
        directory: TestStore::with_users(&[(1, "ferris", "pw-ferris")]),
        lookup_down,
    };
    let layer = AuthLayer::builder(
        store,
        session_layer(MemoryStore::default()).with_secure(false),
    )
    .session_key(SessionKey::generate())
    .throttle(throttle)
    .build();
    let app = Router::new()
        .route("/login", post(login_route::<NoAccountKey, SeeOther>))
        .layer(layer);
    format!("http://{}", serve_with_addr(app).await)
}

#[tokio::test]
async fn a_disabled_throttle_never_asks_the_store_for_the_account() {
    let base = no_account_key_app(true, Throttle::disabled()).await;
    assert_eq!(
        post_login(&reqwest::Client::new(), &base, "ferris", "pw-ferris").await,
        StatusCode::SEE_OTHER,
        "a login without throttling depended on the account lookup"
    );
}

#[tokio::test]
async fn a_store_without_account_keys_is_named_once_in_the_log() {
    capture_logs();
    let client = reqwest::Client::new();
    // An app whose store names the account: nothing to say.
    let base = format!(
        "http://{}",
        serve_with_addr(directory_app(Throttle::default())).await
    );
    post_login(&client, &base, "ferris", "nope").await;
    // One whose store does not: said once, however many attempts.
    let base = no_account_key_app(false, Throttle::default()).await;
    for _ in 0..3 {
        post_login(&client, &base, "ferris", "nope").await;
    }
    let logs = logs();
    let unkeyed = logs
        .lines()
        .filter(|line| line.contains("not counted per account"))
        .count();
    assert_eq!(unkeyed, 1, "{logs}");
}
