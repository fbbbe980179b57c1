//! Throttling login attempts: per account, per client address, and per device for a browser
//! that logged in to the account before.
//!
//! An attempt first reserves a check on its counters ([`ThrottleStore::reserve`]); only a
//! granted attempt reaches the store's `authenticate`, and its outcome is counted afterwards
//! ([`ThrottleStore::finish`]). So simultaneous wrong guesses can never run more checks than a
//! limit allows, while simultaneous right ones wait for the checks in flight instead of being
//! refused: a success frees its place.
//!
//! A browser that logged in to an account carries a signed device cookie for it. Its attempts
//! on that account are counted per device, not against the account's shared lock, so a
//! stranger who locks the account by guessing does not lock its owner out (OWASP's device
//! cookies). A password change revokes the account's device cookies.
//!
//! Second factors are counted apart, per user, in a counter of their own that only a right
//! second factor resets: a right password must not, or whoever knows the password could try
//! codes for ever by entering it again between guesses. For the same reason the device cookie
//! is given only when the whole login is done, second factor included.

mod address;
mod counter;
mod device;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlx")]
mod sql;
mod store;

use std::{
    fmt,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use self::device::Device;
#[cfg(feature = "redis")]
pub use self::redis::RedisThrottleStore;
#[cfg(feature = "sqlx")]
pub use self::sql::SqlxThrottleStore;
pub use self::{
    memory::MemoryThrottleStore,
    store::{Ended, Outcome, Reservation, Revocation, Rule, ThrottleKey, ThrottleStore, Verdict},
};
use crate::{
    clock::Clock,
    error::BoxError,
    options::setters,
    security::{Keyed, SessionKey},
};

/// The device cookie's name on a site served over HTTPS: the prefix keeps other hosts from
/// planting one.
const DEVICE_COOKIE_SECURE: &str = "__Host-axum_login_device";
/// The device cookie's name on plain HTTP (development on loopback).
const DEVICE_COOKIE_PLAIN: &str = "axum_login_device";
/// Wrong second factors of one user that lock it: few, since a code is six digits.
const DEFAULT_SECOND_FACTOR_FAILURES: u32 = 5;
/// Unknown or expired API tokens from one address that lock it out of token lookups.
const DEFAULT_TOKEN_FAILURES: u32 = 20;
/// Mails (password reset, sign-in links) that one address may ask for in a window.
const DEFAULT_MAILS_PER_ADDRESS: u32 = 10;
/// Mails that one account may be sent in a window, whoever asks.
const DEFAULT_MAILS_PER_ACCOUNT: u32 = 3;

/// How login attempts are throttled; give it to
/// [`AuthLayerBuilder::throttle`](crate::layer::AuthLayerBuilder::throttle).
///
/// Counters (in a 15-minute window by default, in this process's memory unless a shared
/// [`ThrottleStore`] is given):
///
/// | counter | of | limit | schedule |
/// | --- | --- | --- | --- |
/// | account | attempts without a device cookie for the account (the account's key comes from [`UserStore::account_key`](crate::UserStore::account_key)) | 10 | 5 failures free, then a wait of 1 s after the last failure, doubled with each failure (1, 2, 4, 8, 16 s), then refused until the window ends |
/// | device | attempts carrying this browser's device cookie for the account | 10 | the same |
/// | address | attempts without a device cookie, from one client address (IPv6 by its /64) | 50 | refused until the window ends |
/// | second factor | second-factor checks of one user (TOTP and recovery codes, passkeys), from any browser, whatever password was entered before them | 5 | refused until the window ends: the user's second factor is locked, a right code included, and the layer reports [`AuthEvent::SecondFactorLocked`](crate::events::AuthEvent::SecondFactorLocked) |
/// | API token | unknown or expired API tokens from one client address (feature `tokens`); a valid token is not counted and costs no call | 20 | refused until the window ends: every token from the address gets `401` without a lookup; no account's counters are touched |
/// | mail per address | requests for a mail (password reset; feature `accounts`) from one client address, whether the address is known or not | 10 | refused until the window ends: `429` |
/// | mail per account | mails sent to one account, whoever asked | 3 | not sent until the window ends; the request's answer does not change, so it tells nobody the account exists |
///
/// A refused attempt gets `Ok(None)` from [`AuthSession::authenticate`], exactly like wrong
/// credentials, without asking the store. Unknown usernames are counted like real ones, so
/// the answer never tells whether an account exists.
///
/// Only a right second factor resets the second-factor counter; a lock ends with its window
/// (15 minutes by default), which is the owner's way out: the password alone never opens it.
///
/// After a successful login (with its second factor, when the user has one) the browser gets a
/// device cookie for the account, `HttpOnly`,
/// signed with the layer's [`SessionKey`], for 90 days; a password change through
/// [`AuthSession::update_session_auth_hash`] revokes the account's device cookies issued
/// before it (the browser that changed it gets a new one).
///
/// The client address is the peer's (`ConnectInfo<SocketAddr>`: serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`; without it, per-address counting is
/// off and the layer says so once in the log). Behind a reverse proxy, name it with
/// [`trusted_proxies`](Self::trusted_proxies), and the address it reports in `Forwarded` or
/// `X-Forwarded-For` is used; those headers are ignored from any other peer.
///
/// [`AuthSession::authenticate`]: crate::AuthSession::authenticate
/// [`AuthSession::update_session_auth_hash`]: crate::AuthSession::update_session_auth_hash
///
/// ```
/// use std::time::Duration;
///
/// use axum_login::{Throttle, security::MemoryThrottleStore};
///
/// let throttle = Throttle::new(MemoryThrottleStore::default())
///     .max_failures_per_account(6)
///     .backoff(2, Duration::from_secs(2))
///     .max_failures_per_address(20)
///     .window(Duration::from_secs(600))
///     .trusted_proxies(["10.0.0.1".parse().unwrap()]);
/// # let _ = throttle;
/// ```
#[derive(Clone)]
pub struct Throttle {
    store: Option<Arc<dyn ThrottleStore>>,
    account: Rule,
    device: Rule,
    address: Rule,
    second_factor: Rule,
    token: Rule,
    mail_address: Rule,
    mail_account: Rule,
    window: Duration,
    device_lifetime: Duration,
    trusted_proxies: Vec<IpAddr>,
    lease: Duration,
    max_wait: Duration,
    warned_no_address: Arc<AtomicBool>,
    warned_no_account: Arc<AtomicBool>,
}

impl Throttle {
    /// Throttling with counters in `store` and the default rules.
    pub fn new(store: impl ThrottleStore) -> Self {
        let backed_off = Rule {
            limit: 10,
            free: 5,
            delay: Duration::from_secs(1),
        };
        Self {
            store: Some(Arc::new(store)),
            account: backed_off,
            device: backed_off,
            address: Rule {
                limit: 50,
                free: 50,
                delay: Duration::ZERO,
            },
            second_factor: Rule {
                limit: DEFAULT_SECOND_FACTOR_FAILURES,
                free: DEFAULT_SECOND_FACTOR_FAILURES,
                delay: Duration::ZERO,
            },
            token: Rule {
                limit: DEFAULT_TOKEN_FAILURES,
                free: DEFAULT_TOKEN_FAILURES,
                delay: Duration::ZERO,
            },
            mail_address: Rule {
                limit: DEFAULT_MAILS_PER_ADDRESS,
                free: DEFAULT_MAILS_PER_ADDRESS,
                delay: Duration::ZERO,
            },
            mail_account: Rule {
                limit: DEFAULT_MAILS_PER_ACCOUNT,
                free: DEFAULT_MAILS_PER_ACCOUNT,
                delay: Duration::ZERO,
            },
            window: Duration::from_secs(15 * 60),
            device_lifetime: Duration::from_secs(90 * 24 * 60 * 60),
            trusted_proxies: Vec::new(),
            lease: Duration::from_secs(30),
            max_wait: Duration::from_secs(10),
            warned_no_address: Arc::default(),
            warned_no_account: Arc::default(),
        }
    }

    /// No throttling at all. Only for apps that throttle logins elsewhere (a gateway, a WAF).
    pub fn disabled() -> Self {
        Self {
            store: None,
            ..Self::default()
        }
    }

    /// Failures of an account (and of one device on it) at which it is refused for the rest
    /// of the window. Default: 10.
    pub fn max_failures_per_account(mut self, failures: u32) -> Self {
        let failures = failures.max(1);
        for rule in [&mut self.account, &mut self.device] {
            rule.limit = failures;
            rule.free = rule.free.min(failures);
        }
        self
    }

    /// Failures of one client address at which it is refused for the rest of the window.
    /// Default: 50.
    pub fn max_failures_per_address(mut self, failures: u32) -> Self {
        self.address.limit = failures.max(1);
        self.address.free = self.address.limit;
        self
    }

    /// Wrong second factors of one user at which their second factor is locked (every check
    /// refused, a right one too) until the window ends. Default: 5. Up to this many checks
    /// may run at once, so simultaneous guesses cannot get past it either.
    pub fn max_second_factor_failures(mut self, failures: u32) -> Self {
        self.second_factor.limit = failures.max(1);
        self.second_factor.free = self.second_factor.limit;
        self
    }

    /// Unknown or expired API tokens from one client address at which the address's tokens
    /// are refused unlooked-at until the window ends (feature `tokens`). Default: 20.
    pub fn max_token_failures_per_address(mut self, failures: u32) -> Self {
        self.token.limit = failures.max(1);
        self.token.free = self.token.limit;
        self
    }

    /// Requests for a mail (a password reset) from one client address at which the address
    /// is answered `429` until the window ends (feature `accounts`). Default: 10.
    pub fn max_mails_per_address(mut self, requests: u32) -> Self {
        self.mail_address.limit = requests.max(1);
        self.mail_address.free = self.mail_address.limit;
        self
    }

    /// Mails sent to one account in a window, whoever asks for them (feature `accounts`);
    /// past it, requests get the same answer and no mail goes out. Default: 3.
    pub fn max_mails_per_account(mut self, mails: u32) -> Self {
        self.mail_account.limit = mails.max(1);
        self.mail_account.free = self.mail_account.limit;
        self
    }

    /// The slowdown of an account and of a device: `free` failures cost nothing, then each
    /// attempt waits `first_delay` after the last failure, doubled with each further failure,
    /// until the limit refuses the key for the rest of the window. Default: 5 and 1 second.
    pub fn backoff(mut self, free: u32, first_delay: Duration) -> Self {
        for rule in [&mut self.account, &mut self.device] {
            rule.free = free.min(rule.limit);
            rule.delay = first_delay;
        }
        self
    }

    setters! {
        /// The length of the counting window, which is also the longest lock. Default: 15
        /// minutes.
        window: Duration;
        /// The longest an attempt waits for checks in flight on its account before it is
        /// refused like wrong credentials. Default: 10 seconds.
        max_wait: Duration;
    }

    /// How long a device cookie is trusted after the login that issued it (each login with it
    /// renews it). Default: 90 days.
    pub fn device_cookie_lifetime(mut self, lifetime: Duration) -> Self {
        self.device_lifetime = lifetime;
        self
    }

    /// The reverse proxies in front of the app, whose `Forwarded` / `X-Forwarded-For` headers
    /// name the client address. Default: none, so those headers are never read.
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.store.is_some()
    }

    /// Whether the throttle's store answers ([`ThrottleStore::ping`]); `Ok` when throttling
    /// is off, as there is no store to ask.
    pub(crate) async fn ping(&self) -> Result<(), BoxError> {
        match &self.store {
            Some(store) => store.ping().await,
            None => Ok(()),
        }
    }

    /// The client address to count, from the peer and, behind a trusted proxy, its headers.
    pub(crate) fn client_address(
        &self,
        peer: Option<IpAddr>,
        forwarded: Option<&str>,
        forwarded_for: Option<&str>,
    ) -> Option<IpAddr> {
        address::client(peer, forwarded, forwarded_for, &self.trusted_proxies)
    }

    /// The name of the device cookie on a site served over HTTPS (`secure`) or not.
    pub(crate) fn device_cookie_name(secure: bool) -> &'static str {
        if secure {
            DEVICE_COOKIE_SECURE
        } else {
            DEVICE_COOKIE_PLAIN
        }
    }

    /// The `Set-Cookie` value that gives the browser `value` as its device cookie.
    pub(crate) fn device_cookie_header(&self, value: &str, secure: bool) -> String {
        let name = Self::device_cookie_name(secure);
        let max_age = self.device_lifetime.as_secs();
        let secure = if secure { "; Secure" } else { "" };
        format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}")
    }

    /// Counts a login attempt before its credentials are checked. `Refused` when a counter is
    /// over its rule: the attempt must fail like wrong credentials, without asking the store.
    pub(crate) async fn gate(&self, attempt: AttemptInput<'_>) -> Result<Gate, BoxError> {
        let Some(store) = &self.store else {
            return Ok(Gate::Pass(Attempt::unthrottled()));
        };
        let AttemptInput {
            account_name,
            device_cookie,
            address,
            clock,
            key,
        } = attempt;
        let mut now = clock.now();
        // The account's key under each key of the ring, the current one first: a device
        // cookie entry or a revocation written before a rotation is under a previous one.
        let accounts: Vec<ThrottleKey> = account_name.map_or_else(Vec::new, |name| {
            key.verifying(now)
                .map(|(key, _)| key_of(key, "account", name.as_bytes()))
                .collect()
        });
        let account = accounts.first().copied();
        let devices = device_cookie.map_or_else(Vec::new, |value| device::read(value, key, now));
        let mut trusted = devices
            .iter()
            .find(|known| {
                accounts.contains(&known.account) && known.issued + self.device_lifetime > now
            })
            .copied();
        if let Some(device) = trusted {
            // A revocation under any of the account's keys counts, whichever key the
            // entry is under: a password change before the rotation wrote it under the old.
            for account in &accounts {
                let revoked = store.devices_revoked_at(account).await?;
                if revoked.is_some_and(|revoked| device.issued <= revoked) {
                    trusted = None;
                    break;
                }
            }
        }
        if address.is_none()
            && trusted.is_none()
            && !self.warned_no_address.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "login attempts are not counted per client address: the request has no `ConnectInfo<SocketAddr>`; serve the app with `into_make_service_with_connect_info::<SocketAddr>()`"
            );
        }
        if account.is_none() && !self.warned_no_account.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "login attempts are not counted per account: the user store's `throttle_key` (or `account_key`) answered `None`; implement it to return the account's normalised name"
            );
        }
        let keys: Vec<(ThrottleKey, &Rule, Kind)> = match trusted {
            Some(device) => vec![(
                key_of(key.current(), "device", &device.id),
                &self.device,
                Kind::Device,
            )],
            None => account
                .map(|account| (account, &self.account, Kind::Account))
                .into_iter()
                .chain(address.map(|address| {
                    let group = address::group(address);
                    let key = key_of(key.current(), "address", &group);
                    (key, &self.address, Kind::Address)
                }))
                .collect(),
        };
        let deadline = tokio::time::Instant::now() + self.max_wait;
        loop {
            let mut granted: Vec<(Reservation, Kind)> = Vec::new();
            let mut busy = None;
            for &(throttle_key, rule, kind) in &keys {
                let reservation = self.reservation(throttle_key, *rule);
                let verdict = match store.reserve(&reservation, now).await {
                    Ok(verdict) => verdict,
                    Err(error) => {
                        abandon(store, &granted, now).await;
                        return Err(error);
                    }
                };
                match verdict {
                    Verdict::Granted => granted.push((reservation, kind)),
                    Verdict::Busy => {
                        busy = Some(throttle_key);
                        break;
                    }
                    Verdict::Refused { until, first } => {
                        abandon(store, &granted, now).await;
                        if first {
                            log_refusal(kind, account_name, address, until, now);
                        }
                        return Ok(Gate::Refused);
                    }
                }
            }
            let Some(busy) = busy else {
                return Ok(Gate::Pass(Attempt {
                    store: Some(store.clone()),
                    reserved: granted,
                    account,
                }));
            };
            abandon(store, &granted, now).await;
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    account = %account_name.map_or_else(String::new, printable),
                    "a login attempt waited too long for the checks in flight on its account; refused"
                );
                return Ok(Gate::Refused);
            }
            store.released(&busy).await;
            now = clock.now();
        }
    }
}

