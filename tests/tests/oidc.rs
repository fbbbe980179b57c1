//! Sign-in with OpenID Connect (`axum_login::oidc`), end to end over HTTP: an app on the
//! crate with three providers — the certified `oidc-provider` started by `.ci/run` (two
//! clients of it, `real` and `real-b`), and a fake in this process that breaks its tokens on
//! request — driven through the real provider's login and consent pages.
//!
//! The flow: PKCE, `state` and `nonce` sent; the session id cycled; `next` kept when local and
//! dropped otherwise; the attacks (a wrong or replayed `state`, a replayed code, a mix-up by
//! flow and by `iss`, every broken ID token), provider errors, an unreachable provider and a
//! flow past its timeout, each a clear refusal and an event, never a login. Accounts: a
//! stranger signs up, a verified address links only with the account's password or session,
//! an unverified one never, links and unlinks of a logged-in user, and the second factor and
//! `fresh` guards apply to a provider login as to any other.

#![allow(clippy::unwrap_used)]

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Extension, Form, Router,
    extract::{Path, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, PasswordCredentials, SqlxStore, UserStore,
    clock::ManualClock,
    error::BoxError,
    events::{AuthEvent, EventRecord, LoginMethod},
    login::BoxFuture,
    oidc::{
        Callback, MemoryLinkStore, NewProviderUser, OAuth2Endpoints, Oidc, Provider,
        ProviderSignIn, Started, UserInfoFields,
    },
    require_login,
    second_factor::SecondFactorLookup,
    session::MemoryStore,
    session_layer,
};
use axum_login_tests::{
    fake_oidc::{
        AUTHORIZE_PATH, DISCOVERY_PATH, FakeProvider, JWKS_PATH, TOKEN_PATH, Tamper, USERINFO_PATH,
    },
    http::Visitor,
    oidc::{self, DriverError, ProviderEnv},
};
use secrecy::SecretString;
use url::Url;

#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(email)]
    email: Option<String>,
}

type Store = SqlxStore<User, sqlx::Sqlite>;

/// The user the second-factor lookup says has one.
const WITH_SECOND_FACTOR: &str = "guarded";

/// Says the user named [`WITH_SECOND_FACTOR`] (id 3, seeded third) has a second factor.
struct ThirdHasTotp;

impl SecondFactorLookup for ThirdHasTotp {
    fn has_second_factor<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async move { Ok(user == "3") })
    }
}

