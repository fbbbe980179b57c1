//! The typed backend behind the layer, erased so that guards, which do not know the store's
//! type, can use it: each request's state holds a `dyn ErasedBackend`, and the loaded user a
//! `dyn ErasedUser`; typed extractors downcast back.
//!
//! [`Backend::load`] is where a session's login is checked on every request: the timeouts, the
//! user still existing and active, and the digest of their credentials. The record it checks,
//! [`LoginRecord`], is defined here too, so that one file holds what a session keeps of a
//! login and how it is trusted.

use std::{
    any::{Any, type_name},
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, SystemTime},
};

use serde::{
    Deserialize, Serialize,
    de::{self, SeqAccess, Visitor},
    ser::SerializeTuple,
};
use tower_sessions::Session;

use super::{Bearer, Config, Feature, Held, NewLogin, Verdict, request::RequestAuth};
use crate::{
    AuthError, AuthUser, UserStore,
    authz::{AuthzKinds, PermissionRef, RoleRef},
    cache::Loader,
    clock::{from_unix_seconds, unix_seconds},
    security::Verified,
};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A user whose type only the layer knows.
pub(crate) trait ErasedUser: Send + Sync + 'static {
    fn as_any(&self) -> &(dyn Any + Send + Sync);
    fn has_role(&self, role: RoleRef<'_>) -> bool;
    fn has_permission(&self, permission: PermissionRef<'_>) -> bool;
    fn authz_kinds(&self) -> AuthzKinds;
    fn type_name(&self) -> &'static str;
    /// Writes the user's id, as its `Display` does.
    fn fmt_id(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result;
}

impl<U: AuthUser> ErasedUser for U {
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
    fn has_role(&self, role: RoleRef<'_>) -> bool {
        AuthUser::has_role(self, role)
    }
    fn has_permission(&self, permission: PermissionRef<'_>) -> bool {
        AuthUser::has_permission(self, permission)
    }
    fn authz_kinds(&self) -> AuthzKinds {
        U::authz_kinds()
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<U>()
    }
    fn fmt_id(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.id(), f)
    }
}

/// The logged-in user of a request, and what the guards need to know of the login.
#[derive(Clone)]
pub(crate) struct Login {
    pub(crate) user: Arc<dyn ErasedUser>,
    pub(crate) login_at: SystemTime,
    /// When a second factor was last completed on the session.
    pub(crate) second_factor_at: Option<SystemTime>,
    /// Whether a remember-me cookie made this login (never fresh).
    pub(crate) remembered: bool,
    /// For a request authenticated by its own credentials (an API token) instead of a
    /// session: what they may do. Such a login is never fresh and never passed a second factor.
    pub(crate) scopes: Option<Arc<[String]>>,
}

impl Login {
    pub(crate) fn of<Id>(user: Arc<dyn ErasedUser>, record: &LoginRecord<Id>) -> Self {
        Self {
            user,
            login_at: SystemTime::UNIX_EPOCH + Duration::from_secs(record.login_at),
            second_factor_at: record
                .second_factor_at
                .map(|at| SystemTime::UNIX_EPOCH + Duration::from_secs(at)),
            remembered: record.remembered,
            scopes: None,
        }
    }
}

/// A store whose type only the layer knows.
pub(crate) trait ErasedBackend: Send + Sync + 'static {
    /// Who is logged in on the request's session, ending the session if its login is no longer
    /// valid, or logging the visitor in from a remember-me cookie.
    fn load<'a>(&'a self, auth: &'a RequestAuth)
    -> BoxFuture<'a, Result<Option<Login>, AuthError>>;
    fn config(&self) -> &Config;
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn store_type(&self) -> &'static str;
    fn user_type(&self) -> &'static str;
    /// Whether the user store answers ([`UserStore::ping`]).
    fn ping_users(&self) -> BoxFuture<'_, Result<(), crate::error::BoxError>>;
}