impl Throttle {
    /// A reservation of `key` by `rule`, in this throttle's window and lease.
    fn reservation(&self, key: ThrottleKey, rule: Rule) -> Reservation {
        Reservation {
            key,
            rule,
            window: self.window,
            lease: self.lease,
        }
    }

    /// Counts an unknown or expired API token from `address`, in the address's token counter
    /// (no account's); answers until when the address's tokens are refused, once it is over
    /// the rule. Only failures are counted, so a valid token costs no call here.
    #[allow(dead_code)] // For the API tokens folder, which a build may leave out.
    pub(crate) async fn token_failed(
        &self,
        address: IpAddr,
        now: SystemTime,
        key: &SessionKey,
    ) -> Result<Option<SystemTime>, BoxError> {
        let group = address::group(address);
        let counted = self.count("token", &group, self.token, now, key).await?;
        if let Counted::Refused { until, first: true } = counted {
            log_refusal(Kind::Token, None, Some(address), until, now);
        }
        Ok(match counted {
            Counted::Refused { until, .. } => Some(until),
            // Another failure from the address is being counted: this one need not be.
            Counted::Granted | Counted::Busy => None,
        })
    }

    /// Counts a request for a mail from `address` (`Ok(false)`: refused, over the rule or
    /// with too many counted at once) and, with `account`, a mail to that account's key.
    #[allow(dead_code)] // For the accounts folder, which a build may leave out.
    pub(crate) async fn mail_allowed(
        &self,
        scope: MailScope<'_>,
        now: SystemTime,
        key: &SessionKey,
    ) -> Result<bool, BoxError> {
        let counted = match scope {
            MailScope::Address(address) => {
                let group = address::group(address);
                self.count("mail address", &group, self.mail_address, now, key)
                    .await?
            }
            MailScope::Account(account) => {
                self.count(
                    "mail account",
                    account.as_bytes(),
                    self.mail_account,
                    now,
                    key,
                )
                .await?
            }
        };
        Ok(matches!(counted, Counted::Granted))
    }

