//! [`SeaOrmStore`]: a [`UserStore`] written with Sea-ORM queries on the `seaorm_users` entity.

use std::{collections::HashMap, fmt};

use axum_login::{
    PasswordCredentials, UserStore,
    password::{verify_password, verify_unknown_user},
};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, DatabaseConnection, DbErr, EntityTrait as _,
    QueryFilter as _,
};

use crate::entity::{Column, Entity, Model};

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SeaOrmStoreError {
    /// A query failed.
    #[error("the user query failed: {0}")]
    Db(#[from] DbErr),
    /// A password could not be hashed or checked (the password work failed).
    #[error("password hashing failed: {0}")]
    Password(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl SeaOrmStoreError {
    /// The error of `hash_password` or `verify_password`, boxed: the store relies on those two
    /// functions, not on the path of their error type.
    pub(crate) fn password(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Password(Box::new(error))
    }
}

/// A [`UserStore`] whose queries are Sea-ORM's: `Entity::find()` with filters, on the app's
/// [`DatabaseConnection`].
///
/// - [`authenticate`](UserStore::authenticate) finds the user by username and checks the
///   password with [`verify_password`] (argon2 on the library's own threads, off the
///   async runtime). An unknown username costs one verification too
///   ([`verify_unknown_user`]), so the timing does not tell which usernames exist.
/// - [`load_users`](UserStore::load_users) is one `WHERE id IN (...)` query for all the ids, so
///   the layer batches the loads of concurrent requests ([`BATCHED_LOADS`](UserStore::BATCHED_LOADS)).
#[derive(Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
}

impl fmt::Debug for SeaOrmStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeaOrmStore")
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}

impl SeaOrmStore {
    /// A store on `db`, whose `seaorm_users` table must exist.
    pub async fn new(db: DatabaseConnection) -> Result<Self, SeaOrmStoreError> {
        Ok(Self { db })
    }

    /// The connection, for the app's own queries.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// The most characters of a username kept as a throttle key: a few past the longest username
/// `PasswordCredentials::is_within_limits` allows, so an over-long name cannot fill the
/// throttle's memory.
const THROTTLE_KEY_CHARS: usize = 260;

impl UserStore for SeaOrmStore {
    type User = Model;
    type Credentials = PasswordCredentials;
    type Error = SeaOrmStoreError;

    async fn authenticate(
        &self,
        credentials: PasswordCredentials,
    ) -> Result<Option<Model>, SeaOrmStoreError> {
        // Over-long input is refused before any lookup or hashing, like a wrong password.
        if !credentials.is_within_limits() {
            return Ok(None);
        }
        let PasswordCredentials { username, password } = credentials;
        // No stored name holds a NUL, and PostgreSQL answers one in a text parameter with an
        // error: treat it as any unknown name, with the same hash work.
        let found = if username.contains('\0') {
            None
        } else {
            Entity::find()
                .filter(Column::Username.eq(username))
                .one(&self.db)
                .await?
        };
        // An unknown username costs one verification too, against a hash nobody's password
        // matches, so the response time does not tell which usernames exist.
        let valid = match &found {
            Some(user) => verify_password(password, user.password_hash.clone()).await,
            None => verify_unknown_user(password).await,
        }
        .map_err(SeaOrmStoreError::password)?;
        Ok(found.filter(|_| valid))
    }

    /// [`load_users`](Self::load_users) is one query.
    const BATCHED_LOADS: bool = true;

    async fn load_user(&self, id: &i64) -> Result<Option<Model>, SeaOrmStoreError> {
        Ok(Entity::find_by_id(*id).one(&self.db).await?)
    }

    async fn load_users(&self, ids: &[i64]) -> Result<Vec<Option<Model>>, SeaOrmStoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found: HashMap<i64, Model> = Entity::find()
            .filter(Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|user| (user.id, user))
            .collect();
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    /// The lower-cased username: every spelling of a name counts against one limit (MySQL and
    /// MariaDB compare names case-insensitively by default), and unknown names get a key like
    /// known ones.
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

    use sea_orm::Database;

    use super::*;
    use crate::{Access, create_tables, create_user};

    /// A store on a fresh in-memory SQLite database with ferris and admin in it (Sea-ORM keeps
    /// one connection to SQLite unless told otherwise, so the database lives as long as it).
    async fn store() -> (SeaOrmStore, Model, Model) {
        let db = Database::connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        create_tables(&db).await.expect("create the table");
        for (name, password, role) in [
            ("ferris", "hunter42", Access::User),
            ("admin", "correct-horse-battery", Access::Admin),
        ] {
            assert!(
                create_user(&db, name, password.into(), role)
                    .await
                    .expect("create a user")
            );
        }
        assert!(
            !create_user(&db, "ferris", "again".into(), Access::Admin)
                .await
                .expect("create a taken name"),
            "a taken username is not inserted again"
        );
        let store = SeaOrmStore::new(db).await.expect("the store");
        let ferris = store
            .authenticate(PasswordCredentials::new("ferris", "hunter42"))
            .await
            .expect("authenticate")
            .expect("ferris");
        let admin = store
            .authenticate(PasswordCredentials::new("admin", "correct-horse-battery"))
            .await
            .expect("authenticate")
            .expect("admin");
        (store, ferris, admin)
    }

    #[tokio::test]
    async fn load_users_answers_in_the_order_of_ids_with_none_for_missing() {
        let (store, ferris, admin) = store().await;
        let missing = ferris.id.max(admin.id) + 100;
        let users = store
            .load_users(&[admin.id, missing, ferris.id])
            .await
            .expect("load three ids");
        assert_eq!(users, [Some(admin.clone()), None, Some(ferris.clone())]);
        assert_eq!(
            store.load_users(&[ferris.id]).await.expect("load one"),
            [Some(ferris)]
        );
        assert!(store.load_users(&[]).await.expect("no ids").is_empty());
        assert_eq!(store.load_user(&missing).await.expect("load"), None);
    }

    #[tokio::test]
    async fn authenticate_refuses_unknown_users_wrong_and_over_long_passwords() {
        let (store, _, _) = store().await;
        let login = |username: &str, password: &str| {
            store.authenticate(PasswordCredentials::new(username, password))
        };
        assert!(login("ferris", "hunter43").await.expect("wrong").is_none());
        assert!(
            login("nobody", "hunter42")
                .await
                .expect("unknown")
                .is_none()
        );
        assert!(login("nul\0", "hunter42").await.expect("nul").is_none());
        let long = "x".repeat(10_000);
        assert!(login("ferris", &long).await.expect("over-long").is_none());
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
        let (store, _, _) = store().await;
        let (wrong, unknown) = fastest(
            || store.authenticate(PasswordCredentials::new("ferris", "nope")),
            || store.authenticate(PasswordCredentials::new("nobody", "nope")),
        )
        .await;
        // Without the stand-in verification an unknown name answers after one query, a hundred
        // times sooner; the margin leaves room for a busy machine.
        assert!(
            unknown * 10 >= wrong,
            "unknown user {unknown:?}, wrong password {wrong:?}"
        );
    }
}