/// The layer's store with its options.
pub(crate) struct Backend<S: UserStore> {
    pub(crate) config: Config,
    pub(crate) loader: Loader<S>,
}

impl<S: UserStore> Backend<S> {
    /// The user store.
    pub(crate) fn store(&self) -> &S {
        self.loader.store()
    }

    async fn load_typed(&self, auth: &RequestAuth) -> Result<Option<Login>, AuthError> {
        #[cfg(feature = "test-util")]
        if let Some(login) = auth.test_user() {
            return self.test_login(login).await;
        }
        if let Some((feature, bearer)) = self.config.features.authenticate(auth).await? {
            return self.bearer(auth, feature, bearer).await;
        }
        let session = auth.session();
        let Some(value) = session.get_value(SESSION_KEY).await? else {
            return self.restore(auth).await;
        };
        let record: LoginRecord<<S::User as AuthUser>::Id> = match LoginRecord::from_value(value) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(%error, "session holds an unreadable login; ending the session");
                return end_session(session).await;
            }
        };
        let now_secs = unix_seconds(self.config.clock.now());
        let age = |since: u64| Duration::from_secs(now_secs.saturating_sub(since));
        let last_seen = record.seen.unwrap_or(record.login_at);
        let ahead = |at: u64| at.saturating_sub(now_secs) > self.config.clock_skew.as_secs();
        let ended = if ahead(record.login_at) || ahead(last_seen) {
            Some("the login's time is in the future (a clock was or is wrong)")
        } else if self
            .config
            .absolute_timeout
            .is_some_and(|max| age(record.login_at) > max)
        {
            Some("the login reached its absolute timeout")
        } else if self
            .config
            .idle_timeout
            .is_some_and(|idle| age(last_seen) > idle)
        {
            Some("the login was idle too long")
        } else {
            None
        };
        if let Some(reason) = ended {
            tracing::info!(user_id = %record.user_id, "{reason}; ending the session");
            return self.end_recorded(session, &record).await;
        }
        // `verified`: a cache hit whose digest was already checked against the session's.
        let (user, verified) = match self
            .loader
            .load(
                &record.user_id,
                &record.digest,
                &self.config.key,
                &self.config.realm,
            )
            .await?
        {
            Some(found) => found,
            None => {
                tracing::info!(user_id = %record.user_id, "the logged-in user no longer exists; ending the session");
                return self.end_recorded(session, &record).await;
            }
        };
        // A digest under a previous key of the ring is signed again under the current one.
        let resign = if verified {
            Some(false)
        } else {
            self.config
                .key
                .verify_user(
                    &self.config.realm,
                    &*user,
                    &record.digest,
                    self.config.clock.now(),
                )
                .map(|key| key == Verified::Previous)
        };
        let ended = if resign.is_none() {
            Some("the user's credentials changed since login")
        } else if !user.is_active() {
            Some("the user was deactivated")
        } else {
            None
        };
        if let Some(reason) = ended {
            tracing::info!(user_id = %record.user_id, "{reason}; ending the session");
            return self.end_recorded(session, &record).await;
        }
        let mut record = record;
        if resign == Some(true) {
            record.digest = self.config.key.user_digest(&self.config.realm, &*user);
            session.insert(SESSION_KEY, &record).await?;
        }
        let login = Login::of(user, &record);
        // Record activity for the idle timeout and the features (the session registry), but
        // write the session at most every `visit_every`.
        if let Some(every) = self.config.visit_every
            && age(last_seen) >= every
        {
            let visited = self
                .config
                .features
                .visit(
                    &record.user_id.to_string(),
                    record.entry.as_deref(),
                    from_unix_seconds(now_secs),
                )
                .await;
            if !visited {
                tracing::info!(user_id = %record.user_id, "a feature (the session registry) ended the session; ending it here");
                return end_session(session).await;
            }
            let seen = LoginRecord {
                seen: Some(now_secs),
                ..record
            };
            session.insert(SESSION_KEY, seen).await?;
        }
        Ok(Some(login))
    }

    /// Ends a session whose login is no longer valid, and tells the features.
    async fn end_recorded(
        &self,
        session: &Session,
        record: &LoginRecord<<S::User as AuthUser>::Id>,
    ) -> Result<Option<Login>, AuthError> {
        if let Some(entry) = &record.entry {
            self.config
                .features
                .login_ended(&record.user_id.to_string(), entry)
                .await;
        }
        end_session(session).await
    }

    /// A request with credentials of its own: its user, loaded like a session's (from the
    /// cache when it holds them), if the credentials are valid and the user exists and is
    /// active. The session is neither read nor written.
    async fn bearer(
        &self,
        auth: &RequestAuth,
        feature: &dyn Feature,
        bearer: Bearer,
    ) -> Result<Option<Login>, AuthError> {
        let Bearer::User { user: id, scopes } = bearer else {
            return Ok(None);
        };
        let (key, realm) = (&self.config.key, &self.config.realm);
        let user = match parse_id::<S>(&id) {
            Some(parsed) => {
                self.loader
                    .load_for_credentials(&parsed, key, realm)
                    .await?
            }
            None => None,
        };
        let Some(user) = user.filter(|user| user.is_active()) else {
            feature.bearer_refused(auth, &id);
            return Ok(None);
        };
        Ok(Some(Login {
            user,
            // Never fresh: a guard's `fresh` measures from here, and the guard refuses a
            // token login before it looks.
            login_at: SystemTime::UNIX_EPOCH,
            second_factor_at: None,
            remembered: false,
            scopes: Some(scopes),
        }))
    }

    /// A visitor without a login whom a feature recognises (a remember-me cookie): logged in
    /// on a new session if the user exists and is active, else left anonymous; not logged in
    /// yet if a feature holds the login back (the two-step login, when the user has a second
    /// factor that what the visitor presented does not carry).
    async fn restore(&self, auth: &RequestAuth) -> Result<Option<Login>, AuthError> {
        let Some((feature, restored)) = self.config.features.restore(auth).await? else {
            return Ok(None);
        };
        let user = match parse_id::<S>(&restored.user) {
            Some(id) => self.loader.store_load(&id).await?,
            None => None,
        };
        let Some(user) = user.filter(AuthUser::is_active) else {
            feature.settle(auth, &restored, Verdict::Refused).await?;
            return Ok(None);
        };
        let held = Held {
            user: &restored.user,
            id: serde_json::to_value(user.id()).map_err(tower_sessions::session::Error::from)?,
            digest: &self.config.key.user_digest(&self.config.realm, &user),
            restored: &restored,
        };
        if self.config.features.hold(auth, &held).await? {
            feature
                .settle(auth, &restored, Verdict::FirstFactorOnly)
                .await?;
            return Ok(None);
        }
        let session = auth.session();
        feature.settle(auth, &restored, Verdict::LoggedIn).await?;
        // A new session, under a new id: whatever the visitor had was anonymous.
        if session.id().is_some() {
            session.cycle_id().await?;
        }
        let mut record = self.record_for(&user);
        record.remembered = true;
        let mut login = NewLogin {
            user: &restored.user,
            method: restored.method,
            remember: false,
            second_factor: false,
            link: restored.link.as_deref(),
            entry: None,
        };
        record.entry = self.config.features.register(auth, &login).await?;
        let entry = record.entry.clone();
        login.entry = entry.as_deref();
        let loaded = Login::of(Arc::new(user), &record);
        session.insert(SESSION_KEY, record).await?;
        self.config
            .features
            .installed(auth, &restored.user, login.entry)
            .await?;
        if let Some(event) = restored.event.clone() {
            self.config.emit(event, auth.client());
        }
        self.config.emit(
            crate::events::AuthEvent::LoggedIn {
                user: restored.user.clone(),
                method: login.method,
            },
            auth.client(),
        );
        self.config.features.logged_in(auth, &login).await?;
        Ok(Some(loaded))
    }

    /// The login a test asked for (feature `test-util`): the user with that id, loaded from the
    /// store, logged in just now, with no session written.
    #[cfg(feature = "test-util")]
    pub(crate) async fn test_login(
        &self,
        login: &crate::test_util::LoginAs,
    ) -> Result<Option<Login>, AuthError> {
        let Ok(id) = serde_json::from_value::<<S::User as AuthUser>::Id>(login.id.clone()) else {
            return Ok(None);
        };
        let Some(user) = self.loader.store_load(&id).await? else {
            return Ok(None);
        };
        let mut record = self.record_for(&user);
        record.second_factor_at = login.second_factor.then_some(record.login_at);
        Ok(Some(Login::of(Arc::new(user), &record)))
    }

    /// The record to keep in the session for `user`, logging in now.
    pub(crate) fn record_for(&self, user: &S::User) -> LoginRecord<<S::User as AuthUser>::Id> {
        LoginRecord {
            user_id: user.id(),
            digest: self.config.key.user_digest(&self.config.realm, user),
            login_at: unix_seconds(self.config.clock.now()),
            seen: None,
            second_factor_at: None,
            entry: None,
            remembered: false,
        }
    }
}

