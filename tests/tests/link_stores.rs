//! Every store of provider links we ship keeps the same contract, on its real database: a link
//! comes back with every field as inserted; `(issuer, subject)` is linked once, also when
//! several first sign-ins of one account insert it at the same moment (exactly one wins, each
//! round); a user's links come oldest first and nobody else's; a removal takes only the named
//! link of the named user. Issuers, subjects and users that differ only in case are different.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum_login::oidc::{LinkStore, MemoryLinkStore, ProviderLink, SqlxLinkStore};
use axum_login_tests::db;
use tokio::sync::Barrier;

/// How many first sign-ins of one account insert its link at once in the race.
const RACERS: usize = 8;

/// Rounds of the race: each a new account.
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

fn link(issuer: &str, subject: &str, user: &str, at: SystemTime) -> ProviderLink {
    ProviderLink {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        user: user.to_owned(),
        provider: "example".to_owned(),
        email: Some("Ferris.Ünïcode@example.com".to_owned()),
        linked_at: at,
    }
}

async fn find(store: &impl LinkStore, issuer: &str, subject: &str) -> Option<ProviderLink> {
    store.find(issuer, subject).await.expect("the store finds")
}

async fn contract<S: LinkStore + Clone>(store: S) {
    store.ping().await.expect("the store answers a ping");
    let issuer = format!("https://{}.example", unique("issuer"));
    let other_issuer = format!("https://{}.example", unique("other"));
    let (alice, bob) = (unique("alice"), unique("bob"));
    let start = now() - Duration::from_secs(60);

    let first = link(&issuer, "subject-1", &alice, start);
    let second = ProviderLink {
        email: None,
        ..link(
            &other_issuer,
            "subject-1",
            &alice,
            start + Duration::from_secs(1),
        )
    };
    let bobs = link(&issuer, "subject-2", &bob, start);
    for kept in [&first, &second, &bobs] {
        assert!(store.insert(kept).await.expect("insert"), "{kept:?}");
    }
    assert_eq!(
        find(&store, &issuer, "subject-1").await,
        Some(first.clone())
    );
    assert_eq!(
        find(&store, &other_issuer, "subject-1").await,
        Some(second.clone())
    );
    assert_eq!(find(&store, &issuer, "subject-3").await, None);

    // An account linked already stays with its user.
    let taken = link(&issuer, "subject-1", &bob, now());
    assert!(!store.insert(&taken).await.expect("insert"));
    assert_eq!(
        find(&store, &issuer, "subject-1").await,
        Some(first.clone())
    );

    assert_eq!(
        store.for_user(&alice).await.expect("for_user"),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        store.for_user(&bob).await.expect("for_user"),
        vec![bobs.clone()]
    );
    assert_eq!(
        store.for_user(&unique("nobody")).await.expect("for_user"),
        vec![]
    );

    // Case makes another issuer, subject and user.
    for (issuer_case, subject_case) in [
        (issuer.to_uppercase(), "subject-1".to_owned()),
        (issuer.clone(), "SUBJECT-1".to_owned()),
        (issuer.clone(), "subject-1 ".to_owned()),
    ] {
        assert_eq!(find(&store, &issuer_case, &subject_case).await, None);
    }
    assert_eq!(
        store
            .for_user(&alice.to_uppercase())
            .await
            .expect("for_user"),
        vec![]
    );
    assert!(
        !store
            .remove(&alice.to_uppercase(), &issuer, "subject-1")
            .await
            .expect("remove")
    );

    // A removal takes the named link of the named user only.
    assert!(
        !store
            .remove(&bob, &issuer, "subject-1")
            .await
            .expect("remove")
    );
    assert!(
        store
            .remove(&alice, &issuer, "subject-1")
            .await
            .expect("remove")
    );
    assert!(
        !store
            .remove(&alice, &issuer, "subject-1")
            .await
            .expect("remove")
    );
    assert_eq!(find(&store, &issuer, "subject-1").await, None);
    assert_eq!(
        store.for_user(&alice).await.expect("for_user"),
        vec![second]
    );
    assert_eq!(find(&store, &issuer, "subject-2").await, Some(bobs));

    // First sign-ins of one account at once: every racer reaches the insertion together,
    // and exactly one links it, to its own user.
    for round in 0..ROUNDS {
        let subject = unique("racing");
        let barrier = Arc::new(Barrier::new(RACERS));
        let mut racers = Vec::new();
        for racer in 0..RACERS {
            let (store, barrier) = (store.clone(), barrier.clone());
            let candidate = link(&issuer, &subject, &format!("user-{round}-{racer}"), now());
            racers.push(tokio::spawn(async move {
                barrier.wait().await;
                let won = store.insert(&candidate).await.expect("insert");
                (won, candidate.user)
            }));
        }
        let mut winners = Vec::new();
        for racer in racers {
            let (won, user) = racer.await.expect("the racer finishes");
            if won {
                winners.push(user);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let kept = find(&store, &issuer, &subject).await.expect("the link");
        assert_eq!(kept.user, winners[0], "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_keeps_the_contract() {
    contract(MemoryLinkStore::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_store_keeps_the_contract() {
    let Some(db) = db::sqlite_file().await else {
        return;
    };
    let store = SqlxLinkStore::new(db.pool.clone());
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
    let store = SqlxLinkStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    contract(store).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mysql_store_keeps_the_contract() {
    let Some(db) = db::mysql().await else { return };
    let store = SqlxLinkStore::new(db.pool.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    contract(store).await;
    db.finish().await;
}
