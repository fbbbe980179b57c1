//! The session registry over HTTP: a user's sessions listed with the current one marked, one,
//! the others or all of them ended (and refused cross-site), a session limit that ends the
//! oldest or refuses the new login, and the races an ending or a limit must win (an id change,
//! concurrent re-authentications, concurrent logins). On the lifecycle app's in-memory stores;
//! the stores themselves are held to one contract in `registry_stores.rs`.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum_login::{
    error::BoxError,
    events::AuthEvent,
    registry::{MemorySessionRegistry, OnLimit, RegistryConfig, SessionRegistry},
    tower_sessions::{SessionStore as _, session::Id},
};
use axum_login_tests::lifecycle_app::{Browser, REMEMBER_COOKIE, SESSION_COOKIE, app};
use tokio::sync::Notify;

#[tokio::test]
async fn a_users_sessions_are_listed_with_the_current_one_marked() {
    let app = app(|builder| builder).await;
    let laptop = app.browser().with_agent("Laptop/1.0");
    let phone = app.browser().with_agent("Phone/2.0");
    let other = app.browser();
    assert_eq!(laptop.login("alice", "pw-alice", false).await.status(), 303);
    assert_eq!(phone.login("alice", "pw-alice", false).await.status(), 303);
    assert_eq!(other.login("bob", "pw-bob", false).await.status(), 303);

    let listed = laptop.sessions().await;
    assert_eq!(listed.len(), 2, "bob's session is not alice's: {listed:?}");
    assert_eq!(
        listed
            .iter()
            .map(|session| (session.user_agent.as_deref(), session.current))
            .collect::<Vec<_>>(),
        [(Some("Laptop/1.0"), true), (Some("Phone/2.0"), false)],
        "oldest first, this browser's marked"
    );
    assert!(
        listed
            .iter()
            .all(|session| session.address.as_deref() == Some("127.0.0.1")),
        "{listed:?}"
    );
    let from_phone = phone.sessions().await;
    assert_eq!(
        from_phone.iter().filter(|session| session.current).count(),
        1
    );
    assert!(from_phone[1].current, "the phone sees its own as current");
    assert_eq!(from_phone[0].id, listed[0].id, "entry ids are stable");
    assert!(
        !listed
            .iter()
            .any(|session| Some(&session.id) == laptop.cookie(SESSION_COOKIE).as_ref()),
        "an entry's id is never the session id"
    );

    let anonymous = app.browser();
    assert!(anonymous.sessions().await.is_empty());
}

#[tokio::test]
async fn an_ended_session_is_anonymous_at_its_next_request_and_others_stay() {
    let app = app(|builder| builder).await;
    let laptop = app.browser();
    let phone = app.browser();
    let tablet = app.browser();
    for browser in [&laptop, &phone, &tablet] {
        assert_eq!(
            browser.login("alice", "pw-alice", false).await.status(),
            303
        );
    }
    let listed = laptop.sessions().await;
    let phone_entry = phone
        .sessions()
        .await
        .into_iter()
        .find(|session| session.current)
        .expect("a current session")
        .id;

    let response = laptop
        .post(&format!("/sessions/{phone_entry}/end"), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "true");
    assert_eq!(phone.whoami().await, "anonymous");
    assert_eq!(laptop.whoami().await, "alice");
    assert_eq!(tablet.whoami().await, "alice");
    assert_eq!(laptop.sessions().await.len(), listed.len() - 1);
    assert!(app.events().contains(&AuthEvent::SessionEnded {
        user: "1".to_owned(),
        entry: phone_entry.clone(),
    }));

    // Ending it again, or an entry of someone else, ends nothing.
    let response = laptop
        .post(&format!("/sessions/{phone_entry}/end"), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "false");
    let bob = app.browser();
    bob.login("bob", "pw-bob", false).await;
    let tablet_entry = tablet
        .sessions()
        .await
        .into_iter()
        .find(|session| session.current)
        .expect("a current session")
        .id;
    let response = bob.post(&format!("/sessions/{tablet_entry}/end"), "").await;
    assert_eq!(response.text().await.expect("body"), "false");
    assert_eq!(tablet.whoami().await, "alice");

    // Ending one's own entry is a logout.
    let response = tablet
        .post(&format!("/sessions/{tablet_entry}/end"), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "true");
    assert_eq!(tablet.whoami().await, "anonymous");
}

