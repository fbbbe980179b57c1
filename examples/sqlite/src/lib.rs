//! The axum-login demo app: login, logout, guarded pages and account pages (sessions,
//! remember-me, a TOTP second factor) over an embedded SQLite database.
//!
//! [`Demo::new`] creates and migrates the database, seeds the two demo users and builds the
//! router; `src/main.rs` serves it. Tests build it the same way and serve it on an ephemeral
//! port.
//!
//! | user | password | role |
//! | --- | --- | --- |
//! | `ferris` | `hunter42` | `user` |
//! | `admin` | `correct-horse-battery` | `admin` |

mod account;
mod email_login;
mod ops;
mod provider;
mod reset;
mod routes;
mod signup;
mod templates;
mod tokens;
mod user;

use std::{path::PathBuf, sync::Arc, time::Duration};

use axum::Router;
use axum_login::{
    AuthLayer, SessionKey, SqlxStore,
    accounts::{Accounts, DefaultTemplates, SqlxAccountTokenStore},
    events::EventRecord,
    mail::{ConsoleMailer, Outbox, SmtpMailer},
    metrics::Timed,
    mfa::{EncryptionKey, Mfa, SqlxSecondFactorStore, Totp},
    oidc::{Oidc, Provider, SqlxLinkStore},
    registry::{RegistryConfig, SqlxSessionRegistry},
    remember::{RememberMe, SqlxRememberStore},
    session::SqlxSessionStore,
    session_layer,
    sqlx::SqlxStoreError,
    tokens::{ApiTokens, SqlxTokenStore},
};
use secrecy::SecretString;
use sqlx::{
    Sqlite, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};
use tokio::task::JoinHandle;
use tower_sessions::{Expiry, cookie::time};

pub use crate::provider::OidcConfig;
pub use crate::user::{Access, User};

/// The log filter the demo starts with when `RUST_LOG` is not set.
///
/// tower-sessions logs a warning for every request whose session id the store does not know (an
/// expired session, a logged-out one, or a made-up cookie), so a flood of garbage cookies would
/// be a flood of log lines; `tower_sessions_core=error` drops those, and axum-login counts them
/// instead, in one line a minute.
pub const LOG_FILTER: &str = "info,sqlx=warn,tower_sessions=warn,tower_sessions_core=error";

/// The demo's user store: users in the `users` table of the SQLite database.
pub type Store = SqlxStore<User, Sqlite>;

/// The address of a seeded user: `{username}@example.com`.
pub fn seed_email(username: &str) -> String {
    format!("{username}@example.com")
}

/// The users that [`Demo::new`] creates when they are missing: `(username, password, role)`;
/// each has the address [`seed_email`].
pub const SEED_USERS: &[(&str, &str, Access)] = &[
    ("ferris", "hunter42", Access::User),
    ("admin", "correct-horse-battery", Access::Admin),
];

/// The second factors: TOTP secrets and recovery-code hashes in the demo's database.
pub type SecondFactors = Mfa<SqlxSecondFactorStore<Sqlite>>;

/// The issuer an authenticator app shows next to the demo's codes.
const TOTP_ISSUER: &str = "axum-login demo";

/// How often expired sessions are deleted from the database.
const SESSION_CLEANUP_PERIOD: Duration = Duration::from_secs(60);

/// What the demo needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite database file; created when missing.
    pub database: PathBuf,
    /// The key for the session digests. `None`: a random one, so logins end on restart.
    pub session_key: Option<SessionKey>,
    /// The key that encrypts TOTP secrets in the database. `None`: they are stored in the
    /// clear, which the demo logs; a random key instead would lock every enrolled user out of
    /// their second factor at the next restart.
    pub mfa_key: Option<EncryptionKey>,
    /// The address users reach the demo at, which links in mail start with; never taken from a
    /// request's `Host`.
    pub public_url: String,
    /// The SMTP server mail goes through (`smtp://host:port`, `smtp+starttls://user:pass@host`,
    /// `smtps://...`). `None`: mail is written to the log instead, whole.
    pub smtp_url: Option<String>,
    /// The OpenID Connect provider users may sign in with. `None`: no "Sign in with ..." link.
    pub oidc: Option<OidcConfig>,
}

