//! One counter's arithmetic, shared by the stores that keep counters as plain values (memory,
//! SQL): what a reservation answers and what an outcome changes.

use std::time::{Duration, SystemTime};

use super::store::{Outcome, Rule, Verdict};

/// The state of one counter in its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counter {
    pub(super) window_start: SystemTime,
    pub(super) failures: u32,
    pub(super) last_failure: SystemTime,
    /// Checks granted and not finished, valid until `lease_until`.
    pub(super) reserved: u32,
    pub(super) lease_until: SystemTime,
    /// Whether the key's refusal in this window has been reported (logged) once.
    pub(super) reported: bool,
}

impl Counter {
    pub(super) fn new(now: SystemTime) -> Self {
        Self {
            window_start: now,
            failures: 0,
            last_failure: now,
            reserved: 0,
            lease_until: now,
            reported: false,
        }
    }

    /// Starts a new window when the old one has ended, and forgets reservations whose lease
    /// ran out.
    fn refresh(&mut self, window: Duration, now: SystemTime) {
        if now >= self.window_start + window {
            self.window_start = now;
            self.failures = 0;
            self.reported = false;
        }
        if now >= self.lease_until {
            self.reserved = 0;
        }
    }

    /// The verdict for one more check, taking a reservation when it grants one.
    pub(super) fn reserve(
        &mut self,
        rule: &Rule,
        window: Duration,
        lease: Duration,
        now: SystemTime,
    ) -> Verdict {
        self.refresh(window, now);
        if self.failures >= rule.limit {
            let first = !self.reported;
            self.reported = true;
            return Verdict::Refused {
                until: self.window_start + window,
                first,
            };
        }
        let ready_at = self.last_failure + rule.backoff(self.failures);
        if self.failures > 0 && now < ready_at {
            return Verdict::Refused {
                until: ready_at,
                first: false,
            };
        }
        if self.reserved >= rule.concurrency(self.failures)
            || self.failures + self.reserved >= rule.limit
        {
            return Verdict::Busy;
        }
        self.reserved += 1;
        self.lease_until = self.lease_until.max(now + lease);
        Verdict::Granted
    }

    /// Ends one reservation with `outcome`.
    pub(super) fn finish(&mut self, outcome: Outcome, window: Duration, now: SystemTime) {
        self.reserved = self.reserved.saturating_sub(1);
        self.refresh(window, now);
        match outcome {
            Outcome::Failed => {
                self.failures = self.failures.saturating_add(1);
                self.last_failure = now;
            }
            Outcome::Succeeded { reset: true } => {
                self.failures = 0;
                self.reported = false;
            }
            Outcome::Succeeded { reset: false } | Outcome::Abandoned => {}
        }
    }

    /// Whether the counter refuses its key for the rest of the window.
    pub(super) fn is_refusing(&self, rule: &Rule) -> bool {
        self.failures >= rule.limit
    }

    /// Whether the counter holds nothing worth keeping.
    pub(super) fn is_idle(&self) -> bool {
        self.failures == 0 && self.reserved == 0
    }

    #[cfg(feature = "sqlx")]
    /// When the counter can be forgotten: its window is over and no lease is running.
    pub(super) fn expires(&self, window: Duration) -> SystemTime {
        (self.window_start + window).max(self.lease_until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(900);
    const LEASE: Duration = Duration::from_secs(30);

    fn rule(limit: u32, free: u32) -> Rule {
        Rule {
            limit,
            free,
            delay: Duration::from_secs(1),
        }
    }

    fn failed(counter: &mut Counter, rule: &Rule, now: SystemTime) {
        assert_eq!(counter.reserve(rule, WINDOW, LEASE, now), Verdict::Granted);
        counter.finish(Outcome::Failed, WINDOW, now);
    }

    #[test]
    fn a_refused_key_is_refused_until_its_window_ends() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let rule = rule(2, 2);
        let mut counter = Counter::new(start);
        failed(&mut counter, &rule, start);
        let later = start + Duration::from_secs(60);
        failed(&mut counter, &rule, later);
        assert!(counter.is_refusing(&rule));
        assert_eq!(
            counter.reserve(&rule, WINDOW, LEASE, later),
            Verdict::Refused {
                until: start + WINDOW,
                first: true
            }
        );
        assert!(counter.is_refusing(&rule));
        assert_eq!(
            counter.reserve(&rule, WINDOW, LEASE, start + WINDOW),
            Verdict::Granted
        );
        assert!(!counter.is_refusing(&rule));
    }

    #[test]
    fn without_free_failures_the_first_attempt_does_not_wait() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let rule = rule(3, 0);
        let mut counter = Counter::new(now);
        assert_eq!(counter.reserve(&rule, WINDOW, LEASE, now), Verdict::Granted);
        counter.finish(Outcome::Failed, WINDOW, now);
        assert_eq!(
            counter.reserve(&rule, WINDOW, LEASE, now),
            Verdict::Refused {
                until: now + Duration::from_secs(2),
                first: false
            }
        );
    }

    #[test]
    fn checks_in_flight_stop_at_the_free_failures_and_at_the_limit() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // Two at once while the free failures last.
        let mut counter = Counter::new(now);
        let free_two = rule(10, 2);
        for _ in 0..2 {
            assert_eq!(
                counter.reserve(&free_two, WINDOW, LEASE, now),
                Verdict::Granted
            );
        }
        assert_eq!(
            counter.reserve(&free_two, WINDOW, LEASE, now),
            Verdict::Busy
        );
        // A rule whose free failures exceed its limit still never has more checks in flight
        // than the limit allows.
        let mut counter = Counter::new(now);
        let capped = rule(2, 5);
        for _ in 0..2 {
            assert_eq!(
                counter.reserve(&capped, WINDOW, LEASE, now),
                Verdict::Granted
            );
        }
        assert_eq!(counter.reserve(&capped, WINDOW, LEASE, now), Verdict::Busy);
    }

    #[test]
    fn a_counter_is_idle_only_without_failures_and_reservations() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let rule = rule(5, 5);
        let mut counter = Counter::new(now);
        assert!(counter.is_idle());
        assert_eq!(counter.reserve(&rule, WINDOW, LEASE, now), Verdict::Granted);
        assert!(!counter.is_idle(), "a check in flight");
        counter.finish(Outcome::Failed, WINDOW, now);
        assert!(!counter.is_idle(), "a failure");
        assert_eq!(counter.reserve(&rule, WINDOW, LEASE, now), Verdict::Granted);
        counter.finish(Outcome::Succeeded { reset: true }, WINDOW, now);
        assert!(counter.is_idle());
    }

    #[cfg(feature = "sqlx")]
    #[test]
    fn a_counter_expires_when_its_window_and_its_lease_are_over() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut counter = Counter::new(now);
        assert_eq!(counter.expires(WINDOW), now + WINDOW);
        let late = now + WINDOW - Duration::from_secs(1);
        assert_eq!(
            counter.reserve(&rule(5, 5), WINDOW, LEASE, late),
            Verdict::Granted
        );
        assert_eq!(counter.expires(WINDOW), late + LEASE);
    }
}
