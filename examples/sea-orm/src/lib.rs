//! axum-login on [Sea-ORM], both ways, on SQLite, PostgreSQL or MySQL/MariaDB:
//!
//! - [`StoreKind::Sqlx`]: axum-login's [`SqlxStore`] on the sqlx pool that Sea-ORM's
//!   [`DatabaseConnection`] holds, so the entity and the store share one pool. The entity's
//!   model derives `UserStore` next to `DeriveEntityModel`.
//! - [`StoreKind::SeaOrm`]: [`SeaOrmStore`], a `UserStore` written with Sea-ORM queries,
//!   including `load_users` for batched loads.
//!
//! Either way the user is the entity's [`Model`](entity::Model), with `#[derive(AuthUser)]`, and
//! the sessions are in the same database, through axum-login's `SqlxSessionStore` on the same pool.
//!
//! [`App::new`] connects, creates the tables, seeds the two example users and builds the router;
//! `src/main.rs` serves it, and the tests in `tests/tests/example_sea_orm.rs` serve the same app
//! on an ephemeral port, with each store on each database.
//!
//! | user | password | role |
//! | --- | --- | --- |
//! | `ferris` | `hunter42` | `user` |
//! | `admin` | `correct-horse-battery` | `admin` |
//!
//! [Sea-ORM]: https://www.sea-ql.org/SeaORM/

pub mod entity;
mod store;

use std::{fmt, str::FromStr, time::Duration};

use axum::Router;
use axum_login::{
    AuthLayer, PasswordCredentials, SessionKey, SqlxStore, UserStore,
    session::{SessionBackend, SqlxSessionStore},
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, ConnectOptions, ConnectionTrait as _, Database, DatabaseBackend,
    DatabaseConnection, DbErr, EntityTrait as _, QueryFilter as _, Schema,
    sea_query::OnConflict,
};
use secrecy::SecretString;
use tokio::task::JoinHandle;
use tower_sessions::{Expiry, cookie::time};

use crate::entity::{ActiveModel, Column, Entity};

pub use crate::{
    entity::{Access, Model as User},
    store::{SeaOrmStore, SeaOrmStoreError},
};
/// The Sea-ORM this example is built on, so that code using [`App::db`] names the same one.
pub use sea_orm;

/// The users that [`App::new`] creates when they are missing: `(username, password, role)`.
pub const SEED_USERS: &[(&str, &str, Access)] = &[
    ("ferris", "hunter42", Access::User),
    ("admin", "correct-horse-battery", Access::Admin),
];

/// The sessions table, next to `seaorm_users` (in the connection's schema on PostgreSQL, its
/// database on MySQL).
pub const SESSIONS_TABLE: &str = "seaorm_sessions";

/// How often expired sessions are deleted from the database.
const SESSION_CLEANUP_PERIOD: Duration = Duration::from_secs(60);

/// Which [`UserStore`] the app runs on; both load the same [`User`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// axum-login's [`SqlxStore`] on the pool that Sea-ORM's connection holds (`sqlx`).
    #[default]
    Sqlx,
    /// [`SeaOrmStore`], written with Sea-ORM queries (`sea-orm`).
    SeaOrm,
}

impl StoreKind {
    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlx => "sqlx",
            Self::SeaOrm => "sea-orm",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StoreKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "sqlx" => Ok(Self::Sqlx),
            "sea-orm" => Ok(Self::SeaOrm),
            other => Err(format!(
                "unknown store `{other}`; expected `sqlx` or `sea-orm`"
            )),
        }
    }
}

/// What the app needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the database is: `sqlite://path?mode=rwc`, `postgres://...`, `mysql://...`.
    pub database_url: String,
    /// Which user store to run.
    pub store: StoreKind,
    /// The key for the session digests. `None`: a random one, so logins end on restart.
    pub session_key: Option<SessionKey>,
}

impl Config {
    /// The database when none is given: a SQLite file in the working directory, created when
    /// missing.
    pub const DEFAULT_DATABASE_URL: &'static str = "sqlite://example-sea-orm.db?mode=rwc";
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: Self::DEFAULT_DATABASE_URL.to_owned(),
            store: StoreKind::default(),
            session_key: None,
        }
    }
}

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The database could not be reached, or a query failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The session store could not be set up.
    #[error("session store: {0}")]
    Sessions(String),
    /// The Sea-ORM user store could not be made.
    #[error("making the user store: {0}")]
    Store(#[source] SeaOrmStoreError),
    /// A seed user could not be created.
    #[error("seeding user {username:?}: {source}")]
    Seed {
        /// The user being created.
        username: &'static str,
        /// What went wrong.
        #[source]
        source: SeaOrmStoreError,
    },
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        Self::Sessions(error.to_string())
    }
}

/// The built app: its router, and the connection it runs on.
///
/// Dropping it stops the expired-session cleanup task.
#[derive(Debug)]
pub struct App {
    router: Router,
    db: DatabaseConnection,
    store: StoreKind,
    cleanup: JoinHandle<()>,
}

