//! SMTP through lettre, over the workspace's one TLS stack (rustls with ring).
//!
//! One URL says where and how, as the database URLs do, so a deployment sets one variable. The
//! URL is never echoed in an error: it may hold the relay's password.
//!
//! Each message opens its own connection. The mail these flows send is rare (a reset, a
//! verification), and lettre's connection pool would spawn a task when the mailer is built and
//! another when it is dropped, so it could not be built or dropped outside a runtime.

use std::{fmt, net::IpAddr, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};
use percent_encoding::percent_decode_str;
use rustls::pki_types::{CertificateDer, pem::PemObject as _};

use super::{MailError, Mailer, Message};
use crate::{error::BoxError, login::BoxFuture};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// Plain text, for a relay on loopback or a development server.
    Plain,
    /// `STARTTLS` after the greeting, required: a server that does not offer it is an error.
    StartTls,
    /// TLS from the first byte (`smtps`).
    Implicit,
}

/// Where an SMTP URL points, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    security: Security,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

/// An [`SmtpMailer`] could not be configured: its URL, sender or certificate is wrong.
///
/// None of these messages repeats the URL, which may hold a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailConfigError {
    /// The URL does not parse.
    #[error(
        "the SMTP URL is malformed ({reason}); expected `smtp://[user:password@]host[:port][?tls=starttls]` or `smtps://...`"
    )]
    InvalidUrl {
        /// What the URL parser said.
        reason: String,
    },

    /// The URL's scheme is not one of SMTP's.
    #[error(
        "unsupported SMTP URL scheme `{scheme}`; expected one of: `smtp`, `smtp+starttls`, `smtps`"
    )]
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
    },

    /// The URL names no host.
    #[error("the SMTP URL has no host; expected `smtp://host[:port]`")]
    MissingHost,

    /// The URL has a path or a fragment, which SMTP has no use for.
    #[error("the SMTP URL has a path or fragment; expected `smtp://[user:password@]host[:port]`")]
    UnexpectedPath,

    /// The URL has a query parameter other than `tls`.
    #[error("unknown SMTP URL parameter `{name}`; expected: `tls`")]
    UnknownParameter {
        /// The parameter's name.
        name: String,
    },

    /// `tls=` has a value other than `starttls`, or is combined with `smtps://`.
    #[error(
        "unsupported `tls={value}` in the SMTP URL; expected `tls=starttls` on `smtp://` (for implicit TLS, use the scheme `smtps://` instead)"
    )]
    InvalidTls {
        /// The value given.
        value: String,
    },

    /// The credentials are not `user:password`, or not valid UTF-8 once percent-decoded.
    #[error(
        "the SMTP URL's credentials must be `user:password@`, both non-empty, percent-encoded UTF-8"
    )]
    InvalidCredentials,

    /// Credentials would be sent in clear to a host that is not on loopback.
    #[error(
        "the SMTP URL would send its password in clear to `{host}`; use `smtps://` or `?tls=starttls` (plain `smtp://` takes credentials only for a loopback relay)"
    )]
    CredentialsInClear {
        /// The host.
        host: String,
    },

    /// The sender is not a mail address.
    #[error(
        "`{address}` is not a valid sender address ({reason}); expected `addr@host` or `Name <addr@host>`"
    )]
    InvalidFrom {
        /// The sender as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A root certificate was given for a URL without TLS.
    #[error(
        "a root certificate only applies to `smtps://` or STARTTLS (`?tls=starttls`), not to plain `smtp://`"
    )]
    RootCertificateWithoutTls,

    /// The PEM holds no certificate, or a malformed one.
    #[error("the root certificate PEM is not usable: {reason}")]
    InvalidCertificate {
        /// What is wrong with it.
        reason: String,
    },

    /// The TLS configuration could not be built.
    #[error("the SMTP TLS configuration could not be built: {0}")]
    Tls(#[source] BoxError),
}

