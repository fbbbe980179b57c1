//! Sessions stay dead on every store `session_layer` runs on: the memory store, the sqlx store
//! on SQLite, PostgreSQL and MariaDB, and Redis.
//!
//! A request that loaded a session before a logout (a thief's, or another tab's) must never
//! write it back. Each store is tried three ways: with the write held inside the store call
//! while the logout runs (the moment a check-then-write store would lose), with the request held
//! in its handler between loading and writing, and in a bounded race of six connections writing
//! the session through fifty logouts. And a request that changes nothing writes nothing.
//!
//! PostgreSQL, MariaDB and Redis come from `DATABASE_URL_POSTGRES`, `DATABASE_URL_MYSQL` and
//! `REDIS_URL`; without a server the test fails under CI and is skipped, loudly, elsewhere.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum_login::{
    session::{CheckThenSave, MemoryStore, RedisSessionStore, SessionBackend, SqlxSessionStore},
    session_layer,
};
use axum_login_tests::{
    apps::{MemApp, mem_app_on, mem_app_with},
    db::{self, TestDb},
    http::{COOKIE_NAME, Visitor, session_set_cookie},
    session_stores::Paused,
};
use reqwest::{StatusCode, header::COOKIE};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

/// How long a test waits for something that must happen at once before it calls it a failure:
/// far above the milliseconds it takes, for a machine whose cores are busy with other work.
const PATIENCE: Duration = Duration::from_secs(60);

/// The bound on one store call in the race (see [`race`]).
const RACE_STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// The trials and connections of the race.
const TRIALS: usize = 50;
const CONNECTIONS: usize = 6;

