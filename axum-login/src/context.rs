//! The typed backend behind the layer, and the per-request state that extractors share.
//!
//! The layer knows the store's type; a guard on a handler does not. So the layer erases it:
//! each request carries a [`RequestAuth`] whose backend is a `dyn ErasedBackend`, and the
//! loaded user a `dyn ErasedUser`. Typed extractors downcast back.

use std::{
    any::{Any, type_name},
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tower_sessions::Session;

use crate::{
    AuthError, AuthUser, Clock, LoginRedirect, PermissionRef, RoleRef, SessionKey, UserStore,
    clock::{from_unix_seconds, unix_seconds},
};

/// The session key under which the login is kept.
pub(crate) const SESSION_KEY: &str = "axum_login.auth";

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the session holds about a login: never the password hash, only a keyed digest of it.
///
/// Kept as a JSON array, `[id, digest, at, seen]`, not an object: tower-sessions hands out a
/// clone of the stored value on every read, and an array clones and decodes without the four
/// key strings an object would allocate and compare (callgrind: about a third of a cached
/// request's own cost was the object's clone and decode).
#[derive(Debug)]
pub(crate) struct LoginRecord<Id> {
    /// The user's id.
    pub(crate) user_id: Id,
    /// HMAC-SHA256 of the user's `session_auth_hash` under the layer's key.
    pub(crate) digest: String,
    /// When the user logged in, in Unix seconds.
    pub(crate) login_at: u64,
    /// When the session was last used, in Unix seconds, kept only with an idle timeout and
    /// updated at most every tenth of it.
    pub(crate) seen: Option<u64>,
}

impl<Id: Serialize> Serialize for LoginRecord<Id> {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        (&self.user_id, &self.digest, self.login_at, self.seen).serialize(serializer)
    }
}

impl<'de, Id: Deserialize<'de>> Deserialize<'de> for LoginRecord<Id> {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        let (user_id, digest, login_at, seen) = Deserialize::deserialize(deserializer)?;
        Ok(Self {
            user_id,
            digest,
            login_at,
            seen,
        })
    }
}

impl<Id: serde::de::DeserializeOwned> LoginRecord<Id> {
    /// The record kept in a session as `value`, or why `value` is not one.
    pub(crate) fn from_value(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}

/// Options shared by every request through one layer.
pub(crate) struct Config {
    pub(crate) redirect: LoginRedirect,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) key: SessionKey,
    pub(crate) responder: Option<Arc<dyn crate::DenialResponder>>,
    /// Origins besides this one allowed to send login and logout requests.
    pub(crate) trusted_origins: Vec<String>,
    /// Whether cross-site login and logout requests are refused.
    pub(crate) refuse_cross_site: bool,
    pub(crate) throttle: crate::Throttle,
    /// The longest a login lasts, however active.
    pub(crate) absolute_timeout: Option<Duration>,
    /// The longest a login lasts unused.
    pub(crate) idle_timeout: Option<Duration>,
}

/// A user whose type only the layer knows.
pub(crate) trait ErasedUser: Send + Sync + 'static {
    fn as_any(&self) -> &(dyn Any + Send + Sync);
    fn has_role(&self, role: RoleRef<'_>) -> bool;
    fn has_permission(&self, permission: PermissionRef<'_>) -> bool;
}

impl<U: AuthUser> ErasedUser for U {
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
    fn has_role(&self, role: RoleRef<'_>) -> bool {
        AuthUser::has_role(self, role)
    }
    fn has_permission(&self, permission: PermissionRef<'_>) -> bool {
        AuthUser::has_permission(self, permission)
    }
}

/// The logged-in user of a request, and when they logged in.
#[derive(Clone)]
pub(crate) struct Login {
    pub(crate) user: Arc<dyn ErasedUser>,
    pub(crate) login_at: SystemTime,
}

/// A store whose type only the layer knows.
pub(crate) trait ErasedBackend: Send + Sync + 'static {
    /// Who is logged in on `session`, ending the session if its login is no longer valid.
    fn load<'a>(&'a self, session: &'a Session) -> BoxFuture<'a, Result<Option<Login>, AuthError>>;
    fn config(&self) -> &Config;
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn store_type(&self) -> &'static str;
    fn user_type(&self) -> &'static str;
}

/// The layer's store with its options.
pub(crate) struct Backend<S: UserStore> {
    pub(crate) store: S,
    pub(crate) config: Config,
    pub(crate) cache: crate::cache::CacheSlot,
    /// Batches loads of concurrent requests, when the layer was asked to.
    pub(crate) batcher: Option<Arc<crate::batch::Batcher<S>>>,
}

impl<S: UserStore> Backend<S> {
    /// The user with `id`, from the store: in the next batch when loads are batched.
    pub(crate) async fn load_from_store(
        &self,
        id: &<S::User as AuthUser>::Id,
    ) -> Result<Option<S::User>, AuthError> {
        match &self.batcher {
            Some(batcher) => batcher.load(id).await,
            None => self.store.load_user(id).await.map_err(AuthError::store),
        }
    }

