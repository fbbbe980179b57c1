//! [`MemoryTokenStore`]: API tokens in this process's memory.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::SystemTime,
};

use super::{ApiToken, Rehash, TokenStore};
use crate::error::BoxError;

/// API tokens in this process's memory: for one instance and for tests (a restart forgets every
/// token, so every client needs a new one).
#[derive(Clone, Default, Debug)]
pub struct MemoryTokenStore {
    /// By hash, which is how requests find them.
    tokens: Arc<Mutex<HashMap<String, ApiToken>>>,
}

impl MemoryTokenStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, ApiToken>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many tokens are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no token is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryTokenStore {
    async fn insert(&self, token: &ApiToken) -> Result<(), BoxError> {
        self.lock().insert(token.hash.clone(), token.clone());
        Ok(())
    }

    async fn find(&self, hash: &str) -> Result<Option<ApiToken>, BoxError> {
        Ok(self.lock().get(hash).cloned())
    }

    async fn list(&self, user: &str) -> Result<Vec<ApiToken>, BoxError> {
        let mut tokens: Vec<ApiToken> = self
            .lock()
            .values()
            .filter(|token| token.user == user)
            .cloned()
            .collect();
        tokens.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(tokens)
    }

    async fn touch(&self, id: &str, at: SystemTime) -> Result<(), BoxError> {
        if let Some(token) = self.lock().values_mut().find(|token| token.id == id) {
            token.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn rehash(&self, rehash: &Rehash<'_>) -> Result<bool, BoxError> {
        let mut tokens = self.lock();
        if tokens
            .get(rehash.from)
            .is_none_or(|token| token.id != rehash.id)
        {
            return Ok(false);
        }
        let Some(mut token) = tokens.remove(rehash.from) else {
            return Ok(false);
        };
        rehash.to.clone_into(&mut token.hash);
        tokens.insert(token.hash.clone(), token);
        Ok(true)
    }

    async fn revoke(&self, user: &str, id: &str) -> Result<bool, BoxError> {
        let mut tokens = self.lock();
        let before = tokens.len();
        tokens.retain(|_, token| !(token.user == user && token.id == id));
        Ok(tokens.len() < before)
    }

    async fn revoke_user(&self, user: &str) -> Result<u64, BoxError> {
        let mut tokens = self.lock();
        let before = tokens.len();
        tokens.retain(|_, token| token.user != user);
        Ok((before - tokens.len()) as u64)
    }
}
