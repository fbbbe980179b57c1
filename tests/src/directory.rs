//! A hand-written user store whose directory checks the password itself (like an LDAP bind, no
//! hash ever leaves it), with counted calls and failures that can be switched on.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum_login::{AuthUser, UserStore};

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

    /// Changes the user's name (and login name) but not their stamp: a change to the user's
    /// record, such as their roles, that leaves their sessions valid.
    pub fn rename(&self, id: u64, name: &str) {
        let mut directory = self.directory.lock().expect("directory lock");
        let user = directory.users.get_mut(&id).expect("user exists");
        let old = std::mem::replace(&mut user.name, name.to_owned());
        if let Some(password) = directory.passwords.remove(&old) {
            directory.passwords.insert(name.to_owned(), password);
        }
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

    /// The directory compares names exactly, so the name as typed is the account.
    fn throttle_key(&self, credentials: &Credentials) -> Option<String> {
        Some(credentials.username.clone())
    }

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
