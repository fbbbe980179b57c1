//! Sign-in with OpenID Connect providers (feature `oidc`).
//!
//! A [`Provider`] is an OpenID Connect provider (discovery, ID tokens), or a plain OAuth 2.0
//! one ([`Provider::oauth2`], [`Provider::github`]) whose account comes from its userinfo
//! endpoint; every check below that does not concern the ID token applies to both.
//!
//! [`Oidc`] sends a browser to a [`Provider`] and takes it back: the app nests
//! [`Oidc::router`] (the start and callback routes, answering with redirects and plain-text
//! failures), or mounts two handlers of its own (one pair with the provider's id in the path),
//! one calling [`Oidc::start`], the other [`Oidc::callback`], and renders what the callback
//! answers, as below.
//!
//! # The flow and its checks
//!
//! - **Authorization code with PKCE** (`S256`): the code is useless to whoever intercepts it
//!   without the verifier, which never leaves the server.
//! - **`state` and `nonce` bound to the browser's session, single use.** `start` keeps them,
//!   with the verifier, the provider's id and the validated `next`, in the session (the session
//!   store is the server's, so nothing of it travels in the clear); the callback finds its flow
//!   by `state` (compared in constant time) and removes it before doing anything else, so a
//!   replayed or forged callback finds nothing. A flow is good for
//!   [`flow_timeout`](Oidc::flow_timeout) (10 minutes by default), by the layer's clock.
//! - **Mix-up defence.** A flow answers only on the callback of the provider it was started
//!   for, and when the response names its issuer (`iss`, RFC 9207) it must be that provider's;
//!   a provider that announces the parameter in its discovery document must send it.
//! - **The ID token** is checked against the provider's keys (from discovery; fetched again
//!   when a token names an unknown key, at most once a minute) with an allow-list of asymmetric
//!   algorithms (never `none`, never `HS256` and its kin, whose "key" would be the public one),
//!   and its `iss`, `aud` (this client, and no audience it does not trust), `azp` (this client,
//!   and required when there are several audiences), `exp` and `iat` with the layer's
//!   [clock skew](crate::layer::AuthLayerBuilder::clock_skew), and `nonce`.
//! - **Login as any other.** A provider login cycles the session id, is a
//!   [`LoginMethod::Provider`](crate::events::LoginMethod::Provider), emits events, and waits
//!   for the user's second factor when they have one; `fresh` and `mfa` guards treat it like
//!   a password login.
//! - **Failures are answers, not errors.** A provider that says no (`error=access_denied`),
//!   cannot be reached, refuses the code or sends a token that fails a check ends in a
//!   [`SignInFailure`] (a `401` page saying what went wrong) and an
//!   [`AuthEvent::ProviderSignInFailed`](crate::events::AuthEvent::ProviderSignInFailed),
//!   never in a login and never in a `500`. `AuthError` is left for the app's own stores.
//!
//! # Accounts
//!
//! A provider account is linked to one user by its issuer and subject ([`ProviderLink`], kept
//! in a [`LinkStore`]). The first sign-in of an account that has no link:
//!
//! - when the provider gives an address that belongs to a user, links only if the provider
//!   says the address is verified **and** the user proves the account: by being logged in as
//!   that user already, or by giving its password to [`Oidc::confirm_link`]. Never silently,
//!   since an address at one provider says nothing about who owns the app's account;
//! - otherwise creates a user, when the app opted in with [`Oidc::sign_up`] (the app's function
//!   maps the provider's claims to a new user), or fails with
//!   [`SignInFailure::NoAccount`].
//!
//! A logged-in user links more providers with [`Oidc::start_link`] and removes one with
//! [`Oidc::unlink`], which refuses to remove the last way to sign in.
//!
//! # What is cached
//!
//! Each provider's discovery document and keys are fetched on first use and kept for a day
//! ([`METADATA_TTL`]); the keys are fetched again sooner when a token is signed with a key the
//! app does not know, at most once a minute ([`KEYS_REFETCH`]). A provider sign-in then costs
//! the browser's two trips to the provider, and one request from the server: the token
//! exchange.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axum::{
//!     Router,
//!     extract::{Path, Query, State},
//!     response::{IntoResponse, Redirect, Response},
//!     routing::get,
//! };
//! use axum_login::{
//!     AuthError, AuthLayer, AuthSession, AuthUser, SqlxStore, UserStore,
//!     oidc::{Callback, MemoryLinkStore, Oidc, Provider, ProviderSignIn, Started},
//!     session::MemoryStore,
//!     session_layer,
//! };
//!
//! #[derive(Clone, Debug, AuthUser, UserStore)]
//! #[user_store(table = "users")]
//! struct User {
//!     #[auth(id)]
//!     id: i64,
//!     #[auth(username)]
//!     username: String,
//!     #[auth(password_hash)]
//!     password_hash: secrecy::SecretString,
//!     // A provider's verified address finds the account to link.
//!     #[auth(email)]
//!     email: String,
//! }
//!
//! type Store = SqlxStore<User, sqlx::Sqlite>;
//!
//! async fn start(
//!     auth: AuthSession<Store>,
//!     State(oidc): State<Oidc<Store>>,
//!     Path(provider): Path<String>,
//! ) -> Result<Response, AuthError> {
//!     Ok(match oidc.start(&auth, &provider, Some("/")).await? {
//!         Started::Redirect(url) => Redirect::to(&url).into_response(),
//!         Started::Failed(failure) => (failure.status(), failure.message()).into_response(),
//!         _ => http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
//!     })
//! }
//!
//! async fn callback(
//!     mut auth: AuthSession<Store>,
//!     State(oidc): State<Oidc<Store>>,
//!     Path(provider): Path<String>,
//!     Query(params): Query<Callback>,
//! ) -> Result<Response, AuthError> {
//!     Ok(match oidc.callback(&mut auth, &provider, &params).await? {
//!         ProviderSignIn::LoggedIn { next } | ProviderSignIn::Linked { next } => {
//!             Redirect::to(next.as_deref().unwrap_or("/")).into_response()
//!         }
//!         ProviderSignIn::SecondFactorDue { .. } => Redirect::to("/login/second-factor").into_response(),
//!         ProviderSignIn::ConfirmLink { .. } => Redirect::to("/login/oidc/confirm").into_response(),
//!         ProviderSignIn::Failed(failure) => (failure.status(), failure.message()).into_response(),
//!         _ => http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
//!     })
//! }
//!
//! let oidc = Oidc::<Store>::new(MemoryLinkStore::default())
//!     .provider(
//!         Provider::new(
//!             "example",
//!             "https://accounts.example.com",
//!             "client-id",
//!             "client-secret",
//!             "https://app.example.com/login/oidc/example/callback",
//!         )
//!         .expect("a valid provider")
//!         .name("Example"),
//!     )
//!     .expect("a provider id used once");
//! # let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
//! let layer = AuthLayer::builder(Store::new(pool), session_layer(MemoryStore::default()))
//!     .oidc(&oidc)
//!     .build();
//! let app: Router = Router::new()
//!     .route("/login/oidc/{provider}", get(start))
//!     .route("/login/oidc/{provider}/callback", get(callback))
//!     .with_state(oidc)
//!     .layer(layer);
//! # let _ = app; }
//! ```

