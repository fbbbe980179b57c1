//! The session registry, remember-me, auth events, the logout that keeps the session's data,
//! the two-step login and `LoginAs`, over HTTP against an app on the in-memory stores; then
//! two instances sharing the registry and remember-me store on SQLite, PostgreSQL, MariaDB and
//! Redis. The stores themselves are held to one contract in `registry_stores.rs`.

use std::{
    collections::{BTreeMap, HashSet},
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Extension, Form, Json, Router,
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, CurrentUser, SessionKey,
    clock::ManualClock,
    events::{AuthEvent, EventRecord, LoginFailure, LoginMethod},
    layer::AuthLayerBuilder,
    registry::{
        MemorySessionRegistry, OnLimit, RedisSessionRegistry, RegistryConfig, SessionRegistry,
        SqlxSessionRegistry,
    },
    remember::{
        MemoryRememberStore, RedisRememberStore, RememberMe, RememberStore, SqlxRememberStore,
    },
    require_login,
    session::{GuardedStore, MemoryStore},
    session_layer,
    tower_sessions::{SessionStore as _, service::PlaintextCookie, session::Id},
};
use axum_login::{error::BoxError, registry::BoxFuture};
use axum_login_tests::{
    db,
    directory::{Credentials, TestStore, TestUser},
    http::serve_with_addr,
};
use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE, USER_AGENT};
use serde::Deserialize;
use tokio::sync::Notify;

type Builder = AuthLayerBuilder<TestStore, GuardedStore<MemoryStore>, PlaintextCookie>;

const SESSION_COOKIE: &str = "__Host-id";
const REMEMBER_COOKIE: &str = "__Host-axum_login_remember";
/// The code the test app's second factor accepts.
const CODE: &str = "246810";

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

/// What the app's handlers share: the users with a second factor, and a gate the password
/// change waits at when the test closes it.
#[derive(Clone, Default)]
struct Shared {
    second_factor: Arc<Mutex<HashSet<u64>>>,
    /// When set, re-authentications wait here once their user is loaded, until as many as
    /// it counts have arrived.
    reauth_barrier: Arc<Mutex<Option<Arc<tokio::sync::Barrier>>>>,
    hold_password_change: Arc<Mutex<Option<Arc<Notify>>>>,
    reached_gate: Arc<Notify>,
}

async fn login(
    mut auth: AuthSession<TestStore>,
    Extension(shared): Extension<Shared>,
    Form(form): Form<LoginForm>,
) -> Result<Response, AuthError> {
    let credentials = Credentials {
        username: form.username,
        password: form.password,
    };
    let Some(user) = auth.authenticate(credentials).await? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let remember = form.remember.as_deref() == Some("on");
    if shared
        .second_factor
        .lock()
        .expect("lock")
        .contains(&user.id)
    {
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

async fn me(user: Option<CurrentUser<TestUser>>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(user)| user.name)
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
struct Listed {
    id: String,
    current: bool,
    remembered: bool,
    address: Option<String>,
    user_agent: Option<String>,
}

async fn sessions(auth: AuthSession<TestStore>) -> Result<Json<Vec<Listed>>, AuthError> {
    Ok(Json(
        auth.sessions()
            .await?
            .into_iter()
            .map(|session| Listed {
                id: session.id,
                current: session.current,
                remembered: session.remembered,
                address: session.address.map(|address| address.to_string()),
                user_agent: session.user_agent,
            })
            .collect(),
    ))
}

async fn end_one(
    mut auth: AuthSession<TestStore>,
    Path(id): Path<String>,
) -> Result<String, AuthError> {
    Ok(auth.end_session(&id).await?.to_string())
}

async fn end_others(mut auth: AuthSession<TestStore>) -> Result<String, AuthError> {
    Ok(auth.end_other_sessions().await?.to_string())
}

async fn end_all(
    mut auth: AuthSession<TestStore>,
    Path(user): Path<u64>,
) -> Result<String, AuthError> {
    Ok(auth.end_all_sessions(&user).await?.to_string())
}

async fn logout(mut auth: AuthSession<TestStore>) -> Result<StatusCode, AuthError> {
    auth.logout().await?;
    Ok(StatusCode::SEE_OTHER)
}

async fn logout_keeping_data(mut auth: AuthSession<TestStore>) -> Result<StatusCode, AuthError> {
    auth.logout_keeping_data().await?;
    Ok(StatusCode::SEE_OTHER)
}

async fn put_cart(auth: AuthSession<TestStore>, body: String) -> Result<StatusCode, AuthError> {
    auth.session().insert("cart", body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_cart(auth: AuthSession<TestStore>) -> Result<String, AuthError> {
    Ok(auth
        .session()
        .get::<String>("cart")
        .await?
        .unwrap_or_default())
}

/// Changes the logged-in user's password to the body, keeping this session; waits at the
/// shared gate, if the test closed it, after the session's new id is decided and before the
/// response (and the session's save) goes out.
async fn change_password(
    mut auth: AuthSession<TestStore>,
    Extension(shared): Extension<Shared>,
    CurrentUser(user): CurrentUser<TestUser>,
    password: String,
) -> Result<StatusCode, AuthError> {
    let user = auth.store().set_password(user.id, &password);
    auth.update_session_auth_hash(&user).await?;
    let gate = shared.hold_password_change.lock().expect("lock").clone();
    if let Some(gate) = gate {
        shared.reached_gate.notify_one();
        gate.notified().await;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
}

/// Asks the logged-in user for their password again (the session gets a new id).
async fn reauthenticate(
    mut auth: AuthSession<TestStore>,
    Extension(shared): Extension<Shared>,
    CurrentUser(user): CurrentUser<TestUser>,
    Form(form): Form<PasswordForm>,
) -> Result<StatusCode, AuthError> {
    let barrier = shared.reauth_barrier.lock().expect("lock").clone();
    if let Some(barrier) = barrier {
        barrier.wait().await;
    }
    let credentials = Credentials {
        username: user.name,
        password: form.password,
    };
    Ok(if auth.reauthenticate(credentials).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    })
}

#[require_login(fresh = "5m")]
async fn fresh() -> &'static str {
    "fresh"
}

#[require_login(mfa)]
async fn secure() -> &'static str {
    "secure"
}

#[require_login(mfa = "10m")]
async fn recent_mfa() -> &'static str {
    "recent"
}

async fn step_up_state(auth: AuthSession<TestStore>) -> Result<String, AuthError> {
    Ok(match auth.second_factor_due().await? {
        Some(axum_login::SecondFactorDue::Login(user)) => format!("login {}", user.name),
        Some(axum_login::SecondFactorDue::StepUp(user)) => format!("step-up {}", user.name),
        None => "none".to_owned(),
    })
}

/// Logs a line from inside the handler, after the extractor loaded the user.
async fn logged(CurrentUser(user): CurrentUser<TestUser>) -> &'static str {
    tracing::info!("handler of {} ran", user.name);
    "logged"
}

