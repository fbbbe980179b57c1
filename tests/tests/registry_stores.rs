//! Every session registry and remember-me store we ship keeps the same contract, on its real
//! backend: entries are listed oldest first with every field as added, bound and touched only
//! while they exist, removed one, all but one, or all, per user; tokens rotate only from their
//! current hash, one winner out of many at once, never answer once expired, and go with their
//! user. Then two store instances on one database see each other's writes.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::Path,
    slice,
    str::FromStr,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum_login::{
    registry::{
        Admission, Binding, Limit, MemorySessionRegistry, OnLimit, RedisSessionRegistry,
        SessionEntry, SessionRegistry, SqlxSessionRegistry, Which,
    },
    remember::{
        MemoryRememberStore, RedisRememberStore, RememberStore, RememberToken, Rotation,
        SqlxRememberStore,
    },
};
use axum_login_tests::db;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tokio::sync::Barrier;

const HOUR: Duration = Duration::from_secs(3600);

/// How many requests rotate one token at once in the race.
const RACERS: usize = 16;

/// Now, to the millisecond: what every store keeps.
fn now() -> SystemTime {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).expect("millis fit"))
}

/// A name no other run on a shared database uses.
fn unique(name: &str) -> String {
    format!("{name}-{:016x}", rand::random::<u64>())
}

fn entry(user: &str, id: &str, created_at: SystemTime) -> SessionEntry {
    SessionEntry {
        id: id.to_owned(),
        user: user.to_owned(),
        session_id: None,
        created_at,
        last_seen: created_at,
        address: None,
        user_agent: None,
        expires_at: created_at + HOUR,
        remember: None,
    }
}

fn binding<'a>(
    user: &'a str,
    id: &'a str,
    previous: Option<&'a str>,
    session_id: &'a str,
) -> Binding<'a> {
    Binding {
        user,
        id,
        previous,
        session_id,
    }
}

fn limit(max: usize, on_limit: OnLimit) -> Limit {
    Limit { max, on_limit }
}

async fn list(registry: &impl SessionRegistry, user: &str) -> Vec<SessionEntry> {
    registry.list(user).await.expect("the registry lists")
}

/// The entries `which` removed, oldest first (the stores answer them in any order).
async fn remove(
    registry: &impl SessionRegistry,
    user: &str,
    which: Which<'_>,
) -> Vec<SessionEntry> {
    let mut removed = registry
        .remove(user, which)
        .await
        .expect("the registry removes");
    removed.sort_by_key(|entry| entry.created_at);
    removed
}

