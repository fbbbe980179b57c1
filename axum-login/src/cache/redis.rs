//! The user caches of several instances kept in step through a Redis pub/sub channel (feature
//! `cache-redis`): [`UserCache::connect_redis`].
//!
//! Every [`UserCache::invalidate`] (and so every
//! [`forget_cached_user`](crate::AuthSession::forget_cached_user) and the forgetting that
//! [`update_session_auth_hash`](crate::AuthSession::update_session_auth_hash) does) is
//! published; every other connected cache drops the user when the message arrives.
//!
//! Pub/sub delivers at most once and only to subscribers connected at the time, so a cache
//! serves nothing from memory while its subscription is down: requests go to the store, as
//! without a cache, and nothing loaded then is kept. Once the subscription is back the cache
//! forgets everything (it may have missed invalidations) and serves again.

use std::time::Duration;

use fred::{
    clients::Client,
    error::{Error as RedisError, ErrorKind},
    interfaces::{ClientLike, EventInterface, PubsubInterface},
    types::{Builder, Message, config::ReconnectPolicy},
};
use tokio::sync::{broadcast::error::RecvError, oneshot};

use super::{UserCache, WeakUserCache};

/// How long a (re)subscription may take before it is tried again.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a cache whose subscription is down checks whether its connection is back.
const RESYNC_POLL: Duration = Duration::from_millis(20);
/// Message kinds: one user's key follows, or every user.
const ONE: char = 'k';
const ALL: char = 'a';
/// The length of an instance's origin tag, which starts every message it publishes.
const ORIGIN_LEN: usize = 32;

/// A cache's link to the channel: the publishing client, and whether the subscription is up.
pub(crate) struct Remote {
    serving: std::sync::atomic::AtomicBool,
    publisher: Client,
    channel: String,
    /// Tags this cache's messages, so that it does not act on its own.
    origin: String,
    runtime: tokio::runtime::Handle,
    /// Dropped with the last clone of the cache, which ends the subscription task.
    _stop: oneshot::Sender<()>,
}

impl Remote {
    #[inline]
    pub(crate) fn serving(&self) -> bool {
        self.serving.load(std::sync::atomic::Ordering::Acquire)
    }

    fn set_serving(&self, serving: bool) {
        self.serving
            .store(serving, std::sync::atomic::Ordering::Release);
    }

    pub(crate) fn publish_key(&self, key: String) {
        self.publish(format!("{}{ONE}{key}", self.origin));
    }

    pub(crate) fn publish_all(&self) {
        self.publish(format!("{}{ALL}", self.origin));
    }

    /// Publishes in the background: invalidating is synchronous and must not wait on Redis.
    /// A message that cannot be sent is logged; the other instances then see the change when
    /// their entries expire.
    fn publish(&self, message: String) {
        let (client, channel) = (self.publisher.clone(), self.channel.clone());
        self.runtime.spawn(async move {
            if let Err(error) = client.publish::<(), _, _>(channel, message).await {
                tracing::warn!(
                    %error,
                    "a user cache invalidation could not be published: other instances see the change only when their cached copy expires"
                );
            }
        });
    }
}

impl UserCache {
    /// Connects this cache (and every clone of it) to the other instances' caches through the
    /// Redis pub/sub `channel` (feature `cache-redis`).
    ///
    /// From then on every [`invalidate`](Self::invalidate) and
    /// [`invalidate_all`](Self::invalidate_all) here (and so
    /// [`AuthSession::forget_cached_user`](crate::AuthSession::forget_cached_user) and the
    /// forgetting done by
    /// [`update_session_auth_hash`](crate::AuthSession::update_session_auth_hash)) is published
    /// on `channel`, and every cache connected to it drops that user as soon as the message
    /// arrives, a round trip to Redis later. After changing a user's roles, permissions or
    /// active flag, call [`invalidate`](Self::invalidate) (or `forget_cached_user`) with
    /// their id.
    ///
    /// `client` publishes; a second connection, made from its configuration, subscribes. While
    /// that subscription is down the cache serves nothing from memory and keeps nothing it
    /// loads: every request goes to the store, so no instance serves a user it may have
    /// missed an invalidation for. When it is back, the cache forgets every user and serves
    /// again. The subscription reconnects by `client`'s reconnect policy, or, if it has none,
    /// with an exponential backoff from 100 ms to 2 s. A network that silently drops packets
    /// is noticed only when the connection fails; set `fred`'s connection unresponsive timeout
    /// to bound that.
    ///
    /// Use one channel per app (several apps on one Redis each need their own), and the same
    /// [realm](crate::layer::AuthLayerBuilder::realm) on every instance, as for sharing
    /// sessions. Connect before serving; a cache can be connected once. On an error here the
    /// cache stays as it was, a cache of this instance only.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), fred::error::Error> {
    /// use std::time::Duration;
    ///
    /// use axum_login::UserCache;
    /// use fred::prelude::*;
    ///
    /// let client = Builder::from_config(Config::from_url("redis://127.0.0.1:6379")?)
    ///     .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
    ///     .build()?;
    /// client.init().await?;
    /// let cache = UserCache::new(10_000, Duration::from_secs(300));
    /// cache.connect_redis(&client, "myapp:user-cache").await?;
    /// // ... AuthLayer::builder(store, sessions).user_cache(cache.clone()).build() ...
    ///
    /// // After changing user 42's roles, on any instance:
    /// cache.invalidate(&42);
    /// # Ok(()) }
    /// ```
    pub async fn connect_redis(
        &self,
        client: &Client,
        channel: impl Into<String>,
    ) -> Result<(), RedisError> {
        let channel = channel.into();
        if self.remote.get().is_some() {
            return Err(RedisError::new(
                ErrorKind::InvalidArgument,
                "this user cache is already connected to a Redis channel",
            ));
        }
        let subscriber = {
            let mut builder = Builder::from_config(client.client_config());
            builder
                .set_performance_config(client.perf_config())
                .set_connection_config(client.connection_config().clone())
                .set_policy(
                    client
                        .client_reconnect_policy()
                        .unwrap_or_else(|| ReconnectPolicy::new_exponential(0, 100, 2_000, 2)),
                );
            builder.build()?
        };
        // Receivers first, so that nothing published once the subscription is up is missed.
        let messages = subscriber.message_rx();
        let errors = subscriber.error_rx();
        let reconnects = subscriber.reconnect_rx();
        subscriber.init().await?;
        let subscribed = tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscriber.subscribe(&channel))
            .await
            .unwrap_or_else(|_| Err(RedisError::new(ErrorKind::Timeout, "SUBSCRIBE timed out")));
        if let Err(error) = subscribed {
            let _ = subscriber.quit().await;
            return Err(error);
        }
        let (stop, stopped) = oneshot::channel();
        let origin = format!("{:032x}", rand::random::<u128>());
        debug_assert_eq!(origin.len(), ORIGIN_LEN);
        let remote = Remote {
            serving: std::sync::atomic::AtomicBool::new(false),
            publisher: client.clone(),
            channel: channel.clone(),
            origin: origin.clone(),
            runtime: tokio::runtime::Handle::current(),
            _stop: stop,
        };
        if self.remote.set(remote).is_err() {
            let _ = subscriber.quit().await;
            return Err(RedisError::new(
                ErrorKind::InvalidArgument,
                "this user cache is already connected to a Redis channel",
            ));
        }
        // Whatever was cached before the subscription was up may have missed an invalidation.
        self.clear_local();
        if let Some(remote) = self.remote.get() {
            remote.set_serving(true);
        }
        tokio::spawn(
            Follower {
                cache: self.downgrade(),
                subscriber,
                channel,
                origin,
                stopped,
            }
            .run(messages, errors, reconnects),
        );
        Ok(())
    }
}

