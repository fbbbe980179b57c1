//! Reflected XSS through `next`, over HTTP against every example with a login page (the demo
//! `examples/sqlite`, and `examples/rusqlite`, `examples/sled`, `examples/sea-orm` and
//! `examples/ldap`): a `next` carrying `"`, `'`, `<`, `>` or a backtick never reaches the page
//! as it was sent, neither in the login form `GET /login?next=...` shows nor in the form a
//! failed `POST /login` shows again. Either `safe_next` drops it, or the page escapes it.

use std::net::SocketAddr;

use axum_login::SessionKey;
use axum_login_tests::{env::skipped, http::serve_with_addr};
use reqwest::{StatusCode, header::ACCEPT};

/// The characters that end an attribute (either quote), open or close a tag, or quote an
/// attribute in old browsers (the backtick).
const PROBES: [char; 5] = ['"', '\'', '<', '>', '`'];

/// Whole payloads of the kind an attacker sends.
const PAYLOADS: [&str; 4] = [
    "/\"><script>alert(1)</script>",
    "/'><script>alert(1)</script>",
    "/a\" autofocus onfocus=\"alert(1)",
    "/a`onmouseover=alert(1)`",
];

/// What must not appear in a page that was given `next`: for a probe, the probe character
/// followed by the marker; for a whole payload, its script or handler.
fn needles(next: &str) -> Vec<String> {
    let mut needles = Vec::new();
    for probe in PROBES {
        if let Some(at) = next.find(probe) {
            needles.push(next[at..].to_owned());
        }
    }
    needles
}

/// The value of the page's hidden `next` field with its character references resolved, as the
/// browser submits it.
fn hidden_next(body: &str) -> String {
    let field = r#"name="next" value=""#;
    let start = body.find(field).expect("the hidden next field") + field.len();
    let rest = &body[start..];
    let raw = &rest[..rest.find('"').expect("the value's closing quote")];
    raw.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#96;", "`")
        .replace("&amp;", "&")
}

/// Checks one page that was given `next`: nothing of it after its first dangerous character
/// is in the page as sent, and the hidden field submits either `next` itself or nothing.
fn check_page(example: &str, what: &str, next: &str, body: &str) {
    for needle in needles(next) {
        assert!(
            !body.contains(&needle),
            "{example}: {what} with next={next:?} puts {needle:?} into the page unescaped:\n{body}"
        );
    }
    let submitted = hidden_next(body);
    assert!(
        submitted.is_empty() || submitted == next,
        "{example}: {what} with next={next:?} submits next={submitted:?}"
    );
}

/// The login form with each probe and payload as `next`, shown by `GET /login` and again by a
/// failed `POST /login`.
async fn check_login_pages(example: &str, addr: SocketAddr) {
    // A browser: its cookie jar keeps what the login page sets, and it posts the form's CSRF
    // token where the page has one.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds");
    let mut nexts: Vec<String> = PROBES
        .iter()
        .map(|probe| format!("/probe{probe}marker"))
        .collect();
    nexts.extend(PAYLOADS.iter().map(|payload| (*payload).to_owned()));
    for next in &nexts {
        let response = client
            .get(format!("http://{addr}/login"))
            .query(&[("next", next)])
            .header(ACCEPT, "text/html")
            .send()
            .await
            .expect("GET /login is answered");
        assert_eq!(response.status(), StatusCode::OK, "{example}: GET /login");
        let body = response.text().await.expect("body is text");
        check_page(example, "GET /login", next, &body);
        let mut form = vec![
            ("username", "nobody".to_owned()),
            ("password", "wrong".to_owned()),
            ("next", next.clone()),
        ];
        if let Some(token) = csrf_token(&body) {
            form.push(("csrf_token", token));
        }

        let response = client
            .post(format!("http://{addr}/login"))
            .form(&form)
            .header(ACCEPT, "text/html")
            .send()
            .await
            .expect("POST /login is answered");
        assert!(
            response.status().is_client_error(),
            "{example}: a failed login answers {}",
            response.status()
        );
        let body = response.text().await.expect("body is text");
        check_page(example, "a failed POST /login", next, &body);
    }
}

/// The CSRF token of the page's form, if it has one.
fn csrf_token(body: &str) -> Option<String> {
    let field = r#"<input type="hidden" name="csrf_token" value=""#;
    let value = &body[body.find(field)? + field.len()..];
    Some(value[..value.find('"')?].to_owned())
}

#[tokio::test]
async fn the_demo_never_reflects_next_unescaped() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let demo = example_sqlite::Demo::new(example_sqlite::Config {
        database: dir.path().join("demo.db"),
        session_key: None,
        mfa_key: None,
        ..example_sqlite::Config::default()
    })
    .await
    .expect("the demo starts on a fresh database");
    check_login_pages("examples/sqlite", serve_with_addr(demo.router()).await).await;
}

#[tokio::test]
async fn the_rusqlite_example_never_reflects_next_unescaped() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let app = example_rusqlite::App::new(example_rusqlite::Config {
        path: dir.path().join("example.db"),
        session_key: None,
    })
    .await
    .expect("the example starts on a fresh file");
    check_login_pages("examples/rusqlite", serve_with_addr(app.router()).await).await;
}

#[tokio::test]
async fn the_sled_example_never_reflects_next_unescaped() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let app = example_sled::App::new(example_sled::Config {
        path: dir.path().join("db"),
        session_key: None,
    })
    .await
    .expect("the example starts on a fresh directory");
    check_login_pages("examples/sled", serve_with_addr(app.router()).await).await;
}

#[tokio::test]
async fn the_sea_orm_example_never_reflects_next_unescaped() {
    for store in [
        example_sea_orm::StoreKind::Sqlx,
        example_sea_orm::StoreKind::SeaOrm,
    ] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let app = example_sea_orm::App::new(example_sea_orm::Config {
            database_url: format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("example.db").display()
            ),
            store,
            session_key: None,
        })
        .await
        .expect("the example starts on a fresh database");
        check_login_pages("examples/sea-orm", serve_with_addr(app.router()).await).await;
    }
}

#[tokio::test]
async fn the_ldap_example_never_reflects_next_unescaped() {
    let test = "the_ldap_example_never_reflects_next_unescaped";
    let settings = example_ldap::Settings::from_env().expect("LDAP settings");
    let store = example_ldap::store(&settings).expect("the example's configuration builds");
    if let Err(error) = store.connect().await {
        skipped(
            test,
            &format!(
                "the LDAP directory at {} is unreachable ({error}); tests/ldap/start-slapd.sh starts one",
                settings.url
            ),
        );
        return;
    }
    let addr = serve_with_addr(example_ldap::app(store, SessionKey::generate())).await;
    check_login_pages("examples/ldap", addr).await;
}

#[test]
fn the_probes_are_found_where_they_are() {
    assert_eq!(needles("/probe\"marker"), ["\"marker"]);
    assert_eq!(
        needles("/a\"b<c"),
        ["\"b<c".to_owned(), "<c".to_owned()],
        "one needle per probe character present"
    );
    assert!(needles("/plain").is_empty());
    assert_eq!(
        hidden_next(r#"<input type="hidden" name="next" value="/a&#x27;b&amp;c">"#),
        "/a'b&c"
    );
}
