//! The responder: how an app answers (ASGI's `http.response.start` / `http.response.body`).
//!
//! ```text
//!  NotStarted ──send()/send_with()──────────────────────────────► Done
//!      │                                                          ▲
//!      └──start()──► Streaming ──write(chunk)*──► finish() ───────┘
//! ```
//!
//! A complete response (`send`, `send_with`) is only *buffered*: the server writes every response
//! of a pipelined batch with one syscall after the batch. A streamed response (`start` + `write`)
//! is flushed at every `write`, so events reach the client when they are produced, and `write`
//! waits while the client is not reading (backpressure: memory stays bounded).

use std::fmt;
use std::io;

use waitless_reactor::TcpStream;

use crate::interface::body::write_all;
use crate::interface::scope::Version;
use crate::server::response::{push_hex, push_status, push_u64};

/// Why a response could not be sent.
#[derive(Debug)]
pub enum ResponseError {
    /// `start`/`send` was called after the response had started.
    AlreadyStarted,
    /// `write`/`finish` was called before `start`.
    NotStarted,
    /// A header name is not a token or a value contains CR, LF or NUL.
    InvalidHeader(String),
    /// More body bytes than the `Content-Length` the app declared.
    BodyTooLong,
    /// The body writer passed to `send_with` failed.
    Body(io::Error),
    /// Writing to the client failed (it went away).
    Io(io::Error),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::AlreadyStarted => f.write_str("the response has already started"),
            ResponseError::NotStarted => f.write_str("the response has not started"),
            ResponseError::InvalidHeader(name) => write!(f, "invalid response header {name:?}"),
            ResponseError::BodyTooLong => {
                f.write_str("body longer than the declared Content-Length")
            }
            ResponseError::Body(e) => write!(f, "producing the response body failed: {e}"),
            ResponseError::Io(e) => write!(f, "writing the response failed: {e}"),
        }
    }
}

impl std::error::Error for ResponseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResponseError::Body(e) | ResponseError::Io(e) => Some(e),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    NotStarted,
    Streaming {
        chunked: bool,
        remaining: Option<u64>,
    },
    Done,
}

/// The connection-owned part of a response.
#[derive(Debug)]
pub(crate) struct ResponseState {
    pub(crate) phase: Phase,
    pub(crate) status: u16,
    /// The request was `HEAD`: send headers only.
    pub(crate) head_only: bool,
    /// The connection closes after this response.
    pub(crate) close: bool,
    /// HTTP/1.0 keep-alive: say `Connection: keep-alive`.
    pub(crate) keep_alive_10: bool,
    pub(crate) version: Version,
}

impl ResponseState {
    pub(crate) fn new(
        version: Version,
        head_only: bool,
        close: bool,
        keep_alive_10: bool,
    ) -> ResponseState {
        ResponseState {
            phase: Phase::NotStarted,
            status: 0,
            head_only,
            close,
            keep_alive_10,
            version,
        }
    }
}

/// Headers the server writes itself; an app's copies are ignored. (Length first: one
/// comparison for almost every header.)
fn managed(name: &str) -> bool {
    let is = |m: &str| name.eq_ignore_ascii_case(m);
    match name.len() {
        4 => is("date"),
        6 => is("server"),
        10 => is("connection"),
        14 => is("content-length"),
        17 => is("transfer-encoding"),
        _ => false,
    }
}

/// RFC 9110 `tchar`s, as a lookup table.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| TCHAR[b as usize])
}

fn bodyless(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// Answers one request. Obtained by the app with its [`Request`](crate::Request).
pub struct Responder<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    pub(crate) scratch: &'a mut Vec<u8>,
    pub(crate) stream: &'a TcpStream,
    pub(crate) state: &'a mut ResponseState,
    /// The worker is shutting down: every response from now on closes its connection.
    pub(crate) shutting_down: &'a std::cell::Cell<bool>,
}

