//! `examples/api` over HTTP, the way an API client uses it: JSON in and out, a cookie jar.

use std::net::SocketAddr;

use axum_login::SessionKey;
use reqwest::{
    StatusCode,
    header::{CONTENT_TYPE, SET_COOKIE},
};
use serde_json::{Value, json};

async fn serve() -> SocketAddr {
    let store = example_api::seeded_store().await.expect("seeded store");
    let app = example_api::app(store, SessionKey::generate());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("server runs") });
    addr
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
