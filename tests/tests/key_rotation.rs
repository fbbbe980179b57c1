//! Rotating the session key of a running two-instance deployment (sessions, remember-me tokens
//! and the throttle's device cookies in Redis), over HTTP, the way the
//! [`SessionKey`](axum_login::SessionKey) docs tell an operator to: first every instance learns
//! the new key, then every instance signs with it and keeps the old one until a deadline. Nobody
//! is logged out and no device cookie is lost during the rotation; after the deadline whatever
//! was signed only under the old key is refused.

use std::time::Duration;

use axum_login::{
    AuthLayer, SessionKey, Throttle,
    clock::{Clock, ManualClock},
    remember::{RedisRememberStore, RememberMe},
    security::RedisThrottleStore,
    session::RedisSessionStore,
    session_layer,
};
use axum_login_tests::{
    db,
    directory::TestStore,
    http::serve_with_addr,
    lifecycle_app::{Browser, REMEMBER_COOKIE, SESSION_COOKIE, Shared, routes},
};

const DEVICE_COOKIE: &str = "__Host-axum_login_device";

/// What the instances share: the users, Redis (under one prefix) and the clock.
struct Deployment {
    users: TestStore,
    redis: fred::clients::Pool,
    prefix: String,
    clock: ManualClock,
}

impl Deployment {
    /// Starts an instance of the app with `key`, and answers its base URL. A restart with a new
    /// key is a new instance on the same stores.
    async fn instance(&self, key: SessionKey) -> String {
        let throttle = RedisThrottleStore::new(self.redis.clone()).with_prefix(&self.prefix);
        let layer = AuthLayer::builder(
            self.users.clone(),
            session_layer(RedisSessionStore::new(self.redis.clone()).with_prefix(&self.prefix)),
        )
        .session_key(key)
        .realm("app")
        .clock(self.clock.clone())
        .throttle(Throttle::new(throttle).max_failures_per_account(1))
        .remember_me(RememberMe::new(
            RedisRememberStore::new(self.redis.clone()).with_prefix(&self.prefix),
        ))
        .build();
        let addr = serve_with_addr(routes(Shared::default()).layer(layer)).await;
        format!("http://{addr}")
    }

    /// Locks `user`'s account with one wrong password from a browser of no one's.
    async fn lock(&self, base: &str, user: &str) {
        let stranger = Browser::new(base);
        assert_eq!(stranger.login(user, "wrong", false).await.status(), 401);
        assert_eq!(
            stranger
                .login(user, &format!("pw-{user}"), false)
                .await
                .status(),
            401,
            "the account is locked for a browser it does not know"
        );
    }
}

fn key(byte: u8) -> SessionKey {
    SessionKey::from_bytes(&[byte; 64]).expect("a key")
}

