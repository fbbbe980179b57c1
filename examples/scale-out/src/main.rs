//! `cargo run -p example-scale-out`: one instance of the scale-out demo, on `127.0.0.1:3004`.
//!
//! Environment: `SESSION_KEY` (base64, at least 32 bytes, the same on every instance; required),
//! `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), `REDIS_URL` (default
//! `redis://127.0.0.1:6379`), `INSTANCE` (a name shown in responses; default the address),
//! `ADDR` or `--addr` (default `127.0.0.1:3004`).

use std::{net::SocketAddr, str::FromStr};

use axum_login::SessionKey;
use sqlx::postgres::PgConnectOptions;
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3004";

/// `--addr HOST:PORT`, `--addr=HOST:PORT`, else `ADDR`, else the default.
fn addr() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = std::env::var("ADDR").ok();
    while let Some(arg) = args.next() {
        if arg == "--addr" {
            addr = Some(
                args.next()
                    .ok_or("--addr needs a value, e.g. --addr 127.0.0.1:3004")?,
            );
        } else if let Some(value) = arg.strip_prefix("--addr=") {
            addr = Some(value.to_owned());
        } else {
            return Err(format!(
                "unknown argument {arg:?}; usage: example-scale-out [--addr HOST:PORT]"
            ));
        }
    }
    let addr = addr.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    addr.parse()
        .map_err(|_| format!("not an address: {addr:?}"))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = addr()?;
    // No random fallback: a key per instance would make every session work only on the
    // instance that created it, which is the bug this example exists to avoid.
    let key = std::env::var("SESSION_KEY").map_err(|_| {
        "set SESSION_KEY to the same secret on every instance, e.g. SESSION_KEY=$(openssl rand -base64 48)"
    })?;
    let key = SessionKey::from_base64(&key)?;
    let database_url = env_or("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test");
    let redis_url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let instance = env_or("INSTANCE", &addr.to_string());

    let store =
        example_scale_out::connect_users(PgConnectOptions::from_str(&database_url)?).await?;
    example_scale_out::migrate(&store).await?;
    example_scale_out::ensure_user(&store, "ferris", "hunter42").await?;
    let sessions = example_scale_out::connect_sessions(&redis_url).await?;

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::warn!(
        "serving plain HTTP on loopback: the session cookie's `Secure` flag is OFF; serve over TLS and keep it on anywhere else"
    );
    tracing::info!(%instance, "listening on http://{}; user ferris/hunter42", listener.local_addr()?);
    axum::serve(
        listener,
        example_scale_out::app(&instance, store, sessions, key),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
