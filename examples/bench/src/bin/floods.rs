//! Resident memory before and after floods of requests that could make a server keep state for
//! strangers, on the demo's configuration (`examples/sqlite`) and on `examples/oauth2`:
//!
//! - `demo-login-page`: anonymous `GET /login`;
//! - `demo-bogus-cookies`: `GET /protected` with a made-up session id each time;
//! - `demo-failed-logins`: `POST /login` with a new username each time;
//! - `throttle-unique-usernames`: the same on a bare login route whose throttle never limits the
//!   address (as when the flood comes from a botnet), so every username takes a counter in the
//!   default `MemoryThrottleStore` (100 000 counters), after one account was locked; the flood
//!   passes with the account still locked, or fails;
//! - `oauth2-login`: anonymous `GET /login`, which starts a login at the provider.
//!
//! `cargo run --release -p bench --bin floods` runs each flood in a process of its own (so one
//! flood's memory is not counted in the next) and prints a table; `FLOOD_REQUESTS` sets the
//! requests per flood (default 200 000). `floods <name>` runs one.
//!
//! The resident set is read from `/proc/self/status` after the app started and served a warm-up
//! of 1 000 requests of the same kind, and again after the flood. The load generator runs in the
//! same process, with a fixed number of keep-alive connections, so its own memory does not grow
//! with the number of requests.

use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Instant};

use axum::Router;
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE};

const FLOODS: &[&str] = &[
    "demo-login-page",
    "demo-bogus-cookies",
    "demo-failed-logins",
    "throttle-unique-usernames",
    "oauth2-login",
];

/// Concurrent keep-alive connections.
const CONNECTIONS: usize = 16;

