//! Passwords: the credentials a login form sends, and argon2id hashing off the async runtime.

use std::{fmt, sync::OnceLock};

use tokio::sync::Semaphore;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The longest password, in bytes, that is ever hashed; a longer one is refused before any
/// hashing, so nobody can make the server hash megabytes per request.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// The longest username, in bytes, that is ever looked up; a longer one is refused like a wrong
/// password.
pub const MAX_USERNAME_LEN: usize = 256;

/// A username and a password, as a login form or a JSON body sends them.
///
/// Both fields are required: a body without one fails to deserialize, which axum's `Form` and
/// `Json` extractors answer with `4xx` before the handler runs. `Debug` never shows the password.
///
/// ```
/// use axum_login::PasswordCredentials;
///
/// let credentials: PasswordCredentials =
///     serde_json::from_str(r#"{"username": "ferris", "password": "hunter42"}"#).unwrap();
/// assert_eq!(credentials.username, "ferris");
/// assert!(!format!("{credentials:?}").contains("hunter42"));
///
/// assert!(serde_json::from_str::<PasswordCredentials>(r#"{"username": "ferris"}"#).is_err());
/// ```
#[derive(Clone, Deserialize)]
pub struct PasswordCredentials {
    /// The name the user logs in with (whatever the store's username column holds: a name, an
    /// email address, ...).
    pub username: String,
    /// The password, kept in a [`SecretString`] so it is zeroed on drop and never printed.
    pub password: SecretString,
}

impl PasswordCredentials {
    /// Credentials from a username and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// Whether both parts are within [`MAX_USERNAME_LEN`] and [`MAX_PASSWORD_LEN`]; credentials
    /// that are not must be refused without looking anything up or hashing anything.
    pub fn is_within_limits(&self) -> bool {
        self.username.len() <= MAX_USERNAME_LEN
            && self.password.expose_secret().len() <= MAX_PASSWORD_LEN
    }
}

impl fmt::Debug for PasswordCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordCredentials")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The password is longer than [`MAX_PASSWORD_LEN`] bytes.
    #[error("the password is longer than {MAX_PASSWORD_LEN} bytes")]
    TooLong,
    /// The blocking task that hashes passwords panicked or was cancelled.
    #[error("the password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes `password` with argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane),
/// on tokio's blocking pool so the async runtime keeps serving other requests meanwhile.
///
/// The result is a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) to store in the password
/// hash column.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum_login::{hash_password, verify_password};
///
/// let hash = hash_password("hunter42".into()).await.unwrap();
/// assert!(hash.starts_with("$argon2id$"));
/// assert!(verify_password("hunter42".into(), hash.clone()).await.unwrap());
/// assert!(!verify_password("hunter43".into(), hash).await.unwrap());
/// # }
/// ```
pub async fn hash_password(password: SecretString) -> Result<String, PasswordError> {
    if password.expose_secret().len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    off_runtime(move || password_auth::generate_hash(password.expose_secret().as_bytes())).await
}

/// Checks `password` against a stored `hash`, on tokio's blocking pool.
///
/// Answers `false` for a wrong password, for a password over [`MAX_PASSWORD_LEN`] bytes (without
/// hashing it), and for a hash that does not parse (a disabled account marked `!`, say).
pub async fn verify_password(password: SecretString, hash: String) -> Result<bool, PasswordError> {
    if password.expose_secret().len() > MAX_PASSWORD_LEN {
        return Ok(false);
    }
    off_runtime(move || verify_blocking(&password, &hash)).await
}

/// Spends the time of one verification against a hash that no password matches, so that an
/// unknown username costs what a wrong password costs.
pub(crate) async fn verify_dummy(password: SecretString) -> Result<(), PasswordError> {
    off_runtime(move || {
        let hash = dummy_hash();
        let _ = password_auth::verify_password(password.expose_secret().as_bytes(), hash);
    })
    .await
}

/// How many password hashes run at once in this process: one core is always left to the async
/// runtime, so a burst of logins cannot starve the requests of users already logged in.
static HASHING: OnceLock<Semaphore> = OnceLock::new();

/// Sets how many password hashes may run at once in this process, before the first login.
/// Default: the number of cores minus one, at least one. Returns `false` if hashing has already
/// started, when the limit can no longer change.
///
/// A higher limit lets more logins finish per second on a busy server, at the cost of the
/// latency of every other request while they run.
pub fn set_max_concurrent_hashes(limit: usize) -> bool {
    HASHING.set(Semaphore::new(limit.max(1))).is_ok()
}

fn hashing() -> &'static Semaphore {
    HASHING.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Semaphore::new(cores.saturating_sub(1).max(1))
    })
}

/// Runs password work on tokio's blocking pool, at most [`set_max_concurrent_hashes`] at once.
pub(crate) async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    // The semaphore is never closed, so acquiring cannot fail.
    let _permit = hashing().acquire().await.ok();
    Ok(tokio::task::spawn_blocking(work).await?)
}

pub(crate) fn verify_blocking(password: &SecretString, hash: &str) -> bool {
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

/// Whether `hash` should be replaced by a fresh one: another algorithm, weaker parameters, or
/// no valid hash at all.
pub(crate) fn is_obsolete(hash: &str) -> bool {
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
    use super::*;

    #[test]
    fn credentials_debug_hides_the_password() {
        let credentials = PasswordCredentials::new("ferris", "hunter42");
        let debug = format!("{credentials:?}");
        assert!(debug.contains("ferris"));
        assert!(!debug.contains("hunter42"));
    }

    #[test]
    fn credentials_deserialize_from_a_form_and_refuse_a_missing_field() {
        let credentials: PasswordCredentials =
            serde_json::from_value(serde_json::json!({"username": "a", "password": "b"}))
                .expect("complete credentials");
        assert_eq!(credentials.password.expose_secret(), "b");
        assert!(
            serde_json::from_value::<PasswordCredentials>(serde_json::json!({"password": "b"}))
                .is_err()
        );
    }

    #[test]
    fn limits_are_inclusive() {
        assert!(PasswordCredentials::new("u", "p".repeat(MAX_PASSWORD_LEN)).is_within_limits());
        assert!(
            !PasswordCredentials::new("u", "p".repeat(MAX_PASSWORD_LEN + 1)).is_within_limits()
        );
        assert!(
            !PasswordCredentials::new("u".repeat(MAX_USERNAME_LEN + 1), "p").is_within_limits()
        );
    }

    #[test]
    fn an_unparsable_hash_never_verifies_and_is_obsolete() {
        assert!(!verify_blocking(&SecretString::from("!"), "!"));
        assert!(is_obsolete("!"));
    }

    #[tokio::test]
    async fn an_over_long_password_is_not_hashed() {
        let long = SecretString::from("x".repeat(MAX_PASSWORD_LEN + 1));
        assert!(matches!(
            hash_password(long).await,
            Err(PasswordError::TooLong)
        ));
    }
}
