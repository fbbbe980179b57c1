//! The security suite: what the framework does when someone attacks it, each point
//! proved over HTTP against a real server on an ephemeral loopback port. Items that need the
//! password hash live in `security_input.rs`, faults in `security_faults.rs`, property tests in
//! `security_fuzz.rs`.

use std::{sync::Arc, time::Duration};

use axum_login::{
    AuthLayer,
    clock::ManualClock,
    session::MemoryStore,
    session_layer,
    tower_sessions::{SessionManagerLayer, cookie::SameSite},
};
use axum_login_tests::{
    apps::{Gate, mem_app, mem_routes, mem_store, session_key},
    http::Visitor,
    http::forged_session_id,
    http::session_set_cookie,
    http::set_cookie_named,
    session_stores::InspectableStore,
};
use axum_login_tests::{http::bare_client, http::serve};
use reqwest::{
    StatusCode,
    header::{ACCEPT, CACHE_CONTROL, LOCATION, VARY},
};

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

// ---- 1. cookie attributes ------------------------------------------------------------------

#[tokio::test]
async fn session_layer_cookie_is_httponly_lax_secure_host_only() {
    let app = mem_app().await;
    let visitor = Visitor::new(&app.base);
    let response = visitor.login("ferris", "pw-ferris").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = session_set_cookie(&response).expect("login sets the session cookie");
    assert!(cookie.has("httponly"), "no HttpOnly: {}", cookie.raw);
    assert!(cookie.has("secure"), "no Secure: {}", cookie.raw);
    assert_eq!(
        cookie
            .attribute("samesite")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("lax"),
        "{}",
        cookie.raw
    );
    assert_eq!(cookie.attribute("path"), Some("/"), "{}", cookie.raw);
    assert!(
        !cookie.has("domain"),
        "a Domain widens the cookie: {}",
        cookie.raw
    );
}

#[tokio::test]
async fn an_apps_explicit_cookie_choices_are_kept() {
    // The demo turns Secure off on plain-HTTP loopback, on top of the safe defaults.
    let sessions = session_layer(MemoryStore::default()).with_secure(false);
    let layer = AuthLayer::builder(mem_store(), sessions)
        .session_key(session_key())
        .build();
    let addr = serve(mem_routes(Arc::new(Gate::default())).layer(layer)).await;
    let response = Visitor::new(&format!("http://{addr}"))
        .login("ferris", "pw-ferris")
        .await;
    // Not `Secure`, so no `__Host-` prefix: browsers accept it only on a secure cookie.
    let cookie = set_cookie_named(&response, "id").expect("a cookie named id");
    assert!(!cookie.has("secure"), "{}", cookie.raw);
    assert!(cookie.has("httponly"), "{}", cookie.raw);
    assert_eq!(cookie.attribute("samesite"), Some("Lax"), "{}", cookie.raw);

    // A plain tower-sessions layer configured by the app: the auth layer changes none of it.
    let sessions = SessionManagerLayer::new(MemoryStore::default())
        .with_secure(false)
        .with_http_only(false)
        .with_same_site(SameSite::Strict)
        .with_name("sid")
        .with_path("/");
    let layer = AuthLayer::builder(mem_store(), sessions)
        .session_key(session_key())
        .build();
    let addr = serve(mem_routes(Arc::new(Gate::default())).layer(layer)).await;
    let response = bare_client()
        .post(format!("http://{addr}/login"))
        .form(&[("username", "ferris"), ("password", "pw-ferris")])
        .send()
        .await
        .expect("login");
    let cookie = set_cookie_named(&response, "sid").expect("the session cookie, named sid");
    let raw = &cookie.raw;
    assert!(!cookie.has("secure"), "{raw}");
    assert!(!cookie.has("httponly"), "{raw}");
    assert_eq!(cookie.attribute("samesite"), Some("Strict"), "{raw}");
}

// ---- 2. fixation ---------------------------------------------------------------------------

