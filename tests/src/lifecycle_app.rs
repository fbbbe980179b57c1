//! An app with every feature of the login lifecycle on, over the in-memory stores: the session
//! registry, remember-me, auth events, the two-step login with a second factor, `LoginAs`, the
//! logout that keeps the session's data; and a browser that keeps every cookie. The suites of
//! those features (`registry`, `remember_me`, `events`, `two_step_login`, `login_as`,
//! `logout_keeping_data`, `across_instances`) drive it over HTTP.

use std::{
    collections::{BTreeMap, HashSet},
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
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
    events::{AuthEvent, EventRecord},
    layer::AuthLayerBuilder,
    registry::{MemorySessionRegistry, RegistryConfig},
    remember::{MemoryRememberStore, RememberMe},
    require_login,
    session::{GuardedStore, MemoryStore},
    session_layer,
    tower_sessions::service::PlaintextCookie,
};
use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE, USER_AGENT};
use serde::Deserialize;
use tokio::sync::Notify;

use crate::{
    directory::{Credentials, TestStore, TestUser},
    http::serve_with_addr,
};

pub type Builder = AuthLayerBuilder<TestStore, GuardedStore<MemoryStore>, PlaintextCookie>;

pub const SESSION_COOKIE: &str = "__Host-id";
pub const REMEMBER_COOKIE: &str = "__Host-axum_login_remember";
/// The code the test app's second factor accepts.
pub const CODE: &str = "246810";

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
pub struct Shared {
    pub second_factor: Arc<Mutex<HashSet<u64>>>,
    /// When set, re-authentications wait here once their user is loaded, until as many as
    /// it counts have arrived.
    pub reauth_barrier: Arc<Mutex<Option<Arc<tokio::sync::Barrier>>>>,
    pub hold_password_change: Arc<Mutex<Option<Arc<Notify>>>>,
    pub reached_gate: Arc<Notify>,
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
pub struct Listed {
    pub id: String,
    pub current: bool,
    pub remembered: bool,
    pub address: Option<String>,
    pub user_agent: Option<String>,
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

pub fn routes(shared: Shared) -> Router {
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
pub struct App {
    pub base: String,
    pub store: TestStore,
    pub sessions: MemoryStore,
    pub registry: MemorySessionRegistry,
    pub remembered: MemoryRememberStore,
    pub events: Arc<Mutex<Vec<EventRecord>>>,
    pub clock: ManualClock,
    pub shared: Shared,
}

impl App {
    pub fn events(&self) -> Vec<AuthEvent> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .map(|record| record.event.clone())
            .collect()
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }
}

pub async fn app(configure: impl FnOnce(Builder) -> Builder) -> App {
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

/// The app with every feature as [`app`] sets it up.
pub async fn app_default() -> App {
    app(|builder| builder).await
}

/// A browser's cookie jar that keeps every cookie by name whatever its `Secure` flag (the
/// suite speaks plain HTTP on loopback), and forgets one the server removes.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    base: String,
    jar: Arc<Mutex<BTreeMap<String, String>>>,
    agent: String,
}

impl Browser {
    pub fn new(base: &str) -> Self {
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

    pub fn with_agent(mut self, agent: &str) -> Self {
        agent.clone_into(&mut self.agent);
        self
    }

    /// The same browser (the same cookies), talking to another instance.
    pub fn at(&self, base: &str) -> Self {
        Self {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    /// This browser with cookie `name` set to `value`, as if the server had set it.
    pub fn with_cookie(self, name: &str, value: &str) -> Self {
        self.jar
            .lock()
            .expect("lock")
            .insert(name.to_owned(), value.to_owned());
        self
    }

    /// A second browser holding copies of this one's cookies now (a thief's).
    pub fn copy(&self) -> Self {
        let copy = Self::new(&self.base).with_agent(&self.agent);
        *copy.jar.lock().expect("lock") = self.jar.lock().expect("lock").clone();
        copy
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().expect("lock").get(name).cloned()
    }

    /// The browser restarts: session cookies (no `Max-Age`) are gone, the remember-me cookie
    /// stays.
    pub fn restart(&self) {
        self.jar.lock().expect("lock").remove(SESSION_COOKIE);
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
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

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    /// A page, as a browser asks for it (`Accept: text/html`).
    pub async fn page(&self, path: &str) -> reqwest::Response {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .header(ACCEPT, "text/html"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .body(body.to_owned()),
        )
        .await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.send(self.client.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    pub async fn login(&self, user: &str, password: &str, remember: bool) -> reqwest::Response {
        let mut form = vec![("username", user), ("password", password)];
        if remember {
            form.push(("remember", "on"));
        }
        self.post_form("/login", &form).await
    }

    pub async fn whoami(&self) -> String {
        let response = self.get("/me").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("body")
    }

    pub async fn sessions(&self) -> Vec<Listed> {
        let response = self.get("/sessions").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JSON body")
    }
}
