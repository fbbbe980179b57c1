//! Password hashing: argon2id, on threads of the library's own, off the async runtime
//! (feature `password`, which `sqlx` turns on).

use std::{
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, OnceLock, PoisonError, mpsc},
};

use secrecy::{ExposeSecret, SecretString};

use crate::credentials::{InvalidPassword, MAX_PASSWORD_LEN, check_new_password};

/// Why a password could not be hashed or checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The new password is empty or longer than [`MAX_PASSWORD_LEN`] bytes: the request's
    /// mistake, which [`AuthError`](crate::AuthError) answers with a `422`, not a server error.
    #[error(transparent)]
    Invalid(#[from] InvalidPassword),
    /// The work panicked on the thread that hashes passwords (the cause is logged).
    #[error("the password hashing thread failed")]
    Worker,
}

/// Hashes `password` with argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane),
/// on the password threads (see [`set_max_concurrent_hashes`]) so the async runtime keeps
/// serving other requests meanwhile.
///
/// The result is a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) to store in the password
/// hash column. An empty password, or one over [`MAX_PASSWORD_LEN`] bytes, is refused unhashed
/// with [`PasswordError::Invalid`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum_login::{hash_password, password::verify_password};
///
/// let hash = hash_password("hunter42".into()).await.unwrap();
/// assert!(hash.starts_with("$argon2id$"));
/// assert!(verify_password("hunter42".into(), hash.clone()).await.unwrap());
/// assert!(!verify_password("hunter43".into(), hash).await.unwrap());
/// # }
/// ```
pub async fn hash_password(password: SecretString) -> Result<String, PasswordError> {
    check_new_password(password.expose_secret())?;
    off_runtime(move || password_auth::generate_hash(password.expose_secret().as_bytes())).await
}

/// Checks `password` against a stored `hash`, on the password threads (see
/// [`set_max_concurrent_hashes`]), never on the async runtime.
///
/// Answers `false` for a wrong password, for a password over [`MAX_PASSWORD_LEN`] bytes (without
/// hashing it), and for a hash that does not parse (a disabled account marked `!`, say).
pub async fn verify_password(password: SecretString, hash: String) -> Result<bool, PasswordError> {
    if password.expose_secret().len() > MAX_PASSWORD_LEN {
        return Ok(false);
    }
    off_runtime(move || verify_blocking(&password, &hash)).await
}

/// Spends the work of one [`verify_password`] against a hash that no password matches, and
/// answers `false`: call it when the username is unknown, so that an unknown user costs what a
/// wrong password costs and the response time does not tell which it was.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum_login::password::{verify_password, verify_unknown_user};
///
/// # let stored: Option<String> = None;
/// let password = "hunter42".into();
/// let valid = match stored {
///     Some(hash) => verify_password(password, hash).await.unwrap(),
///     None => verify_unknown_user(password).await.unwrap(),
/// };
/// assert!(!valid);
/// # }
/// ```
pub async fn verify_unknown_user(password: SecretString) -> Result<bool, PasswordError> {
    off_runtime(move || verify_blocking(&password, dummy_hash())).await
}

/// Password work waiting for, or running on, one of the password threads.
type Job = Box<dyn FnOnce() + Send>;

/// The password threads of this process: how many, once started.
static HASHING: OnceLock<Hashers> = OnceLock::new();

/// The password threads' queue; `None` when no thread could be started.
struct Hashers {
    /// How many threads started (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    threads: usize,
    queue: Option<mpsc::Sender<Job>>,
}

/// Sets how many password hashes may run at once in this process, before the first login.
/// Default: the number of cores minus one, at least one. Returns `false` if hashing has already
/// started, when the limit can no longer change.
///
/// Password work (argon2id, meant to take a core for tens of milliseconds) runs on that many
/// threads of the library's own, never on the async runtime and never more at once, so a burst
/// of logins cannot take every core from the requests of users already logged in. The threads
/// also run at the lowest scheduling priority (nice 19 on Linux, which any process may set for
/// its own threads): when the machine is saturated, the kernel serves the runtime's threads
/// first and logins slow down, instead of every request slowing down. When the machine has CPU
/// to spare, logins run at full speed. A hash in progress still occupies a core, so a request
/// that waits on another thread (a SQLite connection's, a database server's) may be woken up to
/// a scheduler slice later while it runs, as with any busy thread at that priority: the
/// benchmark's login check measures both side by side.
///
/// A higher limit lets more logins finish per second on a busy server, at the cost of the
/// latency of every other request while they run.
pub fn set_max_concurrent_hashes(limit: usize) -> bool {
    let mut started = false;
    HASHING.get_or_init(|| {
        started = true;
        Hashers::start(limit.max(1))
    });
    started
}

fn hashers() -> &'static Hashers {
    HASHING.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Hashers::start(cores.saturating_sub(1).max(1))
    })
}