#[tokio::test]
async fn a_session_id_the_server_never_issued_is_not_adopted() {
    let app = mem_app().await;
    let planted = forged_session_id();
    assert_eq!(planted.len(), 22);
    let victim = Visitor::with_cookie(&app.base, &planted);

    // Anonymous use of the planted id: it is not logged in, and the server does not echo it.
    let response = victim.get("/me").await;
    assert_eq!(response.text().await.expect("body"), "anonymous");
    let response = victim
        .send(
            victim
                .client
                .post(victim.url("/raw"))
                .json(&serde_json::json!(null)),
        )
        .await;
    if let Some(cookie) = session_set_cookie(&response) {
        assert_ne!(cookie.value, planted, "the server adopted a planted id");
    }
    victim.set_cookie(Some(planted.clone()));

    let response = victim.login("ferris", "pw-ferris").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let issued = session_set_cookie(&response)
        .expect("login sets a cookie")
        .value;
    assert_ne!(issued, planted, "login kept the planted id");
    assert!(
        !app.sessions.holds(&planted).await,
        "the store holds the planted id"
    );
    assert!(
        !app.sessions.ids_created().contains(&planted),
        "the store created a session under the planted id"
    );
    // The attacker, holding the planted id, is nobody.
    assert_eq!(
        Visitor::with_cookie(&app.base, &planted).whoami().await,
        "anonymous"
    );
    assert_eq!(victim.whoami().await, "ferris");
}

#[tokio::test]
async fn every_login_yields_a_new_session_id() {
    let app = mem_app().await;
    let visitor = Visitor::new(&app.base);
    let mut seen = std::collections::HashSet::new();
    for (name, password) in [
        ("ferris", "pw-ferris"),
        ("ferris", "pw-ferris"),
        ("admin", "pw-admin"),
        ("ferris", "pw-ferris"),
    ] {
        let before = visitor.cookie();
        let response = visitor.login(name, password).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let after = session_set_cookie(&response)
            .expect("every login sets a cookie")
            .value;
        assert_ne!(Some(after.clone()), before, "login as {name} kept the id");
        assert!(seen.insert(after.clone()), "an id came back");
        if let Some(before) = before {
            assert!(
                !app.sessions.holds(&before).await,
                "the previous id lives on"
            );
        }
        assert_eq!(visitor.whoami().await, name);
    }
}

#[tokio::test]
async fn an_ordinary_request_keeps_the_session_id() {
    // Only a login or a re-authentication changes the id: one that changed on every request
    // would log a user out of every tab whose request raced another.
    let app = mem_app().await;
    let visitor = Visitor::new(&app.base);
    assert_eq!(
        visitor.login("ferris", "pw-ferris").await.status(),
        StatusCode::SEE_OTHER
    );
    let id = visitor.cookie().expect("the login sets the session cookie");
    for _ in 0..3 {
        let response = visitor.get("/me").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            session_set_cookie(&response).is_none_or(|cookie| cookie.value == id),
            "the id changed on GET /me"
        );
    }
    assert_eq!(visitor.cookie(), Some(id.clone()));
    assert!(app.sessions.holds(&id).await, "the session lives on");
}

// ---- 7. no resurrection --------------------------------------------------------------------

/// Starts `GET /slow` with `visitor`'s cookie and waits until it has loaded and written the
/// session.
async fn start_slow_request(
    app_gate: &Arc<Gate>,
    visitor: &Visitor,
) -> tokio::task::JoinHandle<reqwest::Response> {
    assert!(visitor.cookie().is_some(), "logged in");
    let slow = visitor.fork();
    let handle = tokio::spawn(async move { slow.get("/slow").await });
    tokio::time::timeout(Duration::from_secs(10), app_gate.entered.notified())
        .await
        .expect("the slow request reached its handler");
    handle
}

#[tokio::test]
async fn a_slow_request_cannot_bring_back_a_logged_out_session() {
    let app = mem_app().await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", "pw-ferris").await;
    let cookie = visitor.cookie().expect("logged in");

    let slow = start_slow_request(&app.gate, &visitor).await;
    let response = visitor.post("/logout").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        !app.sessions.holds(&cookie).await,
        "logout deleted the session"
    );

    app.gate.release.notify_one();
    let response = slow.await.expect("slow request task");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("body"), "ferris");

    assert!(
        !app.sessions.holds(&cookie).await,
        "the slow request saved the deleted session back"
    );
    assert_eq!(
        Visitor::with_cookie(&app.base, &cookie).whoami().await,
        "anonymous"
    );
}

#[tokio::test]
async fn a_slow_request_cannot_bring_back_a_session_whose_id_was_rotated() {
    let app = mem_app().await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", "pw-ferris").await;
    let old = visitor.cookie().expect("logged in");

    let slow = start_slow_request(&app.gate, &visitor).await;
    // A second login on the same cookie rotates the id.
    visitor.login("ferris", "pw-ferris").await;
    let new = visitor.cookie().expect("still logged in");
    assert_ne!(old, new);

    app.gate.release.notify_one();
    slow.await.expect("slow request task");

    assert!(!app.sessions.holds(&old).await, "the old id was saved back");
    assert_eq!(
        Visitor::with_cookie(&app.base, &old).whoami().await,
        "anonymous"
    );
    assert_eq!(visitor.whoami().await, "ferris");
}