async fn registry_contract(registry: impl SessionRegistry) {
    let (alice, bob, carol) = (unique("alice"), unique("bob"), unique("carol"));
    let start = now() - Duration::from_secs(60);

    // Every field comes back as added; the list is oldest first whatever the order of adding.
    let first = SessionEntry {
        session_id: Some("session-first".to_owned()),
        address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))),
        user_agent: Some("Mozilla/5.0 (X11; Linux) «Ünïcode»".to_owned()),
        remember: Some("remember-selector".to_owned()),
        ..entry(&alice, "entry-1", start)
    };
    let second = entry(&alice, "entry-2", start + Duration::from_secs(1));
    let third = SessionEntry {
        address: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ..entry(&alice, "entry-3", start + Duration::from_secs(2))
    };
    // Another user's entry under an id of Alice's.
    let bobs = entry(&bob, "entry-1", start);
    for entry in [&second, &first, &bobs, &third] {
        registry.add(entry).await.expect("the registry adds");
    }
    assert_eq!(
        list(&registry, &alice).await,
        [first.clone(), second.clone(), third.clone()]
    );
    assert_eq!(list(&registry, &bob).await, slice::from_ref(&bobs));

    // Binding records the session id of an entry that exists, of its own user only.
    assert!(
        registry
            .bind(&binding(
                &alice,
                "entry-2",
                Some("session-anonymous"),
                "session-2"
            ))
            .await
            .expect("bind")
    );
    assert!(
        !registry
            .bind(&binding(&alice, "entry-9", None, "session-9"))
            .await
            .expect("bind")
    );
    assert!(
        !registry
            .bind(&binding(&bob, "entry-3", None, "session-x"))
            .await
            .expect("bind")
    );
    let second = SessionEntry {
        session_id: Some("session-2".to_owned()),
        ..second
    };
    assert_eq!(list(&registry, &alice).await[1], second);
    assert_eq!(list(&registry, &bob).await, slice::from_ref(&bobs));

    // Once bound, the entry follows its session only from the id it has: a request that
    // started from another id (or from none) records nothing.
    for previous in [None, Some("session-other")] {
        assert!(
            !registry
                .bind(&binding(&alice, "entry-2", previous, "session-fork"))
                .await
                .expect("bind")
        );
    }
    assert_eq!(list(&registry, &alice).await[1], second);
    assert!(
        registry
            .bind(&binding(&alice, "entry-2", Some("session-2"), "session-2b"))
            .await
            .expect("bind")
    );
    assert!(
        !registry
            .bind(&binding(&alice, "entry-2", Some("session-2"), "session-2c"))
            .await
            .expect("bind")
    );
    assert!(
        registry
            .bind(&binding(&alice, "entry-2", Some("session-2b"), "session-2"))
            .await
            .expect("bind")
    );
    assert_eq!(list(&registry, &alice).await[1], second);

    // A remember-me token given after login is recorded on its entry, of its own user only.
    assert!(
        registry
            .set_remember(&alice, "entry-2", "selector-2")
            .await
            .expect("set_remember")
    );
    assert!(
        !registry
            .set_remember(&alice, "entry-9", "selector-9")
            .await
            .expect("set_remember")
    );
    assert!(
        !registry
            .set_remember(&bob, "entry-2", "selector-x")
            .await
            .expect("set_remember")
    );
    let second = SessionEntry {
        remember: Some("selector-2".to_owned()),
        ..second
    };
    assert_eq!(list(&registry, &alice).await[1], second);
    assert_eq!(list(&registry, &bob).await, slice::from_ref(&bobs));

    // Touching moves last seen forward, never back.
    let later = start + Duration::from_secs(30);
    assert!(
        registry
            .touch(&alice, "entry-1", later)
            .await
            .expect("touch")
    );
    assert!(
        registry
            .touch(&alice, "entry-1", start)
            .await
            .expect("touch")
    );
    assert!(
        !registry
            .touch(&alice, "entry-9", later)
            .await
            .expect("touch")
    );
    let first = SessionEntry {
        last_seen: later,
        ..first
    };
    assert_eq!(list(&registry, &alice).await[0], first);
    assert_eq!(list(&registry, &bob).await, slice::from_ref(&bobs));

    // One: the entry named, once.
    assert_eq!(
        remove(&registry, &alice, Which::One("entry-2")).await,
        [second]
    );
    assert_eq!(remove(&registry, &alice, Which::One("entry-2")).await, []);
    assert_eq!(
        list(&registry, &alice).await,
        [first.clone(), third.clone()]
    );
    assert!(
        !registry
            .bind(&binding(&alice, "entry-2", Some("session-2"), "session-2b"))
            .await
            .expect("bind")
    );
    assert!(
        !registry
            .touch(&alice, "entry-2", later)
            .await
            .expect("touch")
    );

    // All but one, then all.
    registry
        .add(&entry(&alice, "entry-4", start + Duration::from_secs(3)))
        .await
        .expect("add");
    assert_eq!(
        remove(&registry, &alice, Which::AllBut("entry-3")).await,
        [
            first,
            entry(&alice, "entry-4", start + Duration::from_secs(3))
        ]
    );
    assert_eq!(list(&registry, &alice).await, slice::from_ref(&third));
    assert_eq!(remove(&registry, &alice, Which::All).await, [third]);
    assert_eq!(list(&registry, &alice).await, []);
    assert_eq!(remove(&registry, &alice, Which::All).await, []);

    // None of that touched Bob.
    assert_eq!(list(&registry, &bob).await, slice::from_ref(&bobs));
    assert_eq!(remove(&registry, &bob, Which::All).await, [bobs]);

    // An expired entry is gone: not listed, bound or touched.
    let expired = SessionEntry {
        expires_at: now() - Duration::from_secs(1),
        ..entry(&carol, "entry-old", start)
    };
    registry.add(&expired).await.expect("add");
    assert_eq!(list(&registry, &carol).await, []);
    assert!(
        !registry
            .bind(&binding(&carol, "entry-old", None, "session"))
            .await
            .expect("bind")
    );
    assert!(
        !registry
            .touch(&carol, "entry-old", later)
            .await
            .expect("touch")
    );
    let live = entry(&carol, "entry-new", start + Duration::from_secs(5));
    registry.add(&live).await.expect("add");
    assert_eq!(list(&registry, &carol).await, [live]);
    registry.remove(&carol, Which::All).await.expect("remove");
}