mod account;
mod feature;
mod flow;
mod links;
mod memory;
mod provider;
mod routes;
#[cfg(feature = "sqlx")]
mod sql;

use std::{future::Future, sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use http::StatusCode;

pub use self::account::{LinkedProvider, Unlinked};
pub use self::flow::{Callback, NewProviderUser, ProviderSignIn, Started};
pub use self::links::{LinkStore, ProviderLink};
pub use self::memory::MemoryLinkStore;
pub use self::provider::{
    KEYS_REFETCH, METADATA_TTL, OAuth2Endpoints, Provider, ProviderConfigError, UserInfoFields,
};
#[cfg(feature = "sqlx")]
pub use self::sql::SqlxLinkStore;
use crate::{AuthSession, UserStore, error::AuthError};

/// How long a started sign-in waits for the provider's answer, by default.
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// What the provider flow asks of the app's user store beyond [`UserStore`]: the user with a
/// given address (to link by a verified address), and whether a user could still sign in
/// without providers (to refuse unlinking the last one).
///
/// `SqlxStore` implements it for user types with an email column (`#[auth(email)]`); a
/// table without one links by address never.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot serve provider sign-ins: it does not implement `ProviderUserStore`",
    label = "this store does not implement `axum_login::oidc::ProviderUserStore`",
    note = "implement `find_by_email` and `has_password` for it (`SqlxStore` does, for a user with an `#[auth(email)]` field)"
)]
pub trait ProviderUserStore: UserStore {
    /// The user whose address is `email`, if any (`Ok(None)` for a store that keeps none).
    fn find_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;

    /// Whether `user` can sign in with a password: a user who cannot keeps their last
    /// provider link.
    fn has_password(&self, user: &Self::User) -> bool;
}

