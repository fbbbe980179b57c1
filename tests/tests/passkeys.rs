//! Passkey ceremonies over HTTP, end to end: a small app keeps each ceremony's state in its
//! server-side session and the passkeys in SQLite; a real HTTP client with a cookie jar plays the
//! browser, and webauthn-authenticator-rs's software passkey plays the authenticator.
//!
//! The app is behind the `AuthLayer`: the password step is a directory store whose users all
//! have the password `pw`; a passkey is a step-up on a logged-in session, the second step of a
//! login waiting after its password (`complete_second_factor`), or a login of its own
//! (`login_with_passkey`).
#![allow(clippy::unwrap_used)]

use std::{convert::Infallible, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::{
    AuthLayer, AuthSession, SessionKey, UserStore,
    events::{AuthEvent, EventRecord, LoginMethod},
    mfa::{
        Passkeys, SqlxPasskeyStore,
        passkey::{
            AuthenticationState, PasswordlessState, PublicKeyCredential,
            RegisterPublicKeyCredential, RegistrationState, Url,
        },
    },
    require_login,
    session::MemoryStore,
    session_layer,
};
use axum_login_tests::{
    db,
    directory::{Credentials, TestStore},
    http::browser,
    login::log_in,
    soft_passkey::SoftAuthenticator,
};
use serde::de::DeserializeOwned;
use std::sync::Mutex;

type App = Arc<Passkeys<SqlxPasskeyStore<sqlx::Sqlite>>>;
type Auth = AuthSession<TestStore>;

const REGISTRATION: &str = "passkey.registration";
const AUTHENTICATION: &str = "passkey.authentication";
const PASSWORDLESS: &str = "passkey.passwordless";
const PASSWORD: &str = "pw";

/// The test users' credentials: every user has [`PASSWORD`].
fn credentials(user: &str) -> Credentials {
    Credentials {
        username: user.to_owned(),
        password: PASSWORD.to_owned(),
    }
}

/// The password step, as a logged-in session (a passkey then is a step-up).
async fn login(mut auth: Auth, Path(user): Path<String>) -> StatusCode {
    match log_in(&mut auth, credentials(&user)).await.unwrap() {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::UNAUTHORIZED,
    }
}

/// The password step of a two-step login: nobody is logged in until the passkey.
async fn login_waiting(mut auth: Auth, Path(user): Path<String>) -> StatusCode {
    let Some(user) = auth.authenticate(credentials(&user)).await.unwrap() else {
        return StatusCode::UNAUTHORIZED;
    };
    auth.begin_second_factor(&user, false).await.unwrap();
    StatusCode::ACCEPTED
}

async fn me(auth: Auth) -> Json<serde_json::Value> {
    let user = auth.user().await.unwrap().map(|user| user.name);
    let mfa = auth.has_second_factor().await.unwrap();
    Json(serde_json::json!({ "user": user, "mfa": mfa }))
}

#[require_login(mfa)]
async fn secure() -> &'static str {
    "secure"
}

/// Takes a ceremony's state out of the session, so no answer can be checked against it twice.
async fn take<T: DeserializeOwned>(auth: &Auth, key: &str) -> Option<T> {
    auth.session().remove::<T>(key).await.unwrap()
}

async fn register_start(State(passkeys): State<App>, auth: Auth) -> Response {
    let Some(user) = auth.user().await.unwrap() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let (options, state) = passkeys
        .start_registration(&user.id.to_string(), &user.name, &user.name)
        .await
        .unwrap();
    auth.session().insert(REGISTRATION, state).await.unwrap();
    Json(options).into_response()
}