/// How many logins of one user race each other against a limit.
const LOGINS: usize = 12;

/// The session limit the racing logins are held to.
const LIMIT: usize = 3;

/// `LOGINS` logins of one user, each adding its entry within `LIMIT` at the same moment (a
/// barrier lets them go together), over `existing` entries: what each got.
async fn race_logins<R: SessionRegistry + Clone>(
    registry: &R,
    user: &str,
    on_limit: OnLimit,
) -> Vec<Admission> {
    let barrier = Arc::new(Barrier::new(LOGINS));
    let logins: Vec<_> = (0..LOGINS)
        .map(|n| {
            let (registry, barrier) = (registry.clone(), barrier.clone());
            let entry = entry(user, &format!("login-{n:02}"), now());
            tokio::spawn(async move {
                barrier.wait().await;
                registry
                    .add_within(&entry, limit(LIMIT, on_limit))
                    .await
                    .expect("the registry adds within the limit")
            })
        })
        .collect();
    let mut admissions = Vec::new();
    for login in logins {
        admissions.push(login.await.expect("a login"));
    }
    admissions
}

/// A user is held to the limit however many logins race: refused past it, or each login
/// ending the oldest, never more than the limit, and every entry a login ended answered to
/// exactly one login.
async fn limit_contract<R: SessionRegistry + Clone>(registry: R) {
    // One at a time: the oldest goes first, by creation time then id.
    let user = unique("limited");
    let start = now() - Duration::from_secs(60);
    for n in 0..LIMIT {
        let admission = registry
            .add_within(
                &entry(
                    &user,
                    &format!("e{n}"),
                    start + Duration::from_secs(n as u64),
                ),
                limit(LIMIT, OnLimit::EndOldest),
            )
            .await
            .expect("add_within");
        assert_eq!(admission, Admission::Added(Vec::new()));
    }
    let newest = entry(&user, "e9", start + Duration::from_secs(10));
    let admission = registry
        .add_within(&newest, limit(LIMIT, OnLimit::EndOldest))
        .await
        .expect("add_within");
    assert_eq!(admission, Admission::Added(vec![entry(&user, "e0", start)]));
    let refused = entry(&user, "e10", start + Duration::from_secs(11));
    assert_eq!(
        registry
            .add_within(&refused, limit(LIMIT, OnLimit::RefuseNew))
            .await
            .expect("add_within"),
        Admission::Refused
    );
    assert_eq!(
        list(&registry, &user)
            .await
            .iter()
            .map(|entry| entry.id.as_str())
            .collect::<Vec<_>>(),
        ["e1", "e2", "e9"]
    );
    // An expired entry does not count.
    let gone = unique("expired");
    registry
        .add(&SessionEntry {
            expires_at: now() - Duration::from_secs(1),
            ..entry(&gone, "old", start)
        })
        .await
        .expect("add");
    assert_eq!(
        registry
            .add_within(&entry(&gone, "new", now()), limit(1, OnLimit::RefuseNew))
            .await
            .expect("add_within"),
        Admission::Added(Vec::new())
    );

    // Refused past the limit, however many come at once.
    let user = unique("racing-refused");
    let admissions = race_logins(&registry, &user, OnLimit::RefuseNew).await;
    let added = admissions
        .iter()
        .filter(|admission| matches!(admission, Admission::Added(_)))
        .count();
    assert_eq!(added, LIMIT, "{admissions:?}");
    assert_eq!(list(&registry, &user).await.len(), LIMIT);

    // Ending the oldest, however many come at once: the limit holds, and each login that
    // was ended was ended by one login only.
    let user = unique("racing-oldest");
    let admissions = race_logins(&registry, &user, OnLimit::EndOldest).await;
    let listed = list(&registry, &user).await;
    assert_eq!(listed.len(), LIMIT, "{listed:?}");
    let mut ended: Vec<String> = admissions
        .into_iter()
        .flat_map(|admission| match admission {
            Admission::Added(ended) => ended,
            Admission::Refused => panic!("ending the oldest never refuses"),
        })
        .map(|entry| entry.id)
        .collect();
    ended.sort();
    let count = ended.len();
    ended.dedup();
    assert_eq!(ended.len(), count, "an entry was ended twice: {ended:?}");
    assert_eq!(count, LOGINS - LIMIT);
    assert!(
        listed.iter().all(|entry| !ended.contains(&entry.id)),
        "a listed entry was reported ended"
    );
    remove(&registry, &user, Which::All).await;
}