#[cfg(feature = "sqlx")]
impl<U, DB> ProviderUserStore for crate::SqlxStore<U, DB>
where
    DB: sqlx::Database,
    U: crate::AuthUser + crate::sqlx::SqlxUser<DB>,
    U::Id: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'c> &'c str: sqlx::ColumnIndex<DB::Row>,
{
    /// [`SqlxStore::find_by_email`](crate::SqlxStore::find_by_email); `None` when the table
    /// names no email column.
    async fn find_by_email(&self, email: &str) -> Result<Option<U>, crate::sqlx::SqlxStoreError> {
        match crate::SqlxStore::find_by_email(self, email).await {
            Err(crate::sqlx::SqlxStoreError::NoEmailColumn) => Ok(None),
            found => found,
        }
    }

    /// Whether the stored hash is a PHC string (`$argon2id$...`): a user made by a provider
    /// sign-up with an empty or `!` hash has no password.
    fn has_password(&self, user: &U) -> bool {
        user.password_hash().starts_with('$')
    }
}

/// Why a provider sign-in (or link) did not happen. [`message`](Self::message) is a sentence
/// for the user, [`status`](Self::status) the HTTP status to answer with, and
/// [`as_str`](Self::as_str) a stable name for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInFailure {
    /// No provider has this id in the app's configuration.
    UnknownProvider,
    /// The provider answered with an error (the user declined, or the provider refused the
    /// request).
    Denied,
    /// The callback's `state` is missing, wrong or used: not a sign-in this browser started,
    /// or one that already finished.
    InvalidState,
    /// The sign-in took longer than the flow timeout.
    Expired,
    /// The response came from another provider than the one the sign-in was started with.
    MixUp,
    /// The provider could not be reached (discovery, keys or the token endpoint).
    Unreachable,
    /// The provider refused the code, or answered it with something that is no token response.
    TokenRefused,
    /// The ID token failed a check: signature, algorithm, issuer, audience, times or nonce.
    InvalidIdToken,
    /// A plain OAuth 2.0 provider's userinfo answer is not JSON or names no subject.
    InvalidUserInfo,
    /// The provider account is linked to no user, and the app does not create users from
    /// providers.
    NoAccount,
    /// The address the provider gave belongs to a user, but the provider does not say it is
    /// verified: nothing is linked.
    EmailNotVerified,
    /// The provider account is linked to another user.
    LinkedElsewhere,
    /// The user has linked another account at this provider already.
    ProviderAlreadyLinked,
    /// Linking needs a logged-in user, and the session has none (any more).
    NotLoggedIn,
    /// The password given to confirm a link is wrong (or the throttle refused it).
    WrongPassword,
    /// The user is inactive.
    Inactive,
}