#[tokio::test]
async fn ending_sessions_is_refused_cross_site() {
    let app = app(|builder| builder).await;
    let laptop = app.browser();
    let phone = app.browser();
    laptop.login("alice", "pw-alice", false).await;
    phone.login("alice", "pw-alice", false).await;
    let response = laptop
        .send(
            laptop
                .client
                .post(format!("{}/sessions/end-others", app.base))
                .header("origin", "https://evil.example")
                .header("sec-fetch-site", "cross-site"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(phone.whoami().await, "alice");
}

#[tokio::test]
async fn log_out_everywhere_else_keeps_only_this_session_and_revokes_remembered_browsers() {
    let app = app(|builder| builder).await;
    let laptop = app.browser();
    let phone = app.browser();
    let old_tablet = app.browser();
    laptop.login("alice", "pw-alice", false).await;
    phone.login("alice", "pw-alice", false).await;
    old_tablet.login("alice", "pw-alice", true).await;
    assert!(old_tablet.cookie(REMEMBER_COOKIE).is_some());

    let response = laptop.post("/sessions/end-others", "").await;
    assert_eq!(response.text().await.expect("body"), "2");
    assert_eq!(laptop.whoami().await, "alice");
    assert_eq!(phone.whoami().await, "anonymous");
    assert_eq!(old_tablet.whoami().await, "anonymous");
    old_tablet.restart();
    assert_eq!(
        old_tablet.whoami().await,
        "anonymous",
        "the remember-me cookie was revoked too"
    );
    assert!(app.remembered.is_empty());
    assert_eq!(laptop.sessions().await.len(), 1);
}

#[tokio::test]
async fn ending_all_of_a_users_sessions_ends_them_everywhere_including_here() {
    let app = app(|builder| builder).await;
    let admin = app.browser();
    let alice = app.browser();
    let alice_phone = app.browser();
    admin.login("bob", "pw-bob", false).await;
    alice.login("alice", "pw-alice", true).await;
    alice_phone.login("alice", "pw-alice", false).await;

    let response = admin.post("/users/1/end-all", "").await;
    assert_eq!(response.text().await.expect("body"), "2");
    assert_eq!(admin.whoami().await, "bob");
    alice.restart();
    assert_eq!(alice.whoami().await, "anonymous");
    assert_eq!(alice_phone.whoami().await, "anonymous");

    let response = admin.post("/users/2/end-all", "").await;
    assert_eq!(response.text().await.expect("body"), "1");
    assert_eq!(admin.whoami().await, "anonymous");
    assert!(app.registry.is_empty());
}

#[tokio::test]
async fn a_session_limit_ends_the_oldest_or_refuses_the_new_login() {
    let oldest = app(|builder| {
        builder.session_registry(
            RegistryConfig::new(MemorySessionRegistry::default())
                .max_sessions(2, OnLimit::EndOldest),
        )
    })
    .await;
    let first = oldest.browser();
    let second = oldest.browser();
    let third = oldest.browser();
    first.login("alice", "pw-alice", false).await;
    second.login("alice", "pw-alice", false).await;
    assert_eq!(third.login("alice", "pw-alice", false).await.status(), 303);
    assert_eq!(first.whoami().await, "anonymous", "the oldest ended");
    assert_eq!(second.whoami().await, "alice");
    assert_eq!(third.whoami().await, "alice");
    assert_eq!(third.sessions().await.len(), 2);

    let refuse = app(|builder| {
        builder.session_registry(
            RegistryConfig::new(MemorySessionRegistry::default())
                .max_sessions(1, OnLimit::RefuseNew),
        )
    })
    .await;
    let first = refuse.browser();
    let second = refuse.browser();
    first.login("alice", "pw-alice", false).await;
    let response = second.login("alice", "pw-alice", false).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(second.whoami().await, "anonymous");
    assert_eq!(first.whoami().await, "alice");
    // Logging out frees the place.
    first.post("/logout", "").await;
    assert_eq!(second.login("alice", "pw-alice", false).await.status(), 303);
    assert_eq!(second.whoami().await, "alice");
}

/// A request that changes the session's id (here a password change) is in flight while another
/// browser ends that session: the session must not come back to life under its new id when the
/// request saves it. The handler is held after its new id is decided until the end is done.
#[tokio::test]
async fn a_session_ended_while_its_id_changes_stays_ended() {
    let app = app(|builder| builder).await;
    let laptop = app.browser();
    let phone = app.browser();
    laptop.login("alice", "pw-alice", false).await;
    phone.login("alice", "pw-alice", false).await;
    let laptop_entry = laptop
        .sessions()
        .await
        .into_iter()
        .find(|session| session.current)
        .expect("a current session")
        .id;

    let old_id = laptop.cookie(SESSION_COOKIE).expect("a session cookie");
    let gate = Arc::new(Notify::new());
    *app.shared.hold_password_change.lock().expect("lock") = Some(gate.clone());
    let in_flight = {
        let laptop = laptop.clone();
        tokio::spawn(async move { laptop.post("/password", "pw-new").await.status() })
    };
    app.shared.reached_gate.notified().await;
    *app.shared.hold_password_change.lock().expect("lock") = None;
    // The phone's own session ended with the password change; it logs in again and ends the
    // laptop's session while the laptop's request is held.
    assert_eq!(phone.whoami().await, "anonymous");
    phone.login("alice", "pw-new", false).await;
    let response = phone
        .post(&format!("/sessions/{laptop_entry}/end"), "")
        .await;
    assert_eq!(response.text().await.expect("body"), "true");
    gate.notify_one();
    assert_eq!(
        in_flight.await.expect("the held request finishes"),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        laptop.cookie(SESSION_COOKIE),
        None,
        "the held response removes the cookie instead of setting the new id"
    );
    let held = app
        .sessions
        .load(&old_id.parse::<Id>().expect("a session id"))
        .await
        .expect("the store loads");
    assert!(held.is_none(), "nor is the old id kept");

    assert_eq!(laptop.whoami().await, "anonymous");
    assert_eq!(phone.sessions().await.len(), 1);
    assert_eq!(
        app.sessions.len(),
        1,
        "only the phone's session is in the store"
    );
}

/// A registry that, once armed, holds the calls of one kind at a barrier until as many as the
/// barrier counts have reached it, so the racing requests of a test all get there before any
/// goes on: [`Gate::Count`], the calls a login counts the user's sessions with (`list`, held
/// once it has read, and `add_within`, which counts and adds in one step), or [`Gate::Bind`],
/// the call that records a session's new id.
#[derive(Clone)]
struct Gated<R> {
    inner: R,
    barrier: Arc<Mutex<Armed>>,
}

/// Which calls wait, and at which barrier, if any do.
type Armed = Option<(Gate, Arc<tokio::sync::Barrier>)>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    Count,
    Bind,
}

impl<R> Gated<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            barrier: Arc::default(),
        }
    }

    /// The next `calls` calls of the `gate` kind wait for each other.
    fn arm(&self, gate: Gate, calls: usize) {
        *self.barrier.lock().expect("lock") =
            Some((gate, Arc::new(tokio::sync::Barrier::new(calls))));
    }

    fn disarm(&self) {
        *self.barrier.lock().expect("lock") = None;
    }

    async fn wait(barrier: Option<Arc<tokio::sync::Barrier>>) {
        if let Some(barrier) = barrier {
            barrier.wait().await;
        }
    }

    fn barrier(&self, kind: Gate) -> Option<Arc<tokio::sync::Barrier>> {
        match &*self.barrier.lock().expect("lock") {
            Some((gate, barrier)) if *gate == kind => Some(barrier.clone()),
            _ => None,
        }
    }
}