fn token(selector: &str, user: &str, hash: &str, expires_at: SystemTime) -> RememberToken {
    RememberToken {
        selector: selector.to_owned(),
        user: user.to_owned(),
        validator_hash: hash.to_owned(),
        previous_hash: None,
        rotated_at: now(),
        expires_at,
    }
}

async fn get(store: &impl RememberStore, selector: &str) -> Option<RememberToken> {
    store.get(selector).await.expect("the store answers")
}

fn rotation<'a>(
    selector: &'a str,
    current_hash: &'a str,
    new_hash: &'a str,
    at: SystemTime,
) -> Rotation<'a> {
    Rotation {
        selector,
        current_hash,
        new_hash,
        at,
    }
}

async fn rotate(store: &impl RememberStore, selector: &str, from: &str, to: &str) -> bool {
    store
        .rotate(&rotation(selector, from, to, now()))
        .await
        .expect("the store rotates")
}

async fn remember_contract<S: RememberStore + Clone>(store: S) {
    let (user, other) = (unique("user"), unique("other"));
    let selector = unique("selector");
    let expires = now() + HOUR;

    let inserted = token(&selector, &user, "hash-1", expires);
    store.insert(&inserted).await.expect("insert");
    assert_eq!(get(&store, &selector).await, Some(inserted.clone()));
    assert_eq!(get(&store, &unique("missing")).await, None);

    // Only the current hash rotates; the replaced one is kept as the previous.
    assert!(!rotate(&store, &selector, "hash-wrong", "hash-2").await);
    assert_eq!(get(&store, &selector).await, Some(inserted.clone()));
    let at = now() + Duration::from_secs(10);
    assert!(
        store
            .rotate(&rotation(&selector, "hash-1", "hash-2", at))
            .await
            .expect("rotate")
    );
    let rotated = RememberToken {
        validator_hash: "hash-2".to_owned(),
        previous_hash: Some("hash-1".to_owned()),
        rotated_at: at,
        ..inserted
    };
    assert_eq!(get(&store, &selector).await, Some(rotated));
    assert!(!rotate(&store, &selector, "hash-1", "hash-3").await);
    assert!(rotate(&store, &selector, "hash-2", "hash-3").await);
    let token_now = get(&store, &selector).await.expect("the token");
    assert_eq!(
        (
            token_now.validator_hash.as_str(),
            token_now.previous_hash.as_deref()
        ),
        ("hash-3", Some("hash-2"))
    );
    assert!(!rotate(&store, &unique("missing"), "hash-1", "hash-2").await);

    // Many rotations of one hash at once: exactly one wins, and its hash is the one kept.
    let raced = unique("raced");
    store
        .insert(&token(&raced, &user, "race-start", expires))
        .await
        .expect("insert");
    let barrier = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|n| {
            let (store, barrier, raced) = (store.clone(), barrier.clone(), raced.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let new_hash = format!("race-{n}");
                rotate(&store, &raced, "race-start", &new_hash)
                    .await
                    .then_some(new_hash)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        winners.extend(racer.await.expect("a racer"));
    }
    assert_eq!(winners.len(), 1, "winners of one rotation: {winners:?}");
    let won = get(&store, &raced).await.expect("the raced token");
    assert_eq!(won.validator_hash, winners[0]);
    assert_eq!(won.previous_hash.as_deref(), Some("race-start"));

    // An expired token is never answered.
    let stale = unique("stale");
    store
        .insert(&token(
            &stale,
            &user,
            "hash",
            now() - Duration::from_secs(1),
        ))
        .await
        .expect("insert");
    assert_eq!(get(&store, &stale).await, None);

    // An insert under a known selector replaces the token, its user included.
    let moved = unique("moved");
    store
        .insert(&token(&moved, &user, "hash", expires))
        .await
        .expect("insert");
    let moved_token = token(&moved, &other, "hash-moved", expires);
    store.insert(&moved_token).await.expect("insert again");
    assert_eq!(get(&store, &moved).await, Some(moved_token.clone()));

    // Removing one token leaves the others.
    store.remove(&selector).await.expect("remove");
    assert_eq!(get(&store, &selector).await, None);
    store.remove(&selector).await.expect("remove again");
    assert!(get(&store, &raced).await.is_some());

    // Removing a user's tokens removes all of them and no one else's.
    let others = unique("others");
    store
        .insert(&token(&others, &other, "hash", expires))
        .await
        .expect("insert");
    let second = unique("second");
    store
        .insert(&token(&second, &user, "hash", expires))
        .await
        .expect("insert");
    store.remove_user(&user).await.expect("remove the user's");
    assert_eq!(get(&store, &raced).await, None);
    assert_eq!(get(&store, &second).await, None);
    assert!(get(&store, &others).await.is_some());
    assert_eq!(get(&store, &moved).await, Some(moved_token));
    store.remove_user(&other).await.expect("remove the other's");
    assert_eq!(get(&store, &others).await, None);
    assert_eq!(get(&store, &moved).await, None);
}

/// What one instance writes, the other reads and changes, and the first sees the change.
async fn registries_share(a: impl SessionRegistry, b: impl SessionRegistry) {
    let user = unique("shared");
    let added = entry(&user, "entry-1", now());
    a.add(&added).await.expect("add on a");
    assert_eq!(list(&b, &user).await, slice::from_ref(&added));
    assert!(
        b.bind(&binding(&user, "entry-1", None, "session-b"))
            .await
            .expect("bind on b")
    );
    assert_eq!(
        list(&a, &user).await[0].session_id.as_deref(),
        Some("session-b")
    );
    assert_eq!(remove(&b, &user, Which::All).await.len(), 1);
    assert_eq!(list(&a, &user).await, []);
    assert!(
        !a.bind(&binding(&user, "entry-1", Some("session-b"), "session-a"))
            .await
            .expect("bind on a")
    );
}

async fn remember_stores_share(a: impl RememberStore, b: impl RememberStore) {
    let (user, selector) = (unique("shared"), unique("selector"));
    let inserted = token(&selector, &user, "hash-1", now() + HOUR);
    a.insert(&inserted).await.expect("insert on a");
    assert_eq!(get(&b, &selector).await, Some(inserted));
    assert!(rotate(&b, &selector, "hash-1", "hash-2").await);
    assert!(!rotate(&a, &selector, "hash-1", "hash-3").await);
    assert_eq!(
        get(&a, &selector).await.map(|token| token.validator_hash),
        Some("hash-2".to_owned())
    );
    a.remove_user(&user).await.expect("remove on a");
    assert_eq!(get(&b, &selector).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stores_keep_the_contract() {
    registry_contract(MemorySessionRegistry::default()).await;
    limit_contract(MemorySessionRegistry::default()).await;
    remember_contract(MemoryRememberStore::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stores_keep_the_contract() {
    let Some(db) = db::sqlite_file().await else {
        return;
    };
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    registry.migrate().await.expect("migrate again");
    registry_contract(registry.clone()).await;
    limit_contract(registry).await;
    let store = SqlxRememberStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    remember_contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stores_keep_the_contract() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    registry.migrate().await.expect("migrate again");
    registry_contract(registry.clone()).await;
    limit_contract(registry).await;
    let store = SqlxRememberStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    remember_contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_stores_keep_the_contract() {
    let Some(db) = db::mysql().await else { return };
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    registry.migrate().await.expect("migrate again");
    registry_contract(registry.clone()).await;
    limit_contract(registry).await;
    let store = SqlxRememberStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    remember_contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stores_keep_the_contract() {
    let Some(pool) = db::redis("redis_stores_keep_the_contract").await else {
        return;
    };
    let prefix = format!("axl_test_{:016x}:", rand::random::<u64>());
    registry_contract(RedisSessionRegistry::new(pool.clone()).with_prefix(&prefix)).await;
    limit_contract(RedisSessionRegistry::new(pool.clone()).with_prefix(&prefix)).await;
    remember_contract(RedisRememberStore::new(pool).with_prefix(prefix)).await;
}

async fn sqlite_pool(path: &Path) -> sqlx::SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(
            SqliteConnectOptions::from_str("sqlite://")
                .expect("SQLite options")
                .filename(path)
                .create_if_missing(true),
        )
        .await
        .expect("SQLite file in the temp dir")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sqlite_pools_on_one_file_share_entries_and_tokens() {
    let path = std::env::temp_dir().join(format!("{}.db", unique("axl_registry")));
    let (a, b) = (sqlite_pool(&path).await, sqlite_pool(&path).await);
    let registry = SqlxSessionRegistry::new(a.clone());
    registry.migrate().await.expect("migrate");
    registries_share(registry, SqlxSessionRegistry::new(b.clone())).await;
    let store = SqlxRememberStore::new(a.clone());
    store.migrate().await.expect("migrate");
    remember_stores_share(store, SqlxRememberStore::new(b.clone())).await;
    a.close().await;
    b.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_pools_share_entries_and_tokens() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let other = db.pool_through(db.server()).await;
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    registries_share(registry, SqlxSessionRegistry::new(other.clone())).await;
    let store = SqlxRememberStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    remember_stores_share(store, SqlxRememberStore::new(other.clone())).await;
    other.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_mysql_pools_share_entries_and_tokens() {
    let Some(db) = db::mysql().await else { return };
    let other = db.pool_through(db.server()).await;
    let registry = SqlxSessionRegistry::new(db.pool.clone());
    registry.migrate().await.expect("migrate");
    registries_share(registry, SqlxSessionRegistry::new(other.clone())).await;
    let store = SqlxRememberStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    remember_stores_share(store, SqlxRememberStore::new(other.clone())).await;
    other.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_redis_clients_share_entries_and_tokens() {
    let test = "two_redis_clients_share_entries_and_tokens";
    let (Some(a), Some(b)) = (db::redis(test).await, db::redis(test).await) else {
        return;
    };
    let prefix = format!("axl_test_{:016x}:", rand::random::<u64>());
    registries_share(
        RedisSessionRegistry::new(a.clone()).with_prefix(&prefix),
        RedisSessionRegistry::new(b.clone()).with_prefix(&prefix),
    )
    .await;
    remember_stores_share(
        RedisRememberStore::new(a).with_prefix(&prefix),
        RedisRememberStore::new(b).with_prefix(prefix),
    )
    .await;
}