fn routes(shared: Shared) -> Router {
    Router::new()
        .route("/logged", get(logged))
        .route("/login", post(login))
        .route("/login/code", post(code))
        .route("/login/due", get(step_up_state))
        .route("/me", get(me))
        .route("/sessions", get(sessions))
        .route("/sessions/{id}/end", post(end_one))
        .route("/sessions/end-others", post(end_others))
        .route("/users/{id}/end-all", post(end_all))
        .route("/logout", post(logout))
        .route("/logout-keeping-data", post(logout_keeping_data))
        .route("/cart", get(get_cart).put(put_cart))
        .route("/password", post(change_password))
        .route("/reauth", post(reauthenticate))
        .route("/fresh", get(fresh))
        .route("/secure", get(secure))
        .route("/recent-mfa", get(recent_mfa))
        .layer(Extension(shared))
}

/// The app and what the test inspects of it.
struct App {
    base: String,
    store: TestStore,
    sessions: MemoryStore,
    registry: MemorySessionRegistry,
    remembered: MemoryRememberStore,
    events: Arc<Mutex<Vec<EventRecord>>>,
    clock: ManualClock,
    shared: Shared,
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

    fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }
}

async fn app(configure: impl FnOnce(Builder) -> Builder) -> App {
    let store = TestStore::with_users(&[(1, "alice", "pw-alice"), (2, "bob", "pw-bob")]);
    let sessions = MemoryStore::default();
    let registry = MemorySessionRegistry::default();
    let remembered = MemoryRememberStore::default();
    let events = Arc::new(Mutex::new(Vec::new()));
    let clock = ManualClock::new();
    let shared = Shared::default();
    let sink = events.clone();
    let layer = configure(
        AuthLayer::builder(store.clone(), session_layer(sessions.clone()))
            .session_key(SessionKey::from_bytes(&[5; 64]).expect("a key"))
            .clock(clock.clone())
            .session_registry(RegistryConfig::new(registry.clone()))
            .remember_me(RememberMe::new(remembered.clone()))
            .events(move |record: &EventRecord| sink.lock().expect("lock").push(record.clone())),
    )
    .build();
    let addr: SocketAddr = serve_with_addr(routes(shared.clone()).layer(layer)).await;
    App {
        base: format!("http://{addr}"),
        store,
        sessions,
        registry,
        remembered,
        events,
        clock,
        shared,
    }
}

