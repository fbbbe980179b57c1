//! axum-login on [rusqlite]: a hand-written [`UserStore`](axum_login::UserStore) whose blocking
//! calls run off the async runtime, with the sessions in the same SQLite file through
//! axum-login's `SqlxSessionStore` on a small sqlx pool.
//!
//! rusqlite and sqlx's SQLite driver link one `libsqlite3-sys` (0.30, with rusqlite 0.32 and
//! sqlx 0.8), so the process holds one SQLite library; the README says which versions fit.
//!
//! [`App::new`] opens the database, seeds the two example users and builds the router;
//! `src/main.rs` serves it, and the test in `tests/tests/example_rusqlite.rs` serves the same
//! app on an ephemeral port.
//!
//! | user | password | role |
//! | --- | --- | --- |
//! | `ferris` | `hunter42` | `user` |
//! | `admin` | `correct-horse-battery` | `admin` |
//!
//! [rusqlite]: https://docs.rs/rusqlite

mod store;

use std::{path::PathBuf, time::Duration};

use axum::Router;
use axum_login::{AuthLayer, SessionKey, session::SqlxSessionStore};
use secrecy::SecretString;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tokio::task::JoinHandle;
use tower_sessions::{Expiry, cookie::time};

pub use crate::store::{Access, RusqliteStore, RusqliteStoreError, User};

/// The users that [`App::new`] creates when they are missing: `(username, password, role)`.
pub const SEED_USERS: &[(&str, &str, Access)] = &[
    ("ferris", "hunter42", Access::User),
    ("admin", "correct-horse-battery", Access::Admin),
];

/// How often expired sessions are deleted from the database.
const SESSION_CLEANUP_PERIOD: Duration = Duration::from_secs(60);

/// What the app needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite database file; created when missing.
    pub path: PathBuf,
    /// The key for the session digests. `None`: a random one, so logins end on restart.
    pub session_key: Option<SessionKey>,
}

impl Config {
    /// The database file when none is given.
    pub const DEFAULT_PATH: &'static str = "./example-rusqlite.db";
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: PathBuf::from(Self::DEFAULT_PATH),
            session_key: None,
        }
    }
}

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The user store could not open the database.
    #[error("opening {path}: {source}")]
    Users {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: RusqliteStoreError,
    },
    /// The session store could not open or migrate the database.
    #[error("opening the session store in {path}: {source}")]
    Sessions {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: sqlx::Error,
    },
    /// A seed user could not be created.
    #[error("seeding user {username:?}: {source}")]
    Seed {
        /// The user being created.
        username: &'static str,
        /// What went wrong.
        #[source]
        source: RusqliteStoreError,
    },
}

/// The built app: its router and its store.
///
/// Dropping it stops the expired-session cleanup task.
#[derive(Debug)]
pub struct App {
    router: Router,
    store: RusqliteStore,
    cleanup: JoinHandle<()>,
}

impl App {
    /// Opens (creating if needed) the database, seeds the example users when they are missing,
    /// starts the expired-session cleanup and builds the router.
    ///
    /// The session cookie is `HttpOnly`, `SameSite=Lax` and not `Secure`: the example serves
    /// plain HTTP on loopback, where a `Secure` cookie would never come back.
    pub async fn new(config: Config) -> Result<Self, AppError> {
        let path = config.path.clone();
        let store = RusqliteStore::open(&path)
            .await
            .map_err(|source| AppError::Users {
                path: path.clone(),
                source,
            })?;
        seed(&store).await?;

        // Sessions live in the same file, written by axum-login's `SqlxSessionStore` through a
        // small sqlx pool: it never writes back a session a logout ended, and deletes expired
        // records, which a session store in an app must do. Both drivers link the one
        // libsqlite3-sys.
        let sessions_error = |source| AppError::Sessions {
            path: path.clone(),
            source,
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5)),
            )
            .await
            .map_err(sessions_error)?;
        let sessions = SqlxSessionStore::new(pool);
        sessions.migrate().await.map_err(sessions_error)?;
        let cleanup = tokio::spawn({
            let sessions = sessions.clone();
            async move {
                if let Err(error) = sessions
                    .continuously_delete_expired(SESSION_CLEANUP_PERIOD)
                    .await
                {
                    tracing::error!(%error, "expired-session cleanup stopped");
                }
            }
        });
        let session_layer = axum_login::session_layer(sessions)
            .with_secure(false)
            .with_expiry(Expiry::OnInactivity(time::Duration::days(1)));
        let key = config.session_key.unwrap_or_else(|| {
            tracing::info!(
                "SESSION_KEY is not set: using a random session key, so logins end when the server restarts"
            );
            SessionKey::generate()
        });
        let auth = AuthLayer::builder(store.clone(), session_layer)
            .login_url("/login")
            .session_key(key)
            .build();
        Ok(Self {
            router: example_login_pages::router::<RusqliteStore>().layer(auth),
            store,
            cleanup,
        })
    }

    /// The app's router. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()`, so that failed logins are also
    /// throttled per client address.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The user store.
    pub fn store(&self) -> &RusqliteStore {
        &self.store
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.cleanup.abort();
    }
}

/// Creates each of [`SEED_USERS`] that does not exist yet; an existing user keeps its password.
async fn seed(store: &RusqliteStore) -> Result<(), AppError> {
    for &(username, password, role) in SEED_USERS {
        let seed_error = |source| AppError::Seed { username, source };
        if store.exists(username).await.map_err(seed_error)? {
            continue;
        }
        // `None`: another process starting on the same file created it first, with the same
        // password; `ON CONFLICT DO NOTHING` lets both start.
        if store
            .create_user(username, SecretString::from(password), role)
            .await
            .map_err(seed_error)?
            .is_some()
        {
            tracing::info!(username, role = %role, "seeded example user");
        }
    }
    Ok(())
}

/// What the shared login pages show of a user.
impl example_login_pages::PageUser for User {
    fn username(&self) -> &str {
        &self.username
    }

    fn role_name(&self) -> &'static str {
        axum_login::Role::as_str(&self.role)
    }
}
