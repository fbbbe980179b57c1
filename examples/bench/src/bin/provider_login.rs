//! What a sign-in with an OpenID Connect provider costs the server, beside a password login, in
//! one run: `cargo run --release -p bench --bin provider_login`.
//!
//! The demo (`examples/sqlite`) signs in with the test helpers' fake provider, served in this
//! process on loopback (discovery, keys, token endpoint; RS256 ID tokens):
//!
//! - **provider sign-in**: `GET /login/oidc` (the redirect), the fake's authorization redirect,
//!   and `GET /login/oidc/callback` (the code exchange with the fake, the ID token checked, the
//!   login); the callback alone is timed too, and the requests the fake received are counted;
//! - **password login**: `GET /login` (the form's CSRF token) and `POST /login` (argon2id);
//! - **ID-token check alone**: the `openidconnect` verifier as the crate configures it (the
//!   asymmetric allow-list, the time and issue-time checks, the nonce compared in constant
//!   time) on one RS256 token of the fake, without HTTP.
//!
//! `PROVIDER_LOGINS` sets the sign-ins per kind (default 200; a tenth of them for passwords,
//! which take tens of milliseconds each).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum_login_tests::fake_oidc::{DISCOVERY_PATH, FakeProvider, JWKS_PATH, TOKEN_PATH};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, TokenResponse as _,
    core::{
        CoreAuthenticationFlow, CoreClient, CoreIdTokenVerifier, CoreJwsSigningAlgorithm,
        CoreProviderMetadata,
    },
};
use reqwest::header::LOCATION;
use subtle::ConstantTimeEq as _;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let logins: usize = std::env::var("PROVIDER_LOGINS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let fake = FakeProvider::start(&[("bench", "bench-secret")]).await;
    fake.set_user("bench-sub", Some("bench@example.com"), true);
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let demo = example_sqlite::Demo::new(example_sqlite::Config {
        database: dir.path().join("demo.db"),
        public_url: format!("http://{addr}"),
        oidc: Some(example_sqlite::OidcConfig {
            issuer: fake.issuer.clone(),
            client_id: "bench".to_owned(),
            client_secret: "bench-secret".to_owned(),
            name: Some("Fake".to_owned()),
        }),
        ..example_sqlite::Config::default()
    })
    .await?;
    let app = demo.router();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let base = format!("http://{addr}");

    // The first sign-in makes the user, and the first request fetches discovery and keys:
    // neither is the steady state measured below.
    provider_sign_in(&fake, &base).await?;
    let (discovery, keys, tokens) = (
        fake.requests(DISCOVERY_PATH),
        fake.requests(JWKS_PATH),
        fake.requests(TOKEN_PATH),
    );
    let mut whole = Vec::with_capacity(logins);
    let mut callbacks = Vec::with_capacity(logins);
    for _ in 0..logins {
        let (all, callback) = provider_sign_in(&fake, &base).await?;
        whole.push(all);
        callbacks.push(callback);
    }
    let per_login = |now: usize, before: usize| (now - before) as f64 / logins as f64;
    let requests = (
        per_login(fake.requests(DISCOVERY_PATH), discovery),
        per_login(fake.requests(JWKS_PATH), keys),
        per_login(fake.requests(TOKEN_PATH), tokens),
    );

    let passwords = (logins / 10).max(5);
    let mut password_logins = Vec::with_capacity(passwords);
    for _ in 0..passwords {
        password_logins.push(password_login(&base).await?);
    }

    let checks = verification(&fake, logins * 10).await?;

    println!(
        "provider sign-in against password login, {logins} sign-ins, {passwords} password logins"
    );
    println!("| what | median | mean |");
    println!("|---|---|---|");
    row(
        "provider sign-in, whole (3 requests to the app, 1 to the provider's page)",
        &whole,
    );
    row(
        "provider sign-in, the callback alone (code exchange, ID token, login)",
        &callbacks,
    );
    row(
        "password login (form, then POST with argon2id)",
        &password_logins,
    );
    row("ID-token check alone (RS256, no HTTP)", &checks);
    println!(
        "requests from the server to the provider per sign-in: discovery {:.2}, keys {:.2}, token {:.2}",
        requests.0, requests.1, requests.2
    );
    Ok(())
}

fn row(what: &str, samples: &[Duration]) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let mean = samples.iter().sum::<Duration>() / u32::try_from(samples.len()).unwrap_or(1);
    println!("| {what} | {median:.1?} | {mean:.1?} |");
}

fn browser() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// One whole sign-in in a new browser, and its callback alone.
async fn provider_sign_in(fake: &FakeProvider, base: &str) -> Result<(Duration, Duration), Error> {
    let browser = browser()?;
    let started = Instant::now();
    let response = browser.get(format!("{base}/login/oidc")).send().await?;
    let to_provider = response
        .headers()
        .get(LOCATION)
        .ok_or("no redirect to the provider")?
        .to_str()?
        .to_owned();
    let callback = fake.sign_in(&to_provider).await;
    let at_callback = Instant::now();
    let response = browser.get(callback.as_str()).send().await?;
    let done = Instant::now();
    if response.status() != reqwest::StatusCode::SEE_OTHER {
        return Err(format!("the callback answered {}", response.status()).into());
    }
    Ok((done - started, done - at_callback))
}

/// One password login of a seeded user in a new browser.
async fn password_login(base: &str) -> Result<Duration, Error> {
    let browser = browser()?;
    let started = Instant::now();
    let page = browser
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no CSRF token on the login page")?
        .to_owned();
    let response = browser
        .post(format!("{base}/login"))
        .form(&[
            ("username", "ferris"),
            ("password", "hunter42"),
            ("next", "/"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await?;
    let done = started.elapsed();
    if response.status() != reqwest::StatusCode::SEE_OTHER {
        return Err(format!("the login answered {}", response.status()).into());
    }
    Ok(done)
}

/// `rounds` checks of one ID token of `fake`, each with a verifier built as the crate builds
/// one per callback.
async fn verification(fake: &FakeProvider, rounds: usize) -> Result<Vec<Duration>, Error> {
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()?;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(fake.issuer.clone())?, &http).await?;
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new("bench".to_owned()),
        Some(ClientSecret::new("bench-secret".to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:9/cb".to_owned())?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let callback = fake.sign_in(url.as_str()).await;
    let code = callback
        .query_pairs()
        .find(|(key, _)| key == "code")
        .map(|(_, code)| code.into_owned())
        .ok_or("no code")?;
    let response = client
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await?;
    let token = response.id_token().ok_or("no ID token")?.clone();
    let algorithms = [
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha384,
        CoreJwsSigningAlgorithm::RsaSsaPssSha512,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    ];
    let expected = nonce.secret().clone();
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let now = chrono::Utc::now();
        let skew = chrono::Duration::seconds(60);
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new("bench".to_owned()),
            metadata.issuer().clone(),
            metadata.jwks().clone(),
        )
        .set_allowed_algs(algorithms.iter().cloned())
        .set_time_fn(move || now - skew)
        .set_issue_time_verifier_fn(move |issued| {
            if issued > now + skew {
                Err("issued in the future".to_owned())
            } else {
                Ok(())
            }
        });
        let claims = token.claims(&verifier, |found: Option<&Nonce>| match found {
            Some(found) if bool::from(found.secret().as_bytes().ct_eq(expected.as_bytes())) => {
                Ok(())
            }
            _ => Err("nonce".to_owned()),
        })?;
        std::hint::black_box(claims.subject());
        samples.push(started.elapsed());
    }
    Ok(samples)
}