/// A browser's cookie jar that keeps every cookie by name whatever its `Secure` flag (the
/// suite speaks plain HTTP on loopback), and forgets one the server removes.
#[derive(Clone)]
struct Browser {
    client: reqwest::Client,
    base: String,
    jar: Arc<Mutex<BTreeMap<String, String>>>,
    agent: String,
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
            agent: "TestBrowser/1.0".to_owned(),
        }
    }

    fn with_agent(mut self, agent: &str) -> Self {
        agent.clone_into(&mut self.agent);
        self
    }

    /// A second browser holding copies of this one's cookies now (a thief's).
    fn copy(&self) -> Self {
        let copy = Self::new(&self.base).with_agent(&self.agent);
        *copy.jar.lock().expect("lock") = self.jar.lock().expect("lock").clone();
        copy
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().expect("lock").get(name).cloned()
    }

    /// The browser restarts: session cookies (no `Max-Age`) are gone, the remember-me cookie
    /// stays.
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
        let request = request.header(USER_AGENT, &self.agent);
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
            let removed = value.is_empty() || header.contains("Max-Age=0");
            let mut jar = self.jar.lock().expect("lock");
            if removed {
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

    /// A page, as a browser asks for it (`Accept: text/html`).
    async fn page(&self, path: &str) -> reqwest::Response {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .header(ACCEPT, "text/html"),
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

    async fn login(&self, user: &str, password: &str, remember: bool) -> reqwest::Response {
        let mut form = vec![("username", user), ("password", password)];
        if remember {
            form.push(("remember", "on"));
        }
        self.post_form("/login", &form).await
    }

    async fn whoami(&self) -> String {
        let response = self.get("/me").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("body")
    }

    async fn sessions(&self) -> Vec<Listed> {
        let response = self.get("/sessions").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JSON body")
    }
}

#[tokio::test]
async fn a_users_sessions_are_listed_with_the_current_one_marked() {
    let app = app(|builder| builder).await;
    let laptop = app.browser().with_agent("Laptop/1.0");
    let phone = app.browser().with_agent("Phone/2.0");
    let other = app.browser();
    assert_eq!(laptop.login("alice", "pw-alice", false).await.status(), 303);
    assert_eq!(phone.login("alice", "pw-alice", false).await.status(), 303);
    assert_eq!(other.login("bob", "pw-bob", false).await.status(), 303);

    let listed = laptop.sessions().await;
    assert_eq!(listed.len(), 2, "bob's session is not alice's: {listed:?}");
    assert_eq!(
        listed
            .iter()
            .map(|session| (session.user_agent.as_deref(), session.current))
            .collect::<Vec<_>>(),
        [(Some("Laptop/1.0"), true), (Some("Phone/2.0"), false)],
        "oldest first, this browser's marked"
    );
    assert!(
        listed
            .iter()
            .all(|session| session.address.as_deref() == Some("127.0.0.1")),
        "{listed:?}"
    );
    let from_phone = phone.sessions().await;
    assert_eq!(
        from_phone.iter().filter(|session| session.current).count(),
        1
    );
    assert!(from_phone[1].current, "the phone sees its own as current");
    assert_eq!(from_phone[0].id, listed[0].id, "entry ids are stable");
    assert!(
        !listed
            .iter()
            .any(|session| Some(&session.id) == laptop.cookie(SESSION_COOKIE).as_ref()),
        "an entry's id is never the session id"
    );

    let anonymous = app.browser();
    assert!(anonymous.sessions().await.is_empty());
}

#[tokio::test]
async fn an_ended_session_is_anonymous_at_its_next_request_and_others_stay() {
    let app = app(|builder| builder).await;
    let laptop = app.browser();
    let phone = app.browser();
    let tablet = app.browser();
    for browser in [&laptop, &phone, &tablet] {
        assert_eq!(
            browser.login("alice", "pw-alice", false).await.status(),
            303
        );
    }
    let listed = laptop.sessions().await;
    let phone_entry = phone
        .sessions()
        .await
        .into_iter()
        .find(|session| session.current)
        .expect("a current session")
        .id;

    let response = laptop
        .post(&format!("/sessions/{phone_entry}/end"), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "true");
    assert_eq!(phone.whoami().await, "anonymous");
    assert_eq!(laptop.whoami().await, "alice");
    assert_eq!(tablet.whoami().await, "alice");
    assert_eq!(laptop.sessions().await.len(), listed.len() - 1);
    assert!(app.events().contains(&AuthEvent::SessionEnded {
        user: "1".to_owned(),
        entry: phone_entry.clone(),
    }));

    // Ending it again, or an entry of someone else, ends nothing.
    let response = laptop
        .post(&format!("/sessions/{phone_entry}/end"), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "false");
    let bob = app.browser();
    bob.login("bob", "pw-bob", false).await;
    let tablet_entry = tablet
        .sessions()
        .await
        .into_iter()
        .find(|session| session.current)
        .expect("a current session")
        .id;
    let response = bob.post(&format!("/sessions/{tablet_entry}/end"), "").await;
    assert_eq!(response.text().await.expect("body"), "false");
    assert_eq!(tablet.whoami().await, "alice");

    // Ending one's own entry is a logout.
    let response = tablet
        .post(&format!("/sessions/{tablet_entry}/end"), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "true");
    assert_eq!(tablet.whoami().await, "anonymous");
}

#[tokio::test]
async fn ending_sessions_is_refused_cross_site() {
    let app = app(|builder| builder).await;
    let laptop = app.browser();
    let phone = app.browser();
    laptop.login("alice", "pw-alice", false).await;
    phone.login("alice", "pw-alice", false).await;
    let response = laptop
        .send(
            laptop
                .client
                .post(format!("{}/sessions/end-others", app.base))
                .header("origin", "https://evil.example")
                .header("sec-fetch-site", "cross-site"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(phone.whoami().await, "alice");
}

#[tokio::test]
async fn log_out_everywhere_else_keeps_only_this_session_and_revokes_remembered_browsers() {
    let app = app(|builder| builder).await;
    let laptop = app.browser();
    let phone = app.browser();
    let old_tablet = app.browser();
    laptop.login("alice", "pw-alice", false).await;
    phone.login("alice", "pw-alice", false).await;
    old_tablet.login("alice", "pw-alice", true).await;
    assert!(old_tablet.cookie(REMEMBER_COOKIE).is_some());

    let response = laptop.post("/sessions/end-others", "").await;
    assert_eq!(response.text().await.expect("body"), "2");
    assert_eq!(laptop.whoami().await, "alice");
    assert_eq!(phone.whoami().await, "anonymous");
    assert_eq!(old_tablet.whoami().await, "anonymous");
    old_tablet.restart();
    assert_eq!(
        old_tablet.whoami().await,
        "anonymous",
        "the remember-me cookie was revoked too"
    );
    assert!(app.remembered.is_empty());
    assert_eq!(laptop.sessions().await.len(), 1);
}

#[tokio::test]
async fn ending_all_of_a_users_sessions_ends_them_everywhere_including_here() {
    let app = app(|builder| builder).await;
    let admin = app.browser();
    let alice = app.browser();
    let alice_phone = app.browser();
    admin.login("bob", "pw-bob", false).await;
    alice.login("alice", "pw-alice", true).await;
    alice_phone.login("alice", "pw-alice", false).await;

    let response = admin.post("/users/1/end-all", "").await;
    assert_eq!(response.text().await.expect("body"), "2");
    assert_eq!(admin.whoami().await, "bob");
    alice.restart();
    assert_eq!(alice.whoami().await, "anonymous");
    assert_eq!(alice_phone.whoami().await, "anonymous");

    let response = admin.post("/users/2/end-all", "").await;
    assert_eq!(response.text().await.expect("body"), "1");
    assert_eq!(admin.whoami().await, "anonymous");
    assert!(app.registry.is_empty());
}

#[tokio::test]
async fn a_session_limit_ends_the_oldest_or_refuses_the_new_login() {
    let oldest = app(|builder| {
        builder.session_registry(
            RegistryConfig::new(MemorySessionRegistry::default())
                .max_sessions(2, OnLimit::EndOldest),
        )
    })
    .await;
    let first = oldest.browser();
    let second = oldest.browser();
    let third = oldest.browser();
    first.login("alice", "pw-alice", false).await;
    second.login("alice", "pw-alice", false).await;
    assert_eq!(third.login("alice", "pw-alice", false).await.status(), 303);
    assert_eq!(first.whoami().await, "anonymous", "the oldest ended");
    assert_eq!(second.whoami().await, "alice");
    assert_eq!(third.whoami().await, "alice");
    assert_eq!(third.sessions().await.len(), 2);

    let refuse = app(|builder| {
        builder.session_registry(
            RegistryConfig::new(MemorySessionRegistry::default())
                .max_sessions(1, OnLimit::RefuseNew),
        )
    })
    .await;
    let first = refuse.browser();
    let second = refuse.browser();
    first.login("alice", "pw-alice", false).await;
    let response = second.login("alice", "pw-alice", false).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(second.whoami().await, "anonymous");
    assert_eq!(first.whoami().await, "alice");
    // Logging out frees the place.
    first.post("/logout", "").await;
    assert_eq!(second.login("alice", "pw-alice", false).await.status(), 303);
    assert_eq!(second.whoami().await, "alice");
}

/// A request that changes the session's id (here a password change) is in flight while another
/// browser ends that session: the session must not come back to life under its new id when the
/// request saves it. The handler is held after its new id is decided until the end is done.
#[tokio::test]
async fn a_session_ended_while_its_id_changes_stays_ended() {
    let app = app(|builder| builder).await;
    let laptop = app.browser();
    let phone = app.browser();
    laptop.login("alice", "pw-alice", false).await;
    phone.login("alice", "pw-alice", false).await;
    let laptop_entry = laptop
        .sessions()
        .await
        .into_iter()
        .find(|session| session.current)
        .expect("a current session")
        .id;

    let old_id = laptop.cookie(SESSION_COOKIE).expect("a session cookie");
    let gate = Arc::new(Notify::new());
    *app.shared.hold_password_change.lock().expect("lock") = Some(gate.clone());
    let in_flight = {
        let laptop = laptop.clone();
        tokio::spawn(async move { laptop.post("/password", "pw-new").await.status() })
    };
    app.shared.reached_gate.notified().await;
    *app.shared.hold_password_change.lock().expect("lock") = None;
    // The phone's own session ended with the password change; it logs in again and ends the
    // laptop's session while the laptop's request is held.
    assert_eq!(phone.whoami().await, "anonymous");
    phone.login("alice", "pw-new", false).await;
    let response = phone
        .post(&format!("/sessions/{laptop_entry}/end"), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "true");
    gate.notify_one();
    assert_eq!(
        in_flight.await.expect("the held request finishes"),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        laptop.cookie(SESSION_COOKIE),
        None,
        "the held response removes the cookie instead of setting the new id"
    );
    let held = app
        .sessions
        .load(&old_id.parse::<Id>().expect("a session id"))
        .await
        .expect("the store loads");
    assert!(held.is_none(), "nor is the old id kept");

    assert_eq!(laptop.whoami().await, "anonymous");
    assert_eq!(phone.sessions().await.len(), 1);
    assert_eq!(
        app.sessions.len(),
        1,
        "only the phone's session is in the store"
    );
}

#[tokio::test]
async fn a_remembered_browser_is_logged_in_again_on_a_new_session_and_not_without_remember() {
    let app = app(|builder| builder).await;
    let remembered = app.browser();
    let forgotten = app.browser();
    remembered.login("alice", "pw-alice", true).await;
    forgotten.login("alice", "pw-alice", false).await;
    assert!(forgotten.cookie(REMEMBER_COOKIE).is_none());
    let first_session = remembered.cookie(SESSION_COOKIE).expect("a session cookie");
    let first_token = remembered
        .cookie(REMEMBER_COOKIE)
        .expect("a remember-me cookie");

    remembered.restart();
    forgotten.restart();
    assert_eq!(forgotten.whoami().await, "anonymous");
    assert_eq!(remembered.whoami().await, "alice");
    let second_session = remembered.cookie(SESSION_COOKIE).expect("a session cookie");
    assert_ne!(second_session, first_session, "a new session id");
    let second_token = remembered
        .cookie(REMEMBER_COOKIE)
        .expect("a remember-me cookie");
    assert_ne!(second_token, first_token, "the validator rotated");
    assert_eq!(
        first_token.split('.').next(),
        second_token.split('.').next(),
        "the selector stays"
    );
    assert!(app.events().contains(&AuthEvent::RememberUsed {
        user: "1".to_owned()
    }));
    assert!(app.events().contains(&AuthEvent::LoggedIn {
        user: "1".to_owned(),
        method: LoginMethod::RememberMe,
    }));
    let listed = remembered.sessions().await;
    assert!(
        listed
            .iter()
            .any(|session| session.current && session.remembered),
        "{listed:?}"
    );
    // Neither the validator nor the selector is kept in the store, only keyed hashes: the
    // token is found by the one the session's registry entry names.
    let validator = second_token.split('.').nth(1).expect("a validator");
    let selector = second_token.split('.').next().expect("a selector");
    assert_eq!(
        RememberStore::get(&app.remembered, selector)
            .await
            .expect("the store answers"),
        None
    );
    let stored = app
        .registry
        .list("1")
        .await
        .expect("the registry lists")
        .into_iter()
        .find_map(|entry| entry.remember)
        .expect("the remembered session's entry names its token");
    assert!(!stored.contains(selector));
    let token = RememberStore::get(&app.remembered, &stored)
        .await
        .expect("the store answers")
        .expect("the token is kept");
    assert!(!token.validator_hash.contains(validator));
    assert_ne!(token.validator_hash, validator);

    // A remembered login is not fresh: the password is asked for again.
    let response = remembered
        .send(
            remembered
                .client
                .get(format!("{}/fresh", app.base))
                .header(ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_stolen_remember_me_cookie_used_after_its_owner_ends_every_session_of_the_user() {
    let app = app(|builder| builder).await;
    let owner = app.browser();
    let bystander = app.browser();
    owner.login("alice", "pw-alice", true).await;
    bystander.login("alice", "pw-alice", false).await;
    owner.restart();
    let thief = owner.copy();

    // The owner comes back first: the cookie rotates.
    assert_eq!(owner.whoami().await, "alice");
    // The thief's copy still holds the old validator; within the grace it is a duplicate
    // request of the owner's, after it a theft.
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(thief.whoami().await, "anonymous");
    assert!(app.events().contains(&AuthEvent::RememberTheft {
        user: "1".to_owned()
    }));
    assert_eq!(
        owner.whoami().await,
        "anonymous",
        "the owner's session ended"
    );
    assert_eq!(bystander.whoami().await, "anonymous");
    owner.restart();
    assert_eq!(owner.whoami().await, "anonymous", "its token was revoked");
    assert!(app.remembered.is_empty());
    assert!(app.registry.is_empty());
}

#[tokio::test]
async fn two_requests_with_the_same_remember_me_cookie_at_once_are_not_a_theft() {
    let app = app(|builder| builder).await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    browser.restart();
    let twin = browser.copy();
    let (first, second) = tokio::join!(browser.whoami(), twin.whoami());
    assert_eq!((first.as_str(), second.as_str()), ("alice", "alice"));
    assert!(
        !app.events()
            .iter()
            .any(|event| matches!(event, AuthEvent::RememberTheft { .. }))
    );
    assert!(!app.remembered.is_empty());
}

#[tokio::test]
async fn remember_me_expires_and_is_revoked_by_logout_and_password_change() {
    let app = app(|builder| {
        builder.remember_me(
            RememberMe::new(MemoryRememberStore::default()).lifetime(Duration::from_secs(3600)),
        )
    })
    .await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    let header = browser.get("/me").await;
    drop(header);
    browser.restart();
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(browser.whoami().await, "anonymous", "expired");

    let app = app_default().await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    let copy = browser.copy();
    browser.post("/logout", "").await;
    assert!(
        browser.cookie(REMEMBER_COOKIE).is_none(),
        "the cookie is removed"
    );
    copy.restart();
    assert_eq!(copy.whoami().await, "anonymous", "the token was revoked");

    let laptop = app.browser();
    let phone = app.browser();
    laptop.login("alice", "pw-alice", false).await;
    phone.login("alice", "pw-alice", true).await;
    assert_eq!(laptop.post("/password", "pw-new").await.status(), 204);
    assert_eq!(laptop.whoami().await, "alice");
    phone.restart();
    assert_eq!(phone.whoami().await, "anonymous");
    assert!(app.events().contains(&AuthEvent::PasswordChanged {
        user: "1".to_owned()
    }));
}

async fn app_default() -> App {
    app(|builder| builder).await
}

#[tokio::test]
async fn events_report_logins_failures_and_logouts_with_address_and_time_and_no_secret() {
    let app = app_default().await;
    let browser = app.browser();
    browser.login("alice", "wrong", false).await;
    browser.login("nobody", "pw-alice", false).await;
    browser.login("alice", "pw-alice", false).await;
    browser.post("/logout", "").await;
    assert_eq!(
        app.events(),
        [
            AuthEvent::LoginFailed {
                reason: LoginFailure::WrongCredentials,
                user: None
            },
            AuthEvent::LoginFailed {
                reason: LoginFailure::WrongCredentials,
                user: None
            },
            AuthEvent::LoggedIn {
                user: "1".to_owned(),
                method: LoginMethod::Password
            },
            AuthEvent::LoggedOut {
                user: "1".to_owned()
            },
        ]
    );
    let records = app.events.lock().expect("lock").clone();
    for record in &records {
        assert_eq!(
            record.address,
            Some("127.0.0.1".parse().expect("an address"))
        );
        assert_eq!(record.at, axum_login::clock::Clock::now(&app.clock));
        let shown = format!("{:?} {}", record, record.event);
        assert!(
            !shown.contains("pw-alice") && !shown.contains("wrong"),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn logout_keeping_data_keeps_the_cart_under_a_new_id_and_nothing_of_the_login() {
    let app = app_default().await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    assert_eq!(browser.post("/cart", "").await.status(), 405);
    let response = browser
        .send(
            browser
                .client
                .put(format!("{}/cart", app.base))
                .body("two apples"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let before = browser.cookie(SESSION_COOKIE).expect("a session cookie");
    let stolen = browser.copy();

    assert_eq!(browser.post("/logout-keeping-data", "").await.status(), 303);
    let after = browser.cookie(SESSION_COOKIE).expect("the session stays");
    assert_ne!(after, before, "under a new id");
    assert_eq!(browser.whoami().await, "anonymous");
    assert_eq!(
        browser.get("/cart").await.text().await.expect("body"),
        "two apples"
    );
    assert!(browser.cookie(REMEMBER_COOKIE).is_none());
    assert!(app.registry.is_empty());
    assert!(app.remembered.is_empty());
    // The old id is no session any more, and nothing of the login is left in the new one.
    assert_eq!(stolen.whoami().await, "anonymous");
    let record = app
        .sessions
        .load(&after.parse::<Id>().expect("a session id"))
        .await
        .expect("the store loads")
        .expect("kept");
    let keys: Vec<&String> = record.data.keys().collect();
    assert_eq!(keys, ["cart"], "only the app's data is left");
    assert!(app.events().contains(&AuthEvent::LoggedOut {
        user: "1".to_owned()
    }));
}

#[tokio::test]
async fn a_login_waiting_for_its_second_factor_is_nobody_until_the_code() {
    let app = app_default().await;
    app.shared.second_factor.lock().expect("lock").insert(1);
    let browser = app.browser();
    let response = browser.login("alice", "pw-alice", false).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("body"), "code please");
    assert_eq!(browser.whoami().await, "anonymous");
    for path in ["/fresh", "/secure", "/recent-mfa", "/sessions"] {
        let response = browser
            .send(
                browser
                    .client
                    .get(format!("{}{path}", app.base))
                    .header(ACCEPT, "application/json"),
            )
            .await;
        assert!(
            matches!(response.status().as_u16(), 401 | 200),
            "{path}: {}",
            response.status()
        );
        if path == "/sessions" {
            assert_eq!(response.text().await.expect("body"), "[]");
        } else {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        }
    }
    assert_eq!(
        browser.get("/login/due").await.text().await.expect("body"),
        "login alice"
    );
    let waiting = browser.cookie(SESSION_COOKIE).expect("a session cookie");
    let loads = app.store.loads();

    assert_eq!(
        browser
            .post_form("/login/code", &[("code", "000000")])
            .await
            .status(),
        401
    );
    assert_eq!(browser.whoami().await, "anonymous");
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        303
    );
    assert_ne!(
        browser.cookie(SESSION_COOKIE).expect("a session cookie"),
        waiting,
        "id cycled"
    );
    assert_eq!(browser.whoami().await, "alice");
    assert_eq!(browser.get("/secure").await.status(), 200);
    assert_eq!(browser.get("/recent-mfa").await.status(), 200);
    assert!(app.store.loads() > loads);
    let events = app.events();
    assert!(events.contains(&AuthEvent::LoginFailed {
        reason: LoginFailure::SecondFactor,
        user: Some("1".to_owned()),
    }));
    assert!(events.contains(&AuthEvent::LoggedIn {
        user: "1".to_owned(),
        method: LoginMethod::SecondFactor,
    }));
    assert!(
        !events.iter().any(|event| matches!(
            event,
            AuthEvent::LoggedIn {
                method: LoginMethod::Password,
                ..
            }
        )),
        "the password alone logged nobody in"
    );
}

#[tokio::test]
async fn a_waiting_login_expires_and_ends_when_the_password_changes() {
    let app = app_default().await;
    app.shared.second_factor.lock().expect("lock").insert(1);
    let browser = app.browser();
    browser.login("alice", "pw-alice", false).await;
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        401
    );
    assert_eq!(browser.whoami().await, "anonymous");

    browser.login("alice", "pw-alice", false).await;
    app.store.set_password(1, "pw-changed");
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        401
    );
    assert_eq!(browser.whoami().await, "anonymous");
}

/// A waiting login is bound to its user: a session that waits for alice's code cannot end up
/// logged in as bob, however the two logins are mixed on one browser.
#[tokio::test]
async fn a_waiting_login_for_one_user_never_completes_as_another() {
    let app = app_default().await;
    app.shared
        .second_factor
        .lock()
        .expect("lock")
        .extend([1, 2]);
    let browser = app.browser();
    browser.login("alice", "pw-alice", false).await;
    let alice_waiting = browser.copy();
    browser.login("bob", "pw-bob", false).await;
    assert_eq!(
        browser.get("/login/due").await.text().await.expect("body"),
        "login bob"
    );
    // Alice's copy of the waiting session is gone: the second login started a new session.
    assert_eq!(
        alice_waiting
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        401
    );
    assert_eq!(alice_waiting.whoami().await, "anonymous");
    browser.post_form("/login/code", &[("code", CODE)]).await;
    assert_eq!(browser.whoami().await, "bob");

    // A logged-in bob who starts alice's login is logged out until alice's code.
    browser.login("alice", "pw-alice", false).await;
    assert_eq!(browser.whoami().await, "anonymous");
    browser.post_form("/login/code", &[("code", CODE)]).await;
    assert_eq!(browser.whoami().await, "alice");
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let app = app_default().await;
    app.shared.second_factor.lock().expect("lock").insert(1);
    let browser = app.browser();
    browser.login("alice", "pw-alice", false).await;
    for _ in 0..12 {
        browser
            .post_form("/login/code", &[("code", "111111")])
            .await;
    }
    // The right code is refused while the account is locked.
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        401
    );
    assert_eq!(browser.whoami().await, "anonymous");
    assert!(app.events().contains(&AuthEvent::LoginFailed {
        reason: LoginFailure::Throttled,
        user: Some("1".to_owned()),
    }));
}

#[tokio::test]
async fn the_mfa_guard_sends_a_password_only_login_to_the_second_step_and_counts_time() {
    let app = app(|builder| builder.second_factor_url("/login/code")).await;
    let browser = app.browser();
    browser.login("alice", "pw-alice", false).await;
    assert_eq!(browser.whoami().await, "alice");
    let response = browser.page("/secure").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"]
            .to_str()
            .expect("an ASCII location"),
        "/login/code?next=%2Fsecure"
    );
    let response = browser
        .send(
            browser
                .client
                .get(format!("{}/secure", app.base))
                .header(ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("second_factor_required")
    );

    // A step-up on the logged-in session.
    assert_eq!(
        browser.get("/login/due").await.text().await.expect("body"),
        "step-up alice"
    );
    let before = browser.cookie(SESSION_COOKIE).expect("a session cookie");
    assert_eq!(
        browser
            .post_form("/login/code", &[("code", CODE)])
            .await
            .status(),
        303
    );
    assert_ne!(
        browser.cookie(SESSION_COOKIE).expect("a session cookie"),
        before
    );
    assert_eq!(browser.get("/secure").await.status(), 200);
    assert_eq!(browser.get("/recent-mfa").await.status(), 200);
    assert!(app.events().contains(&AuthEvent::SecondFactorCompleted {
        user: "1".to_owned()
    }));

    // Ten minutes later `mfa = "10m"` asks again, bare `mfa` does not.
    app.clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(browser.get("/secure").await.status(), 200);
    assert_eq!(browser.page("/recent-mfa").await.status(), 303);
}

#[tokio::test]
async fn a_remembered_login_after_a_second_factor_still_asks_for_one() {
    let app = app_default().await;
    app.shared.second_factor.lock().expect("lock").insert(1);
    let browser = app.browser();
    browser.login("alice", "pw-alice", true).await;
    assert!(
        browser.cookie(REMEMBER_COOKIE).is_none(),
        "nothing remembered before the code"
    );
    browser.post_form("/login/code", &[("code", CODE)]).await;
    assert!(browser.cookie(REMEMBER_COOKIE).is_some());
    browser.restart();
    assert_eq!(browser.whoami().await, "alice");
    let response = browser
        .send(
            browser
                .client
                .get(format!("{}/secure", app.base))
                .header(ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// `LoginAs` (feature `test-util`) makes a request the given user's with no login round trip:
/// guards admit it, `mfa` guards too unless told otherwise, and an unknown id is nobody.
#[tokio::test]
async fn login_as_makes_a_request_as_the_user_without_a_password() {
    use axum::body::Body;
    use axum_login::test_util::LoginAs;
    use tower_service::Service as _;

    let store = TestStore::with_users(&[(1, "alice", "pw-alice")]);
    let layer = AuthLayer::builder(store, session_layer(MemoryStore::default()))
        .session_key(SessionKey::from_bytes(&[5; 64]).expect("a key"))
        .build();
    let mut app = routes(Shared::default()).layer(layer);
    let send = |path: &str, login: Option<LoginAs>| {
        let mut request = http::Request::get(path).header(ACCEPT.as_str(), "application/json");
        if let Some(login) = login {
            request = request.extension(login);
        }
        request.body(Body::empty()).expect("a request")
    };
    let body = |response: http::Response<Body>| async move {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("a body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    };

    let response = app
        .call(send("/me", Some(LoginAs::user(&1_u64))))
        .await
        .expect("answered");
    assert_eq!(body(response).await, "alice");
    let response = app.call(send("/me", None)).await.expect("answered");
    assert_eq!(body(response).await, "anonymous");
    let response = app
        .call(send("/me", Some(LoginAs::user(&9_u64))))
        .await
        .expect("answered");
    assert_eq!(body(response).await, "anonymous", "no such user");

    for (path, login, status) in [
        ("/fresh", LoginAs::user(&1_u64), 200),
        ("/secure", LoginAs::user(&1_u64), 200),
        (
            "/secure",
            LoginAs::user(&1_u64).without_second_factor(),
            401,
        ),
        ("/recent-mfa", LoginAs::user(&1_u64), 200),
    ] {
        let response = app.call(send(path, Some(login))).await.expect("answered");
        assert_eq!(response.status(), status, "{path}");
        assert!(
            response.headers().get(SET_COOKIE.as_str()).is_none(),
            "{path}: no session is made"
        );
    }
}

/// A registry that, once armed, holds the calls of one kind at a barrier until as many as the
/// barrier counts have reached it, so the racing requests of a test all get there before any
/// goes on: [`Gate::Count`], the calls a login counts the user's sessions with (`list`, held
/// once it has read, and `add_within`, which counts and adds in one step), or [`Gate::Bind`],
/// the call that records a session's new id.
#[derive(Clone)]
struct Gated<R> {
    inner: R,
    barrier: Arc<Mutex<Armed>>,
}

/// Which calls wait, and at which barrier, if any do.
type Armed = Option<(Gate, Arc<tokio::sync::Barrier>)>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    Count,
    Bind,
}

impl<R> Gated<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            barrier: Arc::default(),
        }
    }

    /// The next `calls` calls of the `gate` kind wait for each other.
    fn arm(&self, gate: Gate, calls: usize) {
        *self.barrier.lock().expect("lock") =
            Some((gate, Arc::new(tokio::sync::Barrier::new(calls))));
    }

    fn disarm(&self) {
        *self.barrier.lock().expect("lock") = None;
    }

    async fn wait(barrier: Option<Arc<tokio::sync::Barrier>>) {
        if let Some(barrier) = barrier {
            barrier.wait().await;
        }
    }

    fn barrier(&self, kind: Gate) -> Option<Arc<tokio::sync::Barrier>> {
        match &*self.barrier.lock().expect("lock") {
            Some((gate, barrier)) if *gate == kind => Some(barrier.clone()),
            _ => None,
        }
    }
}

impl<R: SessionRegistry> SessionRegistry for Gated<R> {
    fn add<'a>(
        &'a self,
        entry: &'a axum_login::registry::SessionEntry,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.inner.add(entry)
    }

    fn add_within<'a>(
        &'a self,
        entry: &'a axum_login::registry::SessionEntry,
        max: usize,
        on_limit: OnLimit,
    ) -> BoxFuture<'a, Result<axum_login::registry::Admission, BoxError>> {
        let barrier = self.barrier(Gate::Count);
        Box::pin(async move {
            Self::wait(barrier).await;
            self.inner.add_within(entry, max, on_limit).await
        })
    }

    fn list<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Vec<axum_login::registry::SessionEntry>, BoxError>> {
        // Held after reading: every racing login has its count before any adds.
        let barrier = self.barrier(Gate::Count);
        Box::pin(async move {
            let listed = self.inner.list(user).await;
            Self::wait(barrier).await;
            listed
        })
    }

    fn bind<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
        previous: Option<&'a str>,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        let barrier = self.barrier(Gate::Bind);
        Box::pin(async move {
            Self::wait(barrier).await;
            self.inner.bind(user, id, previous, session_id).await
        })
    }

    fn set_remember<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
        selector: &'a str,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        self.inner.set_remember(user, id, selector)
    }

    fn touch<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
        at: std::time::SystemTime,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        self.inner.touch(user, id, at)
    }

    fn remove<'a>(
        &'a self,
        user: &'a str,
        which: axum_login::registry::Which<'a>,
    ) -> BoxFuture<'a, Result<Vec<axum_login::registry::SessionEntry>, BoxError>> {
        self.inner.remove(user, which)
    }
}

