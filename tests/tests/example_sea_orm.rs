//! `examples/sea-orm` over HTTP, with each of its two user stores (`SqlxStore` on Sea-ORM's pool,
//! and the store written with Sea-ORM queries) on SQLite, PostgreSQL and MariaDB.
//!
//! SQLite is a file in a temporary directory. PostgreSQL (`DATABASE_URL_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`) gets a schema per test, MariaDB
//! (`DATABASE_URL_MYSQL`, default `mysql://root@127.0.0.1:3306/test`) a database per test,
//! dropped at the end, so tests running side by side never share a table. When a server is
//! unreachable the test fails under `CI=true` (or `1`) and is skipped, loudly, otherwise.

use std::{
    str::FromStr,
    sync::atomic::{AtomicUsize, Ordering},
};

use axum_login::{PasswordCredentials, UserStore};
use axum_login_tests::{
    env::in_ci, env::mysql_url, env::postgres_url, env::skipped, http::serve_with_addr as serve,
    login_surface::check_login_surface,
};
use example_sea_orm::{
    Access, App, Config, SeaOrmStore, StoreKind,
    sea_orm::{self, ConnectionTrait as _, DatabaseBackend},
};
use sqlx::{Connection as _, Executor as _};

/// A name no other test, here or in a parallel run, uses.
fn unique_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "seaorm_{}_{:08x}_{}",
        std::process::id(),
        rand::random::<u32>(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// `url` with `key=value` added to its query.
fn with_param(url: &str, key: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={value}")
}

/// `url` naming `database` instead of its own.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |at| at + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |at| after_scheme + at);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Fails under CI; elsewhere says loudly that the test did not run. `None` means: skip.
fn unreachable<T>(test: &str, what: &str, error: &dyn std::fmt::Display) -> Option<T> {
    if in_ci() {
        panic!("{test}: {what} is unreachable under CI: {error}");
    }
    skipped(
        test,
        &format!(
            "{what} is unreachable ({error}); start it, or set CI=true to make this a failure"
        ),
    );
    None
}

/// A place of its own on one database for one test, and how to drop it.
enum Place {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { url: String, schema: String },
    MySql { url: String, database: String },
}

impl Place {
    async fn sqlite() -> (Self, String) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("example.db").display()
        );
        (Self::Sqlite(dir), url)
    }

    async fn postgres(test: &str) -> Option<(Self, String)> {
        let url = postgres_url();
        let mut connection = match sqlx::PgConnection::connect(&url).await {
            Ok(connection) => connection,
            Err(error) => return unreachable(test, &format!("PostgreSQL at {url}"), &error),
        };
        let schema = unique_name();
        connection
            .execute(format!(r#"CREATE SCHEMA "{schema}""#).as_str())
            .await
            .expect("create a schema for this test");
        connection.close().await.expect("close");
        // Every connection of the example's pool starts in the new schema.
        let app_url = with_param(&url, "options[search_path]", &schema);
        Some((Self::Postgres { url, schema }, app_url))
    }

    async fn mysql(test: &str) -> Option<(Self, String)> {
        let url = mysql_url();
        let mut connection = match sqlx::MySqlConnection::connect(&url).await {
            Ok(connection) => connection,
            Err(error) => return unreachable(test, &format!("MariaDB at {url}"), &error),
        };
        let database = unique_name();
        connection
            .execute(format!("CREATE DATABASE `{database}`").as_str())
            .await
            .expect("create a database for this test");
        connection.close().await.expect("close");
        let app_url = with_database(&url, &database);
        Some((Self::MySql { url, database }, app_url))
    }

    async fn drop(self) {
        match self {
            Self::Sqlite(_) => {}
            Self::Postgres { url, schema } => {
                let mut connection = sqlx::PgConnection::connect(&url).await.expect("connect");
                connection
                    .execute(format!(r#"DROP SCHEMA "{schema}" CASCADE"#).as_str())
                    .await
                    .expect("drop this test's schema");
            }
            Self::MySql { url, database } => {
                let mut connection = sqlx::MySqlConnection::connect(&url).await.expect("connect");
                connection
                    .execute(format!("DROP DATABASE `{database}`").as_str())
                    .await
                    .expect("drop this test's database");
            }
        }
    }
}

/// Starts the example on `url` with `store`, checks its login surface over HTTP, and checks
/// what it wrote: the users table, the sessions table next to it, and batched loads.
async fn check(url: String, store: StoreKind, backend: DatabaseBackend) {
    let app = App::new(Config {
        database_url: url.clone(),
        store,
        session_key: None,
    })
    .await
    .expect("the example starts on a fresh database");
    assert_eq!(app.store(), store);
    assert_eq!(app.db().get_database_backend(), backend);
    check_login_surface(serve(app.router()).await).await;

    // A second start on the same database (a restart, or a second instance) finds the tables
    // and the users there and starts too.
    let again = App::new(Config {
        database_url: url,
        store,
        session_key: None,
    })
    .await
    .expect("the example starts again on the same database");

    // The store written with Sea-ORM queries answers in the order of the ids it is given,
    // `None` for a missing one, whichever store served the app.
    let seaorm = SeaOrmStore::new(again.db().clone())
        .await
        .expect("the Sea-ORM store");
    let ferris = seaorm
        .authenticate(PasswordCredentials::new("ferris", "hunter42"))
        .await
        .expect("authenticate")
        .expect("ferris is seeded once, with his password");
    let admin = seaorm
        .authenticate(PasswordCredentials::new("admin", "correct-horse-battery"))
        .await
        .expect("authenticate")
        .expect("admin is seeded");
    assert_eq!((ferris.role, admin.role), (Access::User, Access::Admin));
    let users = seaorm
        .load_users(&[admin.id, i64::MAX, ferris.id])
        .await
        .expect("load_users");
    let names: Vec<Option<&str>> = users
        .iter()
        .map(|user| user.as_ref().map(|user| user.username.as_str()))
        .collect();
    assert_eq!(names, [Some("admin"), None, Some("ferris")]);
    const { assert!(<SeaOrmStore as UserStore>::BATCHED_LOADS) };

    let counted = again
        .db()
        .query_one(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM seaorm_users",
        ))
        .await
        .expect("count the users")
        .expect("a row");
    assert_eq!(counted.try_get::<i64>("", "n").expect("a count"), 2);
    let sessions = again
        .db()
        .query_one(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM seaorm_sessions",
        ))
        .await
        .expect("the sessions table is next to the users table")
        .expect("a row");
    assert!(
        sessions.try_get::<i64>("", "n").expect("a count") >= 1,
        "the logins' sessions are stored"
    );
}

#[tokio::test]
async fn sea_orm_example_on_sqlite_with_sqlx_store() {
    let (place, url) = Place::sqlite().await;
    check(url, StoreKind::Sqlx, DatabaseBackend::Sqlite).await;
    place.drop().await;
}

#[tokio::test]
async fn sea_orm_example_on_sqlite_with_sea_orm_store() {
    let (place, url) = Place::sqlite().await;
    check(url, StoreKind::SeaOrm, DatabaseBackend::Sqlite).await;
    place.drop().await;
}

#[tokio::test]
async fn sea_orm_example_on_postgres_with_sqlx_store() {
    let test = "sea_orm_example_on_postgres_with_sqlx_store";
    let Some((place, url)) = Place::postgres(test).await else {
        return;
    };
    check(url, StoreKind::Sqlx, DatabaseBackend::Postgres).await;
    place.drop().await;
}

#[tokio::test]
async fn sea_orm_example_on_postgres_with_sea_orm_store() {
    let test = "sea_orm_example_on_postgres_with_sea_orm_store";
    let Some((place, url)) = Place::postgres(test).await else {
        return;
    };
    check(url, StoreKind::SeaOrm, DatabaseBackend::Postgres).await;
    place.drop().await;
}

#[tokio::test]
async fn sea_orm_example_on_mariadb_with_sqlx_store() {
    let test = "sea_orm_example_on_mariadb_with_sqlx_store";
    let Some((place, url)) = Place::mysql(test).await else {
        return;
    };
    check(url, StoreKind::Sqlx, DatabaseBackend::MySql).await;
    place.drop().await;
}

#[tokio::test]
async fn sea_orm_example_on_mariadb_with_sea_orm_store() {
    let test = "sea_orm_example_on_mariadb_with_sea_orm_store";
    let Some((place, url)) = Place::mysql(test).await else {
        return;
    };
    check(url, StoreKind::SeaOrm, DatabaseBackend::MySql).await;
    place.drop().await;
}

#[test]
fn test_urls_are_rewritten_per_test() {
    assert_eq!(
        with_database("mysql://root@127.0.0.1:3306/test", "seaorm_1"),
        "mysql://root@127.0.0.1:3306/seaorm_1"
    );
    assert_eq!(
        with_database("mysql://u:p@h/test?ssl-mode=disabled", "x"),
        "mysql://u:p@h/x?ssl-mode=disabled"
    );
    assert_eq!(with_database("mysql://h:1", "x"), "mysql://h:1/x");
    assert_eq!(
        with_param("postgres://h/test", "options[search_path]", "s"),
        "postgres://h/test?options[search_path]=s"
    );
    assert!(StoreKind::from_str("sea-orm").is_ok());
    assert!(StoreKind::from_str("diesel").is_err());
}