#[async_trait::async_trait]
impl<R: SessionRegistry> SessionRegistry for Gated<R> {
    async fn add(&self, entry: &axum_login::registry::SessionEntry) -> Result<(), BoxError> {
        self.inner.add(entry).await
    }

    async fn add_within(
        &self,
        entry: &axum_login::registry::SessionEntry,
        limit: axum_login::registry::Limit,
    ) -> Result<axum_login::registry::Admission, BoxError> {
        let barrier = self.barrier(Gate::Count);
        Self::wait(barrier).await;
        self.inner.add_within(entry, limit).await
    }

    async fn list(&self, user: &str) -> Result<Vec<axum_login::registry::SessionEntry>, BoxError> {
        // Held after reading: every racing login has its count before any adds.
        let barrier = self.barrier(Gate::Count);
        let listed = self.inner.list(user).await;
        Self::wait(barrier).await;
        listed
    }

    async fn bind(&self, binding: &axum_login::registry::Binding<'_>) -> Result<bool, BoxError> {
        let barrier = self.barrier(Gate::Bind);
        Self::wait(barrier).await;
        self.inner.bind(binding).await
    }

    async fn set_remember(&self, user: &str, id: &str, selector: &str) -> Result<bool, BoxError> {
        self.inner.set_remember(user, id, selector).await
    }

    async fn touch(
        &self,
        user: &str,
        id: &str,
        at: std::time::SystemTime,
    ) -> Result<bool, BoxError> {
        self.inner.touch(user, id, at).await
    }

