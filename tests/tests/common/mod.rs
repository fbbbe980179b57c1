//! Shared pieces of the integration tests: a hand-written user store whose calls are counted and
//! whose failures can be switched on, a session store that can fail, a server on an ephemeral
//! loopback port, and a log capture.

#![allow(dead_code, unreachable_pub)]

use std::{
    collections::HashMap,
    convert::Infallible,
    io,
    net::SocketAddr,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum::Router;
use axum_login::{AuthUser, UserStore};
use tower_sessions::{
    MemoryStore, SessionStore,
    session::{Id, Record},
    session_store,
};

/// A user whose directory entry (the password) never leaves the store: like an LDAP bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestUser {
    pub id: u64,
    pub name: String,
    /// Changes when the user's sessions must end (a password change).
    pub stamp: String,
}

impl AuthUser for TestUser {
    type Id = u64;

    fn id(&self) -> u64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.stamp.as_bytes()
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, thiserror::Error)]
#[error("directory unreachable: {0}")]
pub struct DirectoryError(pub String);

#[derive(Default)]
struct Directory {
    users: HashMap<u64, TestUser>,
    passwords: HashMap<String, (u64, String)>,
}

/// An in-memory "directory": `authenticate` checks the password inside the store, like an LDAP
/// bind, and no hash is ever handed out.
#[derive(Clone, Default)]
pub struct TestStore {
    directory: Arc<Mutex<Directory>>,
    pub load_calls: Arc<AtomicUsize>,
    pub authenticate_calls: Arc<AtomicUsize>,
    pub failing: Arc<AtomicBool>,
}

impl TestStore {
    pub fn with_users(users: &[(u64, &str, &str)]) -> Self {
        let store = Self::default();
        for &(id, name, password) in users {
            store.add(id, name, password);
        }
        store
    }

    pub fn add(&self, id: u64, name: &str, password: &str) {
        let mut directory = self.directory.lock().expect("directory lock");
        directory.users.insert(
            id,
            TestUser {
                id,
                name: name.to_owned(),
                stamp: format!("stamp-{id}-0"),
            },
        );
        directory
            .passwords
            .insert(name.to_owned(), (id, password.to_owned()));
    }

    pub fn remove(&self, id: u64) {
        let mut directory = self.directory.lock().expect("directory lock");
        directory.users.remove(&id);
        directory.passwords.retain(|_, (user, _)| *user != id);
    }

    /// Changes the user's password, and with it the stamp that sessions are bound to.
    pub fn set_password(&self, id: u64, password: &str) -> TestUser {
        let mut directory = self.directory.lock().expect("directory lock");
        let user = directory.users.get_mut(&id).expect("user exists");
        let generation: u32 = user
            .stamp
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        user.stamp = format!("stamp-{id}-{}", generation + 1);
        let user = user.clone();
        directory
            .passwords
            .insert(user.name.clone(), (id, password.to_owned()));
        user
    }

    pub fn loads(&self) -> usize {
        self.load_calls.load(Ordering::SeqCst)
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl UserStore for TestStore {
    type User = TestUser;
    type Credentials = Credentials;
    type Error = DirectoryError;

    async fn authenticate(
        &self,
        credentials: Credentials,
    ) -> Result<Option<TestUser>, Self::Error> {
        self.authenticate_calls.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(DirectoryError(
                "test directory is down (authenticate)".into(),
            ));
        }
        let directory = self.directory.lock().expect("directory lock");
        Ok(directory
            .passwords
            .get(&credentials.username)
            .filter(|(_, password)| *password == credentials.password)
            .and_then(|(id, _)| directory.users.get(id))
            .cloned())
    }

    async fn load_user(&self, id: &u64) -> Result<Option<TestUser>, Self::Error> {
        self.load_calls.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(DirectoryError("test directory is down (load_user)".into()));
        }
        Ok(self
            .directory
            .lock()
            .expect("directory lock")
            .users
            .get(id)
            .cloned())
    }
}

/// A session store that can be made to fail, over a memory store.
#[derive(Clone, Debug, Default)]
pub struct FlakySessionStore {
    inner: MemoryStore,
    pub failing: Arc<AtomicBool>,
    pub loads: Arc<AtomicUsize>,
}

impl FlakySessionStore {
    fn check(&self) -> session_store::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(session_store::Error::Backend(
                "test session store is down".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for FlakySessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.check()?;
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.check()?;
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.check()?;
        self.inner.delete(id).await
    }
}

/// Serves `app` on an ephemeral loopback port until the test process ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server runs");
    });
    addr
}

/// A client with its own cookie jar, like one browser, that does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// A client without a cookie jar; cookies are set by hand.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// The value of the cookie `name` in the response's `Set-Cookie` headers.
pub fn set_cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    set_cookie_headers(response).into_iter().find_map(|header| {
        let (pair, _) = header.split_once(';').unwrap_or((&header, ""));
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// Every `Set-Cookie` header of the response.
pub fn set_cookie_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect()
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<LogBuffer> = OnceLock::new();

/// Captures every `tracing` event of this test process; call before starting servers.
pub fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    });
}

/// Everything logged so far.
pub fn logs() -> String {
    LOGS.get()
        .map(|buffer| String::from_utf8_lossy(&buffer.0.lock().expect("log lock")).into_owned())
        .unwrap_or_default()
}

pub fn infallible<T>(value: T) -> Result<T, Infallible> {
    Ok(value)
}