impl App {
    /// Connects, creates the tables when missing, seeds the example users when they are missing,
    /// starts the expired-session cleanup and builds the router on the chosen store.
    ///
    /// The session cookie is `HttpOnly`, `SameSite=Lax` and not `Secure`: the example serves
    /// plain HTTP on loopback, where a `Secure` cookie would never come back.
    pub async fn new(config: Config) -> Result<Self, AppError> {
        let mut options = ConnectOptions::new(config.database_url);
        options
            .max_connections(4)
            // Only read for SQLite: readers do not wait for a writer, and a connection waits for
            // a lock instead of failing at once.
            .map_sqlx_sqlite_opts(|options| {
                options
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5))
            });
        let db = Database::connect(options).await?;
        create_tables(&db).await?;
        seed(&db).await?;

        let key = config.session_key.unwrap_or_else(|| {
            tracing::info!(
                "SESSION_KEY is not set: using a random session key, so logins end when the server restarts"
            );
            SessionKey::generate()
        });
        let kind = config.store;
        let seaorm_store = || async { SeaOrmStore::new(db.clone()).await.map_err(AppError::Store) };
        // One arm per database: the session store and `SqlxStore` are typed by it.
        let (router, cleanup) = match db.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool().clone();
                let sessions = SqlxSessionStore::new(pool.clone()).with_table_name(SESSIONS_TABLE);
                sessions.migrate().await?;
                let cleanup = cleanup(
                    sessions
                        .clone()
                        .continuously_delete_expired(SESSION_CLEANUP_PERIOD),
                );
                match kind {
                    StoreKind::Sqlx => build(
                        SqlxStore::<User, sqlx::Sqlite>::new(pool),
                        sessions,
                        key,
                        cleanup,
                    ),
                    StoreKind::SeaOrm => build(seaorm_store().await?, sessions, key, cleanup),
                }
            }
            DatabaseBackend::Postgres => {
                let pool = db.get_postgres_connection_pool().clone();
                // The table goes to the first schema of the search path, next to `seaorm_users`.
                let sessions = SqlxSessionStore::new(pool.clone()).with_table_name(SESSIONS_TABLE);
                sessions.migrate().await?;
                let cleanup = cleanup(
                    sessions
                        .clone()
                        .continuously_delete_expired(SESSION_CLEANUP_PERIOD),
                );
                match kind {
                    StoreKind::Sqlx => build(
                        SqlxStore::<User, sqlx::Postgres>::new(pool),
                        sessions,
                        key,
                        cleanup,
                    ),
                    StoreKind::SeaOrm => build(seaorm_store().await?, sessions, key, cleanup),
                }
            }
            DatabaseBackend::MySql => {
                let pool = db.get_mysql_connection_pool().clone();
                let sessions = SqlxSessionStore::new(pool.clone()).with_table_name(SESSIONS_TABLE);
                sessions.migrate().await?;
                let cleanup = cleanup(
                    sessions
                        .clone()
                        .continuously_delete_expired(SESSION_CLEANUP_PERIOD),
                );
                match kind {
                    StoreKind::Sqlx => build(
                        SqlxStore::<User, sqlx::MySql>::new(pool),
                        sessions,
                        key,
                        cleanup,
                    ),
                    StoreKind::SeaOrm => build(seaorm_store().await?, sessions, key, cleanup),
                }
            }
        };
        Ok(Self {
            router,
            db,
            store: kind,
            cleanup,
        })
    }

    /// The app's router. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()`, so that failed logins are also
    /// throttled per client address.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The Sea-ORM connection; its pool is the one the stores use.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The store the app runs on.
    pub fn store(&self) -> StoreKind {
        self.store
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.cleanup.abort();
    }
}

/// Deletes expired sessions every [`SESSION_CLEANUP_PERIOD`] until the app is dropped.
fn cleanup<F>(delete_expired: F) -> JoinHandle<()>
where
    F: Future<Output = Result<(), tower_sessions::session_store::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = delete_expired.await {
            tracing::error!(%error, "expired-session cleanup stopped");
        }
    })
}

/// The router on `store`, with sessions in `sessions` and their cleanup task.
fn build<S, T>(
    store: S,
    sessions: T,
    key: SessionKey,
    cleanup: JoinHandle<()>,
) -> (Router, JoinHandle<()>)
where
    S: UserStore<User = User, Credentials = PasswordCredentials>,
    T: SessionBackend + Clone,
{
    let session_layer = axum_login::session_layer(sessions)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(1)));
    let auth = AuthLayer::builder(store, session_layer)
        .login_url("/login")
        .session_key(key)
        .build();
    (example_login_pages::router::<S>().layer(auth), cleanup)
}

/// Creates `seaorm_users` from the entity, unless it exists: Sea-ORM writes the DDL for the
/// connection's database.
pub async fn create_tables(db: &DatabaseConnection) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut table = Schema::new(backend).create_table_from_entity(Entity);
    db.execute(backend.build(table.if_not_exists())).await?;
    Ok(())
}

/// Inserts a user with a hash of `password`, unless the username is taken; answers whether it
/// did.
pub async fn create_user(
    db: &DatabaseConnection,
    username: &str,
    password: SecretString,
    role: Access,
) -> Result<bool, SeaOrmStoreError> {
    let hash = axum_login::hash_password(password)
        .await
        .map_err(SeaOrmStoreError::password)?;
    let user = ActiveModel {
        id: NotSet,
        username: Set(username.to_owned()),
        password_hash: Set(hash),
        role: Set(role),
    };
    // A taken name inserts nothing, so two processes seeding one database both succeed.
    // (`do_nothing_on` names the primary key, which MySQL's `ON DUPLICATE KEY UPDATE id = id`
    // needs.)
    let inserted = Entity::insert(user)
        .on_conflict(
            OnConflict::column(Column::Username)
                .do_nothing_on([Column::Id])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// Creates each of [`SEED_USERS`] that does not exist yet; an existing user keeps its password.
async fn seed(db: &DatabaseConnection) -> Result<(), AppError> {
    for &(username, password, role) in SEED_USERS {
        let seed_error = |source| AppError::Seed { username, source };
        let exists = Entity::find()
            .filter(Column::Username.eq(username))
            .one(db)
            .await
            .map_err(|error| seed_error(error.into()))?
            .is_some();
        if exists {
            continue;
        }
        if create_user(db, username, SecretString::from(password), role)
            .await
            .map_err(seed_error)?
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
