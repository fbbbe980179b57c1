//! [`NoResurrection`]: a session store wrapper that never recreates a deleted session.

use std::fmt;

use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

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