async fn register_finish(
    State(passkeys): State<App>,
    auth: Auth,
    Json(response): Json<RegisterPublicKeyCredential>,
) -> StatusCode {
    let Some(user) = auth.user().await.unwrap() else {
        return StatusCode::UNAUTHORIZED;
    };
    let Some(state) = take::<RegistrationState>(&auth, REGISTRATION).await else {
        return StatusCode::BAD_REQUEST;
    };
    match passkeys
        .finish_registration(&user.id.to_string(), &response, state)
        .await
    {
        Ok(_) => StatusCode::CREATED,
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// A ceremony for whoever's second factor is due: a waiting login, or the logged-in user.
async fn second_factor_start(State(passkeys): State<App>, auth: Auth) -> Response {
    let Some(due) = auth.second_factor_due().await.unwrap() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match passkeys
        .start_authentication(&due.user().id.to_string())
        .await
        .unwrap()
    {
        Some((options, state)) => {
            auth.session().insert(AUTHENTICATION, state).await.unwrap();
            Json(options).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn second_factor_finish(
    State(passkeys): State<App>,
    mut auth: Auth,
    Json(response): Json<PublicKeyCredential>,
) -> StatusCode {
    let Some(state) = take::<AuthenticationState>(&auth, AUTHENTICATION).await else {
        return StatusCode::BAD_REQUEST;
    };
    let passed = auth
        .complete_second_factor(|user| async move {
            let result = passkeys
                .finish_authentication(&user.id.to_string(), &response, state)
                .await;
            Ok::<_, Infallible>(result.is_ok_and(|result| result.user_verified()))
        })
        .await
        .unwrap();
    if passed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    }
}

async fn passwordless_start(State(passkeys): State<App>, auth: Auth) -> Response {
    let (options, state) = passkeys.start_passwordless().unwrap();
    auth.session().insert(PASSWORDLESS, state).await.unwrap();
    Json(options).into_response()
}

async fn passwordless_finish(
    State(passkeys): State<App>,
    mut auth: Auth,
    Json(response): Json<PublicKeyCredential>,
) -> Response {
    let Some(state) = take::<PasswordlessState>(&auth, PASSWORDLESS).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(login) = passkeys.finish_passwordless(&response, state).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if !login.result.user_verified() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(id) = login.user.parse::<u64>() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(user) = auth.store().load_user(&id).await.unwrap() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    auth.login_with_passkey(&user).await.unwrap();
    user.name.into_response()
}

struct Site {
    base: String,
    origin: Url,
    db: db::TestDb<sqlx::Sqlite>,
    events: Arc<Mutex<Vec<AuthEvent>>>,
}

/// The app on a loopback port. Its WebAuthn origin is `http://localhost:PORT`: WebAuthn needs a
/// domain, and browsers treat `localhost` as a secure context over plain HTTP.
async fn site() -> Site {
    let db = db::sqlite_file().await.unwrap();
    let store = SqlxPasskeyStore::new(db.pool.clone());
    store.migrate().await.unwrap();
    // Bound first: the origin needs the port before the app is built.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let origin = Url::parse(&format!("http://localhost:{port}")).unwrap();
    let passkeys: App =
        Arc::new(Passkeys::new(store, "localhost", &origin, "Passkey test").unwrap());
    let users =
        TestStore::with_users(&[(7, "7", PASSWORD), (8, "8", PASSWORD), (9, "9", PASSWORD)]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    // Plain HTTP on loopback: the cookie is not `Secure`, so the test client sends it back.
    let layer = AuthLayer::builder(
        users,
        session_layer(MemoryStore::default()).with_secure(false),
    )
    .session_key(SessionKey::generate())
    .events(move |record: &EventRecord| sink.lock().unwrap().push(record.event.clone()))
    .build();
    let app = Router::new()
        .route("/login/{user}", post(login))
        .route("/login-waiting/{user}", post(login_waiting))
        .route("/me", get(me))
        .route("/secure", get(secure))
        .route("/passkeys/register/start", post(register_start))
        .route("/passkeys/register/finish", post(register_finish))
        .route("/2fa/passkey/start", post(second_factor_start))
        .route("/2fa/passkey/finish", post(second_factor_finish))
        .route("/login/passkey/start", post(passwordless_start))
        .route("/login/passkey/finish", post(passwordless_finish))
        .with_state(passkeys)
        .layer(layer);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Site {
        base: format!("http://{addr}"),
        origin,
        db,
        events,
    }
}

impl Site {
    async fn post(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client
            .post(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn post_json(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &impl serde::Serialize,
    ) -> reqwest::Response {
        client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client
            .get(format!("{}{path}", self.base))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
    }

    async fn me(&self, client: &reqwest::Client) -> serde_json::Value {
        client
            .get(format!("{}/me", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Logs `user` in and registers the authenticator's new passkey for them.
    async fn register(
        &self,
        client: &reqwest::Client,
        authenticator: &mut SoftAuthenticator,
        user: &str,
    ) {
        assert_eq!(
            self.post(client, &format!("/login/{user}")).await.status(),
            204
        );
        let options = self
            .post(client, "/passkeys/register/start")
            .await
            .json()
            .await
            .unwrap();
        let response = authenticator.register(options);
        assert_eq!(
            self.post_json(client, "/passkeys/register/finish", &response)
                .await
                .status(),
            201
        );
    }

    /// The options of a new second-factor ceremony.
    async fn second_factor_options(
        &self,
        client: &reqwest::Client,
    ) -> axum_login::mfa::passkey::RequestChallengeResponse {
        let response = self.post(client, "/2fa/passkey/start").await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

#[tokio::test]
async fn a_passkey_registered_over_http_passes_as_a_second_factor() {
    let site = site().await;
    let client = browser();
    let mut authenticator = SoftAuthenticator::new(site.origin.clone());
    site.register(&client, &mut authenticator, "7").await;
    assert_eq!(site.me(&client).await["mfa"], false);

    let options = site.second_factor_options(&client).await;
    let assertion = authenticator.authenticate(options);
    let finished = site
        .post_json(&client, "/2fa/passkey/finish", &assertion)
        .await;
    assert_eq!(finished.status(), 204);
    assert_eq!(
        site.me(&client).await,
        serde_json::json!({ "user": "7", "mfa": true })
    );

    // And again, with a fresh challenge: the counter moves on and is stored.
    let options = site.second_factor_options(&client).await;
    let assertion = authenticator.authenticate(options);
    assert_eq!(
        site.post_json(&client, "/2fa/passkey/finish", &assertion)
            .await
            .status(),
        204
    );
    site.db.finish().await;
}

#[tokio::test]
async fn a_replayed_assertion_is_refused() {
    let site = site().await;
    let client = browser();
    let mut authenticator = SoftAuthenticator::new(site.origin.clone());
    site.register(&client, &mut authenticator, "7").await;
    let options = site.second_factor_options(&client).await;
    let assertion = authenticator.authenticate(options);
    assert_eq!(
        site.post_json(&client, "/2fa/passkey/finish", &assertion)
            .await
            .status(),
        204
    );
    // The ceremony's state left the session with the first answer.
    assert_eq!(
        site.post_json(&client, "/2fa/passkey/finish", &assertion)
            .await
            .status(),
        400
    );
    // Against a new ceremony, the old answer signs the wrong challenge.
    site.second_factor_options(&client).await;
    assert_eq!(
        site.post_json(&client, "/2fa/passkey/finish", &assertion)
            .await
            .status(),
        401
    );
    site.db.finish().await;
}

#[tokio::test]
async fn an_assertion_made_on_another_origin_is_refused() {
    let site = site().await;
    let client = browser();
    let mut authenticator = SoftAuthenticator::new(site.origin.clone());
    site.register(&client, &mut authenticator, "7").await;
    let options = site.second_factor_options(&client).await;
    // A browser refuses to sign for this site on an unrelated host, but signs on another port
    // of the same host (another app there, say): the server must refuse that origin, which the
    // signed client data carries.
    let other_port = site.origin.port().unwrap().wrapping_add(1).max(1);
    let elsewhere = Url::parse(&format!("http://localhost:{other_port}")).unwrap();
    let phished = authenticator.authenticate_from(elsewhere, options).unwrap();
    assert_eq!(
        site.post_json(&client, "/2fa/passkey/finish", &phished)
            .await
            .status(),
        401
    );
    assert_eq!(site.me(&client).await["mfa"], false);
    site.db.finish().await;
}

#[tokio::test]
async fn a_ceremony_started_for_one_user_does_not_finish_for_another() {
    let site = site().await;
    let client = browser();
    let mut authenticator = SoftAuthenticator::new(site.origin.clone());
    site.register(&client, &mut authenticator, "7").await;
    let mut other = SoftAuthenticator::new(site.origin.clone());
    site.register(&client, &mut other, "8").await;

    // The session now belongs to user 8; a ceremony for 8 answered by 7's passkey fails.
    let options = site.second_factor_options(&client).await;
    let wrong_key = authenticator.authenticate_from(site.origin.clone(), options);
    assert!(
        wrong_key.is_err(),
        "7's authenticator holds none of 8's credentials"
    );
    // A ceremony started for 7 does not survive the session becoming 8's: logging in as
    // another user starts the session over, the ceremony's state with it.
    site.post(&client, "/login/7").await;
    let options = site.second_factor_options(&client).await;
    let assertion = authenticator.authenticate(options);
    site.post(&client, "/login/8").await;
    assert_eq!(
        site.post_json(&client, "/2fa/passkey/finish", &assertion)
            .await
            .status(),
        400
    );
    // And 7's answer to a ceremony for 8 fails the check.
    site.second_factor_options(&client).await;
    assert_eq!(
        site.post_json(&client, "/2fa/passkey/finish", &assertion)
            .await
            .status(),
        401
    );
    assert_eq!(
        site.me(&client).await,
        serde_json::json!({ "user": "8", "mfa": false })
    );
    site.db.finish().await;
}

#[tokio::test]
async fn a_user_without_passkeys_is_offered_no_ceremony() {
    let site = site().await;
    let client = browser();
    site.post(&client, "/login/9").await;
    assert_eq!(site.post(&client, "/2fa/passkey/start").await.status(), 404);
    site.db.finish().await;
}

#[tokio::test]
async fn a_passkey_logs_in_without_a_password() {
    let site = site().await;
    let mut authenticator = SoftAuthenticator::new(site.origin.clone());
    site.register(&browser(), &mut authenticator, "7").await;

    // Another browser, no session, no username: the passkey names the user.
    let client = browser();
    let options: axum_login::mfa::passkey::RequestChallengeResponse = site
        .post(&client, "/login/passkey/start")
        .await
        .json()
        .await
        .unwrap();
    assert!(options.public_key.allow_credentials.is_empty());
    let assertion = authenticator.authenticate(options);
    let finished = site
        .post_json(&client, "/login/passkey/finish", &assertion)
        .await;
    assert_eq!(finished.status(), 200);
    assert_eq!(finished.text().await.unwrap(), "7");
    assert_eq!(
        site.me(&client).await,
        serde_json::json!({ "user": "7", "mfa": true })
    );
    assert_eq!(site.get(&client, "/secure").await.status(), 200);
    assert!(site.events.lock().unwrap().contains(&AuthEvent::LoggedIn {
        user: "7".to_owned(),
        method: LoginMethod::Passkey,
    }));

    // An assertion whose user handle names nobody logs nobody in.
    let options = site
        .post(&client, "/login/passkey/start")
        .await
        .json()
        .await
        .unwrap();
    let mut forged = authenticator.authenticate(options);
    forged.response.user_handle = Some(vec![0; 16]);
    assert_eq!(
        site.post_json(&client, "/login/passkey/finish", &forged)
            .await
            .status(),
        401
    );
    site.db.finish().await;
}

/// The two-step login with a passkey as the second factor: after the password nobody is
/// logged in and `mfa` routes are closed; the passkey completes the login under a new session
/// id, and opens them.
#[tokio::test]
async fn a_passkey_completes_a_login_waiting_after_the_password() {
    let site = site().await;
    let mut authenticator = SoftAuthenticator::new(site.origin.clone());
    site.register(&browser(), &mut authenticator, "7").await;

    let client = browser();
    assert_eq!(site.post(&client, "/login-waiting/7").await.status(), 202);
    assert_eq!(
        site.me(&client).await,
        serde_json::json!({ "user": null, "mfa": false })
    );
    assert_eq!(site.get(&client, "/secure").await.status(), 401);
    let options = site.second_factor_options(&client).await;
    let assertion = authenticator.authenticate(options);
    assert_eq!(
        site.post_json(&client, "/2fa/passkey/finish", &assertion)
            .await
            .status(),
        204
    );
    assert_eq!(
        site.me(&client).await,
        serde_json::json!({ "user": "7", "mfa": true })
    );
    assert_eq!(site.get(&client, "/secure").await.status(), 200);
    assert!(site.events.lock().unwrap().contains(&AuthEvent::LoggedIn {
        user: "7".to_owned(),
        method: LoginMethod::SecondFactor,
    }));
    site.db.finish().await;
}
