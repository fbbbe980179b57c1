//! `examples/oauth2` against a small OAuth2 provider served on loopback: the whole
//! authorization-code flow with PKCE, driven by a client with a cookie jar like a browser.
//!
//! Login CSRF here is a callback pushed into a browser that started no login, refused by the
//! `state` check (`a_callback_without_a_login_under_way_is_refused`): the callback is a `GET`
//! that arrives from the provider's site, so it cannot be refused for being cross-site.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::SessionKey;
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use example_oauth2::{ProviderConfig, ProviderUsers};
use reqwest::{Url, header::LOCATION};
use serde_json::json;
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "example-app";
const CLIENT_SECRET: &str = "example-secret";
const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

struct Grant {
    challenge: String,
    redirect_uri: String,
}

/// The fake provider's state: codes waiting to be exchanged, tokens handed out, and how many
/// exchanges failed the PKCE check.
#[derive(Clone, Default)]
struct Provider {
    codes: Arc<Mutex<HashMap<String, Grant>>>,
    tokens: Arc<Mutex<HashMap<String, &'static str>>>,
    pkce_failures: Arc<AtomicUsize>,
    redirect_uri: Arc<Mutex<String>>,
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// `/authorize`: the user is already logged in at the provider and consents; the browser goes
/// back to the app with a code and the app's state.
async fn authorize(
    State(provider): State<Provider>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let registered = provider.redirect_uri.lock().expect("lock").clone();
    let ok = query.get("response_type").map(String::as_str) == Some("code")
        && query.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && query.get("redirect_uri") == Some(&registered)
        && query.get("code_challenge_method").map(String::as_str) == Some("S256");
    let (Some(challenge), Some(state), true) =
        (query.get("code_challenge"), query.get("state"), ok)
    else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let code = random();
    provider.codes.lock().expect("lock").insert(
        code.clone(),
        Grant {
            challenge: challenge.clone(),
            redirect_uri: registered.clone(),
        },
    );
    let back = Url::parse_with_params(&registered, [("code", code.as_str()), ("state", state)])
        .expect("redirect URL");
    Redirect::to(back.as_str()).into_response()
}

/// `/token`: the code for a token, if the client authenticates and the PKCE verifier hashes to
/// the challenge (S256).
async fn token(
    State(provider): State<Provider>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(basic.as_str())
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // A code is good for one exchange, whatever its outcome.
    let grant = form
        .get("code")
        .and_then(|code| provider.codes.lock().expect("lock").remove(code));
    let Some(grant) = grant else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        provider.pkce_failures.fetch_add(1, Ordering::SeqCst);
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let access_token = random();
    provider
        .tokens
        .lock()
        .expect("lock")
        .insert(access_token.clone(), "user-42");
    Json(json!({ "access_token": access_token, "token_type": "bearer", "expires_in": 3600 }))
        .into_response()
}

/// `/userinfo`: who the bearer token belongs to.
async fn userinfo(State(provider): State<Provider>, headers: HeaderMap) -> Response {
    let subject = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| provider.tokens.lock().expect("lock").get(token).copied());
    match subject {
        Some(sub) => Json(json!({ "sub": sub, "name": "Ferris", "email": "ferris@example.test" }))
            .into_response(),
        None => oauth_error(StatusCode::UNAUTHORIZED, "invalid_token"),
    }
}

async fn listen() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

struct Setup {
    app: SocketAddr,
    provider: Provider,
    users: ProviderUsers,
}