#[tokio::test]
async fn without_the_wrapper_a_slow_request_would_resurrect_the_session() {
    // The control: the race is real, and the test above would see it. tower-sessions' own
    // memory store saves with an upsert.
    let store = mem_store();
    let gate = Arc::new(Gate::default());
    let sessions = tower_sessions::MemoryStore::default();
    let layer = AuthLayer::builder(store, SessionManagerLayer::new(sessions))
        .session_key(session_key())
        .build();
    let addr = serve(mem_routes(gate.clone()).layer(layer)).await;
    let base = format!("http://{addr}");
    let visitor = Visitor::new(&base).named("id");
    visitor.login("ferris", "pw-ferris").await;
    let cookie = visitor.cookie().expect("logged in");
    let slow = start_slow_request(&gate, &visitor).await;
    visitor.post("/logout").await;
    gate.release.notify_one();
    slow.await.expect("slow request task");
    assert_eq!(
        Visitor::with_cookie(&base, &cookie)
            .named("id")
            .whoami()
            .await,
        "ferris",
        "a plain upserting store resurrects the session (if this fails, tower-sessions changed)"
    );
}

// ---- 8. password change --------------------------------------------------------------------

#[tokio::test]
async fn a_password_change_keeps_this_session_under_a_new_id_and_ends_the_others() {
    let app = mem_app().await;
    let laptop = Visitor::new(&app.base);
    let phone = Visitor::new(&app.base);
    laptop.login("ferris", "pw-ferris").await;
    phone.login("ferris", "pw-ferris").await;
    let before = laptop.cookie().expect("logged in");

    let response = laptop
        .post_form("/password", &[("new_password", "a new password")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let after = session_set_cookie(&response)
        .expect("the changing session gets a new cookie")
        .value;
    assert_ne!(after, before, "the changing session kept its id");
    assert_eq!(laptop.whoami().await, "ferris");
    assert_eq!(
        Visitor::with_cookie(&app.base, &before).whoami().await,
        "anonymous"
    );

    let response = phone.get("/protected").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(phone.whoami().await, "anonymous");

    // The old password no longer works; the new one does.
    let other = Visitor::new(&app.base);
    assert_eq!(
        other.login("ferris", "pw-ferris").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        other.login("ferris", "a new password").await.status(),
        StatusCode::SEE_OTHER
    );
}

// ---- 9. caching and logout -----------------------------------------------------------------

fn assert_private(response: &reqwest::Response, what: &str) {
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "{what}: Cache-Control"
    );
    let vary: Vec<String> = response
        .headers()
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    assert!(
        vary.iter().any(|v| v == "cookie"),
        "{what}: Vary is {vary:?}"
    );
}

#[tokio::test]
async fn user_dependent_responses_are_never_cached() {
    let app = mem_app().await;
    let visitor = Visitor::new(&app.base);

    let response = visitor.get("/me").await;
    assert_private(&response, "anonymous /me");
    let response = visitor
        .send(
            visitor
                .client
                .get(visitor.url("/protected"))
                .header(ACCEPT, HTML),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers().contains_key(LOCATION));
    assert_private(&response, "redirect to login");
    let response = visitor.get("/protected").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_private(&response, "401");

    let response = visitor.login("ferris", "pw-ferris").await;
    assert_private(&response, "login");
    let response = visitor.get("/me").await;
    assert_private(&response, "logged-in /me");
    let response = visitor.get("/protected").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_private(&response, "guarded 200");
    let response = visitor.post("/logout").await;
    assert_private(&response, "logout");

    // A page that never asks who the user is stays cacheable.
    let response = visitor.get("/public").await;
    assert!(response.headers().get(CACHE_CONTROL).is_none());
}

#[tokio::test]
async fn logout_removes_the_cookie_with_the_attributes_it_was_set_with() {
    let app = mem_app().await;
    let visitor = Visitor::new(&app.base);
    let set = session_set_cookie(&visitor.login("ferris", "pw-ferris").await).expect("set");
    let response = visitor.post("/logout").await;
    let removal = session_set_cookie(&response).expect("logout sends a removal cookie");
    assert!(removal.removes(), "not a removal: {}", removal.raw);
    assert_eq!(
        removal.attribute("path"),
        set.attribute("path"),
        "{}",
        removal.raw
    );
    assert_eq!(
        removal.attribute("domain"),
        set.attribute("domain"),
        "{}",
        removal.raw
    );
    for flag in ["secure", "httponly"] {
        assert_eq!(
            removal.has(flag),
            set.has(flag),
            "{flag}: set with `{}`, removed with `{}`",
            set.raw,
            removal.raw
        );
    }
    assert_eq!(
        removal.attribute("samesite"),
        set.attribute("samesite"),
        "set with `{}`, removed with `{}`",
        set.raw,
        removal.raw
    );
    assert_eq!(visitor.cookie(), None);
}

// ---- 12. load ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_as_twenty_users_never_see_each_other() {
    const CLIENTS: usize = 200;
    const ROUNDS: usize = 3;
    let app = mem_app().await;
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let base = app.base.clone();
        tasks.spawn(async move {
            let user = format!("user{:02}", client % 20);
            let password = format!("pw-{user}");
            let visitor = Visitor::new(&base);
            let mut problems = Vec::new();
            for round in 0..ROUNDS {
                let response = visitor.login(&user, &password).await;
                if response.status() != StatusCode::SEE_OTHER {
                    problems.push(format!("{user} round {round}: login {}", response.status()));
                    continue;
                }
                for path in ["/me", "/protected", "/me"] {
                    let response = visitor.get(path).await;
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    if status.is_server_error() {
                        problems.push(format!("{user} {path}: {status}"));
                    } else if !body.ends_with(&user) {
                        problems.push(format!("{user} {path}: saw `{body}`"));
                    }
                }
                let cookie = visitor.cookie().unwrap_or_default();
                let response = visitor.post("/logout").await;
                if response.status() != StatusCode::SEE_OTHER {
                    problems.push(format!("{user} logout: {}", response.status()));
                }
                let replay = Visitor::with_cookie(&base, &cookie).get("/me").await;
                let status = replay.status();
                let body = replay.text().await.unwrap_or_default();
                if status.is_server_error() || body != "anonymous" {
                    problems.push(format!("{user} after logout: {status} `{body}`"));
                }
            }
            problems
        });
    }
    let problems = tokio::time::timeout(Duration::from_secs(120), async {
        let mut all = Vec::new();
        while let Some(result) = tasks.join_next().await {
            all.extend(result.expect("client task"));
        }
        all
    })
    .await
    .expect("the load run finishes within two minutes");
    eprintln!(
        "load: {CLIENTS} clients x {ROUNDS} rounds ({} requests) in {:?}",
        CLIENTS * ROUNDS * 6,
        started.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} problems: {:#?}",
        problems.len(),
        &problems[..problems.len().min(20)]
    );
}

