//! `examples/ldap` over HTTP against the test directory of `tests/ldap/start-slapd.sh` (the
//! variables it writes, or their defaults): each page, each kind of caller. Prints `SKIPPED`
//! and passes when the directory is unreachable, except under `CI=true`.

use std::{net::SocketAddr, sync::Arc};

use axum_login::SessionKey;
use example_ldap::Settings;
use reqwest::{
    StatusCode,
    cookie::Jar,
    header::{ACCEPT, HeaderMap, HeaderValue, LOCATION},
    redirect::Policy,
};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// The example on an ephemeral loopback port, or `None` after a loud `SKIPPED`.
async fn start(test: &str) -> Option<String> {
    let settings = Settings::from_env().expect("LDAP settings");
    let store = example_ldap::store(&settings).expect("the example's configuration builds");
    if let Err(error) = store.connect().await {
        if in_ci() {
            panic!(
                "the LDAP directory at {} is unreachable under CI: {error}",
                settings.url
            );
        }
        eprintln!(
            "\n**********\nSKIPPED {test}: the LDAP directory at {} is unreachable ({error}); start it with tests/ldap/start-slapd.sh, or set CI=true to make this a failure\n**********\n",
            settings.url
        );
        return None;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    let app = example_ldap::app(store, SessionKey::generate());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("server runs");
    });
    Some(format!("http://{addr}"))
}

/// A browser: its own cookie jar, redirects not followed so each answer can be checked.
fn browser() -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static(BROWSER_ACCEPT));
    reqwest::Client::builder()
        .default_headers(headers)
        .cookie_provider(Arc::new(Jar::default()))
        .redirect(Policy::none())
        .build()
        .expect("client builds")
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let response = client
        .post(format!("{base}/login"))
        .form(form)
        .send()
        .await
        .expect("POST /login");
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (status, location, response.text().await.expect("body"))
}

async fn get(client: &reqwest::Client, url: String) -> (StatusCode, String) {
    let response = client.get(url).send().await.expect("GET");
    (response.status(), response.text().await.expect("body"))
}

#[tokio::test]
async fn pages_for_anonymous_visitors() {
    let Some(base) = start("pages_for_anonymous_visitors").await else {
        return;
    };
    let client = browser();
    let (status, body) = get(&client, format!("{base}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Nobody is logged in."), "{body}");

    let (status, body) = get(&client, format!("{base}/login?next=%2Fadmin")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"name="next" value="/admin""#), "{body}");
    let (_, body) = get(&client, format!("{base}/login?next=https://evil.example/")).await;
    assert!(body.contains(r#"name="next" value="""#), "{body}");

    let response = client
        .get(format!("{base}/protected"))
        .send()
        .await
        .expect("GET /protected");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login?next=%2Fprotected");
    let api = client
        .get(format!("{base}/protected"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("GET /protected as an API client");
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let logout = client
        .get(format!("{base}/logout"))
        .send()
        .await
        .expect("GET /logout");
    assert_eq!(logout.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_failed_login_answers_one_page_whatever_was_wrong() {
    let Some(base) = start("a_failed_login_answers_one_page_whatever_was_wrong").await else {
        return;
    };
    let mut answers = Vec::new();
    for form in [
        &[("username", "ferris"), ("password", "wrong")][..],
        &[("username", "nobody-here"), ("password", "hunter42")],
        &[("username", "ferris"), ("password", "")],
        &[("username", "ferris")],
        &[("username", "*"), ("password", "hunter42")],
    ] {
        answers.push(login(&browser(), &base, form).await);
    }
    let first = &answers[0];
    assert_eq!(first.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        first.2.contains("Wrong username or password."),
        "{}",
        first.2
    );
    for answer in &answers {
        assert_eq!(answer, first);
    }
}

#[tokio::test]
async fn login_follows_next_and_the_admin_group_opens_admin() {
    let Some(base) = start("login_follows_next_and_the_admin_group_opens_admin").await else {
        return;
    };
    let ferris = browser();
    let (status, location, _) = login(
        &ferris,
        &base,
        &[
            ("username", "ferris"),
            ("password", "hunter42"),
            ("next", "/protected"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/protected"));
    let (status, body) = get(&ferris, format!("{base}/protected")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(r#"<p id="name">Ferris the Crab</p>"#),
        "{body}"
    );
    assert!(body.contains(r#"<span id="roles">user</span>"#), "{body}");
    let (status, _) = get(&ferris, format!("{base}/admin")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let admin = browser();
    let (status, location, _) = login(
        &admin,
        &base,
        &[
            ("username", "admin"),
            ("password", "correct-horse-battery"),
            ("next", "https://evil.example/"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/"), "an unsafe next goes home");
    let (status, body) = get(&admin, format!("{base}/admin")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(r#"<span id="roles">admin, user</span>"#),
        "{body}"
    );

    let response = ferris
        .post(format!("{base}/logout"))
        .send()
        .await
        .expect("POST /logout");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login");
    let (status, _) = get(&ferris, format!("{base}/protected")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = get(&admin, format!("{base}/admin")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another user's logout leaves this one"
    );
}

#[tokio::test]
async fn a_cross_site_login_is_refused_before_the_directory() {
    let Some(base) = start("a_cross_site_login_is_refused_before_the_directory").await else {
        return;
    };
    let response = browser()
        .post(format!("{base}/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("username", "ferris"), ("password", "hunter42")])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