    /// Counts one use of the counter of `kind` and `material` under `rule`.
    async fn count(
        &self,
        kind: &str,
        material: &[u8],
        rule: Rule,
        now: SystemTime,
        key: &SessionKey,
    ) -> Result<Counted, BoxError> {
        let Some(store) = &self.store else {
            return Ok(Counted::Granted);
        };
        let reservation = self.reservation(key_of(key.current(), kind, material), rule);
        match store.reserve(&reservation, now).await? {
            Verdict::Granted => {
                let ended = Ended {
                    outcome: Outcome::Failed,
                    at: now,
                };
                store.finish(&reservation, ended).await?;
                Ok(Counted::Granted)
            }
            Verdict::Refused { until, first } => Ok(Counted::Refused { until, first }),
            Verdict::Busy => Ok(Counted::Busy),
        }
    }

    /// Counts a second-factor check of `user` (the text of their id) before it runs, in the
    /// user's own counter, which neither a right password nor a device cookie touches.
    pub(crate) async fn gate_second_factor(
        &self,
        user: &str,
        clock: &dyn Clock,
        key: &SessionKey,
    ) -> Result<SecondFactorGate, BoxError> {
        let Some(store) = &self.store else {
            return Ok(SecondFactorGate::Pass(Attempt::unthrottled()));
        };
        let throttle_key = key_of(key.current(), "second factor", user.as_bytes());
        let reservation = self.reservation(throttle_key, self.second_factor);
        let deadline = tokio::time::Instant::now() + self.max_wait;
        loop {
            let now = clock.now();
            match store.reserve(&reservation, now).await? {
                Verdict::Granted => {
                    return Ok(SecondFactorGate::Pass(Attempt {
                        store: Some(store.clone()),
                        reserved: vec![(reservation, Kind::SecondFactor)],
                        account: None,
                    }));
                }
                Verdict::Refused { until, first } => {
                    if first {
                        log_refusal(Kind::SecondFactor, Some(user), None, until, now);
                    }
                    return Ok(SecondFactorGate::Locked { first });
                }
                Verdict::Busy => {
                    if tokio::time::Instant::now() >= deadline {
                        return Ok(SecondFactorGate::Locked { first: false });
                    }
                    store.released(&throttle_key).await;
                }
            }
        }
    }

