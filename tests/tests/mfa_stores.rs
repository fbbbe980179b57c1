//! The second-factor stores on every database: memory, SQLite (a file, several connections),
//! PostgreSQL and MariaDB, each test on a fresh database. The same scenarios run on each: TOTP
//! enrolment and the replay guard, concurrent uses of one code or recovery code (exactly one
//! wins), secrets at rest, user ids kept apart, and the passkey store.
#![allow(clippy::unwrap_used)]

use std::{collections::HashSet, sync::Arc, time::Duration};

use axum_login::{
    clock::{Clock, ManualClock},
    mfa::{
        CodeCheck, EncryptionKey, MemoryPasskeyStore, MemorySecondFactorStore, Mfa, MfaError,
        PasskeyStore, PasskeyUpdate, Passkeys, SecondFactorStore, SqlxPasskeyStore,
        SqlxSecondFactorStore, Totp, TotpReseal, TotpSecret,
        passkey::{Passkey, Url},
    },
};
use axum_login_tests::{db, soft_passkey::SoftAuthenticator};
use secrecy::ExposeSecret;

fn mfa<S: SecondFactorStore>(store: S) -> Mfa<S> {
    Mfa::new(store, Totp::new("Stores")).with_encryption_key(key())
}

/// One key for the whole suite, as an app has one.
fn key() -> EncryptionKey {
    EncryptionKey::from_bytes(&[42; 32]).unwrap()
}

async fn enrol<S: SecondFactorStore>(mfa: &Mfa<S>, user: &str, clock: &ManualClock) -> TotpSecret {
    let enrolment = mfa.start_totp_enrollment(user, "someone").await.unwrap();
    let code = mfa.totp().code(enrolment.secret(), clock);
    assert!(
        mfa.confirm_totp(user, &code, clock)
            .await
            .unwrap()
            .is_some()
    );
    enrolment.secret().clone()
}

async fn enrolment_confirmation_and_replay_guard<S: SecondFactorStore>(store: S) {
    let clock = ManualClock::new();
    let mfa = mfa(store);
    assert!(mfa.store().totp("7").await.unwrap().is_none());

    let enrolment = mfa.start_totp_enrollment("7", "ferris").await.unwrap();
    let stored = mfa.store().totp("7").await.unwrap().unwrap();
    assert!(stored.secret.is_none() && stored.pending.is_some());
    assert!(!mfa.totp_enabled("7").await.unwrap());

    let code = mfa.totp().code(enrolment.secret(), &clock);
    let codes = mfa.confirm_totp("7", &code, &clock).await.unwrap().unwrap();
    let stored = mfa.store().totp("7").await.unwrap().unwrap();
    assert!(stored.secret.is_some() && stored.pending.is_none());
    assert_eq!(stored.last_step, Some(mfa.totp().step_at(clock.now())));
    assert_eq!(mfa.recovery_codes_left("7").await.unwrap(), 10);
    assert_eq!(
        mfa.verify_totp("7", &code, &clock).await.unwrap(),
        CodeCheck::Replayed,
        "the confirming code is used up"
    );

    clock.advance(Duration::from_secs(30));
    let next = mfa.totp().code(enrolment.secret(), &clock);
    assert_eq!(
        mfa.verify_totp("7", &next, &clock).await.unwrap(),
        CodeCheck::Accepted
    );
    let last = mfa.store().totp("7").await.unwrap().unwrap().last_step;
    assert_eq!(last, Some(mfa.totp().step_at(clock.now())));
    assert_eq!(
        mfa.verify_totp("7", &next, &clock).await.unwrap(),
        CodeCheck::Replayed
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        mfa.verify_totp("7", &next, &clock).await.unwrap(),
        CodeCheck::Replayed,
        "still inside the window a step later"
    );
    let wrong = if next == "000000" { "111111" } else { "000000" };
    assert_eq!(
        mfa.verify_totp("7", wrong, &clock).await.unwrap(),
        CodeCheck::Rejected
    );

    let first = codes.iter().next().unwrap().to_owned();
    assert!(mfa.use_recovery_code("7", &first).await.unwrap());
    assert!(!mfa.use_recovery_code("7", &first).await.unwrap());
    assert_eq!(mfa.recovery_codes_left("7").await.unwrap(), 9);

    // Re-enrolment leaves the confirmed secret in force until the new one is confirmed.
    let again = mfa.start_totp_enrollment("7", "ferris").await.unwrap();
    clock.advance(Duration::from_secs(30));
    let old = mfa.totp().code(enrolment.secret(), &clock);
    assert_eq!(
        mfa.verify_totp("7", &old, &clock).await.unwrap(),
        CodeCheck::Accepted
    );
    clock.advance(Duration::from_secs(30));
    let new = mfa.totp().code(again.secret(), &clock);
    let fresh = mfa.confirm_totp("7", &new, &clock).await.unwrap().unwrap();
    assert!(
        !mfa.use_recovery_code("7", codes.iter().nth(1).unwrap())
            .await
            .unwrap()
    );
    assert!(
        mfa.use_recovery_code("7", fresh.iter().nth(1).unwrap())
            .await
            .unwrap()
    );
    clock.advance(Duration::from_secs(30));
    let old = mfa.totp().code(enrolment.secret(), &clock);
    let new = mfa.totp().code(again.secret(), &clock);
    if old != new {
        assert_eq!(
            mfa.verify_totp("7", &old, &clock).await.unwrap(),
            CodeCheck::Rejected
        );
    }
    assert_eq!(
        mfa.verify_totp("7", &new, &clock).await.unwrap(),
        CodeCheck::Accepted
    );

    assert!(mfa.disable("7").await.unwrap());
    assert!(!mfa.disable("7").await.unwrap());
    assert!(mfa.store().totp("7").await.unwrap().is_none());
    assert_eq!(mfa.recovery_codes_left("7").await.unwrap(), 0);
    assert_eq!(
        mfa.verify_totp("7", &new, &clock).await.unwrap(),
        CodeCheck::NotEnrolled
    );
}

