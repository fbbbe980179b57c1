//! [`MemoryLinkStore`]: provider links in this process's memory.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use super::links::{LinkStore, ProviderLink};
use crate::error::BoxError;

/// Provider links in this process's memory: for tests and for an app whose users live in
/// memory too. A restart forgets them, and a user signing in with a provider afterwards is a
/// stranger again.
#[derive(Clone, Default, Debug)]
pub struct MemoryLinkStore {
    links: Arc<Mutex<BTreeMap<(String, String), ProviderLink>>>,
}

impl MemoryLinkStore {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, String), ProviderLink>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many links are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no link is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl LinkStore for MemoryLinkStore {
    async fn find(&self, issuer: &str, subject: &str) -> Result<Option<ProviderLink>, BoxError> {
        Ok(self
            .lock()
            .get(&(issuer.to_owned(), subject.to_owned()))
            .cloned())
    }

    async fn insert(&self, link: &ProviderLink) -> Result<bool, BoxError> {
        let mut links = self.lock();
        let key = (link.issuer.clone(), link.subject.clone());
        if links.contains_key(&key) {
            return Ok(false);
        }
        links.insert(key, link.clone());
        Ok(true)
    }

    async fn for_user(&self, user: &str) -> Result<Vec<ProviderLink>, BoxError> {
        let mut found: Vec<_> = self
            .lock()
            .values()
            .filter(|link| link.user == user)
            .cloned()
            .collect();
        found.sort_by_key(|link| link.linked_at);
        Ok(found)
    }

    async fn remove(&self, user: &str, issuer: &str, subject: &str) -> Result<bool, BoxError> {
        let mut links = self.lock();
        let key = (issuer.to_owned(), subject.to_owned());
        if links.get(&key).is_some_and(|link| link.user == user) {
            links.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }
}
