//! Batched loads (`UserStore::BATCHED_LOADS`, `AuthLayerBuilder::batch_user_loads`): concurrent
//! requests of different users share one `UserStore::load_users` call, each gets its own user,
//! and a store that answers wrongly or fails logs no one in.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    http::StatusCode,
    routing::{get, post},
};
use axum_login::session::MemoryStore;
use axum_login::{AuthLayer, CurrentUser, UserStore, session_layer};
use axum_login_tests::{
    directory::Credentials,
    directory::DirectoryError,
    directory::TestStore,
    directory::TestUser,
    http::browser,
    http::serve,
    login::{Ok200, login},
};

/// How a [`BatchStore`] answers `load_users`.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    InOrder,
    Reversed,
    OneShort,
    /// `load_users` fails for a batch holding this user, and `load_user` for this user alone:
    /// a row that does not decode.
    FailingFor(u64),
    Panicking,
}

/// A `TestStore` that loads many users at once, slowly enough that concurrent requests queue
/// up behind the batch in flight, and records the size of every batch.
///
/// Every user has the same `session_auth_hash`, so the session's digest cannot tell users
/// apart: only the layer's check that each answer is the user asked for keeps a reordered
/// answer from swapping users.
#[derive(Clone)]
struct BatchStore {
    inner: TestStore,
    batches: Arc<Mutex<Vec<Vec<u64>>>>,
    answer: Arc<Mutex<Answer>>,
}

impl BatchStore {
    /// The size of each `load_users` call so far.
    fn batches(&self) -> Vec<usize> {
        self.batches
            .lock()
            .expect("lock")
            .iter()
            .map(Vec::len)
            .collect()
    }
}

impl UserStore for BatchStore {
    type User = TestUser;
    type Credentials = Credentials;
    type Error = DirectoryError;

    const BATCHED_LOADS: bool = true;

    async fn authenticate(
        &self,
        credentials: Credentials,
    ) -> Result<Option<TestUser>, Self::Error> {
        Ok(self.inner.authenticate(credentials).await?.map(same_stamp))
    }

    async fn load_user(&self, id: &u64) -> Result<Option<TestUser>, Self::Error> {
        if *self.answer.lock().expect("lock") == Answer::FailingFor(*id) {
            return Err(DirectoryError(format!("user {id} does not decode")));
        }
        Ok(self.inner.load_user(id).await?.map(same_stamp))
    }

    async fn load_users(&self, ids: &[u64]) -> Result<Vec<Option<TestUser>>, Self::Error> {
        self.batches.lock().expect("lock").push(ids.to_vec());
        tokio::time::sleep(Duration::from_millis(30)).await;
        let answer = *self.answer.lock().expect("lock");
        if let Answer::FailingFor(bad) = answer
            && ids.contains(&bad)
        {
            return Err(DirectoryError(format!("user {bad} does not decode")));
        }
        let mut users = Vec::new();
        for id in ids {
            users.push(self.load_user(id).await?);
        }
        match answer {
            Answer::InOrder | Answer::FailingFor(_) => {}
            Answer::Reversed => users.reverse(),
            Answer::OneShort => {
                users.pop();
            }
            Answer::Panicking => panic!("the store panicked (on purpose, in a test)"),
        }
        Ok(users)
    }
}

fn same_stamp(user: TestUser) -> TestUser {
    TestUser {
        stamp: "shared".into(),
        ..user
    }
}

async fn me(CurrentUser(user): CurrentUser<TestUser>) -> String {
    user.name
}

const USERS: u64 = 8;

/// The app with `USERS` users, each logged in on its own client; batched as the store says.
async fn logged_in() -> (BatchStore, String, Vec<reqwest::Client>) {
    logged_in_batching(None).await
}

/// The same, with `batch_user_loads(on)` when `Some(on)`.
async fn logged_in_batching(batch: Option<bool>) -> (BatchStore, String, Vec<reqwest::Client>) {
    let inner = TestStore::default();
    for id in 1..=USERS {
        inner.add(id, &format!("user{id}"), "pw");
    }
    let store = BatchStore {
        inner,
        batches: Arc::default(),
        answer: Arc::new(Mutex::new(Answer::InOrder)),
    };
    let sessions = session_layer(MemoryStore::default()).with_secure(false);
    let mut layer = AuthLayer::builder(store.clone(), sessions);
    if let Some(on) = batch {
        layer = layer.batch_user_loads(on);
    }
    let app = Router::new()
        .route("/login", post(login::<BatchStore, Ok200>))
        .route("/me", get(me))
        .layer(layer.build());
    let base = format!("http://{}", serve(app).await);
    let mut clients = Vec::new();
    for id in 1..=USERS {
        clients.push(log_in(&base, id).await);
    }
    (store, base, clients)
}

/// A new client logged in as user `id`.
async fn log_in(base: &str, id: u64) -> reqwest::Client {
    let client = browser();
    let response = client
        .post(format!("{base}/login"))
        .form(&[("username", format!("user{id}")), ("password", "pw".into())])
        .send()
        .await
        .expect("login answers");
    assert_eq!(response.status(), StatusCode::OK);
    client
}

