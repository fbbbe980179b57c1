//! [`Timed`]: a store wrapped so that each of its calls is timed into
//! `axum_login_store_call_seconds`.

use std::{future::Future, time::Instant};

use ::metrics::histogram;

/// The histogram of store calls, by `store`, `call` and `outcome`.
pub const STORE_CALL_SECONDS: &str = "axum_login_store_call_seconds";

/// A store whose every call is timed into [`STORE_CALL_SECONDS`] (feature `metrics`), with
/// labels `store` (which kind of store: `users`, `sessions`, `registry`, `remember_me`,
/// `throttle`, `second_factors`), `call` (the trait method, e.g. `load_user`) and `outcome`
/// (`ok`, `error`, or `cancelled` for a call dropped before it answered, such as one cut
/// short by the layer's store timeout).
///
/// Wrap the store where it is handed to the layer; the wrapper implements the same trait and
/// forwards every call, `ping` included. The layer keeps its stores behind its own types, so
/// it cannot time them itself without a clock around every call in the core; wrapping is the
/// app's choice, per store.
///
/// ```
/// use axum_login::{
///     AuthLayer, metrics::Timed, registry::{MemorySessionRegistry, RegistryConfig},
///     session::MemoryStore, session_layer,
/// };
/// # use axum_login::{AuthUser, UserStore};
/// # #[derive(Clone)] struct User;
/// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { 1 } fn session_auth_hash(&self) -> &[u8] { b"" } }
/// # #[derive(Clone)] struct MyStore;
/// # impl UserStore for MyStore {
/// #     type User = User; type Credentials = (); type Error = std::convert::Infallible;
/// #     async fn authenticate(&self, _: ()) -> Result<Option<User>, Self::Error> { Ok(None) }
/// #     async fn load_user(&self, _: &u64) -> Result<Option<User>, Self::Error> { Ok(None) }
/// # }
///
/// let layer = AuthLayer::builder(Timed::new(MyStore), session_layer(Timed::new(MemoryStore::default())))
///     .session_registry(RegistryConfig::new(Timed::new(MemorySessionRegistry::default())))
///     .metrics()
///     .build();
/// # let _ = layer;
/// ```
///
/// A wrapped user store changes the type an app names in its extractors
/// (`AuthSession<Timed<Store>>`); [`into_inner`](Self::into_inner) and
/// [`inner`](Self::inner) give the store back.
#[derive(Debug, Clone, Default)]
pub struct Timed<S> {
    inner: S,
}

impl<S> Timed<S> {
    /// `inner`, timed.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped store, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Records the call when dropped: on its answer, or `cancelled` if it never answered.
struct Stopwatch {
    store: &'static str,
    call: &'static str,
    started: Instant,
    outcome: &'static str,
}

impl Drop for Stopwatch {
    fn drop(&mut self) {
        histogram!(
            STORE_CALL_SECONDS,
            "store" => self.store,
            "call" => self.call,
            "outcome" => self.outcome,
        )
        .record(self.started.elapsed().as_secs_f64());
    }
}

async fn time<T, E>(
    store: &'static str,
    call: &'static str,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let mut stopwatch = Stopwatch {
        store,
        call,
        started: Instant::now(),
        outcome: "cancelled",
    };
    let answer = work.await;
    stopwatch.outcome = if answer.is_ok() { "ok" } else { "error" };
    answer
}

mod users {
    use std::future::Future;

    use super::{Timed, time};
    use crate::{UserStore, store::UserId};

    const STORE: &str = "users";

    impl<S: UserStore> UserStore for Timed<S> {
        type User = S::User;
        type Credentials = S::Credentials;
        type Error = S::Error;

        const BATCHED_LOADS: bool = S::BATCHED_LOADS;

        async fn authenticate(
            &self,
            credentials: Self::Credentials,
        ) -> Result<Option<Self::User>, Self::Error> {
            time(STORE, "authenticate", self.inner.authenticate(credentials)).await
        }

        async fn load_user(&self, id: &UserId<S>) -> Result<Option<Self::User>, Self::Error> {
            time(STORE, "load_user", self.inner.load_user(id)).await
        }

        async fn load_users(
            &self,
            ids: &[UserId<S>],
        ) -> Result<Vec<Option<Self::User>>, Self::Error> {
            time(STORE, "load_users", self.inner.load_users(ids)).await
        }

        fn throttle_key(&self, credentials: &Self::Credentials) -> Option<String> {
            self.inner.throttle_key(credentials)
        }

        // Not an `async fn`: that would hold `credentials` across the await, and the trait asks
        // for a `Send` future of credentials that need not be `Sync`.
        fn account_key(
            &self,
            credentials: &Self::Credentials,
        ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send {
            time(STORE, "account_key", self.inner.account_key(credentials))
        }

        async fn ping(&self) -> Result<(), Self::Error> {
            time(STORE, "ping", self.inner.ping()).await
        }
    }
}

mod sessions {
    use tower_sessions::{
        SessionStore,
        session::{Id, Record},
        session_store,
    };

