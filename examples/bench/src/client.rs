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
    /// `GET <path>` with this connection's cookie, prebuilt.
    get: Vec<u8>,
    cookie: String,
}

/// The parts of a response the benchmark looks at.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) session_cookie: Option<String>,
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
            get: Vec::new(),
            cookie: String::new(),
        })
    }

    /// Sends `id=<value>` as the session cookie from the next [`prepare`](Self::prepare) on.
    pub(crate) fn set_cookie(&mut self, value: &str) {
        value.clone_into(&mut self.cookie);
    }

    /// Sets the cookie sent from now on and the path that [`get`](Self::get) requests.
    pub(crate) fn prepare(&mut self, path: &str) {
        let cookie = if self.cookie.is_empty() {
            String::new()
        } else {
            format!("Cookie: id={}\r\n", self.cookie)
        };
        self.get = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n{cookie}\r\n").into_bytes();
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

    /// The prepared `GET`; the status.
    pub(crate) async fn get(&mut self) -> io::Result<u16> {
        self.stream.write_all(&self.get).await?;
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
        expect_ok(conn.get().await?)?;
        samples.warmup_requests += 1;
    }
    let start = Instant::now();
    loop {
        let sent = Instant::now();
        expect_ok(conn.get().await?)?;
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
