//! A blocking HTTP/1.1 keep-alive client that reports how a request ended.
//!
//! Why not a library client: the chaos runs must tell apart a request that was on a connection
//! when its worker died (no byte of response, connection reset or closed) from one refused at
//! connect, and must know which worker held the connection (`X-Worker-Pid`) — details a
//! general client hides behind its retries.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How a request ended when it did not get a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// `connect` failed (refused: nothing listens, or the backlog is full).
    Connect,
    /// The connection had served requests before and closed or reset without a byte of this
    /// response: the request may be retried (HTTP/1.1 §9.3.1, what nginx and ureq do for
    /// idempotent requests) — the server closed an idle connection, or its process died, while
    /// the request was on its way.
    Stale,
    /// Closed or reset with no complete response on a fresh connection, or mid-response.
    Broken,
    /// No response within the client's timeout.
    Timeout,
}

/// A complete response.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    /// `X-Worker-Pid`, when the app sent one.
    pub pid: Option<u32>,
    pub body: Vec<u8>,
    /// The server said `Connection: close`.
    pub close: bool,
}

/// One keep-alive connection (opened on first use, reopened after a failure or a close).
pub struct Conn {
    addr: SocketAddr,
    timeout: Duration,
    stream: Option<TcpStream>,
    /// Requests answered on the current connection.
    served: u64,
    /// `X-Worker-Pid` of the current connection's last response.
    pub pid: Option<u32>,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(addr: SocketAddr, timeout: Duration) -> Conn {
        Conn {
            addr,
            timeout,
            stream: None,
            served: 0,
            pid: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// True when the next request goes out on a connection that already served one.
    pub fn reused(&self) -> bool {
        self.stream.is_some() && self.served > 0
    }

    /// Sends `method path` (with `body` as JSON when given) and reads the response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Reply, Failure> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, self.timeout)
                .map_err(|_| Failure::Connect)?;
            let _ = s.set_nodelay(true);
            let _ = s.set_read_timeout(Some(self.timeout));
            let _ = s.set_write_timeout(Some(self.timeout));
            self.stream = Some(s);
            self.served = 0;
            self.pid = None;
        }
        let reused = self.served > 0;
        let result = self.exchange(method, path, body);
        match result {
            Ok(reply) => {
                self.served += 1;
                self.pid = reply.pid.or(self.pid);
                if reply.close {
                    self.stream = None;
                }
                Ok(reply)
            }
            Err((got_bytes, kind)) => {
                self.stream = None;
                Err(match kind {
                    Failure::Broken if reused && !got_bytes => Failure::Stale,
                    k => k,
                })
            }
        }
    }

    /// Drops the connection (the next request opens a new one).
    pub fn reset(&mut self) {
        self.stream = None;
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Reply, (bool, Failure)> {
        let Some(s) = self.stream.as_mut() else {
            return Err((false, Failure::Broken));
        };
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ));
        } else {
            req.push_str("\r\n");
        }
        if let Err(e) = s.write_all(req.as_bytes()) {
            return Err((false, io_failure(&e)));
        }
        self.buf.clear();
        read_response(s, &mut self.buf)
    }
}

fn io_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::Broken,
    }
}

/// Reads one response with a Content-Length or chunked body; `Err((any byte read, why))`.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Reply, (bool, Failure)> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err((true, Failure::Broken));
        }
        fill(s, buf, &mut chunk)?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or((true, Failure::Broken))?;
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
    };
    let pid = header("x-worker-pid").and_then(|v| v.parse().ok());
    let close = header("connection").is_some_and(|v| v.contains("close"));
    let body = if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < head_end + len {
            fill(s, buf, &mut chunk)?;
        }
        buf[head_end..head_end + len].to_vec()
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while find(&buf[head_end..], b"0\r\n\r\n").is_none() {
            if buf.len() > 16 * 1024 * 1024 {
                return Err((true, Failure::Broken));
            }
            fill(s, buf, &mut chunk)?;
        }
        buf[head_end..].to_vec()
    } else {
        Vec::new()
    };
    Ok(Reply {
        status,
        pid,
        body,
        close,
    })
}

fn fill(s: &mut TcpStream, buf: &mut Vec<u8>, chunk: &mut [u8]) -> Result<(), (bool, Failure)> {
    match s.read(chunk) {
        Ok(0) => Err((!buf.is_empty(), Failure::Broken)),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Err(e) => Err((!buf.is_empty(), io_failure(&e))),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