/// Six requests on one session re-authenticate at once: all six have loaded the session (the
/// handler holds each until all are there) before any gives it a new id, and the registry
/// holds them again until all six have saved the session under their new ids, then lets them
/// record those ids together. Whatever they recorded, ending the login's entry
/// must end every session the six left: none may live on where the registry cannot see it.
#[tokio::test]
async fn concurrent_reauthentications_never_fork_a_session_the_registry_cannot_end() {
    const REQUESTS: usize = 6;
    let registry = Gated::new(MemorySessionRegistry::default());
    let app = app(|builder| builder.session_registry(RegistryConfig::new(registry.clone()))).await;
    let browser = app.browser();
    let other = app.browser();
    browser.login("alice", "pw-alice", false).await;
    other.login("alice", "pw-alice", false).await;

    let copies: Vec<Browser> = (0..REQUESTS).map(|_| browser.copy()).collect();
    *app.shared.reauth_barrier.lock().expect("lock") =
        Some(Arc::new(tokio::sync::Barrier::new(REQUESTS)));
    registry.arm(Gate::Bind, REQUESTS);
    let requests: Vec<_> = copies
        .iter()
        .map(|copy| {
            let copy = copy.clone();
            tokio::spawn(async move {
                copy.post_form("/reauth", &[("password", "pw-alice")])
                    .await
                    .status()
            })
        })
        .collect();
    for request in requests {
        assert_eq!(
            request.await.expect("a request"),
            StatusCode::NO_CONTENT,
            "each re-authentication succeeds"
        );
    }
    registry.disarm();
    *app.shared.reauth_barrier.lock().expect("lock") = None;
    let mut logged_in = 0;
    for copy in &copies {
        if copy.whoami().await == "alice" {
            logged_in += 1;
        }
    }
    assert_eq!(
        logged_in, 1,
        "one request's new id is the session's; the others' sessions are deleted"
    );

    // The other browser ends every session of alice but its own.
    let response = other.post("/sessions/end-others", "").await;
    assert_eq!(response.text().await.expect("body"), "1");
    for copy in &copies {
        assert_eq!(copy.whoami().await, "anonymous");
    }
    assert_eq!(
        app.sessions.len(),
        1,
        "only the other browser's session is left in the store"
    );
}