async fn assert_logged_in(browser: &Browser, bases: &[&str], who: &str, when: &str) {
    for base in bases {
        assert_eq!(browser.at(base).whoami().await, who, "{when}, at {base}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_key_rotation_logs_nobody_out_and_ends_with_the_old_key_refused() {
    let test = "a_rolling_key_rotation_logs_nobody_out_and_ends_with_the_old_key_refused";
    let Some(redis) = db::redis(test).await else {
        return;
    };
    let deployment = Deployment {
        users: TestStore::with_users(&[
            (1, "alice", "pw-alice"),
            (2, "bob", "pw-bob"),
            (3, "carol", "pw-carol"),
            (4, "dave", "pw-dave"),
        ]),
        redis,
        prefix: format!("axl_test_{:016x}:", rand::random::<u64>()),
        clock: ManualClock::new(),
    };
    let (old, new) = (key(1), key(2));
    let a = deployment.instance(old.clone()).await;
    let b = deployment.instance(old.clone()).await;

    // Before the rotation: alice is logged in (and her browser has a device cookie), bob and
    // dave are remembered and have closed their browsers, carol is logged in. Carol and dave
    // then stay away until after the deadline.
    let alice = Browser::new(&a);
    assert_eq!(alice.login("alice", "pw-alice", false).await.status(), 303);
    let alice_old_device = alice.cookie(DEVICE_COOKIE).expect("a device cookie");
    let bob = Browser::new(&b);
    assert_eq!(bob.login("bob", "pw-bob", true).await.status(), 303);
    bob.restart();
    let dave = Browser::new(&a);
    assert_eq!(dave.login("dave", "pw-dave", true).await.status(), 303);
    dave.restart();
    let carol = Browser::new(&b);
    assert_eq!(carol.login("carol", "pw-carol", false).await.status(), 303);
    let carol_old_device = carol.cookie(DEVICE_COOKIE).expect("a device cookie");
    assert_logged_in(&alice, &[&a, &b], "alice", "before the rotation").await;
    assert_logged_in(&carol, &[&a, &b], "carol", "before the rotation").await;

    // Step 1, one instance at a time: every instance learns the new key, the old one still
    // signs.
    let a = deployment
        .instance(old.clone().with_next(new.clone()))
        .await;
    assert_logged_in(&alice, &[&a, &b], "alice", "during step 1").await;
    let b = deployment
        .instance(old.clone().with_next(new.clone()))
        .await;
    assert_logged_in(&alice, &[&a, &b], "alice", "after step 1").await;

    // Step 2, one instance at a time: the new key signs, the old one verifies for an hour.
    let deadline = deployment.clock.now() + Duration::from_secs(3600);
    let a = deployment
        .instance(new.clone().with_previous(old.clone(), deadline))
        .await;
    // A's requests sign again under the new key; B, still at step 1, accepts the result.
    assert_logged_in(&alice, &[&a, &b], "alice", "during step 2").await;
    let bob_old_cookie = bob.cookie(REMEMBER_COOKIE).expect("a remember-me cookie");
    assert_logged_in(&bob, &[&a], "bob", "remembered, during step 2").await;
    assert_ne!(
        bob.cookie(REMEMBER_COOKIE).as_deref(),
        Some(bob_old_cookie.as_str()),
        "the remember-me token was rotated (and moved to the new key)"
    );
    bob.restart();
    assert_logged_in(
        &bob,
        &[&b],
        "bob",
        "remembered again, on the other instance",
    )
    .await;
    let b = deployment
        .instance(new.clone().with_previous(old.clone(), deadline))
        .await;
    assert_logged_in(&alice, &[&a, &b], "alice", "after step 2").await;
    bob.restart();
    assert_logged_in(&bob, &[&a], "bob", "remembered after step 2").await;

    // The browsers talk to the instances running now.
    let (alice, bob, carol, dave) = (alice.at(&a), bob.at(&a), carol.at(&b), dave.at(&a));

    // Alice's device cookie, signed under the old key, still passes her account's lock, and
    // her login writes it again under the new key.
    deployment.lock(&a, "alice").await;
    assert_eq!(
        alice.login("alice", "pw-alice", false).await.status(),
        303,
        "the owner's device cookie from before the rotation passes the lock"
    );
    assert_ne!(
        alice.cookie(DEVICE_COOKIE).as_deref(),
        Some(alice_old_device.as_str()),
        "the device cookie is written again under the new key"
    );

    // After the deadline: alice and bob used the rotation window and stay in; carol's session
    // and device cookie, dave's remember-me cookie and the old copies were signed only under
    // the old key.
    deployment.clock.advance(Duration::from_secs(3600));
    assert_logged_in(&alice, &[&a, &b], "alice", "after the deadline").await;
    bob.restart();
    assert_logged_in(&bob, &[&b], "bob", "remembered, after the deadline").await;
    assert_eq!(
        carol.whoami().await,
        "anonymous",
        "carol's session was never re-signed"
    );
    assert_eq!(
        dave.whoami().await,
        "anonymous",
        "dave's remember-me cookie was never used"
    );
    assert!(
        dave.cookie(REMEMBER_COOKIE).is_none(),
        "a refused remember-me cookie is removed"
    );
    let stale_bob = Browser::new(&a).with_cookie(REMEMBER_COOKIE, &bob_old_cookie);
    assert_eq!(stale_bob.whoami().await, "anonymous");

    deployment.lock(&a, "alice").await;
    let alice_now = alice.cookie(DEVICE_COOKIE).expect("a device cookie");
    let with_old_device = Browser::new(&a).with_cookie(DEVICE_COOKIE, &alice_old_device);
    assert_eq!(
        with_old_device
            .login("alice", "pw-alice", false)
            .await
            .status(),
        401,
        "a device cookie signed only under the old key passed the lock after the deadline"
    );
    let with_new_device = Browser::new(&a).with_cookie(DEVICE_COOKIE, &alice_now);
    assert_eq!(
        with_new_device
            .login("alice", "pw-alice", false)
            .await
            .status(),
        303
    );
    deployment.lock(&b, "carol").await;
    let with_carol_device = Browser::new(&b).with_cookie(DEVICE_COOKIE, &carol_old_device);
    assert_eq!(
        with_carol_device
            .login("carol", "pw-carol", false)
            .await
            .status(),
        401
    );
    // Carol logs in again from a fresh browser once her lock runs out: the new key works.
    deployment.clock.advance(Duration::from_secs(15 * 60));
    let carol = Browser::new(&b);
    assert_eq!(carol.login("carol", "pw-carol", false).await.status(), 303);
    assert!(carol.cookie(SESSION_COOKIE).is_some());
    assert_logged_in(&carol, &[&a, &b], "carol", "logged in again").await;
}