/// Sends mail over SMTP with lettre, on tokio, with TLS through rustls (ring) and the system's
/// root certificates.
///
/// Configured from one URL (see [`from_url`](Self::from_url)); its error classes map onto
/// [`MailError`]: a `5xx` reply (unknown recipient, wrong credentials) is
/// [`Rejected`](MailError::Rejected), anything else that fails is
/// [`Transport`](MailError::Transport) or [`Timeout`](MailError::Timeout), which an
/// [`Outbox`](super::Outbox) retries.
///
/// ```
/// use std::time::Duration;
///
/// use axum_login::mail::SmtpMailer;
///
/// let mailer = SmtpMailer::from_url(
///     "smtp://mailer:s%40cret@smtp.example.com?tls=starttls",
///     "Example <no-reply@example.com>",
/// )?
/// .timeout(Duration::from_secs(5));
/// # Ok::<(), axum_login::mail::MailConfigError>(())
/// ```
pub struct SmtpMailer {
    endpoint: Endpoint,
    from: Mailbox,
    extra_roots: Vec<Vec<u8>>,
    tls: Tls,
    timeout: Duration,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("security", &self.endpoint.security)
            .field("host", &self.endpoint.host)
            .field("port", &self.endpoint.port)
            .field(
                "user",
                &self.endpoint.credentials.as_ref().map(|(user, _)| user),
            )
            .field("from", &self.from.to_string())
            .field("extra_roots", &self.extra_roots.len())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from` (`addr@host` or `Name <addr@host>`).
    ///
    /// - `smtp://[user:password@]host[:port]`: plain SMTP, for a relay on loopback or a
    ///   development server; port 25 by default. Credentials only to a loopback host.
    /// - `smtp://...?tls=starttls`, or `smtp+starttls://...`: STARTTLS, required (a server
    ///   that does not offer it is an error, never a fall back to plain); port 587 by default.
    /// - `smtps://...`: TLS from the first byte; port 465 by default.
    ///
    /// The user and password are percent-decoded (`%40` for `@`). Anything else (another
    /// scheme, parameter or `tls` value, a path) is a [`MailConfigError`] that says what is
    /// expected. Connects to nothing: a wrong host or password shows on the first send.
    pub fn from_url(url: &str, from: &str) -> Result<Self, MailConfigError> {
        let endpoint = parse_url(url)?;
        let from = from
            .parse::<Mailbox>()
            .map_err(|error| MailConfigError::InvalidFrom {
                address: from.to_owned(),
                reason: error.to_string(),
            })?;
        let timeout = Duration::from_secs(10);
        let tls = tls(&endpoint, &[])?;
        Ok(Self {
            transport: transport(&endpoint, tls.clone(), timeout),
            endpoint,
            from,
            extra_roots: Vec::new(),
            tls,
            timeout,
        })
    }

    /// Trusts the certificate(s) in `pem` as roots too, besides the system's: a test server's,
    /// or a private CA's. Only for a URL with TLS.
    pub fn with_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, MailConfigError> {
        if self.endpoint.security == Security::Plain {
            return Err(MailConfigError::RootCertificateWithoutTls);
        }
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| MailConfigError::InvalidCertificate {
                reason: error.to_string(),
            })?;
        if certificates.is_empty() {
            return Err(MailConfigError::InvalidCertificate {
                reason: "no `BEGIN CERTIFICATE` block in it".to_owned(),
            });
        }
        self.extra_roots.push(pem.to_vec());
        self.tls = tls(&self.endpoint, &self.extra_roots)?;
        self.transport = transport(&self.endpoint, self.tls.clone(), self.timeout);
        Ok(self)
    }

    /// How long one send may take, from connecting to the server's last reply; past it the
    /// send fails with [`MailError::Timeout`]. Default: 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.transport = transport(&self.endpoint, self.tls.clone(), timeout);
        self
    }

    fn email(&self, message: &Message) -> Result<lettre::Message, MailError> {
        let to = message
            .to()
            .parse::<Mailbox>()
            .map_err(|error| MailError::InvalidAddress {
                address: message.to().to_owned(),
                reason: error.to_string(),
            })?;
        lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject())
            .multipart(MultiPart::alternative_plain_html(
                message.text().to_owned(),
                message.html().to_owned(),
            ))
            .map_err(|error| MailError::InvalidMessage(Box::new(error)))
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            let email = self.email(message)?;
            match tokio::time::timeout(self.timeout, self.transport.send(email)).await {
                Err(_) => Err(MailError::Timeout(self.timeout)),
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) if error.is_permanent() => Err(MailError::Rejected(Box::new(error))),
                Ok(Err(error)) if error.is_timeout() => Err(MailError::Timeout(self.timeout)),
                Ok(Err(error)) => Err(MailError::Transport(Box::new(error))),
            }
        })
    }
}

/// How to protect the connection to `endpoint`, trusting `extra_roots` besides the system's.
fn tls(endpoint: &Endpoint, extra_roots: &[Vec<u8>]) -> Result<Tls, MailConfigError> {
    let parameters = || {
        let mut parameters = TlsParameters::builder(endpoint.host.clone());
        for pem in extra_roots {
            let certificate = Certificate::from_pem(pem).map_err(|error| {
                MailConfigError::InvalidCertificate {
                    reason: error.to_string(),
                }
            })?;
            parameters = parameters.add_root_certificate(certificate);
        }
        parameters
            .build_rustls()
            .map_err(|error| MailConfigError::Tls(Box::new(error)))
    };
    Ok(match endpoint.security {
        Security::Plain => Tls::None,
        Security::StartTls => Tls::Required(parameters()?),
        Security::Implicit => Tls::Wrapper(parameters()?),
    })
}