/// Logins racing against a session limit: the registry holds each login where it counts the
/// user's sessions until all of them are there, so each sees the same count. The limit holds
/// anyway, refusing the extra logins or ending the oldest.
#[tokio::test]
async fn concurrent_logins_never_exceed_the_session_limit() {
    const LOGINS: usize = 8;
    const LIMIT: usize = 3;
    for on_limit in [OnLimit::RefuseNew, OnLimit::EndOldest] {
        let registry = Gated::new(MemorySessionRegistry::default());
        let app = app(|builder| {
            builder.session_registry(
                RegistryConfig::new(registry.clone()).max_sessions(LIMIT, on_limit),
            )
        })
        .await;
        let browsers: Vec<Browser> = (0..LOGINS).map(|_| app.browser()).collect();
        registry.arm(Gate::Count, LOGINS);
        let logins: Vec<_> = browsers
            .iter()
            .map(|browser| {
                let browser = browser.clone();
                tokio::spawn(
                    async move { browser.login("alice", "pw-alice", false).await.status() },
                )
            })
            .collect();
        let mut statuses = Vec::new();
        for login in logins {
            statuses.push(login.await.expect("a login"));
        }
        registry.disarm();
        let refused = statuses
            .iter()
            .filter(|status| **status == StatusCode::CONFLICT)
            .count();
        match on_limit {
            OnLimit::RefuseNew => assert_eq!(refused, LOGINS - LIMIT, "{statuses:?}"),
            OnLimit::EndOldest => assert_eq!(refused, 0, "{statuses:?}"),
        }
        let mut logged_in = 0;
        for browser in &browsers {
            if browser.whoami().await == "alice" {
                logged_in += 1;
            }
        }
        assert_eq!(logged_in, LIMIT, "{on_limit:?}: sessions alive");
        assert_eq!(
            registry.inner.list("1").await.expect("list").len(),
            LIMIT,
            "{on_limit:?}: entries"
        );
    }
}