impl Setup {
    async fn start() -> Self {
        let provider = Provider::default();
        let (provider_listener, provider_addr) = listen().await;
        let (app_listener, app_addr) = listen().await;
        let redirect_url = format!("http://{app_addr}/auth/callback");
        *provider.redirect_uri.lock().expect("lock") = redirect_url.clone();
        let fake = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(provider.clone());
        tokio::spawn(async move {
            axum::serve(provider_listener, fake)
                .await
                .expect("provider runs")
        });

        let config = ProviderConfig {
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            auth_url: format!("http://{provider_addr}/authorize"),
            token_url: format!("http://{provider_addr}/token"),
            userinfo_url: format!("http://{provider_addr}/userinfo"),
            redirect_url,
            scopes: vec!["profile".to_owned()],
        };
        let users = ProviderUsers::default();
        let app = example_oauth2::app(&config, users.clone(), SessionKey::generate())
            .await
            .expect("valid configuration");
        // As `main` serves it: with the client's address, for the login throttle.
        tokio::spawn(async move {
            axum::serve(
                app_listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("app runs")
        });
        Self {
            app: app_addr,
            provider,
            users,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.app)
    }
}

/// A browser: one cookie jar, redirects followed by hand so each hop can be checked.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

async fn go(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client
        .get(url)
        .header("accept", HTML)
        .send()
        .await
        .expect("request")
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        response.url()
    );
    response.headers()[LOCATION]
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// From `/login?next=..` to the app's callback URL that the provider sends the browser back to.
async fn until_callback(setup: &Setup, client: &reqwest::Client, login_path: &str) -> Url {
    let to_provider = location(&go(client, &setup.url(login_path)).await);
    let back = location(&go(client, &to_provider).await);
    let back = Url::parse(&back).expect("absolute callback URL");
    assert_eq!(back.path(), "/auth/callback");
    back
}

fn query(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

fn with_query(url: &Url, name: &str, value: &str) -> Url {
    let mut changed = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

#[tokio::test]
async fn the_whole_flow_logs_in_and_returns_to_next() {
    let setup = Setup::start().await;
    let browser = browser();

    let response = go(&browser, &setup.url("/protected?tab=1")).await;
    let login = location(&response);
    assert_eq!(login, "/login?next=%2Fprotected%3Ftab%3D1");

    let response = go(&browser, &setup.url(&login)).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    // A login under way keeps its session for minutes, not the lifetime of a logged-in one: an
    // abandoned login leaves nothing behind for long.
    assert!(cookie.contains("Max-Age=600"), "{cookie}");
    let to_provider = Url::parse(&location(&response)).expect("provider URL");
    assert_eq!(query(&to_provider, "code_challenge_method"), "S256");
    assert_eq!(query(&to_provider, "client_id"), CLIENT_ID);
    assert_eq!(
        query(&to_provider, "redirect_uri"),
        setup.url("/auth/callback")
    );
    let state = query(&to_provider, "state");
    assert!(state.len() >= 16, "a random state: {state}");

    let back = Url::parse(&location(&go(&browser, to_provider.as_str()).await)).expect("URL");
    assert_eq!(query(&back, "state"), state);

    // A browser marks the provider's redirect back as a cross-site navigation; a GET callback
    // must still be able to log in (the state check is its CSRF protection).
    let response = browser
        .get(back.as_str())
        .header("accept", HTML)
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .expect("callback");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        !cookie.contains("Max-Age"),
        "a logged-in session keeps a pending login's expiry: {cookie}"
    );
    assert_eq!(location(&response), "/protected?tab=1");
    let response = go(&browser, &setup.url("/protected?tab=1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.expect("body"),
        "protected page for Ferris"
    );
    assert_eq!(setup.users.len(), 1);

    // The same provider account logs in as the same user next time.
    let again = self::browser();
    let back = until_callback(&setup, &again, "/login").await;
    assert_eq!(location(&go(&again, back.as_str()).await), "/");
    assert_eq!(setup.users.len(), 1);
    let home = go(&again, &setup.url("/"))
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(home, "logged in as Ferris");
}

#[tokio::test]
async fn a_tampered_state_is_refused() {
    let setup = Setup::start().await;
    let browser = browser();
    let back = until_callback(&setup, &browser, "/login?next=%2Fprotected").await;
    let tampered = with_query(&back, "state", "forged-state-value-0123456789");
    let response = go(&browser, tampered.as_str()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        go(&browser, &setup.url("/protected")).await.status(),
        StatusCode::SEE_OTHER
    );
    // The state was good for one attempt: the genuine callback does not work afterwards either.
    let response = go(&browser, back.as_str()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        go(&browser, &setup.url("/protected")).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(setup.users.is_empty());
}

#[tokio::test]
async fn a_callback_without_a_login_under_way_is_refused() {
    let setup = Setup::start().await;
    let victim = browser();
    let back = until_callback(&setup, &victim, "/login").await;
    // An attacker's code and state, pushed into another browser (login CSRF): that browser
    // started no login, so there is no state to match.
    let other = browser();
    let response = go(&other, back.as_str()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        go(&other, &setup.url("/protected")).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_code_exchanged_with_the_wrong_pkce_verifier_is_refused() {
    let setup = Setup::start().await;
    // A code issued for the login that browser A started...
    let a = browser();
    let back_a = until_callback(&setup, &a, "/login").await;
    // ...injected into browser B's callback, with B's own valid state: the app sends B's
    // verifier, which does not hash to A's challenge.
    let b = browser();
    let back_b = until_callback(&setup, &b, "/login").await;
    let injected = with_query(&back_b, "code", &query(&back_a, "code"));
    let response = go(&b, injected.as_str()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(setup.provider.pkce_failures.load(Ordering::SeqCst), 1);
    assert_eq!(
        go(&b, &setup.url("/protected")).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(setup.users.is_empty());
}

#[tokio::test]
async fn an_open_redirect_next_lands_on_the_home_page() {
    let setup = Setup::start().await;
    for next in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
    ] {
        let browser = browser();
        let back = until_callback(&setup, &browser, &format!("/login?next={next}")).await;
        assert_eq!(
            location(&go(&browser, back.as_str()).await),
            "/",
            "next={next}"
        );
        let home = go(&browser, &setup.url("/"))
            .await
            .text()
            .await
            .expect("body");
        assert_eq!(home, "logged in as Ferris");
    }
}

#[tokio::test]
async fn logout_everywhere_ends_the_other_sessions_and_keeps_this_one() {
    let setup = Setup::start().await;
    let laptop = browser();
    let phone = browser();
    for client in [&laptop, &phone] {
        let back = until_callback(&setup, client, "/login").await;
        assert_eq!(location(&go(client, back.as_str()).await), "/");
    }
    let response = laptop
        .post(setup.url("/logout/everywhere"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        go(&laptop, &setup.url("/protected")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        go(&phone, &setup.url("/protected")).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn cross_site_logout_is_403_and_the_session_goes_on() {
    let setup = Setup::start().await;
    // How a browser marks a form that another site's page posts here: Fetch Metadata, or, in a
    // browser without it, the `Origin`.
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let browser = browser();
        let back = until_callback(&setup, &browser, "/login").await;
        assert_eq!(location(&go(&browser, back.as_str()).await), "/");

        let response = browser
            .post(setup.url("/logout"))
            .header(name, value)
            .send()
            .await
            .expect("logout");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            response.headers().get("set-cookie").is_none(),
            "{name}: {value}"
        );
        let response = go(&browser, &setup.url("/protected")).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}: {value}");
    }
}

#[test]
fn user_info_reads_openid_claims_and_github_users() {
    use example_oauth2::ProviderProfile;
    let oidc: ProviderProfile = serde_json::from_value(
        json!({ "sub": "abc", "name": "Ferris", "email": "f@example.test" }),
    )
    .expect("OpenID Connect claims");
    assert_eq!(
        (oidc.sub.as_str(), oidc.name.as_deref()),
        ("abc", Some("Ferris"))
    );
    let github: ProviderProfile =
        serde_json::from_value(json!({ "id": 583231, "login": "octocat", "name": null }))
            .expect("a GitHub user");
    assert_eq!(github.sub, "583231");
    assert_eq!(github.name.as_deref(), Some("octocat"));
    assert!(serde_json::from_value::<ProviderProfile>(json!({ "name": "nobody" })).is_err());
    assert!(serde_json::from_value::<ProviderProfile>(json!({ "sub": "" })).is_err());
}
