//! [`SledStore`]: users in three sled trees, checked with the library's password functions.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `users` | id (`u64`, big-endian) | `{"username": ..., "password_hash": ...}` as JSON |
//! | `usernames` | username (UTF-8) | id (`u64`, big-endian) |
//! | `roles` | id (`u64`, big-endian) | the role's name (`user`, `admin`) |
//!
//! The three change together in one sled transaction, and a user is read from `users` and
//! `roles` in one transaction, so nobody sees a user without a role or a name that points nowhere.

use std::fmt;

use axum_login::{
    AuthUser, PasswordCredentials, Role as _, UserStore,
    password::{verify_password, verify_unknown_user},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sled::{
    Db, Tree,
    transaction::{
        ConflictableTransactionError, TransactionError, Transactional as _, TransactionalTree,
    },
};

/// What a user may do. Stored by name (`user`, `admin`) in the `roles` tree.
///
/// Named `Access`, not `Role`, so that it does not hide `axum_login`'s `Role` trait and derive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, axum_login::Role)]
pub enum Access {
    /// Any logged-in user.
    User,
    /// May open `/admin`; passes every check for [`Access::User`] too.
    #[role(implies(User))]
    Admin,
}

/// A user as the app sees it, assembled from the `users` and `roles` trees.
///
/// The password hash is a [`SecretString`], so `{:?}` never prints it; the session keeps only a
/// keyed digest of it.
#[derive(Clone, Debug, AuthUser)]
pub struct User {
    /// The key of the user's entries, from [`sled::Db::generate_id`].
    #[auth(id)]
    pub id: u64,
    /// The name the user logs in with.
    pub username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    /// What the user may do.
    #[auth(role)]
    pub role: Access,
}

/// A value of the `users` tree.
#[derive(Serialize, Deserialize)]
struct Entry {
    username: String,
    password_hash: String,
}

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SledStoreError {
    /// sled failed (I/O, a corrupt file).
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// An entry does not decode: the trees were written by something else.
    #[error("user {id}: {what}")]
    Corrupt {
        /// The user's id.
        id: u64,
        /// What is wrong with the entry.
        what: String,
    },
    /// A password could not be hashed or checked (the password work failed).
    #[error("password hashing failed: {0}")]
    Password(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The blocking task that ran the sled calls panicked.
    #[error("the blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl SledStoreError {
    /// The error of `hash_password` or `verify_password`, boxed: the store relies on those two
    /// functions, not on the path of their error type.
    fn password(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Password(Box::new(error))
    }
}

/// The reason a sled transaction of this store stops without committing.
#[derive(Debug)]
struct Corrupt {
    id: u64,
    what: String,
}

impl From<TransactionError<Corrupt>> for SledStoreError {
    fn from(error: TransactionError<Corrupt>) -> Self {
        match error {
            TransactionError::Abort(Corrupt { id, what }) => Self::Corrupt { id, what },
            TransactionError::Storage(error) => Self::Sled(error),
        }
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<Corrupt>>;

fn corrupt<T>(id: u64, what: impl fmt::Display) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(Corrupt {
        id,
        what: what.to_string(),
    }))
}

/// A [`UserStore`] over sled.
///
/// sled's calls block: a read usually comes from its page cache, but may read the disk, and a
/// write may wait for the log. Every call therefore runs on tokio's blocking pool
/// ([`tokio::task::spawn_blocking`]), never on the async runtime's worker threads, where it would
/// hold up every other request on the same thread.
///
/// Passwords are checked with [`verify_password`], which runs argon2 on the library's
/// own threads. An unknown username costs one verification too ([`verify_unknown_user`]), so
/// the timing does not tell which usernames exist.
#[derive(Clone)]
pub struct SledStore {
    db: Db,
    users: Tree,
    usernames: Tree,
    roles: Tree,
}

impl fmt::Debug for SledStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStore")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// The store on `db`'s `users`, `usernames` and `roles` trees, created when missing.
    pub async fn open(db: Db) -> Result<Self, SledStoreError> {
        tokio::task::spawn_blocking(move || {
            Ok(Self {
                users: db.open_tree("users")?,
                usernames: db.open_tree("usernames")?,
                roles: db.open_tree("roles")?,
                db,
            })
        })
        .await?
    }

    /// Runs `work` on tokio's blocking pool with a handle on the trees.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, SledStoreError> + Send + 'static,
    ) -> Result<T, SledStoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store)).await?
    }

    /// Creates a user with a hash of `password`; `None` when the username is taken.
    pub async fn create_user(
        &self,
        username: &str,
        password: SecretString,
        role: Access,
    ) -> Result<Option<User>, SledStoreError> {
        let password_hash = axum_login::hash_password(password)
            .await
            .map_err(SledStoreError::password)?;
        let entry = Entry {
            username: username.to_owned(),
            password_hash,
        };
        self.blocking(move |store| {
            let id = store.db.generate_id()?;
            let key = id.to_be_bytes();
            let value = serde_json::to_vec(&entry).map_err(|error| SledStoreError::Corrupt {
                id,
                what: error.to_string(),
            })?;
            let created = (&store.users, &store.usernames, &store.roles).transaction(
                |(users, usernames, roles)| -> TxResult<bool> {
                    // Checked inside the transaction: two sign-ups for one name cannot both pass.
                    if usernames.get(entry.username.as_bytes())?.is_some() {
                        return Ok(false);
                    }
                    users.insert(&key[..], value.as_slice())?;
                    usernames.insert(entry.username.as_bytes(), &key[..])?;
                    roles.insert(&key[..], role.as_str())?;
                    Ok(true)
                },
            )?;
            Ok(created.then(|| User {
                id,
                username: entry.username,
                password_hash: SecretString::from(entry.password_hash),
                role,
            }))
        })
        .await
    }

    /// Whether a user has this username.
    pub async fn exists(&self, username: &str) -> Result<bool, SledStoreError> {
        let username = username.to_owned();
        self.blocking(move |store| Ok(store.usernames.contains_key(username.as_bytes())?))
            .await
    }

    /// The user with `username`: the index, the entry and the role, in one transaction.
    async fn find(&self, username: String) -> Result<Option<User>, SledStoreError> {
        self.blocking(move |store| {
            let found = (&store.usernames, &store.users, &store.roles).transaction(
                |(usernames, users, roles)| {
                    let Some(id) = usernames.get(username.as_bytes())? else {
                        return Ok(None);
                    };
                    let Ok(id) = <[u8; 8]>::try_from(id.as_ref()) else {
                        return corrupt(0, format!("username {username:?} points to a bad id"));
                    };
                    read_user(users, roles, u64::from_be_bytes(id))
                },
            )?;
            Ok(found)
        })
        .await
    }

    /// The users with `ids`, in their order, read in one transaction: one pass over the ids.
    async fn load_many(&self, ids: Vec<u64>) -> Result<Vec<Option<User>>, SledStoreError> {
        self.blocking(move |store| {
            let users = (&store.users, &store.roles).transaction(|(users, roles)| {
                ids.iter()
                    .map(|&id| read_user(users, roles, id))
                    .collect::<TxResult<Vec<_>>>()
            })?;
            Ok(users)
        })
        .await
    }
}