async fn concurrent_uses_of_one_code_let_exactly_one_through<S: SecondFactorStore>(store: S) {
    let clock = ManualClock::new();
    let mfa = Arc::new(mfa(store));
    let secret = enrol(&mfa, "7", &clock).await;
    let codes = mfa.regenerate_recovery_codes("7").await.unwrap();
    for (round, recovery) in codes.iter().enumerate().take(5) {
        clock.advance(Duration::from_secs(30));
        let code = mfa.totp().code(&secret, &clock);
        let recovery = recovery.to_owned();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (mfa, clock, code, recovery) =
                    (mfa.clone(), clock.clone(), code.clone(), recovery.clone());
                tokio::spawn(async move {
                    let totp = mfa.verify_totp("7", &code, &clock).await.unwrap();
                    let recovery = mfa.use_recovery_code("7", &recovery).await.unwrap();
                    (totp, recovery)
                })
            })
            .collect();
        let mut accepted = 0;
        let mut used = 0;
        for task in tasks {
            let (totp, recovery) = task.await.unwrap();
            assert!(
                matches!(totp, CodeCheck::Accepted | CodeCheck::Replayed),
                "{totp:?}"
            );
            accepted += usize::from(totp.is_accepted());
            used += usize::from(recovery);
        }
        assert_eq!(accepted, 1, "round {round}: one TOTP code, one acceptance");
        assert_eq!(used, 1, "round {round}: one recovery code, one use");
    }
    assert_eq!(mfa.recovery_codes_left("7").await.unwrap(), 5);
}

async fn secrets_at_rest_are_encrypted_under_the_key<S: SecondFactorStore>(store: S) {
    let clock = ManualClock::new();
    let encrypted = Arc::new(mfa(store));
    let secret = enrol(&encrypted, "7", &clock).await;
    let stored = encrypted.store().totp("7").await.unwrap().unwrap();
    let stored = stored.secret.unwrap();
    assert!(
        !stored
            .expose_secret()
            .windows(secret.expose_secret().len())
            .any(|window| window == secret.expose_secret()),
        "the secret's bytes are not in the row"
    );
    // The same rows read without the key, or under another key, give no codes.
    let store = Arc::into_inner(encrypted).unwrap().into_store();
    let without = Mfa::new(store, Totp::new("Stores"));
    assert!(matches!(
        without.verify_totp("7", "123456", &clock).await,
        Err(MfaError::KeyMissing)
    ));
    let other = Mfa::new(without.into_store(), Totp::new("Stores"))
        .with_encryption_key(EncryptionKey::generate());
    assert!(matches!(
        other.verify_totp("7", "123456", &clock).await,
        Err(MfaError::Decrypt)
    ));
}

