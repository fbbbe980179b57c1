//! The second factor against an attacker, over HTTP against a small app on the in-memory
//! stores: guesses at the code spread over password re-entries and browsers lock the second
//! factor, the device cookie waits for the whole login, remember-me tokens are worth what the
//! login that issued them proved and end when the second factors change, and `fresh_mfa`
//! guards ask for the second factor itself. The demo's routes are held to the same in
//! `example_sqlite.rs`.

use std::{
    collections::{BTreeMap, HashSet},
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Extension, Form, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, CurrentUser, SessionKey,
    clock::ManualClock,
    error::BoxError,
    events::{AuthEvent, EventRecord, LoginFailure, SecondFactorChange},
    layer::AuthLayerBuilder,
    registry::{BoxFuture, MemorySessionRegistry, RegistryConfig},
    remember::{MemoryRememberStore, RememberMe},
    require_login,
    second_factor::SecondFactorLookup,
    session::{GuardedStore, MemoryStore},
    session_layer,
    tower_sessions::service::PlaintextCookie,
};
use axum_login_tests::{
    directory::{Credentials, TestStore, TestUser},
    http::serve_with_addr,
};
use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE};
use serde::Deserialize;

type Builder = AuthLayerBuilder<TestStore, GuardedStore<MemoryStore>, PlaintextCookie>;

const SESSION_COOKIE: &str = "__Host-id";
const REMEMBER_COOKIE: &str = "__Host-axum_login_remember";
const DEVICE_COOKIE: &str = "__Host-axum_login_device";
/// The code the app's second factor accepts.
const CODE: &str = "246810";

/// The users who have a second factor: what the app tells the layer, and what its login asks.
#[derive(Clone, Default)]
struct Enrolled(Arc<Mutex<HashSet<u64>>>);

impl Enrolled {
    fn add(&self, user: u64) {
        self.0.lock().expect("lock").insert(user);
    }

    fn has(&self, user: u64) -> bool {
        self.0.lock().expect("lock").contains(&user)
    }
}

impl SecondFactorLookup for Enrolled {
    fn has_second_factor<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<bool, BoxError>> {
        let enrolled = user.parse().is_ok_and(|id| self.has(id));
        Box::pin(async move { Ok(enrolled) })
    }
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    remember: Option<String>,
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn login(
    mut auth: AuthSession<TestStore>,
    Extension(enrolled): Extension<Enrolled>,
    Form(form): Form<LoginForm>,
) -> Result<Response, AuthError> {
    let credentials = Credentials {
        username: form.username,
        password: form.password,
    };
    let Some(user) = auth.authenticate(credentials).await? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let remember = form.remember.is_some();
    if enrolled.has(user.id) {
        auth.begin_second_factor(&user, remember).await?;
        return Ok((StatusCode::OK, "code please").into_response());
    }
    auth.login(&user).await?;
    if remember {
        auth.remember_me().await?;
    }
    Ok(StatusCode::SEE_OTHER.into_response())
}

async fn code(
    mut auth: AuthSession<TestStore>,
    Form(form): Form<CodeForm>,
) -> Result<StatusCode, AuthError> {
    let passed = auth
        .complete_second_factor(|_user| async move { Ok::<_, Infallible>(form.code == CODE) })
        .await?;
    Ok(if passed {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::UNAUTHORIZED
    })
}

/// The password entered again (a password change form's check).
async fn reauthenticate(
    mut auth: AuthSession<TestStore>,
    CurrentUser(user): CurrentUser<TestUser>,
    password: String,
) -> Result<StatusCode, AuthError> {
    let credentials = Credentials {
        username: user.name,
        password,
    };
    Ok(if auth.reauthenticate(credentials).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    })
}

