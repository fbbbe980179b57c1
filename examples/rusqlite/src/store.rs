//! [`RusqliteStore`]: users in a SQLite file through rusqlite, checked with the library's
//! password functions.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum_login::{
    AuthUser, PasswordCredentials, Role as _, UserStore,
    password::{verify_password, verify_unknown_user},
};
use rusqlite::{
    Connection, OptionalExtension as _, Row, ToSql,
    types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef},
};
use secrecy::{ExposeSecret, SecretString};

/// What a user may do. Stored by name (`user`, `admin`) in `users.role`.
///
/// Named `Access`, not `Role`, so that it does not hide `axum_login`'s `Role` trait and derive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, axum_login::Role)]
pub enum Access {
    /// Any logged-in user.
    User,
    /// May open `/admin`; passes every check for [`Access::User`] too.
    #[role(implies(User))]
    Admin,
}

/// Read from the column through the name `#[derive(Role)]` gives each variant.
impl FromSql for Access {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}

impl ToSql for Access {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// A row of `users`.
///
/// The password hash is a [`SecretString`], so `{:?}` never prints it; the session keeps only a
/// keyed digest of it.
#[derive(Clone, Debug, AuthUser)]
pub struct User {
    /// The row id.
    #[auth(id)]
    pub id: i64,
    /// The name the user logs in with.
    pub username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    /// What the user may do.
    #[auth(role)]
    pub role: Access,
}

/// The columns [`User::from_row`] reads, in its order.
const COLUMNS: &str = "id, username, password_hash, role";

impl User {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            username: row.get(1)?,
            password_hash: SecretString::from(row.get::<_, String>(2)?),
            role: row.get(3)?,
        })
    }
}

/// The table, created when missing. `role` holds the names of [`Access`].
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin'))
)";

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RusqliteStoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A password could not be hashed or checked (the password work failed).
    #[error("password hashing failed: {0}")]
    Password(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The blocking task that ran the query panicked.
    #[error("the blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl RusqliteStoreError {
    /// The error of `hash_password` or `verify_password`, boxed: the store relies on those two
    /// functions, not on the path of their error type.
    fn password(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Password(Box::new(error))
    }
}

/// The most connections kept open between calls; more are opened under load and closed after.
const MAX_IDLE_CONNECTIONS: usize = 4;

/// Connections to one SQLite file, each lent to one blocking call at a time.
#[derive(Clone)]
struct Connections {
    path: Arc<Path>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl Connections {
    /// A new connection in WAL mode, so readers do not wait for a writer (sqlx's session store
    /// writes to the same file), and waiting up to 5 s for a lock instead of failing at once.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open(&self.path)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
        Ok(connection)
    }

    /// Runs `work` with a connection on tokio's blocking pool.
    ///
    /// rusqlite's calls block the thread until SQLite answers (disk reads, fsync on commit,
    /// waiting for another connection's lock). On an async worker thread that would stall every
    /// other request scheduled on it, so each call goes to the blocking pool and the request
    /// awaits it there.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, RusqliteStoreError> {
        let connections = self.clone();
        tokio::task::spawn_blocking(move || {
            let idle = connections
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let connection = match idle {
                Some(connection) => connection,
                None => connections.connect()?,
            };
            let result = work(&connection);
            let mut idle = connections
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE_CONNECTIONS {
                idle.push(connection);
            }
            Ok(result?)
        })
        .await?
    }
}

/// A [`UserStore`] over rusqlite.
///
/// Every query runs on tokio's blocking pool (see `Connections::run`), never on the runtime's
/// worker threads. Passwords are checked with [`verify_password`], which runs argon2
/// on the library's own threads; an unknown username costs one verification too
/// ([`verify_unknown_user`]), so the timing does not tell which usernames exist.
#[derive(Clone)]
pub struct RusqliteStore {
    connections: Connections,
}

impl fmt::Debug for RusqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RusqliteStore")
            .field("path", &self.connections.path)
            .finish_non_exhaustive()
    }
}

impl RusqliteStore {
    /// The store on the SQLite file at `path`, created with its `users` table when missing.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, RusqliteStoreError> {
        let store = Self {
            connections: Connections {
                path: path.into().into(),
                idle: Arc::default(),
            },
        };
        store
            .connections
            .run(|connection| connection.execute_batch(SCHEMA))
            .await?;
        Ok(store)
    }

    /// Creates a user with a hash of `password`; `None` when the username is taken.
    pub async fn create_user(
        &self,
        username: &str,
        password: SecretString,
        role: Access,
    ) -> Result<Option<User>, RusqliteStoreError> {
        let hash = axum_login::hash_password(password)
            .await
            .map_err(RusqliteStoreError::password)?;
        let username = username.to_owned();
        self.connections
            .run(move |connection| {
                connection
                    .query_row(
                        &format!(
                            "INSERT INTO users (username, password_hash, role) VALUES (?1, ?2, ?3) \
                             ON CONFLICT (username) DO NOTHING RETURNING {COLUMNS}"
                        ),
                        (&username, &hash, role),
                        User::from_row,
                    )
                    .optional()
            })
            .await
    }

    /// Whether a user has this username.
    pub async fn exists(&self, username: &str) -> Result<bool, RusqliteStoreError> {
        let username = username.to_owned();
        self.connections
            .run(move |connection| {
                connection.query_row(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
                    [&username],
                    |row| row.get(0),
                )
            })
            .await
    }
}

/// The most characters of a username kept as a throttle key: a few past the longest username
/// `PasswordCredentials::is_within_limits` allows, so an over-long name cannot fill the
/// throttle's memory.
const THROTTLE_KEY_CHARS: usize = 260;

