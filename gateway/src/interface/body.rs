//! The request body: an async stream of chunks read straight out of the connection's buffer.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::ops::Range;
use std::time::Duration;

use crate::h1::chunked::{ChunkedDecoder, ChunkedError};
use crate::transport::Io;

/// Why reading the request body failed. After an error the body stays failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The body is larger than its limit ([`Body::set_limit`], default `Config::max_body_size`).
    TooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// The chunked framing is invalid.
    Malformed(ChunkedError),
    /// The client closed the connection before the body was complete.
    Disconnected,
    /// Nothing arrived for longer than the body-read timeout (`Config::body_read_timeout`).
    Timeout,
    /// Reading the socket failed.
    Io(io::ErrorKind),
}

impl BodyError {
    /// The status the server answers with when the app does not handle the error itself.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge { .. } => 413,
            BodyError::Malformed(_) | BodyError::Disconnected => 400,
            BodyError::Timeout => 408,
            BodyError::Io(_) => 500,
        }
    }

    /// The server's `detail` message for [`status`](Self::status).
    pub(crate) fn detail(&self) -> &'static str {
        match self {
            BodyError::TooLarge { .. } => "Request body too large",
            BodyError::Malformed(_) => "Invalid chunked request body",
            BodyError::Disconnected => "Incomplete request body",
            BodyError::Timeout => "Request Timeout",
            BodyError::Io(_) => "Internal Server Error",
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge { limit } => write!(f, "request body larger than {limit} bytes"),
            BodyError::Malformed(e) => write!(f, "malformed chunked body: {e}"),
            BodyError::Disconnected => {
                f.write_str("client disconnected before the body was complete")
            }
            BodyError::Timeout => f.write_str("the client stopped sending the request body"),
            BodyError::Io(kind) => write!(f, "reading the request body failed: {kind}"),
        }
    }
}

impl std::error::Error for BodyError {}

#[derive(Debug)]
pub(crate) enum Framing {
    Length(u64),
    Chunked(ChunkedDecoder),
    Empty,
}

/// Where `Expect: 100-continue` stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Not asked for, or already answered with `100 Continue`.
    None,
    /// Asked for; `100 Continue` is sent on the first body read.
    Pending,
    /// The final response started first: `100 Continue` must never follow it, and the client
    /// may not send the body at all, so the connection closes after the response.
    Refused,
}

/// What the body and the response of one request must know of each other, shared by reference
/// (both live on the connection's one thread).
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) expect: Cell<Expect>,
    /// The body was read to its end (or there is none).
    pub(crate) body_done: Cell<bool>,
    /// All of the body is already in the read buffer: skipping it costs no wait, so the
    /// connection can be kept alive even if the app never reads it.
    pub(crate) body_buffered: bool,
}

/// The connection-owned part of a body: survives the app's `Body` so the server knows how much
/// was consumed and whether the rest must be drained.
#[derive(Debug)]
pub(crate) struct BodyState {
    pub(crate) framing: Framing,
    /// Unconsumed bytes are `buf[pos..filled]`.
    pub(crate) pos: usize,
    pub(crate) filled: usize,
    pub(crate) received: u64,
    pub(crate) limit: u64,
    pub(crate) timeout: Duration,
    pub(crate) error: Option<BodyError>,
    pub(crate) done: bool,
}

/// One step of decoding what is buffered.
enum Step {
    Data(Range<usize>),
    End,
    NeedMore,
}

impl BodyState {
    pub(crate) fn new(framing: Framing, filled: usize, limit: u64, timeout: Duration) -> BodyState {
        let done = matches!(framing, Framing::Empty);
        BodyState {
            framing,
            pos: 0,
            filled,
            received: 0,
            limit,
            timeout,
            error: None,
            done,
        }
    }

    fn fail(&mut self, e: BodyError) -> BodyError {
        self.error = Some(e);
        e
    }