#[derive(serde::Deserialize)]
struct Login {
    username: String,
    password: String,
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Every outcome as a response a test reads: a login goes to `next`, a failure answers its
/// status and its stable name.
fn answer(outcome: ProviderSignIn) -> Response {
    match outcome {
        ProviderSignIn::LoggedIn { .. } => Redirect::to(outcome.next_or_home()).into_response(),
        ProviderSignIn::SecondFactorDue { .. } => "second factor due".into_response(),
        ProviderSignIn::Linked { .. } => "linked".into_response(),
        ProviderSignIn::ConfirmLink { email, provider } => {
            format!("confirm {email} at {provider}").into_response()
        }
        ProviderSignIn::Failed(failure) => (failure.status(), failure.as_str()).into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn started(outcome: Started) -> Response {
    match outcome {
        Started::Redirect(url) => Redirect::to(&url).into_response(),
        Started::Failed(failure) => (failure.status(), failure.as_str()).into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn start(
    auth: AuthSession<Store>,
    Extension(oidc): Extension<Oidc<Store>>,
    Path(provider): Path<String>,
    Query(query): Query<NextQuery>,
) -> Result<Response, AuthError> {
    Ok(started(
        oidc.start(&auth, &provider, query.next.as_deref()).await?,
    ))
}

async fn callback(
    mut auth: AuthSession<Store>,
    Extension(oidc): Extension<Oidc<Store>>,
    Path(provider): Path<String>,
    Query(query): Query<Callback>,
) -> Result<Response, AuthError> {
    Ok(answer(oidc.callback(&mut auth, &provider, &query).await?))
}

async fn confirm(
    mut auth: AuthSession<Store>,
    Extension(oidc): Extension<Oidc<Store>>,
    Form(form): Form<Login>,
) -> Result<Response, AuthError> {
    let credentials = PasswordCredentials::new(&form.username, form.password);
    Ok(answer(oidc.confirm_link(&mut auth, credentials).await?))
}

async fn link(
    auth: AuthSession<Store>,
    Extension(oidc): Extension<Oidc<Store>>,
    Path(provider): Path<String>,
) -> Result<Response, AuthError> {
    Ok(started(oidc.start_link(&auth, &provider, None).await?))
}

async fn unlink(
    mut auth: AuthSession<Store>,
    Extension(oidc): Extension<Oidc<Store>>,
    Path(provider): Path<String>,
) -> Result<String, AuthError> {
    Ok(format!("{:?}", oidc.unlink(&mut auth, &provider).await?))
}

async fn links(
    auth: AuthSession<Store>,
    Extension(oidc): Extension<Oidc<Store>>,
) -> Result<String, AuthError> {
    Ok(oidc
        .links(&auth)
        .await?
        .into_iter()
        .map(|link| format!("{} {}", link.name, link.email.unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n"))
}

async fn login(
    mut auth: AuthSession<Store>,
    Form(form): Form<Login>,
) -> Result<Response, AuthError> {
    let credentials = PasswordCredentials::new(&form.username, form.password);
    match auth.authenticate(credentials).await? {
        Some(user) => {
            auth.login(&user).await?;
            Ok("logged in".into_response())
        }
        None => Ok((StatusCode::UNAUTHORIZED, "wrong username or password").into_response()),
    }
}

async fn me(auth: AuthSession<Store>) -> Result<String, AuthError> {
    Ok(auth
        .user()
        .await?
        .map_or_else(|| "anonymous".to_owned(), |user| user.username))
}

#[require_login(fresh = "5m")]
async fn fresh_only() -> &'static str {
    "fresh enough"
}

#[require_login(mfa)]
async fn mfa_only() -> &'static str {
    "second factor done"
}

/// The app's sign-up: a user named after the provider's preferred username (or the subject),
/// with its address, and no password.
async fn sign_up(
    store: Store,
    account: NewProviderUser,
) -> Result<Option<User>, axum_login::sqlx::SqlxStoreError> {
    let name = account
        .preferred_username
        .clone()
        .unwrap_or_else(|| account.subject.clone());
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, email) VALUES (?, '!', ?) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(&name)
    .bind(&account.email)
    .fetch_optional(store.pool())
    .await
    .map_err(axum_login::sqlx::SqlxStoreError::from)?;
    match id {
        Some(id) => store.load_user(&id).await,
        None => Ok(None),
    }
}

struct App {
    base: String,
    clock: ManualClock,
    events: Arc<Mutex<Vec<AuthEvent>>>,
    fake: FakeProvider,
    real: Option<ProviderEnv>,
    links: MemoryLinkStore,
}

/// The seeded users: `(name, password, email)`. `owner` has the address the real provider's
/// `carol` has (verified there), `bobby` the one its `bob` has (not verified there), and
/// `guarded` has a second factor.
const USERS: [(&str, &str, &str); 4] = [
    ("ferris", "hunter42", "ferris@example.com"),
    ("owner", "owner-password", "carol@example.com"),
    (
        WITH_SECOND_FACTOR,
        "guarded-password",
        "guarded@example.com",
    ),
    ("bobby", "bobby-password", "bob@example.com"),
];

impl App {
    /// The app with sign-up on; `real` is `None` (after a loud note, or a failure under CI)
    /// when the real provider is not running.
    async fn start(test: &str) -> Self {
        Self::start_with(test, true).await
    }

    async fn start_with(test: &str, with_sign_up: bool) -> Self {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, \
             password_hash TEXT NOT NULL, email TEXT UNIQUE)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let store = Store::new(pool.clone());
        for (name, password, email) in USERS {
            let user = store.create_user(name, password.into()).await.unwrap();
            sqlx::query("UPDATE users SET email = ? WHERE id = ?")
                .bind(email)
                .bind(user.id)
                .execute(&pool)
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let callback_url = |id: &str| format!("{base}/login/oidc/{id}/callback");
        let fake = FakeProvider::start(&[("app", "app-secret")]).await;
        let real = oidc::provider(test).await;
        let link_store = MemoryLinkStore::default();
        let mut config = Oidc::<Store>::new(link_store.clone())
            .provider(
                Provider::new(
                    "fake",
                    &fake.issuer,
                    "app",
                    "app-secret",
                    &callback_url("fake"),
                )
                .unwrap()
                .name("Fake"),
            )
            .unwrap()
            // The fake again, as a plain OAuth 2.0 provider: its userinfo endpoint, no ID
            // token; with the default fields, one that never vouches for addresses, and one
            // whose subject field the answer lacks.
            .provider(plain(
                "plain",
                &fake,
                UserInfoFields::default(),
                &callback_url("plain"),
            ))
            .unwrap()
            .provider(plain(
                "plain-unverified",
                &fake,
                UserInfoFields {
                    email_verified: None,
                    ..UserInfoFields::default()
                },
                &callback_url("plain-unverified"),
            ))
            .unwrap()
            .provider(plain(
                "plain-nosub",
                &fake,
                UserInfoFields {
                    subject: "id".to_owned(),
                    ..UserInfoFields::default()
                },
                &callback_url("plain-nosub"),
            ))
            .unwrap()
            // Nothing listens on port 9 of loopback (discard): a provider that is down.
            .provider(
                Provider::new(
                    "down",
                    "http://127.0.0.1:9",
                    "app",
                    "secret",
                    &callback_url("down"),
                )
                .unwrap(),
            )
            .unwrap();
        if let Some(real) = &real {
            config = config
                .provider(
                    Provider::new(
                        "real",
                        &real.issuer,
                        &real.client_id,
                        real.client_secret.clone(),
                        &callback_url("real"),
                    )
                    .unwrap()
                    .name("Real"),
                )
                .unwrap()
                .provider(
                    Provider::new(
                        "real-b",
                        &real.issuer,
                        &real.client_b_id,
                        real.client_b_secret.clone(),
                        &callback_url("real-b"),
                    )
                    .unwrap(),
                )
                .unwrap();
        }
        if with_sign_up {
            config = config.sign_up(sign_up);
        }
        let events: Arc<Mutex<Vec<AuthEvent>>> = Arc::default();
        let clock = ManualClock::new();
        let layer = AuthLayer::builder(store, session_layer(MemoryStore::default()))
            .clock(clock.clone())
            .oidc(&config)
            .second_factors(ThirdHasTotp)
            .events({
                let events = events.clone();
                move |record: &EventRecord| events.lock().unwrap().push(record.event.clone())
            })
            .build();
        let app = Router::new()
            .route("/login/oidc/{provider}", get(start))
            .route("/login/oidc/{provider}/callback", get(callback))
            .route("/login/oidc/confirm", post(confirm))
            .route("/link/{provider}", post(link))
            .route("/unlink/{provider}", post(unlink))
            .route("/links", get(links))
            .route("/login", post(login))
            .route("/me", get(me))
            .route("/fresh", get(fresh_only))
            .route("/mfa", get(mfa_only))
            .nest("/auto", config.router())
            .layer(Extension(config))
            .layer(layer);
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self {
            base,
            clock,
            events,
            fake,
            real,
            links: link_store,
        }
    }

    fn visitor(&self) -> Visitor {
        Visitor::new(&self.base)
    }

    fn events(&self) -> Vec<AuthEvent> {
        self.events.lock().unwrap().clone()
    }

    fn failures(&self) -> Vec<&'static str> {
        self.events()
            .into_iter()
            .filter_map(|event| match event {
                AuthEvent::ProviderSignInFailed { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }

    /// Starts a sign-in at `provider` in `visitor`'s session: the provider's URL.
    async fn begin(&self, visitor: &Visitor, path: &str) -> String {
        let response = visitor.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        location(&response)
    }

    /// The callback URL's path and query on this app.
    fn local(&self, callback: &Url) -> String {
        let local = callback
            .as_str()
            .strip_prefix(&self.base)
            .unwrap_or_else(|| panic!("the provider sent the browser elsewhere: {callback}"));
        local.to_owned()
    }

    /// Delivers `callback` (a URL the provider sent the browser to) in `visitor`'s session.
    async fn deliver(&self, visitor: &Visitor, callback: &Url) -> (StatusCode, String, String) {
        let response = visitor.get(&self.local(callback)).await;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    /// A whole sign-in at the fake as its current user: the callback's answer.
    async fn fake_sign_in(&self, visitor: &Visitor) -> (StatusCode, String, String) {
        let url = self.begin(visitor, "/login/oidc/fake").await;
        let callback = self.fake.sign_in(&url).await;
        self.deliver(visitor, &callback).await
    }

    /// A whole sign-in at the real provider (client `real`) as `username`.
    async fn real_sign_in(
        &self,
        visitor: &Visitor,
        username: &str,
        password: &str,
    ) -> (StatusCode, String, String) {
        let url = self.begin(visitor, "/login/oidc/real").await;
        let callback = oidc::sign_in_at_provider(&url, username, password)
            .await
            .unwrap();
        self.deliver(visitor, &callback).await
    }
}

/// The fake as a plain OAuth 2.0 provider named `id`, reading `fields` from its userinfo.
fn plain(id: &str, fake: &FakeProvider, fields: UserInfoFields, callback: &str) -> Provider {
    let at = |path: &str| format!("{}{path}", fake.issuer);
    Provider::oauth2(
        id,
        &fake.issuer,
        OAuth2Endpoints {
            authorization: at(AUTHORIZE_PATH),
            token: at(TOKEN_PATH),
            userinfo: at(USERINFO_PATH),
        },
        "app",
        "app-secret",
        callback,
    )
    .unwrap()
    .name("Plain")
    .userinfo_fields(fields)
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `url` with the query parameter `name` set to `value`, or removed when `value` is `None`.
fn with_param(url: &Url, name: &str, value: Option<&str>) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let mut changed = url.clone();
    {
        let mut query = changed.query_pairs_mut();
        query.clear();
        for (key, value) in &pairs {
            query.append_pair(key, value);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    changed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_signs_up_through_the_real_providers_pages_and_signs_in_again_by_the_link() {
    let app = App::start("oidc::a_stranger_signs_up").await;
    let Some(real) = &app.real else { return };
    let visitor = app.visitor();
    let url = app
        .begin(&visitor, "/login/oidc/real?next=/dashboard")
        .await;
    // The request carries PKCE (S256), a state and a nonce, for this client and callback.
    assert!(url.starts_with(&real.issuer), "{url}");
    assert_eq!(
        query_param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(&url, "code_challenge").map(|c| c.len()),
        Some(43)
    );
    assert!(query_param(&url, "state").is_some_and(|state| state.len() >= 22));
    assert!(query_param(&url, "nonce").is_some_and(|nonce| nonce.len() >= 22));
    assert_eq!(query_param(&url, "client_id"), Some(real.client_id.clone()));
    let before = visitor.cookie().expect("the flow lives in a session");

    let callback = oidc::sign_in_at_provider(&url, "alice", "alice-password")
        .await
        .unwrap();
    assert_eq!(
        query_param(callback.as_str(), "iss").as_deref(),
        Some(real.issuer.as_str())
    );
    let (status, location, _) = app.deliver(&visitor, &callback).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/dashboard")
    );
    assert_eq!(visitor.whoami().await, "alice");
    assert_ne!(
        visitor.cookie(),
        Some(before),
        "the login cycled the session id"
    );
    assert_eq!(app.links.len(), 1);
    let events = app.events();
    assert!(
        events.contains(&AuthEvent::SignedUp { user: "5".into() }),
        "{events:?}"
    );
    assert!(events.contains(&AuthEvent::ProviderLinked {
        user: "5".into(),
        provider: "real".into()
    }));
    assert!(events.contains(&AuthEvent::LoggedIn {
        user: "5".into(),
        method: LoginMethod::Provider
    }));

    // Another browser: the link logs alice in, and no second user is made.
    let again = app.visitor();
    let (status, location, _) = app.real_sign_in(&again, "alice", "alice-password").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/"));
    assert_eq!(again.whoami().await, "alice");
    assert_eq!(app.links.len(), 1);
    assert_eq!(
        app.events()
            .iter()
            .filter(|event| matches!(event, AuthEvent::SignedUp { .. }))
            .count(),
        1
    );
    // A wrong password never leaves the provider.
    let url = app.begin(&app.visitor(), "/login/oidc/real").await;
    assert!(matches!(
        oidc::sign_in_at_provider(&url, "alice", "wrong").await,
        Err(DriverError::LoginRefused { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_missing_or_replayed_state_and_a_replayed_code_log_nobody_in() {
    let app = App::start("oidc::a_wrong_missing_or_replayed_state").await;
    let Some(_) = &app.real else { return };
    let visitor = app.visitor();
    let url = app.begin(&visitor, "/login/oidc/real").await;
    // A second flow of the same browser, left waiting.
    let other = app.begin(&visitor, "/login/oidc/real").await;
    let callback = oidc::sign_in_at_provider(&url, "alice", "alice-password")
        .await
        .unwrap();

    for forged in [
        with_param(&callback, "state", Some("not-the-state")),
        with_param(&callback, "state", None),
    ] {
        let (status, _, body) = app.deliver(&visitor, &forged).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_state")
        );
    }
    // Another browser holding the answer: its session started no such flow.
    let (status, _, body) = app.deliver(&app.visitor(), &callback).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_state")
    );
    assert_eq!(visitor.whoami().await, "anonymous");

    let (status, _, _) = app.deliver(&visitor, &callback).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(visitor.whoami().await, "alice");
    // The same answer again: its flow is used up.
    let (status, _, body) = app.deliver(&visitor, &callback).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_state")
    );
    // The used code under the other flow's state: the provider refuses it (used, and not
    // that flow's PKCE verifier).
    let other_state = query_param(&other, "state").unwrap();
    let replayed = with_param(&callback, "state", Some(&other_state));
    let (status, _, body) = app.deliver(&visitor, &replayed).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "token_refused")
    );
    assert_eq!(
        app.failures(),
        [
            "invalid_state",
            "invalid_state",
            "invalid_state",
            "invalid_state",
            "token_refused"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_delivered_to_another_providers_callback_or_naming_another_issuer_is_a_mix_up() {
    let app = App::start("oidc::an_answer_delivered_to_another_providers_callback").await;
    let Some(_) = &app.real else { return };

    // The fake's answer, delivered to the real provider's callback.
    let visitor = app.visitor();
    let url = app.begin(&visitor, "/login/oidc/fake").await;
    let answer = app.fake.sign_in(&url).await;
    let moved = Url::parse(&answer.as_str().replace("/fake/callback", "/real/callback")).unwrap();
    let (status, _, body) = app.deliver(&visitor, &moved).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "mix_up")
    );
    // The flow is spent: the genuine delivery afterwards finds nothing.
    let (status, _, body) = app.deliver(&visitor, &answer).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_state")
    );

    // client app-b's answer to client app-a's callback.
    let visitor = app.visitor();
    let url = app.begin(&visitor, "/login/oidc/real-b").await;
    let answer = oidc::sign_in_at_provider(&url, "alice", "alice-password")
        .await
        .unwrap();
    let moved = Url::parse(
        &answer
            .as_str()
            .replace("/real-b/callback", "/real/callback"),
    )
    .unwrap();
    let (status, _, body) = app.deliver(&visitor, &moved).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "mix_up")
    );

    // The right callback, but `iss` names another issuer, or is missing though announced.
    let fake_issuer = app.fake.issuer.clone();
    for iss in [Some(fake_issuer.as_str()), None] {
        let visitor = app.visitor();
        let url = app.begin(&visitor, "/login/oidc/real").await;
        let answer = oidc::sign_in_at_provider(&url, "alice", "alice-password")
            .await
            .unwrap();
        let (status, _, body) = app
            .deliver(&visitor, &with_param(&answer, "iss", iss))
            .await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::UNAUTHORIZED, "mix_up"),
            "{iss:?}"
        );
        assert_eq!(visitor.whoami().await, "anonymous");
    }
    assert_eq!(app.links.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broken_id_token_and_token_response_is_refused_and_reported() {
    let app = App::start("oidc::every_broken_id_token").await;
    let cases = [
        (Tamper::AlgNone, "invalid_id_token"),
        (Tamper::Hs256SignedWithPublicKey, "invalid_id_token"),
        (Tamper::WrongAudience, "invalid_id_token"),
        (Tamper::ExtraAudienceWithoutAzp, "invalid_id_token"),
        (Tamper::WrongNonce, "invalid_id_token"),
        (Tamper::WrongIssuer, "invalid_id_token"),
        (Tamper::Expired, "invalid_id_token"),
        (Tamper::IssuedInFuture, "invalid_id_token"),
        (Tamper::UnknownKid, "invalid_id_token"),
        (Tamper::BadSignature, "invalid_id_token"),
        (Tamper::NoIdToken, "invalid_id_token"),
        (Tamper::TokenError, "token_refused"),
        (Tamper::ServerError, "token_refused"),
    ];
    for (tamper, reason) in cases {
        let visitor = app.visitor();
        let url = app.begin(&visitor, "/login/oidc/fake").await;
        let answer = app.fake.sign_in(&url).await;
        app.fake.tamper_next(tamper);
        let (status, _, body) = app.deliver(&visitor, &answer).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::UNAUTHORIZED, reason),
            "{tamper:?}"
        );
        assert_eq!(visitor.whoami().await, "anonymous", "{tamper:?}");
    }
    assert_eq!(app.links.len(), 0);
    let expected: Vec<&str> = cases.iter().map(|(_, reason)| *reason).collect();
    assert_eq!(app.failures(), expected);
    // The same flow untampered signs in: the refusals above were the tokens'.
    app.fake.set_user("fake-sub", Some("new@example.com"), true);
    let visitor = app.visitor();
    let (status, _, _) = app.fake_sign_in(&visitor).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(visitor.whoami().await, "fake-sub");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_keys_are_cached_a_rotation_is_followed_and_unknown_keys_fetch_at_most_once_a_minute()
 {
    let app = App::start("oidc::discovery_and_keys_are_cached").await;
    for round in 0..3 {
        app.fake.set_user(&format!("cached-{round}"), None, false);
        let (status, _, body) = app.fake_sign_in(&app.visitor()).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    }
    // One discovery and one key set for three sign-ins; one token request each.
    assert_eq!(app.fake.requests(DISCOVERY_PATH), 1);
    assert_eq!(app.fake.requests(JWKS_PATH), 1);
    assert_eq!(app.fake.requests(TOKEN_PATH), 3);

    // The provider rotates its keys: the first token under the new key fetches them again.
    app.fake.rotate_keys();
    app.fake.set_user("rotated", None, false);
    let visitor = app.visitor();
    let (status, _, body) = app.fake_sign_in(&visitor).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(visitor.whoami().await, "rotated");
    assert_eq!(app.fake.requests(JWKS_PATH), 2);

    // Tokens naming keys nobody publishes: no more fetches within the minute.
    for _ in 0..3 {
        let visitor = app.visitor();
        let url = app.begin(&visitor, "/login/oidc/fake").await;
        let answer = app.fake.sign_in(&url).await;
        app.fake.tamper_next(Tamper::UnknownKid);
        let (status, _, body) = app.deliver(&visitor, &answer).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_id_token")
        );
    }
    assert_eq!(app.fake.requests(JWKS_PATH), 2);
    assert_eq!(app.fake.requests(DISCOVERY_PATH), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_an_unreachable_provider_and_a_slow_sign_in_are_clear_refusals() {
    let app = App::start("oidc::provider_errors").await;
    // Down: nothing to send the browser to.
    let response = app.visitor().get("/login/oidc/down").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.text().await.unwrap(), "unreachable");
    // Not a provider at all.
    let response = app.visitor().get("/login/oidc/nope").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.text().await.unwrap(), "unknown_provider");

    // The provider answers with an error.
    let visitor = app.visitor();
    let url = app.begin(&visitor, "/login/oidc/fake").await;
    let answer = app.fake.sign_in(&url).await;
    let denied = with_param(
        &with_param(&answer, "code", None),
        "error",
        Some("access_denied"),
    );
    let (status, _, body) = app.deliver(&visitor, &denied).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "denied")
    );

    // Ten minutes and a second later, by the layer's clock, a flow is over.
    let visitor = app.visitor();
    let url = app.begin(&visitor, "/login/oidc/fake").await;
    let answer = app.fake.sign_in(&url).await;
    app.clock.advance(Duration::from_secs(10 * 60 + 1));
    let (status, _, body) = app.deliver(&visitor, &answer).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "expired")
    );
    assert_eq!(visitor.whoami().await, "anonymous");

    if app.real.is_some() {
        // The user declines at the real provider's consent page.
        let visitor = app.visitor();
        let url = app.begin(&visitor, "/login/oidc/real").await;
        let answer = oidc::deny_at_provider(&url, "alice", "alice-password")
            .await
            .unwrap();
        assert_eq!(
            query_param(answer.as_str(), "error").as_deref(),
            Some("access_denied")
        );
        let (status, _, body) = app.deliver(&visitor, &answer).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::UNAUTHORIZED, "denied")
        );
    }
    let failures = app.failures();
    assert_eq!(
        &failures[..4],
        ["unreachable", "unknown_provider", "denied", "expired"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_is_kept_when_local_and_dropped_when_it_leads_elsewhere() {
    let app = App::start("oidc::next_is_kept_when_local").await;
    for (next, expected) in [
        ("/orders?page=2", "/orders?page=2"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
    ] {
        app.fake
            .set_user(&format!("next-{}", rand::random::<u32>()), None, false);
        let visitor = app.visitor();
        let path = format!(
            "/login/oidc/fake?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        let url = app.begin(&visitor, &path).await;
        let answer = app.fake.sign_in(&url).await;
        let (status, location, _) = app.deliver(&visitor, &answer).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, expected),
            "{next}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_address_links_only_with_the_accounts_password_and_an_unverified_one_never() {
    let app = App::start("oidc::a_verified_address_links_only").await;
    let Some(_) = &app.real else { return };
    // carol@example.com is `owner`'s here and verified at the provider.
    let visitor = app.visitor();
    let (status, _, body) = app.real_sign_in(&visitor, "carol", "carol-password").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "confirm carol@example.com at Real")
    );
    assert_eq!(visitor.whoami().await, "anonymous");
    assert_eq!(app.links.len(), 0);
    // Wrong password, and another account's right one: refused, still waiting.
    for (username, password) in [("owner", "wrong"), ("ferris", "hunter42")] {
        let response = visitor
            .post_form(
                "/login/oidc/confirm",
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.text().await.unwrap(), "wrong_password");
    }
    assert_eq!(visitor.whoami().await, "anonymous");
    let response = visitor
        .post_form(
            "/login/oidc/confirm",
            &[("username", "owner"), ("password", "owner-password")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(visitor.whoami().await, "owner");
    assert_eq!(app.links.len(), 1);
    // From now on the provider alone signs owner in.
    let again = app.visitor();
    let (status, _, _) = app.real_sign_in(&again, "carol", "carol-password").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(again.whoami().await, "owner");

    // bob@example.com is `bobby`'s here, and not verified at the provider: no link, no
    // second account with that address.
    let visitor = app.visitor();
    let (status, _, body) = app.real_sign_in(&visitor, "bob", "bob-password").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "email_not_verified")
    );
    assert_eq!(visitor.whoami().await, "anonymous");
    assert_eq!(app.links.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_own_session_links_without_a_password_and_strangers_need_sign_up() {
    let app = App::start_with("oidc::the_owners_own_session_links", false).await;
    // ferris, logged in by password, signs in at a provider that vouches for his address.
    let visitor = app.visitor();
    assert_eq!(
        visitor.login("ferris", "hunter42").await.status(),
        StatusCode::OK
    );
    app.fake
        .set_user("ferris-sub", Some("ferris@example.com"), true);
    let (status, _, body) = app.fake_sign_in(&visitor).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "linked"));
    assert_eq!(app.links.len(), 1);
    // Another browser: the link signs ferris in.
    let other = app.visitor();
    let (status, _, _) = app.fake_sign_in(&other).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(other.whoami().await, "ferris");

    // Without sign-up, an account nobody has is refused.
    app.fake
        .set_user("stranger-sub", Some("stranger@example.com"), true);
    let visitor = app.visitor();
    let (status, _, body) = app.fake_sign_in(&visitor).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "no_account")
    );
    assert_eq!(visitor.whoami().await, "anonymous");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_in_user_links_and_unlinks_but_never_the_last_way_to_sign_in() {
    let app = App::start("oidc::a_logged_in_user_links_and_unlinks").await;
    let visitor = app.visitor();
    // Linking needs a login.
    let response = visitor.post("/link/fake").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.text().await.unwrap(), "not_logged_in");

    visitor.login("ferris", "hunter42").await;
    app.fake
        .set_user("ferris-at-fake", Some("f@fake.example"), false);
    let url = location(&visitor.post("/link/fake").await);
    let answer = app.fake.sign_in(&url).await;
    let (status, _, body) = app.deliver(&visitor, &answer).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "linked"));
    assert_eq!(
        visitor.get("/links").await.text().await.unwrap(),
        "Fake f@fake.example"
    );

    // A second account at the same provider, for the same user: refused.
    app.fake.set_user("ferris-other", None, false);
    let url = location(&visitor.post("/link/fake").await);
    let answer = app.fake.sign_in(&url).await;
    let (status, _, body) = app.deliver(&visitor, &answer).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "provider_already_linked")
    );
    // ferris's provider account, linked by someone else: refused.
    let owner = app.visitor();
    owner.login("owner", "owner-password").await;
    app.fake
        .set_user("ferris-at-fake", Some("f@fake.example"), false);
    let url = location(&owner.post("/link/fake").await);
    let answer = app.fake.sign_in(&url).await;
    let (status, _, body) = app.deliver(&owner, &answer).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "linked_elsewhere")
    );

    // ferris has a password: the link can go.
    assert_eq!(
        visitor.post("/unlink/fake").await.text().await.unwrap(),
        "Done"
    );
    assert_eq!(
        visitor.post("/unlink/fake").await.text().await.unwrap(),
        "NotLinked"
    );
    assert_eq!(visitor.get("/links").await.text().await.unwrap(), "");
    assert!(app.events().contains(&AuthEvent::ProviderUnlinked {
        user: "1".into(),
        provider: "fake".into()
    }));

    // A user made by a provider has no password: their only link stays.
    app.fake.set_user("newcomer", None, false);
    let newcomer = app.visitor();
    let (status, _, _) = app.fake_sign_in(&newcomer).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(newcomer.whoami().await, "newcomer");
    assert_eq!(
        newcomer.post("/unlink/fake").await.text().await.unwrap(),
        "LastWayToSignIn"
    );
    assert_eq!(newcomer.get("/links").await.text().await.unwrap(), "Fake ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_login_waits_for_the_second_factor_and_is_fresh_like_a_password_login() {
    let app = App::start("oidc::a_provider_login_waits_for_the_second_factor").await;
    // `guarded` links the fake from a password login...
    let visitor = app.visitor();
    visitor.login(WITH_SECOND_FACTOR, "guarded-password").await;
    app.fake.set_user("guarded-sub", None, false);
    let url = location(&visitor.post("/link/fake").await);
    let answer = app.fake.sign_in(&url).await;
    assert_eq!(app.deliver(&visitor, &answer).await.2, "linked");
    // ...and signing in with it in another browser waits for the second factor.
    let other = app.visitor();
    let (status, _, body) = app.fake_sign_in(&other).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "second factor due")
    );
    assert_eq!(other.whoami().await, "anonymous");

    // A provider login is fresh, and stops being so like any other.
    app.fake.set_user("fresh-sub", None, false);
    let fresh = app.visitor();
    let (status, _, _) = app.fake_sign_in(&fresh).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(fresh.get("/fresh").await.status(), StatusCode::OK);
    // One factor, as a password is: a guard that asks for two does not pass.
    assert_ne!(fresh.get("/mfa").await.status(), StatusCode::OK);
    app.clock.advance(Duration::from_secs(6 * 60));
    assert_ne!(fresh.get("/fresh").await.status(), StatusCode::OK);
    assert_eq!(fresh.whoami().await, "fresh-sub");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_oauth2_provider_signs_in_through_its_userinfo_endpoint_with_the_same_checks() {
    let app = App::start("oidc::a_plain_oauth2_provider").await;
    let sign_in = |path: &'static str| {
        let app = &app;
        async move {
            let visitor = app.visitor();
            let url = app.begin(&visitor, path).await;
            // PKCE and a state; no nonce without an ID token.
            assert_eq!(
                query_param(&url, "code_challenge_method").as_deref(),
                Some("S256")
            );
            assert_eq!(query_param(&url, "nonce"), None);
            let answer = app.fake.sign_in(&url).await;
            let (status, location, body) = app.deliver(&visitor, &answer).await;
            (visitor, status, location, body)
        }
    };
    app.fake
        .set_user("plain-sub", Some("plain@example.com"), true);
    let (visitor, status, _, body) = sign_in("/login/oidc/plain").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(visitor.whoami().await, "plain-sub");
    assert_eq!(app.fake.requests(USERINFO_PATH), 1);
    assert_eq!(
        app.fake.requests(DISCOVERY_PATH),
        0,
        "no discovery for plain OAuth 2.0"
    );
    // Again, through the link.
    let (visitor, status, _, _) = sign_in("/login/oidc/plain").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(visitor.whoami().await, "plain-sub");
    assert_eq!(app.links.len(), 1);

    // A verified address of a user: the password first. A provider that never says an
    // address is verified links nobody by address.
    app.fake
        .set_user("plain-owner", Some("ferris@example.com"), true);
    let (_, status, _, body) = sign_in("/login/oidc/plain").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "confirm ferris@example.com at Plain")
    );
    let (_, status, _, body) = sign_in("/login/oidc/plain-unverified").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "email_not_verified")
    );
    // An answer without the subject field, a refused code, another issuer's `iss`.
    let (_, status, _, body) = sign_in("/login/oidc/plain-nosub").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_user_info")
    );
    let visitor = app.visitor();
    let url = app.begin(&visitor, "/login/oidc/plain").await;
    let answer = app.fake.sign_in(&url).await;
    app.fake.tamper_next(Tamper::TokenError);
    let (status, _, body) = app.deliver(&visitor, &answer).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "token_refused")
    );
    let visitor = app.visitor();
    let url = app.begin(&visitor, "/login/oidc/plain").await;
    let answer = app.fake.sign_in(&url).await;
    let forged = with_param(&answer, "iss", Some("https://elsewhere.example"));
    let (status, _, body) = app.deliver(&visitor, &forged).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "mix_up")
    );
    assert_eq!(app.links.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ready_made_router_signs_in_and_answers_failures_as_plain_text() {
    let app = App::start("oidc::the_ready_made_router").await;
    let through_router =
        |answer: &Url| Url::parse(&answer.as_str().replace("/login/oidc/", "/auto/")).unwrap();
    app.fake.set_user("routed", None, false);
    let visitor = app.visitor();
    let url = app.begin(&visitor, "/auto/fake?next=/orders").await;
    let answer = app.fake.sign_in(&url).await;
    let (status, location, _) = app.deliver(&visitor, &through_router(&answer)).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/orders")
    );
    assert_eq!(visitor.whoami().await, "routed");

    let response = app.visitor().get("/auto/nope").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.text().await.unwrap(),
        "There is no such sign-in provider."
    );
    // A replay: refused, in words.
    let (status, _, body) = app.deliver(&visitor, &through_router(&answer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("not started here"), "{body}");
    // An address that is an account's, and no page to confirm it on: say what to do.
    app.fake
        .set_user("routed-owner", Some("ferris@example.com"), true);
    let visitor = app.visitor();
    let url = app.begin(&visitor, "/auto/fake").await;
    let answer = app.fake.sign_in(&url).await;
    let (status, _, body) = app.deliver(&visitor, &through_router(&answer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("log in with its password, then link"),
        "{body}"
    );
    assert_eq!(visitor.whoami().await, "anonymous");
}