/// A user id read back from its text form, as features keep it: ids are serde types, so a
/// number reads from its digits and a string from itself.
pub(crate) fn parse_id<S: UserStore>(text: &str) -> Option<<S::User as AuthUser>::Id> {
    serde_json::from_str(text)
        .or_else(|_| serde_json::from_value(serde_json::Value::String(text.to_owned())))
        .ok()
}

/// Ends a session whose login is no longer valid, so it is not looked up again.
pub(crate) async fn end_session(session: &Session) -> Result<Option<Login>, AuthError> {
    session.flush().await?;
    Ok(None)
}

impl<S: UserStore> ErasedBackend for Backend<S> {
    fn load<'a>(
        &'a self,
        auth: &'a RequestAuth,
    ) -> BoxFuture<'a, Result<Option<Login>, AuthError>> {
        Box::pin(self.load_typed(auth))
    }
    fn config(&self) -> &Config {
        &self.config
    }
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn store_type(&self) -> &'static str {
        type_name::<S>()
    }
    fn user_type(&self) -> &'static str {
        type_name::<S::User>()
    }
    fn ping_users(&self) -> BoxFuture<'_, Result<(), crate::error::BoxError>> {
        Box::pin(async move { self.store().ping().await.map_err(Into::into) })
    }
}

/// The session key under which the login is kept.
pub(crate) const SESSION_KEY: &str = "axum_login.auth";

