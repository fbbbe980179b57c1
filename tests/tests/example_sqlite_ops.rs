//! The demo's operations routes (`examples/sqlite`): `GET /metrics` counts a login and a failed
//! login, and the health checks answer. A test binary of its own because the Prometheus
//! recorder is one per process: the counters asserted here are moved by this file's one login
//! and one failure only.

use std::net::SocketAddr;

use axum_login_tests::http::serve_with_addr;
use example_sqlite::{Config, Demo};
use reqwest::{StatusCode, redirect::Policy};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The demo on an ephemeral loopback port, on a database in its own temporary directory.
async fn start() -> (SocketAddr, Demo, TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let demo = Demo::new(Config {
        database: dir.path().join("demo.db"),
        session_key: None,
        mfa_key: None,
        ..Config::default()
    })
    .await
    .expect("the demo starts on a fresh database");
    let addr = serve_with_addr(demo.router()).await;
    (addr, demo, dir)
}

/// The value of the sample `series` (a name with its labels, as the exposition writes them).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(value.trim().parse().expect("a sample value is a number"))
    })
}

/// How many calls of `store` answered `ok`, summed over its calls, from the histogram's counts.
fn calls_of(metrics: &str, store: &str) -> f64 {
    let store = format!(r#"store="{store}""#);
    metrics
        .lines()
        .filter(|line| line.starts_with("axum_login_store_call_seconds_count{"))
        .filter(|line| line.contains(&store) && line.contains(r#"outcome="ok""#))
        .map(|line| {
            let value = line.rsplit(' ').next().expect("a sample has a value");
            value.parse::<f64>().expect("a sample value is a number")
        })
        .sum()
}

async fn scrape(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("/metrics is answered");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("a text body")
}

const LOGINS: &str = r#"axum_login_logins_total{method="password"}"#;
const WRONG: &str = r#"axum_login_login_failures_total{reason="wrong_credentials"}"#;
const VERIFICATIONS: &str = "axum_login_password_verify_seconds_count";

/// The CSRF token of the first form of `page`.
fn csrf_token(page: &str) -> String {
    let field = r#"<input type="hidden" name="csrf_token" value=""#;
    let start = page.find(field).expect("the form carries a token") + field.len();
    let end = page[start..].find('"').expect("the value ends");
    page[start..start + end].to_owned()
}

#[tokio::test]
async fn metrics_count_a_login_and_a_failed_login() {
    let (addr, _demo, _dir) = start().await;
    let base = format!("http://{addr}");

    // Every series is there from the start, at zero.
    let before = scrape(&base).await;
    assert_eq!(sample(&before, LOGINS), Some(0.0), "{before}");
    assert_eq!(sample(&before, WRONG), Some(0.0), "{before}");
    assert_eq!(
        sample(
            &before,
            r#"axum_login_sessions_ended_total{cause="logout"}"#
        ),
        Some(0.0),
        "{before}"
    );
    assert!(
        before.contains("# TYPE axum_login_logins_total counter"),
        "{before}"
    );

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client builds");
    // A login form posted without the token of the page is refused before any password.
    let forged = browser
        .post(format!("{base}/login"))
        .form(&[("username", "ferris"), ("password", "hunter42")])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let page = browser
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login")
        .text()
        .await
        .expect("the login page");
    let token = csrf_token(&page);
    let login = |password: &'static str| {
        browser
            .post(format!("{base}/login"))
            .form(&[
                ("username", "ferris"),
                ("password", password),
                ("csrf_token", token.as_str()),
            ])
            .send()
    };
    let failed = login("wrong-password").await.expect("POST /login");
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let ok = login("hunter42").await.expect("POST /login");
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);

    let after = scrape(&base).await;
    assert_eq!(sample(&after, LOGINS), Some(1.0), "{after}");
    assert_eq!(sample(&after, WRONG), Some(1.0), "{after}");
    assert_eq!(
        sample(
            &after,
            r#"axum_login_login_failures_total{reason="throttled"}"#
        ),
        Some(0.0),
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            r#"axum_login_csrf_refusals_total{reason="missing"}"#
        ),
        Some(1.0),
        "{after}"
    );
    // Both attempts verified a password, the wrong one too; the forged one none.
    assert_eq!(sample(&after, VERIFICATIONS), Some(2.0), "{after}");
    // The wrapped stores' calls are timed: the login wrote a session and a registry entry.
    for store in ["sessions", "registry"] {
        let calls = calls_of(&after, store);
        assert!(calls >= 1.0, "no timed call of the {store} store: {after}");
    }
    // No label carries the user or the address.
    assert!(!after.contains("ferris"), "{after}");
    assert!(!after.contains("127.0.0.1"), "{after}");
}

#[tokio::test]
async fn health_of_the_demo_is_ready_and_live() {
    let (addr, _demo, _dir) = start().await;
    let base = format!("http://{addr}");
    let get = |path: &'static str| {
        let url = format!("{base}{path}");
        async move {
            let response = reqwest::get(url).await.expect("the probe is answered");
            let status = response.status();
            let body: Value = response.json().await.expect("a JSON body");
            (status, body)
        }
    };
    let (status, body) = get("/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "status": "ok",
            "checks": {
                "account_tokens": "ok",
                "api_tokens": "ok",
                "registry": "ok",
                "remember_me": "ok",
                "second_factors": "ok",
                "sessions": "ok",
                "throttle": "ok",
                "users": "ok",
            }
        })
    );
    let (status, body) = get("/health/live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "ok" }));
}
