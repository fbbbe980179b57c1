//! `cargo run -p example-permissions`: the permissions demo on `127.0.0.1:3002` (`--addr` or `ADDR` to change).

use std::net::SocketAddr;

use axum_login::SessionKey;
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3002";

/// `--addr HOST:PORT`, `--addr=HOST:PORT`, else `ADDR`, else the default.
fn addr() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = std::env::var("ADDR").ok();
    while let Some(arg) = args.next() {
        if arg == "--addr" {
            addr = Some(
                args.next()
                    .ok_or("--addr needs a value, e.g. --addr 127.0.0.1:3002")?,
            );
        } else if let Some(value) = arg.strip_prefix("--addr=") {
            addr = Some(value.to_owned());
        } else {
            return Err(format!(
                "unknown argument {arg:?}; usage: example-permissions [--addr HOST:PORT]"
            ));
        }
    }
    let addr = addr.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    addr.parse()
        .map_err(|_| format!("not an address: {addr:?}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = addr()?;
    let key = match std::env::var("SESSION_KEY") {
        Ok(text) => SessionKey::from_base64(&text)?,
        // Sessions are in memory, so they end with the process anyway.
        Err(_) => SessionKey::generate(),
    };
    let store = example_permissions::seeded_store().await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::warn!(
        "serving plain HTTP on loopback: the session cookie's `Secure` flag is OFF; serve over TLS and keep it on anywhere else"
    );
    tracing::info!(
        "listening on http://{}; users: admin/correct-horse-battery, erin/editor-pass, alice/author-pass, bob/author-pass, mallory/muted-pass, carol/reader-pass",
        listener.local_addr()?
    );
    axum::serve(listener, example_permissions::app(store, key))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
