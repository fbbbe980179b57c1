//! [`RedisThrottleStore`]: the throttle's counters in Redis, shared by every instance.

use std::time::SystemTime;

use fred::interfaces::{KeysInterface, LuaInterface};

use super::store::{Ended, Outcome, Reservation, Revocation, ThrottleKey, ThrottleStore, Verdict};
use crate::{
    clock::{duration_millis, from_millis, to_millis},
    error::BoxError,
    redis::redis_store,
};

/// One reservation, atomic on the server: the same arithmetic as the in-memory counter (see
/// [`Rule`]), on a hash of the counter's fields that expires with its window.
///
/// Answers `{0}` granted, `{1}` busy, `{2, until_ms, first}` refused.
const RESERVE: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local free = tonumber(ARGV[5])
local delay = tonumber(ARGV[6])
local h = redis.call('HMGET', KEYS[1], 'ws', 'f', 'lf', 'r', 'lu', 'rep')
local ws = tonumber(h[1]) or now
local f = tonumber(h[2]) or 0
local lf = tonumber(h[3]) or now
local r = tonumber(h[4]) or 0
local lu = tonumber(h[5]) or now
local rep = tonumber(h[6]) or 0
if now >= ws + window then ws = now; f = 0; rep = 0 end
if now >= lu then r = 0 end
local answer
if f >= limit then
  answer = {2, ws + window, 1 - rep}
  rep = 1
else
  local wait = 0
  if f >= free then wait = delay * 2 ^ math.min(f - free, 20) end
  if f > 0 and now < lf + wait then
    answer = {2, lf + wait, 0}
  elseif r >= math.max(free - f, 1) or f + r >= limit then
    answer = {1}
  else
    r = r + 1
    lu = math.max(lu, now + lease)
    answer = {0}
  end
end
redis.call('HSET', KEYS[1], 'ws', ws, 'f', f, 'lf', lf, 'r', r, 'lu', lu, 'rep', rep)
redis.call('PEXPIRE', KEYS[1], math.max(math.max(ws + window, lu) - now, 1))
return answer
";

/// Ends one reservation: `ARGV[3]` is 0 failed, 1 succeeded (failures forgotten), 2 succeeded
/// (kept), 3 abandoned. A counter left with nothing in it is deleted.
const FINISH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local outcome = tonumber(ARGV[3])
local h = redis.call('HMGET', KEYS[1], 'ws', 'f', 'lf', 'r', 'lu', 'rep')
local ws = tonumber(h[1]) or now
local f = tonumber(h[2]) or 0
local lf = tonumber(h[3]) or now
local r = math.max((tonumber(h[4]) or 0) - 1, 0)
local lu = tonumber(h[5]) or now
local rep = tonumber(h[6]) or 0
if now >= ws + window then ws = now; f = 0; rep = 0 end
if now >= lu then r = 0 end
if outcome == 0 then f = f + 1; lf = now
elseif outcome == 1 then f = 0; rep = 0 end
if f == 0 and r == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'ws', ws, 'f', f, 'lf', lf, 'r', r, 'lu', lu, 'rep', rep)
  redis.call('PEXPIRE', KEYS[1], math.max(math.max(ws + window, lu) - now, 1))
end
return 1
";

/// Records a revocation unless a later one is already recorded.
const REVOKE: &str = r"
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > old then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
";

redis_store! {
/// The throttle's counters in Redis (feature `redis`), so that every instance of an app counts
/// the same failures: an attacker gains nothing by spreading guesses across instances.
///
/// Each counter is a small hash under `axum_login:throttle:<key>` (the key a keyed hash, never
/// a username or an address), changed only by scripts that run atomically on the server, and
/// expiring with its window; a counter with no failures and no check in flight is deleted at
/// once. A flood of new usernames therefore costs Redis about 150 bytes per username for one
/// window. Give Redis `maxmemory-policy noeviction` (or room enough): an evicting Redis could
/// drop a locked account's counter.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), fred::error::Error> {
/// use axum_login::{Throttle, security::RedisThrottleStore};
/// use fred::prelude::*;
///
/// let pool = Builder::from_config(Config::from_url("redis://127.0.0.1:6379")?).build_pool(4)?;
/// pool.init().await?;
/// let throttle = Throttle::new(RedisThrottleStore::new(pool));
/// # let _ = throttle; Ok(()) }
/// ```
pub struct RedisThrottleStore;
    new: " Counters through `client` (a `fred` 10 client or pool), under `axum_login:throttle:`.",
    prefix: "axum_login:throttle:",
}

impl<C> RedisThrottleStore<C> {
    fn revoked(&self, key: &ThrottleKey) -> String {
        self.key(format_args!("revoked:{key}"))
    }
}

#[async_trait::async_trait]
impl<C> ThrottleStore for RedisThrottleStore<C>
where
    C: KeysInterface + LuaInterface + Clone + Send + Sync + 'static,
{
    async fn reserve(
        &self,
        reservation: &Reservation,
        now: SystemTime,
    ) -> Result<Verdict, BoxError> {
        let rule = &reservation.rule;
        let args = vec![
            to_millis(now).to_string(),
            duration_millis(reservation.window).to_string(),
            duration_millis(reservation.lease).to_string(),
            rule.limit.to_string(),
            rule.free.to_string(),
            duration_millis(rule.delay).to_string(),
        ];
        let answer: Vec<i64> = self
            .client
            .eval(RESERVE, vec![self.key(reservation.key)], args)
            .await?;
        Ok(match answer.as_slice() {
            [0] => Verdict::Granted,
            [1] => Verdict::Busy,
            [2, until, first] => Verdict::Refused {
                until: from_millis(*until),
                first: *first == 1,
            },
            other => {
                return Err(format!("the throttle script answered {other:?}").into());
            }
        })
    }

    async fn finish(&self, reservation: &Reservation, ended: Ended) -> Result<(), BoxError> {
        let outcome = match ended.outcome {
            Outcome::Failed => 0,
            Outcome::Succeeded { reset: true } => 1,
            Outcome::Succeeded { reset: false } => 2,
            Outcome::Abandoned => 3,
        };
        let args = vec![
            to_millis(ended.at).to_string(),
            duration_millis(reservation.window).to_string(),
            outcome.to_string(),
        ];
        let _: i64 = self
            .client
            .eval(FINISH, vec![self.key(reservation.key)], args)
            .await?;
        Ok(())
    }

    async fn revoke_devices(&self, revocation: &Revocation) -> Result<(), BoxError> {
        let Revocation { account, at, keep } = revocation;
        let args = vec![
            to_millis(*at).to_string(),
            duration_millis(*keep).max(1).to_string(),
        ];
        let _: i64 = self
            .client
            .eval(REVOKE, vec![self.revoked(account)], args)
            .await?;
        Ok(())
    }

    async fn devices_revoked_at(
        &self,
        account: &ThrottleKey,
    ) -> Result<Option<SystemTime>, BoxError> {
        let at: Option<i64> = self.client.get(self.revoked(account)).await?;
        Ok(at.map(from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debug_form_shows_the_prefix_and_no_client() {
        let store = RedisThrottleStore::new(()).with_prefix("app:throttle:");
        assert_eq!(
            format!("{store:?}"),
            "RedisThrottleStore { prefix: \"app:throttle:\", .. }"
        );
    }
}
