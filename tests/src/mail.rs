//! The test SMTP server (`tests/smtp/start-smtp.sh`): where it is, and what it saved.
//!
//! The server saves every message, as received, to a Maildir, with `X-Mail-From` and
//! `X-Rcpt-To` headers added; a test sends to a recipient of its own and finds its message by
//! it.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use tokio::net::TcpStream;

use crate::env::{env_or, skipped};

/// Where the test server is, from the environment or the start script's defaults.
pub struct Env {
    pub url: String,
    pub starttls_url: String,
    pub smtps_url: String,
    pub ca_cert: PathBuf,
    pub mailbox: PathBuf,
}

impl Env {
    pub fn read() -> Self {
        let dir = format!("{}/axum-login-smtp", env_or("TMPDIR", "/tmp"));
        Self {
            url: env_or("SMTP_URL", "smtp://127.0.0.1:2525"),
            starttls_url: env_or(
                "SMTP_STARTTLS_URL",
                "smtp://mailer:mail-secret@127.0.0.1:2587?tls=starttls",
            ),
            smtps_url: env_or("SMTPS_URL", "smtps://mailer:mail-secret@127.0.0.1:2465"),
            ca_cert: PathBuf::from(env_or("SMTP_CA_CERT", &format!("{dir}/ca.pem"))),
            mailbox: PathBuf::from(env_or("SMTP_MAILBOX", &format!("{dir}/Maildir"))),
        }
    }

    pub fn ca_cert(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert)
            .unwrap_or_else(|error| panic!("reading {}: {error}", self.ca_cert.display()))
    }
}

/// `host:port` of an SMTP URL.
fn address(url: &str) -> &str {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority.split(['/', '?']).next().unwrap_or(authority);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// The test server, or `None` after a loud `SKIPPED` when it is unreachable outside CI (under
/// CI, a failure).
pub async fn server(test: &str) -> Option<Env> {
    let env = Env::read();
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        TcpStream::connect(address(&env.url)),
    )
    .await;
    match reachable {
        Ok(Ok(_)) => Some(env),
        Ok(Err(error)) => {
            skipped(
                test,
                &format!(
                    "the SMTP server at {} is unreachable ({error}); tests/smtp/start-smtp.sh starts one",
                    env.url
                ),
            );
            None
        }
        Err(_) => {
            skipped(
                test,
                &format!(
                    "the SMTP server at {} did not answer; tests/smtp/start-smtp.sh starts one",
                    env.url
                ),
            );
            None
        }
    }
}

/// The raw message the server saved for `to`, waiting a little for it.
pub async fn delivered_to(mailbox: &Path, to: &str) -> String {
    delivered_matching(mailbox, to, |_| true).await
}

/// The raw message the server saved for `to` whose parts, decoded, satisfy `wanted` (a test
/// that receives several mails picks one), waiting a little for it.
pub async fn delivered_matching(
    mailbox: &Path,
    to: &str,
    wanted: impl Fn(&Mail) -> bool,
) -> String {
    let marker = format!("X-Rcpt-To: {to}\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for dir in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(mailbox.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(raw) = std::fs::read_to_string(entry.path())
                    && raw.starts_with("X-Mail-From:")
                    && raw.contains(&marker)
                    && wanted(&Mail::parse(&raw))
                {
                    return raw;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no such message to {to} in {}",
            mailbox.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A received mail, split just enough for the assertions: its headers and its decoded parts.
pub struct Mail {
    pub headers: String,
    /// Each part's `Content-Type` and its decoded body.
    pub parts: Vec<(String, String)>,
}

impl Mail {
    pub fn parse(raw: &str) -> Self {
        let raw = raw.replace("\r\n", "\n");
        let (headers, body) = raw.split_once("\n\n").expect("headers, then a body");
        let headers = unfold(headers);
        let boundary = header(&headers, "Content-Type")
            .and_then(|value| value.split_once("boundary=\""))
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(boundary, _)| format!("--{boundary}"))
            .unwrap_or_else(|| panic!("a multipart message:\n{headers}"));
        let parts = body
            .split(&boundary)
            .skip(1)
            .take_while(|part| !part.starts_with("--"))
            .map(|part| {
                let (part_headers, content) = part
                    .trim_start_matches('\n')
                    .split_once("\n\n")
                    .expect("a part's headers, then its body");
                let part_headers = unfold(part_headers);
                let content_type = header(&part_headers, "Content-Type")
                    .expect("each part has a type")
                    .to_owned();
                let decoded = match header(&part_headers, "Content-Transfer-Encoding") {
                    Some(encoding) if encoding.eq_ignore_ascii_case("quoted-printable") => {
                        quoted_printable(content)
                    }
                    Some(encoding) if encoding.eq_ignore_ascii_case("base64") => String::from_utf8(
                        STANDARD
                            .decode(content.split_whitespace().collect::<String>())
                            .expect("valid base64"),
                    )
                    .expect("UTF-8"),
                    _ => content.to_owned(),
                };
                (content_type, decoded)
            })
            .collect();
        Self { headers, parts }
    }

    pub fn header(&self, name: &str) -> &str {
        header(&self.headers, name).unwrap_or_else(|| panic!("no {name} in:\n{}", self.headers))
    }
}

/// Headers with their continuation lines joined.
fn unfold(headers: &str) -> String {
    headers.replace("\n ", " ").replace("\n\t", " ")
}

fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Quoted-printable decoded: soft line breaks removed, `=XX` turned back into bytes.
fn quoted_printable(encoded: &str) -> String {
    let bytes = encoded.replace("=\n", "").into_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16)
        {
            decoded.push(byte);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).expect("UTF-8")
}