// ---- 3. cross-site login and logout --------------------------------------------------------

/// `POST /login` as ferris with extra headers; whether it logged in.
async fn login_with(visitor: &Visitor, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = visitor
        .client
        .post(visitor.url("/login"))
        .form(&[("username", "ferris"), ("password", "pw-ferris")]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    visitor.send(request).await
}

async fn logout_with(visitor: &Visitor, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = visitor.client.post(visitor.url("/logout"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    visitor.send(request).await
}

fn refusals() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "Sec-Fetch-Site: cross-site",
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "Sec-Fetch-Site: same-site",
            vec![("sec-fetch-site", "same-site")],
        ),
        ("a foreign Origin", vec![("origin", "https://evil.example")]),
        ("Origin: null", vec![("origin", "null")]),
        (
            "a foreign Origin on a lookalike port",
            vec![("origin", "http://127.0.0.1:1")],
        ),
    ]
}

#[tokio::test]
async fn cross_site_login_is_refused() {
    let app = mem_app().await;
    for (what, headers) in refusals() {
        let visitor = Visitor::new(&app.base);
        let calls = app
            .store
            .authenticate_calls
            .load(std::sync::atomic::Ordering::SeqCst);
        let response = login_with(&visitor, &headers).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        assert_eq!(visitor.whoami().await, "anonymous", "{what}: logged in");
        assert_eq!(
            app.store
                .authenticate_calls
                .load(std::sync::atomic::Ordering::SeqCst),
            calls,
            "{what}: the store checked the credentials"
        );
    }
}

#[tokio::test]
async fn cross_site_logout_is_refused() {
    let app = mem_app().await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", "pw-ferris").await;
    for (what, headers) in refusals() {
        let response = logout_with(&visitor, &headers).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        assert_eq!(visitor.whoami().await, "ferris", "{what}: logged out");
    }
}