    /// Decodes the next piece of what is buffered in `buf[pos..filled]`, without I/O.
    fn step(&mut self, buf: &[u8]) -> Result<Step, BodyError> {
        loop {
            if let Some(e) = self.error {
                return Err(e);
            }
            if self.done {
                return Ok(Step::End);
            }
            if let Framing::Length(remaining) = self.framing {
                // A declared length over the limit fails before a byte is read (and before
                // `100 Continue` invites the client to send it).
                if self.received.saturating_add(remaining) > self.limit {
                    return Err(self.fail(BodyError::TooLarge { limit: self.limit }));
                }
            }
            if self.pos == self.filled {
                return Ok(Step::NeedMore);
            }
            let avail = &buf[self.pos..self.filled];
            let range = match &mut self.framing {
                Framing::Empty => None,
                Framing::Length(remaining) => {
                    let n = (*remaining).min(avail.len() as u64) as usize;
                    *remaining -= n as u64;
                    self.done = *remaining == 0;
                    let r = self.pos..self.pos + n;
                    self.pos += n;
                    Some(r)
                }
                Framing::Chunked(dec) => match dec.decode(avail) {
                    Err(e) => return Err(self.fail(BodyError::Malformed(e))),
                    Ok((used, data)) => {
                        let r = data.map(|d| self.pos + d.start..self.pos + d.end);
                        self.pos += used;
                        self.done = dec.is_done();
                        r
                    }
                },
            };
            if let Some(r) = range {
                self.received += r.len() as u64;
                if self.received > self.limit {
                    return Err(self.fail(BodyError::TooLarge { limit: self.limit }));
                }
                if !r.is_empty() {
                    return Ok(Step::Data(r));
                }
            }
        }
    }

    /// Skips what is left of the body if it is all buffered; false if it is not (or malformed).
    pub(crate) fn skip_buffered(&mut self, buf: &[u8]) -> bool {
        self.limit = u64::MAX; // already in memory: the limit no longer protects anything
        loop {
            match self.step(buf) {
                Ok(Step::Data(_)) => {}
                Ok(Step::End) => return true,
                Ok(Step::NeedMore) | Err(_) => return false,
            }
        }
    }
}

/// Whether the whole body behind a head is already in `buf` (a dry run of the framing).
pub(crate) fn fully_buffered(framing: &Framing, buf: &[u8]) -> bool {
    match framing {
        Framing::Empty => true,
        Framing::Length(n) => *n <= buf.len() as u64,
        Framing::Chunked(dec) => {
            let mut dec = dec.clone();
            let mut pos = 0;
            while pos < buf.len() && !dec.is_done() {
                match dec.decode(&buf[pos..]) {
                    Ok((used, _)) if used > 0 => pos += used,
                    _ => return false,
                }
            }
            dec.is_done()
        }
    }
}

/// The request body, read chunk by chunk (`Content-Length` or chunked, decoded by the server).
///
/// Chunks are slices of the connection's read buffer, valid until the next call. The limit
/// (`Config::max_body_size` unless [`set_limit`](Self::set_limit) changed it) is enforced
/// while streaming: a declared `Content-Length` over it fails the first read, a chunked body
/// fails as soon as it grows past it. If the request said `Expect: 100-continue`, the first
/// read sends `100 Continue` — unless the response has already started; an app that never
/// reads the body never invites it. An idle gap longer than `Config::body_read_timeout` fails
/// the read with [`BodyError::Timeout`] (the server answers `408` if nothing was sent).
pub struct Body<'a> {
    pub(crate) state: &'a mut BodyState,
    pub(crate) buf: &'a mut [u8],
    pub(crate) io: &'a Io,
    pub(crate) exchange: &'a Exchange,
}

