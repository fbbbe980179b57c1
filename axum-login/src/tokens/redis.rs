//! [`RedisTokenStore`]: API tokens in Redis, shared by every instance.

use std::{
    collections::HashMap,
    time::{Duration, SystemTime},
};

use fred::interfaces::{HashesInterface, KeysInterface, LuaInterface};

use super::{ApiToken, Rehash, TokenStore, scopes_from_text, scopes_text};
use crate::{
    clock::from_millis,
    error::BoxError,
    redis::{millis_text, redis_store},
};

/// How long past its expiry a token is kept, so that a request with it is refused as expired
/// (by the layer's clock, which may run behind Redis's) and its user still sees it listed.
const KEEP_EXPIRED: Duration = Duration::from_secs(24 * 60 * 60);

/// Keeps a token under its hash (replacing one there), points its id at the hash and adds the
/// id to its user's index, dropping the ids of tokens that are gone. With an expiry, the keys
/// expire [`KEEP_EXPIRED`] after it, and the index with the user's last token; a token that
/// never expires keeps the index for good. `ARGV`: hash, id, user, name, scopes, created at,
/// last used at, expires at, kept until (the last three empty for none), now, the id keys'
/// prefix.
const INSERT: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[2], 'user', ARGV[3], 'name', ARGV[4], 'scopes', ARGV[5], 'created_at', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'last_used_at', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'expires_at', ARGV[8]) end
redis.call('SET', KEYS[2], ARGV[1])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('EXISTS', ARGV[11] .. id) == 0 then redis.call('SREM', KEYS[3], id) end
end
local ttl = redis.call('PTTL', KEYS[3])
redis.call('SADD', KEYS[3], ARGV[2])
if ARGV[9] == '' then
  redis.call('PERSIST', KEYS[3])
  return 1
end
redis.call('PEXPIREAT', KEYS[1], ARGV[9])
redis.call('PEXPIREAT', KEYS[2], ARGV[9])
if ttl == -2 or (ttl >= 0 and tonumber(ARGV[9]) - tonumber(ARGV[10]) > ttl) then
  redis.call('PEXPIREAT', KEYS[3], ARGV[9])
end
return 1
";

/// Sets `last_used_at` (`ARGV[1]`) of the token the id key points at, if it is still there
/// (the token keys' prefix is `ARGV[2]`).
const TOUCH: &str = r"
local hash = redis.call('GET', KEYS[1])
if not hash or redis.call('EXISTS', ARGV[2] .. hash) == 0 then return 0 end
redis.call('HSET', ARGV[2] .. hash, 'last_used_at', ARGV[1])
return 1
";

/// Moves the token from the key of its hash to that of the new one (`KEYS[2]`, with its
/// expiry) and points its id there, if the token under the old hash has the id `ARGV[1]`;
/// answers 1 if it did, 0 if not.
const REHASH: &str = r"
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], ARGV[2], 'KEEPTTL')
return 1
";

