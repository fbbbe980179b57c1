//! How the layer gets a session's user: the layer's loader asks the optional [`UserCache`] first
//! (in memory, invalidated across instances through Redis with the feature `cache-redis`), and
//! otherwise the store, in a batch with other requests' loads when batching is on. The loader
//! is the one place that owns that chain.
//!
//! The session's digest is still checked on every request, against the cached user's
//! [`session_auth_hash`](crate::AuthUser::session_auth_hash). What the cache can delay is only
//! noticing a change made where this process cannot see it: see
//! [`AuthLayerBuilder::user_cache`](crate::layer::AuthLayerBuilder::user_cache) for the bound.

mod batch;
#[cfg(feature = "cache-redis")]
mod redis;

use std::{sync::Arc, time::Duration};

use self::batch::Batcher;
use crate::{AuthError, UserStore, security::SessionKey, store::UserId};

/// The layer's cache slot: a `UserCache` when the `cache` feature is on, nothing otherwise, so
/// the rest of the crate needs no `cfg` for it.
#[cfg(feature = "cache")]
pub(crate) type CacheSlot = Option<UserCache>;
#[cfg(not(feature = "cache"))]
pub(crate) type CacheSlot = NoCache;

/// The cache slot of a build without the `cache` feature.
#[cfg(not(feature = "cache"))]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoCache;

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

    /// The user with `id` for a request that has no session digest to check (an API token,
    /// whose own check was its lookup): from the cache when it holds them for `realm`, else
    /// from the store, then cached. A password change revokes the user's tokens and a change
    /// to their roles is [invalidated](crate::UserCache::invalidate) as for sessions, so a
    /// cached copy is as fresh as a session's.
    pub(crate) async fn load_for_credentials(
        &self,
        id: &UserId<S>,
        key: &SessionKey,
        realm: &Arc<str>,
    ) -> Result<Option<Arc<S::User>>, AuthError> {
        #[cfg(feature = "cache")]
        if let Some(cache) = &self.cache {
            let cache_key = cache_key(id);
            if let Some(hit) = cache.get::<S::User>(&cache_key)
                && hit.realm == *realm
            {
                return Ok(Some(hit.user.clone()));
            }
            let epoch = cache.epoch();
            let loaded = std::time::Instant::now();
            let Some(user) = self.load_from_store(id).await? else {
                return Ok(None);
            };
            let user = Arc::new(user);
            let entry = Entry {
                user: user.clone(),
                digest: key.user_digest(realm, &*user),
                realm: realm.clone(),
                loaded,
            };
            cache.insert_if_unchanged(cache_key, entry, epoch);
            return Ok(Some(user));
        }
        let _ = (key, realm);
        Ok(self.load_from_store(id).await?.map(Arc::new))
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
        let (NoCache, _) = (self.cache, id);
    }
}

/// A store call that took longer than the layer allows.
#[derive(Debug, thiserror::Error)]
#[error("the user store did not answer within {0:?}")]
pub(crate) struct TimedOut(pub(crate) Duration);

/// Constant-time, like the HMAC verification it stands in for: every byte is compared,
/// whatever the first difference. The differences are folded into one byte first, which the
/// compiler turns into a few vector instructions, where `subtle`'s byte-by-byte slice comparison
/// is a loop with a barrier per byte, on the path of every cached request.
#[cfg(feature = "cache")]
pub(super) fn digests_match(expected: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let (expected, given) = (expected.as_bytes(), given.as_bytes());
    if expected.len() != given.len() {
        return false;
    }
    let difference = expected
        .iter()
        .zip(given)
        .fold(0_u8, |difference, (a, b)| difference | (a ^ b));
    bool::from(std::hint::black_box(difference).ct_eq(&0))
}

#[cfg(feature = "cache")]
pub(super) fn cache_key<I: std::fmt::Display + ?Sized>(id: &I) -> String {
    id.to_string()
}

#[cfg(feature = "cache")]
pub(super) use self::imp::Entry;
#[cfg(feature = "cache")]
pub use self::imp::UserCache;
#[cfg(feature = "cache-redis")]
pub(super) use self::imp::WeakUserCache;

