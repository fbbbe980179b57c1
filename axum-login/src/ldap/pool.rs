//! Connections to the directory: a small pool of connections bound as the service account, for
//! searches, and a connection of its own for each user's bind, closed right after it.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Mutex, PoisonError},
    time::Duration,
};

use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, ResultEntry, Scope, SearchEntry, SearchOptions,
    StdStream,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::{net::TcpStream, sync::Semaphore};

use super::{Counters, LdapConfig, LdapError};

/// LDAP result codes (RFC 4511, 4.1.9) the store tells apart.
pub(super) mod rc {
    pub(crate) const SUCCESS: u32 = 0;
    pub(crate) const SIZE_LIMIT_EXCEEDED: u32 = 4;
    pub(crate) const CONSTRAINT_VIOLATION: u32 = 19;
    pub(crate) const NO_SUCH_OBJECT: u32 = 32;
    pub(crate) const INVALID_DN_SYNTAX: u32 = 34;
    pub(crate) const INVALID_CREDENTIALS: u32 = 49;
    pub(crate) const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    pub(crate) const UNWILLING_TO_PERFORM: u32 = 53;
}

/// One search, as the store asks it.
pub(super) struct Search<'a> {
    pub(super) base: &'a str,
    pub(super) scope: Scope,
    pub(super) filter: &'a str,
    pub(super) attributes: &'a [String],
    /// At most this many entries (0: the server's limit).
    pub(super) size_limit: i32,
}

/// What a search found.
pub(super) struct Found {
    pub(super) entries: Vec<SearchEntry>,
    /// More entries matched than the size limit allows.
    pub(super) truncated: bool,
    /// The base does not exist.
    pub(super) no_base: bool,
}

/// Connections bound as the service account (or anonymous, without one), reused for searches.
pub(super) struct Pool {
    idle: Mutex<Vec<Ldap>>,
    size: usize,
    /// One permit per connection that may exist; a search holds one from start to end.
    permits: Semaphore,
}

impl Pool {
    pub(super) fn new(size: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::with_capacity(size)),
            size,
            permits: Semaphore::new(size),
        }
    }

    /// Runs `search` on a pooled connection, opening one when none is idle.
    ///
    /// A reused connection that fails (the directory restarted, an idle timeout closed it) is
    /// dropped and the search runs once more on a fresh one, so a directory that comes back is
    /// used again at once. A timeout is not retried: the caller hears of it within the bound.
    pub(super) async fn search(
        &self,
        config: &LdapConfig,
        counters: &Counters,
        search: &Search<'_>,
    ) -> Result<Found, LdapError> {
        let wait = config.operation_timeout;
        let _permit = match tokio::time::timeout(wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => {
                return Err(LdapError::Timeout {
                    operation: "waiting for a pooled connection",
                    after: wait,
                });
            }
        };
        loop {
            let (mut ldap, reused) = match self.take_idle() {
                Some(ldap) => (ldap, true),
                None => (open_service(config, counters).await?, false),
            };
            counters.count(&counters.searches);
            match run_search(&mut ldap, search, wait).await {
                Ok(found) => {
                    self.put_back(ldap);
                    return found;
                }
                Err(Failure::Timeout) => {
                    return Err(LdapError::Timeout {
                        operation: "search",
                        after: wait,
                    });
                }
                Err(Failure::Connection(error)) if reused => {
                    tracing::debug!(%error, "a pooled LDAP connection failed; retrying on a new one");
                }
                Err(Failure::Connection(error)) => {
                    return Err(LdapError::Connection {
                        operation: "search",
                        source: error.into(),
                    });
                }
            }
        }
    }

    /// Opens and binds one pooled connection now, so a wrong URL or service password shows at
    /// startup rather than at the first login.
    pub(super) async fn warm_up(
        &self,
        config: &LdapConfig,
        counters: &Counters,
    ) -> Result<(), LdapError> {
        let ldap = open_service(config, counters).await?;
        self.put_back(ldap);
        Ok(())
    }

    fn take_idle(&self) -> Option<Ldap> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(mut ldap) = idle.pop() {
            if !ldap.is_closed() {
                return Some(ldap);
            }
        }
        None
    }

    /// Keeps `ldap` for the next search, unless the pool is full (then it closes).
    fn put_back(&self, ldap: Ldap) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.size {
            idle.push(ldap);
        }
    }
}

/// Why a search did not answer.
enum Failure {
    Timeout,
    Connection(ldap3::LdapError),
}

async fn run_search(
    ldap: &mut Ldap,
    search: &Search<'_>,
    wait: Duration,
) -> Result<Result<Found, LdapError>, Failure> {
    let options = SearchOptions::new().sizelimit(search.size_limit);
    let result = tokio::time::timeout(
        wait,
        ldap.with_search_options(options).search(
            search.base,
            search.scope,
            search.filter,
            search.attributes,
        ),
    )
    .await
    .map_err(|_| Failure::Timeout)?
    .map_err(|error| match error {
        ldap3::LdapError::Timeout { .. } => Failure::Timeout,
        other => Failure::Connection(other),
    })?;
    let ldap3::SearchResult(raw, outcome) = result;
    let (truncated, no_base) = match outcome.rc {
        rc::SUCCESS => (false, false),
        rc::SIZE_LIMIT_EXCEEDED => (true, false),
        rc::NO_SUCH_OBJECT => (false, true),
        code => {
            return Ok(Err(LdapError::Refused {
                operation: "search",
                code,
                message: outcome.text,
            }));
        }
    };
    let mut entries = Vec::with_capacity(raw.len());
    for entry in raw {
        match parse_entry(entry) {
            Some(entry) => entries.push(entry),
            None => {
                return Ok(Err(LdapError::Malformed {
                    what: "a search result entry",
                }));
            }
        }
    }
    Ok(Ok(Found {
        entries,
        truncated,
        no_base,
    }))
}

