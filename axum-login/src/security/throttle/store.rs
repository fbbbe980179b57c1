//! [`ThrottleStore`]: where the throttle keeps its counters, and what one counter answers.

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use crate::error::BoxError;

/// The key of one counter: a keyed hash (16 bytes) of what it counts (an account, a device, a
/// client address), so every key has the same small size whatever the username it came from,
/// and the store never sees a username or an address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThrottleKey(pub(crate) [u8; 16]);

impl ThrottleKey {
    /// The key's bytes, for a store that keeps them.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// A key from the bytes a store kept.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// A key from its [`Display`](fmt::Display) form: 32 hexadecimal digits.
    pub fn parse(hex: &str) -> Option<Self> {
        if hex.len() != 32 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0; 16];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Debug for ThrottleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ThrottleKey({self})")
    }
}

impl fmt::Display for ThrottleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// How many failures a counter allows in a window, and how they slow down.
///
/// The first `free` failures cost nothing; after them, each attempt must wait `delay` after the
/// last failure, doubled for every failure past `free`; at `limit` failures the key is refused
/// until its window ends. Up to `free` checks may run at once; in the slowed-down stretch, one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Failures in a window at which the key is refused until the window ends.
    pub limit: u32,
    /// Failures without any delay.
    pub free: u32,
    /// The wait after the first failure past `free`; it doubles with each further one.
    pub delay: Duration,
}

impl Rule {
    /// How long after its last failure a key that has `failures` may be tried again.
    pub fn backoff(&self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(20);
        self.delay.saturating_mul(1 << doublings)
    }

    /// How many checks may run at once on a key that has `failures`: up to what the free
    /// failures leave, and one once they are used up.
    pub fn concurrency(&self, failures: u32) -> u32 {
        self.free.saturating_sub(failures).max(1)
    }
}

/// One check's hold on one counter: what [`ThrottleStore::reserve`] asks for, and what
/// [`ThrottleStore::finish`] is given back when the check ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// The counter.
    pub key: ThrottleKey,
    /// The rule the counter is held to.
    pub rule: Rule,
    /// How long the counter's window lasts: its failures are forgotten when it ends.
    pub window: Duration,
    /// How long the store holds the reservation at most, so that a process that dies holding
    /// one does not block its key for long.
    pub lease: Duration,
}

/// How a reserved check ended, and when, for [`ThrottleStore::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// How the check ended.
    pub outcome: Outcome,
    /// When it ended.
    pub at: SystemTime,
}

/// The device cookies of one account that stop counting, for
/// [`ThrottleStore::revoke_devices`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// The account whose device cookies are revoked.
    pub account: ThrottleKey,
    /// Cookies issued before this no longer count.
    pub at: SystemTime,
    /// How long the store remembers the revocation: the longest a device cookie lives.
    pub keep: Duration,
}

/// What [`ThrottleStore::reserve`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A check may run: the key has one more reservation until [`ThrottleStore::finish`].
    Granted,
    /// Checks in flight use up what the key allows at once: ask again when one finishes.
    Busy,
    /// Too many failures, or too soon after the last: refused until `until`. `first` is true
    /// for the first refusal in the key's window, so it is logged once.
    Refused {
        /// When the key may be tried again.
        until: SystemTime,
        /// Whether this is the first refusal of the key in its window.
        first: bool,
    },
}

/// How a reserved check ended, for [`ThrottleStore::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The credentials were wrong: one more failure.
    Failed,
    /// The credentials were right; `reset` clears the key's failures.
    Succeeded {
        /// Whether the key's failures are forgotten.
        reset: bool,
    },
    /// The check did not happen (another key refused it, or the store failed).
    Abandoned,
}

