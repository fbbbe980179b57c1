//! `cargo run -p example-rusqlite [-- --addr 127.0.0.1:3000] [--database ./example-rusqlite.db]`
//!
//! Environment: `ADDR`, `DATABASE_PATH`, `SESSION_KEY` (base64, at least 32 bytes),
//! `RUST_LOG`. Flags win over the environment.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use axum_login::SessionKey;
use example_rusqlite::{App, Config, SEED_USERS};
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

const USAGE: &str = "usage: example-rusqlite [--addr HOST:PORT] [--database PATH]

  --addr HOST:PORT   where to listen (env ADDR; default 127.0.0.1:3000)
  --database PATH    the SQLite database file, created if missing
                     (env DATABASE_PATH; default ./example-rusqlite.db)

  env SESSION_KEY    base64 key (32+ bytes) for the session digests; without it a
                     random key is used and logins end when the server restarts";

struct Args {
    addr: String,
    database: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut addr = std::env::var("ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let mut database = std::env::var_os("DATABASE_PATH")
        .map_or_else(|| PathBuf::from(Config::DEFAULT_PATH), PathBuf::from);
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
            "--database" => database = PathBuf::from(value("--database")?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(Args { addr, database })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("example-rusqlite: {message}");
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
        path: args.database.clone(),
        session_key,
    })
    .await
    .map_err(|error| error.to_string())?;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    let addr = listener.local_addr().map_err(|error| error.to_string())?;
    tracing::info!(database = %args.database.display(), "SQLite database ready");
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
