//! `cargo run -p example-permissions`: the permissions demo on `127.0.0.1:3002` (`--addr` or
//! `ADDR` to change).

use std::net::SocketAddr;

use axum_login::SessionKey;
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
    let addr: SocketAddr = arg("--addr", "ADDR", "127.0.0.1:3002").parse()?;
    let key = match std::env::var("SESSION_KEY") {
        Ok(text) => SessionKey::from_base64(&text)?,
        // The database is in memory, so sessions end with the process anyway.
        Err(_) => SessionKey::generate(),
    };
    let store = example_permissions::seeded_store().await?;
    let app = example_permissions::app(store, key).await?;
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
    tracing::info!(
        "listening on http://{addr}; users: admin/correct-horse-battery, erin/editor-pass, alice/author-pass, bob/author-pass, mallory/muted-pass, carol/reader-pass"
    );
    // With the client's address, which the login throttle counts failed logins by.
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