#[tokio::test]
async fn an_origin_is_this_site_only_with_its_scheme_host_and_port() {
    let secure = mem_app().await;
    let host = secure.base.trim_start_matches("http://").to_owned();
    let (ip, port) = host.rsplit_once(':').expect("host:port");
    let other_port = format!("https://{ip}:{}", port.parse::<u16>().expect("a port") ^ 1);
    let cases = [
        (format!("https://{host}"), StatusCode::SEE_OTHER),
        (
            format!("HTTPS://{}", host.to_uppercase()),
            StatusCode::SEE_OTHER,
        ),
        (format!("http://{host}"), StatusCode::FORBIDDEN),
        (format!("ftp://{host}"), StatusCode::FORBIDDEN),
        (format!("wss://{host}"), StatusCode::FORBIDDEN),
        (other_port, StatusCode::FORBIDDEN),
        (format!("https://{ip}"), StatusCode::FORBIDDEN),
        (format!("https://{host}/login"), StatusCode::FORBIDDEN),
    ];
    for (origin, expected) in cases {
        let visitor = Visitor::new(&secure.base);
        let response = login_with(&visitor, &[("origin", origin.as_str())]).await;
        assert_eq!(
            response.status(),
            expected,
            "Origin: {origin} on an HTTPS site"
        );
    }
    // The same layer with a cookie that is not `Secure` serves plain HTTP: there `http://` is
    // the site and `https://` another.
    let sessions = session_layer(MemoryStore::default()).with_secure(false);
    let layer = AuthLayer::builder(mem_store(), sessions)
        .session_key(session_key())
        .build();
    let addr = serve(mem_routes(Arc::new(Gate::default())).layer(layer)).await;
    let base = format!("http://{addr}");
    for (origin, expected) in [
        (format!("http://{addr}"), StatusCode::SEE_OTHER),
        (format!("https://{addr}"), StatusCode::FORBIDDEN),
    ] {
        let visitor = Visitor::new(&base).named("id");
        let response = login_with(&visitor, &[("origin", origin.as_str())]).await;
        assert_eq!(
            response.status(),
            expected,
            "Origin: {origin} on a plain-HTTP site"
        );
    }
}

