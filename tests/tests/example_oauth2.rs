//! `examples/oauth2` against the test helpers' fake provider, as a plain OAuth 2.0 provider
//! (its userinfo endpoint, no ID token): the whole authorization-code flow with PKCE, driven by
//! a client with a cookie jar like a browser.
//!
//! Login CSRF here is a callback pushed into a browser that started no login, refused by the
//! `state` check (`a_callback_without_a_login_under_way_is_refused`): the callback is a `GET`
//! that arrives from the provider's site, so it cannot be refused for being cross-site.

use std::net::SocketAddr;

use axum_login::{
    SessionKey,
    oidc::{OAuth2Endpoints, Provider},
};
use axum_login_tests::fake_oidc::{AUTHORIZE_PATH, FakeProvider, TOKEN_PATH, USERINFO_PATH};
use example_oauth2::ProviderUsers;
use reqwest::{StatusCode, Url, header::LOCATION};

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

struct Setup {
    app: SocketAddr,
    fake: FakeProvider,
    users: ProviderUsers,
}

impl Setup {
    async fn start() -> Self {
        let fake = FakeProvider::start(&[("example-app", "example-secret")]).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral loopback port");
        let addr = listener.local_addr().expect("local address");
        let at = |path: &str| format!("{}{path}", fake.issuer);
        let provider = Provider::oauth2(
            "fake",
            &fake.issuer,
            OAuth2Endpoints {
                authorization: at(AUTHORIZE_PATH),
                token: at(TOKEN_PATH),
                userinfo: at(USERINFO_PATH),
            },
            "example-app",
            "example-secret",
            &format!("http://{addr}/auth/callback"),
        )
        .expect("a valid provider")
        .scopes(["profile"]);
        let users = ProviderUsers::default();
        let app = example_oauth2::app(provider, users.clone(), SessionKey::generate())
            .expect("valid configuration");
        // As `main` serves it: with the client's address, for the login throttle.
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("app runs")
        });
        Self {
            app: addr,
            fake,
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
    let back = setup.fake.sign_in(&to_provider).await;
    assert_eq!(back.path(), "/auth/callback");
    back
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
    setup.fake.set_user("ferris-sub", None, false);
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
    let to_provider = location(&response);
    let back = setup.fake.sign_in(&to_provider).await;
    assert_eq!(
        setup
            .fake
            .authorize_param("code_challenge_method")
            .as_deref(),
        Some("S256")
    );
    assert_eq!(
        setup.fake.authorize_param("client_id").as_deref(),
        Some("example-app")
    );
    assert_eq!(
        setup.fake.authorize_param("scope").as_deref(),
        Some("profile")
    );

    let response = go(&browser, back.as_str()).await;
    assert_eq!(location(&response), "/protected?tab=1");
    let page = go(&browser, &setup.url("/protected?tab=1")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        page.text().await.expect("body"),
        "protected page for ferris-sub"
    );
    assert_eq!(setup.users.len(), 1);

    // Signing in again, in another browser, finds the same user.
    let other = self::browser();
    let back = until_callback(&setup, &other, "/login").await;
    assert_eq!(location(&go(&other, back.as_str()).await), "/");
    assert_eq!(setup.users.len(), 1);
}

#[tokio::test]
async fn a_tampered_state_is_refused() {
    let setup = Setup::start().await;
    let browser = browser();
    let back = until_callback(&setup, &browser, "/login").await;
    let tampered = with_query(&back, "state", "guessed");
    let response = go(&browser, tampered.as_str()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        go(&browser, &setup.url("/"))
            .await
            .text()
            .await
            .expect("body"),
        "not logged in; GET /login to log in with the provider"
    );
    assert!(setup.users.is_empty());
}

#[tokio::test]
async fn a_callback_without_a_login_under_way_is_refused() {
    let setup = Setup::start().await;
    // The attacker's own login, stopped at the callback and pushed into the victim's browser.
    let back = until_callback(&setup, &browser(), "/login").await;
    let victim = browser();
    let response = go(&victim, back.as_str()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = response.text().await.expect("body");
    assert!(body.contains("not started here"), "{body}");
    assert!(setup.users.is_empty());
}

#[tokio::test]
async fn an_open_redirect_next_lands_on_the_home_page() {
    let setup = Setup::start().await;
    for next in ["https%3A%2F%2Fevil.example%2F", "%2F%2Fevil.example"] {
        let browser = browser();
        let back = until_callback(&setup, &browser, &format!("/login?next={next}")).await;
        assert_eq!(location(&go(&browser, back.as_str()).await), "/", "{next}");
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
