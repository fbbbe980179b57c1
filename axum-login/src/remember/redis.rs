//! [`RedisRememberStore`]: remember-me tokens in Redis, shared by every instance.

use std::{collections::HashMap, time::SystemTime};

use fred::interfaces::{HashesInterface, KeysInterface, LuaInterface};

use super::{RememberStore, RememberToken, Rotation};
use crate::{
    clock::from_millis,
    error::BoxError,
    redis::{millis_text, redis_store},
};

/// Keeps a token (replacing one under the same selector) and adds its selector to its user's
/// index, dropping the selectors of tokens that are gone; the index expires with the user's
/// last token. `ARGV`: selector, user, validator hash, rotated at, expires at, now, the
/// token keys' prefix, and the previous hash if there is one.
const INSERT: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'user', ARGV[2], 'validator_hash', ARGV[3], 'rotated_at', ARGV[4], 'expires_at', ARGV[5])
if ARGV[8] then redis.call('HSET', KEYS[1], 'previous_hash', ARGV[8]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
for _, selector in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[7] .. selector) == 0 then redis.call('SREM', KEYS[2], selector) end
end
redis.call('SADD', KEYS[2], ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 0 or tonumber(ARGV[5]) - tonumber(ARGV[6]) > ttl then
  redis.call('PEXPIREAT', KEYS[2], ARGV[5])
end
return 1
";

/// Replaces the validator hash `ARGV[1]` with `ARGV[2]`, keeping the old one as the previous;
/// answers 1 if it did, 0 if the token is gone or its hash is another.
const ROTATE: &str = r"
local current = redis.call('HGET', KEYS[1], 'validator_hash')
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'previous_hash', current, 'validator_hash', ARGV[2], 'rotated_at', ARGV[3])
return 1
";

/// Deletes a token and takes its selector (`ARGV[1]`) out of its user's index (the user index
/// keys' prefix is `ARGV[2]`).
const REMOVE: &str = r"
local user = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', KEYS[1])
if user then redis.call('SREM', ARGV[2] .. user, ARGV[1]) end
return 1
";

/// Deletes every token in the user's index that still belongs to the user `ARGV[1]` (the
/// token keys' prefix is `ARGV[2]`), then the index.
const REMOVE_USER: &str = r"
for _, selector in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. selector
  if redis.call('HGET', key, 'user') == ARGV[1] then redis.call('DEL', key) end
end
redis.call('DEL', KEYS[1])
return 1
";

redis_store! {
/// Remember-me tokens in Redis (feature `redis`), so that a cookie rotated by one instance is
/// checked by every other.
///
/// Each token is a hash under `axum_login:remember:token:<selector>` that expires with the
/// token; each user has a set of their selectors under `axum_login:remember:user:<user>`, so
/// that [`remove_user`](RememberStore::remove_user) finds them all. Every change is a script
/// that runs atomically on the server: a rotation compares the current validator hash and
/// replaces it in one step, so of two requests rotating one token at once, exactly one wins.
///
/// The scripts reach a user's index from a token and back, keys they compute from the prefix:
/// on Redis Cluster, give a prefix with a hash tag (`{axum_login}:remember:`) so that all of
/// them live in one slot.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), fred::error::Error> {
/// use axum_login::remember::{RedisRememberStore, RememberMe};
/// use fred::prelude::*;
///
/// let pool = Builder::from_config(Config::from_url("redis://127.0.0.1:6379")?).build_pool(4)?;
/// pool.init().await?;
/// let remember = RememberMe::new(RedisRememberStore::new(pool));
/// # let _ = remember; Ok(()) }
/// ```
pub struct RedisRememberStore;
    new: " Tokens through `client` (a `fred` 10 client or pool), under `axum_login:remember:`.",
    prefix: "axum_login:remember:",
}

impl<C> RedisRememberStore<C> {
    fn tokens(&self) -> String {
        self.key("token:")
    }

    fn users(&self) -> String {
        self.key("user:")
    }

    fn token(&self, selector: &str) -> String {
        self.key(format_args!("token:{selector}"))
    }

    fn user(&self, user: &str) -> String {
        self.key(format_args!("user:{user}"))
    }
}

/// The token with `selector` in the fields of its hash.
fn decode(selector: &str, mut fields: HashMap<String, String>) -> Result<RememberToken, BoxError> {
    let mut field = |name: &str| {
        fields
            .remove(name)
            .ok_or_else(|| format!("remember-me token {selector} has no {name}"))
    };
    Ok(RememberToken {
        selector: selector.to_owned(),
        user: field("user")?,
        validator_hash: field("validator_hash")?,
        rotated_at: from_millis(field("rotated_at")?.parse()?),
        expires_at: from_millis(field("expires_at")?.parse()?),
        previous_hash: fields.remove("previous_hash"),
    })
}

#[async_trait::async_trait]
impl<C> RememberStore for RedisRememberStore<C>
where
    C: HashesInterface + KeysInterface + LuaInterface + Clone + Send + Sync + 'static,
{
    async fn insert(&self, token: &RememberToken) -> Result<(), BoxError> {
        let mut args = vec![
            token.selector.clone(),
            token.user.clone(),
            token.validator_hash.clone(),
            millis_text(token.rotated_at),
            millis_text(token.expires_at),
            millis_text(SystemTime::now()),
            self.tokens(),
        ];
        args.extend(token.previous_hash.clone());
        let keys = vec![self.token(&token.selector), self.user(&token.user)];
        let _: i64 = self.client.eval(INSERT, keys, args).await?;
        Ok(())
    }

    async fn get(&self, selector: &str) -> Result<Option<RememberToken>, BoxError> {
        let fields: HashMap<String, String> = self.client.hgetall(self.token(selector)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let token = decode(selector, fields)?;
        Ok((token.expires_at > SystemTime::now()).then_some(token))
    }

    async fn rotate(&self, rotation: &Rotation<'_>) -> Result<bool, BoxError> {
        let args = vec![
            rotation.current_hash.to_owned(),
            rotation.new_hash.to_owned(),
            millis_text(rotation.at),
        ];
        let rotated: i64 = self
            .client
            .eval(ROTATE, vec![self.token(rotation.selector)], args)
            .await?;
        Ok(rotated == 1)
    }

    async fn remove(&self, selector: &str) -> Result<(), BoxError> {
        let args = vec![selector.to_owned(), self.users()];
        let _: i64 = self
            .client
            .eval(REMOVE, vec![self.token(selector)], args)
            .await?;
        Ok(())
    }

    async fn remove_user(&self, user: &str) -> Result<(), BoxError> {
        let args = vec![user.to_owned(), self.tokens()];
        let _: i64 = self
            .client
            .eval(REMOVE_USER, vec![self.user(user)], args)
            .await?;
        Ok(())
    }
}
