//! `cargo run -p example-scale-out`: one instance of the scale-out demo, on `127.0.0.1:3004`.
//!
//! Environment (or the flag in brackets): `SESSION_KEY` (base64, at least 32 bytes, the same on
//! every instance; required), `DATABASE_URL` [`--database-url`] (default
//! `postgres://postgres@127.0.0.1:5432/test`), `REDIS_URL` [`--redis-url`] (default
//! `redis://127.0.0.1:6379`), `INSTANCE` [`--instance`] (a name shown in responses; default the
//! address), `ADDR` [`--addr`] (default `127.0.0.1:3004`).

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use axum_login::SessionKey;
use sqlx::postgres::PgConnectOptions;
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
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr: SocketAddr = arg("--addr", "ADDR", "127.0.0.1:3004").parse()?;
    // No random fallback: a key per instance would make every session work only on the
    // instance that created it, which is the bug this example exists to avoid.
    let key = std::env::var("SESSION_KEY").map_err(|_| {
        "set SESSION_KEY to the same secret on every instance, e.g. SESSION_KEY=$(openssl rand -base64 48)"
    })?;
    let key = SessionKey::from_base64(&key)?;
    let database_url = arg(
        "--database-url",
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let redis_url = arg("--redis-url", "REDIS_URL", "redis://127.0.0.1:6379");
    let instance = arg("--instance", "INSTANCE", &addr.to_string());
    let trusted_proxies = arg("--trusted-proxies", "TRUSTED_PROXIES", "")
        .split(',')
        .map(str::trim)
        .filter(|proxy| !proxy.is_empty())
        .map(|proxy| {
            proxy.parse::<IpAddr>().map_err(|error| {
                format!("TRUSTED_PROXIES: {proxy:?} is not an IP address: {error}")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let store =
        example_scale_out::connect_users(PgConnectOptions::from_str(&database_url)?).await?;
    example_scale_out::migrate(&store).await?;
    example_scale_out::ensure_user(&store, "ferris", "hunter42").await?;
    let redis = example_scale_out::connect_redis(&redis_url).await?;

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    if addr.ip().is_loopback() {
        tracing::info!(
            "the session cookie's `Secure` flag is off: this example serves plain HTTP on loopback (behind TLS, turn it on)"
        );
    } else {
        tracing::warn!(
            "the session cookie's `Secure` flag is off and {addr} is not loopback: session cookies travel in clear text; serve this behind TLS with `Secure` on"
        );
    }
    tracing::info!(%instance, "listening on http://{addr}; user ferris/hunter42");
    let throttle = example_scale_out::throttle(&redis, &trusted_proxies);
    let app = example_scale_out::app(&instance, store, &redis, key, throttle);
    // With the peer's address, which the login throttle counts failed logins by; behind a
    // load balancer named in TRUSTED_PROXIES, the client's address it forwards.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