#[cfg(feature = "cache")]
mod imp {
    use std::{
        any::Any,
        fmt,
        sync::{
            Arc,
            atomic::{AtomicU64, Ordering},
        },
        time::{Duration, Instant},
    };

    use super::cache_key;

    /// A cached user, the digest of its `session_auth_hash` under the layer's key, and when it
    /// was loaded from the store.
    pub(crate) struct Entry<U> {
        pub(crate) user: Arc<U>,
        pub(crate) digest: String,
        /// The realm of the layer that loaded it.
        pub(crate) realm: Arc<str>,
        pub(crate) loaded: Instant,
    }

    /// A bounded, time-limited cache of loaded users for an [`AuthLayer`](crate::AuthLayer)
    /// (feature `cache`).
    ///
    /// Give it to the layer with
    /// [`AuthLayerBuilder::user_cache`](crate::layer::AuthLayerBuilder::user_cache) and keep a clone
    /// (clones share one cache) to [`invalidate`](Self::invalidate) a user whose password, roles
    /// or permissions the app changes, or whom it deletes.
    ///
    /// Users are keyed by their id's `Display` form. One cache may serve several layers: an
    /// entry serves only the layer (the [realm](crate::layer::AuthLayerBuilder::realm)) that
    /// loaded it, so two tenants whose users share ids never see each other's users; they only
    /// take turns in the slot. When full, it evicts by the S3-FIFO policy of
    /// [`quick_cache`](https://docs.rs/quick_cache), which keeps the users that come back.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use axum_login::UserCache;
    ///
    /// // At most 10 000 users, each kept at most 30 seconds after it was loaded.
    /// let cache = UserCache::new(10_000, Duration::from_secs(30));
    /// // ... AuthLayer::builder(store, sessions).user_cache(cache.clone()).build() ...
    ///
    /// // After changing user 42 in the database:
    /// cache.invalidate(&42);
    /// ```
    ///
    /// With several instances, each has its own cache, and a change made through one reaches
    /// the others only when their entries expire, unless the caches are connected through Redis
    /// with [`connect_redis`](Self::connect_redis) (feature `cache-redis`).
    #[derive(Clone)]
    pub struct UserCache {
        users: Arc<quick_cache::sync::Cache<String, Arc<dyn Any + Send + Sync>>>,
        /// Bumped by every invalidation, so a load that raced with one is not cached.
        epoch: Arc<AtomicU64>,
        max_capacity: u64,
        ttl: Duration,
        /// The Redis channel that carries invalidations to and from other instances, once
        /// connected.
        #[cfg(feature = "cache-redis")]
        pub(crate) remote: Arc<std::sync::OnceLock<crate::cache::redis::Remote>>,
    }

    /// A [`UserCache`] that does not keep it alive: what the task following the Redis channel
    /// holds, so that it ends with the last clone of the cache.
    #[cfg(feature = "cache-redis")]
    pub(crate) struct WeakUserCache {
        users: std::sync::Weak<quick_cache::sync::Cache<String, Arc<dyn Any + Send + Sync>>>,
        epoch: std::sync::Weak<AtomicU64>,
        max_capacity: u64,
        ttl: Duration,
        remote: std::sync::Weak<std::sync::OnceLock<crate::cache::redis::Remote>>,
    }

    #[cfg(feature = "cache-redis")]
    impl WeakUserCache {
        pub(crate) fn upgrade(&self) -> Option<UserCache> {
            Some(UserCache {
                users: self.users.upgrade()?,
                epoch: self.epoch.upgrade()?,
                max_capacity: self.max_capacity,
                ttl: self.ttl,
                remote: self.remote.upgrade()?,
            })
        }
    }

