//! What the sqlx store costs on SQLite: `load_user` (in memory and in a file), 16 users loaded
//! one by one side by side or in one `load_users` batch (what the layer's batching does with
//! concurrent requests), a full authenticated request through `AuthLayer` (session lookup,
//! digest check, `load_user`), and `authenticate` (dominated by argon2id, by design).
//!
//! Run: `cargo bench -p axum-login@0.1.0 --features sqlx --bench sqlx_store`
//! (fewer iterations: `BENCH_ITERATIONS=500 cargo bench ...`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::{
    future::Future,
    str::FromStr,
    time::{Duration, Instant},
};

use axum::{Router, body::Body, http::Request, routing::get};
use axum_login::{
    AuthLayer, AuthSession, AuthUser, CurrentUser, PasswordCredentials, SessionKey, SqlxStore,
    UserStore,
};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tower_sessions::{MemoryStore, SessionManagerLayer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, axum_login::Role)]
enum Access {
    Admin,
    User,
}

#[derive(Clone, Debug, AuthUser, axum_login::UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
    #[auth(role)]
    role: Access,
}

type Store = SqlxStore<User, sqlx::Sqlite>;

struct Row {
    case: &'static str,
    iterations: usize,
    samples: Vec<Duration>,
}

impl Row {
    fn print(&self) {
        let mut sorted = self.samples.clone();
        sorted.sort();
        let total: Duration = sorted.iter().sum();
        let mean = total / u32::try_from(sorted.len()).unwrap();
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        println!(
            "| {:<44} | {:>6} | {:>10} | {:>10} | {:>10} |",
            self.case,
            self.iterations,
            format!("{mean:.1?}"),
            format!("{:.1?}", at(0.5)),
            format!("{:.1?}", at(0.99)),
        );
    }
}

async fn measure<F, Fut>(case: &'static str, iterations: usize, mut f: F) -> Row
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..iterations.min(50) {
        f().await;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    Row {
        case,
        iterations,
        samples,
    }
}

async fn store(options: SqliteConnectOptions, connections: u32) -> (Store, User) {
    let pool = SqlitePoolOptions::new()
        .max_connections(connections)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .unwrap();
    let store = Store::new(pool);
    sqlx::raw_sql(store.schema())
        .execute(store.pool())
        .await
        .unwrap();
    let user = store
        .create_user("ferris", "hunter42".to_owned().into())
        .await
        .unwrap();
    (store, user)
}

async fn log_in(mut auth: AuthSession<Store>) -> &'static str {
    let user = auth
        .authenticate(PasswordCredentials::new("ferris", "hunter42"))
        .await
        .unwrap()
        .unwrap();
    auth.login(&user).await.unwrap();
    "ok"
}

async fn me(CurrentUser(user): CurrentUser<User>) -> String {
    user.username
}

async fn call(router: &Router, request: Request<Body>) -> axum::response::Response {
    use tower_service::Service;
    let mut service = router.clone();
    std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut service, cx))
        .await
        .unwrap();
    service.call(request).await.unwrap()
}

#[tokio::main]
async fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000);
    let slow = (iterations / 250).max(5);
    let mut rows = Vec::new();

    let memory = SqliteConnectOptions::from_str("sqlite::memory:").unwrap();
    let (mem_store, mem_user) = store(memory, 1).await;
    rows.push(
        measure("load_user, SQLite in memory", iterations, || async {
            mem_store.load_user(&mem_user.id).await.unwrap().unwrap();
        })
        .await,
    );

    let path = std::env::temp_dir().join(format!("axum-login-bench-{}.db", std::process::id()));
    let file = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let (file_store, file_user) = store(file, 4).await;
    rows.push(
        measure("load_user, SQLite file", iterations, || async {
            file_store.load_user(&file_user.id).await.unwrap().unwrap();
        })
        .await,
    );

    // Sixteen users of concurrent requests: a load each, side by side on the pool's 4
    // connections, against one batch (one `IN` query).
    let mut ids = vec![file_user.id];
    for i in 1..16 {
        let user = file_store
            .create_user(&format!("user{i}"), "hunter42".to_owned().into())
            .await
            .unwrap();
        ids.push(user.id);
    }
    rows.push(
        measure(
            "16 users, load_user each side by side, file",
            iterations / 4,
            || async {
                let users = futures_util::future::try_join_all(
                    ids.iter().map(|id| file_store.load_user(id)),
                )
                .await
                .unwrap();
                assert!(users.iter().all(Option::is_some));
            },
        )
        .await,
    );
    rows.push(
        measure(
            "16 users, one load_users batch, file",
            iterations / 4,
            || async {
                let users = file_store.load_users(&ids).await.unwrap();
                assert!(users.iter().all(Option::is_some));
            },
        )
        .await,
    );

    let router = Router::new()
        .route("/login", get(log_in))
        .route("/me", get(me))
        .layer(
            AuthLayer::builder(
                mem_store.clone(),
                SessionManagerLayer::new(MemoryStore::default()).with_secure(false),
            )
            .session_key(SessionKey::generate())
            .build(),
        );
    let login = call(&router, Request::get("/login").body(Body::empty()).unwrap()).await;
    let cookie = login
        .headers()
        .get(axum::http::header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .unwrap()
        .to_owned();
    rows.push(
        measure(
            "GET with CurrentUser<User>, SQLite in memory",
            iterations,
            || async {
                let request = Request::get("/me")
                    .header(axum::http::header::COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap();
                let response = call(&router, request).await;
                assert!(response.status().is_success(), "{}", response.status());
            },
        )
        .await,
    );

    rows.push(
        measure("authenticate, right password (argon2id)", slow, || async {
            let creds = PasswordCredentials::new("ferris", "hunter42");
            assert!(mem_store.authenticate(creds).await.unwrap().is_some());
        })
        .await,
    );
    rows.push(
        measure("authenticate, wrong password", slow, || async {
            let creds = PasswordCredentials::new("ferris", "hunter43");
            assert!(mem_store.authenticate(creds).await.unwrap().is_none());
        })
        .await,
    );
    rows.push(
        measure(
            "authenticate, unknown user (stand-in hash)",
            slow,
            || async {
                let creds = PasswordCredentials::new("nobody", "hunter42");
                assert!(mem_store.authenticate(creds).await.unwrap().is_none());
            },
        )
        .await,
    );

    println!(
        "| {:<44} | {:>6} | {:>10} | {:>10} | {:>10} |",
        "case", "iters", "mean", "p50", "p99"
    );
    println!(
        "|{:-<46}|{:->8}|{:->12}|{:->12}|{:->12}|",
        "", "", "", "", ""
    );
    for row in &rows {
        row.print();
    }

    file_store.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}