/// A remember-me store that records which of its methods were called, in order.
#[derive(Clone, Default)]
struct Recording {
    inner: MemoryRememberStore,
    calls: Arc<Mutex<Vec<&'static str>>>,
}

impl Recording {
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }

    fn record(&self, call: &'static str) {
        self.calls.lock().expect("lock").push(call);
    }
}

impl RememberStore for Recording {
    fn insert<'a>(
        &'a self,
        token: &'a axum_login::remember::RememberToken,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.record("insert");
        self.inner.insert(token)
    }

    fn get<'a>(
        &'a self,
        selector: &'a str,
    ) -> BoxFuture<'a, Result<Option<axum_login::remember::RememberToken>, BoxError>> {
        self.record("get");
        self.inner.get(selector)
    }

    fn rotate<'a>(
        &'a self,
        selector: &'a str,
        current_hash: &'a str,
        new_hash: &'a str,
        at: std::time::SystemTime,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        self.record("rotate");
        self.inner.rotate(selector, current_hash, new_hash, at)
    }

    fn remove<'a>(&'a self, selector: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        self.record("remove");
        self.inner.remove(selector)
    }

    fn remove_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        self.record("remove_user");
        self.inner.remove_user(user)
    }
}

/// A browser whose jar holds only a remember-me cookie of `value`.
fn with_remember_cookie(app: &App, value: &str) -> Browser {
    let browser = app.browser();
    browser
        .jar
        .lock()
        .expect("lock")
        .insert(REMEMBER_COOKIE.to_owned(), value.to_owned());
    browser
}