/// After the encryption key is rotated, a secret sealed under the old key still gives codes,
/// and is sealed again under the new key by the first right code (or on demand), keeping the
/// replay guard; then the old key can go.
async fn secrets_move_to_a_new_key_on_use<S: SecondFactorStore>(store: S) {
    let clock = ManualClock::new();
    let before = mfa(store);
    let alice = enrol(&before, "7", &clock).await;
    let bob = enrol(&before, "8", &clock).await;
    let old_alice = before
        .store()
        .totp("7")
        .await
        .unwrap()
        .unwrap()
        .secret
        .unwrap();
    let new_key = EncryptionKey::from_bytes(&[43; 32]).unwrap();
    let after = Mfa::new(before.into_store(), Totp::new("Stores"))
        .with_encryption_key(new_key.clone().with_previous(key()));

    clock.advance(Duration::from_secs(30));
    let code = after.totp().code(&alice, &clock);
    assert_eq!(
        after.verify_totp("7", &code, &clock).await.unwrap(),
        CodeCheck::Accepted
    );
    let new_alice = after.store().totp("7").await.unwrap().unwrap();
    assert_ne!(
        new_alice.secret.as_ref().unwrap().expose_secret(),
        old_alice.expose_secret(),
        "a right code seals the secret again"
    );
    // The step was kept: the same code is still a replay.
    assert_eq!(
        after.verify_totp("7", &code, &clock).await.unwrap(),
        CodeCheck::Replayed
    );
    // Bob has not logged in: a job moves his secret; a second run has nothing to do.
    assert!(after.reseal_totp("8").await.unwrap());
    assert!(!after.reseal_totp("8").await.unwrap());
    assert!(!after.reseal_totp("7").await.unwrap());
    assert!(!after.reseal_totp("nobody").await.unwrap());

    // The old key dropped, both still give codes.
    let only_new = Mfa::new(after.into_store(), Totp::new("Stores")).with_encryption_key(new_key);
    clock.advance(Duration::from_secs(30));
    for (user, secret) in [("7", &alice), ("8", &bob)] {
        let code = only_new.totp().code(secret, &clock);
        assert_eq!(
            only_new.verify_totp(user, &code, &clock).await.unwrap(),
            CodeCheck::Accepted,
            "user {user}"
        );
    }
    // A reseal from a stale sealed value changes nothing.
    let current = only_new
        .store()
        .totp("7")
        .await
        .unwrap()
        .unwrap()
        .secret
        .unwrap();
    assert!(
        !only_new
            .store()
            .reseal_totp(&TotpReseal {
                user: "7",
                from: &old_alice,
                to: &old_alice,
            })
            .await
            .unwrap()
    );
    assert_eq!(
        only_new
            .store()
            .totp("7")
            .await
            .unwrap()
            .unwrap()
            .secret
            .unwrap()
            .expose_secret(),
        current.expose_secret()
    );
}

async fn user_ids_are_kept_apart<S: SecondFactorStore>(store: S) {
    let clock = ManualClock::new();
    let mfa = mfa(store);
    // Ids differing only in case (or accents, on MySQL's default collations) are other users.
    let upper = enrol(&mfa, "Alice", &clock).await;
    let codes = mfa.regenerate_recovery_codes("Alice").await.unwrap();
    for other in ["alice", "ALICE", "Alicé", "Alice "] {
        assert!(!mfa.totp_enabled(other).await.unwrap(), "{other:?}");
        assert_eq!(
            mfa.recovery_codes_left(other).await.unwrap(),
            0,
            "{other:?}"
        );
        assert!(
            !mfa.use_recovery_code(other, codes.iter().next().unwrap())
                .await
                .unwrap()
        );
    }
    let lower = enrol(&mfa, "alice", &clock).await;
    clock.advance(Duration::from_secs(30));
    let code = mfa.totp().code(&upper, &clock);
    if code != mfa.totp().code(&lower, &clock) {
        assert_eq!(
            mfa.verify_totp("alice", &code, &clock).await.unwrap(),
            CodeCheck::Rejected
        );
    }
    assert_eq!(
        mfa.verify_totp("Alice", &code, &clock).await.unwrap(),
        CodeCheck::Accepted
    );
    assert_eq!(mfa.recovery_codes_left("Alice").await.unwrap(), 10);
}

/// Two passkeys, registered in process with the soft authenticator.
async fn two_passkeys() -> (Passkey, Passkey) {
    let origin = Url::parse("https://app.example.com").unwrap();
    let passkeys = Passkeys::new(
        MemoryPasskeyStore::default(),
        "app.example.com",
        &origin,
        "Stores",
    )
    .unwrap();
    let mut authenticator = SoftAuthenticator::new(origin);
    let mut register = async |user: &str| {
        let (options, state) = passkeys.start_registration(user, user, user).await.unwrap();
        let response = authenticator.register(options);
        passkeys
            .finish_registration(user, &response, state)
            .await
            .unwrap()
    };
    let first = register("a").await;
    let second = register("b").await;
    (first, second)
}