impl Responder<'_> {
    /// Whether `start`, `send` or `send_with` has been called.
    pub fn is_started(&self) -> bool {
        self.state.phase != Phase::NotStarted
    }

    /// The status sent (0 before the response started).
    pub fn status(&self) -> u16 {
        self.state.status
    }

    /// Asks the server to close the connection after this response.
    pub fn close_connection(&mut self) {
        self.state.close = true;
    }

    /// Sends a complete response with a known body; the server adds `Content-Length`, `Date`,
    /// `Server` and `Connection` as needed.
    pub fn send(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), ResponseError> {
        self.begin(status, headers, Some(body.len() as u64))?;
        if !self.state.head_only && !bodyless(status) {
            self.out.extend_from_slice(body);
        }
        self.state.phase = Phase::Done;
        Ok(())
    }

    /// Sends a complete response whose body `write_body` produces into a reused buffer (for
    /// example `|buf| serde_json::to_writer(buf, &value).map_err(std::io::Error::other)`): the
    /// body is serialized per request with no allocation once the buffer has grown.
    pub fn send_with(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        write_body: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
    ) -> Result<(), ResponseError> {
        if self.is_started() {
            return Err(ResponseError::AlreadyStarted);
        }
        self.scratch.clear();
        write_body(self.scratch).map_err(ResponseError::Body)?;
        self.begin(status, headers, Some(self.scratch.len() as u64))?;
        if !self.state.head_only && !bodyless(status) {
            self.out.extend_from_slice(self.scratch);
        }
        self.state.phase = Phase::Done;
        Ok(())
    }

    /// Starts a streamed response. With a `content-length` header the body must have exactly that
    /// length; without one it is sent chunked (HTTP/1.1) or delimited by closing (HTTP/1.0).
    pub fn start(&mut self, status: u16, headers: &[(&str, &str)]) -> Result<(), ResponseError> {
        let declared = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.trim().parse::<u64>())
            .transpose()
            .map_err(|_| ResponseError::InvalidHeader("content-length".into()))?;
        self.begin(status, headers, declared)
    }

    fn begin(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        length: Option<u64>,
    ) -> Result<(), ResponseError> {
        if self.is_started() {
            return Err(ResponseError::AlreadyStarted);
        }
        for (name, value) in headers {
            if !is_token(name) || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(ResponseError::InvalidHeader((*name).to_owned()));
            }
        }
        let status = if (100..=999).contains(&status) {
            status
        } else {
            500
        };
        if self.shutting_down.get() {
            self.state.close = true;
        }
        let chunked =
            length.is_none() && self.state.version == Version::Http11 && !bodyless(status);
        if length.is_none() && !chunked && !bodyless(status) {
            // HTTP/1.0 with an unknown length: the end of the body is the end of the connection.
            self.state.close = true;
        }
        let out = &mut *self.out;
        push_status(out, status);
        for (name, value) in headers {
            if !managed(name) {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        if self.state.close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if self.state.keep_alive_10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        if !bodyless(status) {
            match length {
                Some(n) => {
                    out.extend_from_slice(b"Content-Length: ");
                    push_u64(out, n);
                    out.extend_from_slice(b"\r\n");
                }
                None if chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
                None => {}
            }
        }
        out.extend_from_slice(b"\r\n");
        self.state.status = status;
        let remaining = if bodyless(status) { Some(0) } else { length };
        self.state.phase = Phase::Streaming { chunked, remaining };
        Ok(())
    }

    /// Sends one chunk of a streamed response and flushes it (waits while the client is not
    /// reading).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), ResponseError> {
        let Phase::Streaming { chunked, remaining } = self.state.phase else {
            return Err(if self.state.phase == Phase::Done {
                ResponseError::AlreadyStarted
            } else {
                ResponseError::NotStarted
            });
        };
        if let Some(left) = remaining {
            if chunk.len() as u64 > left {
                return Err(ResponseError::BodyTooLong);
            }
            self.state.phase = Phase::Streaming {
                chunked,
                remaining: Some(left - chunk.len() as u64),
            };
        }
        if !chunk.is_empty() && !self.state.head_only {
            if chunked {
                push_hex(self.out, chunk.len() as u64);
                self.out.extend_from_slice(b"\r\n");
                self.out.extend_from_slice(chunk);
                self.out.extend_from_slice(b"\r\n");
            } else {
                self.out.extend_from_slice(chunk);
            }
        }
        self.flush().await
    }

    /// Ends a streamed response. A response shorter than its declared `Content-Length` makes the
    /// server close the connection.
    pub async fn finish(&mut self) -> Result<(), ResponseError> {
        let Phase::Streaming { chunked, remaining } = self.state.phase else {
            return match self.state.phase {
                Phase::Done => Ok(()),
                _ => Err(ResponseError::NotStarted),
            };
        };
        if chunked && !self.state.head_only {
            self.out.extend_from_slice(b"0\r\n\r\n");
        }
        if remaining.is_some_and(|r| r > 0) {
            self.state.close = true;
        }
        self.state.phase = Phase::Done;
        Ok(())
    }

    /// Writes everything buffered so far to the client.
    pub async fn flush(&mut self) -> Result<(), ResponseError> {
        let res = write_all(self.stream, self.out).await;
        self.out.clear();
        res.map_err(ResponseError::Io)
    }
}

impl fmt::Debug for Responder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("phase", &self.state.phase)
            .field("status", &self.state.status)
            .finish()
    }
}
