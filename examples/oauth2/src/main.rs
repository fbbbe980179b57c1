//! `cargo run -p example-oauth2`: log in with an OAuth2 provider, on `127.0.0.1:3003`.
//!
//! Configuration, each from `--name value` or the environment variable in capitals
//! (`--client-id` or `OAUTH2_CLIENT_ID`, ...):
//! `--addr`/`ADDR`, `--client-id`, `--client-secret`, `--auth-url`, `--token-url`,
//! `--userinfo-url`, `--redirect-url` (default `http://<addr>/auth/callback`), `--scopes`
//! (space-separated). The defaults are GitHub's endpoints.

use std::{collections::HashMap, net::SocketAddr};

use axum_login::SessionKey;
use example_oauth2::{ProviderConfig, ProviderUsers};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: example-oauth2 [--addr HOST:PORT] [--client-id ID] [--client-secret SECRET] [--auth-url URL] [--token-url URL] [--userinfo-url URL] [--redirect-url URL] [--scopes \"a b\"]";

/// `--name value` or `--name=value` from the command line.
fn flags() -> Result<HashMap<String, String>, String> {
    let mut flags = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}; {USAGE}"));
        };
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (
                flag.to_owned(),
                args.next()
                    .ok_or_else(|| format!("--{flag} needs a value; {USAGE}"))?,
            ),
        };
        flags.insert(name, value);
    }
    Ok(flags)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let flags = flags()?;
    let setting = |flag: &str, env: &str, default: Option<&str>| -> Result<String, String> {
        flags
            .get(flag)
            .cloned()
            .or_else(|| std::env::var(env).ok())
            .or_else(|| default.map(str::to_owned))
            .ok_or_else(|| format!("set --{flag} or {env}; {USAGE}"))
    };
    let addr: SocketAddr = setting("addr", "ADDR", Some("127.0.0.1:3003"))?.parse()?;
    let config = ProviderConfig {
        client_id: setting("client-id", "OAUTH2_CLIENT_ID", None)?,
        client_secret: setting("client-secret", "OAUTH2_CLIENT_SECRET", None)?,
        auth_url: setting(
            "auth-url",
            "OAUTH2_AUTH_URL",
            Some("https://github.com/login/oauth/authorize"),
        )?,
        token_url: setting(
            "token-url",
            "OAUTH2_TOKEN_URL",
            Some("https://github.com/login/oauth/access_token"),
        )?,
        userinfo_url: setting(
            "userinfo-url",
            "OAUTH2_USERINFO_URL",
            Some("https://api.github.com/user"),
        )?,
        redirect_url: setting(
            "redirect-url",
            "OAUTH2_REDIRECT_URL",
            Some(&format!("http://{addr}/auth/callback")),
        )?,
        scopes: setting("scopes", "OAUTH2_SCOPES", Some("read:user"))?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    };
    let key = match std::env::var("SESSION_KEY") {
        Ok(text) => SessionKey::from_base64(&text)?,
        // Sessions are in memory, so they end with the process anyway.
        Err(_) => SessionKey::generate(),
    };
    let app = example_oauth2::app(&config, ProviderUsers::default(), key)?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::warn!(
        "serving plain HTTP on loopback: the session cookie's `Secure` flag is OFF; serve over TLS and keep it on anywhere else"
    );
    tracing::info!(
        ?config,
        "listening on http://{}; open /login",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