impl Body<'_> {
    /// The declared length, if the request had `Content-Length` (0 for no body).
    pub fn content_length(&self) -> Option<u64> {
        match self.state.framing {
            Framing::Length(n) => Some(self.state.received + n),
            Framing::Empty => Some(0),
            Framing::Chunked(_) => None,
        }
    }

    /// Whether the whole body has been read.
    pub fn is_complete(&self) -> bool {
        self.state.done
    }

    /// The largest body this request may have (bytes).
    pub fn limit(&self) -> u64 {
        self.state.limit
    }

    /// Raises or lowers the body limit for this request, before reading: one route can accept
    /// a 50 MiB upload while the server's default stays 1 MiB.
    ///
    /// ```
    /// # async fn upload(mut body: waitless_gateway::Body<'_>) -> Result<(), waitless_gateway::BodyError> {
    /// body.set_limit(50 * 1024 * 1024);
    /// while let Some(chunk) = body.chunk().await? {
    ///     let _ = chunk; // hash it, write it to disk, ...
    /// }
    /// # Ok(()) }
    /// ```
    pub fn set_limit(&mut self, limit: u64) {
        self.state.limit = limit;
    }

    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<&[u8]>, BodyError> {
        let range = loop {
            match self.state.step(self.buf) {
                Ok(Step::Data(r)) => break r,
                Ok(Step::End) => {
                    self.exchange.body_done.set(true);
                    return Ok(None);
                }
                Ok(Step::NeedMore) => self.fill().await?,
                Err(e) => return Err(e),
            }
        };
        if self.state.done {
            self.exchange.body_done.set(true);
        }
        Ok(Some(&self.buf[range]))
    }

    /// Reads more bytes from the connection into the buffer (after answering `100-continue`).
    async fn fill(&mut self) -> Result<(), BodyError> {
        let st = &mut *self.state;
        if self.exchange.expect.get() == Expect::Pending {
            self.exchange.expect.set(Expect::None);
            self.io
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(|e| st.fail(BodyError::Io(e.kind())))?;
        }
        if st.pos == st.filled {
            st.pos = 0;
            st.filled = 0;
        } else if st.filled == self.buf.len() {
            self.buf.copy_within(st.pos..st.filled, 0);
            st.filled -= st.pos;
            st.pos = 0;
        }
        let spare = &mut self.buf[st.filled..];
        if spare.is_empty() {
            // Cannot happen: the server leaves room for a body behind every head.
            return Err(st.fail(BodyError::Io(io::ErrorKind::OutOfMemory)));
        }
        match self.io.read_timeout(spare, st.timeout).await {
            Ok(0) => Err(st.fail(BodyError::Disconnected)),
            Ok(n) => {
                st.filled += n;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(st.fail(BodyError::Timeout)),
            Err(e) => Err(st.fail(BodyError::Io(e.kind()))),
        }
    }

    /// Reads the whole body into a `Vec` (at most [`limit`](Self::limit) bytes).
    pub async fn to_vec(&mut self) -> Result<Vec<u8>, BodyError> {
        let mut out =
            Vec::with_capacity(self.content_length().unwrap_or(0).min(self.state.limit) as usize);
        while let Some(chunk) = self.chunk().await? {
            out.extend_from_slice(chunk);
        }
        Ok(out)
    }

    /// Waits until the client closes the connection (ASGI's `http.disconnect`), for apps that
    /// stream a response for a long time. Bytes the client sends meanwhile (a pipelined request)
    /// are kept for the server. Call it after the body is complete.
    ///
    /// A hang-up is noticed even when the read buffer is full of such bytes: the socket is then
    /// asked directly (`POLLRDHUP`), every [`HANGUP_CHECK`] — the only case with a periodic check.
    pub async fn disconnected(&mut self) {
        loop {
            let st = &mut *self.state;
            if st.pos == st.filled {
                st.pos = 0;
                st.filled = 0;
            }
            let spare = &mut self.buf[st.filled..];
            if spare.is_empty() {
                while !self.io.transport.peer_closed() {
                    waitless_reactor::sleep(HANGUP_CHECK).await;
                }
                return;
            }
            let transport = &self.io.transport;
            match std::future::poll_fn(|cx| transport.poll_read(cx, spare)).await {
                Ok(0) | Err(_) => return,
                Ok(n) => st.filled += n,
            }
        }
    }
}

/// How often [`Body::disconnected`] asks the socket when its read buffer is full.
pub const HANGUP_CHECK: Duration = Duration::from_millis(100);

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("content_length", &self.content_length())
            .field("complete", &self.state.done)
            .field("limit", &self.state.limit)
            .finish()
    }
}