    impl fmt::Debug for UserCache {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("UserCache")
                .field("max_capacity", &self.max_capacity)
                .field("ttl", &self.ttl)
                .field("entries", &self.users.len())
                .finish()
        }
    }

    impl UserCache {
        /// A cache of at most `max_capacity` users, each kept at most `ttl` after it was loaded
        /// from the store.
        pub fn new(max_capacity: u64, ttl: Duration) -> Self {
            let items = usize::try_from(max_capacity).unwrap_or(usize::MAX).max(1);
            Self {
                users: Arc::new(quick_cache::sync::Cache::new(items)),
                epoch: Arc::new(AtomicU64::new(0)),
                max_capacity,
                ttl,
                #[cfg(feature = "cache-redis")]
                remote: Arc::default(),
            }
        }

        #[cfg(feature = "cache-redis")]
        pub(crate) fn downgrade(&self) -> WeakUserCache {
            WeakUserCache {
                users: Arc::downgrade(&self.users),
                epoch: Arc::downgrade(&self.epoch),
                max_capacity: self.max_capacity,
                ttl: self.ttl,
                remote: Arc::downgrade(&self.remote),
            }
        }

        /// How long a loaded user is kept at most.
        pub fn ttl(&self) -> Duration {
            self.ttl
        }

        /// Forgets the user with this id: the next request of theirs loads them from the store.
        ///
        /// Call it after changing or deleting a user: their password, roles, permissions or
        /// active flag. A session whose digest no longer matches the reloaded user ends on its
        /// next request; a deleted user's sessions end too.
        ///
        /// When the cache is [connected through Redis](Self::connect_redis), the id is also
        /// published, and every other connected instance forgets the user too, within a
        /// round trip to Redis.
        pub fn invalidate<I: fmt::Display + ?Sized>(&self, id: &I) {
            let key = cache_key(id);
            self.invalidate_key(&key);
            #[cfg(feature = "cache-redis")]
            if let Some(remote) = self.remote.get() {
                remote.publish_key(key);
            }
        }

        /// Forgets every user; on every connected instance too, when the cache is
        /// [connected through Redis](Self::connect_redis).
        pub fn invalidate_all(&self) {
            self.clear_local();
            #[cfg(feature = "cache-redis")]
            if let Some(remote) = self.remote.get() {
                remote.publish_all();
            }
        }

        /// Forgets every user here only.
        pub(crate) fn clear_local(&self) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            self.users.clear();
        }

        /// How many users are cached (expired ones included until they are replaced or
        /// evicted).
        pub fn entry_count(&self) -> u64 {
            self.users.len() as u64
        }

        /// Forgets the user under `key` here only.
        pub(crate) fn invalidate_key(&self, key: &str) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            self.users.remove(key);
        }

        /// Whether entries may be served and stored: always, unless the cache is connected
        /// through Redis and the subscription is down, when an invalidation could be missed.
        #[inline]
        fn serving(&self) -> bool {
            #[cfg(feature = "cache-redis")]
            if let Some(remote) = self.remote.get() {
                return remote.serving();
            }
            true
        }

        /// The entry for `key`, unless it is older than the TTL. An expired entry is left for
        /// the load that follows to replace.
        pub(crate) fn get<U: Send + Sync + 'static>(&self, key: &str) -> Option<Arc<Entry<U>>> {
            if !self.serving() {
                return None;
            }
            let entry = self.users.get(key)?.downcast::<Entry<U>>().ok()?;
            (entry.loaded.elapsed() < self.ttl).then_some(entry)
        }

        pub(crate) fn epoch(&self) -> u64 {
            self.epoch.load(Ordering::SeqCst)
        }

        /// Caches `entry`, unless an invalidation happened since `epoch` was read (before the
        /// load): the loaded value may predate the change that invalidation announced.
        pub(crate) fn insert_if_unchanged<U: Send + Sync + 'static>(
            &self,
            key: String,
            entry: Entry<U>,
            epoch: u64,
        ) {
            if self.epoch() != epoch || !self.serving() {
                return;
            }
            self.users.insert(key.clone(), Arc::new(entry));
            // An invalidation between the check above and the insert bumped the epoch before
            // removing the key, so it either removed this entry or is seen here.
            if self.epoch() != epoch {
                self.users.remove(&key);
            }
        }
    }
}

#[cfg(all(test, feature = "cache"))]
mod tests {
    use super::digests_match;

    #[test]
    fn digests_match_only_when_every_byte_is_equal() {
        let digest = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5";
        assert!(digests_match(digest, digest));
        for position in 0..digest.len() {
            let mut other = digest.as_bytes().to_vec();
            other[position] ^= 1;
            let other = String::from_utf8(other).expect("still ASCII");
            assert!(!digests_match(digest, &other), "differs at {position}");
        }
        assert!(!digests_match(digest, &digest[..digest.len() - 1]));
        assert!(!digests_match("", digest));
    }
}
