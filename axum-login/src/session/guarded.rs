//! [`GuardedStore`]: how [`session_layer`](crate::session_layer) talks to its
//! [`SessionBackend`]: writes that never resurrect a session and skip what changes nothing, a
//! bound on every call, and unknown session ids counted instead of logged one by one.

use std::{
    fmt,
    pin::Pin,
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
    /// What the store did, [`SaveOutcome::Pending`] until it answers.
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
        !matches!(
            SaveOutcome::from_u8(self.outcome.load(Ordering::Acquire)),
            SaveOutcome::Unchanged | SaveOutcome::Missing
        )
    }

    /// Tells the layer what the store did, when the store runs inside a layer's save.
    fn report(outcome: SaveOutcome) {
        let _ = SAVE.try_with(|context| context.outcome.store(outcome as u8, Ordering::Release));
    }
}

/// What the store did with the layer's save. Held as its `u8` in an atomic, which the store
/// (inside tower-sessions' `save`, the only way in) writes and the layer reads after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum SaveOutcome {
    Pending = 0,
    Written = 1,
    Unchanged = 2,
    Missing = 3,
}

impl SaveOutcome {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Written,
            2 => Self::Unchanged,
            3 => Self::Missing,
            _ => Self::Pending,
        }
    }
}

/// A [`SessionBackend`] as the session layer uses it: every call bounded in time, `save` an
/// [`update`](SessionBackend::update) that never writes a deleted session back, and unknown
/// session ids counted, with one log line a minute instead of one per request.
pub struct GuardedStore<S> {
    inner: S,
    calls: BackendCalls<S>,
    timeout: Duration,
    unknown: Arc<UnknownIds>,
}

type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = session_store::Result<T>> + Send + 'a>>;

/// The store's [`SessionBackend`] operations, taken from its impl when the store is wrapped.
/// So [`session_layer`](crate::session_layer) is the one place that asks for `SessionBackend`:
/// a store that is not one (a plain tower-sessions store) is reported once, there, and not
/// again by everything the session layer is given to (the auth layer's builder, `build`).
struct BackendCalls<S> {
    create: for<'a> fn(&'a S, &'a mut Record) -> StoreFuture<'a, ()>,
    update: for<'a> fn(&'a S, &'a Record, bool) -> StoreFuture<'a, Update>,
    load: for<'a> fn(&'a S, &'a Id) -> StoreFuture<'a, Option<Record>>,
    delete: for<'a> fn(&'a S, &'a Id) -> StoreFuture<'a, ()>,
    debug: fn(&S, &mut fmt::Formatter<'_>) -> fmt::Result,
}

impl<S: SessionBackend> BackendCalls<S> {
    fn of() -> Self {
        fn create<'a, S: SessionBackend>(
            store: &'a S,
            record: &'a mut Record,
        ) -> StoreFuture<'a, ()> {
            store.create(record)
        }
        fn update<'a, S: SessionBackend>(
            store: &'a S,
            record: &'a Record,
            skip_unchanged: bool,
        ) -> StoreFuture<'a, Update> {
            store.update(record, skip_unchanged)
        }
        fn load<'a, S: SessionBackend>(
            store: &'a S,
            id: &'a Id,
        ) -> StoreFuture<'a, Option<Record>> {
            store.load(id)
        }
        fn delete<'a, S: SessionBackend>(store: &'a S, id: &'a Id) -> StoreFuture<'a, ()> {
            store.delete(id)
        }
        Self {
            create: create::<S>,
            update: update::<S>,
            load: load::<S>,
            delete: delete::<S>,
            debug: <S as fmt::Debug>::fmt,
        }
    }
}

// By hand: a derive would ask `S: Clone`, which function pointers do not need.
impl<S> Clone for BackendCalls<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for BackendCalls<S> {}

impl<S: Clone> Clone for GuardedStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            calls: self.calls,
            timeout: self.timeout,
            unknown: self.unknown.clone(),
        }
    }
}

impl<S> fmt::Debug for GuardedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Inner<'a, S>(&'a S, fn(&S, &mut fmt::Formatter<'_>) -> fmt::Result);
        impl<S> fmt::Debug for Inner<'_, S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                (self.1)(self.0, f)
            }
        }
        f.debug_struct("GuardedStore")
            .field("inner", &Inner(&self.inner, self.calls.debug))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<S: SessionBackend> GuardedStore<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            calls: BackendCalls::of(),
            timeout: DEFAULT_STORE_TIMEOUT,
            unknown: Arc::default(),
        }
    }
}

impl<S> GuardedStore<S> {
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
impl<S: Send + Sync + 'static> SessionStore for GuardedStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let created = self
            .bounded("create", (self.calls.create)(&self.inner, record))
            .await;
        SaveContext::report(SaveOutcome::Written);
        created
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let skip_unchanged = SAVE
            .try_with(|context| context.skip_unchanged)
            .unwrap_or(false);
        let update = self
            .bounded(
                "save",
                (self.calls.update)(&self.inner, record, skip_unchanged),
            )
            .await?;
        let outcome = match update {
            Update::Written => SaveOutcome::Written,
            Update::Unchanged => SaveOutcome::Unchanged,
            Update::Missing => {
                tracing::info!(
                    "not writing back a session that ended while a request held it (after a logout or id change)"
                );
                SaveOutcome::Missing
            }
        };
        SaveContext::report(outcome);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let record = self
            .bounded("load", (self.calls.load)(&self.inner, id))
            .await?;
        if record.is_none() {
            self.unknown.record();
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.bounded("delete", (self.calls.delete)(&self.inner, id))
            .await
    }
}
