//! One run, one table: bare axum, tower-sessions alone, axum-login 0.18 and this axum-login
//! (as configured by default, with batching turned off, and with its user cache), each served
//! in-process on its own loopback port over the same SQLite users and the same kind of session store, driven by keep-alive HTTP/1.1
//! connections that each logged in once before measuring.
//!
//! With `DATABASE_URL_POSTGRES` and `REDIS_URL` both set, the same run also measures the
//! deployment shape, in the same interleaved rounds and printed as a second table: users in
//! PostgreSQL (the same rows, in a schema of the run's own, dropped at the end) and sessions
//! in Redis, for bare axum, tower-sessions alone, axum-login 0.18 and ours (default, user
//! cache, three permissions). Every row of that shape uses the same session store,
//! `tower-sessions-redis-store`'s `RedisStore` over one `fred` pool of
//! [`REDIS_POOL`] clients, and the same PostgreSQL pool size as the SQLite one; ours takes it
//! wrapped in `CheckThenSave`, which its session layer needs for a store it has no atomic
//! backend for. That shape also serves the app as the README writes it (`derived`: users from
//! `#[derive(UserStore)]`, permissions from a join table), with the generated load query and
//! with a custom one that leaves the permissions to a query of their own. Without both
//! variables only the one-process shape runs, and the run says so.
//!
//! Every row is a `GET` but `4p`/`4pc`: a `POST` to the guarded route, the request the CSRF
//! layer checks, without it and with it (the connection sends the token it read once, in
//! `X-CSRF-Token`, as a JSON client does).
//!
//! `cargo run --release -p bench`; knobs: `BENCH_CONNS` (connections per row, default 16),
//! `BENCH_ROUNDS` (interleaved rounds, default 8), `BENCH_SECS` (seconds per row per round,
//! default 0.5), `BENCH_LOGINS` (logins in flight for the login check, default 32),
//! `BENCH_ONLY` (rows to measure, e.g. `5,2`; `L` for the login check, `T` for the throttle's
//! cost on a login).

mod client;
mod db;
mod derived;
mod ours;
mod throttle;
mod upstream;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Form, Router, http::StatusCode, routing::get};
use client::{Conn, Method, Samples, drive};
use db::Calls;
use ours::Extra;
use tower_sessions::{MemoryStore, Session, SessionManagerLayer, SessionStore};
use tower_sessions_redis_store::RedisStore;

/// Clients in the deployment shape's Redis pool, shared by every server of that shape.
const REDIS_POOL: usize = 4;

pub(crate) const BODY: &str = "hello";

pub(crate) async fn hello() -> &'static str {
    BODY
}

#[derive(Clone, serde::Deserialize)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// tower-sessions alone over `store`: the handler reads one value from the session.
fn sessions_only<S: SessionStore + Clone>(store: S) -> Router {
    async fn read(session: Session) -> Result<&'static str, StatusCode> {
        let user: Option<i64> = session
            .get("user_id")
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        user.map(|_| BODY).ok_or(StatusCode::UNAUTHORIZED)
    }
    async fn login(
        session: Session,
        Form(_): Form<Credentials>,
    ) -> Result<&'static str, StatusCode> {
        session
            .insert("user_id", 1_i64)
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok("logged in")
    }
    Router::new()
        .route("/public", get(read))
        .route("/login", axum::routing::post(login))
        .layer(SessionManagerLayer::new(store).with_secure(false))
}

struct Server {
    addr: SocketAddr,
    visitor: Visitor,
    calls: Option<Calls>,
    conns: Vec<Conn>,
}

struct Row {
    label: &'static str,
    server: usize,
    method: Method,
    path: &'static str,
    /// The axum-login 0.18 row this one is compared with.
    versus: Option<&'static str>,
    latencies: Vec<u64>,
    /// Requests per second in each round.
    rates: Vec<f64>,
    all_requests: u64,
    calls: u64,
}

impl Row {
    fn new(
        label: &'static str,
        server: usize,
        path: &'static str,
        versus: Option<&'static str>,
    ) -> Self {
        Self {
            label,
            server,
            method: Method::Get,
            path,
            versus,
            latencies: Vec::new(),
            rates: Vec::new(),
            all_requests: 0,
            calls: 0,
        }
    }

    /// The row as a `POST` to its path.
    fn post(self) -> Self {
        Self {
            method: Method::Post,
            ..self
        }
    }

