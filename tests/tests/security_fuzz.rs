//! Property tests standing in for fuzzing (cargo-fuzz needs nightly): whatever the session holds
//! under the framework's key, whatever cookie arrives, and whatever bytes a login form or JSON
//! body carries, the server answers without a 5xx or a panic, and nobody is logged in by it.
//!
//! Each property runs a bounded number of cases against one server; the counts are in
//! `config`. Run with `cargo test -p axum-login-tests --all-features --test security_fuzz --
//! --nocapture` to see cases and times; `PROPTEST_CASES` overrides the counts for a longer run.
//! (The `next` validator's properties are in `axum-login/tests/safe_next_props.rs`.)

use std::time::Instant;

use axum_login_tests::{
    apps::{LOGIN_FAILED, mem_app, sql_app},
    http::Visitor,
};
use proptest::{
    collection::{hash_map, vec},
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use reqwest::{
    StatusCode,
    header::{ACCEPT, CONTENT_TYPE, COOKIE},
};
use serde_json::Value;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// `cases` cases, unless `PROPTEST_CASES` says otherwise; no regression files.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `property` over `strategy` and reports how long it took.
fn check<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = config(cases);
    let count = config.cases;
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, property);
    eprintln!("{name}: {count} cases in {:?}", started.elapsed());
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id".to_owned()),
        Just("digest".to_owned()),
        Just("at".to_owned()),
        ".{0,8}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            hash_map(json_key(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Values shaped like the framework's login record, `[id, digest, at, seen]`: real and
/// unknown user ids, digests that are nearly right, login times of every kind, arrays too
/// short or too long, and the object form an older layout would have written.
fn record_like() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        (0_u64..130).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[0-9]{1,3}".prop_map(Value::String),
        json_value(),
    ];
    let digest = prop_oneof![
        "[A-Za-z0-9_-]{43}".prop_map(Value::String),
        "[A-Za-z0-9+/=_-]{0,100}".prop_map(Value::String),
        json_value(),
    ];
    let time = || {
        prop_oneof![
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            Just(Value::Null),
            json_value(),
        ]
    };
    (id, digest, time(), time(), 0_usize..=6, any::<bool>()).prop_map(
        |(id, digest, at, seen, len, as_object)| {
            if as_object {
                let mut record = serde_json::Map::new();
                record.insert("id".into(), id);
                record.insert("digest".into(), digest);
                record.insert("at".into(), at);
                return Value::Object(record);
            }
            let mut fields = vec![id, digest, at, seen];
            fields.resize(len, Value::Null);
            Value::Array(fields)
        },
    )
}

/// Stores `value` under `axum_login.auth` in a fresh session, then asks who is logged in.
async fn session_holding(base: &str, value: &Value) -> Result<(), TestCaseError> {
    let visitor = Visitor::new(base);
    let response = visitor
        .send(visitor.client.post(visitor.url("/raw")).json(value))
        .await;
    prop_assert_eq!(response.status(), StatusCode::OK, "storing {}", value);
    prop_assert!(visitor.cookie().is_some(), "no session for {}", value);
    for _ in 0..2 {
        let response = visitor.get("/me").await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        prop_assert_eq!(status, StatusCode::OK, "GET /me with {}: {}", value, body);
        prop_assert_eq!(body, "anonymous", "GET /me with {}", value);
        let response = visitor
            .send(
                visitor
                    .client
                    .get(visitor.url("/protected"))
                    .header(ACCEPT, "application/json"),
            )
            .await;
        prop_assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "GET /protected with {}",
            value
        );
    }
    Ok(())
}

// ---- (i) session data decoding --------------------------------------------------------------

#[test]
fn arbitrary_json_under_the_session_key_is_an_anonymous_visitor() {
    let runtime = runtime();
    let app = runtime.block_on(mem_app());
    check("session key: arbitrary JSON", 256, json_value(), |value| {
        runtime.block_on(session_holding(&app.base, &value))
    });
    check(
        "session key: login-record-shaped JSON",
        256,
        record_like(),
        |value| runtime.block_on(session_holding(&app.base, &value)),
    );
}

