//! `examples/api` over HTTP, the way an API client uses it: JSON in and out, a cookie jar.

use std::net::SocketAddr;

use axum_login::SessionKey;
use axum_login_tests::http::serve_with_addr;
use reqwest::{
    StatusCode,
    header::{CONTENT_TYPE, SET_COOKIE},
};
use serde_json::{Value, json};

async fn serve() -> SocketAddr {
    start().await.0
}

/// The app on an ephemeral port, and its user store, whose pool is the app's database.
async fn start() -> (SocketAddr, example_api::Store) {
    let store = example_api::seeded_store().await.expect("seeded store");
    let app = example_api::app(store.clone(), SessionKey::generate())
        .await
        .expect("the app starts");
    // As `main` serves it: with the client's address, for the login throttle.
    (serve_with_addr(app).await, store)
}

/// An API client with a cookie jar, like `curl -c jar -b jar`.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

async fn login(
    client: &reqwest::Client,
    addr: SocketAddr,
    username: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(format!("http://{addr}/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("login request")
}

async fn get(client: &reqwest::Client, addr: SocketAddr, path: &str) -> (StatusCode, Value) {
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("request");
    let status = response.status();
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/json",
        "{path} answers JSON"
    );
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn anonymous_client_gets_401_json_even_when_it_accepts_html() {
    let addr = serve().await;
    let (status, body) = get(&client(), addr, "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    // The API has no login page: even a browser's Accept gets a 401, not a redirect.
    let response = client()
        .get(format!("http://{addr}/admin/stats"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn json_login_sets_a_cookie_that_the_jar_sends_back() {
    let addr = serve().await;
    let client = client();
    let response = login(&client, addr, "ferris", "hunter42").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["username"], "ferris");
    assert_eq!(body["role"], "user");
    assert!(body.get("password_hash").is_none());

    let (status, body) = get(&client, addr, "/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], "ferris");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_401() {
    let addr = serve().await;
    let wrong = login(&client(), addr, "ferris", "hunter43").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    let wrong: Value = wrong.json().await.expect("JSON body");
    let unknown = login(&client(), addr, "nobody", "hunter42").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown: Value = unknown.json().await.expect("JSON body");
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"], "invalid_credentials");
}

#[tokio::test]
async fn malformed_login_body_is_a_json_400() {
    let addr = serve().await;
    let response = client()
        .post(format!("http://{addr}/login"))
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"username": "ferris"}"#)
        .send()
        .await
        .expect("request");
    assert!(response.status().is_client_error());
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["error"], "bad_request");
}

#[tokio::test]
async fn role_guard_answers_403_json_to_users_and_200_to_admins() {
    let addr = serve().await;
    let ferris = client();
    assert_eq!(
        login(&ferris, addr, "ferris", "hunter42").await.status(),
        StatusCode::OK
    );
    let (status, body) = get(&ferris, addr, "/admin/stats").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "forbidden");

    let admin = client();
    assert_eq!(
        login(&admin, addr, "admin", "correct-horse-battery")
            .await
            .status(),
        StatusCode::OK
    );
    let (status, body) = get(&admin, addr, "/admin/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["users"], 2);
    // The admin role implies the user role: `/me` works too.
    assert_eq!(get(&admin, addr, "/me").await.0, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_session_even_for_a_replayed_cookie() {
    let addr = serve().await;
    let client = client();
    let response = login(&client, addr, "ferris", "hunter42").await;
    let cookie = response.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    let pair = cookie.split(';').next().expect("name=value").to_owned();

    let response = client
        .post(format!("http://{addr}/logout"))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(get(&client, addr, "/me").await.0, StatusCode::UNAUTHORIZED);

    // A copy of the cookie kept from before the logout is worthless: the session is gone.
    let replay = reqwest::Client::new()
        .get(format!("http://{addr}/me"))
        .header("cookie", pair)
        .send()
        .await
        .expect("request");
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

/// How a browser marks a request that another site's page makes: Fetch Metadata, or, in a
/// browser without it, the `Origin`.
const CROSS_SITE: [(&str, &str); 2] = [
    ("sec-fetch-site", "cross-site"),
    ("origin", "https://evil.example"),
];

#[tokio::test]
async fn cross_site_login_is_403_and_begins_no_session() {
    let addr = serve().await;
    for (name, value) in CROSS_SITE {
        let client = client();
        let response = client
            .post(format!("http://{addr}/login"))
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
        assert_eq!(
            get(&client, addr, "/me").await.0,
            StatusCode::UNAUTHORIZED,
            "{name}: {value}"
        );
    }
}

#[tokio::test]
async fn cross_site_logout_is_403_and_the_session_goes_on() {
    let addr = serve().await;
    for (name, value) in CROSS_SITE {
        let client = client();
        assert_eq!(
            login(&client, addr, "ferris", "hunter42").await.status(),
            StatusCode::OK
        );
        let response = client
            .post(format!("http://{addr}/logout"))
            .header(name, value)
            .send()
            .await
            .expect("logout request");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            response.headers().get(SET_COOKIE).is_none(),
            "{name}: {value}"
        );
        let (status, body) = get(&client, addr, "/me").await;
        assert_eq!(status, StatusCode::OK, "{name}: {value}");
        assert_eq!(body["username"], "ferris");
    }
}

#[tokio::test]
async fn sessions_are_rows_of_the_database_until_logout() {
    let (addr, store) = start().await;
    let sessions = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM axum_login_sessions")
            .fetch_one(store.pool())
            .await
            .expect("the sessions table")
    };
    let client = client();
    assert_eq!(
        login(&client, addr, "ferris", "hunter42").await.status(),
        StatusCode::OK
    );
    assert_eq!(sessions().await, 1);
    let response = client
        .post(format!("http://{addr}/logout"))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(sessions().await, 0);
}