    async fn remove(
        &self,
        user: &str,
        which: axum_login::registry::Which<'_>,
    ) -> Result<Vec<axum_login::registry::SessionEntry>, BoxError> {
        self.inner.remove(user, which).await
    }
}

/// Six requests on one session re-authenticate at once: all six have loaded the session (the
/// handler holds each until all are there) before any gives it a new id, and the registry
/// holds them again until all six have saved the session under their new ids, then lets them
/// record those ids together. Whatever they recorded, ending the login's entry
/// must end every session the six left: none may live on where the registry cannot see it.
#[tokio::test]
async fn concurrent_reauthentications_never_fork_a_session_the_registry_cannot_end() {
    const REQUESTS: usize = 6;
    let registry = Gated::new(MemorySessionRegistry::default());
    let app = app(|builder| builder.session_registry(RegistryConfig::new(registry.clone()))).await;
    let browser = app.browser();
    let other = app.browser();
    browser.login("alice", "pw-alice", false).await;
    other.login("alice", "pw-alice", false).await;

    let copies: Vec<Browser> = (0..REQUESTS).map(|_| browser.copy()).collect();
    *app.shared.reauth_barrier.lock().expect("lock") =
        Some(Arc::new(tokio::sync::Barrier::new(REQUESTS)));
    registry.arm(Gate::Bind, REQUESTS);
    let requests: Vec<_> = copies
        .iter()
        .map(|copy| {
            let copy = copy.clone();
            tokio::spawn(async move {
                copy.post_form("/reauth", &[("password", "pw-alice")])
                    .await
                    .status()
            })
        })
        .collect();
    for request in requests {
        assert_eq!(
            request.await.expect("a request"),
            StatusCode::NO_CONTENT,
            "each re-authentication succeeds"
        );
    }
    registry.disarm();
    *app.shared.reauth_barrier.lock().expect("lock") = None;
    let mut logged_in = 0;
    for copy in &copies {
        if copy.whoami().await == "alice" {
            logged_in += 1;
        }
    }
    assert_eq!(
        logged_in, 1,
        "one request's new id is the session's; the others' sessions are deleted"
    );

    // The other browser ends every session of alice but its own.
    let response = other.post("/sessions/end-others", "").await;
    assert_eq!(response.text().await.expect("body"), "1");
    for copy in &copies {
        assert_eq!(copy.whoami().await, "anonymous");
    }
    assert_eq!(
        app.sessions.len(),
        1,
        "only the other browser's session is left in the store"
    );
}

/// Logins racing against a session limit: the registry holds each login where it counts the
/// user's sessions until all of them are there, so each sees the same count. The limit holds
/// anyway, refusing the extra logins or ending the oldest.
#[tokio::test]
async fn concurrent_logins_never_exceed_the_session_limit() {
    const LOGINS: usize = 8;
    const LIMIT: usize = 3;
    for on_limit in [OnLimit::RefuseNew, OnLimit::EndOldest] {
        let registry = Gated::new(MemorySessionRegistry::default());
        let app = app(|builder| {
            builder.session_registry(
                RegistryConfig::new(registry.clone()).max_sessions(LIMIT, on_limit),
            )
        })
        .await;
        let browsers: Vec<Browser> = (0..LOGINS).map(|_| app.browser()).collect();
        registry.arm(Gate::Count, LOGINS);
        let logins: Vec<_> = browsers
            .iter()
            .map(|browser| {
                let browser = browser.clone();
                tokio::spawn(
                    async move { browser.login("alice", "pw-alice", false).await.status() },
                )
            })
            .collect();
        let mut statuses = Vec::new();
        for login in logins {
            statuses.push(login.await.expect("a login"));
        }
        registry.disarm();
        let refused = statuses
            .iter()
            .filter(|status| **status == StatusCode::CONFLICT)
            .count();
        match on_limit {
            OnLimit::RefuseNew => assert_eq!(refused, LOGINS - LIMIT, "{statuses:?}"),
            OnLimit::EndOldest => assert_eq!(refused, 0, "{statuses:?}"),
        }
        let mut logged_in = 0;
        for browser in &browsers {
            if browser.whoami().await == "alice" {
                logged_in += 1;
            }
        }
        assert_eq!(logged_in, LIMIT, "{on_limit:?}: sessions alive");
        assert_eq!(
            registry.inner.list("1").await.expect("list").len(),
            LIMIT,
            "{on_limit:?}: entries"
        );
    }
}
