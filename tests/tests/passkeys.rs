//! Passkey ceremonies over HTTP, end to end: a small app keeps each ceremony's state in its
//! server-side session and the passkeys in SQLite; a real HTTP client with a cookie jar plays the
//! browser, and webauthn-authenticator-rs's software passkey plays the authenticator.
//!
//! `/login/{user}` stands in for the password step, which is not what these tests are about.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::mfa::{
    Passkeys, SqlxPasskeyStore,
    passkey::{
        AuthenticationState, PasswordlessState, PublicKeyCredential, RegisterPublicKeyCredential,
        RegistrationState, Url,
    },
};
use axum_login_tests::{db, http::browser, soft_passkey::SoftAuthenticator};
use serde::de::DeserializeOwned;
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

type App = Arc<Passkeys<SqlxPasskeyStore<sqlx::Sqlite>>>;

const USER: &str = "user";
const MFA: &str = "mfa";
const REGISTRATION: &str = "passkey.registration";
const AUTHENTICATION: &str = "passkey.authentication";
const PASSWORDLESS: &str = "passkey.passwordless";

async fn login(session: Session, Path(user): Path<String>) -> StatusCode {
    session.insert(USER, user).await.unwrap();
    session.remove::<bool>(MFA).await.unwrap();
    StatusCode::NO_CONTENT
}

async fn me(session: Session) -> Json<serde_json::Value> {
    let user: Option<String> = session.get(USER).await.unwrap();
    let mfa: Option<bool> = session.get(MFA).await.unwrap();
    Json(serde_json::json!({ "user": user, "mfa": mfa.unwrap_or(false) }))
}

/// Takes a ceremony's state out of the session, so no answer can be checked against it twice.
async fn take<T: DeserializeOwned>(session: &Session, key: &str) -> Option<T> {
    session.remove::<T>(key).await.unwrap()
}

async fn register_start(State(passkeys): State<App>, session: Session) -> Response {
    let Some(user) = session.get::<String>(USER).await.unwrap() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let (options, state) = passkeys
        .start_registration(&user, &user, &user)
        .await
        .unwrap();
    session.insert(REGISTRATION, state).await.unwrap();
    Json(options).into_response()
}

async fn register_finish(
    State(passkeys): State<App>,
    session: Session,
    Json(response): Json<RegisterPublicKeyCredential>,
) -> StatusCode {
    let Some(user) = session.get::<String>(USER).await.unwrap() else {
        return StatusCode::UNAUTHORIZED;
    };
    let Some(state) = take::<RegistrationState>(&session, REGISTRATION).await else {
        return StatusCode::BAD_REQUEST;
    };
    match passkeys.finish_registration(&user, &response, state).await {
        Ok(_) => StatusCode::CREATED,
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

async fn second_factor_start(State(passkeys): State<App>, session: Session) -> Response {
    let Some(user) = session.get::<String>(USER).await.unwrap() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match passkeys.start_authentication(&user).await.unwrap() {
        Some((options, state)) => {
            session.insert(AUTHENTICATION, state).await.unwrap();
            Json(options).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn second_factor_finish(
    State(passkeys): State<App>,
    session: Session,
    Json(response): Json<PublicKeyCredential>,
) -> StatusCode {
    let Some(user) = session.get::<String>(USER).await.unwrap() else {
        return StatusCode::UNAUTHORIZED;
    };
    let Some(state) = take::<AuthenticationState>(&session, AUTHENTICATION).await else {
        return StatusCode::BAD_REQUEST;
    };
    match passkeys
        .finish_authentication(&user, &response, state)
        .await
    {
        Ok(result) => {
            assert!(result.user_verified());
            session.insert(MFA, true).await.unwrap();
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::UNAUTHORIZED,
    }
}

async fn passwordless_start(State(passkeys): State<App>, session: Session) -> Response {
    let (options, state) = passkeys.start_passwordless().unwrap();
    session.insert(PASSWORDLESS, state).await.unwrap();
    Json(options).into_response()
}

async fn passwordless_finish(
    State(passkeys): State<App>,
    session: Session,
    Json(response): Json<PublicKeyCredential>,
) -> Response {
    let Some(state) = take::<PasswordlessState>(&session, PASSWORDLESS).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match passkeys.finish_passwordless(&response, state).await {
        Ok(login) => {
            // A real app rotates the session id here (`AuthSession::login` does).
            session.cycle_id().await.unwrap();
            session.insert(USER, &login.user).await.unwrap();
            session.insert(MFA, true).await.unwrap();
            login.user.into_response()
        }
        Err(_) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

struct Site {
    base: String,
    origin: Url,
    db: db::TestDb<sqlx::Sqlite>,
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
    let app = Router::new()
        .route("/login/{user}", post(login))
        .route("/me", get(me))
        .route("/passkeys/register/start", post(register_start))
        .route("/passkeys/register/finish", post(register_finish))
        .route("/2fa/passkey/start", post(second_factor_start))
        .route("/2fa/passkey/finish", post(second_factor_finish))
        .route("/login/passkey/start", post(passwordless_start))
        .route("/login/passkey/finish", post(passwordless_finish))
        .with_state(passkeys)
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Site {
        base: format!("http://{addr}"),
        origin,
        db,
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
    // A ceremony state started for 7 is refused once the session is 8's.
    site.post(&client, "/login/7").await;
    let options = site.second_factor_options(&client).await;
    let assertion = authenticator.authenticate(options);
    site.post(&client, "/login/8").await;
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