/// What the session holds about a login: never the password hash, only a keyed digest of it.
///
/// Kept as a JSON array, `[id, digest, at, seen, second_factor_at, entry, remembered]`, not an
/// object: tower-sessions hands out a clone of the stored value on every read, and an array
/// clones and decodes without the key strings an object would allocate and compare, on the
/// path of every guarded request. The fields after `seen` may be missing (a record written
/// before they existed reads as none of them set).
#[derive(Debug, Clone)]
pub(crate) struct LoginRecord<Id> {
    /// The user's id.
    pub(crate) user_id: Id,
    /// HMAC-SHA256 of the user's `session_auth_hash` under the layer's key.
    pub(crate) digest: String,
    /// When the user logged in, in Unix seconds.
    pub(crate) login_at: u64,
    /// When the session was last used, in Unix seconds, kept only with an idle timeout or a
    /// session registry, and updated at most every tenth of the one and every interval of the
    /// other.
    pub(crate) seen: Option<u64>,
    /// When a second factor was last completed on this session, in Unix seconds.
    pub(crate) second_factor_at: Option<u64>,
    /// The session's entry in the session registry.
    pub(crate) entry: Option<String>,
    /// Whether the login came from a remember-me cookie (never fresh).
    pub(crate) remembered: bool,
}

