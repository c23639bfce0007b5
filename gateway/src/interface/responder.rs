//! The responder: how an app answers (ASGI's `http.response.start` / `http.response.body`).
//!
//! ```text
//!  NotStarted ──send()/send_with()──────────────────────────────────► Done
//!      │                                                               ▲
//!      ├──start()──► Streaming ──write(chunk)* / flush()*──► finish() ─┘
//!      │
//!      └──upgrade(body)──► Upgraded (101 sent; the app owns the raw connection)
//! ```
//!
//! Nothing is written to the socket until it has to be: a complete response (`send`,
//! `send_with`) and streamed chunks (`write`) are appended to the connection's write buffer,
//! which the server writes with one syscall per batch of pipelined requests. A streamed response
//! reaches the client when the app calls [`Responder::flush`] (an SSE event, say), when the
//! buffer passes `Config::write_high_water`, or when `call` returns. Every write waits while the
//! client is not reading (backpressure: memory stays bounded) and fails after
//! `Config::send_timeout` without progress.

use std::fmt;
use std::io;

use crate::h1::header::{is_field_value, is_token};
use crate::h1::response::{push_hex, push_status, push_u64};
use crate::h1::Version;
use crate::interface::body::{Body, Exchange, Expect};
use crate::interface::shared::Shared;
use crate::interface::upgrade::Upgraded;
use crate::transport::Io;

/// Why a response could not be sent.
#[derive(Debug)]
pub enum ResponseError {
    /// `start`/`send` was called after the response had started.
    AlreadyStarted,
    /// `write`/`finish` was called before `start`.
    NotStarted,
    /// A header name is not a token or a value contains a control byte (CR, LF, NUL, ...).
    InvalidHeader(String),
    /// The status is not a final status (200–999), or `101` outside [`Responder::upgrade`].
    InvalidStatus(u16),
    /// [`Responder::upgrade`] on a request that did not ask for an upgrade.
    NotUpgradable,
    /// More body bytes than the `Content-Length` the app declared.
    BodyTooLong,
    /// The body writer passed to `send_with` failed.
    Body(io::Error),
    /// Writing to the client failed (it went away, or stopped reading past the send timeout).
    Io(io::Error),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::AlreadyStarted => f.write_str("the response has already started"),
            ResponseError::NotStarted => f.write_str("the response has not started"),
            ResponseError::InvalidHeader(name) => write!(f, "invalid response header {name:?}"),
            ResponseError::InvalidStatus(s) => write!(f, "{s} is not a valid final status"),
            ResponseError::NotUpgradable => f.write_str("the request did not ask for an upgrade"),
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
    /// `101` sent: the connection belongs to the app until `call` returns, then it closes.
    Upgraded,
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
    /// The request offered an upgrade (`Connection: upgrade` + `Upgrade`, HTTP/1.1).
    pub(crate) upgradable: bool,
    pub(crate) version: Version,
}

impl ResponseState {
    pub(crate) fn new(
        version: Version,
        head_only: bool,
        close: bool,
        keep_alive_10: bool,
        upgradable: bool,
    ) -> ResponseState {
        ResponseState {
            phase: Phase::NotStarted,
            status: 0,
            head_only,
            close,
            keep_alive_10,
            upgradable,
            version,
        }
    }
}

/// Headers the server writes itself; an app's copies are ignored. (Length first: one
/// comparison for almost every header.)
fn managed(name: &str, shared: &Shared) -> bool {
    let is = |m: &str| name.eq_ignore_ascii_case(m);
    match name.len() {
        4 => shared.head.writes_date() && is("date"),
        6 => shared.head.writes_server() && is("server"),
        10 => is("connection"),
        14 => is("content-length"),
        17 => is("transfer-encoding"),
        _ => false,
    }
}

fn bodyless(status: u16) -> bool {
    status == 204 || status == 304
}

/// An empty header list (`res.send(204, NO_HEADERS, b"")`): a bare `&[]` leaves the value type
/// open.
pub const NO_HEADERS: &[(&str, &str)] = &[];

/// Answers one request. Obtained by the app with its [`Request`](crate::Request).
///
/// Header values are anything that is bytes (`&str`, `&[u8]`, `String`, ...); names must be
/// tokens and values must not contain control bytes, or the call fails with
/// [`ResponseError::InvalidHeader`] and nothing is written.
pub struct Responder<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    pub(crate) scratch: &'a mut Vec<u8>,
    pub(crate) io: &'a Io,
    pub(crate) state: &'a mut ResponseState,
    pub(crate) shared: &'a Shared,
    pub(crate) exchange: &'a Exchange,
}

impl<'a> Responder<'a> {
    /// Whether `start`, `send`, `send_with` or `upgrade` has been called.
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
    pub fn send<V: AsRef<[u8]>>(
        &mut self,
        status: u16,
        headers: &[(&str, V)],
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
    pub fn send_with<V: AsRef<[u8]>>(
        &mut self,
        status: u16,
        headers: &[(&str, V)],
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
    pub fn start<V: AsRef<[u8]>>(
        &mut self,
        status: u16,
        headers: &[(&str, V)],
    ) -> Result<(), ResponseError> {
        let declared = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| {
                std::str::from_utf8(v.as_ref())
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| ResponseError::InvalidHeader("content-length".into()))
            })
            .transpose()?;
        self.begin(status, headers, declared)
    }