/// The user with `id` from its entry and its role, inside a transaction.
fn read_user(
    users: &TransactionalTree,
    roles: &TransactionalTree,
    id: u64,
) -> TxResult<Option<User>> {
    let key = id.to_be_bytes();
    let Some(entry) = users.get(key)? else {
        return Ok(None);
    };
    let entry: Entry = match serde_json::from_slice(&entry) {
        Ok(entry) => entry,
        Err(error) => return corrupt(id, error),
    };
    let Some(role) = roles.get(key)? else {
        return corrupt(id, "no role");
    };
    let role = match std::str::from_utf8(&role).map(str::parse::<Access>) {
        Ok(Ok(role)) => role,
        Ok(Err(error)) => return corrupt(id, error),
        Err(error) => return corrupt(id, error),
    };
    Ok(Some(User {
        id,
        username: entry.username,
        password_hash: SecretString::from(entry.password_hash),
        role,
    }))
}

/// The most characters of a username kept as a throttle key: a few past the longest username
/// `PasswordCredentials::is_within_limits` allows, so an over-long name cannot fill the
/// throttle's memory.
const THROTTLE_KEY_CHARS: usize = 260;

impl UserStore for SledStore {
    type User = User;
    type Credentials = PasswordCredentials;
    type Error = SledStoreError;

    async fn authenticate(
        &self,
        credentials: PasswordCredentials,
    ) -> Result<Option<User>, SledStoreError> {
        // Over-long input is refused before any lookup or hashing, like a wrong password.
        if !credentials.is_within_limits() {
            return Ok(None);
        }
        let PasswordCredentials { username, password } = credentials;
        let found = self.find(username).await?;
        // An unknown username costs one verification too, against a hash nobody's password
        // matches, so the response time does not tell which usernames exist.
        let valid = match &found {
            Some(user) => {
                verify_password(password, user.password_hash.expose_secret().to_owned()).await
            }
            None => verify_unknown_user(password).await,
        }
        .map_err(SledStoreError::password)?;
        Ok(found.filter(|_| valid))
    }

    /// [`load_users`](Self::load_users) reads every id in one transaction.
    const BATCHED_LOADS: bool = true;

