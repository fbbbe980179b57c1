//! Running a statement again when the database rolled it back to break a lock conflict.
//!
//! Two requests of one user can take the same rows in opposite orders (a save and a logout, a
//! login and an expiry sweep). MySQL/MariaDB and PostgreSQL then end the wait by rolling back
//! one of them (a deadlock, a lock-wait timeout, a serialization failure), and SQLite answers
//! "busy" when its busy timeout runs out. None of these says anything about the request: the
//! same statement succeeds once the other side is done, so every store of the crate runs its
//! statements (and its short transactions, whole) through [`retry`], and a user never sees the
//! conflict as a `500`.
//!
//! Only statements that are safe to repeat go through it: every one of the crate's is, because
//! a rolled-back statement changed nothing and each transaction is retried from its `BEGIN`.

use std::{future::Future, time::Duration};

use rand::Rng as _;

/// How many times a statement is tried in all before its conflict is reported.
pub(crate) const ATTEMPTS: u32 = 6;

/// Whether `error` is a conflict that the database resolved by rolling back this statement (or
/// its transaction), so that running it again may succeed.
pub(crate) fn is_transient(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(database) = error else {
        return false;
    };
    match database.code().as_deref() {
        // PostgreSQL's serialization_failure and deadlock_detected; MySQL/MariaDB report their
        // deadlock (ER_LOCK_DEADLOCK, 1213) as SQLSTATE 40001 too.
        Some("40001" | "40P01") => true,
        // MySQL/MariaDB's lock-wait timeout (ER_LOCK_WAIT_TIMEOUT, 1205) shares the generic
        // SQLSTATE HY000 with unrelated errors; without the driver's own error type (the crate
        // is generic over the database), its message is the mark sqlx leaves.
        Some("HY000") => database.message().starts_with("Lock wait timeout exceeded"),
        // SQLite's extended codes: SQLITE_BUSY and its RECOVERY, SNAPSHOT and TIMEOUT forms,
        // SQLITE_LOCKED and LOCKED_SHAREDCACHE.
        // SQLSTATEs have five characters, so these cannot be another database's.
        Some("5" | "261" | "517" | "773" | "6" | "262") => true,
        _ => false,
    }
}

/// Runs `statement` until it succeeds, fails with an error that is not a conflict, or has
/// been tried [`ATTEMPTS`] times; between tries it waits a random time that doubles its bound
/// each time (2 ms, 4 ms, ... 64 ms), so that two requests that collided do not collide again
/// in step.
pub(crate) async fn retry<T, F, Fut>(mut statement: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 1;
    loop {
        match statement().await {
            Err(error) if attempt < ATTEMPTS && is_transient(&error) => {
                tracing::debug!(%error, attempt, "the database rolled back a statement to break a lock conflict; running it again");
                #[cfg(feature = "test-util")]
                RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    let bound = 1u64 << attempt.min(10);
    Duration::from_micros(rand::thread_rng().gen_range(500..=bound * 1000))
}

/// How many conflicts [`retry`] has run again in this process: tests wait on it to know that
/// a conflict they forced really happened before they release it.
#[cfg(feature = "test-util")]
pub(crate) static RETRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_and_stays_bounded() {
        for attempt in 1..ATTEMPTS {
            let wait = backoff(attempt);
            assert!(wait >= Duration::from_micros(500), "{wait:?}");
            assert!(wait <= Duration::from_millis(1 << attempt), "{wait:?}");
        }
    }

    #[test]
    fn errors_that_are_not_conflicts_are_not_retried() {
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::PoolTimedOut));
    }

    #[tokio::test]
    async fn a_statement_that_keeps_failing_otherwise_is_tried_once() {
        let mut tries = 0;
        let result: Result<(), _> = retry(|| {
            tries += 1;
            async { Err(sqlx::Error::RowNotFound) }
        })
        .await;
        assert!(matches!(result, Err(sqlx::Error::RowNotFound)));
        assert_eq!(tries, 1);
    }
}
