//! "Log in with a provider": the OAuth2 authorization-code flow with PKCE, through the `oauth2`
//! crate, on top of axum-login sessions.
//!
//! 1. `GET /login?next=/somewhere` makes a PKCE verifier and a random `state`, keeps them in the
//!    session with `next`, and sends the browser to the provider.
//! 2. The provider sends the browser back to `GET /auth/callback?code=..&state=..`. The `state`
//!    must equal the one in this browser's session (compared in constant time), the code is
//!    exchanged with the PKCE verifier, and the provider's user info is what
//!    [`ProviderUsers::authenticate`](axum_login::UserStore::authenticate) takes.
//! 3. The user is logged in and sent to `next`, if [`safe_next`] accepts it, or to `/`.
//!
//! No password and no password hash exist anywhere: a user's sessions are bound to a per-user
//! security stamp, and `POST /logout/everywhere` changes it to end every other session.
//!
//! A logout from another site's page is refused with `403`. The login needs no such check: it
//! ends in a `GET` from the provider, a cross-site navigation by nature, and the `state` proves
//! that this browser started it.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
};

use axum::{
    Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::session::MemoryStore;
use axum_login::tower_sessions::Expiry;
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, CurrentUser, SessionKey, UserStore, safe_next,
    session_layer,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
    basic::BasicClient,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Where the provider is and who this app is to it: from the environment or the command line,
/// so the same binary talks to a real provider or to a local fake.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The app's client id at the provider.
    pub client_id: String,
    /// The app's client secret at the provider.
    pub client_secret: String,
    /// The provider's authorization endpoint, where browsers are sent.
    pub auth_url: String,
    /// The provider's token endpoint.
    pub token_url: String,
    /// The provider's user-info endpoint, which answers JSON with at least `sub`.
    pub userinfo_url: String,
    /// This app's `/auth/callback` as the provider will redirect to it.
    pub redirect_url: String,
    /// The scopes to ask for.
    pub scopes: Vec<String>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("userinfo_url", &self.userinfo_url)
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Why the app cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A URL that does not parse.
    #[error("{name} is not a valid URL: {source}")]
    Url {
        /// Which setting.
        name: &'static str,
        /// Why it does not parse.
        #[source]
        source: oauth2::url::ParseError,
    },
    /// The HTTP client for the provider cannot be built.
    #[error("the HTTP client cannot be built: {0}")]
    Http(#[from] reqwest::Error),
}

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What the app keeps to talk to the provider.
#[derive(Clone)]
struct Provider {
    client: OAuthClient,
    userinfo_url: oauth2::url::Url,
    scopes: Vec<String>,
    /// Talks to the provider's token and user-info endpoints. It follows no redirects, so a token
    /// endpoint cannot bounce the request (and the code) somewhere else.
    http: reqwest::Client,
}

impl Provider {
    fn new(config: &ProviderConfig) -> Result<Self, ConfigError> {
        let url = |name, value: &str| {
            oauth2::url::Url::parse(value).map_err(|source| ConfigError::Url { name, source })
        };
        let client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.clone()))
            .set_auth_uri(AuthUrl::from_url(url("auth_url", &config.auth_url)?))
            .set_token_uri(TokenUrl::from_url(url("token_url", &config.token_url)?))
            .set_redirect_uri(RedirectUrl::from_url(url(
                "redirect_url",
                &config.redirect_url,
            )?));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Some provider APIs (GitHub's) refuse requests without one.
            .user_agent(concat!(
                "axum-login-example-oauth2/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Self {
            client,
            userinfo_url: url("userinfo_url", &config.userinfo_url)?,
            scopes: config.scopes.clone(),
            http,
        })
    }
}

/// What the provider says about the user, from its user-info endpoint: the credentials that
/// [`ProviderUsers`] takes.
///
/// Read from OpenID Connect's claims (`sub`, `name`, `email`) or GitHub's user object (`id`,
/// `login`, `name`, `email`).
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawProfile")]
pub struct ProviderProfile {
    /// The provider's stable id for the user.
    pub sub: String,
    /// A display name, if the provider gives one.
    pub name: Option<String>,
    /// An email address, if the provider gives one.
    pub email: Option<String>,
}

#[derive(Deserialize)]
struct RawProfile {
    sub: Option<serde_json::Value>,
    id: Option<serde_json::Value>,
    name: Option<String>,
    login: Option<String>,
    email: Option<String>,
}

impl TryFrom<RawProfile> for ProviderProfile {
    type Error = &'static str;

