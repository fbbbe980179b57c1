//! Every throttle store we ship keeps the same contract, on its real backend: simultaneous
//! reservations on a key never grant more checks than the rule leaves, failures past the free
//! ones wait longer each time, a success frees its place, a lease that runs out gives its
//! place back, a window's end lifts a lock, and revocations only move forward and are kept
//! for as long as asked. Then two instances of an app sharing a store share its locks.

use std::{
    sync::atomic::Ordering,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{Router, routing::post};
use axum_login::{
    AuthLayer, SessionKey, Throttle,
    security::{
        Ended, MemoryThrottleStore, Outcome, RedisThrottleStore, Reservation, Revocation, Rule,
        SqlxThrottleStore, ThrottleKey, ThrottleStore, Verdict,
    },
    session::MemoryStore,
    session_layer,
};
use axum_login_tests::{
    db,
    directory::TestStore,
    http::serve_with_addr,
    login::{SeeOther, login},
};
use reqwest::StatusCode;

const WINDOW: Duration = Duration::from_secs(900);
const LEASE: Duration = Duration::from_secs(30);

fn fresh_key() -> ThrottleKey {
    ThrottleKey::from_bytes(rand::random())
}

/// Now, to the millisecond: what every store keeps.
fn now() -> SystemTime {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).expect("millis fit"))
}

fn rule(limit: u32, free: u32) -> Rule {
    Rule {
        limit,
        free,
        delay: Duration::from_secs(1),
    }
}

fn reservation(key: &ThrottleKey, rule: &Rule) -> Reservation {
    Reservation {
        key: *key,
        rule: *rule,
        window: WINDOW,
        lease: LEASE,
    }
}

async fn reserve(
    store: &impl ThrottleStore,
    key: &ThrottleKey,
    rule: &Rule,
    at: SystemTime,
) -> Verdict {
    store
        .reserve(&reservation(key, rule), at)
        .await
        .expect("the store answers a reservation")
}

async fn finish(
    store: &impl ThrottleStore,
    key: &ThrottleKey,
    rule: &Rule,
    outcome: Outcome,
    at: SystemTime,
) {
    store
        .finish(&reservation(key, rule), Ended { outcome, at })
        .await
        .expect("the store ends a reservation");
}

async fn fail(store: &impl ThrottleStore, key: &ThrottleKey, rule: &Rule, at: SystemTime) {
    assert_eq!(reserve(store, key, rule, at).await, Verdict::Granted);
    finish(store, key, rule, Outcome::Failed, at).await;
}

/// Forty simultaneous reservations on one key, answered by the store itself.
async fn simultaneous<S: ThrottleStore + Clone>(
    store: &S,
    key: ThrottleKey,
    rule: Rule,
    at: SystemTime,
) -> (usize, usize) {
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { reserve(&store, &key, &rule, at).await })
        })
        .collect();
    let (mut granted, mut busy) = (0, 0);
    for task in tasks {
        match task.await.expect("a reservation task") {
            Verdict::Granted => granted += 1,
            Verdict::Busy => busy += 1,
            refused @ Verdict::Refused { .. } => panic!("a fresh key was refused: {refused:?}"),
        }
    }
    (granted, busy)
}

