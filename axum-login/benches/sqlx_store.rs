//! What the sqlx store costs on SQLite: `load_user` (in memory and in a file), 16 users loaded
//! one by one side by side or in one `load_users` batch (what the layer's batching does with
//! concurrent requests), a full authenticated request through `AuthLayer` (session lookup,
//! digest check, `load_user`), and `authenticate` (dominated by argon2id, by design).
//!
//! Then a user with roles and permissions in join tables, loaded by the generated query (the
//! names come in the user's row: one round trip) against the same user loaded by a custom load
//! query that selects the row alone (the store then asks each join table in a query of its own),
//! sample by sample in turn: on SQLite in memory and, with `DATABASE_URL_POSTGRES` set, on
//! PostgreSQL, where each round trip crosses a socket.
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

/// Roles and permissions from their tables, by the generated load query.
#[derive(Clone, Debug, AuthUser, axum_login::UserStore)]
#[user_store(
    table = "users",
    roles_table = "user_roles",
    permissions_table = "user_permissions"
)]
struct Team {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
    #[auth(roles)]
    roles: Vec<Access>,
    #[auth(permissions)]
    permissions: Vec<String>,
}

/// The same user by a custom load query that selects the row alone.
#[derive(Clone, Debug, AuthUser, axum_login::UserStore)]
#[user_store(
    table = "users",
    roles_table = "user_roles",
    permissions_table = "user_permissions",
    load_query = "SELECT id, username, password_hash FROM users WHERE id = $1"
)]
struct TeamByTable {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: secrecy::SecretString,
    #[auth(roles)]
    roles: Vec<Access>,
    #[auth(permissions)]
    permissions: Vec<String>,
}

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

/// Two cases measured sample by sample in turn, so that the machine's noise falls on both alike.
async fn measure_pair<A, FA, B, FB>(
    cases: [&'static str; 2],
    iterations: usize,
    mut a: A,
    mut b: B,
) -> [Row; 2]
where
    A: FnMut() -> FA,
    FA: Future<Output = ()>,
    B: FnMut() -> FB,
    FB: Future<Output = ()>,
{
    for _ in 0..iterations.min(50) {
        a().await;
        b().await;
    }
    let mut samples = [
        Vec::with_capacity(iterations),
        Vec::with_capacity(iterations),
    ];
    for _ in 0..iterations {
        let start = Instant::now();
        a().await;
        samples[0].push(start.elapsed());
        let start = Instant::now();
        b().await;
        samples[1].push(start.elapsed());
    }
    let [first, second] = samples;
    [
        Row {
            case: cases[0],
            iterations,
            samples: first,
        },
        Row {
            case: cases[1],
            iterations,
            samples: second,
        },
    ]
}

/// Two roles and three permissions for user `id`, in the conventional join tables.
fn grants_of(id: i64) -> String {
    let mut sql = String::new();
    for role in ["admin", "user"] {
        sql += &format!("INSERT INTO user_roles (user_id, role) VALUES ({id}, '{role}');");
    }
    for permission in ["posts.read", "posts.write", "users.delete"] {
        sql += &format!(
            "INSERT INTO user_permissions (user_id, permission) VALUES ({id}, '{permission}');"
        );
    }
    sql
}

/// Loads `id` through both stores in turn; each load must find the five names.
macro_rules! join_rows {
    ($rows:ident, $iterations:expr, $cases:expr, $one:expr, $by_table:expr, $id:expr) => {{
        let (one, by_table, id) = (&$one, &$by_table, $id);
        $rows.extend(
            measure_pair(
                $cases,
                $iterations,
                || async move {
                    let user = one.load_user(&id).await.unwrap().unwrap();
                    assert_eq!(
                        user.roles.len() + user.permissions.len(),
                        5,
                        "{}",
                        user.username
                    );
                },
                || async move {
                    let user = by_table.load_user(&id).await.unwrap().unwrap();
                    assert_eq!(
                        user.roles.len() + user.permissions.len(),
                        5,
                        "{}",
                        user.username
                    );
                },
            )
            .await,
        );
    }};
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
    // The session's cookie, among the login's others (the throttle's device cookie).
    let cookie = login
        .headers()
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with("id="))
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

    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(SqliteConnectOptions::from_str("sqlite::memory:").unwrap())
        .await
        .unwrap();
    let one = SqlxStore::<Team, sqlx::Sqlite>::new(pool.clone());
    sqlx::raw_sql(one.schema()).execute(&pool).await.unwrap();
    let user = one
        .create_user("team", "x".to_owned().into())
        .await
        .unwrap();
    sqlx::raw_sql(&grants_of(user.id))
        .execute(&pool)
        .await
        .unwrap();
    let by_table = SqlxStore::<TeamByTable, sqlx::Sqlite>::new(pool);
    join_rows!(
        rows,
        iterations,
        [
            "join tables, one query, SQLite",
            "join tables, a query per table, SQLite",
        ],
        one,
        by_table,
        user.id
    );

    // PostgreSQL, in a schema of its own, dropped at the end.
    if let Ok(url) = std::env::var("DATABASE_URL_POSTGRES") {
        let schema = format!("bench_sqlx_store_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let options = sqlx::postgres::PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        let one = SqlxStore::<Team, sqlx::Postgres>::new(pool.clone());
        sqlx::raw_sql(one.schema()).execute(&pool).await.unwrap();
        let user = one
            .create_user("team", "x".to_owned().into())
            .await
            .unwrap();
        sqlx::raw_sql(&grants_of(user.id))
            .execute(&pool)
            .await
            .unwrap();
        let by_table = SqlxStore::<TeamByTable, sqlx::Postgres>::new(pool.clone());
        join_rows!(
            rows,
            iterations,
            [
                "join tables, one query, PostgreSQL",
                "join tables, a query per table, PostgreSQL",
            ],
            one,
            by_table,
            user.id
        );
        pool.close().await;
        sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .unwrap();
    }

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