    fn try_from(raw: RawProfile) -> Result<Self, Self::Error> {
        let sub = match raw.sub.or(raw.id) {
            Some(serde_json::Value::String(sub)) if !sub.is_empty() => sub,
            Some(serde_json::Value::Number(id)) => id.to_string(),
            _ => return Err("the user info has no `sub` (or `id`)"),
        };
        Ok(Self {
            sub,
            name: raw.name.or(raw.login),
            email: raw.email,
        })
    }
}

/// A user of this app, known by the provider's subject id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// This app's id for the user.
    pub id: u64,
    /// The provider's id for the user.
    pub subject: String,
    /// The display name, as the provider last said.
    pub name: String,
    /// Changes when every session of the user must end. There is no password to hash: this is
    /// what the session's digest is bound to.
    security_stamp: String,
}

impl AuthUser for User {
    type Id = u64;

    fn id(&self) -> u64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.security_stamp.as_bytes()
    }
}

fn new_stamp() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

#[derive(Default)]
struct Directory {
    users: HashMap<u64, User>,
    by_subject: HashMap<String, u64>,
    next_id: u64,
}

/// The app's users, in memory, created on their first login through the provider.
///
/// A hand-written [`UserStore`]: `authenticate` takes the provider's verified user info, not a
/// password.
#[derive(Clone, Default)]
pub struct ProviderUsers {
    directory: Arc<RwLock<Directory>>,
}

/// The store's lock was poisoned by a panic elsewhere.
#[derive(Debug, thiserror::Error)]
#[error("the user directory is unavailable")]
pub struct StoreError;

impl ProviderUsers {
    /// Ends every session of user `id` (on their next request), and answers the user as it is
    /// now.
    pub fn rotate_security_stamp(&self, id: u64) -> Result<Option<User>, StoreError> {
        let mut directory = self.directory.write().map_err(|_| StoreError)?;
        Ok(directory.users.get_mut(&id).map(|user| {
            user.security_stamp = new_stamp();
            user.clone()
        }))
    }

    /// The number of users known.
    pub fn len(&self) -> usize {
        self.directory.read().map_or(0, |d| d.users.len())
    }

    /// Whether no user has logged in yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl UserStore for ProviderUsers {
    type User = User;
    type Credentials = ProviderProfile;
    type Error = StoreError;

    /// The provider vouched for this profile: find the user by subject, or create them.
    async fn authenticate(&self, profile: ProviderProfile) -> Result<Option<User>, StoreError> {
        let mut directory = self.directory.write().map_err(|_| StoreError)?;
        let name = profile
            .name
            .or(profile.email)
            .unwrap_or_else(|| profile.sub.clone());
        if let Some(id) = directory.by_subject.get(&profile.sub).copied()
            && let Some(user) = directory.users.get_mut(&id)
        {
            user.name = name;
            return Ok(Some(user.clone()));
        }
        directory.next_id += 1;
        let user = User {
            id: directory.next_id,
            subject: profile.sub.clone(),
            name,
            security_stamp: new_stamp(),
        };
        directory.by_subject.insert(profile.sub, user.id);
        directory.users.insert(user.id, user.clone());
        Ok(Some(user))
    }

    async fn load_user(&self, id: &u64) -> Result<Option<User>, StoreError> {
        Ok(self
            .directory
            .read()
            .map_err(|_| StoreError)?
            .users
            .get(id)
            .cloned())
    }
}

type Auth = AuthSession<ProviderUsers>;

/// The session entry for a login under way.
const PENDING: &str = "oauth2.pending";

/// What the callback needs to finish the login this browser started.
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    state: String,
    pkce_verifier: String,
    next: Option<String>,
}

/// How long a login begun at the provider may take before its session is dropped: an
/// abandoned login must not keep a session for the usual lifetime of one.
const PENDING_LOGIN_EXPIRY: axum_login::tower_sessions::cookie::time::Duration =
    axum_login::tower_sessions::cookie::time::Duration::minutes(10);

/// The most sessions the app keeps. Every visitor who starts a login gets one, so the bound is
/// what keeps a flood of `GET /login` from growing memory; when it is reached, the session
/// closest to expiry goes first, which is an abandoned pending login long before a logged-in
/// user's session.
const MAX_SESSIONS: usize = 20_000;