fn update<'a>(user: &'a str, passkey: &'a Passkey, counter: u32) -> PasskeyUpdate<'a> {
    PasskeyUpdate {
        user,
        passkey,
        counter,
    }
}

async fn passkey_store_keeps_credentials_per_user<S: PasskeyStore>(store: S) {
    let store = Arc::new(store);
    let (first, second) = two_passkeys().await;

    let handles: HashSet<_> = futures_join(
        (0..6)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.user_handle("7").await.unwrap() })
            })
            .collect(),
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(
        handles.len(),
        1,
        "concurrent first calls agree on one handle"
    );
    let handle = *handles.iter().next().unwrap();
    assert_eq!(store.user_handle("7").await.unwrap(), handle);
    assert_ne!(store.user_handle("8").await.unwrap(), handle);
    assert_eq!(
        store.user_by_handle(handle).await.unwrap().as_deref(),
        Some("7")
    );
    assert_eq!(store.user_by_handle(uuid_nil()).await.unwrap(), None);

    assert!(store.passkeys("7").await.unwrap().is_empty());
    assert!(store.add_passkey("7", &first).await.unwrap());
    assert!(
        !store.add_passkey("7", &first).await.unwrap(),
        "registered already"
    );
    assert!(
        !store.add_passkey("8", &first).await.unwrap(),
        "to another user"
    );
    assert!(store.add_passkey("7", &second).await.unwrap());
    let ids: HashSet<Vec<u8>> = store
        .passkeys("7")
        .await
        .unwrap()
        .iter()
        .map(|p| p.cred_id().to_vec())
        .collect();
    assert_eq!(
        ids,
        HashSet::from([first.cred_id().to_vec(), second.cred_id().to_vec()])
    );
    assert!(store.passkeys("8").await.unwrap().is_empty());

    // The counter only moves forward; the same value again is allowed (backup flags change).
    assert!(store.update_passkey(&update("7", &first, 5)).await.unwrap());
    assert!(!store.update_passkey(&update("7", &first, 4)).await.unwrap());
    assert!(store.update_passkey(&update("7", &first, 5)).await.unwrap());
    assert!(
        !store.update_passkey(&update("8", &first, 9)).await.unwrap(),
        "not theirs"
    );

    assert!(!store.remove_passkey("8", first.cred_id()).await.unwrap());
    assert!(store.remove_passkey("7", first.cred_id()).await.unwrap());
    assert!(!store.remove_passkey("7", first.cred_id()).await.unwrap());
    let left = store.passkeys("7").await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].cred_id(), second.cred_id());
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

fn uuid_nil() -> axum_login::mfa::passkey::Uuid {
    axum_login::mfa::passkey::Uuid::nil()
}

/// Runs each scenario on every store; each database test gets a fresh database.
macro_rules! on_every_store {
    ($make_memory:expr, $make_sqlx:ident => $($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                super::$scenario($make_memory).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = db::sqlite_file().await.unwrap();
                let store = $make_sqlx::new(db.pool.clone());
                store.migrate().await.unwrap();
                store.migrate().await.unwrap();
                super::$scenario(store).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(db) = db::postgres().await else { return };
                let store = $make_sqlx::new(db.pool.clone());
                store.migrate().await.unwrap();
                store.migrate().await.unwrap();
                super::$scenario(store).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mysql() {
                let Some(db) = db::mysql().await else { return };
                let store = $make_sqlx::new(db.pool.clone());
                store.migrate().await.unwrap();
                store.migrate().await.unwrap();
                super::$scenario(store).await;
                db.finish().await;
            }
        }
    )*};
}

on_every_store!(
    MemorySecondFactorStore::default(), SqlxSecondFactorStore =>
    enrolment_confirmation_and_replay_guard,
    concurrent_uses_of_one_code_let_exactly_one_through,
    secrets_at_rest_are_encrypted_under_the_key,
    secrets_move_to_a_new_key_on_use,
    user_ids_are_kept_apart,
);

on_every_store!(
    MemoryPasskeyStore::default(), SqlxPasskeyStore =>
    passkey_store_keeps_credentials_per_user,
);
