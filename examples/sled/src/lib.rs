//! axum-login on [sled]: a hand-written [`UserStore`](axum_login::UserStore) with batched loads,
//! and the sessions in the same sled database.
//!
//! [`App::new`] opens the database, seeds the two example users and builds the router;
//! `src/main.rs` serves it, and the test in `tests/tests/example_sled.rs` serves the same app on
//! an ephemeral port.
//!
//! | user | password | role |
//! | --- | --- | --- |
//! | `ferris` | `hunter42` | `user` |
//! | `admin` | `correct-horse-battery` | `admin` |
//!
//! sled's on-disk format is still beta (see the README): for data that must outlive an upgrade,
//! prefer a stable embedded store such as SQLite or redb.
//!
//! [sled]: https://docs.rs/sled

mod sessions;
mod store;

use std::{path::PathBuf, time::Duration};

use axum::Router;
use axum_login::{AuthLayer, SessionKey};
use secrecy::SecretString;
use tokio::task::JoinHandle;
use tower_sessions::{Expiry, cookie::time};

pub use crate::{
    sessions::SledSessionStore,
    store::{Access, SledStore, SledStoreError, User},
};

/// The users that [`App::new`] creates when they are missing: `(username, password, role)`.
pub const SEED_USERS: &[(&str, &str, Access)] = &[
    ("ferris", "hunter42", Access::User),
    ("admin", "correct-horse-battery", Access::Admin),
];

/// How often expired sessions are deleted.
const SESSION_CLEANUP_PERIOD: Duration = Duration::from_secs(60);

/// What the app needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The sled database directory; created when missing.
    pub path: PathBuf,
    /// The key for the session digests. `None`: a random one, so logins end on restart.
    pub session_key: Option<SessionKey>,
}

impl Config {
    /// The database directory when none is given.
    pub const DEFAULT_PATH: &'static str = "./example-sled.db";
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
    /// The database could not be opened.
    #[error("opening {path}: {source}")]
    Open {
        /// The database directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: SledStoreError,
    },
    /// A seed user could not be created.
    #[error("seeding user {username:?}: {source}")]
    Seed {
        /// The user being created.
        username: &'static str,
        /// What went wrong.
        #[source]
        source: SledStoreError,
    },
}

/// The built app: its router and its store.
///
/// Dropping it stops the expired-session cleanup task.
#[derive(Debug)]
pub struct App {
    router: Router,
    store: SledStore,
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
        let open_error = |source| AppError::Open {
            path: config.path.clone(),
            source,
        };
        // Opening replays sled's log from disk: blocking work, off the runtime.
        let (db, sessions) = tokio::task::spawn_blocking(move || {
            let db = sled::open(path)?;
            let sessions = SledSessionStore::open(&db)?;
            Ok::<_, sled::Error>((db, sessions))
        })
        .await
        .map_err(|error| open_error(error.into()))?
        .map_err(|error| open_error(error.into()))?;
        let store = SledStore::open(db).await.map_err(open_error)?;
        seed(&store).await?;

        let cleanup = tokio::spawn(
            sessions
                .clone()
                .continuously_delete_expired(SESSION_CLEANUP_PERIOD),
        );
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
            router: example_login_pages::router::<SledStore>().layer(auth),
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
    pub fn store(&self) -> &SledStore {
        &self.store
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.cleanup.abort();
    }
}

/// Creates each of [`SEED_USERS`] that does not exist yet; an existing user keeps its password.
async fn seed(store: &SledStore) -> Result<(), AppError> {
    for &(username, password, role) in SEED_USERS {
        let seed_error = |source| AppError::Seed { username, source };
        if store.exists(username).await.map_err(seed_error)? {
            continue;
        }
        // `None`: the name was taken since the check, and that user keeps its password.
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
