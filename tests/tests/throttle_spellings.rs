//! Every spelling of a username that logs in to an account counts against that account's
//! one limit, on each database we ship: MariaDB's default collation ignores case, accents and
//! trailing spaces, PostgreSQL and SQLite compare bytes, and all of them meet full-width
//! letters and a NUL. At the store, each spelling that logs in as `admin` gets `admin`'s
//! account key; over HTTP, five wrong guesses under five spellings lock `admin`.

use axum::{Router, routing::post};
use axum_login::{
    AuthLayer, PasswordCredentials, SessionKey, SqlxStore, Throttle, UserStore,
    security::MemoryThrottleStore, session::MemoryStore, session_layer,
};
use axum_login_tests::{
    db,
    http::serve_with_addr,
    login::{SeeOther, login},
    users::User,
};
use reqwest::StatusCode;

const PASSWORD: &str = "pw-admin";

/// The spellings tried on every database: case, trailing spaces, accents, full-width letters,
/// a NUL, a combining accent, and the name itself.
const SPELLINGS: &[&str] = &[
    "admin",
    "ADMIN",
    "Admin",
    "admin ",
    "admin   ",
    "ADMÎN",
    "ådmin",
    "ádmin",
    "ａｄｍｉｎ",
    "ＡＤＭＩＮ",
    "admin\0",
    "a\u{0301}dmin",
];

fn credentials(username: &str, password: &str) -> PasswordCredentials {
    PasswordCredentials::new(username, password)
}

/// A `SqlxStore` on `$db` (a fresh database of type `$ty`) with `admin` in it.
macro_rules! store_on {
    ($db:expr, $ty:ty) => {{
        let store = SqlxStore::<User, $ty>::new($db.pool.clone());
        sqlx::raw_sql(store.schema())
            .execute(&$db.pool)
            .await
            .expect("create the users table");
        store
            .create_user("admin", PASSWORD.into())
            .await
            .expect("create admin");
        store
    }};
}

/// The spellings that log in as `admin` on this database, each checked to count as `admin`.
async fn spellings_that_log_in<S>(store: &S, database: &str) -> Vec<&'static str>
where
    S: UserStore<User = User, Credentials = PasswordCredentials>,
    S::Error: std::fmt::Debug,
{
    let admin = store
        .account_key(&credentials("admin", PASSWORD))
        .await
        .expect("a key for admin")
        .expect("admin is counted");
    let mut reaching = Vec::new();
    for &spelling in SPELLINGS {
        let logs_in = matches!(
            store.authenticate(credentials(spelling, PASSWORD)).await,
            Ok(Some(user)) if user.username == "admin"
        );
        let key = store
            .account_key(&credentials(spelling, PASSWORD))
            .await
            .expect("an account key, never an error");
        if logs_in {
            assert_eq!(
                key.as_deref(),
                Some(admin.as_str()),
                "{spelling:?} logs in as admin on {database} but is counted apart"
            );
            reaching.push(spelling);
        }
    }
    reaching
}

/// Five wrong guesses, one per spelling, from five browsers; then the right password under the
/// plain name is refused.
async fn five_spellings_lock_the_account<S>(store: S, spellings: &[&str])
where
    S: UserStore<User = User, Credentials = PasswordCredentials> + Clone,
{
    let layer = AuthLayer::builder(
        store,
        session_layer(MemoryStore::default()).with_secure(false),
    )
    .session_key(SessionKey::generate())
    .throttle(
        Throttle::new(MemoryThrottleStore::default())
            .max_failures_per_account(5)
            .max_failures_per_address(u32::MAX),
    )
    .build();
    let app = Router::new()
        .route("/login", post(login::<S, SeeOther>))
        .layer(layer);
    let base = format!("http://{}", serve_with_addr(app).await);
    let attempt = |username: String, password: &'static str| {
        let base = base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/login"))
                .form(&[("username", username.as_str()), ("password", password)])
                .send()
                .await
                .expect("answered")
                .status()
        }
    };
    for spelling in spellings.iter().cycle().take(5) {
        assert_eq!(
            attempt((*spelling).to_owned(), "wrong").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt("admin".to_owned(), PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "failures under {spellings:?} were counted apart from admin's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_counts_every_spelling_its_collation_accepts_as_one_account() {
    let Some(db) = db::mysql().await else { return };
    let store = store_on!(db, sqlx::MySql);
    let reaching = spellings_that_log_in(&store, "MariaDB").await;
    // The default collation is what makes this database the hard case: these must log in
    // here, or the test no longer tries what it claims to.
    for expected in ["ADMIN", "admin ", "ADMÎN", "ådmin", "ádmin"] {
        assert!(
            reaching.contains(&expected),
            "{expected:?} did not log in: {reaching:?}"
        );
    }
    five_spellings_lock_the_account(store, &["ADMÎN", "ådmin", "admin ", "ádmin", "ADMIN"]).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_counts_every_spelling_as_one_account() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let store = store_on!(db, sqlx::Postgres);
    let reaching = spellings_that_log_in(&store, "PostgreSQL").await;
    assert_eq!(reaching, ["admin"], "PostgreSQL compares bytes");
    // Spellings that cannot log in still share the account's counter when they normalise to
    // its name, so the guesses are not free either.
    five_spellings_lock_the_account(
        store,
        &["ADMIN", "admin ", "ａｄｍｉｎ", "Admin", "ＡＤＭＩＮ"],
    )
    .await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_counts_every_spelling_as_one_account() {
    let Some(db) = db::sqlite_file().await else {
        return;
    };
    let store = store_on!(db, sqlx::Sqlite);
    let reaching = spellings_that_log_in(&store, "SQLite").await;
    assert_eq!(reaching, ["admin"], "SQLite compares bytes");
    five_spellings_lock_the_account(
        store,
        &["ADMIN", "admin ", "ａｄｍｉｎ", "Admin", "ＡＤＭＩＮ"],
    )
    .await;
    db.finish().await;
}