    async fn load_typed(&self, session: &Session) -> Result<Option<Login>, AuthError> {
        let Some(value) = session.get_value(SESSION_KEY).await? else {
            return Ok(None);
        };
        let record: LoginRecord<<S::User as AuthUser>::Id> = match LoginRecord::from_value(value) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(%error, "session holds an unreadable login; ending the session");
                return end_session(session).await;
            }
        };
        let now_secs = unix_seconds(self.config.clock.now());
        let age = |since: u64| Duration::from_secs(now_secs.saturating_sub(since));
        let last_seen = record.seen.unwrap_or(record.login_at);
        let ended = if self
            .config
            .absolute_timeout
            .is_some_and(|max| age(record.login_at) > max)
        {
            Some("the login reached its absolute timeout")
        } else if self
            .config
            .idle_timeout
            .is_some_and(|idle| age(last_seen) > idle)
        {
            Some("the login was idle too long")
        } else {
            None
        };
        if let Some(reason) = ended {
            tracing::info!(user_id = %record.user_id, "{reason}; ending the session");
            return end_session(session).await;
        }
        // `verified`: a cache hit whose digest was already checked against the session's.
        let (user, verified) = match self
            .load_user_cached(&record.user_id, &record.digest)
            .await?
        {
            Some(found) => found,
            None => {
                tracing::info!(user_id = %record.user_id, "the logged-in user no longer exists; ending the session");
                return end_session(session).await;
            }
        };
        let ended = if !verified
            && !self
                .config
                .key
                .verify(user.session_auth_hash(), &record.digest)
        {
            Some("the user's credentials changed since login")
        } else if !user.is_active() {
            Some("the user was deactivated")
        } else {
            None
        };
        if let Some(reason) = ended {
            tracing::info!(user_id = %record.user_id, "{reason}; ending the session");
            return end_session(session).await;
        }
        let login_at = from_unix_seconds(record.login_at);
        // Record activity for the idle timeout, but write the session at most every tenth of it.
        if let Some(idle) = self.config.idle_timeout
            && age(last_seen) >= idle / 10
        {
            let seen = LoginRecord {
                seen: Some(now_secs),
                ..record
            };
            session.insert(SESSION_KEY, seen).await?;
        }
        Ok(Some(Login { user, login_at }))
    }

    /// The record to keep in the session for `user`, logging in now.
    pub(crate) fn record_for(&self, user: &S::User) -> LoginRecord<<S::User as AuthUser>::Id> {
        LoginRecord {
            user_id: user.id(),
            digest: self.config.key.digest(user.session_auth_hash()),
            login_at: unix_seconds(self.config.clock.now()),
            seen: None,
        }
    }
}

/// Ends a session whose login is no longer valid, so it is not looked up again.
async fn end_session(session: &Session) -> Result<Option<Login>, AuthError> {
    session.flush().await?;
    Ok(None)
}

impl<S: UserStore> ErasedBackend for Backend<S> {
    fn load<'a>(&'a self, session: &'a Session) -> BoxFuture<'a, Result<Option<Login>, AuthError>> {
        Box::pin(self.load_typed(session))
    }
    fn config(&self) -> &Config {
        &self.config
    }
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn store_type(&self) -> &'static str {
        type_name::<S>()
    }
    fn user_type(&self) -> &'static str {
        type_name::<S::User>()
    }
}

enum UserState {
    NotAsked,
    Known(Option<Login>),
}

/// The authentication state of one request, shared by every extractor and guard on it.
#[derive(Clone)]
pub(crate) struct RequestAuth(Arc<RequestInner>);

struct RequestInner {
    session: Session,
    origin: crate::origin::RequestOrigin,
    client: Option<std::net::IpAddr>,
    backend: Arc<dyn ErasedBackend>,
    user: Mutex<UserState>,
    consulted: AtomicBool,
}

impl RequestAuth {
    pub(crate) fn new(
        session: Session,
        backend: Arc<dyn ErasedBackend>,
        origin: crate::origin::RequestOrigin,
        client: Option<std::net::IpAddr>,
    ) -> Self {
        Self(Arc::new(RequestInner {
            session,
            origin,
            client,
            backend,
            user: Mutex::new(UserState::NotAsked),
            consulted: AtomicBool::new(false),
        }))
    }

    pub(crate) fn session(&self) -> &Session {
        &self.0.session
    }

    /// `Err` when this is a cross-site request that must not log anyone in or out.
    pub(crate) fn check_same_site(&self) -> Result<(), AuthError> {
        let config = self.config();
        if config.refuse_cross_site && !self.0.origin.is_same_site(&config.trusted_origins) {
            return Err(AuthError::CrossSiteRequest);
        }
        Ok(())
    }

    /// The client's address, when the app is served with `ConnectInfo<SocketAddr>`.
    pub(crate) fn client(&self) -> Option<std::net::IpAddr> {
        self.0.client
    }

    pub(crate) fn backend(&self) -> &Arc<dyn ErasedBackend> {
        &self.0.backend
    }

    pub(crate) fn config(&self) -> &Config {
        self.0.backend.config()
    }

    /// Whether anything on this request asked who the user is (so the response depends on it).
    pub(crate) fn was_consulted(&self) -> bool {
        self.0.consulted.load(Ordering::Relaxed)
    }

    /// The logged-in user, loaded from the store at most once per request.
    pub(crate) async fn login(&self) -> Result<Option<Login>, AuthError> {
        self.0.consulted.store(true, Ordering::Relaxed);
        let mut state = self.0.user.lock().await;
        if let UserState::Known(login) = &*state {
            return Ok(login.clone());
        }
        let login = self.0.backend.load(&self.0.session).await?;
        *state = UserState::Known(login.clone());
        Ok(login)
    }

    /// Records who is logged in after a login or logout on this request.
    pub(crate) async fn set_login(&self, login: Option<Login>) {
        self.0.consulted.store(true, Ordering::Relaxed);
        *self.0.user.lock().await = UserState::Known(login);
    }
}

impl RequestAuth {
    /// The request's state, or the error that names the missing layer.
    pub(crate) fn from_parts(
        parts: &axum::http::request::Parts,
        extractor: &'static str,
    ) -> Result<Self, AuthError> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(AuthError::MissingLayer { extractor })
    }
}
