//! `examples/scale-out` as two instances on two ports, sharing PostgreSQL (users) and Redis
//! (sessions, login throttle): a session begun on one is the same session on the other, and
//! failed logins on one count on the other.
//!
//! Needs PostgreSQL at `DATABASE_URL_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`). Each test works in a PostgreSQL
//! schema of its own, dropped at the end. Redis is shared as it is: session keys are random
//! 128-bit ids created with `SET NX`, so parallel runs cannot collide, and nothing is flushed.
//! When a server is unreachable the test fails under `CI=true` and is skipped, loudly, otherwise.

use std::{
    net::SocketAddr,
    str::FromStr,
    sync::atomic::{AtomicUsize, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use axum_login::SessionKey;
use reqwest::{
    StatusCode,
    header::{COOKIE, SET_COOKIE},
};
use serde_json::{Value, json};
use sqlx::{PgPool, postgres::PgConnectOptions};

use axum_login_tests::{
    env::{postgres_url as database_url, redis_url, skipped},
    http::serve_with_addr,
};

/// Fails under CI; elsewhere says loudly that the test did not run.
fn unreachable_service(test: &str, what: &str, error: &dyn std::fmt::Display) {
    skipped(test, &format!("{what} is unreachable ({error})"));
}

/// A PostgreSQL schema for one test, with the users tables and two users in it.
struct Schema {
    admin: PgPool,
    name: String,
    options: PgConnectOptions,
}

impl Schema {
    async fn create(test: &str) -> Option<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let url = database_url();
        let connected = async {
            let options = PgConnectOptions::from_str(&url)?;
            let admin = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(example_scale_out::CONNECT_TIMEOUT)
                .connect_with(options.clone())
                .await?;
            Ok::<_, sqlx::Error>((admin, options))
        }
        .await;
        let (admin, options) = match connected {
            Ok(connected) => connected,
            Err(error) => {
                unreachable_service(test, &format!("PostgreSQL at {url}"), &error);
                return None;
            }
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "scale_out_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        sqlx::raw_sql(&format!("CREATE SCHEMA \"{name}\""))
            .execute(&admin)
            .await
            .expect("create a schema for this test");
        let options = options.options([("search_path", name.as_str())]);
        Some(Self {
            admin,
            name,
            options,
        })
    }

    async fn drop(self) {
        sqlx::raw_sql(&format!("DROP SCHEMA \"{}\" CASCADE", self.name))
            .execute(&self.admin)
            .await
            .expect("drop this test's schema");
    }
}

/// One instance, as a separate process would be: its own pools, the shared servers and key.
async fn start_instance(
    name: &str,
    schema: &Schema,
    key: &SessionKey,
) -> Result<SocketAddr, example_scale_out::StartError> {
    let store = example_scale_out::connect_users(schema.options.clone()).await?;
    let redis = example_scale_out::connect_redis(&redis_url()).await?;
    // The example's throttle, with a lock after four failures instead of a slowdown after
    // five: a lock does not lift while the test runs, however slowly it runs.
    let throttle = example_scale_out::throttle(&redis, &[]).max_failures_per_account(4);
    let app = example_scale_out::app(name, store, &redis, key.clone(), throttle);
    // As `main` serves it: with the client's address, for the login throttle.
    Ok(serve_with_addr(app).await)
}

struct Cluster {
    a: SocketAddr,
    b: SocketAddr,
    schema: Schema,
}