    /// The device cookie value that tells `account` this browser completed a login on it,
    /// given once the whole login (its second factor included) is done; `None` without
    /// throttling.
    pub(crate) fn device_cookie_for(
        &self,
        account: ThrottleKey,
        device_cookie: Option<&str>,
        key: &SessionKey,
        now: SystemTime,
    ) -> Option<String> {
        self.store.as_ref()?;
        let devices = device_cookie.map_or_else(Vec::new, |value| device::read(value, key, now));
        let id = devices
            .iter()
            .find(|known| known.account == account)
            .map_or_else(device::new_id, |known| known.id);
        let renewed = Device {
            account,
            id,
            issued: now,
        };
        Some(device::write(&device::with(devices, renewed), key))
    }
}

/// What [`Throttle::gate_second_factor`] decided.
pub(crate) enum SecondFactorGate {
    /// The check may run; report its outcome with [`Attempt::finish`].
    Pass(Attempt),
    /// The user's second factor is locked: fail without checking. `first` for the first
    /// refusal of the lock, to report it once.
    Locked {
        /// Whether this is the first refusal in the lock.
        first: bool,
    },
}

/// Gives back the reservations of an attempt that will not run its check.
async fn abandon(store: &Arc<dyn ThrottleStore>, granted: &[(Reservation, Kind)], now: SystemTime) {
    for (reservation, _) in granted {
        let ended = Ended {
            outcome: Outcome::Abandoned,
            at: now,
        };
        if let Err(error) = store.finish(reservation, ended).await {
            tracing::error!(%error, "the login throttle could not give back a reservation");
        }
    }
}