impl SignInFailure {
    /// A stable, lowercase name: the `reason` of events and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::Denied => "denied",
            Self::InvalidState => "invalid_state",
            Self::Expired => "expired",
            Self::MixUp => "mix_up",
            Self::Unreachable => "unreachable",
            Self::TokenRefused => "token_refused",
            Self::InvalidIdToken => "invalid_id_token",
            Self::InvalidUserInfo => "invalid_user_info",
            Self::NoAccount => "no_account",
            Self::EmailNotVerified => "email_not_verified",
            Self::LinkedElsewhere => "linked_elsewhere",
            Self::ProviderAlreadyLinked => "provider_already_linked",
            Self::NotLoggedIn => "not_logged_in",
            Self::WrongPassword => "wrong_password",
            Self::Inactive => "inactive",
        }
    }

    /// What to tell the user, in one sentence that names no secret and no detail an attacker
    /// could use (the log has those).
    pub fn message(self) -> &'static str {
        match self {
            Self::UnknownProvider => "There is no such sign-in provider.",
            Self::Denied => "The provider did not sign you in.",
            Self::InvalidState => {
                "This sign-in was not started here or is already finished; start it again."
            }
            Self::Expired => "The sign-in took too long; start it again.",
            Self::MixUp => "The answer came from another provider than the one you chose.",
            Self::Unreachable => "The sign-in provider cannot be reached; try again later.",
            Self::TokenRefused => "The provider did not complete the sign-in; start it again.",
            Self::InvalidIdToken => "The provider's answer failed a security check.",
            Self::InvalidUserInfo => "The provider did not say which account signed in.",
            Self::NoAccount => "No account is linked to this provider account.",
            Self::EmailNotVerified => {
                "An account with this address exists, and the provider has not verified the address: sign in with your password and link the provider from your account page."
            }
            Self::LinkedElsewhere => "This provider account is linked to another user.",
            Self::ProviderAlreadyLinked => {
                "You have linked another account at this provider; unlink it first."
            }
            Self::NotLoggedIn => "Log in first.",
            Self::WrongPassword => "Wrong password.",
            Self::Inactive => "This account is disabled.",
        }
    }

    /// The status to answer with: `404` for an unknown provider, `401` for the rest (the
    /// provider's own failures included: to the browser, no sign-in happened).
    pub fn status(self) -> StatusCode {
        match self {
            Self::UnknownProvider => StatusCode::NOT_FOUND,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// The app's function that makes a user from a provider's claims.
type SignUp<S> = Arc<
    dyn Fn(
            S,
            NewProviderUser,
        )
            -> BoxFuture<'static, Result<Option<<S as UserStore>::User>, <S as UserStore>::Error>>
        + Send
        + Sync,
>;

/// Sign-in with OpenID Connect providers, for users of store `S`: see [the module](self).
///
/// Cheap to clone: clones share the providers, their caches and the link store. Register it on
/// the layer with [`AuthLayerBuilder::oidc`](crate::layer::AuthLayerBuilder::oidc) and give it
/// to the handlers (as state or an `Extension`).
pub struct Oidc<S: UserStore> {
    providers: Arc<[Arc<provider::Live>]>,
    links: Arc<dyn LinkStore>,
    sign_up: Option<SignUp<S>>,
    timeout: Duration,
    confirm_url: Option<String>,
}

impl<S: UserStore> Clone for Oidc<S> {
    fn clone(&self) -> Self {
        Self {
            providers: self.providers.clone(),
            links: self.links.clone(),
            sign_up: self.sign_up.clone(),
            timeout: self.timeout,
            confirm_url: self.confirm_url.clone(),
        }
    }
}

impl<S: UserStore> std::fmt::Debug for Oidc<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field(
                "providers",
                &self
                    .providers
                    .iter()
                    .map(|live| &live.config)
                    .collect::<Vec<_>>(),
            )
            .field("sign_up", &self.sign_up.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<S: ProviderUserStore> Oidc<S> {
    /// No providers yet, links kept in `links`, no sign-up.
    pub fn new(links: impl LinkStore) -> Self {
        Self {
            providers: Arc::from(Vec::new()),
            links: Arc::new(links),
            sign_up: None,
            timeout: FLOW_TIMEOUT,
            confirm_url: None,
        }
    }

    /// Adds a provider; an id used twice is refused.
    pub fn provider(mut self, provider: Provider) -> Result<Self, ProviderConfigError> {
        if self.find(&provider.id).is_some() {
            return Err(ProviderConfigError::duplicate(&provider.id));
        }
        let mut providers = self.providers.to_vec();
        providers.push(Arc::new(provider::Live::new(provider)?));
        self.providers = providers.into();
        Ok(self)
    }

    /// Creates a user on the first sign-in of a provider account that is linked to nobody and
    /// whose address is nobody's: `create` makes the user from the provider's claims, in the
    /// store, and answers `None` to refuse (a username taken, say). Without it, such a sign-in
    /// fails with [`SignInFailure::NoAccount`].
    ///
    /// `create` also sees accounts whose address the provider has not verified
    /// ([`NewProviderUser::email_verified`]); give such a user the address unconfirmed, or
    /// none.
    pub fn sign_up<F, Fut>(mut self, create: F) -> Self
    where
        F: Fn(S, NewProviderUser) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<S::User>, S::Error>> + Send + 'static,
    {
        self.sign_up = Some(Arc::new(move |store, claims| {
            Box::pin(create(store, claims))
        }));
        self
    }

    /// How long a started sign-in waits for the provider's answer. Default: [`FLOW_TIMEOUT`].
    pub fn flow_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The app's page that asks for an account's password to confirm a link
    /// ([`confirm_link`](Self::confirm_link)), where [`router`](Self::router)'s callback sends
    /// the browser when a provider's verified address is an account's. Default: none.
    pub fn confirm_url(mut self, url: &str) -> Self {
        self.confirm_url = Some(url.to_owned());
        self
    }

    /// The configured providers, in the order they were added: for the login page's buttons.
    pub fn providers(&self) -> impl Iterator<Item = &Provider> {
        self.providers.iter().map(|live| &live.config)
    }

    fn find(&self, id: &str) -> Option<&Arc<provider::Live>> {
        self.providers.iter().find(|live| live.config.id == id)
    }

    /// Refuses to work on a layer the feature is not registered on: its readiness check would
    /// miss the link store.
    fn registered(&self, auth: &AuthSession<S>) -> Result<(), AuthError> {
        if auth
            .auth
            .config()
            .features
            .get::<feature::OidcFeature>()
            .is_some()
        {
            return Ok(());
        }
        Err(AuthError::NotRegistered {
            feature: "Oidc",
            builder: "oidc",
        })
    }
}
