//! `cargo run -p example-sea-orm [-- --addr 127.0.0.1:3000] [--database-url URL] [--store sqlx|sea-orm]`
//!
//! Environment: `ADDR`, `DATABASE_URL`, `USER_STORE`, `SESSION_KEY` (base64, at least 32
//! bytes), `RUST_LOG`. Flags win over the environment.

use std::{net::SocketAddr, process::ExitCode};

use axum_login::SessionKey;
use example_sea_orm::{App, Config, SEED_USERS, StoreKind};
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

const USAGE: &str =
    "usage: example-sea-orm [--addr HOST:PORT] [--database-url URL] [--store sqlx|sea-orm]

  --addr HOST:PORT      where to listen (env ADDR; default 127.0.0.1:3000)
  --database-url URL    sqlite://FILE?mode=rwc, postgres://..., mysql://...
                        (env DATABASE_URL; default sqlite://example-sea-orm.db?mode=rwc)
  --store sqlx          the user store: axum-login's SqlxStore on Sea-ORM's pool (default),
  --store sea-orm       or the UserStore written with Sea-ORM queries (env USER_STORE)

  env SESSION_KEY       base64 key (32+ bytes) for the session digests; without it a
                        random key is used and logins end when the server restarts";

struct Args {
    addr: String,
    database_url: String,
    store: StoreKind,
}

fn parse_args() -> Result<Args, String> {
    let mut addr = std::env::var("ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let mut database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| Config::DEFAULT_DATABASE_URL.to_owned());
    let mut store = match std::env::var("USER_STORE") {
        Ok(name) => name
            .parse()
            .map_err(|error| format!("USER_STORE: {error}"))?,
        Err(_) => StoreKind::default(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match flag.as_str() {
            "--addr" => addr = value("--addr")?,
            "--database-url" => database_url = value("--database-url")?,
            "--store" => store = value("--store")?.parse()?,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(Args {
        addr,
        database_url,
        store,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn")),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("example-sea-orm: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args = parse_args()?;
    let addr: SocketAddr = args
        .addr
        .parse()
        .map_err(|error| format!("--addr/ADDR {:?}: {error}", args.addr))?;
    let session_key = match std::env::var("SESSION_KEY") {
        Ok(text) => {
            Some(SessionKey::from_base64(&text).map_err(|error| format!("SESSION_KEY: {error}"))?)
        }
        Err(_) => None,
    };
    let app = App::new(Config {
        database_url: args.database_url.clone(),
        store: args.store,
        session_key,
    })
    .await
    .map_err(|error| error.to_string())?;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    let addr = listener.local_addr().map_err(|error| error.to_string())?;
    tracing::info!(database = %redacted(&args.database_url), store = %app.store(), "database ready");
    if addr.ip().is_loopback() {
        tracing::info!(
            "the session cookie's `Secure` flag is off: this example serves plain HTTP on loopback (behind TLS, turn it on)"
        );
    } else {
        tracing::warn!(
            "the session cookie's `Secure` flag is off and {addr} is not loopback: session cookies travel in clear text; serve this behind TLS with `Secure` on"
        );
    }
    for (username, password, role) in SEED_USERS {
        tracing::info!("example user: {username} / {password} (role {role})");
    }
    tracing::info!("listening on http://{addr}");
    axum::serve(
        listener,
        app.router()
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .map_err(|error| error.to_string())?;
    tracing::info!("shut down");
    Ok(())
}

/// Resolves on Ctrl-C (or SIGTERM on Unix), letting requests in flight finish.
async fn shutdown() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

/// `url` without its password, for the log.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}
