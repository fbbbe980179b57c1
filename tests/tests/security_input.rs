//! The security suite on `SqlxStore` with real argon2id hashing (SQLite in memory): login
//! failures that cannot be told apart, the same hash work for unknown users, role changes, and
//! hostile input. Debug-mode argon2 takes about a second per hash, so each test hashes little.

use std::time::{Duration, Instant};

use axum_login::{Throttle, clock::ManualClock, security::MemoryThrottleStore};
use axum_login_tests::{
    apps::{LOGIN_FAILED, SqlApp, sql_app, sql_app_with},
    http::Visitor,
    http::session_set_cookie,
    users::PASSWORD,
};
use reqwest::{
    StatusCode,
    header::{CONTENT_TYPE, COOKIE, DATE},
};

/// Everything a client can see of a response except `Date`, with the session cookie's value
/// blanked (its shape, name and attributes, stays).
async fn observable(response: reqwest::Response) -> String {
    let mut seen = format!("{}\n", response.status());
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != DATE)
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let value = match name.as_str() {
                "set-cookie" => match axum_login_tests::http::SetCookie::parse(&value) {
                    Some((name, cookie)) => cookie.raw.replacen(
                        &format!("{name}={}", cookie.value),
                        &format!("{name}=<value>"),
                        1,
                    ),
                    None => value,
                },
                _ => value,
            };
            (name.as_str().to_owned(), value)
        })
        .collect();
    headers.sort();
    for (name, value) in headers {
        seen.push_str(&format!("{name}: {value}\n"));
    }
    seen.push('\n');
    seen.push_str(&response.text().await.expect("body"));
    seen
}

async fn failed_login(app: &SqlApp, username: &str, password: &str) -> String {
    let response = Visitor::new(&app.base).login(username, password).await;
    observable(response).await
}

// ---- 4. enumeration ------------------------------------------------------------------------

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same_and_cost_the_same() {
    let app = sql_app().await;

    let before = app.hashes();
    let unknown = failed_login(&app, "nobody", "whatever-password").await;
    let unknown_hashes = app.hashes() - before;

    let before = app.hashes();
    let wrong = failed_login(&app, "ferris", "not-the-password").await;
    let wrong_hashes = app.hashes() - before;

    assert!(unknown.starts_with("401"), "{unknown}");
    assert!(unknown.ends_with(LOGIN_FAILED), "{unknown}");
    assert_eq!(
        unknown, wrong,
        "an unknown user is told apart from a wrong password"
    );
    assert_eq!(wrong_hashes, 1, "a wrong password costs one verification");
    assert_eq!(
        unknown_hashes, wrong_hashes,
        "an unknown user costs other hash work than a wrong password"
    );
}

#[tokio::test]
async fn a_failed_login_with_a_session_looks_like_one_without() {
    // A visitor who already has an (anonymous) session cookie: the failure must not reveal
    // anything either, and must not log anyone in.
    let app = sql_app().await;
    let visitor = Visitor::new(&app.base);
    visitor.login("nobody", "x").await;
    let first = observable(visitor.login("nobody", "x").await).await;
    let second = observable(visitor.login("ferris", "y").await).await;
    assert_eq!(first, second);
    assert_eq!(visitor.whoami().await, "anonymous");
}

// ---- 8. role changes -----------------------------------------------------------------------

