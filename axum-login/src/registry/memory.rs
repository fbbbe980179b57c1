//! [`MemorySessionRegistry`]: the registry in this process's memory.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use super::{
    Admission, Binding, Limit, OnLimit, SessionEntry, SessionRegistry, Which, to_make_room,
};
use crate::error::BoxError;

/// Expired entries of every user are swept on one [`add`](SessionRegistry::add) in this many.
const SWEEP_EVERY: u64 = 1024;

/// The session registry in this process's memory: for one instance (several instances need
/// a shared one, `SqlxSessionRegistry` or `RedisSessionRegistry`), and for tests.
///
/// Holds one entry per live login; expired entries are dropped as the user's entries are read
/// or written, and all of them now and then.
#[derive(Clone, Default, Debug)]
pub struct MemorySessionRegistry {
    users: Arc<Mutex<HashMap<String, Vec<SessionEntry>>>>,
    adds: Arc<AtomicU64>,
}

impl MemorySessionRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<SessionEntry>>> {
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many entries are kept, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Whether no entry is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn live(entries: &mut Vec<SessionEntry>, now: SystemTime) {
    entries.retain(|entry| entry.expires_at > now);
}

#[async_trait::async_trait]
impl SessionRegistry for MemorySessionRegistry {
    async fn add(&self, entry: &SessionEntry) -> Result<(), BoxError> {
        let now = SystemTime::now();
        {
            let mut users = self.lock();
            if self
                .adds
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(SWEEP_EVERY)
            {
                users.retain(|_, entries| {
                    live(entries, now);
                    !entries.is_empty()
                });
            }
            let entries = users.entry(entry.user.clone()).or_default();
            live(entries, now);
            entries.push(entry.clone());
        }
        Ok(())
    }

    async fn add_within(&self, entry: &SessionEntry, limit: Limit) -> Result<Admission, BoxError> {
        let admission = {
            let mut users = self.lock();
            let entries = users.entry(entry.user.clone()).or_default();
            live(entries, SystemTime::now());
            let ended = to_make_room(entries.clone(), limit.max);
            if !ended.is_empty() && limit.on_limit == OnLimit::RefuseNew {
                Admission::Refused
            } else {
                entries.retain(|kept| !ended.iter().any(|gone| gone.id == kept.id));
                entries.push(entry.clone());
                Admission::Added(ended)
            }
        };
        Ok(admission)
    }

    async fn list(&self, user: &str) -> Result<Vec<SessionEntry>, BoxError> {
        let mut entries = {
            let mut users = self.lock();
            users.get_mut(user).map_or_else(Vec::new, |entries| {
                live(entries, SystemTime::now());
                entries.clone()
            })
        };
        entries.sort_by_key(|entry| entry.created_at);
        Ok(entries)
    }

    async fn bind(&self, binding: &Binding<'_>) -> Result<bool, BoxError> {
        let Binding {
            user,
            id,
            previous,
            session_id,
        } = *binding;
        let bound = self
            .lock()
            .get_mut(user)
            .and_then(|entries| entries.iter_mut().find(|entry| entry.id == id))
            .filter(|entry| entry.session_id.is_none() || entry.session_id.as_deref() == previous)
            .map(|entry| entry.session_id = Some(session_id.to_owned()))
            .is_some();
        Ok(bound)
    }

    async fn set_remember(&self, user: &str, id: &str, selector: &str) -> Result<bool, BoxError> {
        let found = self
            .lock()
            .get_mut(user)
            .and_then(|entries| entries.iter_mut().find(|entry| entry.id == id))
            .map(|entry| entry.remember = Some(selector.to_owned()))
            .is_some();
        Ok(found)
    }

    async fn touch(&self, user: &str, id: &str, at: SystemTime) -> Result<bool, BoxError> {
        let found = self
            .lock()
            .get_mut(user)
            .and_then(|entries| entries.iter_mut().find(|entry| entry.id == id))
            .map(|entry| entry.last_seen = entry.last_seen.max(at))
            .is_some();
        Ok(found)
    }

    async fn remove(&self, user: &str, which: Which<'_>) -> Result<Vec<SessionEntry>, BoxError> {
        let removed = {
            let mut users = self.lock();
            let Some(entries) = users.get_mut(user) else {
                return Ok(Vec::new());
            };
            let (removed, kept) = std::mem::take(entries)
                .into_iter()
                .partition(|entry| which.matches(&entry.id));
            *entries = kept;
            if entries.is_empty() {
                users.remove(user);
            }
            removed
        };
        Ok(removed)
    }
}