impl Config {
    /// The database file when none is given.
    pub const DEFAULT_DATABASE: &'static str = "./example-sqlite.db";

    /// The public URL when none is given: the default address.
    pub const DEFAULT_PUBLIC_URL: &'static str = "http://127.0.0.1:3000";
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database: PathBuf::from(Self::DEFAULT_DATABASE),
            session_key: None,
            mfa_key: None,
            public_url: Self::DEFAULT_PUBLIC_URL.to_owned(),
            smtp_url: None,
            oidc: None,
        }
    }
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database could not be opened or queried.
    #[error("database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: sqlx::Error,
    },
    /// The migrations failed.
    #[error("migrating database {path}: {source}")]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A seed user could not be created.
    #[error("seeding user {username:?}: {source}")]
    Seed {
        /// The user being created.
        username: &'static str,
        /// What went wrong.
        #[source]
        source: SqlxStoreError,
    },
    /// The second-factor tables could not be created.
    #[error("creating the second-factor tables in {path}: {source}")]
    SecondFactors {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: sqlx::Error,
    },
    /// A template does not compile.
    #[error("loading the templates: {0}")]
    Templates(#[from] minijinja::Error),
    /// The public URL or the SMTP server is not one the demo can use.
    #[error("mail: {0}")]
    Mail(String),
    /// The OpenID Connect provider's settings cannot work.
    #[error("OIDC_ISSUER/OIDC_CLIENT_ID/OIDC_CLIENT_SECRET: {0}")]
    Oidc(#[from] axum_login::oidc::ProviderConfigError),
    /// The Prometheus recorder could not be installed (another `metrics` recorder is).
    #[error("installing the Prometheus recorder for /metrics: {0}")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
}

/// The built app: its router, and the database pool it runs on.
///
/// Dropping it stops the expired-session cleanup task.
#[derive(Debug)]
pub struct Demo {
    router: Router,
    store: Store,
    cleanup: JoinHandle<()>,
}

impl Demo {
    /// Opens (creating if needed) and migrates the database, seeds the demo users when they are
    /// missing, starts the expired-session cleanup, and builds the router.
    ///
    /// The session cookie is `HttpOnly`, `SameSite=Lax` and not `Secure`: the demo serves plain
    /// HTTP on loopback. Behind TLS, drop the `.with_secure(false)`.
    pub async fn new(config: Config) -> Result<Self, DemoError> {
        let path = config.database.clone();
        let db_error = |source| DemoError::Database {
            path: path.clone(),
            source,
        };
        let options = SqliteConnectOptions::new()
            .filename(&config.database)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| DemoError::Migrate {
                path: path.clone(),
                source,
            })?;
        let store = Store::new(pool.clone());
        seed(&store).await?;

        let second_factors = SqlxSecondFactorStore::<Sqlite>::new(pool.clone());
        second_factors
            .migrate()
            .await
            .map_err(|source| DemoError::SecondFactors {
                path: path.clone(),
                source,
            })?;
        let mfa = Mfa::new(second_factors, Totp::new(TOTP_ISSUER));
        let mfa = match config.mfa_key {
            Some(key) => mfa.with_encryption_key(key),
            None => {
                tracing::info!(
                    "MFA_KEY is not set: TOTP secrets are stored in the database in the clear"
                );
                mfa
            }
        };

        let mfa = Arc::new(mfa);
        let (registry, remember) = account_stores(&pool).await.map_err(db_error)?;
        // API tokens in the demo's database too: a restart keeps them (with a fixed
        // `SESSION_KEY`, which their hashes are keyed with).
        let api_tokens = SqlxTokenStore::new(pool.clone());
        api_tokens.migrate().await.map_err(db_error)?;
        // Password-reset links: their tokens' hashes in the demo's database.
        let reset_tokens = SqlxAccountTokenStore::new(pool.clone());
        reset_tokens.migrate().await.map_err(db_error)?;
        let accounts = Accounts::new(
            reset_tokens,
            outbox(config.smtp_url.as_deref())?,
            &config.public_url,
        )
        .map_err(|error| DemoError::Mail(error.to_string()))?
        .templates(DefaultTemplates::new("the axum-login demo"))
        .unverified_url(signup::UNVERIFIED_URL);
        let oidc = match &config.oidc {
            Some(provider) => Some(oidc(&pool, &config.public_url, provider).await?),
            None => None,
        };
        let sessions = SqlxSessionStore::<sqlx::Sqlite>::new(pool);
        sessions.migrate().await.map_err(db_error)?;
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
        // Sessions are rows of the demo's database, which the task above deletes once they
        // expire; tower-sessions' `MemoryStore` would keep every session ever begun, and lose
        // them all on restart.
        // `Timed`: every call of the session, registry and remember-me stores is timed into
        // `axum_login_store_call_seconds` (the user store is left bare, so that handlers keep
        // naming `AuthSession<Store>`).
        let sessions = session_layer(Timed::new(sessions))
            // Plain HTTP on loopback, where a `Secure` cookie would never come back; `main` says
            // so when it starts. `session_layer` keeps `HttpOnly` and `SameSite=Lax`.
            .with_secure(false)
            .with_expiry(Expiry::OnInactivity(time::Duration::days(1)));

        let key = config.session_key.unwrap_or_else(|| {
            tracing::info!(
                "SESSION_KEY is not set: using a random session key, so logins end when the server restarts"
            );
            SessionKey::generate()
        });
        // Before the layer, which sets every one of its series to zero on the recorder.
        let metrics = ops::prometheus()?;
        let builder = AuthLayer::builder(store.clone(), sessions)
            .login_url("/login")
            .second_factor_url(routes::SECOND_FACTOR_URL)
            .session_key(key)
            .session_registry(registry)
            .remember_me(remember)
            // Whether a user has TOTP: a remembered login of one is only the first factor
            // unless its cookie was given after a second factor, and `fresh_mfa` guards ask
            // them for the second factor itself.
            .second_factors(mfa.clone())
            .api_tokens(ApiTokens::new(Timed::new(api_tokens)))
            .accounts(&accounts)
            .events(audit)
            .metrics();
        let auth = match &oidc {
            Some(oidc) => builder.oidc(oidc),
            None => builder,
        }
        .build();
        let health = auth.health();
        let state = routes::AppState {
            templates: templates::Templates::load()?,
            mfa,
            accounts,
            oidc,
        };
        let router = routes::router(state)
            .layer(auth)
            .merge(ops::router(metrics, &health));
        Ok(Self {
            router,
            store,
            cleanup,
        })
    }

    /// The app's router, ready for `axum::serve`.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The user store, whose [`pool`](SqlxStore::pool) is the app's database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The database pool.
    pub fn pool(&self) -> &SqlitePool {
        self.store.pool()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.cleanup.abort();
    }
}

