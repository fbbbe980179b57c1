//! [`RedisSessionRegistry`]: the session registry in Redis, shared by every instance.

use std::{collections::HashMap, net::IpAddr, time::SystemTime};

use fred::interfaces::{HashesInterface, KeysInterface, LuaInterface};
use serde::{Deserialize, Serialize};

use super::{Admission, Binding, Limit, OnLimit, SessionEntry, SessionRegistry, Which};
use crate::{
    clock::from_millis,
    error::BoxError,
    redis::{millis_text, redis_store},
};

/// Adds an entry, after dropping the user's expired ones; the user's key then expires with
/// the last of its entries.
const ADD: &str = r"
local now = tonumber(ARGV[1])
local latest = tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local expires = tonumber(cjson.decode(all[i + 1]).expires_at)
  if expires <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif expires > latest then
    latest = expires
  end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], latest)
return 1
";

/// `ADD` within a limit: with `ARGV[5]` (`max`) live entries or more, refuses (`ARGV[6]` is
/// `refuse`: answers `{'refused'}`) or removes the oldest (by `created_at`, then id) to make
/// room. Answers `{'added', id, entry, id, entry, ...}` with the removed entries.
const ADD_WITHIN: &str = r"
local now = tonumber(ARGV[1])
local latest = tonumber(ARGV[4])
local max = tonumber(ARGV[5])
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local expires = tonumber(cjson.decode(all[i + 1]).expires_at)
  if expires <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    if expires > latest then latest = expires end
    live[#live + 1] = {all[i], all[i + 1], tonumber(cjson.decode(all[i + 1]).created_at)}
  end
end
local answer = {'added'}
if #live >= max then
  if ARGV[6] == 'refuse' then return {'refused'} end
  table.sort(live, function(a, b)
    if a[3] ~= b[3] then return a[3] < b[3] end
    return a[1] < b[1]
  end)
  for i = 1, #live - max + 1 do
    redis.call('HDEL', KEYS[1], live[i][1])
    answer[#answer + 1] = live[i][1]
    answer[#answer + 1] = live[i][2]
  end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], latest)
return answer
";

/// Sets one field of a live entry: `session_id` to `ARGV[3]` if it has none or has
/// `ARGV[5]`, `remember` to `ARGV[3]`, or `last_seen` to `ARGV[3]` if that is later. Answers
/// 1 if the entry is there (and, for `session_id`, was set), 0 if not.
const UPDATE: &str = r"
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return 0 end
local entry = cjson.decode(stored)
if tonumber(entry.expires_at) <= tonumber(ARGV[4]) then return 0 end
if ARGV[2] == 'session_id' then
  if type(entry.session_id) == 'string' and entry.session_id ~= ARGV[5] then return 0 end
  entry.session_id = ARGV[3]
elseif ARGV[2] == 'remember' then
  entry.remember = ARGV[3]
elseif tonumber(ARGV[3]) > tonumber(entry.last_seen) then
  entry.last_seen = ARGV[3]
else
  return 1
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
return 1
";

/// Removes the entries that `ARGV[1]` (`one`, `but` or `all`) and `ARGV[2]` (an id) name;
/// answers them as `id, entry, id, entry, ...`.
const REMOVE: &str = r"
local all = redis.call('HGETALL', KEYS[1])
local removed = {}
for i = 1, #all, 2 do
  local id = all[i]
  if ARGV[1] == 'all' or (ARGV[1] == 'one' and id == ARGV[2]) or (ARGV[1] == 'but' and id ~= ARGV[2]) then
    redis.call('HDEL', KEYS[1], id)
    removed[#removed + 1] = id
    removed[#removed + 1] = all[i + 1]
  end
end
return removed
";

redis_store! {
/// The session registry in Redis (feature `redis`), so that every instance of an app sees,
/// and can end, every session of a user.
///
/// Each user's entries are one hash under `axum_login:registry:<user>`, a field per entry
/// (its id) holding the entry as JSON, times as milliseconds since the epoch. Every change is
/// a script that runs atomically on the server, so [`bind`](SessionRegistry::bind) never
/// records a session id on an entry that [`remove`](SessionRegistry::remove) took away.
/// Expired entries are never listed, bound or touched; a login drops the user's expired
/// entries, and the hash expires with the last of them.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), fred::error::Error> {
/// use axum_login::registry::{RedisSessionRegistry, RegistryConfig};
/// use fred::prelude::*;
///
/// let pool = Builder::from_config(Config::from_url("redis://127.0.0.1:6379")?).build_pool(4)?;
/// pool.init().await?;
/// let config = RegistryConfig::new(RedisSessionRegistry::new(pool));
/// # let _ = config; Ok(()) }
/// ```
pub struct RedisSessionRegistry;
    new: " Entries through `client` (a `fred` 10 client or pool), under `axum_login:registry:`.",
    prefix: "axum_login:registry:",
}

/// An entry as its hash field keeps it. Times are decimal strings: the scripts' JSON codec
/// would write large numbers back rounded.
#[derive(Serialize, Deserialize)]
struct Stored {
    session_id: Option<String>,
    created_at: String,
    last_seen: String,
    address: Option<String>,
    user_agent: Option<String>,
    expires_at: String,
    remember: Option<String>,
}

impl Stored {
    fn new(entry: &SessionEntry) -> Self {
        Self {
            session_id: entry.session_id.clone(),
            created_at: millis_text(entry.created_at),
            last_seen: millis_text(entry.last_seen),
            address: entry.address.map(|address| address.to_string()),
            user_agent: entry.user_agent.clone(),
            expires_at: millis_text(entry.expires_at),
            remember: entry.remember.clone(),
        }
    }

    fn into_entry(self, user: &str, id: String) -> Result<SessionEntry, BoxError> {
        let time = |text: &str| -> Result<SystemTime, BoxError> { Ok(from_millis(text.parse()?)) };
        Ok(SessionEntry {
            id,
            user: user.to_owned(),
            session_id: self.session_id,
            created_at: time(&self.created_at)?,
            last_seen: time(&self.last_seen)?,
            address: self
                .address
                .map(|address| address.parse::<IpAddr>())
                .transpose()?,
            user_agent: self.user_agent,
            expires_at: time(&self.expires_at)?,
            remember: self.remember,
        })
    }
}

fn decode(user: &str, id: String, json: &str) -> Result<SessionEntry, BoxError> {
    serde_json::from_str::<Stored>(json)?.into_entry(user, id)
}

impl<C> RedisSessionRegistry<C>
where
    C: HashesInterface + KeysInterface + LuaInterface + Clone + Send + Sync + 'static,
{
    /// Runs `UPDATE`; `previous` is the session id a `session_id` update replaces (empty:
    /// none, which no session id is).
    async fn update(
        &self,
        user: &str,
        id: &str,
        field: &str,
        value: String,
        previous: &str,
    ) -> Result<bool, BoxError> {
        let args = vec![
            id.to_owned(),
            field.to_owned(),
            value,
            millis_text(SystemTime::now()),
            previous.to_owned(),
        ];
        let found: i64 = self.client.eval(UPDATE, vec![self.key(user)], args).await?;
        Ok(found == 1)
    }
}

#[async_trait::async_trait]
impl<C> SessionRegistry for RedisSessionRegistry<C>
where
    C: HashesInterface + KeysInterface + LuaInterface + Clone + Send + Sync + 'static,
{
    async fn add(&self, entry: &SessionEntry) -> Result<(), BoxError> {
        let stored = Stored::new(entry);
        let args = vec![
            millis_text(SystemTime::now()),
            entry.id.clone(),
            serde_json::to_string(&stored)?,
            stored.expires_at,
        ];
        let _: i64 = self
            .client
            .eval(ADD, vec![self.key(&entry.user)], args)
            .await?;
        Ok(())
    }

    async fn add_within(&self, entry: &SessionEntry, limit: Limit) -> Result<Admission, BoxError> {
        let stored = Stored::new(entry);
        let on_limit = match limit.on_limit {
            OnLimit::RefuseNew => "refuse",
            OnLimit::EndOldest => "end-oldest",
        };
        let args = vec![
            millis_text(SystemTime::now()),
            entry.id.clone(),
            serde_json::to_string(&stored)?,
            stored.expires_at,
            limit.max.max(1).to_string(),
            on_limit.to_owned(),
        ];
        // A status, then the removed entries as (id, entry) pairs.
        let answer: Vec<String> = self
            .client
            .eval(ADD_WITHIN, vec![self.key(&entry.user)], args)
            .await?;
        let mut answer = answer.into_iter();
        if answer.next().as_deref() != Some("added") {
            return Ok(Admission::Refused);
        }
        let mut ended = Vec::new();
        while let (Some(id), Some(json)) = (answer.next(), answer.next()) {
            ended.push(decode(&entry.user, id, &json)?);
        }
        Ok(Admission::Added(ended))
    }

    async fn list(&self, user: &str) -> Result<Vec<SessionEntry>, BoxError> {
        let all: HashMap<String, String> = self.client.hgetall(self.key(user)).await?;
        let now = SystemTime::now();
        let mut entries = Vec::with_capacity(all.len());
        for (id, json) in all {
            let entry = decode(user, id, &json)?;
            if entry.expires_at > now {
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(entries)
    }

    async fn bind(&self, binding: &Binding<'_>) -> Result<bool, BoxError> {
        let (user, id) = (binding.user, binding.id);
        let session_id = binding.session_id.to_owned();
        let previous = binding.previous.unwrap_or_default();
        self.update(user, id, "session_id", session_id, previous)
            .await
    }

    async fn set_remember(&self, user: &str, id: &str, selector: &str) -> Result<bool, BoxError> {
        self.update(user, id, "remember", selector.to_owned(), "")
            .await
    }

    async fn touch(&self, user: &str, id: &str, at: SystemTime) -> Result<bool, BoxError> {
        self.update(user, id, "last_seen", millis_text(at), "")
            .await
    }

    async fn remove(&self, user: &str, which: Which<'_>) -> Result<Vec<SessionEntry>, BoxError> {
        let args = match which {
            Which::One(id) => vec!["one".to_owned(), id.to_owned()],
            Which::AllBut(id) => vec!["but".to_owned(), id.to_owned()],
            Which::All => vec!["all".to_owned(), String::new()],
        };
        let removed: Vec<String> = self.client.eval(REMOVE, vec![self.key(user)], args).await?;
        let mut entries = Vec::with_capacity(removed.len() / 2);
        let mut pairs = removed.into_iter();
        while let (Some(id), Some(json)) = (pairs.next(), pairs.next()) {
            entries.push(decode(user, id, &json)?);
        }
        entries.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(entries)
    }
}