    use super::{Timed, time};
    use crate::session::{SessionBackend, store::Update};

    const STORE: &str = "sessions";

    #[async_trait::async_trait]
    impl<S: SessionStore> SessionStore for Timed<S> {
        async fn create(&self, record: &mut Record) -> session_store::Result<()> {
            time(STORE, "create", self.inner.create(record)).await
        }

        async fn save(&self, record: &Record) -> session_store::Result<()> {
            time(STORE, "save", self.inner.save(record)).await
        }

        async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
            time(STORE, "load", self.inner.load(id)).await
        }

        async fn delete(&self, id: &Id) -> session_store::Result<()> {
            time(STORE, "delete", self.inner.delete(id)).await
        }
    }

    #[async_trait::async_trait]
    impl<S: SessionBackend> SessionBackend for Timed<S> {
        async fn update(
            &self,
            record: &Record,
            skip_unchanged: bool,
        ) -> session_store::Result<Update> {
            time(STORE, "update", self.inner.update(record, skip_unchanged)).await
        }
    }
}

mod registry {
    use std::time::SystemTime;

    use super::{Timed, time};
    use crate::{
        error::BoxError,
        registry::{Admission, Binding, Limit, SessionEntry, SessionRegistry, Which},
    };

    const STORE: &str = "registry";

    #[async_trait::async_trait]
    impl<S: SessionRegistry> SessionRegistry for Timed<S> {
        async fn add(&self, entry: &SessionEntry) -> Result<(), BoxError> {
            time(STORE, "add", self.inner.add(entry)).await
        }

        async fn add_within(
            &self,
            entry: &SessionEntry,
            limit: Limit,
        ) -> Result<Admission, BoxError> {
            time(STORE, "add_within", self.inner.add_within(entry, limit)).await
        }

        async fn list(&self, user: &str) -> Result<Vec<SessionEntry>, BoxError> {
            time(STORE, "list", self.inner.list(user)).await
        }

        async fn bind(&self, binding: &Binding<'_>) -> Result<bool, BoxError> {
            time(STORE, "bind", self.inner.bind(binding)).await
        }

        async fn set_remember(
            &self,
            user: &str,
            id: &str,
            selector: &str,
        ) -> Result<bool, BoxError> {
            time(
                STORE,
                "set_remember",
                self.inner.set_remember(user, id, selector),
            )
            .await
        }

        async fn touch(&self, user: &str, id: &str, at: SystemTime) -> Result<bool, BoxError> {
            time(STORE, "touch", self.inner.touch(user, id, at)).await
        }

        async fn remove(
            &self,
            user: &str,
            which: Which<'_>,
        ) -> Result<Vec<SessionEntry>, BoxError> {
            time(STORE, "remove", self.inner.remove(user, which)).await
        }

        async fn ping(&self) -> Result<(), BoxError> {
            time(STORE, "ping", self.inner.ping()).await
        }
    }
}

mod remember {
    use super::{Timed, time};
    use crate::{
        error::BoxError,
        remember::{RememberStore, RememberToken, Rotation},
    };

    const STORE: &str = "remember_me";

    #[async_trait::async_trait]
    impl<S: RememberStore> RememberStore for Timed<S> {
        async fn insert(&self, token: &RememberToken) -> Result<(), BoxError> {
            time(STORE, "insert", self.inner.insert(token)).await
        }

        async fn get(&self, selector: &str) -> Result<Option<RememberToken>, BoxError> {
            time(STORE, "get", self.inner.get(selector)).await
        }

        async fn rotate(&self, rotation: &Rotation<'_>) -> Result<bool, BoxError> {
            time(STORE, "rotate", self.inner.rotate(rotation)).await
        }

        async fn remove(&self, selector: &str) -> Result<(), BoxError> {
            time(STORE, "remove", self.inner.remove(selector)).await
        }

        async fn remove_user(&self, user: &str) -> Result<(), BoxError> {
            time(STORE, "remove_user", self.inner.remove_user(user)).await
        }

        async fn ping(&self) -> Result<(), BoxError> {
            time(STORE, "ping", self.inner.ping()).await
        }
    }
}

mod throttle {
    use std::time::SystemTime;

    use super::{Timed, time};
    use crate::{
        error::BoxError,
        security::{Ended, Reservation, Revocation, ThrottleKey, ThrottleStore, Verdict},
    };

    const STORE: &str = "throttle";

    #[async_trait::async_trait]
    impl<S: ThrottleStore> ThrottleStore for Timed<S> {
        async fn reserve(
            &self,
            reservation: &Reservation,
            now: SystemTime,
        ) -> Result<Verdict, BoxError> {
            time(STORE, "reserve", self.inner.reserve(reservation, now)).await
        }

        async fn finish(&self, reservation: &Reservation, ended: Ended) -> Result<(), BoxError> {
            time(STORE, "finish", self.inner.finish(reservation, ended)).await
        }

