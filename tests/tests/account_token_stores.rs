//! Every store of mailed tokens we ship keeps the same contract, on its real database: a token
//! comes back with every field as inserted (an expired one too: the caller decides by its
//! clock); it is used once, by exactly one of the requests that present it at once, also when
//! each of them had found it first; a login removes the user's tokens that a login voids and an
//! address change all of them, counted, and no one else's; expired tokens are swept by time.
//! Hashes and users that differ only in case are different.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum_login::accounts::{
    AccountToken, AccountTokenStore, MemoryAccountTokenStore, Purpose, Revoke,
    SqlxAccountTokenStore,
};
use axum_login_tests::db;
use tokio::sync::Barrier;

const HOUR: Duration = Duration::from_secs(3600);

/// How many requests present one token at once in the race.
const RACERS: usize = 8;

/// Rounds of the race: each a new token.
const ROUNDS: usize = 10;

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

fn token(user: &str, created_at: SystemTime) -> AccountToken {
    AccountToken {
        hash: unique("hash"),
        purpose: Purpose::PasswordReset,
        user: user.to_owned(),
        email: "Ferris.Ünïcode@example.com".to_owned(),
        new_email: None,
        stamp: unique("stamp"),
        created_at,
        expires_at: created_at + HOUR,
    }
}

async fn find(store: &impl AccountTokenStore, hash: &str) -> Option<AccountToken> {
    store.find(hash).await.expect("the store finds")
}

async fn consume(store: &impl AccountTokenStore, hash: &str) -> bool {
    store.consume(hash).await.expect("the store consumes")
}

async fn contract<S: AccountTokenStore + Clone>(store: S) {
    store.ping().await.expect("the store answers a ping");
    let (alice, bob) = (unique("alice"), unique("bob"));
    let start = now() - Duration::from_secs(60);

    let first = token(&alice, start);
    let expired = AccountToken {
        expires_at: now() - Duration::from_secs(1),
        ..token(&alice, start)
    };
    let bobs = AccountToken {
        purpose: Purpose::ChangeEmail,
        new_email: Some("bob.nouveau@example.com".to_owned()),
        ..token(&bob, start)
    };
    for token in [&first, &expired, &bobs] {
        store.insert(token).await.expect("insert");
    }
    for token in [&first, &expired, &bobs] {
        assert_eq!(find(&store, &token.hash).await.as_ref(), Some(token));
    }
    assert_eq!(find(&store, &unique("unknown")).await, None);
    assert_eq!(find(&store, "").await, None);

    // Used once: the second use finds nothing, and nothing else went.
    assert!(consume(&store, &first.hash).await);
    assert!(!consume(&store, &first.hash).await);
    assert_eq!(find(&store, &first.hash).await, None);
    assert!(!consume(&store, &unique("unknown")).await);
    assert_eq!(find(&store, &bobs.hash).await.as_ref(), Some(&bobs));

    // Two requests that both found the token (the interleaving forced: both reads before
    // either use), then use it at once: exactly one wins. Then the same as a bounded race.
    for round in 0..ROUNDS {
        let raced = token(&alice, start);
        store.insert(&raced).await.expect("insert");
        if round == 0 {
            assert!(find(&store, &raced.hash).await.is_some());
            assert!(find(&store, &raced.hash).await.is_some());
        }
        let barrier = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (store, barrier, hash) = (store.clone(), barrier.clone(), raced.hash.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    consume(&store, &hash).await
                })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            winners += usize::from(racer.await.expect("a racer"));
        }
        assert_eq!(winners, 1, "round {round}: winners of one token");
    }

    // Expired tokens go by time, and only they.
    assert_eq!(store.delete_expired(now()).await.expect("sweep"), 1);
    assert_eq!(find(&store, &expired.hash).await, None);
    assert_eq!(find(&store, &bobs.hash).await.as_ref(), Some(&bobs));

    // A login removes what a login voids (every purpose we have), counted, no one else's.
    let (a, b) = (token(&alice, start), token(&alice, start));
    for token in [&a, &b] {
        store.insert(token).await.expect("insert");
    }
    assert_eq!(
        store
            .revoke_user(&alice, Revoke::EndedByLogin)
            .await
            .expect("revoke"),
        2
    );
    assert_eq!(find(&store, &a.hash).await, None);
    assert_eq!(find(&store, &bobs.hash).await.as_ref(), Some(&bobs));
    assert_eq!(
        store
            .revoke_user(&alice, Revoke::All)
            .await
            .expect("revoke"),
        0
    );
    assert_eq!(
        store.revoke_user(&bob, Revoke::All).await.expect("revoke"),
        1
    );
    assert_eq!(find(&store, &bobs.hash).await, None);

    // Users and hashes that differ only in case (or a trailing space, an accent: MySQL's
    // collations ignore those) are different.
    let carol = token(&unique("Carol"), start);
    store.insert(&carol).await.expect("insert");
    for other in [
        carol.user.to_lowercase(),
        carol.user.to_uppercase(),
        format!("{} ", carol.user),
        carol.user.replace('o', "ó"),
    ] {
        assert_eq!(
            store
                .revoke_user(&other, Revoke::All)
                .await
                .expect("revoke"),
            0,
            "{other}"
        );
    }
    for hash in [carol.hash.to_uppercase(), format!("{} ", carol.hash)] {
        assert_eq!(find(&store, &hash).await, None, "{hash}");
        assert!(!consume(&store, &hash).await, "{hash}");
    }
    assert!(consume(&store, &carol.hash).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_keeps_the_contract() {
    contract(MemoryAccountTokenStore::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_store_keeps_the_contract() {
    let Some(db) = db::sqlite_file().await else {
        return;
    };
    let store = SqlxAccountTokenStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_keeps_the_contract() {
    let Some(db) = db::postgres().await else {
        return;
    };
    let store = SqlxAccountTokenStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mysql_store_keeps_the_contract() {
    let Some(db) = db::mysql().await else { return };
    let store = SqlxAccountTokenStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    contract(store).await;
    db.finish().await;
}
