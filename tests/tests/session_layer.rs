//! `session_layer()` handles the session cookie itself; a `SessionManagerLayer` goes through
//! tower-sessions' own manager. Both must behave the same: the same cookie, saved and removed at
//! the same moments. Each scenario runs against both and compares the `Set-Cookie` headers
//! (without the session id and the removal's `Expires` date, which differ by nature). Where
//! they differ on purpose (a removal cookie from an instance that never set the cookie), the
//! test says so.

use axum::{
    Router,
    routing::{get, post},
};
use axum_login::{AuthLayer, session_layer};
use axum_login_tests::{
    directory::TestStore, http::bare_client, http::serve, http::set_cookie_headers,
};
use reqwest::header::COOKIE;
use tower_sessions::{
    Expiry, MemoryStore, Session, SessionManagerLayer,
    cookie::{SameSite, time::Duration},
};

async fn write(session: Session) -> &'static str {
    session
        .insert("n", 1)
        .await
        .expect("the memory store works");
    "written"
}

async fn read(session: Session) -> String {
    let n: Option<i32> = session.get("n").await.expect("the memory store works");
    format!("{n:?}")
}

async fn end(session: Session) -> &'static str {
    session.flush().await.expect("the memory store works");
    "ended"
}

fn routes() -> Router {
    Router::new()
        .route("/write", post(write))
        .route("/read", get(read))
        .route("/end", post(end))
}

/// The same settings twice: through `session_layer` and through tower-sessions' own layer.
async fn both(always_save: bool) -> [String; 2] {
    let ours = session_layer(MemoryStore::default())
        .with_name("sid")
        .with_secure(false)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_domain("localhost")
        .with_expiry(Expiry::OnInactivity(Duration::hours(1)))
        .with_always_save(always_save);
    let theirs = SessionManagerLayer::new(MemoryStore::default())
        .with_name("sid")
        .with_secure(false)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_domain("localhost")
        .with_expiry(Expiry::OnInactivity(Duration::hours(1)))
        .with_always_save(always_save);
    let ours = routes().layer(AuthLayer::builder(TestStore::default(), ours).build());
    let theirs = routes().layer(AuthLayer::builder(TestStore::default(), theirs).build());
    [serve(ours).await, serve(theirs).await].map(|addr| format!("http://{addr}"))
}

/// A `Set-Cookie` header as a sorted list of its parts, the session id and the removal's
/// `Expires` date blanked.
fn shape(header: &str) -> Vec<String> {
    let mut parts: Vec<String> = header
        .split(';')
        .map(str::trim)
        .enumerate()
        .map(|(n, part)| match part.split_once('=') {
            Some((name, value)) if n == 0 && !value.is_empty() => format!("{name}=<id>"),
            Some((name, _)) if name.eq_ignore_ascii_case("expires") => "Expires=<date>".to_owned(),
            _ => part.to_owned(),
        })
        .collect();
    parts[1..].sort();
    parts
}

struct Step {
    set_cookies: Vec<Vec<String>>,
    cookie: Option<String>,
    body: String,
}

async fn send(base: &str, method: &str, path: &str, cookie: Option<&str>) -> Step {
    let client = bare_client();
    let mut request = match method {
        "POST" => client.post(format!("{base}{path}")),
        _ => client.get(format!("{base}{path}")),
    };
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("the server answers");
    let headers = set_cookie_headers(&response);
    let cookie = headers
        .iter()
        .filter_map(|header| header.split(';').next())
        .find(|pair| pair.starts_with("sid=") && pair.len() > "sid=".len())
        .map(str::to_owned);
    Step {
        set_cookies: headers.iter().map(|header| shape(header)).collect(),
        cookie,
        body: response.text().await.expect("a body"),
    }
}

#[tokio::test]
async fn session_layer_sets_keeps_and_removes_the_cookie_as_tower_sessions_does() {
    let [ours, theirs] = both(false).await;
    let mut flows = Vec::new();
    for base in [&ours, &theirs] {
        let written = send(base, "POST", "/write", None).await;
        let cookie = written
            .cookie
            .clone()
            .expect("a session cookie after a write");
        let kept = send(base, "GET", "/read", Some(&cookie)).await;
        let ended = send(base, "POST", "/end", Some(&cookie)).await;
        let after = send(base, "GET", "/read", Some(&cookie)).await;
        flows.push([written, kept, ended, after]);
    }
    let [ours, theirs] = [&flows[0], &flows[1]];
    let expected_cookie =
        shape("sid=x; HttpOnly; SameSite=Strict; Path=/; Domain=localhost; Max-Age=3600");
    assert_eq!(ours[0].set_cookies, vec![expected_cookie]);
    assert_eq!(ours[1].body, "Some(1)");
    assert!(
        ours[1].set_cookies.is_empty(),
        "an unchanged session is not re-sent"
    );
    assert_eq!(ours[2].set_cookies.len(), 1);
    assert!(
        ours[2].set_cookies[0].contains(&"Max-Age=0".to_owned()),
        "{:?}",
        ours[2].set_cookies
    );
    assert_eq!(ours[3].body, "None", "a flushed session stays gone");
    for (step, (ours, theirs)) in ours.iter().zip(theirs.iter()).enumerate() {
        assert_eq!(ours.body, theirs.body, "step {step}");
        assert_eq!(ours.set_cookies, theirs.set_cookies, "step {step}");
    }
}

#[tokio::test]
async fn always_save_resends_the_cookie_on_every_request_on_both() {
    let [ours, theirs] = both(true).await;
    for base in [&ours, &theirs] {
        let written = send(base, "POST", "/write", None).await;
        let cookie = written.cookie.expect("a session cookie after a write");
        let kept = send(base, "GET", "/read", Some(&cookie)).await;
        assert_eq!(kept.body, "Some(1)", "{base}");
        assert_eq!(kept.set_cookies.len(), 1, "{base}: {:?}", kept.set_cookies);
    }
}

#[tokio::test]
async fn a_malformed_or_unknown_session_cookie_is_a_new_session_on_both() {
    let [ours, theirs] = both(false).await;
    for cookie in [
        "sid=not-an-id",
        "sid=AAAAAAAAAAAAAAAAAAAAAA",
        "sid=\"\"",
        "other=1; sid=%%%",
    ] {
        let [ours, theirs] = [
            send(&ours, "GET", "/read", Some(cookie)).await,
            send(&theirs, "GET", "/read", Some(cookie)).await,
        ];
        assert_eq!(ours.body, "None", "{cookie}");
        assert_eq!(ours.body, theirs.body, "{cookie}");
        // Both remove the unusable cookie. tower-sessions' manager on an instance that never
        // set it knows only its name, path and domain; ours repeats every attribute.
        assert_eq!(ours.set_cookies.len(), theirs.set_cookies.len(), "{cookie}");
        for (ours, theirs) in ours.set_cookies.iter().zip(&theirs.set_cookies) {
            assert!(
                theirs.iter().all(|part| ours.contains(part)),
                "{cookie}: {ours:?}"
            );
            for part in ["HttpOnly", "SameSite=Strict", "Max-Age=0"] {
                assert!(
                    ours.contains(&part.to_owned()),
                    "{cookie}: {part} in {ours:?}"
                );
            }
        }
    }
}