#[tokio::test]
async fn same_origin_direct_and_trusted_logins_are_allowed() {
    let app = axum_login_tests::apps::mem_app_with(InspectableStore::default(), |builder| {
        builder.trusted_origin("https://app.example")
    })
    .await;
    // The app's cookie is `Secure`: the site is served over HTTPS (here behind a test that
    // speaks plain HTTP), so its own origin is `https://` and its host.
    let own = app.base.replacen("http://", "https://", 1);
    let allowed = [
        (
            "Sec-Fetch-Site: same-origin",
            vec![("sec-fetch-site", "same-origin")],
        ),
        ("Sec-Fetch-Site: none", vec![("sec-fetch-site", "none")]),
        ("no such headers (curl)", vec![]),
        ("its own Origin", vec![("origin", own.as_str())]),
        ("a trusted origin", vec![("origin", "https://app.example")]),
        (
            "a trusted origin with Sec-Fetch-Site: cross-site",
            vec![
                ("origin", "https://app.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
    ];
    for (what, headers) in allowed {
        let visitor = Visitor::new(&app.base);
        let response = login_with(&visitor, &headers).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login with {what}"
        );
        assert_eq!(visitor.whoami().await, "ferris", "login with {what}");
        let response = logout_with(&visitor, &headers).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "logout with {what}"
        );
        assert_eq!(visitor.whoami().await, "anonymous", "logout with {what}");
    }
}

#[tokio::test]
async fn allow_cross_site_auth_opts_out() {
    let app = axum_login_tests::apps::mem_app_with(InspectableStore::default(), |builder| {
        builder.allow_cross_site_auth()
    })
    .await;
    let visitor = Visitor::new(&app.base);
    let response = login_with(&visitor, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(visitor.whoami().await, "ferris");
}

// ---- 6. timeouts ---------------------------------------------------------------------------

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn an_idle_session_ends_and_activity_keeps_it_alive() {
    let clock = ManualClock::new();
    let app = axum_login_tests::apps::mem_app_with(InspectableStore::default(), {
        let clock = clock.clone();
        |builder| builder.clock(clock).idle_timeout(Some(30 * MINUTE))
    })
    .await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", "pw-ferris").await;
    // Used every 20 minutes for two hours: never idle for 30.
    for _ in 0..6 {
        clock.advance(20 * MINUTE);
        assert_eq!(visitor.whoami().await, "ferris");
    }
    let cookie = visitor.cookie().expect("logged in");
    clock.advance(31 * MINUTE);
    assert_eq!(visitor.whoami().await, "anonymous", "31 idle minutes");
    assert!(
        !app.sessions.holds(&cookie).await,
        "the idle session is still stored"
    );
    assert_eq!(
        Visitor::with_cookie(&app.base, &cookie)
            .get("/protected")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_absolute_timeout_ends_even_an_active_session() {
    let clock = ManualClock::new();
    let app = axum_login_tests::apps::mem_app_with(InspectableStore::default(), {
        let clock = clock.clone();
        |builder| {
            builder
                .clock(clock)
                .idle_timeout(Some(30 * MINUTE))
                .absolute_timeout(Some(120 * MINUTE))
        }
    })
    .await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", "pw-ferris").await;
    for _ in 0..6 {
        clock.advance(20 * MINUTE);
        assert_eq!(visitor.whoami().await, "ferris");
    }
    clock.advance(MINUTE);
    assert_eq!(
        visitor.whoami().await,
        "anonymous",
        "121 minutes after login"
    );
    // Logging in again starts a new login.
    visitor.login("ferris", "pw-ferris").await;
    assert_eq!(visitor.whoami().await, "ferris");
}

#[tokio::test]
async fn the_default_absolute_timeout_is_thirty_days() {
    let clock = ManualClock::new();
    let app = axum_login_tests::apps::mem_app_with(InspectableStore::default(), {
        let clock = clock.clone();
        |builder| builder.clock(clock)
    })
    .await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", "pw-ferris").await;
    clock.advance(axum_login::layer::DEFAULT_ABSOLUTE_TIMEOUT - MINUTE);
    assert_eq!(visitor.whoami().await, "ferris");
    clock.advance(2 * MINUTE);
    assert_eq!(visitor.whoami().await, "anonymous");
}

#[tokio::test]
async fn logout_on_another_instance_removes_the_cookie_with_its_attributes() {
    // Two instances sharing the session store (scale-out, or the same app after a restart):
    // the one that logs out never set this cookie itself.
    let sessions = InspectableStore::default();
    // Built in one process, the two instances name their realm, as separate processes share
    // the default one.
    let first =
        axum_login_tests::apps::mem_app_with(sessions.clone(), |builder| builder.realm("app"))
            .await;
    let second =
        axum_login_tests::apps::mem_app_with(sessions, |builder| builder.realm("app")).await;
    let visitor = Visitor::new(&first.base);
    let set = session_set_cookie(&visitor.login("ferris", "pw-ferris").await).expect("set");

    let on_second = Visitor::with_cookie(&second.base, &set.value);
    assert_eq!(
        on_second.whoami().await,
        "ferris",
        "the instances share sessions"
    );
    let response = on_second.post("/logout").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let removal = session_set_cookie(&response).expect("logout sends a removal cookie");
    assert!(removal.removes(), "{}", removal.raw);
    assert_eq!(
        removal.attribute("path"),
        set.attribute("path"),
        "{}",
        removal.raw
    );
    for flag in ["secure", "httponly"] {
        assert_eq!(
            removal.has(flag),
            set.has(flag),
            "{flag}: set with `{}`, removed by the other instance with `{}`",
            set.raw,
            removal.raw
        );
    }
    assert_eq!(
        removal.attribute("samesite"),
        set.attribute("samesite"),
        "set with `{}`, removed by the other instance with `{}`",
        set.raw,
        removal.raw
    );
    assert_eq!(visitor.whoami().await, "anonymous");
}

#[tokio::test]
async fn a_password_change_does_not_extend_the_absolute_timeout() {
    let clock = ManualClock::new();
    let app = axum_login_tests::apps::mem_app_with(InspectableStore::default(), {
        let clock = clock.clone();
        |builder| builder.clock(clock).absolute_timeout(Some(120 * MINUTE))
    })
    .await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", "pw-ferris").await;
    clock.advance(100 * MINUTE);
    let response = visitor
        .post_form("/password", &[("new_password", "another one")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    clock.advance(19 * MINUTE);
    assert_eq!(visitor.whoami().await, "ferris");
    clock.advance(2 * MINUTE);
    assert_eq!(
        visitor.whoami().await,
        "anonymous",
        "the password change restarted the login's clock"
    );
}
