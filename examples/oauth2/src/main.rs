//! `cargo run -p example-oauth2`: log in with GitHub (or another plain OAuth 2.0 provider), on
//! `127.0.0.1:3003`.
//!
//! Configuration, each from `--name value` or the environment variable in capitals
//! (`--client-id` or `OAUTH2_CLIENT_ID`, ...): `--addr`/`ADDR`, `--client-id`,
//! `--client-secret`, `--redirect-url` (default `http://<addr>/auth/callback`). GitHub unless
//! `--auth-url`, `--token-url` and `--userinfo-url` name another provider, then with
//! `--issuer` (its identifier; default: the authorization URL's origin) and `--scopes`
//! (space-separated); its userinfo answer must name the account with `sub`.

use std::net::SocketAddr;

use axum_login::{
    SessionKey,
    oidc::{OAuth2Endpoints, Provider},
};
use example_oauth2::ProviderUsers;
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

/// Like [`arg`], for a setting without a default.
fn required(flag: &str, env: &str) -> Result<String, String> {
    Some(arg(flag, env, ""))
        .filter(|value| !value.is_empty())
        .ok_or_else(|| format!("set {flag} or {env}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr: SocketAddr = arg("--addr", "ADDR", "127.0.0.1:3003").parse()?;
    let client_id = required("--client-id", "OAUTH2_CLIENT_ID")?;
    let client_secret = required("--client-secret", "OAUTH2_CLIENT_SECRET")?;
    let redirect_url = arg(
        "--redirect-url",
        "OAUTH2_REDIRECT_URL",
        &format!("http://{addr}/auth/callback"),
    );
    let auth_url = arg("--auth-url", "OAUTH2_AUTH_URL", "");
    let provider = if auth_url.is_empty() {
        Provider::github(&client_id, client_secret, &redirect_url)?
    } else {
        let origin = url::Url::parse(&auth_url)?.origin().ascii_serialization();
        Provider::oauth2(
            "provider",
            &arg("--issuer", "OAUTH2_ISSUER", &origin),
            OAuth2Endpoints {
                authorization: auth_url,
                token: required("--token-url", "OAUTH2_TOKEN_URL")?,
                userinfo: required("--userinfo-url", "OAUTH2_USERINFO_URL")?,
            },
            &client_id,
            client_secret,
            &redirect_url,
        )?
        .scopes(arg("--scopes", "OAUTH2_SCOPES", "").split_whitespace())
    };
    let key = match std::env::var("SESSION_KEY") {
        Ok(text) => SessionKey::from_base64(&text)?,
        // Sessions are in memory, so they end with the process anyway.
        Err(_) => SessionKey::generate(),
    };
    tracing::info!(?provider, "signing in with this provider");
    let app = example_oauth2::app(provider, ProviderUsers::default(), key)?;
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
    tracing::info!("listening on http://{addr}; open /login");
    // With the client's address, for the login throttle.
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