    /// The median over the rounds of this row's rate divided by `other`'s: every round measures
    /// each row once, back to back, so a slow stretch of the machine that falls on a round
    /// slows both rows of the pair and cancels out of that round's ratio. The targets compare
    /// rows this way; the tables show each row's median round.
    fn paired(&self, other: &Row) -> f64 {
        let mut ratios: Vec<f64> = self
            .rates
            .iter()
            .zip(&other.rates)
            .map(|(mine, theirs)| mine / theirs)
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios.get(ratios.len() / 2).copied().unwrap_or(0.0)
    }

    /// The median round's requests per second: the machine is shared, and a burst of someone
    /// else's work hits one round of one row, not the median.
    fn rate(&self) -> f64 {
        let mut rates = self.rates.clone();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied().unwrap_or(0.0)
    }
}

fn percentile(sorted: &[u64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)] as f64 / 1000.0
}

/// How a server's connections are set up before measuring.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visitor {
    /// Not logged in: a server without logins (bare axum).
    Anonymous,
    /// Logged in as its own user.
    LoggedIn,
    /// Logged in, then one `GET /csrf-token` for the token its `POST`s carry, as a JSON
    /// client reads it once.
    WithCsrfToken,
    /// Logged in, then one `POST /api-token` for an API token it sends from then on instead
    /// of its session cookie.
    WithApiToken,
}

/// Opens `n` connections to `addr`, each set up as `visitor` (argon2 runs here, once per
/// connection, never while measuring).
async fn logged_in(addr: SocketAddr, n: usize, visitor: Visitor) -> Result<Vec<Conn>, Error> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        tasks.spawn(async move {
            let mut conn = Conn::open(addr).await?;
            if visitor != Visitor::Anonymous {
                let body = format!(
                    "username={}&password={}",
                    db::username(i % db::USERS),
                    db::PASSWORD
                );
                let answer = conn.post_form("/login", &body).await?;
                if answer.status != 200 || answer.session_cookie.is_none() {
                    return Err(format!("login on {addr} answered {}", answer.status).into());
                }
                if visitor == Visitor::WithCsrfToken {
                    conn.fetch_csrf_token("/csrf-token").await?;
                }
                if visitor == Visitor::WithApiToken {
                    conn.fetch_api_token("/api-token").await?;
                }
            } else {
                // A server without logins (bare axum) still gets the request a browser sends:
                // a session cookie of the usual length, so every row parses the same headers.
                conn.set_cookie("AAAAAAAAAAAAAAAAAAAAAA");
            }
            Ok::<_, Error>(conn)
        });
    }
    let mut conns = Vec::with_capacity(n);
    while let Some(conn) = tasks.join_next().await {
        conns.push(conn??);
    }
    Ok(conns)
}

/// Runs every connection of `server` on `method path` for one slice.
async fn slice(
    server: &mut Server,
    method: Method,
    path: &str,
    warmup: Duration,
    duration: Duration,
) -> Result<(Vec<Samples>, u64), Error> {
    let before = server.calls.as_ref().map_or(0, Calls::get);
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in server.conns.drain(..) {
        conn.prepare(method, path);
        tasks.spawn(drive(conn, warmup, duration));
    }
    let mut samples = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (conn, sample) = result??;
        server.conns.push(conn);
        samples.push(sample);
    }
    let calls = server.calls.as_ref().map_or(0, Calls::get) - before;
    Ok((samples, calls))
}

struct LoginCheck {
    idle: (f64, f64),
    busy: (f64, f64),
    logins_per_second: f64,
}

/// What runs beside the guarded route in the busy half of a [`login_check`].
#[derive(Clone, Copy)]
enum Beside {
    /// This many connections logging in back to back.
    Logins(usize),
    /// No logins: one thread in a busy loop at the password threads' priority (nice 19), the
    /// control that shows what any background work at that priority costs on this machine.
    BusyLoop,
}