impl<Id: Serialize> Serialize for LoginRecord<Id> {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        // Trailing fields that are unset are left out, so the usual record stays four long.
        let len = if self.remembered {
            7
        } else if self.entry.is_some() {
            6
        } else if self.second_factor_at.is_some() {
            5
        } else {
            4
        };
        let mut tuple = serializer.serialize_tuple(len)?;
        tuple.serialize_element(&self.user_id)?;
        tuple.serialize_element(&self.digest)?;
        tuple.serialize_element(&self.login_at)?;
        tuple.serialize_element(&self.seen)?;
        if len > 4 {
            tuple.serialize_element(&self.second_factor_at)?;
        }
        if len > 5 {
            tuple.serialize_element(&self.entry)?;
        }
        if len > 6 {
            tuple.serialize_element(&self.remembered)?;
        }
        tuple.end()
    }
}

impl<'de, Id: Deserialize<'de>> Deserialize<'de> for LoginRecord<Id> {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        struct RecordVisitor<Id>(std::marker::PhantomData<Id>);

        impl<'de, Id: Deserialize<'de>> Visitor<'de> for RecordVisitor<Id> {
            type Value = LoginRecord<Id>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a login record: [id, digest, login time, last seen, ...]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = |index| de::Error::invalid_length(index, &self);
                let user_id = seq.next_element()?.ok_or_else(|| missing(0))?;
                let digest = seq.next_element()?.ok_or_else(|| missing(1))?;
                let login_at = seq.next_element()?.ok_or_else(|| missing(2))?;
                let seen = seq.next_element()?.ok_or_else(|| missing(3))?;
                let second_factor_at = seq.next_element()?.unwrap_or_default();
                let entry = seq.next_element()?.unwrap_or_default();
                let remembered = seq.next_element()?.unwrap_or_default();
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(8, &self));
                }
                Ok(LoginRecord {
                    user_id,
                    digest,
                    login_at,
                    seen,
                    second_factor_at,
                    entry,
                    remembered,
                })
            }
        }

        deserializer.deserialize_seq(RecordVisitor(std::marker::PhantomData))
    }
}

impl<Id: serde::de::DeserializeOwned> LoginRecord<Id> {
    /// The record kept in a session as `value`, or why `value` is not one.
    pub(crate) fn from_value(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}

#[cfg(test)]
mod record_tests {
    use super::*;

    fn record() -> LoginRecord<u64> {
        LoginRecord {
            user_id: 7,
            digest: "d".to_owned(),
            login_at: 100,
            seen: None,
            second_factor_at: None,
            entry: None,
            remembered: false,
        }
    }

    #[test]
    fn a_plain_record_is_four_long_and_every_field_round_trips() {
        assert_eq!(
            serde_json::to_value(record()).expect("serializes"),
            serde_json::json!([7, "d", 100, null])
        );
        let full = LoginRecord {
            seen: Some(101),
            second_factor_at: Some(102),
            entry: Some("e".to_owned()),
            remembered: true,
            ..record()
        };
        let value = serde_json::to_value(&full).expect("serializes");
        assert_eq!(value, serde_json::json!([7, "d", 100, 101, 102, "e", true]));
        let back: LoginRecord<u64> = LoginRecord::from_value(value).expect("reads back");
        assert_eq!(back.second_factor_at, Some(102));
        assert_eq!(back.entry.as_deref(), Some("e"));
        assert!(back.remembered);
    }

    #[test]
    fn short_long_and_odd_records_are_refused() {
        for bad in [
            serde_json::json!([7, "d", 100]),
            serde_json::json!([7, "d", 100, null, null, null, false, 1]),
            serde_json::json!({"user_id": 7}),
            serde_json::json!([7, "d", "soon", null]),
        ] {
            assert!(
                LoginRecord::<u64>::from_value(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let entry_only = serde_json::json!([7, "d", 100, null, null, "e"]);
        let read: LoginRecord<u64> = LoginRecord::from_value(entry_only).expect("reads");
        assert_eq!(read.entry.as_deref(), Some("e"));
    }
}