/// The task that applies other instances' invalidations and watches the subscription.
struct Follower {
    cache: WeakUserCache,
    subscriber: Client,
    channel: String,
    origin: String,
    stopped: oneshot::Receiver<()>,
}

type Receiver<T> = tokio::sync::broadcast::Receiver<T>;

impl Follower {
    async fn run(
        mut self,
        mut messages: Receiver<Message>,
        mut errors: Receiver<(RedisError, Option<fred::types::config::Server>)>,
        mut reconnects: Receiver<fred::types::config::Server>,
    ) {
        loop {
            let keep_going = tokio::select! {
                _ = &mut self.stopped => false,
                message = messages.recv() => match message {
                    Ok(message) => self.apply(&message),
                    // Messages were dropped: any of them could have been an invalidation.
                    Err(RecvError::Lagged(_)) => self.cache.upgrade().map(|cache| cache.clear_local()).is_some(),
                    Err(RecvError::Closed) => false,
                },
                error = errors.recv() => match error {
                    Err(RecvError::Closed) => false,
                    Ok(_) | Err(RecvError::Lagged(_)) => self.resync().await,
                },
                reconnect = reconnects.recv() => match reconnect {
                    Err(RecvError::Closed) => false,
                    Ok(_) | Err(RecvError::Lagged(_)) => self.resync().await,
                },
            };
            if !keep_going {
                break;
            }
        }
        let _ = self.subscriber.quit().await;
    }

    /// Drops the user a message names, unless this cache sent it. `false` once the cache is
    /// gone.
    fn apply(&self, message: &Message) -> bool {
        let Some(cache) = self.cache.upgrade() else {
            return false;
        };
        if *message.channel != *self.channel {
            return true;
        }
        let Some(text) = message.value.as_str() else {
            return true;
        };
        let Some((origin, rest)) = text.split_at_checked(ORIGIN_LEN) else {
            return true;
        };
        if origin == self.origin {
            return true;
        }
        match rest.chars().next() {
            Some(ONE) => cache.invalidate_key(&rest[ONE.len_utf8()..]),
            Some(ALL) => cache.clear_local(),
            _ => {}
        }
        true
    }

    /// After the connection failed or was made again: stop serving from memory, wait until
    /// the subscription is back, forget everything (messages may have been missed), serve
    /// again. `false` once the cache is gone.
    async fn resync(&mut self) -> bool {
        // The cache is upgraded anew each time round: held across the wait, it would keep
        // itself, and so this task, alive after the app dropped it.
        let serving = |cache: &UserCache, serving: bool| {
            if let Some(remote) = cache.remote.get() {
                remote.set_serving(serving);
            }
        };
        let Some(cache) = self.cache.upgrade() else {
            return false;
        };
        serving(&cache, false);
        drop(cache);
        loop {
            if self.subscriber.is_connected() {
                let subscribed = tokio::time::timeout(
                    SUBSCRIBE_TIMEOUT,
                    self.subscriber.subscribe(&self.channel),
                )
                .await;
                if let Ok(Ok(())) = subscribed {
                    let Some(cache) = self.cache.upgrade() else {
                        return false;
                    };
                    // Cleared after the subscription is up, so nothing published since the
                    // last message received can leave a stale entry behind.
                    cache.clear_local();
                    serving(&cache, true);
                    return true;
                }
            }
            tokio::select! {
                _ = &mut self.stopped => return false,
                _ = tokio::time::sleep(RESYNC_POLL) => {}
            }
        }
    }
}
