//! [`MemoryThrottleStore`]: the throttle's counters in this process's memory, bounded.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime},
};

use tokio::sync::Notify;

use super::{
    counter::Counter,
    store::{Ended, Reservation, Revocation, ThrottleKey, ThrottleStore, Verdict},
};
use crate::{error::BoxError, memory::bounded_store};

/// Shards, so that logins of different accounts seldom wait for one lock.
const SHARDS: usize = 16;

/// The throttle's counters in this process's memory, for one instance.
///
/// Bounded: at most `max_keys` counters (default 100 000; each holds a 16-byte key and a few
/// numbers). When full, a new key takes the place of the oldest counter that is not refusing
/// its key, and only when every counter is refusing, of the oldest of those: a flood of new
/// usernames cannot unlock an account by pushing its counter out. Finding that place takes
/// constant time (amortised), never a scan, and the locks are held only for a few field
/// updates, never across an await.
#[derive(Clone)]
pub struct MemoryThrottleStore {
    shards: Arc<[Shard]>,
    max_keys: usize,
}

struct Shard {
    state: Mutex<ShardState>,
    released: Notify,
}

#[derive(Default)]
struct ShardState {
    counters: HashMap<ThrottleKey, Entry>,
    /// Keys in the order they got a counter, with the counter's generation: the candidates to
    /// drop, oldest first. A key that started refusing moves to `refusing`.
    open: VecDeque<(ThrottleKey, u64)>,
    refusing: VecDeque<(ThrottleKey, u64)>,
    revoked: HashMap<ThrottleKey, (SystemTime, SystemTime)>,
    revoked_order: VecDeque<ThrottleKey>,
    generation: u64,
}

/// A counter with its place in the eviction queues.
#[derive(Debug, Clone, Copy)]
struct Entry {
    counter: Counter,
    /// Tells this entry apart from an earlier one of the same key still queued.
    generation: u64,
    /// Whether the counter reached its limit (it stays in the `refusing` queue).
    refusing: bool,
}

impl ShardState {
    /// Makes room for one more counter, then adds it.
    fn insert(&mut self, key: ThrottleKey, now: SystemTime, per_shard: usize) -> &mut Entry {
        if !self.counters.contains_key(&key) {
            while self.counters.len() >= per_shard && self.drop_one() {}
            self.generation += 1;
            let generation = self.generation;
            let entry = Entry {
                counter: Counter::new(now),
                generation,
                refusing: false,
            };
            self.counters.insert(key, entry);
            self.open.push_back((key, generation));
        }
        self.counters
            .get_mut(&key)
            .unwrap_or_else(|| unreachable!("just inserted"))
    }

    /// Drops the oldest counter that is not refusing, else the oldest refusing one; `false`
    /// when there is nothing to drop. Queue entries of counters dropped or moved since are
    /// skipped, each once.
    fn drop_one(&mut self) -> bool {
        for refusing in [false, true] {
            let queue = if refusing {
                &mut self.refusing
            } else {
                &mut self.open
            };
            while let Some((key, generation)) = queue.pop_front() {
                let live = self
                    .counters
                    .get(&key)
                    .is_some_and(|c| c.generation == generation && c.refusing == refusing);
                if live {
                    self.counters.remove(&key);
                    return true;
                }
            }
        }
        false
    }

    fn mark_refusing(&mut self, key: ThrottleKey) {
        if let Some(entry) = self.counters.get_mut(&key)
            && !entry.refusing
        {
            entry.refusing = true;
            self.refusing.push_back((key, entry.generation));
        }
    }
}

impl MemoryThrottleStore {
    /// A store of at most `max_keys` counters.
    pub fn new(max_keys: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| Shard {
                state: Mutex::default(),
                released: Notify::new(),
            })
            .collect();
        Self {
            shards,
            max_keys: max_keys.max(SHARDS),
        }
    }

    /// How many counters are kept now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| lock(shard).counters.len())
            .sum()
    }

    /// Whether no counter is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &ThrottleKey) -> &Shard {
        &self.shards[usize::from(key.0[0]) % SHARDS]
    }

    fn per_shard(&self) -> usize {
        self.max_keys.div_ceil(SHARDS)
    }
}

fn lock(shard: &Shard) -> MutexGuard<'_, ShardState> {
    shard.state.lock().unwrap_or_else(PoisonError::into_inner)
}

bounded_store!(MemoryThrottleStore, "keys", max_keys);

#[async_trait::async_trait]
impl ThrottleStore for MemoryThrottleStore {
    async fn reserve(
        &self,
        reservation: &Reservation,
        now: SystemTime,
    ) -> Result<Verdict, BoxError> {
        let (key, rule) = (reservation.key, &reservation.rule);
        let verdict = {
            let mut state = lock(self.shard(&key));
            let entry = state.insert(key, now, self.per_shard());
            let verdict = entry
                .counter
                .reserve(rule, reservation.window, reservation.lease, now);
            if entry.counter.is_refusing(rule) {
                state.mark_refusing(key);
            }
            verdict
        };
        Ok(verdict)
    }