impl UserStore for RusqliteStore {
    type User = User;
    type Credentials = PasswordCredentials;
    type Error = RusqliteStoreError;

    async fn authenticate(
        &self,
        credentials: PasswordCredentials,
    ) -> Result<Option<User>, RusqliteStoreError> {
        // Over-long input is refused before any lookup or hashing, like a wrong password.
        if !credentials.is_within_limits() {
            return Ok(None);
        }
        let PasswordCredentials { username, password } = credentials;
        let found = self
            .connections
            .run(move |connection| {
                connection
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM users WHERE username = ?1"),
                        [&username],
                        User::from_row,
                    )
                    .optional()
            })
            .await?;
        // An unknown username costs one verification too, against a hash nobody's password
        // matches, so the response time does not tell which usernames exist.
        let valid = match &found {
            Some(user) => {
                verify_password(password, user.password_hash.expose_secret().to_owned()).await
            }
            None => verify_unknown_user(password).await,
        }
        .map_err(RusqliteStoreError::password)?;
        Ok(found.filter(|_| valid))
    }

    /// [`load_users`](Self::load_users) is one `IN` query.
    const BATCHED_LOADS: bool = true;

    async fn load_user(&self, id: &i64) -> Result<Option<User>, RusqliteStoreError> {
        let id = *id;
        self.connections
            .run(move |connection| {
                connection
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
                        [id],
                        User::from_row,
                    )
                    .optional()
            })
            .await
    }

    async fn load_users(&self, ids: &[i64]) -> Result<Vec<Option<User>>, RusqliteStoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        self.connections
            .run(move |connection| {
                let placeholders = vec!["?"; ids.len()].join(", ");
                let mut statement = connection.prepare(&format!(
                    "SELECT {COLUMNS} FROM users WHERE id IN ({placeholders})"
                ))?;
                let found = statement
                    .query_map(rusqlite::params_from_iter(&ids), User::from_row)?
                    .map(|user| user.map(|user| (user.id, user)))
                    .collect::<rusqlite::Result<HashMap<i64, User>>>()?;
                Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
            })
            .await
    }

    /// The lower-cased username: every spelling of a name counts against one limit, and unknown
    /// names get a key like known ones.
    fn throttle_key(&self, credentials: &PasswordCredentials) -> Option<String> {
        Some(
            credentials
                .username
                .chars()
                .take(THROTTLE_KEY_CHARS)
                .flat_map(char::to_lowercase)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    async fn store(dir: &tempfile::TempDir) -> RusqliteStore {
        RusqliteStore::open(dir.path().join("users.db"))
            .await
            .expect("the store opens")
    }

    #[tokio::test]
    async fn load_users_answers_in_the_order_of_ids_with_none_for_missing() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = store(&dir).await;
        let ferris = store
            .create_user("ferris", "hunter42".into(), Access::User)
            .await
            .expect("create ferris")
            .expect("ferris is new");
        let admin = store
            .create_user("admin", "correct-horse-battery".into(), Access::Admin)
            .await
            .expect("create admin")
            .expect("admin is new");
        let missing = ferris.id.max(admin.id) + 100;

        let users = store
            .load_users(&[admin.id, missing, ferris.id])
            .await
            .expect("load three ids");
        let names: Vec<Option<&str>> = users
            .iter()
            .map(|user| user.as_ref().map(|user| user.username.as_str()))
            .collect();
        assert_eq!(names, [Some("admin"), None, Some("ferris")]);
        assert_eq!(users[0].as_ref().map(|user| user.role), Some(Access::Admin));
        assert!(store.load_user(&missing).await.expect("load").is_none());
    }

    #[tokio::test]
    async fn authenticate_refuses_unknown_users_wrong_and_over_long_passwords() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = store(&dir).await;
        store
            .create_user("ferris", "hunter42".into(), Access::User)
            .await
            .expect("create ferris");
        assert!(
            store
                .create_user("ferris", "other".into(), Access::Admin)
                .await
                .expect("second create")
                .is_none(),
            "a taken username is not created again"
        );
        let login = |username: &str, password: &str| {
            store.authenticate(PasswordCredentials::new(username, password))
        };
        let user = login("ferris", "hunter42").await.expect("authenticate");
        assert_eq!(user.map(|user| user.role), Some(Access::User));
        assert!(login("ferris", "hunter43").await.expect("wrong").is_none());
        assert!(
            login("nobody", "hunter42")
                .await
                .expect("unknown")
                .is_none()
        );
        let long = "x".repeat(10_000);
        assert!(login("ferris", &long).await.expect("over-long").is_none());
    }

    /// The fastest of five runs of each, interleaved so that a busy moment slows both alike.
    async fn fastest<A: Future, B: Future>(
        mut a: impl FnMut() -> A,
        mut b: impl FnMut() -> B,
    ) -> (Duration, Duration) {
        let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            let start = Instant::now();
            a().await;
            best_a = best_a.min(start.elapsed());
            let start = Instant::now();
            b().await;
            best_b = best_b.min(start.elapsed());
        }
        (best_a, best_b)
    }

    #[tokio::test]
    async fn an_unknown_username_costs_a_password_verification() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = store(&dir).await;
        store
            .create_user("ferris", "hunter42".into(), Access::User)
            .await
            .expect("create ferris");
        let (wrong, unknown) = fastest(
            || store.authenticate(PasswordCredentials::new("ferris", "nope")),
            || store.authenticate(PasswordCredentials::new("nobody", "nope")),
        )
        .await;
        // Without the stand-in verification an unknown name answers after one lookup, a hundred
        // times sooner; the margin leaves room for a busy machine.
        assert!(
            unknown * 10 >= wrong,
            "unknown user {unknown:?}, wrong password {wrong:?}"
        );
    }
}
