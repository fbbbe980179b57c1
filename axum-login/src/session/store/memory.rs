//! [`MemoryStore`]: sessions in this process's memory, bounded and expiring.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, PoisonError},
};

use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store,
};

use super::{SessionBackend, Update};
use crate::memory::bounded_store;

/// Sessions in this process's memory, for one instance: development, tests, a single server.
///
/// Unlike tower-sessions' `MemoryStore`, it never grows without bound and never brings a
/// deleted session back:
///
/// - an expired session is gone at its next lookup, and dropped first when room is needed;
/// - at most `max_sessions` are kept (default 100 000): a new session beyond that takes the place
///   of the one closest to expiry, found in logarithmic time, so memory stays bounded whatever
///   the traffic;
/// - `save` writes only a session that still exists, under the same lock as the check.
///
/// Sessions are lost when the process restarts; several instances need a shared store
/// (`SqlxSessionStore`, `RedisSessionStore`).
///
/// ```
/// let store = axum_login::session::MemoryStore::default();
/// let sessions = axum_login::session_layer(store);
/// # let _ = sessions;
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Sessions>>,
    max_sessions: usize,
}

#[derive(Default)]
struct Sessions {
    records: HashMap<Id, (HashMap<String, serde_json::Value>, OffsetDateTime)>,
    /// Every record's expiry, to find the one to drop in logarithmic time.
    by_expiry: BTreeSet<(OffsetDateTime, i128)>,
}

impl Sessions {
    fn remove(&mut self, id: &Id) {
        if let Some((_, expiry)) = self.records.remove(id) {
            self.by_expiry.remove(&(expiry, id.0));
        }
    }

    fn set(&mut self, id: Id, data: HashMap<String, serde_json::Value>, expiry: OffsetDateTime) {
        if let Some((_, old)) = self.records.insert(id, (data, expiry)) {
            self.by_expiry.remove(&(old, id.0));
        }
        self.by_expiry.insert((expiry, id.0));
    }

    /// The live record of `id`; an expired one is dropped.
    fn live(
        &mut self,
        id: &Id,
        now: OffsetDateTime,
    ) -> Option<&(HashMap<String, serde_json::Value>, OffsetDateTime)> {
        let expired = self
            .records
            .get(id)
            .is_some_and(|(_, expiry)| *expiry <= now);
        if expired {
            self.remove(id);
        }
        self.records.get(id)
    }
}

impl MemoryStore {
    /// A store of at most `max_sessions` sessions.
    pub fn new(max_sessions: usize) -> Self {
        Self {
            inner: Arc::default(),
            max_sessions: max_sessions.max(1),
        }
    }

    /// How many sessions are stored, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no session is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

bounded_store!(MemoryStore, "sessions", max_sessions);

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut sessions = self.lock();
        while sessions.records.contains_key(&record.id) {
            record.id = Id::default();
        }
        while sessions.records.len() >= self.max_sessions {
            let Some(&(_, oldest)) = sessions.by_expiry.first() else {
                break;
            };
            sessions.remove(&Id(oldest));
        }
        sessions.set(record.id, record.data.clone(), record.expiry_date);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.update(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc();
        Ok(self.lock().live(id, now).map(|(data, expiry_date)| Record {
            id: *id,
            data: data.clone(),
            expiry_date: *expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.lock().remove(id);
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionBackend for MemoryStore {
    async fn update(&self, record: &Record, skip_unchanged: bool) -> session_store::Result<Update> {
        let now = OffsetDateTime::now_utc();
        let mut sessions = self.lock();
        match sessions.live(&record.id, now) {
            None => Ok(Update::Missing),
            Some((data, _)) if skip_unchanged && *data == record.data => Ok(Update::Unchanged),
            Some(_) => {
                sessions.set(record.id, record.data.clone(), record.expiry_date);
                Ok(Update::Written)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tower_sessions::cookie::time::Duration;

    use super::*;

    fn record(expires_in: Duration) -> Record {
        let mut data = HashMap::new();
        data.insert("k".to_owned(), serde_json::json!(1));
        Record {
            id: Id::default(),
            data,
            expiry_date: OffsetDateTime::now_utc() + expires_in,
        }
    }

    #[tokio::test]
    async fn a_deleted_session_is_never_written_back() {
        let store = MemoryStore::default();
        let mut saved = record(Duration::hours(1));
        store.create(&mut saved).await.expect("create");
        store.delete(&saved.id).await.expect("delete");
        store.save(&saved).await.expect("save");
        assert_eq!(store.load(&saved.id).await.expect("load"), None);
        assert_eq!(
            store.update(&saved, false).await.expect("update"),
            Update::Missing
        );
    }

    #[tokio::test]
    async fn an_equal_write_is_skipped_only_when_asked() {
        let store = MemoryStore::default();
        let mut saved = record(Duration::hours(1));
        store.create(&mut saved).await.expect("create");
        assert_eq!(
            store.update(&saved, true).await.expect("update"),
            Update::Unchanged
        );
        assert_eq!(
            store.update(&saved, false).await.expect("update"),
            Update::Written
        );
        saved.data.insert("k".to_owned(), serde_json::json!(2));
        assert_eq!(
            store.update(&saved, true).await.expect("update"),
            Update::Written
        );
    }

    #[tokio::test]
    async fn expired_sessions_are_gone() {
        let store = MemoryStore::default();
        let mut expired = record(Duration::seconds(-1));
        store.create(&mut expired).await.expect("create");
        assert_eq!(store.load(&expired.id).await.expect("load"), None);
        assert!(store.is_empty());
    }

    #[tokio::test]
    async fn the_store_stays_bounded_and_drops_the_session_closest_to_expiry() {
        let store = MemoryStore::new(3);
        let mut soonest = record(Duration::minutes(1));
        store.create(&mut soonest).await.expect("create");
        let mut kept = Vec::new();
        for minutes in 2..=4 {
            let mut later = record(Duration::minutes(minutes));
            store.create(&mut later).await.expect("create");
            kept.push(later.id);
        }
        assert_eq!(store.len(), 3);
        assert_eq!(store.load(&soonest.id).await.expect("load"), None);
        for id in kept {
            assert!(store.load(&id).await.expect("load").is_some());
        }
    }
}
