//! The security suite when things break: the user database goes away mid-run (PostgreSQL behind
//! a TCP proxy the test switches off), or the session store fails. Nobody is treated as logged
//! in meanwhile, the answers are generic, and existing sessions work again afterwards without a
//! restart.

use std::{
    net::{SocketAddr, ToSocketAddrs},
    str::FromStr,
    time::Duration,
};

use axum_login::{AuthLayer, SqlxStore};
use axum_login_tests::{
    apps::{mem_app_with, seed, session_key, sql_routes},
    db::POSTGRES_SCHEMA,
    env::{in_ci, postgres_url, skipped},
    http::Visitor,
    http::serve_with_addr,
    proxy::Proxy,
    users::PASSWORD,
    users::SqlUser,
};
use reqwest::{StatusCode, header::ACCEPT};
use sqlx::{
    ConnectOptions, Connection, Postgres,
    postgres::{PgConnectOptions, PgPoolOptions},
};

type PgStore = SqlxStore<SqlUser, Postgres>;

/// A fresh schema on the configured PostgreSQL with the suite's users in it, or `None` (after a
/// loud `SKIPPED`) when PostgreSQL cannot be reached outside CI.
async fn fresh_postgres(test: &str) -> Option<(PgConnectOptions, String, SocketAddr)> {
    let url = postgres_url();
    let options = PgConnectOptions::from_str(&url).expect("DATABASE_URL_POSTGRES parses");
    let mut connection = match options.connect().await {
        Ok(connection) => connection,
        Err(error) if !in_ci() => {
            skipped(
                test,
                &format!("PostgreSQL at {url} is unreachable: {error}"),
            );
            return None;
        }
        Err(error) => panic!("PostgreSQL at {url} is unreachable under CI: {error}"),
    };
    let schema = format!("security_{:016x}", rand::random::<u64>());
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut connection)
        .await
        .expect("create a fresh schema");
    connection.close().await.expect("close");
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone().options([("search_path", schema.as_str())]))
        .await
        .expect("connect to the fresh schema");
    sqlx::raw_sql(POSTGRES_SCHEMA)
        .execute(&pool)
        .await
        .expect("create the users table");
    seed(&pool).await;
    pool.close().await;
    let upstream = (options.get_host(), options.get_port())
        .to_socket_addrs()
        .expect("resolve PostgreSQL")
        .next()
        .expect("an address for PostgreSQL");
    Some((options, schema, upstream))
}

struct PgApp {
    base: String,
    proxy: Proxy,
    store: PgStore,
    schema: String,
}

impl PgApp {
    /// Drops the test's schema (left behind when a test fails, for a look).
    async fn drop_schema(self) {
        self.proxy.set_up(true);
        self.store.pool().close().await;
        let options = PgConnectOptions::from_str(&postgres_url()).expect("URL parses");
        if let Ok(mut connection) = options.connect().await {
            let drop = format!("DROP SCHEMA {} CASCADE", self.schema);
            let _ = sqlx::raw_sql(&drop).execute(&mut connection).await;
            let _ = connection.close().await;
        }
    }
}

async fn pg_app(test: &str) -> Option<PgApp> {
    let (options, schema, upstream) = fresh_postgres(test).await?;
    let proxy = Proxy::start(upstream).await;
    let options = options
        .host("127.0.0.1")
        .port(proxy.addr.port())
        .options([("search_path", schema.as_str())]);
    let schema_name = schema.clone();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with(options)
        .await
        .expect("connect through the proxy");
    let store = PgStore::new(pool);
    let layer = AuthLayer::builder(
        store.clone(),
        axum_login::session_layer(tower_sessions::MemoryStore::default()),
    )
    .session_key(session_key())
    .build();
    let addr = serve_with_addr(sql_routes::<PgStore>().layer(layer)).await;
    Some(PgApp {
        base: format!("http://{addr}"),
        proxy,
        store,
        schema: schema_name,
    })
}

/// Status and body of `GET path`.
async fn fetch(visitor: &Visitor, path: &str, accept: &str) -> (StatusCode, String) {
    let response = visitor
        .send(visitor.client.get(visitor.url(path)).header(ACCEPT, accept))
        .await;
    let status = response.status();
    (status, response.text().await.expect("body"))
}