#[tokio::test]
async fn a_role_change_in_the_store_takes_effect_on_the_next_request() {
    let app = sql_app().await;
    let visitor = Visitor::new(&app.base);
    assert_eq!(
        visitor.login("admin", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(visitor.get("/admin").await.status(), StatusCode::OK);

    app.update("admin", "role = 'user'").await;
    assert_eq!(visitor.get("/admin").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(visitor.get("/protected").await.status(), StatusCode::OK);

    app.update("admin", "role = 'admin'").await;
    assert_eq!(visitor.get("/admin").await.status(), StatusCode::OK);
    assert_eq!(visitor.whoami().await, "admin");
}

// ---- 10. bad input -------------------------------------------------------------------------

/// Posts a raw body to `path` and checks the answer: quick, never a 5xx, either a 4xx or the
/// generic failure page, nobody logged in, and `hashes` verifications when given (input that
/// decodes lossily into ordinary credentials, say, gets the ordinary work).
async fn assert_refused(
    app: &SqlApp,
    what: &str,
    request: reqwest::RequestBuilder,
    hashes: impl Into<Option<u64>>,
) -> StatusCode {
    let before = app.hashes();
    let started = Instant::now();
    let response = request.send().await.expect("answered");
    let elapsed = started.elapsed();
    let status = response.status();
    let cookie = session_set_cookie(&response);
    let body = response.text().await.expect("body");
    assert!(!status.is_server_error(), "{what}: {status} {body}");
    assert!(
        status.is_client_error(),
        "{what}: answered {status} (want 4xx or the generic 401 page)"
    );
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(body, LOGIN_FAILED, "{what}");
    }
    assert!(elapsed < Duration::from_secs(5), "{what}: took {elapsed:?}");
    if let Some(hashes) = hashes.into() {
        assert_eq!(app.hashes() - before, hashes, "{what}: hash verifications");
    }
    if let Some(cookie) = cookie {
        let logged_in = Visitor::with_cookie(&app.base, &cookie.value)
            .whoami()
            .await;
        assert_eq!(logged_in, "anonymous", "{what}");
    }
    status
}

fn form(app: &SqlApp, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}/login", app.base))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
}

#[tokio::test]
async fn oversized_credentials_are_refused_without_hashing() {
    let app = sql_app().await;
    let mib_password = format!("username=ferris&password={}", "a".repeat(1 << 20));
    assert_refused(&app, "1 MiB password", form(&app, mib_password), 0).await;
    let long_username = format!("username={}&password={PASSWORD}", "u".repeat(100 << 10));
    assert_refused(&app, "100 KiB username", form(&app, long_username), 0).await;
    let just_over = format!(
        "username=ferris&password={}",
        "a".repeat(axum_login::credentials::MAX_PASSWORD_LEN + 1)
    );
    assert_refused(&app, "MAX_PASSWORD_LEN + 1", form(&app, just_over), 0).await;
    let json = serde_json::json!({"username": "ferris", "password": "a".repeat(1 << 20)});
    let request = reqwest::Client::new()
        .post(format!("{}/login.json", app.base))
        .json(&json);
    assert_refused(&app, "1 MiB password as JSON", request, 0).await;
    // A body past axum's default limit (2 MB) is refused before anything reads it.
    let huge = format!("username=ferris&password={}", "a".repeat(3 << 20));
    assert_eq!(
        assert_refused(&app, "3 MiB body", form(&app, huge), 0).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn malformed_form_bodies_are_refused() {
    let app = sql_app().await;
    // The form decoder replaces invalid UTF-8 with U+FFFD: ordinary wrong credentials.
    let cases: Vec<(&str, Vec<u8>, Option<u64>)> = vec![
        (
            "raw non-UTF-8 bytes",
            b"username=\xff\xfe&password=\xc3\x28".to_vec(),
            None,
        ),
        (
            "percent-encoded non-UTF-8",
            b"username=%FF%FE&password=%C3%28".to_vec(),
            None,
        ),
        ("missing password", b"username=ferris".to_vec(), Some(0)),
        ("empty body", Vec::new(), Some(0)),
        ("not a form", b"\x00\x01\x02\x03".to_vec(), Some(0)),
    ];
    for (what, body, hashes) in cases {
        assert_refused(&app, what, form(&app, body), hashes).await;
    }
}

#[tokio::test]
async fn nul_bytes_in_credentials_are_a_plain_failure() {
    let app = sql_app().await;
    assert_refused(
        &app,
        "NUL in username",
        form(&app, "username=fer%00ris&password=hunter42"),
        1,
    )
    .await;
    assert_refused(
        &app,
        "NUL in password",
        form(&app, "username=ferris&password=hunter%0042"),
        1,
    )
    .await;
}

#[tokio::test]
async fn hostile_cookies_are_anonymous_not_errors() {
    let app = sql_app().await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", PASSWORD).await;
    let real = visitor.cookie().expect("logged in");
    let forged = axum_login_tests::http::forged_session_id();
    let cases = [
        (
            "two cookies of the same name",
            format!("id={forged}; id={real}"),
        ),
        (
            "duplicate, real one first",
            format!("id={real}; id={forged}"),
        ),
        ("an 8 KiB cookie", format!("id={}", "A".repeat(8 << 10))),
        (
            "an 8 KiB cookie beside the real one",
            format!("junk={}; id={real}", "B".repeat(8 << 10)),
        ),
        (
            "a NUL-free but odd value",
            "id=%00%00; id=\"quoted\"".to_owned(),
        ),
    ];
    for (what, cookie) in cases {
        let response = reqwest::Client::new()
            .get(format!("{}/me", app.base))
            .header(COOKIE, &cookie)
            .send()
            .await
            .expect("answered");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert!(!status.is_server_error(), "{what}: {status}");
        // Whichever cookie the server reads, it is either nobody or the real owner.
        if status.is_success() {
            assert!(body == "anonymous" || body == "ferris", "{what}: {body}");
        }
        if !cookie.contains(&real) {
            assert_eq!(body, "anonymous", "{what}");
        }
    }
    assert_eq!(visitor.whoami().await, "ferris");
}

// ---- 4. disabled and throttled users -------------------------------------------------------

const MINUTE: Duration = Duration::from_secs(60);

fn throttled(per_account: u32, per_address: u32) -> Throttle {
    Throttle::new(MemoryThrottleStore::default())
        .max_failures_per_account(per_account)
        .max_failures_per_address(per_address)
        .window(15 * MINUTE)
}

#[tokio::test]
async fn unknown_wrong_disabled_and_throttled_get_byte_identical_answers() {
    let app = sql_app_with(|builder| builder.throttle(throttled(3, 1000))).await;

    let mut seen = Vec::new();
    let before = app.hashes();
    seen.push((
        "unknown user",
        failed_login(&app, "nobody", "whatever").await,
    ));
    seen.push(("wrong password", failed_login(&app, "ferris", "nope").await));
    seen.push((
        "disabled user, right password",
        failed_login(&app, "disabled", PASSWORD).await,
    ));
    assert_eq!(app.hashes() - before, 3, "one verification each");

    // Lock `admin` (two more failures reach the limit of 3), then try the right password.
    for _ in 0..3 {
        failed_login(&app, "admin", "nope").await;
    }
    let before = app.hashes();
    seen.push((
        "throttled user, right password",
        failed_login(&app, "admin", PASSWORD).await,
    ));
    assert_eq!(
        app.hashes() - before,
        0,
        "a throttled attempt reaches the store"
    );

    let (first_what, first) = &seen[0];
    assert!(first.ends_with(LOGIN_FAILED), "{first}");
    for (what, answer) in &seen[1..] {
        assert_eq!(answer, first, "`{what}` is told apart from `{first_what}`");
    }
}

#[tokio::test]
async fn a_deactivated_users_sessions_end_on_the_next_request() {
    let app = sql_app().await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", PASSWORD).await;
    assert_eq!(visitor.whoami().await, "ferris");
    app.update("ferris", "active = FALSE").await;
    assert_eq!(
        visitor.get("/protected").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(visitor.whoami().await, "anonymous");
    app.update("ferris", "active = TRUE").await;
    assert_eq!(
        visitor.whoami().await,
        "anonymous",
        "the ended session came back"
    );
}

// ---- 5. brute force ------------------------------------------------------------------------

async fn login_status(app: &SqlApp, username: &str, password: &str) -> StatusCode {
    Visitor::new(&app.base)
        .login(username, password)
        .await
        .status()
}

#[tokio::test]
async fn failed_logins_lock_the_account_until_the_window_ends() {
    let clock = ManualClock::new();
    let app = sql_app_with({
        let clock = clock.clone();
        |builder| builder.clock(clock).throttle(throttled(3, 1000))
    })
    .await;
    // Different spellings of one account count together.
    for username in ["ferris", "FERRIS", "Ferris"] {
        assert_eq!(
            login_status(&app, username, "nope").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let before = app.hashes();
    assert_eq!(
        login_status(&app, "ferris", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "the right password got through a locked account"
    );
    assert_eq!(app.hashes(), before, "a locked account still costs a hash");
    // Another account is not affected.
    assert_eq!(
        login_status(&app, "admin", PASSWORD).await,
        StatusCode::SEE_OTHER
    );

    clock.advance(14 * MINUTE);
    assert_eq!(
        login_status(&app, "ferris", PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    clock.advance(MINUTE + Duration::from_secs(1));
    assert_eq!(
        login_status(&app, "ferris", PASSWORD).await,
        StatusCode::SEE_OTHER,
        "the lock outlived its window"
    );
}

#[tokio::test]
async fn an_unknown_username_is_throttled_exactly_like_a_real_one() {
    let app = sql_app_with(|builder| builder.throttle(throttled(2, 1000))).await;
    for attempt in 0..4 {
        let before = app.hashes();
        let real = failed_login(&app, "ferris", "nope").await;
        let real_hashes = app.hashes() - before;
        let before = app.hashes();
        let unknown = failed_login(&app, "nobody", "nope").await;
        let unknown_hashes = app.hashes() - before;
        assert_eq!(real, unknown, "attempt {attempt}");
        assert_eq!(
            real_hashes, unknown_hashes,
            "attempt {attempt}: hash work tells the accounts apart"
        );
        assert_eq!(real_hashes, u64::from(attempt < 2), "attempt {attempt}");
    }
}

#[tokio::test]
async fn failures_from_one_address_lock_that_address() {
    let clock = ManualClock::new();
    let app = sql_app_with({
        let clock = clock.clone();
        |builder| builder.clock(clock).throttle(throttled(1000, 4))
    })
    .await;
    // Four different (unknown) accounts from 127.0.0.1: no account reaches its limit.
    for n in 0..4 {
        failed_login(&app, &format!("guess{n}"), "nope").await;
    }
    let before = app.hashes();
    assert_eq!(
        login_status(&app, "ferris", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "a locked address logged in"
    );
    assert_eq!(app.hashes(), before);
    clock.advance(15 * MINUTE + Duration::from_secs(1));
    assert_eq!(
        login_status(&app, "ferris", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

/// Ten wrong guesses at once for `username` (each from a fresh visitor); how many the store
/// checked against a password.
async fn concurrent_guesses(app: &SqlApp, username: &str) -> u64 {
    let before = app.hashes();
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..10 {
        let base = app.base.clone();
        let username = username.to_owned();
        guesses.spawn(async move {
            Visitor::new(&base)
                .login(&username, &format!("guess-{n}"))
                .await
                .status()
        });
    }
    while let Some(status) = guesses.join_next().await {
        assert_eq!(status.expect("guess task"), StatusCode::UNAUTHORIZED);
    }
    app.hashes() - before
}

#[tokio::test]
async fn concurrent_guesses_cannot_exceed_the_account_limit() {
    // The lock must bound the guesses the store checks, not only those that arrive after the
    // first three failures were recorded.
    let app = sql_app_with(|builder| builder.throttle(throttled(3, 1000))).await;
    let checked = concurrent_guesses(&app, "ferris").await;
    assert!(
        checked <= 3,
        "{checked} of 10 concurrent guesses were checked against the password (account limit 3)"
    );
}

#[tokio::test]
async fn concurrent_guesses_cannot_exceed_the_address_limit() {
    let app = sql_app_with(|builder| builder.throttle(throttled(1000, 3))).await;
    let checked = concurrent_guesses(&app, "ferris").await;
    assert!(
        checked <= 3,
        "{checked} of 10 concurrent guesses were checked against the password (address limit 3)"
    );
}

#[tokio::test]
async fn an_address_lock_leaves_other_addresses_alone() {
    let app = sql_app_with(|builder| builder.throttle(throttled(1000, 3))).await;
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client builds")
    };
    let attempt = |client: reqwest::Client, password: &'static str| {
        let url = format!("{}/login", app.base);
        async move {
            client
                .post(url)
                .form(&[("username", "ferris"), ("password", password)])
                .send()
                .await
                .expect("answered")
                .status()
        }
    };
    for _ in 0..3 {
        assert_eq!(attempt(from(2), "nope").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        attempt(from(2), PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "127.0.0.2 is locked"
    );
    assert_eq!(
        attempt(from(3), PASSWORD).await,
        StatusCode::SEE_OTHER,
        "127.0.0.3 was locked by 127.0.0.2's failures"
    );
}