/// The session registry and the remember-me tokens, in tables of the demo's database next to
/// the sessions: a restart keeps every listed session and remembered login (a remembered login
/// survives it only with a fixed `SESSION_KEY`, which the tokens' hashes are keyed with).
async fn account_stores(pool: &SqlitePool) -> Result<(RegistryConfig, RememberMe), sqlx::Error> {
    let registry = SqlxSessionRegistry::new(pool.clone());
    registry.migrate().await?;
    let remember = SqlxRememberStore::new(pool.clone());
    remember.migrate().await?;
    Ok((
        RegistryConfig::new(Timed::new(registry)),
        RememberMe::new(Timed::new(remember)),
    ))
}

/// Sign-in with the configured provider: its links to users in the demo's database, its
/// callback under the public URL, and users made on a first sign-in ([`provider::sign_up`]).
async fn oidc(
    pool: &SqlitePool,
    public_url: &str,
    config: &OidcConfig,
) -> Result<Oidc<Store>, DemoError> {
    let links = SqlxLinkStore::new(pool.clone());
    links
        .migrate()
        .await
        .map_err(|source| DemoError::Database {
            path: PathBuf::from("provider links"),
            source,
        })?;
    let callback = format!("{}/login/oidc/callback", public_url.trim_end_matches('/'));
    let provider = Provider::new(
        provider::PROVIDER_ID,
        &config.issuer,
        &config.client_id,
        config.client_secret.clone(),
        &callback,
    )?
    .name(config.name.as_deref().unwrap_or("your provider"));
    tracing::info!(issuer = %config.issuer, %callback, "sign-in with an OpenID Connect provider is on");
    Ok(Oidc::new(links)
        .provider(provider)?
        .sign_up(provider::sign_up))
}