fn assert_generic_failure(what: &str, status: StatusCode, body: &str) {
    assert!(
        status == StatusCode::INTERNAL_SERVER_ERROR || status == StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {status} {body}"
    );
    let lower = body.to_ascii_lowercase();
    for leak in [
        "sqlx",
        "postgres",
        "connection",
        "io error",
        "refused",
        "database",
        "directory",
        "store",
    ] {
        assert!(
            !lower.contains(leak),
            "{what}: the body tells `{leak}`: {body}"
        );
    }
}

// ---- 11. faults ----------------------------------------------------------------------------

#[tokio::test]
async fn user_database_outage_fails_closed_and_sessions_recover() {
    let Some(app) = pg_app("user_database_outage_fails_closed_and_sessions_recover").await else {
        return;
    };
    let visitor = Visitor::new(&app.base);
    assert_eq!(
        visitor.login("ferris", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(visitor.whoami().await, "ferris");
    let cookie = visitor.cookie().expect("logged in");

    app.proxy.set_up(false);
    for (path, accept) in [
        ("/protected", "text/html"),
        ("/protected", "application/json"),
        ("/admin", "text/html"),
        ("/me", "*/*"),
    ] {
        let (status, body) = fetch(&visitor, path, accept).await;
        assert_generic_failure(
            &format!("{path} ({accept}) while the database is down"),
            status,
            &body,
        );
        assert!(!body.contains("ferris"), "{path}: {body}");
    }
    // Logging in cannot succeed either, and the failure is not the "wrong password" page.
    let other = Visitor::new(&app.base);
    let response = other.login("ferris", PASSWORD).await;
    let status = response.status();
    assert_generic_failure(
        "login while down",
        status,
        &response.text().await.expect("body"),
    );
    assert_eq!(other.cookie(), None, "a failed login handed out a session");

    app.proxy.set_up(true);
    let recovered = Visitor::with_cookie(&app.base, &cookie);
    let mut status = StatusCode::INTERNAL_SERVER_ERROR;
    for _ in 0..20 {
        status = recovered.get("/protected").await.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "the session did not come back with the database"
    );
    assert_eq!(recovered.whoami().await, "ferris");
    assert!(app.store.stats().queries > 0);
    app.drop_schema().await;
}

#[tokio::test]
async fn nul_bytes_in_credentials_on_postgres_are_a_plain_failure() {
    // PostgreSQL refuses NUL in text; that must read as wrong credentials, not as a 500.
    let Some(app) = pg_app("nul_bytes_in_credentials_on_postgres_are_a_plain_failure").await else {
        return;
    };
    let response = reqwest::Client::new()
        .post(format!("{}/login", app.base))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("username=fer%00ris&password=hunter42")
        .send()
        .await
        .expect("answered");
    let status = response.status();
    let body = response.text().await.expect("body");
    assert!(
        !status.is_server_error(),
        "NUL in the username: {status} {body}"
    );
    assert_eq!(body, axum_login_tests::apps::LOGIN_FAILED);
}

#[tokio::test]
async fn session_store_outage_fails_closed_and_sessions_recover() {
    let sessions = axum_login_tests::session_stores::FlakySessionStore::default();
    let app = mem_app_with(sessions.clone(), |builder| builder).await;
    let visitor = Visitor::new(&app.base);
    visitor.login("ferris", "pw-ferris").await;
    let cookie = visitor.cookie().expect("logged in");

    sessions
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for (path, accept) in [
        ("/protected", "text/html"),
        ("/protected", "application/json"),
        ("/me", "*/*"),
    ] {
        let (status, body) = fetch(&visitor, path, accept).await;
        assert_generic_failure(
            &format!("{path} ({accept}) while sessions are down"),
            status,
            &body,
        );
        assert!(!body.contains("ferris"));
    }
    let other = Visitor::new(&app.base);
    let response = other.login("ferris", "pw-ferris").await;
    assert!(
        response.status().is_server_error(),
        "login while the session store is down: {}",
        response.status()
    );
    assert_eq!(other.cookie(), None);
    assert_eq!(
        visitor.cookie().as_deref(),
        Some(cookie.as_str()),
        "the cookie was dropped"
    );

    sessions
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(visitor.get("/protected").await.status(), StatusCode::OK);
    assert_eq!(visitor.whoami().await, "ferris");
}