/// The resident set of this process, in bytes.
fn resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn main() -> ExitCode {
    let requests: usize = std::env::var("FLOOD_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    match std::env::args().nth(1) {
        Some(flood) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            match runtime.block_on(run(&flood, requests)) {
                Ok((before, after, seconds)) => {
                    println!("{flood} {requests} {before} {after} {seconds:.1}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("{flood}: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        None => table(),
    }
}

/// Each flood in a child process, then the table.
fn table() -> ExitCode {
    let exe = std::env::current_exe().expect("this program's path");
    println!(
        "| flood | requests | resident before (MB) | after (MB) | growth (MB) | target | seconds |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | --- | ---: |");
    let mut met = true;
    for flood in FLOODS {
        let output = std::process::Command::new(&exe)
            .arg(flood)
            .output()
            .expect("run a flood");
        let line = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<&str> = line.split_whitespace().collect();
        if !output.status.success() || fields.len() != 5 {
            eprintln!(
                "{flood} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            met = false;
            continue;
        }
        let mb = |bytes: &str| bytes.parse::<f64>().unwrap_or(0.0) / (1024.0 * 1024.0);
        let (before, after) = (mb(fields[2]), mb(fields[3]));
        let growth = after - before;
        let ok = growth <= 64.0;
        met &= ok;
        println!(
            "| {flood} | {} | {before:.1} | {after:.1} | {growth:.1} | <= 64 MB: {} | {} |",
            fields[1],
            if ok { "met" } else { "MISSED" },
            fields[4]
        );
    }
    if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One flood: the resident set after the warm-up, after the flood, and the flood's seconds.
async fn run(flood: &str, requests: usize) -> Result<(u64, u64, f64), Error> {
    let dir = tempfile::tempdir()?;
    // Kept to the end: dropping the demo stops its session cleanup.
    let mut demo = None;
    let app: Router = if flood.starts_with("demo-") {
        let started = example_sqlite::Demo::new(example_sqlite::Config {
            database: dir.path().join("demo.db"),
            session_key: None,
            mfa_key: None,
            ..example_sqlite::Config::default()
        })
        .await?;
        demo.insert(started).router()
    } else if flood == "throttle-unique-usernames" {
        throttled::app()
    } else if flood == "oauth2-login" {
        // A plain OAuth 2.0 provider: starting a login asks it nothing (no discovery).
        let provider = axum_login::oidc::Provider::oauth2(
            "flood",
            "https://provider.invalid",
            axum_login::oidc::OAuth2Endpoints {
                authorization: "https://provider.invalid/authorize".into(),
                token: "https://provider.invalid/token".into(),
                userinfo: "https://provider.invalid/userinfo".into(),
            },
            "flood",
            "flood",
            "http://127.0.0.1/auth/callback",
        )?;
        example_oauth2::app(
            provider,
            example_oauth2::ProviderUsers::default(),
            axum_login::SessionKey::generate(),
        )?
    } else {
        return Err(format!("unknown flood {flood}; one of {FLOODS:?}").into());
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONNECTIONS)
        .build()?;
    let flood: Arc<str> = flood.into();
    if &*flood == "throttle-unique-usernames" {
        throttled::lock(&client, addr).await?;
    }
    send(&client, addr, &flood, 1_000, 1_000_000_000).await?;
    let before = resident();
    let started = Instant::now();
    send(&client, addr, &flood, requests, 0).await?;
    let seconds = started.elapsed().as_secs_f64();
    let after = resident();
    if &*flood == "throttle-unique-usernames" && !throttled::still_locked(&client, addr).await? {
        return Err("the flood unlocked the locked account".into());
    }
    drop(demo);
    Ok((before, after, seconds))
}

/// `requests` requests of the flood over [`CONNECTIONS`] connections; request numbers start at
/// `offset`, so each flood's usernames are new.
async fn send(
    client: &reqwest::Client,
    addr: SocketAddr,
    flood: &Arc<str>,
    requests: usize,
    offset: usize,
) -> Result<(), Error> {
    let mut workers = Vec::new();
    for worker in 0..CONNECTIONS {
        let (client, flood) = (client.clone(), flood.clone());
        workers.push(tokio::spawn(async move {
            for n in (worker..requests).step_by(CONNECTIONS) {
                let n = n + offset;
                let request = match &*flood {
                    "demo-login-page" | "oauth2-login" => client
                        .get(format!("http://{addr}/login"))
                        .header(ACCEPT, "text/html"),
                    "demo-bogus-cookies" => client
                        .get(format!("http://{addr}/protected"))
                        .header(ACCEPT, "text/html")
                        .header(COOKIE, format!("id={}", bogus_id(n))),
                    _ => client
                        .post(format!("http://{addr}/login"))
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(format!("username=flood{n}&password=wrong")),
                };
                let response = request.send().await?;
                if response.status().is_server_error() {
                    return Err(Error::from(format!("{flood}: {}", response.status())));
                }
                // Read the body, so the connection goes back to the pool.
                response.bytes().await?;
            }
            Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// A well-formed session id that no server issued: 22 characters of URL-safe base64.
fn bogus_id(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut state = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..22)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // The last character carries 2 bits of the id and 4 zero bits.
            let digit = if i == 21 {
                (state % 4) * 16
            } else {
                state % 64
            };
            char::from(ALPHABET[digit as usize])
        })
        .collect()
}

/// The bare login route of the `throttle-unique-usernames` flood.
mod throttled {
    use std::net::SocketAddr;

    use axum::{
        Form, Router,
        http::StatusCode,
        response::{IntoResponse, Response},
        routing::post,
    };
    use axum_login::{
        AuthLayer, AuthSession, AuthUser, SessionKey, Throttle, UserStore,
        security::MemoryThrottleStore, session::MemoryStore, session_layer,
    };

    use super::Error;

    #[derive(Clone, Debug)]
    pub(super) struct User;

    impl AuthUser for User {
        type Id = u8;
        fn id(&self) -> u8 {
            1
        }
        fn session_auth_hash(&self) -> &[u8] {
            b"ferris"
        }
    }

    #[derive(Clone, serde::Deserialize)]
    pub(super) struct Credentials {
        username: String,
        password: String,
    }

    /// One user, `ferris`, whose password is `right`.
    #[derive(Clone)]
    struct Store;

    impl UserStore for Store {
        type User = User;
        type Credentials = Credentials;
        type Error = std::convert::Infallible;

        async fn authenticate(
            &self,
            credentials: Credentials,
        ) -> Result<Option<User>, Self::Error> {
            Ok(
                (credentials.username == "ferris" && credentials.password == "right")
                    .then_some(User),
            )
        }

        async fn load_user(&self, _: &u8) -> Result<Option<User>, Self::Error> {
            Ok(Some(User))
        }

        fn throttle_key(&self, credentials: &Credentials) -> Option<String> {
            Some(credentials.username.clone())
        }
    }

    async fn login(mut auth: AuthSession<Store>, Form(credentials): Form<Credentials>) -> Response {
        match auth.authenticate(credentials).await {
            Ok(Some(user)) => match auth.login(&user).await {
                Ok(()) => StatusCode::OK.into_response(),
                Err(error) => error.into_response(),
            },
            Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
            Err(error) => error.into_response(),
        }
    }

    pub(super) fn app() -> Router {
        // Ten failures lock an account at once (no backoff first, so the lock is quick to
        // set up); the address is never limited.
        let throttle = Throttle::new(MemoryThrottleStore::default())
            .backoff(10, std::time::Duration::from_secs(1))
            .max_failures_per_address(u32::MAX);
        let layer = AuthLayer::builder(
            Store,
            session_layer(MemoryStore::default()).with_secure(false),
        )
        .session_key(SessionKey::generate())
        .throttle(throttle)
        .no_login_redirect()
        .build();
        Router::new().route("/login", post(login)).layer(layer)
    }

    async fn attempt(
        client: &reqwest::Client,
        addr: SocketAddr,
        password: &str,
    ) -> Result<StatusCode, Error> {
        Ok(client
            .post(format!("http://{addr}/login"))
            .form(&[("username", "ferris"), ("password", password)])
            .send()
            .await?
            .status())
    }

    /// Locks `ferris`: ten wrong passwords, then the right one is refused.
    pub(super) async fn lock(client: &reqwest::Client, addr: SocketAddr) -> Result<(), Error> {
        for _ in 0..10 {
            attempt(client, addr, "wrong").await?;
        }
        if still_locked(client, addr).await? {
            Ok(())
        } else {
            Err("ten failures did not lock the account".into())
        }
    }

    pub(super) async fn still_locked(
        client: &reqwest::Client,
        addr: SocketAddr,
    ) -> Result<bool, Error> {
        Ok(attempt(client, addr, "right").await? == StatusCode::UNAUTHORIZED)
    }
}
