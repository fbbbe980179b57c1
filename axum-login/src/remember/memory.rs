//! [`MemoryRememberStore`]: remember-me tokens in this process's memory.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use super::{RememberStore, RememberToken, Rotation};
use crate::error::BoxError;

/// Expired tokens are swept on one insert in this many.
const SWEEP_EVERY: u64 = 1024;

/// Remember-me tokens in this process's memory: for one instance and for tests (a restart
/// forgets every token, so every remembered browser must log in again).
#[derive(Clone, Default, Debug)]
pub struct MemoryRememberStore {
    tokens: Arc<Mutex<HashMap<String, RememberToken>>>,
    inserts: Arc<AtomicU64>,
}

impl MemoryRememberStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, RememberToken>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many tokens are kept, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no token is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl RememberStore for MemoryRememberStore {
    async fn insert(&self, token: &RememberToken) -> Result<(), BoxError> {
        {
            let mut tokens = self.lock();
            if self
                .inserts
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(SWEEP_EVERY)
            {
                let now = SystemTime::now();
                tokens.retain(|_, token| token.expires_at > now);
            }
            tokens.insert(token.selector.clone(), token.clone());
        }
        Ok(())
    }

    async fn get(&self, selector: &str) -> Result<Option<RememberToken>, BoxError> {
        let token = self
            .lock()
            .get(selector)
            .filter(|token| token.expires_at > SystemTime::now())
            .cloned();
        Ok(token)
    }

    async fn rotate(&self, rotation: &Rotation<'_>) -> Result<bool, BoxError> {
        let rotated = match self.lock().get_mut(rotation.selector) {
            Some(token) if token.validator_hash == rotation.current_hash => {
                let new_hash = rotation.new_hash.to_owned();
                let old_hash = std::mem::replace(&mut token.validator_hash, new_hash);
                token.previous_hash = Some(old_hash);
                token.rotated_at = rotation.at;
                true
            }
            _ => false,
        };
        Ok(rotated)
    }

    async fn remove(&self, selector: &str) -> Result<(), BoxError> {
        self.lock().remove(selector);
        Ok(())
    }

    async fn remove_user(&self, user: &str) -> Result<(), BoxError> {
        self.lock().retain(|_, token| token.user != user);
        Ok(())
    }
}