    async fn load_user(&self, id: &u64) -> Result<Option<User>, SledStoreError> {
        let mut users = self.load_many(vec![*id]).await?;
        Ok(users.pop().flatten())
    }

    async fn load_users(&self, ids: &[u64]) -> Result<Vec<Option<User>>, SledStoreError> {
        self.load_many(ids.to_vec()).await
    }

    /// The lower-cased username: every spelling of a name counts against one limit, and unknown
    /// names get a key like known ones.
    fn throttle_key(&self, credentials: &PasswordCredentials) -> Option<String> {
        Some(
            credentials
                .username
                .chars()
                .take(THROTTLE_KEY_CHARS)
                .flat_map(char::to_lowercase)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    async fn store() -> SledStore {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .expect("a temporary sled database");
        SledStore::open(db).await.expect("the store opens")
    }

    #[tokio::test]
    async fn load_users_answers_in_the_order_of_ids_with_none_for_missing() {
        let store = store().await;
        let ferris = store
            .create_user("ferris", "hunter42".into(), Access::User)
            .await
            .expect("create ferris")
            .expect("ferris is new");
        let admin = store
            .create_user("admin", "correct-horse-battery".into(), Access::Admin)
            .await
            .expect("create admin")
            .expect("admin is new");
        let missing = ferris.id.max(admin.id) + 100;

        let users = store
            .load_users(&[admin.id, missing, ferris.id])
            .await
            .expect("load three ids");
        let names: Vec<Option<&str>> = users
            .iter()
            .map(|user| user.as_ref().map(|user| user.username.as_str()))
            .collect();
        assert_eq!(names, [Some("admin"), None, Some("ferris")]);
        assert_eq!(users[0].as_ref().map(|user| user.role), Some(Access::Admin));
        assert_eq!(users[2].as_ref().map(|user| user.role), Some(Access::User));

        assert!(store.load_users(&[]).await.expect("no ids").is_empty());
        assert!(
            store
                .load_user(&missing)
                .await
                .expect("load a missing id")
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_username_is_taken_once() {
        let store = store().await;
        assert!(
            store
                .create_user("ferris", "hunter42".into(), Access::User)
                .await
                .expect("create")
                .is_some()
        );
        assert!(
            store
                .create_user("ferris", "other-password".into(), Access::Admin)
                .await
                .expect("second create")
                .is_none(),
            "the username index refuses a second ferris"
        );
        assert!(store.exists("ferris").await.expect("exists"));
        assert!(!store.exists("Ferris").await.expect("exists"));
    }

    #[tokio::test]
    async fn authenticate_refuses_unknown_users_wrong_and_over_long_passwords() {
        let store = store().await;
        store
            .create_user("ferris", "hunter42".into(), Access::User)
            .await
            .expect("create ferris");
        let login = |username: &str, password: &str| {
            store.authenticate(PasswordCredentials::new(username, password))
        };
        let user = login("ferris", "hunter42").await.expect("authenticate");
        assert_eq!(user.map(|user| user.username).as_deref(), Some("ferris"));
        assert!(login("ferris", "hunter43").await.expect("wrong").is_none());
        assert!(
            login("nobody", "hunter42")
                .await
                .expect("unknown")
                .is_none()
        );
        let long = "x".repeat(10_000);
        assert!(login("ferris", &long).await.expect("over-long").is_none());
        assert_eq!(
            store.throttle_key(&PasswordCredentials::new("FeRRis", "x")),
            Some("ferris".to_owned())
        );
    }

    /// The fastest of five runs of each, interleaved so that a busy moment slows both alike.
    async fn fastest<A: Future, B: Future>(
        mut a: impl FnMut() -> A,
        mut b: impl FnMut() -> B,
    ) -> (Duration, Duration) {
        let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            let start = Instant::now();
            a().await;
            best_a = best_a.min(start.elapsed());
            let start = Instant::now();
            b().await;
            best_b = best_b.min(start.elapsed());
        }
        (best_a, best_b)
    }

    #[tokio::test]
    async fn an_unknown_username_costs_a_password_verification() {
        let store = store().await;
        store
            .create_user("ferris", "hunter42".into(), Access::User)
            .await
            .expect("create ferris");
        let (wrong, unknown) = fastest(
            || store.authenticate(PasswordCredentials::new("ferris", "nope")),
            || store.authenticate(PasswordCredentials::new("nobody", "nope")),
        )
        .await;
        // Without the stand-in verification an unknown name answers after one lookup, a hundred
        // times sooner; the margin leaves room for a busy machine.
        assert!(
            unknown * 10 >= wrong,
            "unknown user {unknown:?}, wrong password {wrong:?}"
        );
    }
}