impl Hashers {
    /// Starts `threads` password threads sharing one queue.
    fn start(threads: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut started = 0;
        for n in 0..threads {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("axum-login-password-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // Only the wait for a job holds the lock; the job runs without it.
                        let job = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        match job {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => break,
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(error) => tracing::error!(%error, "could not start a password thread"),
            }
        }
        Self {
            threads: started,
            queue: (started > 0).then_some(sender),
        }
    }

    /// Queues `job`, or gives it back when there is no password thread to run it.
    fn submit(&self, job: Job) -> Result<(), Job> {
        let Some(queue) = &self.queue else {
            return Err(job);
        };
        queue.send(job).map_err(|mpsc::SendError(job)| job)
    }
}

/// Makes the calling password thread yield to the rest of the process under load. Best effort:
/// where the system refuses, the thread keeps the default priority.
fn lower_priority() {
    use thread_priority::{ThreadPriority, set_current_thread_priority};
    // For the normal scheduling policy the crate sets the thread's nice value: Min is nice 19.
    if let Err(error) = set_current_thread_priority(ThreadPriority::Min) {
        tracing::debug!(?error, "password threads keep the default priority");
    }
}

/// Runs password work on the password threads and waits for it without blocking the runtime.
/// Work whose caller went away while it was queued (a dropped request) is skipped.
pub(crate) async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        if reply.is_closed() {
            return;
        }
        match std::panic::catch_unwind(AssertUnwindSafe(work)) {
            Ok(value) => {
                let _ = reply.send(value);
            }
            Err(_) => tracing::error!("password work panicked"),
        }
    });
    if let Err(job) = hashers().submit(job) {
        // No password thread: fall back to tokio's blocking pool rather than fail every login.
        if let Err(error) = tokio::task::spawn_blocking(job).await {
            tracing::error!(%error, "password work failed on the blocking pool");
        }
    }
    answer.await.map_err(|_| PasswordError::Worker)
}

/// The histogram of [`verify_blocking`]'s time (feature `metrics`), listed with the other
/// metrics in [`crate::metrics`]. Recorded here rather than through that module, which hears
/// the layer's events: this module sits below the layer, and the time is the thread's.
#[cfg(feature = "metrics")]
pub(crate) const VERIFY_SECONDS: &str = "axum_login_password_verify_seconds";

pub(crate) fn verify_blocking(password: &SecretString, hash: &str) -> bool {
    #[cfg(feature = "metrics")]
    let started = std::time::Instant::now();
    let valid = verify_or_spend(password, hash);
    #[cfg(feature = "metrics")]
    ::metrics::histogram!(VERIFY_SECONDS).record(started.elapsed().as_secs_f64());
    valid
}

fn verify_or_spend(password: &SecretString, hash: &str) -> bool {
    match password_auth::verify_password(password.expose_secret().as_bytes(), hash) {
        Ok(()) => true,
        Err(password_auth::VerifyError::PasswordInvalid) => false,
        Err(password_auth::VerifyError::Parse(_)) => {
            // Same work as for a real hash, so a disabled account does not answer faster.
            let _ =
                password_auth::verify_password(password.expose_secret().as_bytes(), dummy_hash());
            false
        }
    }
}

/// Whether `hash` should be replaced by a fresh one ([`hash_password`] of the password that was
/// just verified): another algorithm, weaker parameters than today's, or no valid hash at all.
pub fn needs_rehash(hash: &str) -> bool {
    password_auth::is_hash_obsolete(hash).unwrap_or(true)
}

/// A hash of a random password, made once with the same parameters as every real hash.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 32] = rand::random();
        password_auth::generate_hash(random)
    })
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_work_runs_on_at_most_the_password_threads_at_once() {
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let threads = hashers().threads;
        assert!(threads >= 1);
        let mut jobs = tokio::task::JoinSet::new();
        for _ in 0..threads * 3 + 2 {
            jobs.spawn(off_runtime(|| {
                let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                MOST.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(30));
                RUNNING.fetch_sub(1, Ordering::SeqCst);
                std::thread::current().name().map(str::to_owned)
            }));
        }
        while let Some(name) = jobs.join_next().await {
            let name = name
                .expect("the task ran")
                .expect("the work ran")
                .expect("password threads are named");
            assert!(name.starts_with("axum-login-password-"), "ran on {name}");
        }
        let most = MOST.load(Ordering::SeqCst);
        assert!(
            (1..=threads).contains(&most),
            "{most} ran at once on {threads} threads"
        );
    }

    #[tokio::test]
    async fn a_panic_in_password_work_is_an_error_and_the_threads_go_on() {
        let failed = off_runtime(|| -> u8 { panic!("boom") }).await;
        assert!(matches!(failed, Err(PasswordError::Worker)), "{failed:?}");
        for _ in 0..hashers().threads + 1 {
            assert_eq!(off_runtime(|| 7).await.expect("the threads survived"), 7);
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn password_threads_run_at_the_lowest_priority() {
        let nice = off_runtime(|| {
            // Field 19 of /proc/thread-self/stat, counted after the parenthesised name.
            let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("procfs");
            let after_name = &stat[stat.rfind(')').expect("a name") + 2..];
            after_name.split(' ').nth(16).map(str::parse::<i32>)
        })
        .await
        .expect("the work ran")
        .expect("a nice field")
        .expect("a number");
        assert_eq!(nice, 19, "password threads run at nice {nice}");
    }

    #[test]
    fn an_unparsable_hash_never_verifies_and_is_obsolete() {
        assert!(!verify_blocking(&SecretString::from("!"), "!"));
        assert!(needs_rehash("!"));
    }

    #[tokio::test]
    async fn an_over_long_or_empty_password_is_not_hashed() {
        let long = SecretString::from("x".repeat(MAX_PASSWORD_LEN + 1));
        assert_eq!(
            hash_password(long).await,
            Err(PasswordError::Invalid(InvalidPassword::TooLong))
        );
        assert_eq!(
            hash_password(SecretString::from("")).await,
            Err(PasswordError::Invalid(InvalidPassword::Empty))
        );
    }
}
