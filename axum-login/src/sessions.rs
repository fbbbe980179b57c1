//! Sessions with the defaults a login system needs, and a store wrapper that keeps deleted
//! sessions deleted.

use std::fmt;

use tower_sessions::{
    SessionManagerLayer, SessionStore,
    cookie::SameSite,
    session::{Id, Record},
    session_store,
};

/// A tower-sessions layer over `store` with safe cookie defaults, for
/// [`AuthLayer::builder`](crate::AuthLayer::builder).
///
/// - `HttpOnly`: scripts cannot read the cookie.
/// - `Secure`: the cookie travels only over HTTPS. Turn it off only for plain HTTP on loopback
///   during development, with `.with_secure(false)`, and say so.
/// - `SameSite=Lax`: other sites' forms and scripts do not send it, but following a link or a
///   redirect back from another site (an OAuth provider's callback) does. `Strict` would drop the
///   session on that redirect and break "log in with a provider".
/// - `Path=/` and no `Domain`: the cookie belongs to this host only, not its subdomains.
/// - The store is wrapped in [`NoResurrection`], so a slow request that still holds a session
///   cannot save it back after a logout or id change deleted it.
///
/// Every tower-sessions option can still be changed on the returned layer.
///
/// ```
/// use tower_sessions::MemoryStore;
///
/// let sessions = axum_login::session_layer(MemoryStore::default());
/// # let _ = sessions;
/// ```
pub fn session_layer<S: SessionStore>(store: S) -> SessionManagerLayer<NoResurrection<S>> {
    SessionManagerLayer::new(NoResurrection::new(store))
        .with_http_only(true)
        .with_secure(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
}

/// A session store wrapper that never recreates a deleted session.
///
/// tower-sessions saves a changed session with an upsert. If a request loaded a session, another
/// request then logged out (deleting it), and the first request then wrote to its copy, the
/// upsert would bring the logged-in session back. This wrapper saves only sessions that still
/// exist; a new session is always created under a new id. The check and the save are two store
/// calls, so on a store without transactions a window of one round trip remains.
#[derive(Clone, Default)]
pub struct NoResurrection<S> {
    inner: S,
}

impl<S> NoResurrection<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for NoResurrection<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NoResurrection").field(&self.inner).finish()
    }
}

#[async_trait::async_trait]
impl<S: SessionStore> SessionStore for NoResurrection<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if self.inner.load(&record.id).await?.is_none() {
            tracing::info!(
                "not saving a session that was deleted while a request held it (after a logout or id change)"
            );
            return Ok(());
        }
        self.inner.save(record).await
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(session_id).await
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.inner.delete(session_id).await
    }
}
