//! The request body: an async stream of chunks read straight out of the connection's buffer.

use std::fmt;
use std::future::poll_fn;
use std::io;

use waitless_reactor::TcpStream;

use crate::server::chunked::{ChunkedDecoder, ChunkedError};

/// Why reading the request body failed. After an error the body stays failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The body is larger than the server's `max_body_size`.
    TooLarge { limit: u64 },
    /// The chunked framing is invalid.
    Malformed(ChunkedError),
    /// The client closed the connection before the body was complete.
    Disconnected,
    /// Reading the socket failed.
    Io(io::ErrorKind),
}

impl BodyError {
    /// The status the server answers with when the app does not handle the error itself.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge { .. } => 413,
            BodyError::Malformed(_) | BodyError::Disconnected => 400,
            BodyError::Io(_) => 500,
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
    /// `Expect: 100-continue` still unanswered.
    pub(crate) expect_continue: bool,
    pub(crate) error: Option<BodyError>,
    pub(crate) done: bool,
}

impl BodyState {
    pub(crate) fn new(
        framing: Framing,
        filled: usize,
        limit: u64,
        expect_continue: bool,
    ) -> BodyState {
        let done = matches!(framing, Framing::Empty);
        BodyState {
            framing,
            pos: 0,
            filled,
            received: 0,
            limit,
            expect_continue: expect_continue && !done,
            error: None,
            done,
        }
    }
}

/// The request body, read chunk by chunk (`Content-Length` or chunked, decoded by the server).
///
/// Chunks are slices of the connection's read buffer, valid until the next call. The server
/// enforces `max_body_size` while streaming, so an app that reads chunk by chunk never holds
/// more than one buffer's worth. If the request said `Expect: 100-continue`, the first read sends
/// `100 Continue`; an app that never reads the body never invites it.
pub struct Body<'a> {
    pub(crate) state: &'a mut BodyState,
    pub(crate) buf: &'a mut [u8],
    pub(crate) stream: &'a TcpStream,
}

impl Body<'_> {
    /// The declared length, if the request had `Content-Length` (0 for no body).
    pub fn content_length(&self) -> Option<u64> {
        match self.state.framing {
            Framing::Length(_) => Some(self.state.received + self.remaining_declared()),
            Framing::Empty => Some(0),
            Framing::Chunked(_) => None,
        }
    }

    fn remaining_declared(&self) -> u64 {
        match self.state.framing {
            Framing::Length(n) => n,
            _ => 0,
        }
    }

    /// Whether the whole body has been read.
    pub fn is_complete(&self) -> bool {
        self.state.done
    }

    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<&[u8]>, BodyError> {
        let range = loop {
            let st = &mut *self.state;
            if let Some(e) = st.error {
                return Err(e);
            }
            if st.done {
                return Ok(None);
            }
            if st.pos < st.filled {
                let avail = &self.buf[st.pos..st.filled];
                let found = match &mut st.framing {
                    Framing::Empty => None,
                    Framing::Length(remaining) => {
                        let n = (*remaining).min(avail.len() as u64) as usize;
                        *remaining -= n as u64;
                        if *remaining == 0 {
                            st.done = true;
                        }
                        let r = st.pos..st.pos + n;
                        st.pos += n;
                        Some(r)
                    }
                    Framing::Chunked(dec) => match dec.decode(avail) {
                        Err(e) => {
                            st.error = Some(BodyError::Malformed(e));
                            return Err(BodyError::Malformed(e));
                        }
                        Ok((used, data)) => {
                            let r = data.map(|d| st.pos + d.start..st.pos + d.end);
                            st.pos += used;
                            if dec.is_done() {
                                st.done = true;
                            }
                            r
                        }
                    },
                };
                if let Some(r) = found {
                    st.received += r.len() as u64;
                    if st.received > st.limit {
                        let e = BodyError::TooLarge { limit: st.limit };
                        st.error = Some(e);
                        return Err(e);
                    }
                    if !r.is_empty() {
                        break r;
                    }
                }
                continue;
            }
            self.fill().await?;
        };
        Ok(Some(&self.buf[range]))
    }

    /// Reads more bytes from the socket into the buffer (after answering `100-continue`).
    async fn fill(&mut self) -> Result<(), BodyError> {
        let st = &mut *self.state;
        if st.expect_continue {
            st.expect_continue = false;
            write_all(self.stream, b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(|e| fail(st, BodyError::Io(e.kind())))?;
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
            // Cannot happen: the buffer is larger than a head, and pos..filled was compacted.
            return Err(fail(st, BodyError::Io(io::ErrorKind::OutOfMemory)));
        }
        let stream = self.stream;
        match poll_fn(|cx| stream.poll_read(cx, spare)).await {
            Ok(0) => Err(fail(st, BodyError::Disconnected)),
            Ok(n) => {
                st.filled += n;
                Ok(())
            }
            Err(e) => Err(fail(st, BodyError::Io(e.kind()))),
        }
    }

    /// Reads the whole body into a `Vec` (at most `max_body_size` bytes).
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
    pub async fn disconnected(&mut self) {
        loop {
            let st = &mut *self.state;
            if st.pos == st.filled {
                st.pos = 0;
                st.filled = 0;
            }
            let spare = &mut self.buf[st.filled..];
            let stream = self.stream;
            if spare.is_empty() {
                // Nowhere to put more bytes: only a hang-up can be observed now.
                if stream.readable().await.is_err() {
                    return;
                }
                std::future::pending::<()>().await;
            }
            match poll_fn(|cx| stream.poll_read(cx, spare)).await {
                Ok(0) | Err(_) => return,
                Ok(n) => st.filled += n,
            }
        }
    }
}

fn fail(st: &mut BodyState, e: BodyError) -> BodyError {
    st.error = Some(e);
    e
}

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("content_length", &self.content_length())
            .field("complete", &self.state.done)
            .finish()
    }
}

/// Writes all of `bytes`, waiting for writability when the socket buffer is full.
pub(crate) async fn write_all(stream: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    let mut stream = stream;
    futures_lite::AsyncWriteExt::write_all(&mut stream, bytes).await
}
