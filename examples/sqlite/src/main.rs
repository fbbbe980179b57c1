//! `cargo run -p example-sqlite [-- --addr 127.0.0.1:3000] [--database ./example-sqlite.db]`
//!
//! Environment: `ADDR`, `DATABASE_PATH`, `SESSION_KEY` (base64, at least 32 bytes), `MFA_KEY`
//! (base64, 32 bytes: encrypts TOTP secrets at rest), `PUBLIC_URL` (the address in mailed
//! links; default `http://{ADDR}`), `SMTP_URL` (where mail goes; default: the log),
//! `OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET` and `OIDC_NAME` (sign-in with an
//! OpenID Connect provider, whose callback is `{PUBLIC_URL}/login/oidc/callback`), `RUST_LOG`.
//! Flags win over the environment.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use axum_login::{SessionKey, mfa::EncryptionKey};
use example_sqlite::{Config, Demo, LOG_FILTER, OidcConfig, SEED_USERS};
use tracing_subscriber::EnvFilter;

/// The value after `flag` on the command line, else the environment variable `env`, else
/// `default`.
fn arg(flag: &str, env: &str, default: &str) -> String {
    std::env::args()
        .skip_while(|arg| arg != flag)
        .nth(1)
        .or_else(|| std::env::var(env).ok())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(LOG_FILTER)),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("example-sqlite: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let addr = arg("--addr", "ADDR", "127.0.0.1:3000");
    let addr: SocketAddr = addr
        .parse()
        .map_err(|error| format!("--addr/ADDR {addr:?}: {error}"))?;
    let database = PathBuf::from(arg("--database", "DATABASE_PATH", Config::DEFAULT_DATABASE));
    let session_key = match std::env::var("SESSION_KEY") {
        Ok(text) => {
            Some(SessionKey::from_base64(&text).map_err(|error| format!("SESSION_KEY: {error}"))?)
        }
        Err(_) => None,
    };
    let mfa_key = match std::env::var("MFA_KEY") {
        Ok(text) => {
            Some(EncryptionKey::from_base64(&text).map_err(|error| format!("MFA_KEY: {error}"))?)
        }
        Err(_) => None,
    };
    let public_url = std::env::var("PUBLIC_URL").unwrap_or_else(|_| format!("http://{addr}"));
    let demo = Demo::new(Config {
        database: database.clone(),
        session_key,
        mfa_key,
        public_url,
        smtp_url: std::env::var("SMTP_URL").ok(),
        oidc: oidc_config()?,
    })
    .await
    .map_err(|error| error.to_string())?;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    let addr = listener.local_addr().map_err(|error| error.to_string())?;
    tracing::info!(database = %database.display(), "database ready");
    if addr.ip().is_loopback() {
        tracing::info!(
            "the session cookie's `Secure` flag is off: this demo serves plain HTTP on loopback (behind TLS, turn it on)"
        );
    } else {
        tracing::warn!(
            "the session cookie's `Secure` flag is off and {addr} is not loopback: session cookies travel in clear text; serve this behind TLS with `Secure` on"
        );
    }
    for (username, password, role) in SEED_USERS {
        tracing::info!("demo user: {username} / {password} (role {role})");
    }
    tracing::info!("listening on http://{addr}");
    // With the client's address, which the login throttle counts failed logins by.
    let app = demo
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|error| error.to_string())?;
    tracing::info!("shut down");
    Ok(())
}

/// The provider from `OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET` (and `OIDC_NAME`):
/// none when `OIDC_ISSUER` is unset, an error when it is set without the client's id and secret.
fn oidc_config() -> Result<Option<OidcConfig>, String> {
    let Some(issuer) = std::env::var("OIDC_ISSUER")
        .ok()
        .filter(|issuer| !issuer.is_empty())
    else {
        return Ok(None);
    };
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("OIDC_ISSUER is set, and {name} is not"))
    };
    Ok(Some(OidcConfig {
        issuer,
        client_id: var("OIDC_CLIENT_ID")?,
        client_secret: var("OIDC_CLIENT_SECRET")?,
        name: std::env::var("OIDC_NAME")
            .ok()
            .filter(|name| !name.is_empty()),
    }))
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