/// The lettre transport for `endpoint`. Building one connects to nothing.
fn transport(
    endpoint: &Endpoint,
    tls: Tls,
    timeout: Duration,
) -> AsyncSmtpTransport<Tokio1Executor> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)
        .port(endpoint.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let Some((user, password)) = &endpoint.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    builder.build()
}

fn parse_url(text: &str) -> Result<Endpoint, MailConfigError> {
    let url = url::Url::parse(text).map_err(|error| MailConfigError::InvalidUrl {
        reason: error.to_string(),
    })?;
    let mut security = match url.scheme() {
        "smtp" => Security::Plain,
        "smtp+starttls" => Security::StartTls,
        "smtps" => Security::Implicit,
        other => {
            return Err(MailConfigError::UnsupportedScheme {
                scheme: other.to_owned(),
            });
        }
    };
    for (name, value) in url.query_pairs() {
        match (&*name, &*value) {
            ("tls", "starttls") if security != Security::Implicit => {
                security = Security::StartTls;
            }
            ("tls", value) => {
                return Err(MailConfigError::InvalidTls {
                    value: value.to_owned(),
                });
            }
            (name, _) => {
                return Err(MailConfigError::UnknownParameter {
                    name: name.to_owned(),
                });
            }
        }
    }
    if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
        return Err(MailConfigError::UnexpectedPath);
    }
    let host = match url.host() {
        // Without the brackets, which the URL needs and a socket address does not.
        Some(url::Host::Ipv6(address)) => address.to_string(),
        Some(url::Host::Ipv4(address)) => address.to_string(),
        Some(url::Host::Domain(domain)) if !domain.is_empty() => domain.to_owned(),
        _ => return Err(MailConfigError::MissingHost),
    };
    let port = url.port().unwrap_or(match security {
        Security::Plain => 25,
        Security::StartTls => 587,
        Security::Implicit => 465,
    });
    let credentials = match (url.username(), url.password()) {
        ("", None) => None,
        (user, Some(password)) if !user.is_empty() && !password.is_empty() => {
            let decode = |part: &str| {
                percent_decode_str(part)
                    .decode_utf8()
                    .map(|decoded| decoded.into_owned())
                    .map_err(|_| MailConfigError::InvalidCredentials)
            };
            Some((decode(user)?, decode(password)?))
        }
        _ => return Err(MailConfigError::InvalidCredentials),
    };
    if credentials.is_some() && security == Security::Plain && !is_loopback(&host) {
        return Err(MailConfigError::CredentialsInClear { host });
    }
    Ok(Endpoint {
        security,
        host,
        port,
        credentials,
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(
        security: Security,
        host: &str,
        port: u16,
        credentials: Option<(&str, &str)>,
    ) -> Endpoint {
        Endpoint {
            security,
            host: host.to_owned(),
            port,
            credentials: credentials.map(|(user, password)| (user.to_owned(), password.to_owned())),
        }
    }

    fn parsed(url: &str) -> Endpoint {
        parse_url(url).unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    #[test]
    fn each_scheme_has_its_security_and_default_port() {
        assert_eq!(
            parsed("smtp://mail.example.com"),
            endpoint(Security::Plain, "mail.example.com", 25, None)
        );
        assert_eq!(
            parsed("smtp://mail.example.com?tls=starttls"),
            endpoint(Security::StartTls, "mail.example.com", 587, None)
        );
        assert_eq!(
            parsed("smtp+starttls://mail.example.com/"),
            endpoint(Security::StartTls, "mail.example.com", 587, None)
        );
        assert_eq!(
            parsed("smtps://mail.example.com"),
            endpoint(Security::Implicit, "mail.example.com", 465, None)
        );
    }

    #[test]
    fn an_explicit_port_and_ip_hosts_are_kept() {
        assert_eq!(
            parsed("smtp://127.0.0.1:2525"),
            endpoint(Security::Plain, "127.0.0.1", 2525, None)
        );
        assert_eq!(
            parsed("smtps://[::1]:2465"),
            endpoint(Security::Implicit, "::1", 2465, None)
        );
        assert_eq!(
            parsed("smtp://mail.example.com:2587?tls=starttls"),
            endpoint(Security::StartTls, "mail.example.com", 2587, None)
        );
    }

    #[test]
    fn credentials_are_percent_decoded() {
        assert_eq!(
            parsed("smtps://me%40example.com:p%3Ass%2Fw%C3%B6rd%25@mail.example.com"),
            endpoint(
                Security::Implicit,
                "mail.example.com",
                465,
                Some(("me@example.com", "p:ss/wörd%"))
            )
        );
        assert_eq!(
            parsed("smtp://relay:secret@localhost:2525"),
            endpoint(
                Security::Plain,
                "localhost",
                2525,
                Some(("relay", "secret"))
            )
        );
    }

    #[test]
    fn malformed_urls_are_refused_with_what_is_expected() {
        let error = |url: &str| parse_url(url).expect_err(url);
        assert!(matches!(
            error("http://mail.example.com"),
            MailConfigError::UnsupportedScheme { scheme } if scheme == "http"
        ));
        assert!(matches!(
            error("mail.example.com:25"),
            MailConfigError::UnsupportedScheme { .. } | MailConfigError::InvalidUrl { .. }
        ));
        assert!(matches!(
            error("not a url"),
            MailConfigError::InvalidUrl { .. }
        ));
        assert!(matches!(error("smtp://"), MailConfigError::MissingHost));
        assert!(matches!(
            error("smtp://mail.example.com/inbox"),
            MailConfigError::UnexpectedPath
        ));
        assert!(matches!(
            error("smtp://mail.example.com?tls=yes"),
            MailConfigError::InvalidTls { value } if value == "yes"
        ));
        assert!(matches!(
            error("smtps://mail.example.com?tls=starttls"),
            MailConfigError::InvalidTls { .. }
        ));
        assert!(matches!(
            error("smtp://mail.example.com?timeout=5"),
            MailConfigError::UnknownParameter { name } if name == "timeout"
        ));
        assert!(matches!(
            error("smtps://user@mail.example.com"),
            MailConfigError::InvalidCredentials
        ));
        assert!(matches!(
            error("smtps://:secret@mail.example.com"),
            MailConfigError::InvalidCredentials
        ));
        assert!(matches!(
            error("smtps://user:%FF@mail.example.com"),
            MailConfigError::InvalidCredentials
        ));
        assert!(matches!(
            error("smtp://user:secret@mail.example.com"),
            MailConfigError::CredentialsInClear { host } if host == "mail.example.com"
        ));
    }

    #[test]
    fn errors_never_repeat_the_password() {
        for url in [
            "smtp://user:hunter2@mail.example.com",
            "smtp://user:hunter2@mail.example.com/path",
            "ftp://user:hunter2@mail.example.com",
            "smtp://user:hunter2@mail.example.com:99999",
        ] {
            let error = SmtpMailer::from_url(url, "a@example.com").expect_err(url);
            assert!(!error.to_string().contains("hunter2"), "{url}: {error}");
        }
    }

    #[test]
    fn the_sender_and_root_certificates_are_checked() {
        assert!(matches!(
            SmtpMailer::from_url("smtp://127.0.0.1", "not an address"),
            Err(MailConfigError::InvalidFrom { .. })
        ));
        SmtpMailer::from_url("smtp://127.0.0.1", "Example <no-reply@example.com>")
            .expect("a named sender");
        assert!(matches!(
            SmtpMailer::from_url("smtp://127.0.0.1", "a@example.com")
                .expect("valid")
                .with_root_certificate_pem(b""),
            Err(MailConfigError::RootCertificateWithoutTls)
        ));
        assert!(matches!(
            SmtpMailer::from_url("smtps://127.0.0.1", "a@example.com")
                .expect("valid")
                .with_root_certificate_pem(b"not a pem"),
            Err(MailConfigError::InvalidCertificate { .. })
        ));
    }

    #[tokio::test]
    async fn a_malformed_recipient_is_a_permanent_error_before_connecting() {
        // Port 9 on loopback: nothing is contacted, the address is refused first.
        let mailer = SmtpMailer::from_url("smtp://127.0.0.1:9", "a@example.com").expect("valid");
        let message = Message::new("test", "not an address", "Subject", "text", "html");
        let error = mailer.send(&message).await.expect_err("refused");
        assert!(
            matches!(&error, MailError::InvalidAddress { address, .. } if address == "not an address"),
            "{error}"
        );
        assert!(error.is_permanent());
    }

    #[test]
    fn the_debug_form_hides_the_password() {
        let mailer = SmtpMailer::from_url("smtps://user:hunter2@mail.example.com", "a@example.com")
            .expect("valid");
        let debug = format!("{mailer:?}");
        assert!(
            debug.contains("user") && !debug.contains("hunter2"),
            "{debug}"
        );
    }
}