/// One log line for the first refusal of a key in its window: the name escaped and cut short,
/// since it is whatever a stranger typed.
fn log_refusal(
    kind: Kind,
    account_name: Option<&str>,
    address: Option<IpAddr>,
    until: SystemTime,
    now: SystemTime,
) {
    let for_seconds = until.duration_since(now).map_or(0, |left| left.as_secs());
    match kind {
        Kind::Address => tracing::warn!(
            address = ?address,
            for_seconds,
            "login attempts from this address are throttled"
        ),
        Kind::Account => tracing::warn!(
            account = %account_name.map_or_else(String::new, printable),
            for_seconds,
            "login attempts on this account without a known device are throttled"
        ),
        Kind::Device => tracing::warn!(
            account = %account_name.map_or_else(String::new, printable),
            for_seconds,
            "login attempts from one device on this account are throttled"
        ),
        Kind::SecondFactor => tracing::warn!(
            user_id = %account_name.map_or_else(String::new, printable),
            for_seconds,
            "too many wrong second factors: the user's second factor is locked"
        ),
        Kind::Token => tracing::warn!(
            address = ?address,
            for_seconds,
            "too many unknown API tokens from this address: its tokens are refused"
        ),
    }
}

/// The group a client address is counted in: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber's network).
#[allow(dead_code)] // For the API tokens folder, which a build may leave out.
pub(crate) fn address_group(address: IpAddr) -> Vec<u8> {
    address::group(address)
}

/// A name as a log line may show it: at most 64 characters, control characters (a newline
/// that would forge a log line) escaped.
pub(crate) fn printable(name: &str) -> String {
    name.chars().take(64).flat_map(char::escape_debug).collect()
}

/// The counter key of `material` for `kind`, under the layer's key: a fixed 16 bytes whatever
/// the material, and not guessable from it without the key.
fn key_of(key: &Keyed, kind: &str, material: &[u8]) -> ThrottleKey {
    let tag = key.tag("axum-login throttle key", &[kind.as_bytes(), material]);
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&tag[..16]);
    ThrottleKey(bytes)
}

/// What [`Throttle::mail_allowed`] counts.
#[allow(dead_code)] // For the accounts folder, which a build may leave out.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MailScope<'a> {
    /// Requests from a client address.
    Address(IpAddr),
    /// Mails to an account (the text of its user id).
    Account(&'a str),
}

/// What one count of a counter came to.
enum Counted {
    Granted,
    Refused {
        until: SystemTime,
        first: bool,
    },
    /// Checks in flight on the counter already use its concurrency.
    Busy,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(MemoryThrottleStore::default())
    }
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("enabled", &self.store.is_some())
            .field("account", &self.account)
            .field("device", &self.device)
            .field("address", &self.address)
            .field("second_factor", &self.second_factor)
            .field("window", &self.window)
            .field("device_lifetime", &self.device_lifetime)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Account,
    Device,
    Address,
    SecondFactor,
    #[allow(dead_code)] // Counted by the API tokens folder, which a build may leave out.
    Token,
}

/// What the throttle needs to know about one login attempt.
pub(crate) struct AttemptInput<'a> {
    /// The account's key from the store, e.g. the normalised username.
    pub(crate) account_name: Option<&'a str>,
    /// The value of the request's device cookie.
    pub(crate) device_cookie: Option<&'a str>,
    /// The client's address.
    pub(crate) address: Option<IpAddr>,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) key: &'a SessionKey,
}

/// What [`Throttle::gate`] decided.
pub(crate) enum Gate {
    /// The check may run; report its outcome with [`Attempt::finish`].
    Pass(Attempt),
    /// Refused: fail like wrong credentials.
    Refused,
}

/// A login attempt the throttle let through, holding reservations until it is told how it
/// ended.
pub(crate) struct Attempt {
    store: Option<Arc<dyn ThrottleStore>>,
    reserved: Vec<(Reservation, Kind)>,
    account: Option<ThrottleKey>,
}

impl Attempt {
    fn unthrottled() -> Self {
        Self {
            store: None,
            reserved: Vec::new(),
            account: None,
        }
    }

    /// The account's counter key, for revoking its device cookies later.
    pub(crate) fn account(&self) -> Option<ThrottleKey> {
        self.account
    }

