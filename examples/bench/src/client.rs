//! A minimal HTTP/1.1 keep-alive client: one request at a time per connection, responses framed
//! by `Content-Length` (every response these servers send has one).

use std::{
    io,
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The request of [`prepare`](Self::prepare) with this connection's cookie, prebuilt.
    request: Vec<u8>,
    cookie: String,
    /// The CSRF token its `POST`s carry in `X-CSRF-Token`, once fetched.
    csrf_token: Option<String>,
    /// The API token every request carries in `Authorization: Bearer`, once fetched; the
    /// connection then sends no cookie.
    api_token: Option<String>,
}

/// What a row sends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    /// A `POST` with an empty body, with the connection's CSRF token in `X-CSRF-Token` when it
    /// has one, as a JSON client sends it.
    Post,
}

/// The parts of a response the benchmark looks at.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) session_cookie: Option<String>,
    /// Where the body lies in the connection's buffer.
    body: std::ops::Range<usize>,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
            request: Vec::new(),
            cookie: String::new(),
            csrf_token: None,
            api_token: None,
        })
    }

    /// Sends `id=<value>` as the session cookie from the next [`prepare`](Self::prepare) on.
    pub(crate) fn set_cookie(&mut self, value: &str) {
        value.clone_into(&mut self.cookie);
    }

    /// Sets the cookie sent from now on and the request that [`send`](Self::send) sends.
    pub(crate) fn prepare(&mut self, method: Method, path: &str) {
        let cookie = self.cookie_header();
        self.request = match method {
            Method::Get => format!("GET {path} HTTP/1.1\r\nHost: bench\r\n{cookie}\r\n"),
            Method::Post => {
                let token = self
                    .csrf_token
                    .as_ref()
                    .map_or(String::new(), |token| format!("X-CSRF-Token: {token}\r\n"));
                format!(
                    "POST {path} HTTP/1.1\r\nHost: bench\r\n{cookie}{token}Content-Length: 0\r\n\r\n"
                )
            }
        }
        .into_bytes();
    }

    fn cookie_header(&self) -> String {
        if let Some(token) = &self.api_token {
            format!("Authorization: Bearer {token}\r\n")
        } else if self.cookie.is_empty() {
            String::new()
        } else {
            format!("Cookie: id={}\r\n", self.cookie)
        }
    }

    /// `POST path`, whose body is an API token of this connection's user, sent from the next
    /// [`prepare`](Self::prepare) on instead of the session cookie.
    pub(crate) async fn fetch_api_token(&mut self, path: &str) -> io::Result<()> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\n{}Content-Length: 0\r\n\r\n",
            self.cookie_header()
        );
        self.stream.write_all(request.as_bytes()).await?;
        let answer = self.read().await?;
        expect_ok(answer.status)?;
        let token = std::str::from_utf8(&self.buf[answer.body])
            .map_err(|_| invalid("non-UTF-8 API token"))?;
        self.api_token = Some(token.to_owned());
        Ok(())
    }

    /// `GET path`, whose body is a CSRF token of this connection's session, kept for the
    /// `POST`s from the next [`prepare`](Self::prepare) on.
    pub(crate) async fn fetch_csrf_token(&mut self, path: &str) -> io::Result<()> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: bench\r\n{}\r\n",
            self.cookie_header()
        );
        self.stream.write_all(request.as_bytes()).await?;
        let answer = self.read().await?;
        expect_ok(answer.status)?;
        let token = std::str::from_utf8(&self.buf[answer.body])
            .map_err(|_| invalid("non-UTF-8 CSRF token"))?;
        self.csrf_token = Some(token.to_owned());
        Ok(())
    }

    /// `POST path` with a form body; remembers the session cookie it sets.
    pub(crate) async fn post_form(&mut self, path: &str, body: &str) -> io::Result<Answer> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await?;
        let answer = self.read().await?;
        if let Some(cookie) = &answer.session_cookie {
            self.cookie.clone_from(cookie);
        }
        Ok(answer)
    }

    /// The prepared request; the status.
    pub(crate) async fn send(&mut self) -> io::Result<u16> {
        self.stream.write_all(&self.request).await?;
        Ok(self.read().await?.status)
    }

    async fn read(&mut self) -> io::Result<Answer> {
        self.buf.clear();
        let head_end = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if self.fill().await? == 0 {
                return Err(invalid("connection closed before the response head"));
            }
        };
        let head =
            std::str::from_utf8(&self.buf[..head_end]).map_err(|_| invalid("non-UTF-8 head"))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid("no status line"))?;
        let mut length = None;
        let mut session_cookie = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("set-cookie") {
                if let Some(rest) = value.strip_prefix("id=") {
                    session_cookie = Some(rest.split(';').next().unwrap_or("").to_owned());
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(invalid("chunked responses are not supported"));
            }
        }
        let total = head_end + length.ok_or_else(|| invalid("no content-length"))?;
        while self.buf.len() < total {
            if self.fill().await? == 0 {
                return Err(invalid("connection closed inside the body"));
            }
        }
        Ok(Answer {
            status,
            session_cookie,
            body: head_end..total,
        })
    }

    async fn fill(&mut self) -> io::Result<usize> {
        // `read_buf` fills spare capacity without zeroing it first.
        self.buf.reserve(4096);
        self.stream.read_buf(&mut self.buf).await
    }
}

/// What one connection measured: latencies in nanoseconds.
#[derive(Default)]
pub(crate) struct Samples {
    pub(crate) latencies: Vec<u64>,
    pub(crate) warmup_requests: u64,
    pub(crate) elapsed: Duration,
}

/// Drives `conn` with its prepared request: `warmup`, then `duration` measured. Every answer
/// must be `200`.
pub(crate) async fn drive(
    mut conn: Conn,
    warmup: Duration,
    duration: Duration,
) -> io::Result<(Conn, Samples)> {
    let mut samples = Samples {
        latencies: Vec::with_capacity(1 << 16),
        warmup_requests: 0,
        elapsed: Duration::ZERO,
    };
    let start = Instant::now();
    while start.elapsed() < warmup {
        expect_ok(conn.send().await?)?;
        samples.warmup_requests += 1;
    }
    let start = Instant::now();
    loop {
        let sent = Instant::now();
        expect_ok(conn.send().await?)?;
        let done = Instant::now();
        samples
            .latencies
            .push(done.duration_since(sent).as_nanos() as u64);
        if done.duration_since(start) >= duration {
            samples.elapsed = done.duration_since(start);
            break;
        }
    }
    Ok((conn, samples))
}

fn expect_ok(status: u16) -> io::Result<()> {
    if status == 200 {
        Ok(())
    } else {
        Err(invalid(&format!("expected 200, got {status}")))
    }
}