    async fn finish(&self, reservation: &Reservation, ended: Ended) -> Result<(), BoxError> {
        let (key, rule) = (&reservation.key, &reservation.rule);
        let shard = self.shard(key);
        {
            let mut state = lock(shard);
            if let Some(entry) = state.counters.get_mut(key) {
                let counter = &mut entry.counter;
                counter.finish(ended.outcome, reservation.window, ended.at);
                if counter.is_refusing(rule) {
                    // Kept apart from here on, so a flood of new keys cannot push it out.
                    state.mark_refusing(*key);
                } else if entry.counter.is_idle() {
                    state.counters.remove(key);
                }
            }
        }
        shard.released.notify_waiters();
        Ok(())
    }

    async fn revoke_devices(&self, revocation: &Revocation) -> Result<(), BoxError> {
        let Revocation { account, at, keep } = revocation;
        let (at, keep) = (*at, *keep);
        {
            let per_shard = self.per_shard();
            let mut state = lock(self.shard(account));
            // Revocations are rare (password changes); past the bound the oldest goes, whose
            // device cookies have most likely expired by then.
            while state.revoked.len() >= per_shard {
                let Some(oldest) = state.revoked_order.pop_front() else {
                    break;
                };
                state.revoked.remove(&oldest);
            }
            match state.revoked.get_mut(account) {
                // A revocation only moves forward.
                Some(known) if known.0 >= at => {}
                Some(known) => *known = (at, at + keep),
                None => {
                    state.revoked.insert(*account, (at, at + keep));
                    state.revoked_order.push_back(*account);
                }
            }
        }
        Ok(())
    }

    async fn devices_revoked_at(
        &self,
        account: &ThrottleKey,
    ) -> Result<Option<SystemTime>, BoxError> {
        let at = lock(self.shard(account))
            .revoked
            .get(account)
            .filter(|(_, until)| SystemTime::now() < *until)
            .map(|(at, _)| *at);
        Ok(at)
    }