impl Cluster {
    async fn start(test: &str) -> Option<Self> {
        // Redis first, so that a skipped test leaves no schema behind.
        if let Err(error) = example_scale_out::connect_redis(&redis_url()).await {
            unreachable_service(test, &format!("Redis at {}", redis_url()), &error);
            return None;
        }
        let schema = Schema::create(test).await?;
        let store = example_scale_out::connect_users(schema.options.clone())
            .await
            .expect("connect to the users database");
        example_scale_out::migrate(&store)
            .await
            .expect("create the tables");
        example_scale_out::ensure_user(&store, "ferris", "hunter42")
            .await
            .expect("seed ferris");
        example_scale_out::ensure_user(&store, "corro", "crab-rave")
            .await
            .expect("seed corro");
        let key = SessionKey::generate();
        let a = start_instance("a", &schema, &key)
            .await
            .expect("instance a starts");
        let b = start_instance("b", &schema, &key)
            .await
            .expect("instance b starts");
        Some(Self { a, b, schema })
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// The `name=value` of the session cookie a response sets.
/// The session cookie (`id`: the example serves plain HTTP) among the response's cookies, as
/// `name=value`; a login also sets a device cookie.
fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .filter_map(|header| header.split(';').next())
        .find(|pair| pair.starts_with("id="))
        .expect("a session cookie")
        .to_owned()
}

/// Logs in on `instance` and answers the session cookie.
async fn login(instance: SocketAddr, username: &str, password: &str) -> Result<String, StatusCode> {
    let response = client()
        .post(format!("http://{instance}/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("login request");
    if response.status() != StatusCode::OK {
        return Err(response.status());
    }
    Ok(session_cookie(&response))
}

/// `GET /me` on `instance` with `cookie`: the status, and the body when it is `200`.
async fn me(instance: SocketAddr, cookie: &str) -> (StatusCode, Value) {
    let response = client()
        .get(format!("http://{instance}/me"))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_session_is_shared_by_both_instances_and_ended_by_either() {
    let Some(cluster) =
        Cluster::start("a_session_is_shared_by_both_instances_and_ended_by_either").await
    else {
        return;
    };
    let cookie = login(cluster.a, "ferris", "hunter42")
        .await
        .expect("login on a");

    let (status, body) = me(cluster.b, &cookie).await;
    assert_eq!(status, StatusCode::OK, "logged in on a, recognised on b");
    assert_eq!(body, json!({ "username": "ferris", "instance": "b" }));
    let (status, body) = me(cluster.a, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["instance"], "a");

    let response = client()
        .post(format!("http://{}/logout", cluster.b))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("logout on b");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The same cookie, replayed on the instance where the login happened.
    assert_eq!(me(cluster.a, &cookie).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(cluster.b, &cookie).await.0, StatusCode::UNAUTHORIZED);

    cluster.schema.drop().await;
}

#[tokio::test]
async fn an_instance_with_another_session_key_does_not_accept_the_session() {
    let Some(cluster) =
        Cluster::start("an_instance_with_another_session_key_does_not_accept_the_session").await
    else {
        return;
    };
    let stray = start_instance("stray", &cluster.schema, &SessionKey::generate())
        .await
        .expect("the stray instance starts");
    let cookie = login(cluster.a, "ferris", "hunter42")
        .await
        .expect("login on a");
    assert_eq!(me(stray, &cookie).await.0, StatusCode::UNAUTHORIZED);
    // The stray instance found the session in Redis, saw a digest it cannot verify, and ended it.
    assert_eq!(me(cluster.a, &cookie).await.0, StatusCode::UNAUTHORIZED);

    cluster.schema.drop().await;
}

#[tokio::test]
async fn a_password_change_on_one_instance_ends_the_other_sessions_on_both() {
    let Some(cluster) =
        Cluster::start("a_password_change_on_one_instance_ends_the_other_sessions_on_both").await
    else {
        return;
    };
    let here = login(cluster.b, "ferris", "hunter42")
        .await
        .expect("login on b");
    let laptop = login(cluster.a, "ferris", "hunter42")
        .await
        .expect("login on a");
    let phone = login(cluster.b, "ferris", "hunter42")
        .await
        .expect("login on b");
    let someone_else = login(cluster.a, "corro", "crab-rave")
        .await
        .expect("login on a");

    let change = |current: &'static str| {
        let here = here.clone();
        let b = cluster.b;
        async move {
            client()
                .post(format!("http://{b}/password"))
                .header(COOKIE, here)
                .json(&json!({ "current_password": current, "new_password": "new-hunter-43" }))
                .send()
                .await
                .expect("password change")
        }
    };
    assert_eq!(change("wrong").await.status(), StatusCode::FORBIDDEN);
    for cookie in [&here, &laptop, &phone] {
        assert_eq!(
            me(cluster.a, cookie).await.0,
            StatusCode::OK,
            "a wrong current password changes nothing"
        );
    }

    let response = change("hunter42").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The session that changed the password is kept, under a new id.
    let here = session_cookie(&response);
    for instance in [cluster.a, cluster.b] {
        assert_eq!(me(instance, &here).await.0, StatusCode::OK);
        assert_eq!(
            me(instance, &someone_else).await.0,
            StatusCode::OK,
            "other users keep their sessions"
        );
    }
    // Every other session of the user has ended, on both instances.
    for cookie in [&laptop, &phone] {
        assert_eq!(me(cluster.a, cookie).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(me(cluster.b, cookie).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login(cluster.a, "ferris", "hunter42").await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert!(login(cluster.a, "ferris", "new-hunter-43").await.is_ok());

    cluster.schema.drop().await;
}

/// How a browser marks a request that another site's page makes: Fetch Metadata, or, in a
/// browser without it, the `Origin`.
const CROSS_SITE: [(&str, &str); 2] = [
    ("sec-fetch-site", "cross-site"),
    ("origin", "https://evil.example"),
];

#[tokio::test]
async fn cross_site_login_is_403_and_begins_no_session() {
    let Some(cluster) = Cluster::start("cross_site_login_is_403_and_begins_no_session").await
    else {
        return;
    };
    for (name, value) in CROSS_SITE {
        let response = client()
            .post(format!("http://{}/login", cluster.a))
            .header(name, value)
            .json(&json!({ "username": "ferris", "password": "hunter42" }))
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            response.headers().get(SET_COOKIE).is_none(),
            "{name}: {value}"
        );
    }

    cluster.schema.drop().await;
}

#[tokio::test]
async fn cross_site_logout_is_403_and_the_session_goes_on_on_both_instances() {
    let Some(cluster) =
        Cluster::start("cross_site_logout_is_403_and_the_session_goes_on_on_both_instances").await
    else {
        return;
    };
    let cookie = login(cluster.a, "ferris", "hunter42")
        .await
        .expect("login on a");
    for (name, value) in CROSS_SITE {
        let response = client()
            .post(format!("http://{}/logout", cluster.b))
            .header(COOKIE, &cookie)
            .header(name, value)
            .send()
            .await
            .expect("logout request");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            response.headers().get(SET_COOKIE).is_none(),
            "{name}: {value}"
        );
        for instance in [cluster.a, cluster.b] {
            assert_eq!(
                me(instance, &cookie).await.0,
                StatusCode::OK,
                "{name}: {value}"
            );
        }
    }

    cluster.schema.drop().await;
}

#[tokio::test]
async fn cross_site_password_change_is_403_and_changes_nothing() {
    let Some(cluster) =
        Cluster::start("cross_site_password_change_is_403_and_changes_nothing").await
    else {
        return;
    };
    let cookie = login(cluster.a, "ferris", "hunter42")
        .await
        .expect("login on a");
    for (name, value) in CROSS_SITE {
        let response = client()
            .post(format!("http://{}/password", cluster.a))
            .header(COOKIE, &cookie)
            .header(name, value)
            .json(&json!({ "current_password": "hunter42", "new_password": "new-hunter-43" }))
            .send()
            .await
            .expect("password change");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert_eq!(
            me(cluster.b, &cookie).await.0,
            StatusCode::OK,
            "{name}: {value}"
        );
    }
    assert_eq!(
        login(cluster.b, "ferris", "new-hunter-43").await,
        Err(StatusCode::UNAUTHORIZED),
        "the password did not change"
    );

    cluster.schema.drop().await;
}

/// The device cookie a login response sets, as `name=value`.
fn device_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .filter_map(|header| header.split(';').next())
        .find(|pair| pair.starts_with("axum_login_device="))
        .expect("a device cookie")
        .to_owned()
}

async fn attempt(instance: SocketAddr, password: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .post(format!("http://{instance}/login"))
        .json(&json!({ "username": "ferris", "password": password }));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.expect("login request")
}

#[tokio::test]
async fn failed_logins_on_either_instance_count_on_both() {
    let Some(cluster) = Cluster::start("failed_logins_on_either_instance_count_on_both").await
    else {
        return;
    };
    // The owner's browser logged in once, on instance a.
    let owned = attempt(cluster.a, "hunter42", None).await;
    assert_eq!(owned.status(), StatusCode::OK);
    let device = device_cookie(&owned);

    // Four wrong guesses, spread over both instances: each saw two, the shared counter four.
    for guess in 0..4 {
        let instance = if guess % 2 == 0 { cluster.a } else { cluster.b };
        let response = attempt(instance, &format!("guess-{guess}"), None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked on both: on counters of its own, either instance would let the right password in.
    for instance in [cluster.a, cluster.b] {
        assert_eq!(
            attempt(instance, "hunter42", None).await.status(),
            StatusCode::UNAUTHORIZED,
            "an instance let an attempt through on counters of its own"
        );
    }
    // The owner's browser, known by its device cookie on every instance, is not slowed down.
    assert_eq!(
        attempt(cluster.b, "hunter42", Some(&device)).await.status(),
        StatusCode::OK,
        "the owner's device cookie from instance a was not honoured on instance b"
    );
    cluster.schema.drop().await;
}
