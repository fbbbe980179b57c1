//! Every API token store we ship keeps the same contract, on its real backend: tokens come
//! back with every field as inserted (an expired one too: the layer decides by its clock),
//! listed oldest first per user; a use is recorded by id; a rehash moves a token to its new
//! hash only from the hash it has, one winner out of many at once; a token is revoked only by
//! its own user, and all of a user's tokens go together, counted, and no one else's. Ids,
//! hashes and users that differ only in case are different.

use std::{
    slice,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum_login::tokens::{
    ApiToken, MemoryTokenStore, RedisTokenStore, Rehash, SqlxTokenStore, TokenStore,
};
use axum_login_tests::db;
use tokio::sync::Barrier;

const HOUR: Duration = Duration::from_secs(3600);

/// How many requests rehash one token at once in the race.
const RACERS: usize = 8;

/// Now, to the millisecond: what every store keeps.
fn now() -> SystemTime {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).expect("millis fit"))
}

/// A name no other run on a shared server uses.
fn unique(name: &str) -> String {
    format!("{name}-{:016x}", rand::random::<u64>())
}

/// A token of `user` with no scopes and no optional times.
fn token(user: &str, created_at: SystemTime) -> ApiToken {
    ApiToken {
        id: unique("id"),
        user: user.to_owned(),
        name: "CI deploys «Ünïcode»".to_owned(),
        scopes: Vec::new(),
        hash: unique("hash"),
        created_at,
        last_used_at: None,
        expires_at: None,
    }
}

async fn insert(store: &impl TokenStore, token: &ApiToken) {
    store.insert(token).await.expect("the store inserts");
}

async fn find(store: &impl TokenStore, hash: &str) -> Option<ApiToken> {
    store.find(hash).await.expect("the store finds")
}

async fn list(store: &impl TokenStore, user: &str) -> Vec<ApiToken> {
    store.list(user).await.expect("the store lists")
}

async fn rehash(store: &impl TokenStore, id: &str, from: &str, to: &str) -> bool {
    store
        .rehash(&Rehash { id, from, to })
        .await
        .expect("the store rehashes")
}

async fn revoke(store: &impl TokenStore, user: &str, id: &str) -> bool {
    store.revoke(user, id).await.expect("the store revokes")
}

async fn revoke_user(store: &impl TokenStore, user: &str) -> u64 {
    store
        .revoke_user(user)
        .await
        .expect("the store revokes all")
}