/// Where the login throttle keeps its counters. [`MemoryThrottleStore`](super::MemoryThrottleStore)
/// is the default; several instances share one (Redis, the database) so that an attacker
/// cannot spread guesses across them.
///
/// Each counter holds, for its window: the failures, when the last one was, and the checks in
/// flight. A store must make [`reserve`](Self::reserve) and [`finish`](Self::finish) atomic per
/// key (simultaneous attempts must not all slip under a limit), hold a reservation at most its
/// `lease` (a process that dies holding one must not block its key for long), and forget a
/// counter when its window ends.
///
/// Implement it with `#[async_trait::async_trait]`, failures as `BoxError`: see
/// [how the store traits are written](crate::store#the-store-traits).
#[async_trait::async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Asks to run one check against the reservation's key: answers [`Verdict::Granted`] (and
    /// holds the reservation), [`Verdict::Busy`] or [`Verdict::Refused`], by its rule in
    /// windows of its window.
    async fn reserve(
        &self,
        reservation: &Reservation,
        now: SystemTime,
    ) -> Result<Verdict, BoxError>;

    /// Ends a granted `reservation` as `ended` says, counted by its rule (a store that keeps
    /// refusing keys apart learns here that one reached its limit).
    async fn finish(&self, reservation: &Reservation, ended: Ended) -> Result<(), BoxError>;

    /// Revokes every device cookie of the revocation's account issued before its `at`,
    /// remembering that for its `keep`; a revocation only moves forward in time.
    async fn revoke_devices(&self, revocation: &Revocation) -> Result<(), BoxError>;

    /// When the device cookies of `account` were last revoked, if they were.
    async fn devices_revoked_at(
        &self,
        account: &ThrottleKey,
    ) -> Result<Option<SystemTime>, BoxError>;

    /// Resolves when a reservation of `key` may have ended, for an attempt that was told
    /// [`Verdict::Busy`]. Default: after 20 milliseconds; a store that can be told (an
    /// in-process one, a Redis with pub/sub) answers sooner.
    async fn released(&self, key: &ThrottleKey) {
        let _ = key;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    /// Whether the store answers, for a readiness probe. Default: asks when the device cookies
    /// of the all-zero key were revoked, a read of a key no account has that writes nothing.
    async fn ping(&self) -> Result<(), BoxError> {
        self.devices_revoked_at(&ThrottleKey::from_bytes([0; 16]))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_back_from_its_text_and_its_bytes() {
        let bytes: [u8; 16] = std::array::from_fn(|n| (n as u8) * 17);
        let key = ThrottleKey::from_bytes(bytes);
        assert_eq!(key.as_bytes(), &bytes);
        let text = key.to_string();
        assert_eq!(text, "00112233445566778899aabbccddeeff");
        assert_eq!(format!("{key:?}"), format!("ThrottleKey({text})"));
        assert_eq!(ThrottleKey::parse(&text), Some(key));
        for not_a_key in [
            "",
            "00112233445566778899aabbccddeef",
            "00112233445566778899aabbccddeeff0",
            "00112233445566778899aabbccddeefg",
            "é0112233445566778899aabbccddeef",
        ] {
            assert_eq!(ThrottleKey::parse(not_a_key), None, "{not_a_key:?}");
        }
    }

    #[test]
    fn the_wait_doubles_with_each_failure_past_the_free_ones() {
        let rule = Rule {
            limit: 40,
            free: 3,
            delay: Duration::from_secs(1),
        };
        let waits: Vec<u64> = (0..7).map(|n| rule.backoff(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8]);
        // Capped, so a long run of failures cannot overflow the wait.
        assert_eq!(rule.backoff(39), Duration::from_secs(1 << 20));
    }

    #[test]
    fn checks_at_once_are_what_the_free_failures_leave_and_at_least_one() {
        let rule = Rule {
            limit: 10,
            free: 3,
            delay: Duration::from_secs(1),
        };
        let at_once: Vec<u32> = (0..6).map(|n| rule.concurrency(n)).collect();
        assert_eq!(at_once, [3, 2, 1, 1, 1, 1]);
    }
}