/// What the app's enrolment, removal and new recovery codes do besides their own store.
#[require_login(fresh_mfa = "10m")]
async fn change_second_factor(
    mut auth: AuthSession<TestStore>,
    Extension(enrolled): Extension<Enrolled>,
    CurrentUser(user): CurrentUser<TestUser>,
) -> Result<StatusCode, AuthError> {
    enrolled.add(user.id);
    auth.second_factors_changed(SecondFactorChange::TotpEnrolled)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn due(auth: AuthSession<TestStore>) -> Result<String, AuthError> {
    Ok(match auth.second_factor_due().await? {
        Some(axum_login::SecondFactorDue::Login(user)) => format!("login {}", user.name),
        Some(axum_login::SecondFactorDue::StepUp(user)) => format!("step-up {}", user.name),
        None => "none".to_owned(),
    })
}

async fn me(user: Option<CurrentUser<TestUser>>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(user)| user.name)
}

#[require_login(mfa)]
async fn secure() -> &'static str {
    "secure"
}

/// The app and what the test inspects of it.
struct App {
    base: String,
    enrolled: Enrolled,
    events: Arc<Mutex<Vec<EventRecord>>>,
    clock: ManualClock,
}

impl App {
    fn events(&self) -> Vec<AuthEvent> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .map(|record| record.event.clone())
            .collect()
    }

    fn count(&self, wanted: &AuthEvent) -> usize {
        self.events()
            .iter()
            .filter(|event| *event == wanted)
            .count()
    }

    fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }
}