/// Every client asks `/me` at once; the statuses and bodies, in client order.
async fn all_at_once(base: &str, clients: &[reqwest::Client]) -> Vec<(StatusCode, String)> {
    let requests = clients.iter().map(|client| {
        let url = format!("{base}/me");
        let client = client.clone();
        tokio::spawn(async move {
            let response = client
                .get(url)
                .header("accept", "application/json")
                .send()
                .await
                .expect("answers");
            let status = response.status();
            (status, response.text().await.expect("a body"))
        })
    });
    let mut answers = Vec::new();
    for request in requests.collect::<Vec<_>>() {
        answers.push(request.await.expect("request task"));
    }
    answers
}

#[tokio::test]
async fn concurrent_requests_share_a_load_and_each_gets_its_own_user() {
    let (store, base, clients) = logged_in().await;
    let answers = all_at_once(&base, &clients).await;
    for (n, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, StatusCode::OK, "client {n}: {body}");
        assert_eq!(
            body,
            &format!("user{}", n + 1),
            "client {n} is its own user"
        );
    }
    let batches = store.batches();
    assert_eq!(batches.iter().sum::<usize>(), USERS as usize, "{batches:?}");
    assert!(
        batches.len() < USERS as usize,
        "{} requests at once went out in {} loads: {batches:?}",
        USERS,
        batches.len()
    );
    assert_eq!(
        store.inner.loads(),
        USERS as usize,
        "every user was read once"
    );
}

#[tokio::test]
async fn turned_off_each_request_loads_its_own_user_alone() {
    let (store, base, clients) = logged_in_batching(Some(false)).await;
    let answers = all_at_once(&base, &clients).await;
    for (n, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, StatusCode::OK, "client {n}: {body}");
        assert_eq!(body, &format!("user{}", n + 1), "client {n}");
    }
    assert_eq!(
        store.batches(),
        Vec::<usize>::new(),
        "load_users was called"
    );
    assert_eq!(
        store.inner.loads(),
        USERS as usize,
        "one load_user per request"
    );
}

#[tokio::test]
async fn one_user_on_several_clients_is_asked_for_once_per_batch() {
    let (store, base, mut clients) = logged_in().await;
    for _ in 0..3 {
        clients.push(log_in(&base, 1).await);
    }
    let answers = all_at_once(&base, &clients).await;
    for (n, (status, body)) in answers.iter().enumerate() {
        let expected = if n < USERS as usize { n + 1 } else { 1 };
        assert_eq!(*status, StatusCode::OK, "client {n}: {body}");
        assert_eq!(body, &format!("user{expected}"), "client {n}");
    }
    for batch in store.batches.lock().expect("lock").iter() {
        let mut distinct = batch.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), batch.len(), "an id repeated in {batch:?}");
    }
}

#[tokio::test]
async fn a_store_that_answers_out_of_order_logs_no_one_in_as_someone_else() {
    let (store, base, clients) = logged_in().await;
    *store.answer.lock().expect("lock") = Answer::Reversed;
    for (n, (status, body)) in all_at_once(&base, &clients).await.into_iter().enumerate() {
        // A reversed batch of one is still right; every other answer is someone else, which the
        // layer treats as a user that no longer exists: the session ends, nobody is swapped.
        assert!(
            status == StatusCode::OK && body == format!("user{}", n + 1)
                || status == StatusCode::UNAUTHORIZED,
            "client {n}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn a_user_that_fails_to_load_fails_only_its_own_request_in_a_batch() {
    let (store, base, clients) = logged_in().await;
    let bad = 3;
    *store.answer.lock().expect("lock") = Answer::FailingFor(bad);
    // The first request of a burst loads alone; repeat until the failing user shares a batch.
    let mut shared = false;
    for _ in 0..20 {
        store.batches.lock().expect("lock").clear();
        for (n, (status, body)) in all_at_once(&base, &clients).await.into_iter().enumerate() {
            if n as u64 + 1 == bad {
                assert_eq!(
                    status,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the failing user: {body}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "client {n} was failed by another user: {body}"
                );
                assert_eq!(body, format!("user{}", n + 1));
            }
        }
        shared = store
            .batches
            .lock()
            .expect("lock")
            .iter()
            .any(|batch| batch.len() > 1 && batch.contains(&bad));
        if shared {
            break;
        }
    }
    assert!(shared, "the failing user never shared a batch with others");
}

#[tokio::test]
async fn a_short_or_panicking_batch_is_a_500_for_each_request_in_it_and_the_next_works() {
    let (store, base, clients) = logged_in().await;
    for wrong in [Answer::OneShort, Answer::Panicking] {
        *store.answer.lock().expect("lock") = wrong;
        let answers = all_at_once(&base, &clients).await;
        // Every batch fails as a whole, whatever its size: no request is answered from it.
        assert!(
            answers
                .iter()
                .all(|(status, _)| *status == StatusCode::INTERNAL_SERVER_ERROR),
            "{answers:?}"
        );
    }
    // The sessions survived the store's failures; with the store well again, all are served.
    *store.answer.lock().expect("lock") = Answer::InOrder;
    let answers = all_at_once(&base, &clients).await;
    for (n, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, StatusCode::OK, "client {n}: {body}");
        assert_eq!(body, &format!("user{}", n + 1));
    }
}