async fn token_contract<S: TokenStore + Clone>(store: S) {
    store.ping().await.expect("the store answers a ping");
    let (alice, bob) = (unique("alice"), unique("bob"));
    let start = now() - Duration::from_secs(60);

    // Every field comes back as inserted, the optional times to the millisecond; an expired
    // token is found as it is. The list is oldest first whatever the order of inserting.
    let first = ApiToken {
        scopes: vec![
            "read".to_owned(),
            "repo:write".to_owned(),
            "a.b_c-D".to_owned(),
        ],
        last_used_at: Some(start + Duration::from_secs(5)),
        expires_at: Some(start + HOUR),
        ..token(&alice, start)
    };
    let second = token(&alice, start + Duration::from_secs(1));
    let expired = ApiToken {
        scopes: vec!["read".to_owned()],
        expires_at: Some(now() - Duration::from_secs(30)),
        ..token(&alice, start + Duration::from_secs(2))
    };
    let bobs = token(&bob, start);
    for token in [&second, &first, &bobs, &expired] {
        insert(&store, token).await;
    }
    for token in [&first, &second, &expired, &bobs] {
        assert_eq!(find(&store, &token.hash).await.as_ref(), Some(token));
    }
    assert_eq!(
        list(&store, &alice).await,
        [first.clone(), second.clone(), expired.clone()]
    );
    assert_eq!(list(&store, &bob).await, slice::from_ref(&bobs));
    assert_eq!(find(&store, &unique("unknown")).await, None);
    assert_eq!(find(&store, "").await, None);
    assert_eq!(list(&store, &unique("nobody")).await, []);

    // A use is recorded on its token alone; an unknown id records nothing.
    let used = now();
    store.touch(&second.id, used).await.expect("touch");
    let second = ApiToken {
        last_used_at: Some(used),
        ..second
    };
    assert_eq!(find(&store, &second.hash).await.as_ref(), Some(&second));
    store.touch(&unique("id"), used).await.expect("touch");
    assert_eq!(
        list(&store, &alice).await,
        [first.clone(), second.clone(), expired.clone()]
    );

    // A rehash needs the token's id and the hash it has now; then the token is found by its
    // new hash only, every other field as it was.
    let new_hash = unique("rehashed");
    for (id, from) in [
        (first.id.as_str(), "hash-wrong"),
        (second.id.as_str(), first.hash.as_str()),
        (first.id.as_str(), second.hash.as_str()),
        ("id-unknown", first.hash.as_str()),
    ] {
        assert!(!rehash(&store, id, from, &new_hash).await, "{id} {from}");
    }
    assert_eq!(find(&store, &first.hash).await.as_ref(), Some(&first));
    assert_eq!(find(&store, &second.hash).await.as_ref(), Some(&second));
    assert_eq!(find(&store, &new_hash).await, None);
    assert!(rehash(&store, &first.id, &first.hash, &new_hash).await);
    assert_eq!(find(&store, &first.hash).await, None);
    let old_hash = first.hash.clone();
    let first = ApiToken {
        hash: new_hash,
        ..first
    };
    assert_eq!(find(&store, &first.hash).await.as_ref(), Some(&first));
    assert!(!rehash(&store, &first.id, &old_hash, &unique("again")).await);
    assert_eq!(
        list(&store, &alice).await,
        [first.clone(), second.clone(), expired.clone()]
    );
    // Touched by its id after the rehash, it is still one token.
    store.touch(&first.id, used).await.expect("touch");
    let first = ApiToken {
        last_used_at: Some(used),
        ..first
    };
    assert_eq!(find(&store, &first.hash).await.as_ref(), Some(&first));

    // Many rehashes of one hash at once: exactly one wins, and its hash is the one kept.
    let raced = token(&alice, start + Duration::from_secs(3));
    insert(&store, &raced).await;
    let barrier = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|n| {
            let (store, barrier, raced) = (store.clone(), barrier.clone(), raced.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let to = format!("{}-race-{n}", raced.hash);
                rehash(&store, &raced.id, &raced.hash, &to)
                    .await
                    .then_some(to)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        winners.extend(racer.await.expect("a racer"));
    }
    assert_eq!(winners.len(), 1, "winners of one rehash: {winners:?}");
    assert_eq!(find(&store, &raced.hash).await, None);
    for n in 0..RACERS {
        let hash = format!("{}-race-{n}", raced.hash);
        let found = find(&store, &hash).await;
        if hash == winners[0] {
            assert_eq!(found.map(|token| token.id), Some(raced.id.clone()));
        } else {
            assert_eq!(found, None, "{hash}");
        }
    }

    // A token is revoked by its own user only, once; a revoked token is not touched back.
    assert!(!revoke(&store, &bob, &first.id).await);
    assert!(!revoke(&store, &alice, &bobs.id).await);
    assert!(!revoke(&store, &alice, "id-unknown").await);
    assert_eq!(find(&store, &first.hash).await.as_ref(), Some(&first));
    assert!(revoke(&store, &alice, &first.id).await);
    assert!(!revoke(&store, &alice, &first.id).await);
    assert_eq!(find(&store, &first.hash).await, None);
    store.touch(&first.id, now()).await.expect("touch");
    assert_eq!(find(&store, &first.hash).await, None);
    assert_eq!(list(&store, &alice).await.len(), 3);
    assert_eq!(list(&store, &bob).await, slice::from_ref(&bobs));

    // All of a user's tokens go together, counted, and no one else's.
    let bobs_second = token(&bob, start + Duration::from_secs(1));
    insert(&store, &bobs_second).await;
    assert_eq!(revoke_user(&store, &alice).await, 3);
    assert_eq!(list(&store, &alice).await, []);
    for gone in [&second, &expired] {
        assert_eq!(find(&store, &gone.hash).await, None);
    }
    assert_eq!(revoke_user(&store, &alice).await, 0);
    assert_eq!(
        list(&store, &bob).await,
        [bobs.clone(), bobs_second.clone()]
    );
    assert_eq!(revoke_user(&store, &bob).await, 2);
    assert_eq!(find(&store, &bobs.hash).await, None);
    assert_eq!(list(&store, &bob).await, []);
}

/// Users, ids and hashes that differ only in case (or trailing spaces and accents, which
/// MySQL's text collations ignore) are different.
async fn case_contract(store: impl TokenStore) {
    let carol = unique("Carol");
    let others = [
        carol.to_lowercase(),
        carol.to_uppercase(),
        format!("{carol} "),
        carol.replace('o', "ó"),
    ];
    let hers = ApiToken {
        id: format!("{}-AbC", unique("id")),
        hash: format!("{}-XyZ", unique("hash")),
        ..token(&carol, now())
    };
    insert(&store, &hers).await;
    for other in &others {
        assert_eq!(list(&store, other).await, [], "{other:?}");
        assert!(!revoke(&store, other, &hers.id).await, "{other:?}");
        assert_eq!(revoke_user(&store, other).await, 0, "{other:?}");
    }
    let variants = [hers.hash.to_lowercase(), hers.hash.to_uppercase()];
    for hash in &variants {
        assert_eq!(find(&store, hash).await, None, "{hash}");
        assert!(
            !rehash(&store, &hers.id, hash, "hash-other").await,
            "{hash}"
        );
    }
    assert!(!revoke(&store, &carol, &hers.id.to_lowercase()).await);
    assert_eq!(find(&store, &hers.hash).await.as_ref(), Some(&hers));

    // A token of the lower-case user whose id and hash differ from hers only in case.
    let his = ApiToken {
        id: hers.id.to_lowercase(),
        hash: hers.hash.to_lowercase(),
        ..token(&others[0], now())
    };
    insert(&store, &his).await;
    assert_eq!(find(&store, &hers.hash).await.as_ref(), Some(&hers));
    assert_eq!(find(&store, &his.hash).await.as_ref(), Some(&his));
    assert_eq!(list(&store, &carol).await, slice::from_ref(&hers));
    assert_eq!(list(&store, &others[0]).await, slice::from_ref(&his));
    assert_eq!(revoke_user(&store, &carol).await, 1);
    assert_eq!(find(&store, &his.hash).await.as_ref(), Some(&his));
    assert!(revoke(&store, &others[0], &his.id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_keeps_the_contract() {
    token_contract(MemoryTokenStore::default()).await;
    case_contract(MemoryTokenStore::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_store_keeps_the_contract() {
    let Some(db) = db::sqlite_file().await else {
        return;
    };
    let store = SqlxTokenStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    token_contract(store.clone()).await;
    case_contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_keeps_the_contract() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let store = SqlxTokenStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    token_contract(store.clone()).await;
    case_contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mysql_store_keeps_the_contract() {
    let Some(db) = db::mysql().await else { return };
    let store = SqlxTokenStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    token_contract(store.clone()).await;
    case_contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_store_keeps_the_contract() {
    let Some(pool) = db::redis("the_redis_store_keeps_the_contract").await else {
        return;
    };
    let prefix = format!("axl_test_{:016x}:", rand::random::<u64>());
    token_contract(RedisTokenStore::new(pool.clone()).with_prefix(&prefix)).await;
    case_contract(RedisTokenStore::new(pool).with_prefix(prefix)).await;
}
