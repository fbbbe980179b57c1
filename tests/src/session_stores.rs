//! Session stores for tests: one that can be made to fail, one that records what it was asked
//! and can be inspected without going through the app, and a wrapper that holds a write at the
//! store until the test lets it through.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum_login::session::{
    MemoryStore,
    store::{SessionBackend, Update},
};
use tokio::sync::Notify;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

/// A session store that can be made to fail, over a memory store.
#[derive(Clone, Debug, Default)]
pub struct FlakySessionStore {
    inner: MemoryStore,
    pub failing: Arc<AtomicBool>,
    pub loads: Arc<AtomicUsize>,
}

impl FlakySessionStore {
    fn check(&self) -> session_store::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(session_store::Error::Backend(
                "test session store is down".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for FlakySessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.check()?;
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.check()?;
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.check()?;
        self.inner.delete(id).await
    }
}

#[async_trait::async_trait]
impl SessionBackend for FlakySessionStore {
    async fn update(&self, record: &Record, skip_unchanged: bool) -> session_store::Result<Update> {
        self.check()?;
        self.inner.update(record, skip_unchanged).await
    }
}

/// A session store over a memory store that records what it was asked, so a test can tell
/// whether a record exists without going through the app.
#[derive(Clone, Debug, Default)]
pub struct InspectableStore {
    inner: MemoryStore,
    pub created: Arc<Mutex<Vec<Id>>>,
    pub saved: Arc<Mutex<Vec<Id>>>,
    pub deleted: Arc<Mutex<Vec<Id>>>,
}

impl InspectableStore {
    /// Whether the store holds a record under `id` (the cookie's value).
    pub async fn holds(&self, id: &str) -> bool {
        let Ok(id) = id.parse::<Id>() else {
            return false;
        };
        self.inner
            .load(&id)
            .await
            .expect("memory store loads")
            .is_some()
    }

    /// The data stored under `id`, if any.
    pub async fn data(&self, id: &str) -> Option<serde_json::Value> {
        let id = id.parse::<Id>().ok()?;
        let record = self.inner.load(&id).await.expect("memory store loads")?;
        Some(serde_json::to_value(record.data).expect("record data is JSON"))
    }

    pub fn ids_created(&self) -> HashSet<String> {
        self.created
            .lock()
            .expect("lock")
            .iter()
            .map(Id::to_string)
            .collect()
    }
}

#[async_trait::async_trait]
impl SessionStore for InspectableStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await?;
        self.created.lock().expect("lock").push(record.id);
        Ok(())
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.saved.lock().expect("lock").push(record.id);
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.deleted.lock().expect("lock").push(*id);
        self.inner.delete(id).await
    }
}

#[async_trait::async_trait]
impl SessionBackend for InspectableStore {
    async fn update(&self, record: &Record, skip_unchanged: bool) -> session_store::Result<Update> {
        let update = self.inner.update(record, skip_unchanged).await?;
        if update == Update::Written {
            self.saved.lock().expect("lock").push(record.id);
        }
        Ok(update)
    }
}

/// A [`SessionBackend`] whose next write, once [`arm`](Self::arm)ed, stops just before it
/// reaches the store and waits for [`release`](Self::release): the point at which a check and a
/// write that are not one atomic step would let a logout slip in between.
#[derive(Clone, Debug)]
pub struct Paused<S> {
    inner: S,
    gate: Arc<PauseGate>,
}

#[derive(Debug, Default)]
struct PauseGate {
    armed: AtomicBool,
    entered: Notify,
    release: Notify,
    writes: AtomicUsize,
}

impl<S> Paused<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            gate: Arc::default(),
        }
    }

    /// Makes the next `update` wait.
    pub fn arm(&self) {
        self.gate.armed.store(true, Ordering::SeqCst);
    }

    /// Resolves once a write is held.
    pub async fn entered(&self) {
        self.gate.entered.notified().await;
    }

    /// Lets the held write reach the store.
    pub fn release(&self) {
        self.gate.release.notify_one();
    }

    /// How many writes reached the store and wrote.
    pub fn writes(&self) -> usize {
        self.gate.writes.load(Ordering::SeqCst)
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait::async_trait]
impl<S: SessionBackend> SessionStore for Paused<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.update(record, false).await.map(|_| ())
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await
    }
}

#[async_trait::async_trait]
impl<S: SessionBackend> SessionBackend for Paused<S> {
    async fn update(&self, record: &Record, skip_unchanged: bool) -> session_store::Result<Update> {
        if self.gate.armed.swap(false, Ordering::SeqCst) {
            self.gate.entered.notify_one();
            self.gate.release.notified().await;
        }
        let update = self.inner.update(record, skip_unchanged).await?;
        if update == Update::Written {
            self.gate.writes.fetch_add(1, Ordering::SeqCst);
        }
        Ok(update)
    }
}