/// The app, its layer told who has a second factor unless `configure` builds it otherwise.
async fn app_with(lookup: bool, configure: impl FnOnce(Builder) -> Builder) -> App {
    let store = TestStore::with_users(&[(1, "alice", "pw-alice"), (2, "bob", "pw-bob")]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let clock = ManualClock::new();
    let enrolled = Enrolled::default();
    let sink = events.clone();
    let builder = AuthLayer::builder(store, session_layer(MemoryStore::default()))
        .session_key(SessionKey::from_bytes(&[7; 64]).expect("a key"))
        .clock(clock.clone())
        .second_factor_url("/login/code")
        .session_registry(RegistryConfig::new(MemorySessionRegistry::default()))
        .remember_me(RememberMe::new(MemoryRememberStore::default()))
        .events(move |record: &EventRecord| sink.lock().expect("lock").push(record.clone()));
    let builder = if lookup {
        builder.second_factors(enrolled.clone())
    } else {
        builder
    };
    let routes = Router::new()
        .route("/login", post(login))
        .route("/login/code", post(code))
        .route("/login/due", get(due))
        .route("/reauthenticate", post(reauthenticate))
        .route("/second-factor", post(change_second_factor))
        .route("/me", get(me))
        .route("/secure", get(secure))
        .layer(Extension(enrolled.clone()));
    let addr: SocketAddr = serve_with_addr(routes.layer(configure(builder).build())).await;
    App {
        base: format!("http://{addr}"),
        enrolled,
        events,
        clock,
    }
}

async fn app() -> App {
    app_with(true, |builder| builder).await
}

/// A browser's cookie jar that keeps every cookie by name whatever its `Secure` flag (the
/// suite speaks plain HTTP on loopback), and forgets one the server removes.
#[derive(Clone)]
struct Browser {
    client: reqwest::Client,
    base: String,
    jar: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client builds"),
            base: base.to_owned(),
            jar: Arc::default(),
        }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().expect("lock").get(name).cloned()
    }

    /// The browser restarts: the session cookie is gone, the long-lived cookies stay.
    fn restart(&self) {
        self.jar.lock().expect("lock").remove(SESSION_COOKIE);
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookies = self
            .jar
            .lock()
            .expect("lock")
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookies.is_empty() {
            request
        } else {
            request.header(COOKIE, cookies)
        };
        let response = request.send().await.expect("answered");
        for header in response.headers().get_all(SET_COOKIE) {
            let header = header.to_str().expect("an ASCII Set-Cookie");
            let pair = header.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').expect("name=value");
            let mut jar = self.jar.lock().expect("lock");
            if value.is_empty() || header.contains("Max-Age=0") {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        response
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    /// A request as an API client makes it: the guards answer `401`, not a redirect.
    async fn get_json(&self, path: &str) -> reqwest::Response {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .header(ACCEPT, "application/json"),
        )
        .await
    }

    async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .body(body.to_owned()),
        )
        .await
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.send(self.client.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    async fn login(&self, user: &str, password: &str, remember: bool) -> StatusCode {
        let mut form = vec![("username", user), ("password", password)];
        if remember {
            form.push(("remember", "on"));
        }
        self.post_form("/login", &form).await.status()
    }

    async fn code(&self, code: &str) -> StatusCode {
        self.post_form("/login/code", &[("code", code)])
            .await
            .status()
    }

    async fn whoami(&self) -> String {
        self.get("/me").await.text().await.expect("body")
    }
}

/// The attack of a tester who knows the password: in each of four browsers, the right
/// password, then four wrong codes, again and again, all four at once. Only the first five
/// codes are checked at all; every later one, the right code included, is refused unchecked,
/// whatever password comes before it; no browser gets a device cookie on the way; and the lock
/// ends with the throttle's window, after which the owner logs in.
#[tokio::test]
async fn guessing_codes_between_right_passwords_in_parallel_browsers_locks_the_second_factor() {
    let app = app().await;
    app.enrolled.add(1);
    let attacks: Vec<_> = (0..4)
        .map(|_| {
            let browser = app.browser();
            tokio::spawn(async move {
                let mut refused_after_password = 0;
                for cycle in 0..10 {
                    assert_eq!(
                        browser.login("alice", "pw-alice", false).await,
                        StatusCode::OK
                    );
                    assert_eq!(
                        browser.cookie(DEVICE_COOKIE),
                        None,
                        "the password alone gives no device cookie"
                    );
                    for guess in 0..4 {
                        let wrong = format!("{:06}", cycle * 4 + guess);
                        assert_eq!(browser.code(&wrong).await, StatusCode::UNAUTHORIZED);
                    }
                    refused_after_password += 1;
                }
                refused_after_password
            })
        })
        .collect();
    let mut cycles = 0;
    for attack in attacks {
        cycles += attack.await.expect("the browser's task");
    }
    assert_eq!(cycles, 40, "every cycle's password step went through");

    let checked = AuthEvent::LoginFailed {
        reason: LoginFailure::SecondFactor,
        user: Some("1".to_owned()),
    };
    let refused = AuthEvent::LoginFailed {
        reason: LoginFailure::Throttled,
        user: Some("1".to_owned()),
    };
    assert_eq!(
        app.count(&checked),
        5,
        "only five of 160 codes were checked"
    );
    assert_eq!(app.count(&refused), 155);
    assert_eq!(
        app.count(&AuthEvent::SecondFactorLocked {
            user: "1".to_owned()
        }),
        1,
        "the lock is reported once"
    );

    // The right password, then the right code: still refused while the lock lasts.
    let owner = app.browser();
    assert_eq!(
        owner.login("alice", "pw-alice", false).await,
        StatusCode::OK
    );
    assert_eq!(owner.code(CODE).await, StatusCode::UNAUTHORIZED);
    assert_eq!(owner.whoami().await, "anonymous");
    assert_eq!(
        app.count(&checked),
        5,
        "the right code was not even checked"
    );

    // The lock ends with the window (15 minutes); then the whole login gives the device cookie.
    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    assert_eq!(
        owner.login("alice", "pw-alice", false).await,
        StatusCode::OK
    );
    assert_eq!(owner.cookie(DEVICE_COOKIE), None);
    assert_eq!(owner.code(CODE).await, StatusCode::SEE_OTHER);
    assert_eq!(owner.whoami().await, "alice");
    assert!(
        owner.cookie(DEVICE_COOKIE).is_some(),
        "the completed login gives the device cookie"
    );
}

/// A right second factor clears the count, so the owner's own typos never add up to a lock;
/// a right password never does.
#[tokio::test]
async fn only_a_right_second_factor_clears_the_count_of_wrong_ones() {
    let app = app().await;
    app.enrolled.add(1);
    let browser = app.browser();
    browser.login("alice", "pw-alice", false).await;
    for _ in 0..4 {
        assert_eq!(browser.code("000000").await, StatusCode::UNAUTHORIZED);
    }
    // Entering the password again does not start the count over: one more wrong code locks.
    browser.login("alice", "pw-alice", false).await;
    assert_eq!(browser.code("000000").await, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.code(CODE).await, StatusCode::UNAUTHORIZED, "locked");

    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    browser.login("alice", "pw-alice", false).await;
    for _ in 0..4 {
        browser.code("000000").await;
    }
    assert_eq!(browser.code(CODE).await, StatusCode::SEE_OTHER);
    let other = app.browser();
    other.login("alice", "pw-alice", false).await;
    for _ in 0..4 {
        other.code("000000").await;
    }
    assert_eq!(
        other.code(CODE).await,
        StatusCode::SEE_OTHER,
        "the count started over at the right code"
    );
}

/// A remember-me cookie from a login that completed its second factor logs the restarted
/// browser in (though the session has not passed a second factor, so `mfa` guards ask); one
/// from a login without it, of a user who has a second factor now, is the first factor only:
/// used up, the visit waits for the code, and the code gives a cookie that counts as both.
#[tokio::test]
async fn a_remembered_login_is_worth_what_the_login_that_issued_it_proved() {
    let app = app().await;
    app.enrolled.add(1);
    let after_code = app.browser();
    assert_eq!(
        after_code.login("alice", "pw-alice", true).await,
        StatusCode::OK
    );
    assert_eq!(after_code.code(CODE).await, StatusCode::SEE_OTHER);
    after_code.restart();
    assert_eq!(after_code.whoami().await, "alice");
    assert_eq!(
        after_code.get_json("/secure").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Bob was remembered before he had a second factor, and the app gave him one without
    // telling the layer (so his cookie was not revoked).
    let before = app.browser();
    assert_eq!(
        before.login("bob", "pw-bob", true).await,
        StatusCode::SEE_OTHER
    );
    let old_cookie = before.cookie(REMEMBER_COOKIE).expect("remembered");
    app.enrolled.add(2);
    before.restart();
    assert_eq!(before.whoami().await, "anonymous", "not logged in");
    assert_eq!(
        before.cookie(REMEMBER_COOKIE),
        None,
        "the cookie is used up"
    );
    assert_eq!(
        before.get("/login/due").await.text().await.expect("body"),
        "login bob",
        "the first factor is done"
    );
    assert_eq!(before.code(CODE).await, StatusCode::SEE_OTHER);
    assert_eq!(before.whoami().await, "bob");
    let response = before.post("/second-factor", "").await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a cookie and a code are not a fresh login"
    );
    let body = response.text().await.expect("body");
    assert!(body.contains("reauthentication_required"), "{body}");
    let new_cookie = before
        .cookie(REMEMBER_COOKIE)
        .expect("remembered after the code");
    assert_ne!(new_cookie, old_cookie);
    before.restart();
    assert_eq!(before.whoami().await, "bob");

    // A copy of the old cookie is worth nothing now.
    let copy = app.browser();
    copy.jar
        .lock()
        .expect("lock")
        .insert(REMEMBER_COOKIE.to_owned(), old_cookie);
    assert_eq!(copy.whoami().await, "anonymous");
    assert_eq!(
        copy.get("/login/due").await.text().await.expect("body"),
        "none"
    );
}

/// Enrolling, replacing or removing a second factor, or new recovery codes, end every
/// remember-me cookie of the user: one issued under the old factors logs in nowhere.
#[tokio::test]
async fn a_change_to_the_second_factors_revokes_every_remember_me_cookie() {
    let app = app().await;
    let laptop = app.browser();
    let phone = app.browser();
    assert_eq!(
        laptop.login("alice", "pw-alice", true).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        phone.login("alice", "pw-alice", true).await,
        StatusCode::SEE_OTHER
    );
    assert!(phone.cookie(REMEMBER_COOKIE).is_some());
    let bob = app.browser();
    assert_eq!(
        bob.login("bob", "pw-bob", true).await,
        StatusCode::SEE_OTHER
    );

    assert_eq!(
        laptop.post("/second-factor", "").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(laptop.cookie(REMEMBER_COOKIE), None, "this browser's too");
    assert!(app.events().contains(&AuthEvent::SecondFactorChanged {
        user: "1".to_owned(),
        change: SecondFactorChange::TotpEnrolled,
    }));
    phone.restart();
    assert_eq!(phone.whoami().await, "anonymous");
    assert_eq!(
        phone.get("/login/due").await.text().await.expect("body"),
        "none"
    );
    bob.restart();
    assert_eq!(bob.whoami().await, "bob", "another user's are untouched");
}

/// `fresh_mfa`: a recent password for a user without a second factor; for one who has it, the
/// second factor itself, recently: a password entered again does not open it, nor does a
/// remembered login, nor a second factor from long ago.
#[tokio::test]
async fn a_fresh_mfa_guard_asks_a_user_who_has_a_second_factor_for_it() {
    let app = app().await;
    let browser = app.browser();
    assert_eq!(
        browser.login("alice", "pw-alice", true).await,
        StatusCode::SEE_OTHER
    );
    // No second factor yet: the fresh password is enough (the enrolment itself).
    assert_eq!(
        browser.post("/second-factor", "").await.status(),
        StatusCode::NO_CONTENT
    );

    // Alice has one now; a session that entered the password alone, even just now, must give it.
    let password_only = app.browser();
    app.enrolled.0.lock().expect("lock").clear();
    assert_eq!(
        password_only.login("alice", "pw-alice", false).await,
        StatusCode::SEE_OTHER
    );
    app.enrolled.add(1);
    assert_eq!(
        password_only
            .post("/reauthenticate", "pw-alice")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let response = password_only.post("/second-factor", "").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = response.text().await.expect("body");
    assert!(body.contains("second_factor_required"), "{body}");
    assert_eq!(
        password_only
            .get("/login/due")
            .await
            .text()
            .await
            .expect("body"),
        "step-up alice"
    );
    assert_eq!(password_only.code(CODE).await, StatusCode::SEE_OTHER);
    assert_eq!(
        password_only.post("/second-factor", "").await.status(),
        StatusCode::NO_CONTENT
    );

    // Eleven minutes on, the second factor is too old, however fresh the password.
    app.clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(
        password_only
            .post("/reauthenticate", "pw-alice")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let response = password_only.post("/second-factor", "").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = response.text().await.expect("body");
    assert!(body.contains("second_factor_required"), "{body}");

    // A remembered login, after a code even, is never fresh.
    let remembered = app.browser();
    remembered.login("alice", "pw-alice", true).await;
    assert_eq!(remembered.code(CODE).await, StatusCode::SEE_OTHER);
    remembered.restart();
    assert_eq!(remembered.whoami().await, "alice");
    let response = remembered.post("/second-factor", "").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = response.text().await.expect("body");
    assert!(body.contains("reauthentication_required"), "{body}");
}

/// A layer that cannot tell who has a second factor answers a `fresh_mfa` guard with a `500`
/// whose log line says what to configure, as other guard misconfigurations do, never by letting
/// the password alone through; the body names nothing of the crate.
#[tokio::test]
async fn a_fresh_mfa_guard_without_a_lookup_lets_nobody_through() {
    axum_login_tests::logs::capture_logs();
    let app = app_with(false, |builder| builder).await;
    let browser = app.browser();
    assert_eq!(
        browser.login("alice", "pw-alice", false).await,
        StatusCode::SEE_OTHER
    );
    let response = browser.post("/second-factor", "").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.text().await.expect("body");
    assert!(!body.contains("AuthLayerBuilder"), "no internals: {body}");
    let logs = axum_login_tests::logs::logs();
    assert!(
        logs.contains("AuthLayerBuilder::second_factors"),
        "the log says what to configure: {logs}"
    );
    assert!(!app.enrolled.has(1));
}
