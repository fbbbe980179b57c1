//! [`MemoryAccountTokenStore`]: mailed tokens in this process's memory.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::SystemTime,
};

use super::token::{AccountToken, AccountTokenStore, Revoke};
use crate::error::BoxError;

/// Mailed tokens in this process's memory: for one instance and for tests. A restart forgets
/// them, so a link mailed before it no longer works (the user asks again).
///
/// Expired tokens are swept out whenever an insertion finds the map at a multiple of 1024
/// entries, so a store that is never given
/// [`delete_expired`](AccountTokenStore::delete_expired) still stays as small as the live
/// tokens; how many live tokens there can be is bounded by the throttle's mails per account.
#[derive(Clone, Default, Debug)]
pub struct MemoryAccountTokenStore {
    tokens: Arc<Mutex<HashMap<String, AccountToken>>>,
}

/// See [`MemoryAccountTokenStore`].
const SWEEP_EVERY: usize = 1024;

impl MemoryAccountTokenStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, AccountToken>> {
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
impl AccountTokenStore for MemoryAccountTokenStore {
    async fn insert(&self, token: &AccountToken) -> Result<(), BoxError> {
        let mut tokens = self.lock();
        if !tokens.is_empty() && tokens.len().is_multiple_of(SWEEP_EVERY) {
            let now = token.created_at;
            tokens.retain(|_, kept| kept.expires_at > now);
        }
        tokens.insert(token.hash.clone(), token.clone());
        Ok(())
    }

    async fn find(&self, hash: &str) -> Result<Option<AccountToken>, BoxError> {
        Ok(self.lock().get(hash).cloned())
    }

    async fn consume(&self, hash: &str) -> Result<bool, BoxError> {
        Ok(self.lock().remove(hash).is_some())
    }

    async fn revoke_user(&self, user: &str, which: Revoke) -> Result<u64, BoxError> {
        let mut tokens = self.lock();
        let before = tokens.len();
        tokens.retain(|_, token| {
            token.user != user
                || match which {
                    Revoke::All => false,
                    Revoke::EndedByLogin => !token.purpose.ends_at_login(),
                }
        });
        Ok((before - tokens.len()) as u64)
    }

    async fn delete_expired(&self, now: SystemTime) -> Result<u64, BoxError> {
        let mut tokens = self.lock();
        let before = tokens.len();
        tokens.retain(|_, token| token.expires_at > now);
        Ok((before - tokens.len()) as u64)
    }
}
