//! "Log in with GitHub" (or any plain OAuth 2.0 provider) on axum-login's built-in provider
//! sign-in (`axum_login::oidc`, feature `oidc`), with users kept in memory by a hand-written
//! store.
//!
//! 1. `GET /login?next=/somewhere` asks [`Oidc::start`] for the provider's URL: it keeps the
//!    `state`, the PKCE verifier and the validated `next` in the session.
//! 2. The provider sends the browser back to `GET /auth/callback?code=..&state=..`;
//!    [`Oidc::callback`] checks the state, exchanges the code, reads the account from the
//!    provider's userinfo endpoint, and logs in the user linked to it, creating one on a first
//!    sign-in ([`sign_up`]).
//! 3. The browser goes to `next`, or `/`.
//!
//! No password exists anywhere: a user's sessions are bound to a security stamp, and
//! `POST /logout/everywhere` changes it to end every other session.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use axum::{
    Extension, Router,
    extract::Query,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, CurrentUser, SessionKey, UserStore,
    oidc::{
        Callback, MemoryLinkStore, NewProviderUser, Oidc, Provider, ProviderConfigError,
        ProviderSignIn, ProviderUserStore, Started,
    },
    session::MemoryStore,
    session_layer,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;

/// A user of this app, made on their first sign-in with the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// This app's id for the user.
    pub id: u64,
    /// The display name, as the provider said at sign-up.
    pub name: String,
    /// Changes when every session of the user must end: there is no password hash for the
    /// session's digest to be bound to.
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

/// The app's users, in memory.
#[derive(Clone, Default)]
pub struct ProviderUsers {
    users: Arc<RwLock<HashMap<u64, User>>>,
}

/// The store's lock was poisoned by a panic elsewhere.
#[derive(Debug, thiserror::Error)]
#[error("the user directory is unavailable")]
pub struct StoreError;

impl ProviderUsers {
    /// Ends every session of user `id` (on their next request), and answers the user as it is
    /// now.
    pub fn rotate_security_stamp(&self, id: u64) -> Result<Option<User>, StoreError> {
        let mut users = self.users.write().map_err(|_| StoreError)?;
        Ok(users.get_mut(&id).map(|user| {
            user.security_stamp = new_stamp();
            user.clone()
        }))
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.users.read().map_or(0, |users| users.len())
    }

    /// Whether nobody has signed in yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl UserStore for ProviderUsers {
    type User = User;
    /// Nobody logs in with credentials: only through the provider.
    type Credentials = ();
    type Error = StoreError;

    async fn authenticate(&self, (): ()) -> Result<Option<User>, StoreError> {
        Ok(None)
    }

    async fn load_user(&self, id: &u64) -> Result<Option<User>, StoreError> {
        Ok(self.users.read().map_err(|_| StoreError)?.get(id).cloned())
    }
}

impl ProviderUserStore for ProviderUsers {
    /// No addresses are kept: no account is linked by one.
    async fn find_by_email(&self, _email: &str) -> Result<Option<User>, StoreError> {
        Ok(None)
    }

    /// No user has a password: their one provider link stays.
    fn has_password(&self, _user: &User) -> bool {
        false
    }
}

/// Makes the user of a provider account's first sign-in, named as the provider names them.
pub async fn sign_up(
    users: ProviderUsers,
    account: NewProviderUser,
) -> Result<Option<User>, StoreError> {
    let mut directory = users.users.write().map_err(|_| StoreError)?;
    let user = User {
        id: directory.len() as u64 + 1,
        name: account
            .preferred_username
            .or(account.name)
            .unwrap_or(account.subject),
        security_stamp: new_stamp(),
    };
    directory.insert(user.id, user.clone());
    Ok(Some(user))
}

type Auth = AuthSession<ProviderUsers>;

/// The most sessions the app keeps: every visitor who starts a login gets one, so the bound
/// keeps a flood of `GET /login` from growing memory.
const MAX_SESSIONS: usize = 20_000;

/// The one provider's id, for the handlers.
#[derive(Clone)]
struct Chosen(Arc<str>);

/// The app's router, signing in with `provider` (made by [`Provider::github`] or
/// [`Provider::oauth2`], whose callback URL is this app's `/auth/callback`).
pub fn app(
    provider: Provider,
    users: ProviderUsers,
    key: SessionKey,
) -> Result<Router, ProviderConfigError> {
    let chosen = Chosen(Arc::from(provider.id()));
    let oidc = Oidc::new(MemoryLinkStore::default())
        .provider(provider)?
        .sign_up(sign_up);
    // `Lax` (as `session_layer` sets it), not `Strict`: the provider sends the browser back
    // with a top-level GET from another site, which a `Strict` cookie would not come along on.
    let sessions = session_layer(MemoryStore::new(MAX_SESSIONS))
        // Plain HTTP on loopback, where a `Secure` cookie would never come back; `main` says so.
        .with_secure(false);
    let layer = AuthLayer::builder(users, sessions)
        .session_key(key)
        .login_url("/login")
        .oidc(&oidc)
        .build();
    Ok(Router::new()
        .route("/", get(home))
        .route("/protected", get(protected))
        .route("/login", get(start_login))
        .route("/auth/callback", get(callback))
        .route("/logout", post(logout))
        .route("/logout/everywhere", post(logout_everywhere))
        .layer(Extension(oidc))
        .layer(Extension(chosen))
        .layer(layer))
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
    Extension(oidc): Extension<Oidc<ProviderUsers>>,
    Extension(Chosen(provider)): Extension<Chosen>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AuthError> {
    Ok(
        match oidc.start(&auth, &provider, query.next.as_deref()).await? {
            Started::Redirect(url) => Redirect::to(&url).into_response(),
            Started::Failed(failure) => (failure.status(), failure.message()).into_response(),
            _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    )
}

async fn callback(
    mut auth: Auth,
    Extension(oidc): Extension<Oidc<ProviderUsers>>,
    Extension(Chosen(provider)): Extension<Chosen>,
    Query(answer): Query<Callback>,
) -> Result<Response, AuthError> {
    let outcome = oidc.callback(&mut auth, &provider, &answer).await?;
    Ok(match outcome {
        ProviderSignIn::LoggedIn { .. } => Redirect::to(outcome.next_or_home()).into_response(),
        ProviderSignIn::Failed(failure) => (failure.status(), failure.message()).into_response(),
        // No second factors, no addresses to confirm, no links from an account page here.
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    })
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