/// Decodes an entry; `None` when it is malformed. ldap3 panics on a malformed entry rather than
/// returning an error, and what the directory sends must not take the request down with it.
fn parse_entry(entry: ResultEntry) -> Option<SearchEntry> {
    catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(entry))).ok()
}

/// Opens a connection: TCP, then TLS or StartTLS as configured, within the connect timeout.
async fn open(config: &LdapConfig, counters: &Counters) -> Result<Ldap, LdapError> {
    counters.count(&counters.connections);
    let (connection, ldap) =
        match tokio::time::timeout(config.connect_timeout, connect(config)).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(ldap3::LdapError::Timeout { .. })) | Err(_) => {
                return Err(LdapError::Timeout {
                    operation: "connecting",
                    after: config.connect_timeout,
                });
            }
            Ok(Err(error)) => {
                return Err(LdapError::Unreachable {
                    url: config.url.clone(),
                    source: error.into(),
                });
            }
        };
    tokio::spawn(async move {
        if let Err(error) = connection.drive().await {
            tracing::debug!(%error, "LDAP connection ended");
        }
    });
    Ok(ldap)
}

async fn connect(config: &LdapConfig) -> Result<(LdapConnAsync, Ldap), ldap3::LdapError> {
    let (host, port) = &config.address;
    let tcp = TcpStream::connect((host.as_str(), *port)).await?;
    // Without it, the TLS handshake's and StartTLS's small writes wait for delayed ACKs: 40 ms
    // a connection on Linux.
    tcp.set_nodelay(true)?;
    let mut settings = LdapConnSettings::new()
        .set_starttls(config.starttls)
        .set_std_stream(StdStream::Tcp(tcp.into_std()?));
    if let Some(tls) = &config.tls {
        settings = settings.set_config(tls.clone());
    }
    LdapConnAsync::with_settings(settings, &config.url).await
}

/// Opens a connection for the pool and binds it as the service account, if there is one.
async fn open_service(config: &LdapConfig, counters: &Counters) -> Result<Ldap, LdapError> {
    let mut ldap = open(config, counters).await?;
    if let Some((dn, password)) = &config.service_account {
        counters.count(&counters.service_binds);
        let code = bind(&mut ldap, dn, password, config.operation_timeout).await?;
        if code.0 != rc::SUCCESS {
            return Err(LdapError::ServiceBind {
                dn: dn.clone(),
                code: code.0,
                message: code.1,
            });
        }
    }
    Ok(ldap)
}

/// Binds as `dn` with `password` on a connection of its own, closed afterwards, so no pooled
/// connection is ever bound as a user. `Ok(false)` when the directory refuses the credentials.
pub(super) async fn user_bind(
    config: &LdapConfig,
    counters: &Counters,
    dn: &str,
    password: &SecretString,
) -> Result<bool, LdapError> {
    let mut ldap = open(config, counters).await?;
    counters.count(&counters.user_binds);
    let (code, message) = bind(&mut ldap, dn, password, config.operation_timeout).await?;
    // Unbind sends one message and closes the socket; it waits for no answer.
    let _ = ldap.unbind().await;
    match code {
        rc::SUCCESS => Ok(true),
        // Wrong password, no such entry, a DN that the login name made invalid, a locked or
        // disabled account (servers differ in the code): all a failed login.
        rc::INVALID_CREDENTIALS
        | rc::NO_SUCH_OBJECT
        | rc::INVALID_DN_SYNTAX
        | rc::UNWILLING_TO_PERFORM
        | rc::CONSTRAINT_VIOLATION
        | rc::INSUFFICIENT_ACCESS_RIGHTS => {
            tracing::debug!(code, "the directory refused a user's bind");
            Ok(false)
        }
        code => Err(LdapError::Refused {
            operation: "bind",
            code,
            message,
        }),
    }
}

/// A simple bind within `wait`: the result code and message.
async fn bind(
    ldap: &mut Ldap,
    dn: &str,
    password: &SecretString,
    wait: Duration,
) -> Result<(u32, String), LdapError> {
    match tokio::time::timeout(wait, ldap.simple_bind(dn, password.expose_secret())).await {
        Ok(Ok(result)) => Ok((result.rc, result.text)),
        Ok(Err(ldap3::LdapError::Timeout { .. })) | Err(_) => Err(LdapError::Timeout {
            operation: "bind",
            after: wait,
        }),
        Ok(Err(error)) => Err(LdapError::Connection {
            operation: "bind",
            source: error.into(),
        }),
    }
}
