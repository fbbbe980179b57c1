//! [`GuardedStore`]: how [`session_layer`](crate::session_layer) talks to its
//! [`SessionBackend`]: writes that never resurrect a session and skip what changes nothing, a
//! bound on every call, and unknown session ids counted instead of logged one by one.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    time::Duration,
};

use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use super::store::{SessionBackend, Update};

/// How long one call to the session store may take by default before the request fails.
pub(crate) const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often, at most, the count of unknown session ids is logged.
const UNKNOWN_REPORT_EVERY: Duration = Duration::from_secs(60);

tokio::task_local! {
    /// Set by the session layer around the one save it makes at the end of a request: whether
    /// an unchanged session may be skipped, and what the store then did.
    static SAVE: SaveContext;
}

/// What the layer's save asks of the store, and hears back.
#[derive(Clone)]
pub(crate) struct SaveContext {
    skip_unchanged: bool,
    /// The [`Update`] of the store, `0` until it answers.
    outcome: Arc<AtomicU8>,
}

impl SaveContext {
    pub(crate) fn new(skip_unchanged: bool) -> Self {
        Self {
            skip_unchanged,
            outcome: Arc::default(),
        }
    }

    /// Runs `save` with this context visible to the store.
    pub(crate) async fn scope<F: Future>(&self, save: F) -> F::Output {
        SAVE.scope(self.clone(), save).await
    }

    /// Whether the store wrote the session (or created it): `false` when the session was gone
    /// or the write would have changed nothing.
    pub(crate) fn wrote(&self) -> bool {
        !matches!(self.outcome.load(Ordering::Acquire), 2 | 3)
    }
}

/// A [`SessionBackend`] as the session layer uses it: every call bounded in time, `save` an
/// [`update`](SessionBackend::update) that never writes a deleted session back, and unknown
/// session ids counted, with one log line a minute instead of one per request.
pub struct GuardedStore<S> {
    inner: S,
    timeout: Duration,
    unknown: Arc<UnknownIds>,
}

impl<S: Clone> Clone for GuardedStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            timeout: self.timeout,
            unknown: self.unknown.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for GuardedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedStore")
            .field("inner", &self.inner)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<S> GuardedStore<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            timeout: DEFAULT_STORE_TIMEOUT,
            unknown: Arc::default(),
        }
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn bounded<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = session_store::Result<T>>,
    ) -> session_store::Result<T> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(session_store::Error::Backend(format!(
                "the session store did not answer a {what} within {:?}",
                self.timeout
            ))),
        }
    }
}

/// Counts session ids that the store did not know (expired, logged out, or made up), and logs
/// the count at most once a minute: garbage cookies must not become a log flood.
#[derive(Default)]
struct UnknownIds {
    since_report: AtomicU64,
    /// When the count was last logged, in seconds since the Unix epoch.
    reported_at: AtomicU64,
}

impl UnknownIds {
    fn record(&self) {
        self.since_report.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            "the request's session id is unknown to the store (expired, ended or forged)"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let last = self.reported_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= UNKNOWN_REPORT_EVERY.as_secs()
            && self
                .reported_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let count = self.since_report.swap(0, Ordering::Relaxed);
            tracing::info!(
                count,
                "requests carried session ids the store did not know (expired, ended or forged); counted, not logged one by one"
            );
        }
    }
}

#[async_trait::async_trait]
impl<S: SessionBackend> SessionStore for GuardedStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let created = self.bounded("create", self.inner.create(record)).await;
        let _ = SAVE.try_with(|context| context.outcome.store(1, Ordering::Release));
        created
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let skip_unchanged = SAVE
            .try_with(|context| context.skip_unchanged)
            .unwrap_or(false);
        let update = self
            .bounded("save", self.inner.update(record, skip_unchanged))
            .await?;
        let code = match update {
            Update::Written => 1,
            Update::Unchanged => 2,
            Update::Missing => {
                tracing::info!(
                    "not writing back a session that ended while a request held it (after a logout or id change)"
                );
                3
            }
        };
        let _ = SAVE.try_with(|context| context.outcome.store(code, Ordering::Release));
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let record = self.bounded("load", self.inner.load(id)).await?;
        if record.is_none() {
            self.unknown.record();
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.bounded("delete", self.inner.delete(id)).await
    }
}