    /// Counts the outcome. On success the account's (or device's) failures are forgotten; the
    /// device cookie is not given here but when the login is complete
    /// ([`Throttle::device_cookie_for`]), which may be a second factor later.
    pub(crate) async fn finish(self, succeeded: bool, now: SystemTime) -> Result<(), BoxError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        for (reservation, kind) in &self.reserved {
            let outcome = match (succeeded, kind) {
                (false, _) => Outcome::Failed,
                (true, Kind::Address | Kind::Token) => Outcome::Succeeded { reset: false },
                (true, Kind::Account | Kind::Device | Kind::SecondFactor) => {
                    Outcome::Succeeded { reset: true }
                }
            };
            store
                .finish(reservation, Ended { outcome, at: now })
                .await?;
        }
        Ok(())
    }

    /// Gives the reservations back: the check did not happen.
    pub(crate) async fn abandon(self, now: SystemTime) {
        if let Some(store) = &self.store {
            abandon(store, &self.reserved, now).await;
        }
    }
}

/// Revokes the device cookies of `account` issued before `now`, and answers the device cookie
/// value for this browser's new one (its id kept when `device_cookie` names one).
pub(crate) async fn revoke_devices(
    throttle: &Throttle,
    account: ThrottleKey,
    device_cookie: Option<&str>,
    key: &SessionKey,
    now: SystemTime,
) -> Result<Option<String>, BoxError> {
    let Some(store) = &throttle.store else {
        return Ok(None);
    };
    let revocation = Revocation {
        account,
        at: now,
        keep: throttle.device_lifetime,
    };
    store.revoke_devices(&revocation).await?;
    let devices = device_cookie.map_or_else(Vec::new, |value| device::read(value, key, now));
    let id = devices
        .iter()
        .find(|known| known.account == account)
        .map_or_else(device::new_id, |known| known.id);
    // A millisecond after the revocation, so this browser's cookie is newer than it.
    let issued = now + Duration::from_millis(1);
    let devices = device::with(
        devices,
        Device {
            account,
            id,
            issued,
        },
    );
    Ok(Some(device::write(&devices, key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_log_lines_cannot_forge_a_line_and_stay_short() {
        assert_eq!(printable("admin\nERROR forged"), "admin\\nERROR forged");
        assert_eq!(printable("a\r\u{0}b"), "a\\r\\0b");
        assert_eq!(printable(&"x".repeat(1000)).len(), 64);
    }

    #[tokio::test]
    async fn a_disabled_throttle_lets_every_attempt_through_and_gives_no_device_cookie() {
        let throttle = Throttle::disabled();
        let (clock, key) = (crate::clock::ManualClock::new(), SessionKey::generate());
        // Far more failures than any limit of an enabled throttle.
        for _ in 0..25 {
            let gate = throttle
                .gate(AttemptInput {
                    account_name: Some("ferris"),
                    device_cookie: None,
                    address: Some(IpAddr::from([192, 0, 2, 1])),
                    clock: &clock,
                    key: &key,
                })
                .await
                .expect("gate");
            let Gate::Pass(attempt) = gate else {
                panic!("a disabled throttle refused an attempt");
            };
            attempt.finish(false, clock.now()).await.expect("finish");
        }
        let account = key_of(key.current(), "account", b"ferris");
        assert_eq!(
            throttle.device_cookie_for(account, None, &key, clock.now()),
            None
        );
    }

    #[tokio::test]
    async fn the_second_factor_locks_at_the_configured_number_of_failures() {
        let throttle = Throttle::default().max_second_factor_failures(2);
        let (clock, key) = (crate::clock::ManualClock::new(), SessionKey::generate());
        for _ in 0..2 {
            let gate = throttle
                .gate_second_factor("u1", &clock, &key)
                .await
                .expect("gate");
            let SecondFactorGate::Pass(attempt) = gate else {
                panic!("locked before the limit");
            };
            attempt.finish(false, clock.now()).await.expect("finish");
        }
        let gate = throttle
            .gate_second_factor("u1", &clock, &key)
            .await
            .expect("gate");
        assert!(matches!(gate, SecondFactorGate::Locked { first: true }));
    }

    #[test]
    fn counter_keys_are_fixed_size_and_keyed() {
        let key = SessionKey::generate();
        let short = key_of(key.current(), "account", b"a");
        let long = key_of(key.current(), "account", "a".repeat(10_000).as_bytes());
        assert_ne!(short, long);
        assert_eq!(short, key_of(key.current(), "account", b"a"));
        assert_ne!(short, key_of(key.current(), "device", b"a"));
        assert_ne!(
            short,
            key_of(SessionKey::generate().current(), "account", b"a")
        );
    }

    /// One login attempt on `account` through `throttle`'s gate, with the clock's time.
    async fn attempt_on(
        throttle: &Throttle,
        clock: &crate::clock::ManualClock,
        key: &SessionKey,
        account: &str,
        device_cookie: Option<&str>,
        address: Option<IpAddr>,
    ) -> Option<Attempt> {
        let gate = throttle
            .gate(AttemptInput {
                account_name: Some(account),
                device_cookie,
                address,
                clock,
                key,
            })
            .await
            .expect("gate");
        match gate {
            Gate::Pass(attempt) => Some(attempt),
            Gate::Refused => None,
        }
    }

    #[tokio::test]
    async fn a_device_cookie_passes_a_lock_for_its_own_account_until_its_lifetime_ends() {
        // Shorter than the window (15 minutes), so the locks below outlast the cookie.
        let lifetime = Duration::from_secs(60);
        let throttle = Throttle::default()
            .max_failures_per_account(1)
            .device_cookie_lifetime(lifetime);
        let (clock, key) = (crate::clock::ManualClock::new(), SessionKey::generate());
        // Both accounts locked by one wrong password from a browser without a device cookie.
        for account in ["ferris", "other"] {
            let attempt = attempt_on(&throttle, &clock, &key, account, None, None).await;
            let attempt = attempt.expect("the first attempt passes");
            attempt.finish(false, clock.now()).await.expect("finish");
            assert!(
                attempt_on(&throttle, &clock, &key, account, None, None)
                    .await
                    .is_none()
            );
        }
        let ferris = key_of(key.current(), "account", b"ferris");
        let cookie = throttle
            .device_cookie_for(ferris, None, &key, clock.now())
            .expect("a device cookie");
        let issued = device::read(&cookie, &key, clock.now())[0].issued;

        // A millisecond before the cookie's lifetime ends it passes its account's lock, never
        // another account's.
        let before_end = issued + lifetime - Duration::from_millis(1);
        clock.advance(before_end.duration_since(clock.now()).expect("later"));
        let trusted = attempt_on(&throttle, &clock, &key, "ferris", Some(&cookie), None).await;
        trusted
            .expect("the owner's browser passes the lock")
            .abandon(clock.now())
            .await;
        assert!(
            attempt_on(&throttle, &clock, &key, "other", Some(&cookie), None)
                .await
                .is_none(),
            "a device cookie for one account passed another account's lock"
        );
        // At the end of its lifetime it is a browser like any other.
        clock.advance(Duration::from_millis(1));
        assert!(
            attempt_on(&throttle, &clock, &key, "ferris", Some(&cookie), None)
                .await
                .is_none(),
            "a device cookie passed the lock at the end of its lifetime"
        );
    }

    #[tokio::test]
    async fn device_cookies_and_revocations_carry_over_a_key_rotation_until_its_deadline() {
        let throttle = Throttle::default().max_failures_per_account(1);
        let (clock, old) = (crate::clock::ManualClock::new(), SessionKey::generate());
        // The account is locked; the owner's browser and a second browser have device cookies
        // from before the rotation.
        let attempt = attempt_on(&throttle, &clock, &old, "ferris", None, None).await;
        let attempt = attempt.expect("the first attempt passes");
        attempt.finish(false, clock.now()).await.expect("finish");
        let ferris_old = key_of(old.current(), "account", b"ferris");
        let owner = throttle
            .device_cookie_for(ferris_old, None, &old, clock.now())
            .expect("a device cookie");
        let other_browser = throttle
            .device_cookie_for(ferris_old, None, &old, clock.now())
            .expect("a device cookie");
        clock.advance(Duration::from_secs(1));

        let until = clock.now() + Duration::from_secs(3600);
        let ring = SessionKey::generate().with_previous(old.clone(), until);
        // Counters start afresh under the new key: lock the account again.
        let attempt = attempt_on(&throttle, &clock, &ring, "ferris", None, None).await;
        let attempt = attempt.expect("the first attempt under the new key passes");
        attempt.finish(false, clock.now()).await.expect("finish");
        assert!(
            attempt_on(&throttle, &clock, &ring, "ferris", None, None)
                .await
                .is_none()
        );
        // The owner's cookie, signed under the old key, still passes the lock.
        let trusted = attempt_on(&throttle, &clock, &ring, "ferris", Some(&owner), None).await;
        trusted
            .expect("a device cookie from before the rotation passes")
            .abandon(clock.now())
            .await;
        // A password change on a session from before the rotation revokes under the old
        // account key, which still counts for a cookie written under the new key.
        let ferris_new = key_of(ring.current(), "account", b"ferris");
        let renewed = throttle
            .device_cookie_for(ferris_new, Some(&owner), &ring, clock.now())
            .expect("a device cookie");
        clock.advance(Duration::from_secs(1));
        let kept = revoke_devices(&throttle, ferris_old, Some(&renewed), &ring, clock.now())
            .await
            .expect("revoke")
            .expect("a device cookie");
        for revoked in [&other_browser, &renewed] {
            assert!(
                attempt_on(&throttle, &clock, &ring, "ferris", Some(revoked), None)
                    .await
                    .is_none(),
                "a revoked device cookie passed the lock"
            );
        }
        let trusted = attempt_on(&throttle, &clock, &ring, "ferris", Some(&kept), None).await;
        trusted
            .expect("the browser that changed the password keeps its trust")
            .abandon(clock.now())
            .await;
        // After the deadline (the account's lock has run out too; lock it again) a cookie
        // signed only under the old key is no cookie.
        clock.advance(until.duration_since(clock.now()).expect("later"));
        let attempt = attempt_on(&throttle, &clock, &ring, "ferris", None, None).await;
        let attempt = attempt.expect("the lock ran out");
        attempt.finish(false, clock.now()).await.expect("finish");
        let renewed_new = throttle
            .device_cookie_for(ferris_new, None, &ring, clock.now())
            .expect("a device cookie");
        assert!(
            attempt_on(&throttle, &clock, &ring, "ferris", Some(&owner), None)
                .await
                .is_none(),
            "a cookie signed only under the old key passed after the deadline"
        );
        let trusted =
            attempt_on(&throttle, &clock, &ring, "ferris", Some(&renewed_new), None).await;
        trusted
            .expect("a cookie under the new key passes after the deadline")
            .abandon(clock.now())
            .await;
    }

    #[tokio::test]
    async fn a_browser_has_a_device_counter_of_its_own_for_each_account() {
        let throttle = Throttle::default().max_failures_per_account(1);
        let (clock, key) = (crate::clock::ManualClock::new(), SessionKey::generate());
        let (ferris, other) = (
            key_of(key.current(), "account", b"ferris"),
            key_of(key.current(), "account", b"other"),
        );
        // The browser logs in to ferris, then to other, and gets one cookie for both: once
        // when the login to other completes, once when it changes other's password.
        let first = throttle
            .device_cookie_for(ferris, None, &key, clock.now())
            .expect("a device cookie");
        for password_change in [false, true] {
            let cookie = if password_change {
                revoke_devices(&throttle, other, Some(&first), &key, clock.now())
                    .await
                    .expect("revoke")
            } else {
                throttle.device_cookie_for(other, Some(&first), &key, clock.now())
            };
            let cookie = cookie.expect("a device cookie");
            // A wrong password for ferris from this browser locks its device on ferris...
            let attempt = attempt_on(&throttle, &clock, &key, "ferris", Some(&cookie), None).await;
            let attempt = attempt.expect("the device's first attempt passes");
            attempt.finish(false, clock.now()).await.expect("finish");
            assert!(
                attempt_on(&throttle, &clock, &key, "ferris", Some(&cookie), None)
                    .await
                    .is_none()
            );
            // ...and not on other.
            let attempt = attempt_on(&throttle, &clock, &key, "other", Some(&cookie), None).await;
            attempt
                .expect("the device's counter on another account is its own")
                .abandon(clock.now())
                .await;
            // The window ends, and with it the device's lock on ferris.
            clock.advance(Duration::from_secs(15 * 60));
        }
    }

    #[tokio::test]
    async fn an_abandoned_attempt_gives_its_place_back() {
        let throttle = Throttle::default()
            .max_failures_per_account(1)
            .max_wait(Duration::ZERO);
        let (clock, key) = (crate::clock::ManualClock::new(), SessionKey::generate());
        for _ in 0..3 {
            let attempt = attempt_on(&throttle, &clock, &key, "ferris", None, None).await;
            // One check at a time: a place not given back would refuse the next attempt.
            attempt
                .expect("an account with no check in flight")
                .abandon(clock.now())
                .await;
        }
    }

    #[tokio::test]
    async fn an_attempt_waits_for_the_check_in_flight_up_to_max_wait() {
        let (clock, key) = (crate::clock::ManualClock::new(), SessionKey::generate());
        // One check at a time on the account; the second attempt finds it busy.
        let waiting = Throttle::default().max_failures_per_account(1);
        let held = attempt_on(&waiting, &clock, &key, "ferris", None, None)
            .await
            .expect("the first attempt passes");
        let (second, ()) = tokio::join!(
            attempt_on(&waiting, &clock, &key, "ferris", None, None),
            async { held.finish(true, clock.now()).await.expect("finish") },
        );
        second
            .expect("an attempt that found the account busy was refused instead of waiting")
            .abandon(clock.now())
            .await;

        // With no wait at all, it is refused before the check in flight ends.
        let impatient = Throttle::default()
            .max_failures_per_account(1)
            .max_wait(Duration::ZERO);
        let held = attempt_on(&impatient, &clock, &key, "ferris", None, None)
            .await
            .expect("the first attempt passes");
        let (second, ()) = tokio::join!(
            attempt_on(&impatient, &clock, &key, "ferris", None, None),
            async { held.finish(true, clock.now()).await.expect("finish") },
        );
        assert!(
            second.is_none(),
            "max_wait(0) waited for the check in flight"
        );
    }

    #[tokio::test]
    async fn a_second_factor_check_waits_for_the_one_in_flight() {
        let throttle = Throttle::default().max_second_factor_failures(1);
        let (clock, key) = (crate::clock::ManualClock::new(), SessionKey::generate());
        let SecondFactorGate::Pass(held) = throttle
            .gate_second_factor("u1", &clock, &key)
            .await
            .expect("gate")
        else {
            panic!("the first check was refused");
        };
        let (second, ()) = tokio::join!(throttle.gate_second_factor("u1", &clock, &key), async {
            held.finish(true, clock.now()).await.expect("finish")
        },);
        assert!(
            matches!(second.expect("gate"), SecondFactorGate::Pass(_)),
            "a second-factor check that found one in flight was refused instead of waiting"
        );
    }

    #[test]
    fn the_debug_form_shows_the_rules() {
        let throttle = Throttle::default()
            .max_failures_per_account(3)
            .window(Duration::from_secs(60));
        let text = format!("{throttle:?}");
        assert!(text.starts_with("Throttle { enabled: true"), "{text}");
        assert!(text.contains("limit: 3"), "{text}");
        assert!(text.contains("window: 60s"), "{text}");
        assert!(format!("{:?}", Throttle::disabled()).contains("enabled: false"));
    }
}