/// p50 and p99 of `/guarded` on `server` idle, then with `beside` running.
async fn login_check(
    server: &mut Server,
    beside: Beside,
    warmup: Duration,
    duration: Duration,
) -> Result<LoginCheck, Error> {
    let summarize = |samples: Vec<Samples>| {
        let mut all: Vec<u64> = samples.into_iter().flat_map(|s| s.latencies).collect();
        all.sort_unstable();
        (percentile(&all, 50), percentile(&all, 99))
    };
    let (idle, _) = slice(server, Method::Get, "/guarded", warmup, duration).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut loggers = tokio::task::JoinSet::new();
    let logins = match beside {
        Beside::Logins(logins) => logins,
        Beside::BusyLoop => 0,
    };
    let busy_loop = matches!(beside, Beside::BusyLoop).then(|| {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let _ =
                thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
            let mut spins = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
        })
    });
    for i in 0..logins {
        let (stop, done, addr) = (stop.clone(), done.clone(), server.addr);
        loggers.spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let body = format!(
                "username={}&password={}",
                db::username(i % db::USERS),
                db::PASSWORD
            );
            while !stop.load(Ordering::Relaxed) {
                let answer = conn.post_form("/login", &body).await?;
                if answer.status != 200 {
                    return Err::<(), Error>(format!("login answered {}", answer.status).into());
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
    }
    // Let every login get in flight first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let before = done.load(Ordering::Relaxed);
    let (busy, _) = slice(server, Method::Get, "/guarded", warmup, duration).await?;
    let logins_per_second =
        (done.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    while let Some(result) = loggers.join_next().await {
        result??;
    }
    if let Some(busy_loop) = busy_loop {
        busy_loop.join().map_err(|_| "the busy loop panicked")?;
    }
    Ok(LoginCheck {
        idle: summarize(idle),
        busy: summarize(busy),
        logins_per_second,
    })
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The one-process shape's performance targets, computed from this run's rows (those
/// measured).
fn print_targets(rows: &[Row]) {
    let calls = |id: &str| {
        rows.iter()
            .find(|row| row.label.split(' ').next() == Some(id))
            .map(|row| row.calls as f64 / row.all_requests.max(1) as f64)
    };
    let row = |id: &str| {
        rows.iter()
            .find(|row| row.label.split(' ').next() == Some(id))
    };
    let ratio = |a: &str, b: &str| {
        let (a, b) = (row(a)?, row(b)?);
        Some((a.paired(b), a.rate() / b.rate()))
    };
    println!();
    println!("Performance targets (one process: SQLite users, in-memory sessions), from this run:");
    let checks = [
        (
            "public route behind our layer vs bare axum",
            ratio("6b", "1"),
            0.95,
        ),
        (
            "guarded, no cache, vs axum-login's login_required!",
            ratio("4", "3"),
            1.3,
        ),
        (
            "guarded, session registry and remember-me on vs off",
            ratio("4r", "4"),
            0.95,
        ),
        (
            "guarded, metrics and a timed session store on vs off",
            ratio("4m", "4"),
            0.95,
        ),
        ("guarded, CSRF layer on vs off", ratio("4c", "4"), 0.95),
        (
            "guarded, an API token vs a session, no cache",
            ratio("4t", "4"),
            0.95,
        ),
        (
            "guarded, an API token vs a session, user cache",
            ratio("5t", "5"),
            0.95,
        ),
        (
            "guarded POST, CSRF layer checking a header token vs off",
            ratio("4pc", "4p"),
            0.95,
        ),
        (
            "guarded, user cache, vs axum-login's login_required!",
            ratio("5", "3"),
            2.0,
        ),
        (
            "guarded, user cache, vs tower-sessions alone",
            ratio("5", "2"),
            0.85,
        ),
        (
            "three permissions, no cache, vs axum-login's permission_required!",
            ratio("7b", "7a"),
            2.0,
        ),
    ];
    for (what, measured, at_least) in checks {
        if let Some((paired, medians)) = measured {
            println!(
                "- {what}: {paired:.2}x round by round, {medians:.2}x from the medians (target at least {at_least}x): {}",
                verdict(paired >= at_least)
            );
        }
    }
    for (id, what, at_most) in [
        ("7b", "three permissions, no cache", 1.0),
        ("7c", "three permissions, user cache", 0.0),
    ] {
        if let Some(calls) = calls(id) {
            println!(
                "- {what}: {calls:.4} store calls per request (target at most {at_most}): {}",
                verdict(calls <= at_most)
            );
        }
    }
}

/// The deployment shape's performance targets (PostgreSQL users, Redis sessions), computed
/// from this run's rows (those measured).
fn print_deploy_targets(rows: &[Row]) {
    let row = |id: &str| {
        rows.iter()
            .find(|row| row.label.split(' ').next() == Some(id))
    };
    let ratio = |a: &str, b: &str| {
        let (a, b) = (row(a)?, row(b)?);
        Some((a.paired(b), a.rate() / b.rate()))
    };
    println!();
    println!("Performance targets (deployment: PostgreSQL users, Redis sessions), from this run:");
    let checks = [
        (
            "guarded, no cache, vs axum-login's login_required!",
            ratio("D4", "D3"),
            1.5,
        ),
        (
            "guarded, metrics and a timed session store on vs off",
            ratio("D4m", "D4"),
            0.95,
        ),
        ("guarded, CSRF layer on vs off", ratio("D4c", "D4"), 0.95),
        (
            "guarded, user cache, vs tower-sessions + Redis alone",
            ratio("D5", "D2"),
            0.9,
        ),
        (
            "three permissions, no cache, vs axum-login's permission_required!",
            ratio("D7b", "D7a"),
            5.0,
        ),
        (
            "three permissions, user cache, vs axum-login's permission_required!",
            ratio("D7c", "D7a"),
            5.0,
        ),
        (
            "public route behind our layer vs bare axum",
            ratio("D6b", "D1"),
            0.95,
        ),
    ];
    for (what, measured, at_least) in checks {
        if let Some((paired, medians)) = measured {
            println!(
                "- {what}: {paired:.2}x round by round, {medians:.2}x from the medians (target at least {at_least}x): {}",
                verdict(paired >= at_least)
            );
        }
    }
}

/// One table: `rows`, with `floor` the rate the last column divides by.
fn print_table(rows: &mut [Row], servers: &[Server], floor: f64) {
    println!(
        "| row | requests/s | p50 µs | p99 µs | store calls/request | vs axum-login 0.18 | vs floor |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for i in 0..rows.len() {
        rows[i].latencies.sort_unstable();
        let row = &rows[i];
        let calls = if servers[row.server].calls.is_some() {
            format!("{:.2}", row.calls as f64 / row.all_requests as f64)
        } else {
            "-".to_owned()
        };
        let versus = row
            .versus
            .and_then(|id| {
                rows.iter()
                    .find(|other| other.label.split(' ').next() == Some(id))
            })
            .map_or("-".to_owned(), |other| {
                format!("{:.2}x", row.rate() / other.rate())
            });
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {calls} | {versus} | {:.2}x |",
            row.label,
            row.rate(),
            percentile(&row.latencies, 50),
            percentile(&row.latencies, 99),
            row.rate() / floor,
        );
    }
}

/// The deployment shape's services, when both URLs are set.
struct Deploy {
    users: sqlx::PgPool,
    schema: String,
    sessions: RedisStore<fred::clients::Pool>,
    /// The same Redis through a pool whose every command has `fred`'s own timeout (row D4f).
    sessions_command_timeout: RedisStore<fred::clients::Pool>,
}

async fn open_deploy() -> Result<Option<Deploy>, Error> {
    use fred::prelude::{ClientLike, Config};
    let (Ok(postgres), Ok(redis)) = (
        std::env::var("DATABASE_URL_POSTGRES"),
        std::env::var("REDIS_URL"),
    ) else {
        return Ok(None);
    };
    let (users, schema) = db::open_postgres(&postgres).await?;
    let pool =
        fred::prelude::Builder::from_config(Config::from_url(&redis)?).build_pool(REDIS_POOL)?;
    pool.init().await?;
    let timed_pool = fred::prelude::Builder::from_config(Config::from_url(&redis)?)
        .with_performance_config(|config| {
            config.default_command_timeout = std::time::Duration::from_secs(2);
        })
        .build_pool(REDIS_POOL)?;
    timed_pool.init().await?;
    Ok(Some(Deploy {
        users,
        schema,
        sessions: RedisStore::new(pool),
        sessions_command_timeout: RedisStore::new(timed_pool),
    }))
}

fn main() -> Result<(), Error> {
    let conns: usize = env("BENCH_CONNS", 16);
    let rounds: usize = env("BENCH_ROUNDS", 8);
    let secs: f64 = env("BENCH_SECS", 0.5);
    let logins: usize = env("BENCH_LOGINS", 32);
    let warmup = Duration::from_millis(250);
    let duration = Duration::from_secs_f64(secs);

    // The servers get a runtime of their own with a worker per core; the load generator runs
    // on one more thread, so both share the machine the same way for every row.
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("server")
        .enable_all()
        .build()?;
    let serve = |router: Router| -> Result<SocketAddr, Error> {
        let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        server_rt.spawn(async move { axum::serve(listener, router).await });
        Ok(addr)
    };
    // The metrics recorder of row 4m, for the whole process as an app has it. Only row 4m
    // records per request (the other rows register no metrics and wrap no store); the login
    // check's password verifications record their histogram too. Drained as an app's scrape
    // would, every few seconds.
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            prometheus.run_upkeep();
        }
    });
    let pool = db::Users::Sqlite(server_rt.block_on(db::open())?);
    let memory = axum_login::session::MemoryStore::default;
    let (upstream_app, upstream_calls) = upstream::app(pool.clone(), MemoryStore::default());
    let (ours_app, ours_calls) =
        ours::app(pool.clone(), memory(), None, true, false, Extra::Nothing);
    let (cached_app, cached_calls) = ours::app(
        pool.clone(),
        memory(),
        Some(ours::cache()),
        true,
        false,
        Extra::Nothing,
    );
    let (single_app, single_calls) =
        ours::app(pool.clone(), memory(), None, false, false, Extra::Nothing);
    let (accounts_app, accounts_calls) =
        ours::app(pool.clone(), memory(), None, true, true, Extra::Nothing);
    // Row 4m: row 4 with the auth-event counters and its session store's calls timed.
    let (metrics_app, metrics_calls) = ours::app(
        pool.clone(),
        axum_login::metrics::Timed::new(memory()),
        None,
        true,
        false,
        Extra::Metrics,
    );
    // Row 4c: row 4 with the CSRF layer on every route (a `GET` passes it unchecked).
    let (csrf_app, csrf_calls) = ours::app(pool.clone(), memory(), None, true, false, Extra::Csrf);
    // Row 4pc: the same app on a server of its own, whose connections hold a token, so that
    // row 4c's sessions stay as they were without one.
    let (csrf_post_app, csrf_post_calls) =
        ours::app(pool.clone(), memory(), None, true, false, Extra::Csrf);
    let mut throttle_arms = vec![
        throttle::Arm::new(
            "argon2, default throttle",
            serve(ours::login_app(pool.clone(), true, false))?,
        ),
        throttle::Arm::new(
            "argon2, Throttle::disabled()",
            serve(ours::login_app(pool.clone(), false, false))?,
        ),
        throttle::Arm::new(
            "plain comparison, default throttle",
            serve(ours::login_app(pool.clone(), true, true))?,
        ),
        throttle::Arm::new(
            "plain comparison, Throttle::disabled()",
            serve(ours::login_app(pool.clone(), false, true))?,
        ),
    ];
    let mut targets = vec![
        (
            serve(Router::new().route("/public", get(hello)))?,
            None,
            Visitor::Anonymous,
        ),
        (
            serve(sessions_only(MemoryStore::default()))?,
            None,
            Visitor::LoggedIn,
        ),
        (
            serve(upstream_app)?,
            Some(upstream_calls),
            Visitor::LoggedIn,
        ),
        (serve(ours_app)?, Some(ours_calls), Visitor::LoggedIn),
        (serve(cached_app)?, Some(cached_calls), Visitor::LoggedIn),
        (serve(single_app)?, Some(single_calls), Visitor::LoggedIn),
        (
            serve(accounts_app)?,
            Some(accounts_calls),
            Visitor::LoggedIn,
        ),
        (serve(metrics_app)?, Some(metrics_calls), Visitor::LoggedIn),
        (serve(csrf_app)?, Some(csrf_calls), Visitor::LoggedIn),
        (
            serve(csrf_post_app)?,
            Some(csrf_post_calls),
            Visitor::WithCsrfToken,
        ),
    ];
    let deploy = server_rt.block_on(open_deploy())?;
    if let Some(deploy) = &deploy {
        let users = db::Users::Postgres(deploy.users.clone());
        let redis = || deploy.sessions.clone();
        let ours_redis = || axum_login::session::CheckThenSave::new(redis());
        let (upstream_app, upstream_calls) = upstream::app(users.clone(), redis());
        let (ours_app, ours_calls) = ours::app(
            users.clone(),
            ours_redis(),
            None,
            true,
            false,
            Extra::Nothing,
        );
        let (cached_app, cached_calls) = ours::app(
            users.clone(),
            ours_redis(),
            Some(ours::cache()),
            true,
            false,
            Extra::Nothing,
        );
        let derived_app = derived::app::<derived::User, _>(deploy.users.clone(), ours_redis());
        let by_table_app =
            derived::app::<derived::UserByTable, _>(deploy.users.clone(), ours_redis());
        // Rows D4m and D4c: row D4 with the metrics (its session store timed as the layer sees
        // it, `CheckThenSave` included), and with the CSRF layer.
        let (metrics_app, metrics_calls) = ours::app(
            users.clone(),
            axum_login::metrics::Timed::new(ours_redis()),
            None,
            true,
            false,
            Extra::Metrics,
        );
        let (csrf_app, csrf_calls) =
            ours::app(users.clone(), ours_redis(), None, true, false, Extra::Csrf);
        // Row D4f: row D4 with a command timeout on the Redis client as well as the session
        // layer's bound, what a client configured for every store at once does to the sessions.
        let (command_timeout_app, command_timeout_calls) = ours::app(
            users.clone(),
            axum_login::session::CheckThenSave::new(deploy.sessions_command_timeout.clone()),
            None,
            true,
            false,
            Extra::Nothing,
        );
        targets.extend([
            (serve(sessions_only(redis()))?, None, Visitor::LoggedIn),
            (
                serve(upstream_app)?,
                Some(upstream_calls),
                Visitor::LoggedIn,
            ),
            (serve(ours_app)?, Some(ours_calls), Visitor::LoggedIn),
            (serve(cached_app)?, Some(cached_calls), Visitor::LoggedIn),
            (serve(derived_app)?, None, Visitor::LoggedIn),
            (serve(by_table_app)?, None, Visitor::LoggedIn),
            (serve(metrics_app)?, Some(metrics_calls), Visitor::LoggedIn),
            (serve(csrf_app)?, Some(csrf_calls), Visitor::LoggedIn),
            (
                serve(command_timeout_app)?,
                Some(command_timeout_calls),
                Visitor::LoggedIn,
            ),
        ]);
    } else {
        println!(
            "Deployment shape (PostgreSQL users, Redis sessions) not measured: set DATABASE_URL_POSTGRES and REDIS_URL to add it to this run."
        );
    }

    // Rows 4t and 5t: rows 4 and 5 with API tokens, each connection sending its token
    // instead of its session cookie; after the deployment shape's servers, whose numbers stay.
    let tokens_server = targets.len();
    let (tokens_app, tokens_calls) =
        ours::app(pool.clone(), memory(), None, true, false, Extra::Tokens);
    let (cached_tokens_app, cached_tokens_calls) = ours::app(
        pool.clone(),
        memory(),
        Some(ours::cache()),
        true,
        false,
        Extra::Tokens,
    );
    // Row 4pa: row 4p's app again, on a server of its own as row 4pc's is (the control).
    let control_server = targets.len() + 2;
    let (control_app, control_calls) =
        ours::app(pool.clone(), memory(), None, true, false, Extra::Nothing);
    targets.extend([
        (
            serve(tokens_app)?,
            Some(tokens_calls),
            Visitor::WithApiToken,
        ),
        (
            serve(cached_tokens_app)?,
            Some(cached_tokens_calls),
            Visitor::WithApiToken,
        ),
        (serve(control_app)?, Some(control_calls), Visitor::LoggedIn),
    ]);

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("client")
        .enable_all()
        .build()?;
    let result = client_rt.block_on(async {
        let mut servers = Vec::new();
        for (addr, calls, visitor) in targets {
            servers.push(Server {
                addr,
                visitor,
                calls,
                conns: logged_in(addr, conns, visitor).await?,
            });
        }
        let mut rows = vec![
            Row::new("1 bare axum (floor)", 0, "/public", None),
            Row::new("2 tower-sessions alone, reads a value", 1, "/public", None),
            Row::new("3 axum-login 0.18, login_required!", 2, "/guarded", None),
            Row::new("4 ours, #[require_login], no cache", 3, "/guarded", Some("3")),
            Row::new(
                "4a ours, #[require_login], no cache, batching off",
                5,
                "/guarded",
                Some("3"),
            ),
            Row::new(
                "4r ours, #[require_login], no cache, session registry + remember-me",
                6,
                "/guarded",
                Some("3"),
            ),
            Row::new(
                "4m ours, #[require_login], no cache, metrics + timed session store",
                7,
                "/guarded",
                Some("3"),
            ),
            Row::new(
                "4c ours, #[require_login], no cache, CSRF layer",
                8,
                "/guarded",
                Some("3"),
            ),
            Row::new("4p ours, #[require_login], no cache, POST", 3, "/guarded", None).post(),
            Row::new(
                "4pa the same POST on a server of its own (control)",
                control_server,
                "/guarded",
                None,
            )
            .post(),
            Row::new(
                "4pc ours, #[require_login], no cache, POST, CSRF layer checks the header token",
                9,
                "/guarded",
                None,
            )
            .post(),
            Row::new("5 ours, #[require_login], user cache", 4, "/guarded", Some("3")),
            Row::new(
                "4t ours, #[require_login], no cache, API token instead of the session",
                tokens_server,
                "/guarded",
                Some("3"),
            ),
            Row::new(
                "5t ours, #[require_login], user cache, API token instead of the session",
                tokens_server + 1,
                "/guarded",
                Some("3"),
            ),
            Row::new("6a axum-login 0.18, public route", 2, "/public", None),
            Row::new("6b ours, public route", 3, "/public", Some("6a")),
            Row::new("7a axum-login 0.18, permission_required! x3", 2, "/three", None),
            Row::new("7b ours, 3 permissions, no cache", 3, "/three", Some("7a")),
            Row::new("7c ours, 3 permissions, user cache", 4, "/three", Some("7a")),
        ];
        if deploy.is_some() {
            rows.extend([
                Row::new("D1 bare axum (floor)", 0, "/public", None),
                Row::new("D2 tower-sessions + Redis alone, reads a value", 10, "/public", None),
                Row::new("D3 axum-login 0.18, login_required!", 11, "/guarded", None),
                Row::new("D4 ours, #[require_login], no cache", 12, "/guarded", Some("D3")),
                Row::new(
                    "D4m ours, #[require_login], no cache, metrics + timed session store",
                    16,
                    "/guarded",
                    Some("D3"),
                ),
                Row::new(
                    "D4c ours, #[require_login], no cache, CSRF layer",
                    17,
                    "/guarded",
                    Some("D3"),
                ),
                Row::new(
                    "D4f ours, #[require_login], no cache, Redis client with a command timeout",
                    18,
                    "/guarded",
                    Some("D3"),
                ),
                Row::new("D5 ours, #[require_login], user cache", 13, "/guarded", Some("D3")),
                Row::new("D6a axum-login 0.18, public route", 11, "/public", None),
                Row::new("D6b ours, public route", 12, "/public", Some("D6a")),
                Row::new("D7a axum-login 0.18, permission_required! x3", 11, "/three", None),
                Row::new("D7b ours, 3 permissions, no cache", 12, "/three", Some("D7a")),
                Row::new("D7c ours, 3 permissions, user cache", 13, "/three", Some("D7a")),
                Row::new(
                    "D4d ours, derived SqlxStore, permissions table, no cache",
                    14,
                    "/guarded",
                    Some("D3"),
                ),
                Row::new(
                    "D4e the same, custom load query: a query per table",
                    15,
                    "/guarded",
                    Some("D3"),
                ),
                Row::new(
                    "D7d ours, derived SqlxStore, 3 permissions, no cache",
                    14,
                    "/three",
                    Some("D7a"),
                ),
                Row::new(
                    "D7e the same, custom load query: a query per table",
                    15,
                    "/three",
                    Some("D7a"),
                ),
            ]);
        }
        // For an outside load generator (`examples/bench/wrk.sh`): `BENCH_SERVE=D3,D4d` serves
        // those rows' apps until the process gets SIGINT, after printing, per row, its id, its
        // URL and the cookie of a session logged in as one user.
        if let Ok(serve) = std::env::var("BENCH_SERVE") {
            for id in serve.split(',').map(str::trim) {
                let row = rows
                    .iter()
                    .find(|row| row.label.split(' ').next() == Some(id))
                    .ok_or_else(|| format!("BENCH_SERVE: no row {id}"))?;
                let Server { addr, visitor, .. } = servers[row.server];
                let cookie = if visitor == Visitor::Anonymous {
                    // As the measured rows send it: a cookie of the usual length.
                    "AAAAAAAAAAAAAAAAAAAAAA".to_owned()
                } else {
                    let mut conn = Conn::open(addr).await?;
                    let body =
                        format!("username={}&password={}", db::username(0), db::PASSWORD);
                    let answer = conn.post_form("/login", &body).await?;
                    match answer.session_cookie {
                        Some(cookie) if answer.status == 200 => cookie,
                        _ => {
                            return Err(
                                format!("login on {addr} answered {}", answer.status).into()
                            );
                        }
                    }
                };
                println!("{id} http://{addr}{} id={cookie}", row.path);
            }
            println!("serving");
            // Until SIGINT; then the run ends as any other, dropping its PostgreSQL schema.
            tokio::signal::ctrl_c().await?;
            return Ok(());
        }
        // For profiling: `BENCH_ONLY=5,2` measures only the rows whose labels start so (and the
        // floor); `L` in the list runs the login check too.
        let only: Vec<String> = std::env::var("BENCH_ONLY")
            .map(|only| only.split(',').map(|s| format!("{} ", s.trim())).collect())
            .unwrap_or_default();
        rows.retain(|row| row.server == 0 || only.is_empty() || only.iter().any(|o| row.label.starts_with(o.as_str())));
        for round in 0..rounds {
            eprintln!("round {}/{rounds}", round + 1);
            for row in &mut rows {
                let (samples, calls) =
                    slice(
                    &mut servers[row.server],
                    row.method,
                    row.path,
                    warmup,
                    duration,
                )
                .await?;
                let mut longest = Duration::ZERO;
                let mut requests = 0;
                for sample in samples {
                    requests += sample.latencies.len();
                    row.all_requests += sample.latencies.len() as u64 + sample.warmup_requests;
                    row.latencies.extend_from_slice(&sample.latencies);
                    longest = longest.max(sample.elapsed);
                }
                row.rates.push(requests as f64 / longest.as_secs_f64());
                row.calls += calls;
            }
        }

        let deploy_rows = rows.iter().position(|row| row.label.starts_with('D'));
        let split = deploy_rows.unwrap_or(rows.len());
        let (one_process, deployed) = rows.split_at_mut(split);
        println!();
        println!(
            "{conns} keep-alive connections per row, {rounds} interleaved rounds of {secs} s per row (requests/s: the median round), {cores} cores"
        );
        println!();
        println!("One process: users in SQLite, sessions in memory");
        println!();
        let floor = one_process[0].rate();
        print_table(one_process, &servers, floor);
        if let Some(floor) = deployed.first().map(Row::rate) {
            println!();
            println!(
                "Deployment: users in PostgreSQL, sessions in Redis (tower-sessions-redis-store, {REDIS_POOL} clients), every row"
            );
            println!();
            print_table(deployed, &servers, floor);
        }

        print_targets(&rows);
        if deploy_rows.is_some() {
            print_deploy_targets(&rows);
        }

        if only.is_empty() || only.iter().any(|o| o == "T ") {
            throttle::check(&mut throttle_arms, conns, rounds, duration * 2).await?;
        }

        if !only.is_empty() && !only.iter().any(|o| o == "L ") {
            return Ok(());
        }
        // Logins in flight: argon2 never runs on the runtime either way; what differs is how
        // much CPU the checks leave to everything else.
        println!();
        println!(
            "Guarded route (ours, no cache, {conns} connections) with {logins} logins in flight:"
        );
        println!();
        println!("| password checks on | load | p50 µs | p99 µs | p99 / idle p99 |");
        println!("| --- | --- | ---: | ---: | ---: |");
        let mut library_p99 = 0.0;
        let mut busy_loop_p99 = 0.0;
        for (label, library, beside) in [
            ("tokio's blocking pool, unbounded", false, Beside::Logins(logins)),
            ("axum_login::password::verify_password", true, Beside::Logins(logins)),
            ("no logins (control)", true, Beside::BusyLoop),
        ] {
            db::use_library_hashing(library);
            let check = login_check(&mut servers[3], beside, warmup, duration * 4).await?;
            let ratio = check.busy.1 / check.idle.1;
            let load = match beside {
                Beside::Logins(logins) => format!(
                    "{logins} logins in flight ({:.1} logins/s)",
                    check.logins_per_second
                ),
                Beside::BusyLoop => {
                    busy_loop_p99 = ratio;
                    "one thread in a busy loop at nice 19".to_owned()
                }
            };
            if library && matches!(beside, Beside::Logins(_)) {
                library_p99 = ratio;
            }
            println!("| {label} | idle | {:.0} | {:.0} | 1.00x |", check.idle.0, check.idle.1);
            println!(
                "| {label} | {load} | {:.0} | {:.0} | {ratio:.2}x |",
                check.busy.0, check.busy.1,
            );
        }
        println!();
        println!(
            "- logins: the guarded route's p99 with {logins} logins in flight is {library_p99:.2}x its idle p99 (target at most 2x): {}",
            verdict(library_p99 <= 2.0)
        );
        println!(
            "  (control: one busy loop at the password threads' priority, no logins: {busy_loop_p99:.2}x)"
        );
        Ok::<(), Error>(())
    });
    if let Some(deploy) = &deploy {
        server_rt.block_on(db::drop_postgres(&deploy.users, &deploy.schema))?;
    }
    result?;
    server_rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