/// The app's router, with authentication on it.
///
/// Sessions live in axum-login's `MemoryStore`, bounded by [`MAX_SESSIONS`] and dropping expired
/// ones; one instance, so memory is enough.
pub async fn app(
    config: &ProviderConfig,
    users: ProviderUsers,
    key: SessionKey,
) -> Result<Router, ConfigError> {
    let provider = Provider::new(config)?;
    // `session_layer` keeps the cookie `SameSite=Lax`, not `Strict`: the provider sends the
    // browser back with a top-level GET from another site, and a `Strict` cookie would stay
    // behind, losing the pending login (and the user would look logged out right after logging
    // in). `Lax` comes along on that navigation and still stays home on cross-site POSTs.
    let sessions = session_layer(MemoryStore::new(MAX_SESSIONS))
        // Plain HTTP on loopback, where a `Secure` cookie would never come back; `main` says so.
        .with_secure(false);
    Ok(Router::new()
        .route("/", get(home))
        .route("/protected", get(protected))
        .route("/login", get(start_login))
        .route("/auth/callback", get(callback))
        .route("/logout", post(logout))
        .route("/logout/everywhere", post(logout_everywhere))
        .with_state(provider)
        .layer(
            AuthLayer::builder(users, sessions)
                .session_key(key)
                .login_url("/login")
                .build(),
        ))
}

async fn home(user: Option<CurrentUser<User>>) -> String {
    match user {
        Some(CurrentUser(user)) => format!("logged in as {}", user.name),
        None => "not logged in; GET /login to log in with the provider".to_owned(),
    }
}

#[axum_login::require_login]
async fn protected(CurrentUser(user): CurrentUser<User>) -> String {
    format!("protected page for {}", user.name)
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn start_login(
    auth: Auth,
    State(provider): State<Provider>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AuthError> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = provider
        .client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingLogin {
        state: state.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        // Checked now and again on return; an unsafe `next` is dropped, not kept.
        next: query.next.as_deref().and_then(safe_next).map(str::to_owned),
    };
    // Until the login completes, the session lives only as long as a login may take.
    auth.session()
        .set_expiry(Some(Expiry::OnInactivity(PENDING_LOGIN_EXPIRY)));
    auth.session().insert(PENDING, pending).await?;
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn refused(message: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, message).into_response()
}

async fn callback(
    mut auth: Auth,
    State(provider): State<Provider>,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, AuthError> {
    // Taken out whatever happens next: a state and a verifier are good for one attempt.
    let Some(pending) = auth.session().remove::<PendingLogin>(PENDING).await? else {
        return Ok(refused(
            "no login is under way in this browser; start again at /login",
        ));
    };
    if let Some(error) = query.error {
        tracing::info!(%error, "the provider refused the login");
        return Ok(refused("the provider did not log you in"));
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return Ok(refused("the provider's answer lacks a code or a state"));
    };
    // The state proves that this browser started this login (no login CSRF); compared in constant
    // time so that its bytes cannot be guessed one at a time.
    if !bool::from(state.as_bytes().ct_eq(pending.state.as_bytes())) {
        tracing::warn!("OAuth2 callback with a state that does not match the session's");
        return Ok(refused(
            "the login could not be verified; start again at /login",
        ));
    }
    let token = match provider
        .client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&provider.http)
        .await
    {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, "the provider refused to exchange the code");
            return Ok(refused(
                "the provider did not confirm the login; start again at /login",
            ));
        }
    };
    let profile = provider
        .http
        .get(provider.userinfo_url.clone())
        .bearer_auth(token.access_token().secret())
        .send()
        .await
        .and_then(reqwest::Response::error_for_status);
    let profile: ProviderProfile = match profile {
        Ok(response) => match response.json().await {
            Ok(profile) => profile,
            Err(error) => {
                tracing::warn!(%error, "the provider's user info does not parse");
                return Ok(
                    (StatusCode::BAD_GATEWAY, "the provider answered nonsense").into_response()
                );
            }
        },
        Err(error) => {
            tracing::warn!(%error, "fetching the provider's user info failed");
            return Ok((StatusCode::BAD_GATEWAY, "the provider is unavailable").into_response());
        }
    };
    let Some(user) = auth.authenticate(profile).await? else {
        return Ok((StatusCode::FORBIDDEN, "this account may not log in").into_response());
    };
    // Changes the session id: whatever id the browser had before is worthless now.
    auth.login(&user).await?;
    // A logged-in session lasts as the layer says, no longer the few minutes of a pending login.
    auth.session().set_expiry(None);
    let next = pending.next.as_deref().and_then(safe_next).unwrap_or("/");
    Ok(Redirect::to(next).into_response())
}

async fn logout(mut auth: Auth) -> Result<Redirect, AuthError> {
    auth.logout().await?;
    Ok(Redirect::to("/"))
}

/// Ends every other session of this user, keeping this one.
#[axum_login::require_login]
async fn logout_everywhere(
    mut auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> Result<Response, AuthError> {
    let Some(user) = auth
        .store()
        .rotate_security_stamp(user.id)
        .map_err(|error| AuthError::Store(error.into()))?
    else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    auth.update_session_auth_hash(&user).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
