//! [`GuardedStore`]: how [`session_layer`](crate::session_layer) talks to its
//! [`SessionBackend`]: writes that never resurrect a session and skip what changes nothing, a
//! bound on every call, and unknown session ids counted instead of logged one by one.

use std::{
    fmt,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use super::{
    channels::{SaveContext, SaveOutcome},
    store::{SessionBackend, Update},
};

/// How long one call to the session store may take by default before the request fails.
pub(crate) const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often, at most, the count of unknown session ids is logged.
const UNKNOWN_REPORT_EVERY: Duration = Duration::from_secs(60);

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
        let skip_unchanged = SaveContext::skips_unchanged();
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
