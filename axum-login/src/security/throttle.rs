//! Throttling failed logins per account and per client address.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use crate::error::BoxError;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where attempt counters live. [`MemoryThrottleStore`] is the default; a deployment with
/// several instances keeps them in a shared store (Redis, the database) by implementing this
/// trait.
///
/// Every attempt is counted *before* the credentials are checked, with one atomic
/// increment-and-read ([`attempt`](Self::attempt); Redis `INCR` + `EXPIRE`, say), so attempts
/// that arrive together cannot all slip under the limit. Counters use fixed windows: the first
/// attempt opens a window of `window`, and the count resets when it ends.
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one more attempt for `key` and answers the count in the current window,
    /// this attempt included.
    fn attempt<'a>(
        &'a self,
        key: &'a str,
        now: SystemTime,
        window: Duration,
    ) -> BoxFuture<'a, Result<u32, BoxError>>;

    /// Takes back one attempt for `key`: a successful login does not count against its address.
    fn forgive<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BoxError>>;

    /// Forgets `key`'s attempts: a successful login clears its account's count.
    fn reset<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BoxError>>;
}

/// Failure counters in this process's memory, bounded in size.
#[derive(Clone)]
pub struct MemoryThrottleStore {
    entries: Arc<Mutex<HashMap<String, (SystemTime, u32)>>>,
    max_keys: usize,
}

impl MemoryThrottleStore {
    /// A store that tracks at most `max_keys` keys; past that, expired windows are dropped, then
    /// the oldest.
    pub fn new(max_keys: usize) -> Self {
        Self {
            entries: Arc::default(),
            max_keys: max_keys.max(1),
        }
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut HashMap<String, (SystemTime, u32)>) -> T) -> T {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut entries)
    }
}

impl Default for MemoryThrottleStore {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl fmt::Debug for MemoryThrottleStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryThrottleStore")
            .field("keys", &self.with_entries(|entries| entries.len()))
            .field("max_keys", &self.max_keys)
            .finish()
    }
}

fn is_open(started: SystemTime, now: SystemTime, window: Duration) -> bool {
    now.duration_since(started).map_or(true, |age| age < window)
}

impl ThrottleStore for MemoryThrottleStore {
    fn attempt<'a>(
        &'a self,
        key: &'a str,
        now: SystemTime,
        window: Duration,
    ) -> BoxFuture<'a, Result<u32, BoxError>> {
        let max_keys = self.max_keys;
        let count = self.with_entries(|entries| {
            if entries.len() >= max_keys && !entries.contains_key(key) {
                entries.retain(|_, (started, _)| is_open(*started, now, window));
                if entries.len() >= max_keys
                    && let Some(oldest) = entries
                        .iter()
                        .min_by_key(|(_, (started, _))| *started)
                        .map(|(key, _)| key.clone())
                {
                    entries.remove(&oldest);
                }
            }
            let entry = entries.entry(key.to_owned()).or_insert((now, 0));
            if !is_open(entry.0, now, window) {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
            entry.1
        });
        Box::pin(async move { Ok(count) })
    }

    fn forgive<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        self.with_entries(|entries| {
            if let Some(entry) = entries.get_mut(key) {
                entry.1 = entry.1.saturating_sub(1);
            }
        });
        Box::pin(async { Ok(()) })
    }

    fn reset<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        self.with_entries(|entries| entries.remove(key));
        Box::pin(async { Ok(()) })
    }
}

/// How failed logins are throttled; give it to
/// [`AuthLayerBuilder::throttle`](crate::layer::AuthLayerBuilder::throttle).
///
/// Default: at most 5 failures per account and 50 per client address in a 15-minute window,
/// counted in memory. Once a key reaches its limit, [`AuthSession::authenticate`] answers
/// `Ok(None)` for it, exactly as for wrong credentials and without asking the store, until the
/// window ends; a success clears the account's count. Unknown usernames are counted like real
/// ones, so the answer never tells whether an account exists.
///
/// The account key comes from [`UserStore::throttle_key`](crate::UserStore::throttle_key); the
/// address from axum's `ConnectInfo<SocketAddr>`, present when the app is served with
/// `into_make_service_with_connect_info::<SocketAddr>()` (behind a reverse proxy, that is the
/// proxy's address: put the real client address there with a layer of your own).
///
/// [`AuthSession::authenticate`]: crate::AuthSession::authenticate
///
/// ```
/// use std::time::Duration;
///
/// use axum_login::{security::MemoryThrottleStore, Throttle};
///
/// let throttle = Throttle::new(MemoryThrottleStore::default())
///     .max_failures_per_account(3)
///     .max_failures_per_address(20)
///     .window(Duration::from_secs(600));
/// # let _ = throttle;
/// ```
#[derive(Clone)]
pub struct Throttle {
    pub(crate) store: Option<Arc<dyn ThrottleStore>>,
    pub(crate) per_account: u32,
    pub(crate) per_address: u32,
    pub(crate) window: Duration,
}

