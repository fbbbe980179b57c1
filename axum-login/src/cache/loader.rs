//! Loading a session's user: from the layer's user cache when it holds a current copy,
//! otherwise from the store, in the next batch when loads are batched. This is the one place
//! that owns that chain.

use std::{sync::Arc, time::Duration};

use super::{CacheSlot, batch::Batcher};
use crate::{AuthError, UserStore, security::SessionKey, store::UserId};

/// The layer's way to its users: the store, the batcher and the cache.
pub(crate) struct Loader<S: UserStore> {
    store: S,
    /// Batches loads of concurrent requests, when the layer was asked to.
    batcher: Option<Arc<Batcher<S>>>,
    cache: CacheSlot,
    /// The longest one load may take.
    timeout: Duration,
}

impl<S: UserStore> Loader<S> {
    pub(crate) fn new(store: S, batch: bool, cache: CacheSlot, timeout: Duration) -> Self {
        let batcher = batch.then(|| Batcher::new(store.clone(), timeout));
        Self {
            store,
            batcher,
            cache,
            timeout,
        }
    }

    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// The user with `id`, from the store (never the cache), within the layer's bound: for a
    /// login that has no digest to check a cached copy against.
    pub(crate) async fn store_load(&self, id: &UserId<S>) -> Result<Option<S::User>, AuthError> {
        self.load_from_store(id).await
    }

    /// The user with `id`, from the store: in the next batch when loads are batched; an error
    /// when the store takes longer than the layer's bound.
    async fn load_from_store(&self, id: &UserId<S>) -> Result<Option<S::User>, AuthError> {
        let load = async {
            match &self.batcher {
                Some(batcher) => batcher.load(id).await,
                None => self.store.load_user(id).await.map_err(AuthError::store),
            }
        };
        tokio::time::timeout(self.timeout, load)
            .await
            .unwrap_or_else(|_| Err(AuthError::store(TimedOut(self.timeout))))
    }

    /// The user with `id`: from the cache when it holds one whose `session_auth_hash` matches
    /// the session's `digest`, otherwise from the store (and then cached). The `bool` says the
    /// digest was already found to match, so the caller need not verify it again.
    ///
    /// Each entry keeps the digest of its user under the layer's `key`, computed once when it
    /// was loaded, so a hit compares two digests in constant time instead of computing an HMAC
    /// on every request.
    ///
    /// A cached user whose digest does not match may be stale (the password changed on another
    /// instance, and this session logged in with the new one), so it is reloaded rather than
    /// trusted to end the session.
    pub(crate) async fn load(
        &self,
        id: &UserId<S>,
        digest: &str,
        key: &SessionKey,
        realm: &Arc<str>,
    ) -> Result<Option<(Arc<S::User>, bool)>, AuthError> {
        #[cfg(feature = "cache")]
        if let Some(cache) = &self.cache {
            use super::{Entry, cache_key, digests_match};

            let cache_key = cache_key(id);
            if let Some(hit) = cache.get::<S::User>(&cache_key) {
                // A cache shared by layers keeps one entry per id: it serves only the layer
                // that loaded it, whose realm also keyed its digest.
                if hit.realm == *realm && digests_match(&hit.digest, digest) {
                    return Ok(Some((hit.user.clone(), true)));
                }
                cache.invalidate_key(&cache_key);
            }
            let epoch = cache.epoch();
            let loaded = std::time::Instant::now();
            let Some(user) = self.load_from_store(id).await? else {
                return Ok(None);
            };
            let user = Arc::new(user);
            let expected = key.user_digest(realm, &*user);
            let verified = digests_match(&expected, digest);
            let entry = Entry {
                user: user.clone(),
                digest: expected,
                realm: realm.clone(),
                loaded,
            };
            cache.insert_if_unchanged(cache_key, entry, epoch);
            return Ok(Some((user, verified)));
        }
        let _ = (digest, key, realm);
        Ok(self
            .load_from_store(id)
            .await?
            .map(|user| (Arc::new(user), false)))
    }

    /// Drops the user with `id` from the cache, if the layer has one.
    pub(crate) fn forget(&self, id: &UserId<S>) {
        #[cfg(feature = "cache")]
        if let Some(cache) = &self.cache {
            cache.invalidate(id);
        }
        #[cfg(not(feature = "cache"))]
        let (super::NoCache, _) = (self.cache, id);
    }
}

/// A store call that took longer than the layer allows.
#[derive(Debug, thiserror::Error)]
#[error("the user store did not answer within {0:?}")]
pub(crate) struct TimedOut(pub(crate) Duration);