async fn logged_in<S: SessionBackend + Clone>(app: &MemApp<S>, user: &str) -> (Visitor, String) {
    let visitor = Visitor::new(&app.base);
    let response = visitor.login(user, &format!("pw-{user}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{user} logs in");
    assert_eq!(visitor.whoami().await, user);
    let cookie = visitor.cookie().expect("a session cookie");
    (visitor, cookie)
}

/// Whether the store still holds a session under the cookie's id.
async fn holds<S: SessionStore>(store: &S, cookie: &str) -> bool {
    let id: Id = cookie.parse().expect("the cookie is a session id");
    store.load(&id).await.expect("the store answers").is_some()
}

/// The write is held inside the store call, past every decision the layer makes, while the
/// owner logs out; released, it must find nothing to write.
async fn a_write_held_at_the_store_cannot_resurrect<S>(store: S)
where
    S: SessionBackend + Clone,
{
    let paused = Paused::new(store);
    let app = mem_app_with(paused.clone(), |builder| builder).await;
    let (owner, cookie) = logged_in(&app, "ferris").await;
    let thief = owner.fork();

    paused.arm();
    let write = tokio::spawn(async move {
        let response = thief.post("/touch").await;
        (response.status(), session_set_cookie(&response))
    });
    tokio::time::timeout(PATIENCE, paused.entered())
        .await
        .expect("the thief's write reached the store");
    assert_eq!(owner.post("/logout").await.status(), StatusCode::SEE_OTHER);
    assert!(
        !holds(paused.inner(), &cookie).await,
        "the logout deleted it"
    );
    paused.release();
    let (status, set_cookie) = write.await.expect("the write finished");

    assert_eq!(status, StatusCode::OK);
    assert!(
        set_cookie.is_none(),
        "a session that ended is not sent back: {set_cookie:?}"
    );
    assert!(
        !holds(paused.inner(), &cookie).await,
        "the held write brought the session back"
    );
    assert_eq!(
        Visitor::with_cookie(&app.base, &cookie).whoami().await,
        "anonymous"
    );
}

/// The request loaded the session and wrote to its copy, then waits in its handler while the
/// owner logs out; when it ends, its save must not bring the session back.
async fn a_slow_request_cannot_write_back_a_logged_out_session<S>(store: S)
where
    S: SessionBackend + Clone,
{
    let app = mem_app_with(store.clone(), |builder| builder).await;
    let (owner, cookie) = logged_in(&app, "ferris").await;
    let thief = owner.fork();
    let slow = tokio::spawn(async move { thief.get("/slow").await.status() });
    tokio::time::timeout(PATIENCE, app.gate.entered.notified())
        .await
        .expect("the slow request loaded and wrote its session");
    assert_eq!(owner.post("/logout").await.status(), StatusCode::SEE_OTHER);
    app.gate.release.notify_one();
    assert_eq!(
        slow.await.expect("the slow request finished"),
        StatusCode::OK
    );

    assert!(
        !holds(&store, &cookie).await,
        "the slow request saved it back"
    );
    assert_eq!(
        Visitor::with_cookie(&app.base, &cookie).whoami().await,
        "anonymous"
    );
}

/// Six connections write the session with a copy of its cookie, as fast as they can, while
/// the owner logs out; fifty times. Returns how many logged-out sessions came back.
async fn race<S>(store: S) -> usize
where
    S: SessionBackend + Clone,
{
    // The race is about what a logout leaves, not about latency: six connections writing one
    // SQLite file on a loaded two-core machine queue for its lock for seconds at times, past
    // the layer's default bound on a store call (2 s), which would answer 500.
    let sessions = session_layer(store.clone()).with_store_timeout(RACE_STORE_TIMEOUT);
    let app = mem_app_on(store.clone(), sessions, |builder| builder).await;
    let client = reqwest::Client::new();
    let mut resurrected = 0;
    for trial in 0..TRIALS {
        let user = format!("user{:02}", trial % 20);
        let (owner, cookie) = logged_in(&app, &user).await;
        let stop = Arc::new(AtomicBool::new(false));
        let done: Arc<Vec<AtomicUsize>> =
            Arc::new((0..CONNECTIONS).map(|_| AtomicUsize::new(0)).collect());
        let writers: Vec<_> = (0..CONNECTIONS)
            .map(|n| {
                let (client, stop, done) = (client.clone(), stop.clone(), done.clone());
                let (url, cookie) = (format!("{}/touch", app.base), cookie.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let response = client
                            .post(&url)
                            .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
                            .send()
                            .await
                            .expect("the server answers");
                        assert!(response.status().is_success(), "{}", response.status());
                        done[n].fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        // Every connection is writing before the logout, and goes on writing after it.
        wait_for_each(&done, 2).await;
        assert_eq!(owner.post("/logout").await.status(), StatusCode::SEE_OTHER);
        let after: Vec<usize> = done.iter().map(|n| n.load(Ordering::SeqCst)).collect();
        wait_for_each_past(&done, &after, 2).await;
        stop.store(true, Ordering::SeqCst);
        for writer in writers {
            writer.await.expect("a writer finished");
        }
        let back = holds(&store, &cookie).await
            || Visitor::with_cookie(&app.base, &cookie).whoami().await != "anonymous";
        resurrected += usize::from(back);
    }
    eprintln!(
        "race: {TRIALS} logouts under {CONNECTIONS} writing connections: {resurrected} resurrected"
    );
    resurrected
}

/// Waits until every counter reached `at_least`.
async fn wait_for_each(done: &[AtomicUsize], at_least: usize) {
    let zero = vec![0; done.len()];
    wait_for_each_past(done, &zero, at_least).await;
}

/// Waits until every counter moved `more` past `from`.
async fn wait_for_each_past(done: &[AtomicUsize], from: &[usize], more: usize) {
    tokio::time::timeout(PATIENCE, async {
        while done
            .iter()
            .zip(from)
            .any(|(n, from)| n.load(Ordering::SeqCst) < from + more)
        {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every connection kept writing");
}

/// A request that removes a key that is not there and sets a value to what it is: the session
/// reads as modified, but nothing is written and no cookie is sent. A real change still is.
async fn a_request_that_changes_nothing_writes_nothing<S>(store: S)
where
    S: SessionBackend + Clone,
{
    let paused = Paused::new(store);
    let app = mem_app_with(paused.clone(), |builder| builder).await;
    let (visitor, cookie) = logged_in(&app, "ferris").await;

    let response = visitor.post("/touch").await;
    assert!(session_set_cookie(&response).is_some(), "a change is saved");
    assert_eq!(paused.writes(), 1);

    let response = visitor.post("/noop").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        session_set_cookie(&response).is_none(),
        "nothing changed, yet a cookie was sent"
    );
    assert_eq!(
        paused.writes(),
        1,
        "nothing changed, yet the store was written"
    );
    assert_eq!(visitor.cookie().as_deref(), Some(cookie.as_str()));
    assert_eq!(visitor.whoami().await, "ferris");
}

/// Runs `check` on a store that `setup` makes; `setup` answers `None` when the store's server
/// is missing outside CI (it has said so).
async fn on<S, F, C, Fut>(setup: impl Future<Output = Option<(S, F)>>, check: C)
where
    F: Future<Output = ()>,
    C: FnOnce(S) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some((store, cleanup)) = setup.await {
        check(store).await;
        cleanup.await;
    }
}

async fn memory() -> Option<(MemoryStore, impl Future<Output = ()>)> {
    Some((MemoryStore::default(), async {}))
}

async fn sql<DB>(db: Option<TestDb<DB>>) -> Option<(SqlxSessionStore<DB>, impl Future<Output = ()>)>
where
    DB: sqlx::Database,
    SqlxSessionStore<DB>: SessionBackend,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Vec<u8>: for<'q> sqlx::Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let db = db?;
    let store = SqlxSessionStore::new(db.pool.clone());
    store.migrate().await.expect("the sessions table");
    Some((store, db.finish()))
}

async fn redis(
    test: &str,
) -> Option<(
    RedisSessionStore<fred::clients::Pool>,
    impl Future<Output = ()>,
)> {
    let pool = db::redis(test).await?;
    // A prefix of the test's own, so parallel tests and runs never share a key.
    let prefix = format!("axum_login_test:{:016x}:", rand::random::<u64>());
    Some((RedisSessionStore::new(pool).with_prefix(prefix), async {}))
}

macro_rules! store_suite {
    ($store:ident, $setup:expr) => {
        mod $store {
            use super::*;

            #[tokio::test]
            async fn a_write_held_at_the_store_cannot_resurrect_a_logged_out_session() {
                #[allow(unused_variables)]
                let test = concat!(stringify!($store), "::held_write");
                on($setup(test), a_write_held_at_the_store_cannot_resurrect).await;
            }

            #[tokio::test]
            async fn a_slow_request_cannot_write_back_a_logged_out_session() {
                #[allow(unused_variables)]
                let test = concat!(stringify!($store), "::slow_request");
                on(
                    $setup(test),
                    super::a_slow_request_cannot_write_back_a_logged_out_session,
                )
                .await;
            }

            #[tokio::test]
            async fn fifty_logouts_under_six_writing_connections_resurrect_nothing() {
                #[allow(unused_variables)]
                let test = concat!(stringify!($store), "::race");
                on($setup(test), |store| async move {
                    assert_eq!(race(store).await, 0, "sessions came back after a logout");
                })
                .await;
            }

            #[tokio::test]
            async fn a_request_that_changes_nothing_writes_nothing() {
                #[allow(unused_variables)]
                let test = concat!(stringify!($store), "::noop");
                on(
                    $setup(test),
                    super::a_request_that_changes_nothing_writes_nothing,
                )
                .await;
            }
        }
    };
}

store_suite!(memory_store, |_: &str| memory());
store_suite!(sqlite, |_: &str| async {
    sql(db::sqlite_file().await).await
});
store_suite!(postgres, |_: &str| async {
    sql(db::postgres().await).await
});
store_suite!(mariadb, |_: &str| async { sql(db::mysql().await).await });
store_suite!(redis_store, redis);

/// A plain store whose next `save` waits for the test: the moment between `CheckThenSave`'s
/// check and its write.
#[derive(Clone, Debug, Default)]
struct SlowSave {
    inner: tower_sessions::MemoryStore,
    gate: Arc<(AtomicBool, tokio::sync::Notify, tokio::sync::Notify)>,
}

#[async_trait::async_trait]
impl SessionStore for SlowSave {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if self.gate.0.swap(false, Ordering::SeqCst) {
            self.gate.1.notify_one();
            self.gate.2.notified().await;
        }
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await
    }
}

/// The control: with the check and the write apart (`CheckThenSave` over an upserting store), a
/// logout between them is undone. The tests above would see it.
#[tokio::test]
async fn check_then_save_loses_a_logout_between_its_check_and_its_write() {
    let plain = SlowSave::default();
    let app = mem_app_with(CheckThenSave::new(plain.clone()), |builder| builder).await;
    let (owner, cookie) = logged_in(&app, "ferris").await;
    let thief = owner.fork();
    plain.gate.0.store(true, Ordering::SeqCst);
    let write = tokio::spawn(async move { thief.post("/touch").await.status() });
    tokio::time::timeout(PATIENCE, plain.gate.1.notified())
        .await
        .expect("the write passed the check");
    assert_eq!(owner.post("/logout").await.status(), StatusCode::SEE_OTHER);
    plain.gate.2.notify_one();
    assert_eq!(write.await.expect("the write finished"), StatusCode::OK);
    assert_eq!(
        Visitor::with_cookie(&app.base, &cookie).whoami().await,
        "ferris",
        "CheckThenSave resurrected nothing: if it became atomic, its docs are wrong"
    );
}
