//! `cargo run -p example-ldap`: the demo's pages over an LDAP directory, on `127.0.0.1:3006`
//! (`--addr` or `ADDR` to change).
//!
//! The directory comes from the environment (`LDAP_URL`, `LDAP_BIND_DN`, `LDAP_BIND_PASSWORD`,
//! `LDAP_USER_BASE`, `LDAP_USER_FILTER`, `LDAP_ADMIN_GROUP`, `LDAP_USER_GROUP`, `LDAP_CA_CERT`,
//! `LDAP_STARTTLS`; see `example_ldap::Settings`); the defaults are the test directory of
//! `tests/ldap/start-slapd.sh`. `SESSION_KEY` (base64, 32+ bytes) keeps logins across restarts.

use std::net::SocketAddr;

use axum_login::SessionKey;
use example_ldap::Settings;
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3006";

/// `--addr HOST:PORT`, `--addr=HOST:PORT`, else `ADDR`, else the default.
fn addr() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = std::env::var("ADDR").ok();
    while let Some(arg) = args.next() {
        if arg == "--addr" {
            addr = Some(
                args.next()
                    .ok_or("--addr needs a value, e.g. --addr 127.0.0.1:3006")?,
            );
        } else if let Some(value) = arg.strip_prefix("--addr=") {
            addr = Some(value.to_owned());
        } else {
            return Err(format!(
                "unknown argument {arg:?}; usage: example-ldap [--addr HOST:PORT]"
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
    let settings = Settings::from_env()?;
    let store = example_ldap::store(&settings)?;
    if let Err(error) = store.connect().await {
        return Err(format!(
            "the directory at {} does not answer as configured: {error} (for the test directory, run tests/ldap/start-slapd.sh)",
            settings.url
        )
        .into());
    }
    let key = match std::env::var("SESSION_KEY") {
        Ok(text) => SessionKey::from_base64(&text)?,
        // Sessions are in memory, so they end with the process anyway.
        Err(_) => SessionKey::generate(),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    if addr.ip().is_loopback() {
        tracing::info!(
            "the session cookie's `Secure` flag is off: this demo serves plain HTTP on loopback (behind TLS, turn it on)"
        );
    } else {
        tracing::warn!(
            "the session cookie's `Secure` flag is off and {addr} is not loopback: session cookies travel in clear text; serve this behind TLS with `Secure` on"
        );
    }
    if settings.url.starts_with("ldap://") && !settings.starttls {
        tracing::warn!(
            url = %settings.url,
            "passwords go to the directory unencrypted: use ldaps:// or LDAP_STARTTLS=true beyond loopback"
        );
    }
    tracing::info!(directory = %settings.url, "listening on http://{addr}; test directory users: ferris/hunter42 (user), admin/correct-horse-battery (admin)");
    axum::serve(
        listener,
        example_ldap::app(store, key).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