    async fn released(&self, key: &ThrottleKey) {
        let shard = self.shard(key);
        // A finish between the caller's reserve and this wait is not missed for long: the
        // wait is bounded too.
        let _ = tokio::time::timeout(Duration::from_millis(50), shard.released.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::throttle::store::{Outcome, Rule};

    const WINDOW: Duration = Duration::from_secs(900);
    const LEASE: Duration = Duration::from_secs(30);

    fn key(n: u32) -> ThrottleKey {
        let mut bytes = [0; 16];
        bytes[..4].copy_from_slice(&n.to_le_bytes());
        bytes[4] = (n % 251) as u8;
        ThrottleKey(bytes.map(|b| b.wrapping_mul(31)))
    }

    fn rule(limit: u32, free: u32) -> Rule {
        Rule {
            limit,
            free,
            delay: Duration::from_secs(1),
        }
    }

    fn reservation(key: &ThrottleKey, rule: &Rule) -> Reservation {
        Reservation {
            key: *key,
            rule: *rule,
            window: WINDOW,
            lease: LEASE,
        }
    }

    async fn reserve(
        store: &MemoryThrottleStore,
        key: &ThrottleKey,
        rule: &Rule,
        now: SystemTime,
    ) -> Verdict {
        let reservation = reservation(key, rule);
        store.reserve(&reservation, now).await.expect("reserve")
    }

    async fn finish(
        store: &MemoryThrottleStore,
        key: &ThrottleKey,
        rule: &Rule,
        outcome: Outcome,
        at: SystemTime,
    ) {
        let ended = Ended { outcome, at };
        let reservation = reservation(key, rule);
        store.finish(&reservation, ended).await.expect("finish");
    }

    async fn fail(store: &MemoryThrottleStore, key: &ThrottleKey, rule: &Rule, now: SystemTime) {
        assert_eq!(reserve(store, key, rule, now).await, Verdict::Granted);
        finish(store, key, rule, Outcome::Failed, now).await;
    }

    #[tokio::test]
    async fn checks_in_flight_never_exceed_what_the_failures_leave() {
        let store = MemoryThrottleStore::default();
        let (k, rule, now) = (key(1), rule(5, 5), SystemTime::now());
        for _ in 0..5 {
            assert_eq!(reserve(&store, &k, &rule, now).await, Verdict::Granted);
        }
        assert_eq!(reserve(&store, &k, &rule, now).await, Verdict::Busy);
        // A success frees its place; a failure uses one up for the window.
        finish(&store, &k, &rule, Outcome::Succeeded { reset: false }, now).await;
        assert_eq!(reserve(&store, &k, &rule, now).await, Verdict::Granted);
        for _ in 0..5 {
            finish(&store, &k, &rule, Outcome::Failed, now).await;
        }
        assert!(matches!(
            reserve(&store, &k, &rule, now).await,
            Verdict::Refused { first: true, .. }
        ));
        assert!(matches!(
            reserve(&store, &k, &rule, now).await,
            Verdict::Refused { first: false, .. }
        ));
        let later = now + WINDOW;
        assert_eq!(reserve(&store, &k, &rule, later).await, Verdict::Granted);
    }

    #[tokio::test]
    async fn failures_past_the_free_ones_wait_longer_each_time() {
        let store = MemoryThrottleStore::default();
        let (k, rule, start) = (key(2), rule(10, 2), SystemTime::now());
        fail(&store, &k, &rule, start).await;
        fail(&store, &k, &rule, start).await;
        // The third attempt waits 1 s after the last failure, the fourth 2 s, the fifth 4 s.
        let mut now = start;
        for wait in [1, 2, 4] {
            assert!(matches!(
                reserve(&store, &k, &rule, now).await,
                Verdict::Refused { .. }
            ));
            now += Duration::from_secs(wait);
            fail(&store, &k, &rule, now).await;
        }
    }

    #[tokio::test]
    async fn a_lease_that_runs_out_gives_its_place_back() {
        let store = MemoryThrottleStore::default();
        let (k, rule, now) = (key(3), rule(1, 1), SystemTime::now());
        assert_eq!(reserve(&store, &k, &rule, now).await, Verdict::Granted);
        assert_eq!(reserve(&store, &k, &rule, now).await, Verdict::Busy);
        assert_eq!(
            reserve(&store, &k, &rule, now + LEASE).await,
            Verdict::Granted
        );
    }

    #[tokio::test]
    async fn a_flood_of_new_keys_never_pushes_out_a_refusing_one() {
        let store = MemoryThrottleStore::new(SHARDS * 8);
        let (locked, rule, now) = (key(7), rule(3, 3), SystemTime::now());
        for _ in 0..3 {
            fail(&store, &locked, &rule, now).await;
        }
        assert!(matches!(
            reserve(&store, &locked, &rule, now).await,
            Verdict::Refused { .. }
        ));
        for n in 1_000..11_000 {
            fail(&store, &key(n), &rule, now).await;
        }
        assert!(store.len() <= SHARDS * 8, "{} counters", store.len());
        assert!(matches!(
            reserve(&store, &locked, &rule, now).await,
            Verdict::Refused { .. }
        ));
    }

    /// A key in shard 0, told apart by `n`.
    fn in_first_shard(n: u8) -> ThrottleKey {
        let mut bytes = [0; 16];
        bytes[1] = n;
        ThrottleKey(bytes)
    }

    #[tokio::test]
    async fn the_store_counts_the_counters_it_keeps() {
        let store = MemoryThrottleStore::new(1_000);
        let (rule, now) = (rule(5, 5), SystemTime::now());
        assert!(store.is_empty());
        assert_eq!(store.len(), 0);
        fail(&store, &key(1), &rule, now).await;
        assert!(!store.is_empty());
        assert_eq!(store.len(), 1);
        fail(&store, &key(2), &rule, now).await;
        assert_eq!(store.len(), 2);
        assert_eq!(
            format!("{store:?}"),
            "MemoryThrottleStore { keys: 2, max_keys: 1000 }"
        );
    }

    #[tokio::test]
    async fn a_counter_that_came_back_is_not_taken_for_its_earlier_self() {
        // Two counters per shard.
        let store = MemoryThrottleStore::new(SHARDS * 2);
        let (rule, now) = (rule(2, 2), SystemTime::now());
        let (again, older, newest) = (in_first_shard(1), in_first_shard(2), in_first_shard(3));
        // `again` gets a counter and loses it (a success leaves nothing to keep)...
        assert_eq!(reserve(&store, &again, &rule, now).await, Verdict::Granted);
        finish(
            &store,
            &again,
            &rule,
            Outcome::Succeeded { reset: true },
            now,
        )
        .await;
        assert!(store.is_empty());
        // ...then gets a new one after `older`'s: `older` is now the oldest counter.
        fail(&store, &older, &rule, now).await;
        fail(&store, &again, &rule, now).await;
        // The shard is full; a new key takes the oldest counter's place, `older`'s.
        fail(&store, &newest, &rule, now).await;
        assert_eq!(store.len(), 2);
        // `again` kept its failure: one more reaches the limit.
        fail(&store, &again, &rule, now).await;
        assert!(
            matches!(
                reserve(&store, &again, &rule, now).await,
                Verdict::Refused { .. }
            ),
            "the newer counter of a key was dropped in place of the oldest"
        );
    }

    #[tokio::test]
    async fn revocations_move_forward_and_each_account_keeps_its_own() {
        let store = MemoryThrottleStore::default();
        let keep = Duration::from_secs(3600);
        let start = SystemTime::now();
        let later = start + Duration::from_secs(60);
        // Two accounts in one shard.
        let (first, second) = (in_first_shard(1), in_first_shard(2));
        for (account, at) in [(first, start), (second, start), (first, later)] {
            store
                .revoke_devices(&Revocation { account, at, keep })
                .await
                .expect("revoke");
        }
        assert_eq!(
            store.devices_revoked_at(&first).await.expect("read"),
            Some(later),
            "a later revocation did not replace an earlier one"
        );
        assert_eq!(
            store.devices_revoked_at(&second).await.expect("read"),
            Some(start),
            "one account's revocation dropped another's"
        );
    }
}