        async fn revoke_devices(&self, revocation: &Revocation) -> Result<(), BoxError> {
            time(
                STORE,
                "revoke_devices",
                self.inner.revoke_devices(revocation),
            )
            .await
        }

        async fn devices_revoked_at(
            &self,
            account: &ThrottleKey,
        ) -> Result<Option<SystemTime>, BoxError> {
            time(
                STORE,
                "devices_revoked_at",
                self.inner.devices_revoked_at(account),
            )
            .await
        }

        /// Not timed: it waits for another request's reservation, not for the store.
        async fn released(&self, key: &ThrottleKey) {
            self.inner.released(key).await;
        }

        async fn ping(&self) -> Result<(), BoxError> {
            time(STORE, "ping", self.inner.ping()).await
        }
    }
}

#[cfg(feature = "totp")]
mod second_factors {
    use secrecy::SecretSlice;

    use super::{Timed, time};
    use crate::mfa::{
        MfaError, RecoveryCodeHash, SecondFactorStore, StoredTotp, TotpReseal, TotpStep,
    };

    const STORE: &str = "second_factors";

    #[async_trait::async_trait]
    impl<S: SecondFactorStore> SecondFactorStore for Timed<S> {
        async fn totp(&self, user: &str) -> Result<Option<StoredTotp>, MfaError> {
            time(STORE, "totp", self.inner.totp(user)).await
        }

        async fn set_pending_totp(
            &self,
            user: &str,
            sealed: &SecretSlice<u8>,
        ) -> Result<(), MfaError> {
            time(
                STORE,
                "set_pending_totp",
                self.inner.set_pending_totp(user, sealed),
            )
            .await
        }

        async fn activate_totp(&self, code: &TotpStep<'_>) -> Result<bool, MfaError> {
            time(STORE, "activate_totp", self.inner.activate_totp(code)).await
        }

        async fn record_totp_step(&self, code: &TotpStep<'_>) -> Result<bool, MfaError> {
            time(STORE, "record_totp_step", self.inner.record_totp_step(code)).await
        }

        async fn reseal_totp(&self, reseal: &TotpReseal<'_>) -> Result<bool, MfaError> {
            time(STORE, "reseal_totp", self.inner.reseal_totp(reseal)).await
        }

        async fn remove_second_factors(&self, user: &str) -> Result<bool, MfaError> {
            time(
                STORE,
                "remove_second_factors",
                self.inner.remove_second_factors(user),
            )
            .await
        }

        async fn replace_recovery_codes(
            &self,
            user: &str,
            hashes: &[RecoveryCodeHash],
        ) -> Result<(), MfaError> {
            time(
                STORE,
                "replace_recovery_codes",
                self.inner.replace_recovery_codes(user, hashes),
            )
            .await
        }

        async fn use_recovery_code(
            &self,
            user: &str,
            hash: &RecoveryCodeHash,
        ) -> Result<bool, MfaError> {
            time(
                STORE,
                "use_recovery_code",
                self.inner.use_recovery_code(user, hash),
            )
            .await
        }

        async fn recovery_codes_left(&self, user: &str) -> Result<usize, MfaError> {
            time(
                STORE,
                "recovery_codes_left",
                self.inner.recovery_codes_left(user),
            )
            .await
        }
    }
}

#[cfg(feature = "tokens")]
mod api_tokens {
    use std::time::SystemTime;

    use super::{Timed, time};
    use crate::{
        error::BoxError,
        tokens::{ApiToken, Rehash, TokenStore},
    };

    const STORE: &str = "api_tokens";

    #[async_trait::async_trait]
    impl<S: TokenStore> TokenStore for Timed<S> {
        async fn insert(&self, token: &ApiToken) -> Result<(), BoxError> {
            time(STORE, "insert", self.inner.insert(token)).await
        }

        async fn find(&self, hash: &str) -> Result<Option<ApiToken>, BoxError> {
            time(STORE, "find", self.inner.find(hash)).await
        }

        async fn list(&self, user: &str) -> Result<Vec<ApiToken>, BoxError> {
            time(STORE, "list", self.inner.list(user)).await
        }

        async fn touch(&self, id: &str, at: SystemTime) -> Result<(), BoxError> {
            time(STORE, "touch", self.inner.touch(id, at)).await
        }

        async fn rehash(&self, rehash: &Rehash<'_>) -> Result<bool, BoxError> {
            time(STORE, "rehash", self.inner.rehash(rehash)).await
        }

        async fn revoke(&self, user: &str, id: &str) -> Result<bool, BoxError> {
            time(STORE, "revoke", self.inner.revoke(user, id)).await
        }

        async fn revoke_user(&self, user: &str) -> Result<u64, BoxError> {
            time(STORE, "revoke_user", self.inner.revoke_user(user)).await
        }

        async fn ping(&self) -> Result<(), BoxError> {
            time(STORE, "ping", self.inner.ping()).await
        }
    }
}