async fn contract<S: ThrottleStore + Clone>(store: S) {
    let start = now();

    // Simultaneous reservations: exactly what the rule leaves, whatever the interleaving.
    let (key, five) = (fresh_key(), rule(5, 5));
    for round in 0..3 {
        let (granted, busy) = simultaneous(&store, key, five, start).await;
        assert_eq!((granted, busy), (5, 35), "round {round}");
        for _ in 0..granted {
            finish(&store, &key, &five, Outcome::Abandoned, start).await;
        }
    }
    // Five failures lock the key; the first refusal says it is the first.
    for _ in 0..5 {
        fail(&store, &key, &five, start).await;
    }
    let locked = reserve(&store, &key, &five, start).await;
    assert_eq!(
        locked,
        Verdict::Refused {
            until: start + WINDOW,
            first: true
        }
    );
    assert!(matches!(
        reserve(&store, &key, &five, start).await,
        Verdict::Refused { first: false, .. }
    ));
    // The window's end lifts the lock.
    assert_eq!(
        reserve(&store, &key, &five, start + WINDOW).await,
        Verdict::Granted
    );

    // Past the free failures each attempt waits 1 s, then 2 s, then 4 s after the last one.
    let (key, slow) = (fresh_key(), rule(10, 2));
    fail(&store, &key, &slow, start).await;
    fail(&store, &key, &slow, start).await;
    let mut at = start;
    for wait in [1, 2, 4] {
        let early = at + Duration::from_secs(wait) - Duration::from_millis(1);
        assert_eq!(
            reserve(&store, &key, &slow, early).await,
            Verdict::Refused {
                until: at + Duration::from_secs(wait),
                first: false
            },
            "an attempt {wait} s after a failure, a millisecond early"
        );
        at += Duration::from_secs(wait);
        fail(&store, &key, &slow, at).await;
    }
    // In the slowed-down stretch, one check at a time.
    let after = at + Duration::from_secs(8);
    let (granted, _) = simultaneous(&store, key, slow, after).await;
    assert_eq!(granted, 1);
    // A success forgets the failures: the free checks are back, all at once.
    finish(
        &store,
        &key,
        &slow,
        Outcome::Succeeded { reset: true },
        after,
    )
    .await;
    let (granted, _) = simultaneous(&store, key, slow, after).await;
    assert_eq!(granted, 2);

    // A success that does not reset (an address counter) still frees its place.
    let (key, one) = (fresh_key(), rule(1, 1));
    assert_eq!(reserve(&store, &key, &one, start).await, Verdict::Granted);
    assert_eq!(reserve(&store, &key, &one, start).await, Verdict::Busy);
    finish(
        &store,
        &key,
        &one,
        Outcome::Succeeded { reset: false },
        start,
    )
    .await;
    assert_eq!(reserve(&store, &key, &one, start).await, Verdict::Granted);
    // A reservation never finished (its process died) gives its place back after the lease.
    assert_eq!(reserve(&store, &key, &one, start).await, Verdict::Busy);
    assert_eq!(
        reserve(&store, &key, &one, start + LEASE).await,
        Verdict::Granted
    );

    // Revocations only move forward; another account has none.
    let (account, other) = (fresh_key(), fresh_key());
    let later = start + Duration::from_secs(60);
    for at in [later, start] {
        store
            .revoke_devices(&Revocation {
                account,
                at,
                keep: Duration::from_secs(3600),
            })
            .await
            .expect("revoke");
    }
    assert_eq!(
        store.devices_revoked_at(&account).await.expect("read"),
        Some(later)
    );
    assert_eq!(store.devices_revoked_at(&other).await.expect("read"), None);
    // A revocation is remembered for `keep` after it was made, not only until then.
    let (account, earlier) = (fresh_key(), start - Duration::from_secs(60));
    store
        .revoke_devices(&Revocation {
            account,
            at: earlier,
            keep: Duration::from_secs(3600),
        })
        .await
        .expect("revoke");
    assert_eq!(
        store.devices_revoked_at(&account).await.expect("read"),
        Some(earlier)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_keeps_the_contract() {
    contract(MemoryThrottleStore::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_keeps_the_contract() {
    let Some(db) = db::sqlite_file().await else {
        return;
    };
    let store = SqlxThrottleStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_keeps_the_contract() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let store = SqlxThrottleStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_store_keeps_the_contract() {
    let Some(db) = db::mysql().await else { return };
    let store = SqlxThrottleStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_keeps_the_contract() {
    let Some(pool) = db::redis("redis_store_keeps_the_contract").await else {
        return;
    };
    let prefix = format!("axl_test_{:016x}:", rand::random::<u64>());
    contract(RedisThrottleStore::new(pool).with_prefix(prefix)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_counters_with_nothing_in_them_leave_no_row() {
    let Some(db) = db::sqlite_file().await else {
        return;
    };
    let store = SqlxThrottleStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    let (key, rule, at) = (fresh_key(), rule(5, 5), now());
    assert_eq!(reserve(&store, &key, &rule, at).await, Verdict::Granted);
    finish(&store, &key, &rule, Outcome::Succeeded { reset: true }, at).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM axum_login_throttle")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(rows, 0);
    fail(&store, &key, &rule, at).await;
    store.delete_expired(at + WINDOW).await.expect("sweep");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM axum_login_throttle")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(rows, 0, "a counter outlived its window");
    db.finish().await;
}

/// One instance of an app: its own process memory (sessions, user store handle), the shared
/// throttle store.
async fn instance(users: TestStore, throttle: impl ThrottleStore + Clone) -> String {
    let layer = AuthLayer::builder(
        users,
        session_layer(MemoryStore::default()).with_secure(false),
    )
    .session_key(SessionKey::from_bytes(&[7; 64]).expect("a key"))
    .throttle(
        Throttle::new(throttle)
            .max_failures_per_account(5)
            .max_failures_per_address(u32::MAX),
    )
    .build();
    let app = Router::new()
        .route("/login", post(login::<TestStore, SeeOther>))
        .layer(layer);
    format!("http://{}", serve_with_addr(app).await)
}

/// Forty simultaneous wrong passwords spread over two instances get no more checks than one
/// instance's limit, and the lock holds on both.
async fn instances_share_locks(throttle: impl ThrottleStore + Clone) {
    let users = TestStore::with_users(&[(1, "ferris", "pw-ferris")]);
    let bases = [
        instance(users.clone(), throttle.clone()).await,
        instance(users.clone(), throttle).await,
    ];
    let client = reqwest::Client::new();
    let guesses: Vec<_> = (0..40)
        .map(|n| {
            let (client, base) = (client.clone(), bases[n % 2].clone());
            tokio::spawn(async move {
                client
                    .post(format!("{base}/login"))
                    .form(&[
                        ("username", "ferris".to_owned()),
                        ("password", format!("guess-{n}")),
                    ])
                    .send()
                    .await
                    .expect("answered")
                    .status()
            })
        })
        .collect();
    for guess in guesses {
        assert_eq!(guess.await.expect("a guess"), StatusCode::UNAUTHORIZED);
    }
    let checks = users.authenticate_calls.load(Ordering::SeqCst);
    assert!(
        (1..=5).contains(&checks),
        "{checks} passwords checked across two instances, limit 5"
    );
    for base in &bases {
        let status = client
            .post(format!("{base}/login"))
            .form(&[("username", "ferris"), ("password", "pw-ferris")])
            .send()
            .await
            .expect("answered")
            .status();
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "an instance ignored the shared lock"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_locks_through_redis() {
    let Some(pool) = db::redis("two_instances_share_locks_through_redis").await else {
        return;
    };
    let prefix = format!("axl_test_{:016x}:", rand::random::<u64>());
    instances_share_locks(RedisThrottleStore::new(pool).with_prefix(prefix)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_locks_through_postgres() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let store = SqlxThrottleStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    instances_share_locks(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_locks_through_mysql() {
    let Some(db) = db::mysql().await else { return };
    let store = SqlxThrottleStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    instances_share_locks(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_locks_through_sqlite() {
    let Some(db) = db::sqlite_file().await else {
        return;
    };
    let store = SqlxThrottleStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    instances_share_locks(store).await;
    db.finish().await;
}
