//! [`RedisSessionStore`]: sessions in Redis, through `fred`.

use std::fmt;

use fred::{
    interfaces::{KeysInterface, LuaInterface},
    types::{Expiration, SetOptions},
};
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store,
};

use super::{SessionBackend, Update, decode_data, encode_data};
use crate::redis::redis_store;

/// Writes a session only if its key exists, and, when asked, only if its data changed; in one
/// script, so that no `DEL` from a logout can fall between the check and the write.
///
/// Answers 0 (no session), 1 (unchanged) or 2 (written).
const UPDATE: &str = r"
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
if ARGV[3] == '1' and stored == ARGV[1] then return 1 end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2])
return 2
";

redis_store! {
/// Sessions in Redis (feature `redis`), one key per session, expiring with it.
///
/// Every write is atomic on the server: `create` is `SET ... NX`, `save` and
/// [`update`](SessionBackend::update) a script that writes only an existing key, so a session a
/// logout deleted on any instance is never written back. Give it a `fred` client or pool
/// of `fred` 10; keys are
/// `axum_login:session:<id>` unless [`with_prefix`](Self::with_prefix) says otherwise.
///
/// A Redis outage makes every session operation fail, and the session layer bounds each one
/// ([`with_store_timeout`](crate::session::SessionLayer::with_store_timeout), two seconds by
/// default), so requests fail fast instead of waiting for the connection to come back. The
/// client needs no command timeout of its own for the sessions, and is faster without one:
/// `fred`'s `PerformanceConfig::default_command_timeout` registers a timer for every command,
/// which cost a logged-in `GET` about 15% of its throughput (`examples/bench/README.md`). The
/// other Redis stores (the throttle's counters, the session registry, remember-me, API tokens)
/// are not bounded by the layer: give them a pool of their own with a command timeout, as
/// `examples/scale-out` does.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), fred::error::Error> {
/// use fred::prelude::*;
///
/// let pool = Builder::from_config(Config::from_url("redis://127.0.0.1:6379")?).build_pool(4)?;
/// pool.init().await?;
/// let sessions = axum_login::session_layer(axum_login::session::RedisSessionStore::new(pool));
/// # let _ = sessions; Ok(()) }
/// ```
pub struct RedisSessionStore;
    new: " Sessions through `client`, under keys `axum_login:session:<id>`.",
    prefix: "axum_login:session:",
}

fn store_error(error: fred::error::Error) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

#[async_trait::async_trait]
impl<C> SessionStore for RedisSessionStore<C>
where
    C: KeysInterface + LuaInterface + Clone + fmt::Debug + Send + Sync + 'static,
{
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode_data(&record.data)?;
        let expiry = record.expiry_date.unix_timestamp();
        if record.expiry_date <= OffsetDateTime::now_utc() {
            return Ok(());
        }
        loop {
            let created: bool = self
                .client
                .set(
                    self.key(record.id),
                    data.as_str(),
                    Some(Expiration::EXAT(expiry)),
                    Some(SetOptions::NX),
                    false,
                )
                .await
                .map_err(store_error)?;
            if created {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.update(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let stored: Option<String> = self.client.get(self.key(id)).await.map_err(store_error)?;
        stored
            .map(|text| {
                Ok(Record {
                    id: *id,
                    data: decode_data(&text)?,
                    // tower-sessions sets the expiry again from the layer's settings before
                    // each save; Redis keeps the key's own.
                    expiry_date: OffsetDateTime::now_utc(),
                })
            })
            .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _: i64 = self.client.del(self.key(id)).await.map_err(store_error)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl<C> SessionBackend for RedisSessionStore<C>
where
    C: KeysInterface + LuaInterface + Clone + fmt::Debug + Send + Sync + 'static,
{
    async fn update(&self, record: &Record, skip_unchanged: bool) -> session_store::Result<Update> {
        if record.expiry_date <= OffsetDateTime::now_utc() {
            // Redis refuses an expiry in the past; a session past its expiry is gone anyway.
            self.delete(&record.id).await?;
            return Ok(Update::Missing);
        }
        let data = encode_data(&record.data)?;
        let args = vec![
            data,
            record.expiry_date.unix_timestamp().to_string(),
            if skip_unchanged { "1" } else { "0" }.to_owned(),
        ];
        let outcome: i64 = self
            .client
            .eval(UPDATE, vec![self.key(record.id)], args)
            .await
            .map_err(store_error)?;
        Ok(match outcome {
            2 => Update::Written,
            1 => Update::Unchanged,
            _ => Update::Missing,
        })
    }
}
