//! Session stores for tests: one that can be made to fail, and one that records what it was
//! asked and can be inspected without going through the app.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use tower_sessions::{
    MemoryStore, SessionStore,
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