/// Deletes the token the id key points at if it belongs to the user `ARGV[1]`, and takes its
/// id (`ARGV[2]`) out of the user's index (the token keys' prefix is `ARGV[3]`); answers 1 if
/// it did, 0 if not.
const REVOKE: &str = r"
local hash = redis.call('GET', KEYS[1])
if not hash or redis.call('HGET', ARGV[3] .. hash, 'user') ~= ARGV[1] then return 0 end
redis.call('DEL', ARGV[3] .. hash, KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
";

/// Deletes every token in the user's index that still belongs to the user `ARGV[1]` (the
/// token and id keys' prefixes are `ARGV[2]` and `ARGV[3]`), then the index; answers how many.
const REVOKE_USER: &str = r"
local revoked = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local hash = redis.call('GET', ARGV[3] .. id)
  if hash and redis.call('HGET', ARGV[2] .. hash, 'user') == ARGV[1] then
    redis.call('DEL', ARGV[2] .. hash, ARGV[3] .. id)
    revoked = revoked + 1
  end
end
redis.call('DEL', KEYS[1])
return revoked
";

/// The tokens in the user's index, each as its hash then its fields and values (the token and
/// id keys' prefixes are `ARGV[1]` and `ARGV[2]`); the caller keeps those of the user.
const LIST: &str = r"
local tokens = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local hash = redis.call('GET', ARGV[2] .. id)
  local fields = hash and redis.call('HGETALL', ARGV[1] .. hash) or {}
  if #fields > 0 then
    table.insert(fields, 1, hash)
    tokens[#tokens + 1] = fields
  end
end
return tokens
";

redis_store! {
/// API tokens in Redis (features `tokens` and `redis`), so that a token created on one
/// instance works on every other.
///
/// Each token is a hash under `axum_login:tokens:token:<hash>`, found by the hash of its
/// secret; `axum_login:tokens:id:<id>` holds that hash, so that a token is touched and revoked
/// by its id, and each user has a set of their token ids under `axum_login:tokens:user:<user>`,
/// so that [`list`](TokenStore::list) and [`revoke_user`](TokenStore::revoke_user) find them
/// all. Every change is a script that runs atomically on the server: a rehash after a key
/// rotation checks the token's id under the old hash and moves it in one step, so of two
/// requests rehashing one token at once, exactly one wins.
///
/// A token with an expiry stays a day past it: the layer refuses it as expired by its own
/// clock, and its user still sees it listed; then Redis drops it. A token without one stays
/// until it is revoked.
///
/// The scripts reach a token from its id or its user's index, keys they compute from the
/// prefix: on Redis Cluster, give a prefix with a hash tag (`{axum_login}:tokens:`) so that
/// all of them live in one slot.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), fred::error::Error> {
/// use axum_login::tokens::{ApiTokens, RedisTokenStore};
/// use fred::prelude::*;
///
/// let pool = Builder::from_config(Config::from_url("redis://127.0.0.1:6379")?).build_pool(4)?;
/// pool.init().await?;
/// let tokens = ApiTokens::new(RedisTokenStore::new(pool));
/// # let _ = tokens; Ok(()) }
/// ```
pub struct RedisTokenStore;
    new: " Tokens through `client` (a `fred` 10 client or pool), under `axum_login:tokens:`.",
    prefix: "axum_login:tokens:",
}

/// The key of a token, after the prefix: then its hash.
const TOKEN: &str = "token:";
/// The key of a token's hash, after the prefix: then its id.
const ID: &str = "id:";
/// The key of a user's token ids, after the prefix: then the user.
const USER: &str = "user:";

impl<C> RedisTokenStore<C> {
    /// The key of the `kind` ([`TOKEN`], [`ID`] or [`USER`]) named `name`.
    fn named(&self, kind: &str, name: &str) -> String {
        self.key(format_args!("{kind}{name}"))
    }
}

/// The token whose secret has `hash`, in the fields of its Redis hash.
fn decode(hash: &str, mut fields: HashMap<String, String>) -> Result<ApiToken, BoxError> {
    let mut take = |name: &str| fields.remove(name);
    let missing = |name: &str| format!("API token with hash {hash} has no {name}");
    let time = |text: Option<String>| -> Result<Option<SystemTime>, BoxError> {
        Ok(text.map(|text| text.parse()).transpose()?.map(from_millis))
    };
    let id = take("id").ok_or_else(|| missing("id"))?;
    let user = take("user").ok_or_else(|| missing("user"))?;
    let created_at = time(take("created_at"))?.ok_or_else(|| missing("created_at"))?;
    Ok(ApiToken {
        id,
        user,
        name: take("name").unwrap_or_default(),
        scopes: scopes_from_text(&take("scopes").unwrap_or_default()),
        hash: hash.to_owned(),
        created_at,
        last_used_at: time(take("last_used_at"))?,
        expires_at: time(take("expires_at"))?,
    })
}

#[async_trait::async_trait]
impl<C> TokenStore for RedisTokenStore<C>
where
    C: HashesInterface + KeysInterface + LuaInterface + Clone + Send + Sync + 'static,
{
    async fn insert(&self, token: &ApiToken) -> Result<(), BoxError> {
        let time = |at: Option<SystemTime>| at.map(millis_text).unwrap_or_default();
        let kept_until = token.expires_at.and_then(|at| at.checked_add(KEEP_EXPIRED));
        let args = vec![
            token.hash.clone(),
            token.id.clone(),
            token.user.clone(),
            token.name.clone(),
            scopes_text(&token.scopes),
            millis_text(token.created_at),
            time(token.last_used_at),
            time(token.expires_at),
            time(kept_until),
            millis_text(SystemTime::now()),
            self.key(ID),
        ];
        let keys = vec![
            self.named(TOKEN, &token.hash),
            self.named(ID, &token.id),
            self.named(USER, &token.user),
        ];
        let _: i64 = self.client.eval(INSERT, keys, args).await?;
        Ok(())
    }

    async fn find(&self, hash: &str) -> Result<Option<ApiToken>, BoxError> {
        let fields: HashMap<String, String> = self.client.hgetall(self.named(TOKEN, hash)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode(hash, fields).map(Some)
    }

    async fn list(&self, user: &str) -> Result<Vec<ApiToken>, BoxError> {
        let keys = vec![self.named(USER, user)];
        let found: Vec<Vec<String>> = self
            .client
            .eval(LIST, keys, vec![self.key(TOKEN), self.key(ID)])
            .await?;
        let mut tokens = Vec::with_capacity(found.len());
        for found in found {
            let mut found = found.into_iter();
            let hash = found.next().unwrap_or_default();
            let mut fields = HashMap::new();
            while let (Some(name), Some(value)) = (found.next(), found.next()) {
                fields.insert(name, value);
            }
            let token = decode(&hash, fields)?;
            if token.user == user {
                tokens.push(token);
            }
        }
        tokens.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(tokens)
    }

    async fn touch(&self, id: &str, at: SystemTime) -> Result<(), BoxError> {
        let keys = vec![self.named(ID, id)];
        let args = vec![millis_text(at), self.key(TOKEN)];
        let _: i64 = self.client.eval(TOUCH, keys, args).await?;
        Ok(())
    }

    async fn rehash(&self, rehash: &Rehash<'_>) -> Result<bool, BoxError> {
        let keys = vec![
            self.named(TOKEN, rehash.from),
            self.named(TOKEN, rehash.to),
            self.named(ID, rehash.id),
        ];
        let args = vec![rehash.id.to_owned(), rehash.to.to_owned()];
        let moved: i64 = self.client.eval(REHASH, keys, args).await?;
        Ok(moved == 1)
    }

    async fn revoke(&self, user: &str, id: &str) -> Result<bool, BoxError> {
        let keys = vec![self.named(ID, id), self.named(USER, user)];
        let args = vec![user.to_owned(), id.to_owned(), self.key(TOKEN)];
        let revoked: i64 = self.client.eval(REVOKE, keys, args).await?;
        Ok(revoked == 1)
    }

    async fn revoke_user(&self, user: &str) -> Result<u64, BoxError> {
        let keys = vec![self.named(USER, user)];
        let args = vec![user.to_owned(), self.key(TOKEN), self.key(ID)];
        let revoked: i64 = self.client.eval(REVOKE_USER, keys, args).await?;
        Ok(u64::try_from(revoked).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_times_are_absent_fields_and_scopes_one_text() {
        let fields = HashMap::from(
            [
                ("id", "id-1"),
                ("user", "7"),
                ("name", "CI"),
                ("scopes", "read write:all"),
                ("created_at", "1000"),
                ("expires_at", "5000"),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
        let token = decode("h", fields).expect("a token");
        assert_eq!(token.scopes, ["read", "write:all"]);
        assert_eq!(token.last_used_at, None);
        assert_eq!(token.expires_at, Some(from_millis(5000)));
        let missing = decode("h", HashMap::new()).expect_err("no id");
        assert_eq!(missing.to_string(), "API token with hash h has no id");
    }
}
