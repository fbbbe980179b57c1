//! Garbage cookies cost the logs nearly nothing: the demo, logging at its default filter, is sent
//! requests whose session cookie is made up (a well-formed id no server issued) or malformed, on
//! a guarded page and a public one. All of them together may write no more than a couple of
//! lines: axum-login counts unknown ids and logs the count once a minute.
//!
//! `QUIET_LOGS_REQUESTS` sets how many requests (default 5 000; the README's figure is for
//! 50 000).
//!
//! A test binary of its own, because it installs the process's one tracing subscriber.

use std::{
    io,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use example_sqlite::{Config, Demo, LOG_FILTER};
use reqwest::{
    StatusCode,
    header::{ACCEPT, COOKIE},
};
use tower_sessions::session::Id;
use tracing_subscriber::EnvFilter;

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<u8>>>);

impl io::Write for Written {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The demo's session cookie (it is not `Secure`, so it has no `__Host-` prefix), for request
/// `n`: a well-formed id nobody issued, or junk of one kind or another.
fn garbage(n: usize) -> String {
    match n % 4 {
        0 | 1 => Id(rand::random::<i128>()).to_string(),
        2 => format!("{:x}", rand::random::<u128>()),
        _ => "%%%not-a-session%%%".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_garbage_cookies_write_almost_no_logs() {
    let written = Written::default();
    let sink = written.clone();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(LOG_FILTER))
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    let dir = tempfile::tempdir().expect("a temporary directory");
    let demo = Demo::new(Config {
        database: dir.path().join("demo.db"),
        session_key: None,
        mfa_key: None,
        ..Config::default()
    })
    .await
    .expect("the demo starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let router = demo.router();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("the demo serves");
    });

    let before = written.0.lock().expect("log lock").len();
    let requests: usize = std::env::var("QUIET_LOGS_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let workers = 8;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for n in (worker..requests).step_by(workers) {
                let (path, expected) = if n % 2 == 0 {
                    ("/protected", StatusCode::UNAUTHORIZED)
                } else {
                    ("/", StatusCode::OK)
                };
                let response = client
                    .get(format!("http://{addr}{path}"))
                    .header(ACCEPT, "application/json")
                    .header(COOKIE, format!("id={}", garbage(n)))
                    .send()
                    .await
                    .expect("the demo answers");
                assert_eq!(response.status(), expected, "{path}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a worker finished");
    }

    let logs = written.0.lock().expect("log lock");
    let bytes = logs.len() - before;
    let text = String::from_utf8_lossy(&logs[before..]).into_owned();
    eprintln!("{requests} requests with garbage cookies wrote {bytes} bytes of logs");
    // 100 KB for 50 000 requests is 2 bytes a request: a few lines in all, not one a request.
    assert!(
        bytes <= 2 * requests.max(1_000),
        "{requests} garbage cookies wrote {bytes} bytes:\n{}",
        text.chars().take(2_000).collect::<String>()
    );
}