/// Whoever learnt a token's selector can put any validator next to it; that proves nothing,
/// so it must end nothing: the made-up cookie is dropped, with the same store work as a
/// selector nobody has, and the owner's sessions and token live on. The stores never see the
/// selector itself.
#[tokio::test]
async fn a_made_up_validator_for_a_real_selector_ends_nothing() {
    let remembered = Recording::default();
    let app = app(|builder| builder.remember_me(RememberMe::new(remembered.clone()))).await;
    let owner = app.browser();
    let bystander = app.browser();
    owner.login("alice", "pw-alice", true).await;
    bystander.login("alice", "pw-alice", false).await;
    let cookie = owner.cookie(REMEMBER_COOKIE).expect("a remember-me cookie");
    let (selector, validator) = cookie.split_once('.').expect("selector.validator");
    assert_eq!(remembered.inner.len(), 1);
    assert_eq!(
        remembered.inner.get(selector).await.expect("get"),
        None,
        "the store does not know the token by the cookie's selector"
    );

    let made_up = if validator.starts_with('A') { "B" } else { "A" }.repeat(43);
    let unknown = format!("{}.{made_up}", "C".repeat(22));
    remembered.take();
    let forger = with_remember_cookie(&app, &format!("{selector}.{made_up}"));
    assert_eq!(forger.whoami().await, "anonymous");
    assert_eq!(
        forger.cookie(REMEMBER_COOKIE),
        None,
        "the cookie is removed"
    );
    let forged_calls = remembered.take();
    let stranger = with_remember_cookie(&app, &unknown);
    assert_eq!(stranger.whoami().await, "anonymous");
    assert_eq!(
        stranger.cookie(REMEMBER_COOKIE),
        None,
        "the cookie is removed"
    );
    assert_eq!(
        forged_calls,
        remembered.take(),
        "a wrong validator costs what an unknown selector costs"
    );
    assert_eq!(forged_calls, ["get"]);

    assert!(
        !app.events()
            .iter()
            .any(|event| matches!(event, AuthEvent::RememberTheft { .. })),
        "no theft is concluded"
    );
    assert_eq!(owner.whoami().await, "alice");
    assert_eq!(bystander.whoami().await, "alice");
    owner.restart();
    assert_eq!(owner.whoami().await, "alice", "the token still logs in");
}

/// Two instances of the app behind one load balancer: one session store, one key and realm,
/// and each its own connection to the shared registry and remember-me store.
async fn two_instances(
    registries: (impl SessionRegistry, impl SessionRegistry),
    remembers: (impl RememberStore, impl RememberStore),
) -> (String, String, ManualClock, Arc<Mutex<Vec<EventRecord>>>) {
    let store = TestStore::with_users(&[(1, "alice", "pw-alice"), (2, "bob", "pw-bob")]);
    let sessions = MemoryStore::default();
    let clock = ManualClock::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let instance = |registry: RegistryConfig, remember: RememberMe| {
        let sink = events.clone();
        AuthLayer::builder(store.clone(), session_layer(sessions.clone()))
            .session_key(SessionKey::from_bytes(&[5; 64]).expect("a key"))
            .realm("app")
            .clock(clock.clone())
            .session_registry(registry)
            .remember_me(remember)
            .events(move |record: &EventRecord| sink.lock().expect("lock").push(record.clone()))
            .build()
    };
    let a = instance(
        RegistryConfig::new(registries.0),
        RememberMe::new(remembers.0),
    );
    let b = instance(
        RegistryConfig::new(registries.1),
        RememberMe::new(remembers.1),
    );
    let a = serve_with_addr(routes(Shared::default()).layer(a)).await;
    let b = serve_with_addr(routes(Shared::default()).layer(b)).await;
    (format!("http://{a}"), format!("http://{b}"), clock, events)
}