    fn check<V: AsRef<[u8]>>(
        &self,
        status: u16,
        headers: &[(&str, V)],
    ) -> Result<(), ResponseError> {
        if self.is_started() {
            return Err(ResponseError::AlreadyStarted);
        }
        if !(200..=999).contains(&status) {
            return Err(ResponseError::InvalidStatus(status));
        }
        for (name, value) in headers {
            if !is_token(name.as_bytes()) || !is_field_value(value.as_ref()) {
                return Err(ResponseError::InvalidHeader((*name).to_owned()));
            }
        }
        Ok(())
    }

    /// Decides whether the connection survives this response, before its head is written (so
    /// the head can say `Connection: close` whenever the server will close).
    fn decide_close(&mut self) {
        if self.shared.shutdown.is_started() {
            self.state.close = true;
        }
        if self.exchange.expect.get() == Expect::Pending {
            // Never `100 Continue` after the final response; the client may or may not send
            // the body now, so the connection cannot be reused.
            self.exchange.expect.set(Expect::Refused);
            self.state.close = true;
        } else if !self.exchange.body_done.get() && !self.exchange.body_buffered {
            // The rest of the body has not arrived: waiting for it only to throw it away would
            // hold this response (a 405 on a slow upload) — close instead.
            self.state.close = true;
        }
    }

    fn begin<V: AsRef<[u8]>>(
        &mut self,
        status: u16,
        headers: &[(&str, V)],
        length: Option<u64>,
    ) -> Result<(), ResponseError> {
        self.check(status, headers)?;
        self.decide_close();
        let chunked =
            length.is_none() && self.state.version == Version::Http11 && !bodyless(status);
        if length.is_none() && !chunked && !bodyless(status) {
            // HTTP/1.0 with an unknown length: the end of the body is the end of the connection.
            self.state.close = true;
        }
        let out = &mut *self.out;
        push_status(out, status, &self.shared.head);
        for (name, value) in headers {
            if !managed(name, self.shared) {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_ref());
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

    /// Appends one chunk of a streamed response to the write buffer. It reaches the client at
    /// the next [`flush`](Self::flush), when the buffer passes `write_high_water` (then this
    /// call waits for the client to read), or when `call` returns.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), ResponseError> {
        let Phase::Streaming { chunked, remaining } = self.state.phase else {
            return Err(match self.state.phase {
                Phase::NotStarted => ResponseError::NotStarted,
                _ => ResponseError::AlreadyStarted,
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
        if self.out.len() >= self.shared.write_high_water {
            self.flush().await?;
        }
        Ok(())
    }

    /// Ends a streamed response. A response shorter than its declared `Content-Length` makes the
    /// server close the connection.
    pub async fn finish(&mut self) -> Result<(), ResponseError> {
        let Phase::Streaming { chunked, remaining } = self.state.phase else {
            return match self.state.phase {
                Phase::NotStarted => Err(ResponseError::NotStarted),
                _ => Ok(()),
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

    /// Writes everything buffered so far to the client (waits while it is not reading).
    pub async fn flush(&mut self) -> Result<(), ResponseError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let res = self.io.write_all(self.out).await;
        self.out.clear();
        res.map_err(ResponseError::Io)
    }

    /// Whether the request asked for an upgrade this responder can grant
    /// (`Connection: upgrade` with an `Upgrade` header, on HTTP/1.1).
    pub fn can_upgrade(&self) -> bool {
        self.state.upgradable && !self.is_started()
    }

    /// Answers `101 Switching Protocols` and hands the app the raw connection: first the bytes
    /// the server already read behind the request head, then the socket, both directions, for
    /// the rest of `call`. The server closes the connection when `call` returns.
    ///
    /// `headers` must include `upgrade` (the protocol switched to); the server adds
    /// `Connection: Upgrade`, `Server` and `Date`. The RFC 6455 handshake headers
    /// (`Sec-WebSocket-Accept`, ...) are the caller's.
    ///
    /// ```
    /// # use waitless_gateway::{App, Request, Responder};
    /// // An echo of raw bytes after a 101 (no WebSocket framing).
    /// struct RawEcho;
    /// impl App for RawEcho {
    ///     async fn call(&self, req: Request<'_>, res: Responder<'_>) {
    ///         let Ok(mut conn) = res.upgrade(req.body, &[("upgrade", "echo")]).await else {
    ///             return;
    ///         };
    ///         let mut buf = [0u8; 1024];
    ///         while let Ok(n @ 1..) = conn.read(&mut buf).await {
    ///             if conn.write_all(&buf[..n]).await.is_err() {
    ///                 break;
    ///             }
    ///         }
    ///     }
    /// }
    /// ```
    pub async fn upgrade<V: AsRef<[u8]>>(
        self,
        body: Body<'a>,
        headers: &[(&str, V)],
    ) -> Result<Upgraded<'a>, ResponseError> {
        if self.is_started() {
            return Err(ResponseError::AlreadyStarted);
        }
        if !self.state.upgradable {
            return Err(ResponseError::NotUpgradable);
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("upgrade"))
        {
            return Err(ResponseError::InvalidHeader("upgrade".into()));
        }
        self.check(200, headers)?;
        let Responder {
            out,
            io,
            state,
            shared,
            exchange,
            ..
        } = self;
        push_status(out, 101, &shared.head);
        for (name, value) in headers {
            if !managed(name, shared) {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_ref());
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"Connection: Upgrade\r\n\r\n");
        state.status = 101;
        state.phase = Phase::Upgraded;
        state.close = true;
        exchange.expect.set(Expect::None);
        let res = io.write_all(out).await;
        out.clear();
        res.map_err(ResponseError::Io)?;
        let Body {
            state: body, buf, ..
        } = body;
        Ok(Upgraded::new(io, buf, body.pos, body.filled, out))
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