/// Where mail goes: the SMTP server at `smtp_url`, else the log (whole, links included: a
/// development setup, where the log is the developer's own).
fn outbox(smtp_url: Option<&str>) -> Result<Outbox, DemoError> {
    const FROM: &str = "axum-login demo <no-reply@example.com>";
    Ok(match smtp_url {
        Some(url) => {
            let mailer = SmtpMailer::from_url(url, FROM)
                .map_err(|error| DemoError::Mail(error.to_string()))?;
            tracing::info!("mail goes through the SMTP server at SMTP_URL");
            Outbox::new(mailer)
        }
        None => {
            tracing::info!("SMTP_URL is not set: mail is written to this log instead");
            Outbox::new(ConsoleMailer)
        }
    })
}

/// The audit log: every login, failure, logout, ended session and second-factor change, as one
/// log line under the target `audit`, so a filter can send them somewhere of their own. Events
/// carry no password, code or token.
fn audit(record: &EventRecord) {
    let address = record.address.map(|address| address.to_string());
    tracing::info!(target: "audit", address = address.as_deref().unwrap_or("-"), "{}", record.event);
}

/// Creates each of [`SEED_USERS`] that does not exist yet; an existing user keeps its password.
async fn seed(store: &Store) -> Result<(), DemoError> {
    for &(username, password, role) in SEED_USERS {
        let seed_error = |source| DemoError::Seed { username, source };
        let exists = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE username = ?")
            .bind(username)
            .fetch_one(store.pool())
            .await
            .map_err(|error| seed_error(error.into()))?;
        if exists > 0 {
            continue;
        }
        let hash = axum_login::hash_password(SecretString::from(password))
            .await
            .map_err(|error| seed_error(error.into()))?;
        // `ON CONFLICT DO NOTHING`: two processes starting on one database both succeed.
        sqlx::query(
            "INSERT INTO users (username, password_hash, role) VALUES (?, ?, ?) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .bind(hash)
        .bind(role)
        .execute(store.pool())
        .await
        .map_err(|error| seed_error(error.into()))?;
        tracing::info!(username, role = %role, "seeded demo user");
    }
    // The seeded users' addresses, confirmed; a database from before addresses existed gets
    // them too.
    for &(username, _, _) in SEED_USERS {
        let seed_error = |error: sqlx::Error| DemoError::Seed {
            username,
            source: error.into(),
        };
        let email = seed_email(username);
        sqlx::query("UPDATE users SET email = ? WHERE username = ? AND email IS NULL")
            .bind(&email)
            .bind(username)
            .execute(store.pool())
            .await
            .map_err(seed_error)?;
        sqlx::query("UPDATE users SET email_verified = TRUE WHERE username = ? AND email = ?")
            .bind(username)
            .bind(&email)
            .execute(store.pool())
            .await
            .map_err(seed_error)?;
    }
    Ok(())
}
