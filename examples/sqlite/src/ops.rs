//! What an operator reads: `GET /metrics` (Prometheus) and the health checks
//! (`GET /health/ready`, `GET /health/live`).
//!
//! The routes sit beside the auth layer, not under it: a scrape or a probe carries no cookie
//! and needs no session. A real deployment serves `/metrics` on an address of its own, or
//! behind the proxy's access rules; the demo serves it with the pages, on loopback.

use std::sync::{Mutex, PoisonError};

use axum::{
    Router,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use axum_login::health::Health;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// The buckets of the password-verification histogram, in seconds: argon2 at the default
/// parameters takes tens of milliseconds, and a queue of them shows as the upper buckets.
const PASSWORD_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The process's Prometheus recorder, installed as the `metrics` recorder by the first call:
/// there is one recorder per process, so every `Demo` of a process (the tests build several,
/// at once) shares it. The lock is held across the installation: of two first calls at once,
/// the second waits and gets the first one's handle, instead of failing to install its own.
pub(crate) fn prometheus() -> Result<PrometheusHandle, BuildError> {
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut installed = HANDLE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = &*installed {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("axum_login_password_verify_seconds".to_owned()),
            PASSWORD_BUCKETS,
        )?
        .install_recorder()?;
    *installed = Some(handle.clone());
    Ok(handle)
}

/// `/metrics`, `/health/ready` and `/health/live`.
pub(crate) fn router(metrics: PrometheusHandle, health: &Health) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { scrape(&metrics) }
            }),
        )
        .merge(health.router())
}

fn scrape(metrics: &PrometheusHandle) -> Response {
    // The recorder leaves histogram upkeep to the app: a scrape is when it is needed.
    metrics.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::prometheus;

    /// Demos started at once (the tests start several) all get the process's one recorder:
    /// the threads are released together, so their first calls overlap.
    #[test]
    fn first_calls_at_once_all_get_the_recorder() {
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    prometheus().map(|handle| handle.render().len())
                })
            })
            .collect();
        for thread in threads {
            let rendered = thread.join().expect("the thread ends");
            assert!(
                rendered.is_ok(),
                "a demo failed to get the recorder: {rendered:?}"
            );
        }
    }
}
