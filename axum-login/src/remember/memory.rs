//! [`MemoryRememberStore`]: remember-me tokens in this process's memory.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use super::{BoxFuture, RememberStore, RememberToken};
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

impl RememberStore for MemoryRememberStore {
    fn insert<'a>(&'a self, token: &'a RememberToken) -> BoxFuture<'a, Result<(), BoxError>> {
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
        Box::pin(async { Ok(()) })
    }

    fn get<'a>(
        &'a self,
        selector: &'a str,
    ) -> BoxFuture<'a, Result<Option<RememberToken>, BoxError>> {
        let token = self
            .lock()
            .get(selector)
            .filter(|token| token.expires_at > SystemTime::now())
            .cloned();
        Box::pin(async move { Ok(token) })
    }

    fn rotate<'a>(
        &'a self,
        selector: &'a str,
        current_hash: &'a str,
        new_hash: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        let rotated = match self.lock().get_mut(selector) {
            Some(token) if token.validator_hash == current_hash => {
                token.previous_hash = Some(std::mem::replace(
                    &mut token.validator_hash,
                    new_hash.to_owned(),
                ));
                token.rotated_at = at;
                true
            }
            _ => false,
        };
        Box::pin(async move { Ok(rotated) })
    }

    fn remove<'a>(&'a self, selector: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        self.lock().remove(selector);
        Box::pin(async { Ok(()) })
    }

    fn remove_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        self.lock().retain(|_, token| token.user != user);
        Box::pin(async { Ok(()) })
    }
}