impl Browser {
    /// The same browser (the same cookies), talking to another instance.
    fn at(&self, base: &str) -> Self {
        Self {
            base: base.to_owned(),
            ..self.clone()
        }
    }
}

/// What each shared store must do across instances, over HTTP: a list made on one instance
/// shows sessions begun on the other, ending one on either takes effect on the other at its
/// next request, a remember-me cookie issued by one logs in on the other, a validator made up
/// for its selector ends nothing, the store never holds the selector itself, and a stolen copy
/// is caught whichever instance sees it.
async fn sessions_and_remember_me_span_instances(
    registries: (impl SessionRegistry, impl SessionRegistry),
    remembers: (impl RememberStore + Clone, impl RememberStore),
) {
    let probe = remembers.0.clone();
    let (a, b, clock, events) = two_instances(registries, remembers).await;
    let laptop = Browser::new(&a).with_agent("Laptop/1.0");
    let phone = Browser::new(&b).with_agent("Phone/1.0");
    assert_eq!(laptop.login("alice", "pw-alice", false).await.status(), 303);
    // The list is oldest first; logins in the same second may come in either order.
    clock.advance(Duration::from_secs(1));
    assert_eq!(phone.login("alice", "pw-alice", true).await.status(), 303);

    let listed = laptop.at(&b).sessions().await;
    assert_eq!(
        listed
            .iter()
            .map(|session| (session.user_agent.as_deref(), session.current))
            .collect::<Vec<_>>(),
        [(Some("Laptop/1.0"), true), (Some("Phone/1.0"), false)]
    );
    let response = laptop
        .at(&b)
        .post(&format!("/sessions/{}/end", listed[1].id), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "true");
    assert_eq!(phone.at(&a).whoami().await, "anonymous");
    phone.restart();
    assert_eq!(
        phone.at(&a).whoami().await,
        "anonymous",
        "the ended session's remember-me token went with it"
    );
    assert_eq!(laptop.at(&a).sessions().await.len(), 1);

    // Remembered on one instance, logged in again on the other, after the browser restarts.
    let owner = Browser::new(&a);
    owner.login("bob", "pw-bob", true).await;
    owner.restart();
    let thief = owner.copy();

    // A validator made up for the real selector is no theft: it loses its cookie, and bob's
    // token and sessions stay.
    let cookie = owner.cookie(REMEMBER_COOKIE).expect("a remember-me cookie");
    let (selector, validator) = cookie.split_once('.').expect("selector.validator");
    assert_eq!(
        probe.get(selector).await.expect("the store answers"),
        None,
        "the store does not know the token by the cookie's selector"
    );
    let made_up = if validator.starts_with('A') { "B" } else { "A" }.repeat(43);
    let forger = Browser::new(&b);
    forger
        .jar
        .lock()
        .expect("lock")
        .insert(REMEMBER_COOKIE.to_owned(), format!("{selector}.{made_up}"));
    assert_eq!(forger.whoami().await, "anonymous");
    assert_eq!(
        forger.cookie(REMEMBER_COOKIE),
        None,
        "the cookie is removed"
    );
    assert!(
        !events
            .lock()
            .expect("lock")
            .iter()
            .any(|record| matches!(record.event, AuthEvent::RememberTheft { .. })),
        "a made-up validator is no theft"
    );
    assert_eq!(owner.at(&b).whoami().await, "bob");
    clock.advance(Duration::from_secs(60));
    assert_eq!(thief.at(&a).whoami().await, "anonymous");
    assert_eq!(
        owner.at(&b).whoami().await,
        "anonymous",
        "every session of bob ended"
    );
    assert!(
        events
            .lock()
            .expect("lock")
            .iter()
            .any(|record| record.event
                == AuthEvent::RememberTheft {
                    user: "2".to_owned()
                })
    );
    owner.restart();
    assert_eq!(
        owner.at(&a).whoami().await,
        "anonymous",
        "bob's tokens are gone"
    );
    assert_eq!(laptop.at(&b).whoami().await, "alice", "alice is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_sessions_and_remember_me_span_instances() {
    let path = std::env::temp_dir().join(format!(
        "axl_registry_http_{:016x}.db",
        rand::random::<u64>()
    ));
    let pool = || async {
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true),
            )
            .await
            .expect("SQLite file in the temp dir")
    };
    let (first, second) = (pool().await, pool().await);
    let registry = SqlxSessionRegistry::new(first.clone());
    registry.migrate().await.expect("migrate");
    let remember = SqlxRememberStore::new(first.clone());
    remember.migrate().await.expect("migrate");
    sessions_and_remember_me_span_instances(
        (registry, SqlxSessionRegistry::new(second.clone())),
        (remember, SqlxRememberStore::new(second.clone())),
    )
    .await;
    first.close().await;
    second.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_sessions_and_remember_me_span_instances() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let other = db.pool_through(db.server()).await;
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    let remember = SqlxRememberStore::new(db.pool.clone());
    remember.migrate().await.expect("migrate");
    sessions_and_remember_me_span_instances(
        (registry, SqlxSessionRegistry::new(other.clone())),
        (remember, SqlxRememberStore::new(other.clone())),
    )
    .await;
    other.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_sessions_and_remember_me_span_instances() {
    let Some(db) = db::mysql().await else { return };
    let other = db.pool_through(db.server()).await;
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    let remember = SqlxRememberStore::new(db.pool.clone());
    remember.migrate().await.expect("migrate");
    sessions_and_remember_me_span_instances(
        (registry, SqlxSessionRegistry::new(other.clone())),
        (remember, SqlxRememberStore::new(other.clone())),
    )
    .await;
    other.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_sessions_and_remember_me_span_instances() {
    let test = "on_redis_sessions_and_remember_me_span_instances";
    let (Some(a), Some(b)) = (db::redis(test).await, db::redis(test).await) else {
        return;
    };
    let prefix = format!("axl_test_{:016x}:", rand::random::<u64>());
    sessions_and_remember_me_span_instances(
        (
            RedisSessionRegistry::new(a.clone()).with_prefix(&prefix),
            RedisSessionRegistry::new(b.clone()).with_prefix(&prefix),
        ),
        (
            RedisRememberStore::new(a).with_prefix(&prefix),
            RedisRememberStore::new(b).with_prefix(prefix),
        ),
    )
    .await;
}

/// Every log line of an authenticated request carries the user's id on the layer's `auth` span,
/// the handler's own lines included; an anonymous request's span has none.
#[tokio::test]
async fn the_request_span_carries_the_user_id() {
    axum_login_tests::logs::capture_logs();
    let app = app_default().await;
    let browser = app.browser();
    browser.login("bob", "pw-bob", false).await;
    assert_eq!(browser.get("/logged").await.status(), StatusCode::OK);
    let logs = axum_login_tests::logs::logs();
    let line = logs
        .lines()
        .find(|line| line.contains("handler of bob ran"))
        .unwrap_or_else(|| panic!("the handler's line is logged: {logs}"));
    assert!(line.contains("auth{user_id=2}"), "{line}");
}