#[test]
fn arbitrary_session_cookies_are_an_anonymous_visitor() {
    let runtime = runtime();
    let app = runtime.block_on(mem_app());
    let client = reqwest::Client::new();
    check(
        "session cookie: arbitrary header values",
        256,
        "[ -~]{0,200}",
        |cookie| {
            runtime.block_on(async {
                let response = client
                    .get(format!("{}/me", app.base))
                    .header(COOKIE, format!("id={cookie}"))
                    .send()
                    .await
                    .map_err(|error| TestCaseError::fail(error.to_string()))?;
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                prop_assert_eq!(status, StatusCode::OK, "cookie {:?}", cookie);
                prop_assert_eq!(body, "anonymous", "cookie {:?}", cookie);
                Ok(())
            })
        },
    );
}

// ---- (ii) the credentials parser -------------------------------------------------------------

/// Posts `body` and checks the answer is a 4xx (204 when the body parsed and is within limits).
async fn post_bytes(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<StatusCode, TestCaseError> {
    let response = client
        .post(url)
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    let status = response.status();
    prop_assert!(
        status == StatusCode::NO_CONTENT || status.is_client_error(),
        "{} answered {}",
        url,
        status
    );
    Ok(status)
}

/// Bytes that are sometimes a form: `username=..&password=..` with arbitrary, sometimes
/// percent-encoded, parts; sometimes pure noise.
fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..300),
        (vec(any::<u8>(), 0..60), vec(any::<u8>(), 0..60)).prop_map(|(user, password)| {
            let mut body = b"username=".to_vec();
            body.extend(user);
            body.extend(b"&password=");
            body.extend(password);
            body
        }),
        ("[%0-9A-Fa-f&=+]{0,80}", "[%0-9A-Fa-f&=+]{0,80}").prop_map(|(user, password)| {
            format!("username={user}&password={password}").into_bytes()
        }),
    ]
}

fn json_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..300),
        json_value().prop_map(|value| value.to_string().into_bytes()),
        (json_value(), json_value()).prop_map(|(user, password)| {
            serde_json::json!({"username": user, "password": password})
                .to_string()
                .into_bytes()
        }),
        (".{0,40}", ".{0,40}").prop_map(|(user, password)| {
            serde_json::json!({"username": user, "password": password})
                .to_string()
                .into_bytes()
        }),
    ]
}

#[test]
fn arbitrary_bytes_never_break_the_credentials_parser() {
    let runtime = runtime();
    let app = runtime.block_on(sql_app());
    let client = reqwest::Client::new();
    let form_url = format!("{}/parse", app.base);
    let json_url = format!("{}/parse.json", app.base);
    check(
        "Form<PasswordCredentials>: bytes",
        512,
        form_bytes(),
        |body| {
            runtime.block_on(post_bytes(
                &client,
                &form_url,
                "application/x-www-form-urlencoded",
                body,
            ))?;
            Ok(())
        },
    );
    check(
        "Json<PasswordCredentials>: bytes",
        512,
        json_bytes(),
        |body| {
            runtime.block_on(post_bytes(&client, &json_url, "application/json", body))?;
            Ok(())
        },
    );
    assert_eq!(app.hashes(), 0, "parsing alone hashed something");
}

#[test]
fn arbitrary_bytes_to_the_login_handler_get_a_4xx_or_the_generic_failure() {
    // Through the real handler and store: every parsed body costs an argon2 verification in
    // debug builds, so fewer cases.
    let runtime = runtime();
    let app = runtime.block_on(sql_app());
    let client = reqwest::Client::new();
    let url = format!("{}/login", app.base);
    check("POST /login: bytes", 32, form_bytes(), |body| {
        runtime.block_on(async {
            let response = client
                .post(&url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            let status = response.status();
            let body_text = response.text().await.unwrap_or_default();
            prop_assert!(status.is_client_error(), "{:?}: {}", body, status);
            if status == StatusCode::UNAUTHORIZED {
                prop_assert_eq!(body_text, LOGIN_FAILED);
            }
            Ok(())
        })
    });
}