impl Throttle {
    /// Throttling with counters in `store` and the default limits.
    pub fn new(store: impl ThrottleStore) -> Self {
        Self {
            store: Some(Arc::new(store)),
            per_account: 5,
            per_address: 50,
            window: Duration::from_secs(15 * 60),
        }
    }

    /// No throttling at all. Only for apps that throttle logins elsewhere (a gateway, a WAF).
    pub fn disabled() -> Self {
        Self {
            store: None,
            ..Self::default()
        }
    }

    /// Failures per account before it is locked for the rest of the window.
    pub fn max_failures_per_account(mut self, failures: u32) -> Self {
        self.per_account = failures.max(1);
        self
    }

    /// Failures per client address before it is locked for the rest of the window.
    pub fn max_failures_per_address(mut self, failures: u32) -> Self {
        self.per_address = failures.max(1);
        self
    }

    /// The length of the counting window, which is also the longest lockout.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Counts a login attempt on `account` (a [`UserStore::throttle_key`]) from `address`,
    /// before its credentials are checked, so simultaneous guesses cannot all slip under the
    /// limit. `None` when a key is over its limit: the attempt must fail like wrong
    /// credentials, without asking the store.
    ///
    /// [`UserStore::throttle_key`]: crate::UserStore::throttle_key
    pub(crate) async fn gate(
        &self,
        account: Option<String>,
        address: Option<std::net::IpAddr>,
        now: SystemTime,
    ) -> Result<Option<Attempt<'_>>, BoxError> {
        let Some(counters) = &self.store else {
            return Ok(Some(Attempt {
                counters: None,
                keys: Vec::new(),
            }));
        };
        let mut keys = Vec::with_capacity(2);
        if let Some(account) = account {
            keys.push((
                Counted::Account,
                format!("account:{account}"),
                self.per_account,
            ));
        }
        if let Some(address) = address {
            keys.push((
                Counted::Address,
                format!("address:{address}"),
                self.per_address,
            ));
        }
        let mut throttled = false;
        for (_, key, limit) in &keys {
            let attempts = counters.attempt(key, now, self.window).await?;
            if attempts > *limit {
                tracing::warn!(key = %key, attempts, "login throttled");
                throttled = true;
            }
        }
        Ok((!throttled).then(|| Attempt {
            counters: Some(&**counters),
            keys: keys.into_iter().map(|(kind, key, _)| (kind, key)).collect(),
        }))
    }
}

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    Account,
    Address,
}

/// A login attempt that [`Throttle::gate`] let through, to be told how it ended.
pub(crate) struct Attempt<'a> {
    counters: Option<&'a dyn ThrottleStore>,
    keys: Vec<(Counted, String)>,
}

impl Attempt<'_> {
    /// The credentials were right: the account's count starts over, and the attempt does not
    /// count against the address.
    pub(crate) async fn succeeded(self) -> Result<(), BoxError> {
        let Some(counters) = self.counters else {
            return Ok(());
        };
        for (counted, key) in &self.keys {
            match counted {
                Counted::Account => counters.reset(key).await?,
                Counted::Address => counters.forgive(key).await?,
            }
        }
        Ok(())
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(MemoryThrottleStore::default())
    }
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("enabled", &self.store.is_some())
            .field("per_account", &self.per_account)
            .field("per_address", &self.per_address)
            .field("window", &self.window)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_counts_within_a_window_and_forgets_after_it() {
        let store = MemoryThrottleStore::default();
        let start = SystemTime::now();
        let window = Duration::from_secs(60);
        for expected in 1..=3 {
            let count = store.attempt("k", start, window).await.expect("count");
            assert_eq!(count, expected);
        }
        store.forgive("k").await.expect("forgive");
        assert_eq!(store.attempt("k", start, window).await.expect("count"), 3);
        let later = start + Duration::from_secs(61);
        assert_eq!(store.attempt("k", later, window).await.expect("count"), 1);
        store.reset("k").await.expect("reset");
        assert_eq!(store.attempt("k", later, window).await.expect("count"), 1);
    }

    #[tokio::test]
    async fn memory_store_stays_bounded() {
        let store = MemoryThrottleStore::new(10);
        let now = SystemTime::now();
        for i in 0..100 {
            store
                .attempt(
                    &format!("key-{i}"),
                    now + Duration::from_millis(i),
                    Duration::from_secs(60),
                )
                .await
                .expect("record");
        }
        assert!(store.with_entries(|entries| entries.len()) <= 10);
    }
}
