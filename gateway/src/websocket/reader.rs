//! The receiving state machine: frames in, messages out, control frames answered on the way.
//!
//! ```text
//!            ┌──────────── header incomplete: read more ◄──────────┐
//!            ▼                                                      │
//!   ┌─► [ await header ] ──parse (rules in frame.rs)──► [ payload: copy + unmask ] ──┐
//!   │        │ bad header → Close 1002              ▲  text: UTF-8 checked as it    │
//!   │        │ too big    → Close 1009              │  comes (bad → Close 1007)     │
//!   │        ▼                                      └── more bytes ◄──────────────┘ │
//!   │   frame complete:                                                             │
//!   │     Ping  → Pong (now, or left for the writer if it is busy) ─────────────────┤
//!   │     Pong  → keep-alive answered ──────────────────────────────────────────────┤
//!   │     data, FIN clear → keep assembling (continuations only) ───────────────────┘
//!   │     data, FIN set   → Message::Text / Message::Binary  ──► returned by recv
//!   │     Close           → reply Close (same code) ──► Message::Close(code, reason)
//!   └── next recv
//!   While waiting for bytes: shutdown signal → Close 1001; ping interval → Ping;
//!   no Pong in time → Close 1011; idle timeout → Close 1000.
//! ```
//!
//! Why the progress of a frame lives in the struct and not in local variables: `recv` may be
//! dropped at any await (a `select` on two sockets, a timeout), and the next `recv` must go on
//! from the same byte. Every await is a read of the socket; everything between them is
//! synchronous and commits its progress before the next await.
//!
//! Zero-copy where it counts: headers are parsed in the connection's own read buffer, and an
//! unfragmented message that fits in that buffer (8 KiB, replaced by a 32 KiB one at the first
//! frame that does not fit) is unmasked **in place** and handed out from there: no copy at all,
//! the read syscall's is the only one.
//! Its bytes stay in the buffer (not consumed) until the next `recv`, so the borrow the app holds
//! is sound; a frame still arriving waits in the buffer too (compacted to its start by
//! `fill_more`), text checked for UTF-8 as it comes. Fragmented messages and larger frames are
//! assembled in a reused message buffer, copied once while unmasking; the rest of a frame larger
//! than the connection's buffer is read straight into the message buffer with the connection's
//! buffer behind it in the same `readv` (`read_spilling`), so the next frame's first bytes come
//! along and the read ends short: no `EAGAIN` probe before the next wait.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Instant;

use futures_lite::future::{pending, FutureExt};
use waitless_reactor::{sleep, sleep_until};

use super::close;
use super::error::{Error, ProtocolError};
use super::frame::{self, Header};
use super::message::Message;
use super::shared::Shared;
use super::utf8::Utf8Check;
use crate::interface::UpgradedReader;

/// A message buffer larger than this is freed after its message (memory per idle socket stays
/// small after one big message).
const KEEP_CAPACITY: usize = 64 * 1024;
/// The read buffer a connection gets when its first frame does not fit in the usual one (8 KiB):
/// a 16 KiB message then arrives in one read and is unmasked in place. Until then an idle
/// WebSocket holds only the usual buffer.
const GROWN_READ_BUFFER: usize = 32 * 1024;
/// The most read straight into the message buffer at once (it grows as bytes arrive, never to a
/// declared length up front).
const DIRECT_STEP: usize = 1024 * 1024;

/// A frame whose header was read and whose payload is arriving.
#[derive(Clone, Copy, Debug)]
struct InFrame {
    header: Header,
    len: usize,
    done: usize,
    /// The payload stays in the connection's buffer (`buffered()[..done]`, unmasked) instead of
    /// being copied into `msg`: an unfragmented data frame that fits in that buffer.
    in_place: bool,
}

/// What reading produced.
enum Got {
    /// A complete data message (its opcode) in `msg`.
    Message(u8),
    /// A Close frame with this code (the reason is `ctrl[2..ctrl_len]`).
    Close(u16),
    /// The client closed the TCP connection.
    Eof,
}

/// Why reading stopped without a message.
enum Halt {
    Protocol(ProtocolError),
    Io(io::Error),
    Shutdown,
    PingTimeout,
    Idle,
}

impl From<ProtocolError> for Halt {
    fn from(e: ProtocolError) -> Halt {
        Halt::Protocol(e)
    }
}

/// The receiving side of a socket.
pub(crate) struct RecvState<'a> {
    io: UpgradedReader<'a>,
    frame: Option<InFrame>,
    /// The opcode (text or binary) of the message being assembled.
    kind: Option<u8>,
    msg: Vec<u8>,
    /// `msg[..committed]` is payload; anything behind it is zeroed room the last direct read
    /// left (kept, so that a frame trickling in does not zero the same room again per read) or
    /// a read that was abandoned.
    committed: usize,
    utf8: Utf8Check,
    ctrl: [u8; frame::MAX_CONTROL],
    ctrl_len: usize,
    /// The last message returned was `io.buffered()[..n]`, unmasked in place: consumed when the
    /// next read starts (the app's borrow of it ended with the `&mut` of the next `recv`).
    lent: Option<usize>,
    /// `recv` returned `Close` or failed: there is nothing more to read.
    done: bool,
    /// The client started a Close frame: it sends nothing after it, so a failure needs no
    /// draining.
    peer_closing: bool,
}

impl<'a> RecvState<'a> {
    pub(crate) fn new(io: UpgradedReader<'a>) -> RecvState<'a> {
        RecvState {
            io,
            frame: None,
            kind: None,
            msg: Vec::new(),
            committed: 0,
            utf8: Utf8Check::default(),
            ctrl: [0; frame::MAX_CONTROL],
            ctrl_len: 0,
            lent: None,
            done: false,
            peer_closing: false,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Reads frames until a message, a Close, the end of the stream, or a reason to stop.
    /// `watch`: whether the shutdown signal and keep-alive timers interrupt the wait.
    async fn next(&mut self, sh: &Shared<'_>, watch: bool) -> Result<Got, Halt> {
        if let Some(n) = self.lent.take() {
            self.io.consume(n);
        }
        self.msg.truncate(self.committed);
        loop {
            let Some(f) = self.frame else {
                if !self.start_frame(sh)? && self.wait_header(sh, watch).await? == 0 {
                    return Ok(Got::Eof);
                }
                continue;
            };
            if f.done < f.len {
                let took = if f.in_place {
                    self.unmask_in_place()?
                } else {
                    self.take_buffered()?
                };
                if took == 0 && self.wait_payload(sh, watch, f).await? == 0 {
                    return Ok(Got::Eof);
                }
                continue;
            }
            self.frame = None;
            self.msg.truncate(self.committed);
            if f.in_place {
                self.lent = Some(f.len);
                let text = &self.io.buffered()[..f.len];
                if f.header.opcode == frame::TEXT && std::str::from_utf8(text).is_err() {
                    return Err(ProtocolError::InvalidUtf8.into());
                }
            }
            if let Some(got) = self.complete(sh, f.header).await? {
                return Ok(got);
            }
        }
    }

    /// Parses a header from the buffered bytes, if a whole one is there; checks it against the
    /// message in progress and the size limit.
    fn start_frame(&mut self, sh: &Shared<'_>) -> Result<bool, Halt> {
        let buffered = self.io.buffered();
        if buffered.first().is_some_and(|b| b & 0x0F == frame::CLOSE) {
            self.peer_closing = true;
        }
        let Some((header, n)) = frame::parse_header(buffered)? else {
            return Ok(false);
        };
        let max = sh.limits.max_message_size as u64;
        match header.opcode {
            frame::TEXT | frame::BINARY if self.kind.is_some() => {
                return Err(ProtocolError::ExpectedContinuation.into())
            }
            frame::TEXT | frame::BINARY => {
                if header.len > max {
                    return Err(ProtocolError::TooBig.into());
                }
                self.kind = Some(header.opcode);
                self.msg.clear();
                self.committed = 0;
                self.utf8.reset();
            }
            frame::CONTINUATION if self.kind.is_none() => {
                return Err(ProtocolError::UnexpectedContinuation.into())
            }
            frame::CONTINUATION if header.len > max - (self.committed as u64).min(max) => {
                return Err(ProtocolError::TooBig.into())
            }
            _ => self.ctrl_len = 0,
        }
        if !header.is_control() && header.len > self.io.capacity() as u64 {
            // The first frame too large for the connection's buffer: a larger one, once.
            self.io.reserve(GROWN_READ_BUFFER);
        }
        // A data frame with FIN set here starts a message (a continuation failed above).
        let in_place = header.fin
            && matches!(header.opcode, frame::TEXT | frame::BINARY)
            && header.len <= self.io.capacity() as u64;
        self.io.consume(n);
        if sh.limits.ping_interval.is_some() || sh.limits.idle_timeout.is_some() {
            sh.last_frame.set(Instant::now());
        }
        self.frame = Some(InFrame {
            header,
            // At most the message size limit (data) or 125 (control): fits in usize.
            len: usize::try_from(header.len).map_err(|_| ProtocolError::TooBig)?,
            done: 0,
            in_place,
        });
        Ok(true)
    }

    /// Moves buffered payload bytes of the current frame into place; returns how many.
    fn take_buffered(&mut self) -> Result<usize, Halt> {
        let Some(f) = self.frame.as_mut() else {
            return Ok(0);
        };
        let buffered = self.io.buffered();
        let n = buffered.len().min(f.len - f.done);
        if n == 0 {
            return Ok(0);
        }
        let bytes = &buffered[..n];
        if f.header.is_control() {
            let dst = &mut self.ctrl[f.done..f.done + n];
            dst.copy_from_slice(bytes);
            frame::unmask(dst, f.header.mask, f.done);
            self.ctrl_len = f.done + n;
        } else {
            self.msg.truncate(self.committed);
            let start = self.msg.len();
            self.msg.extend_from_slice(bytes);
            frame::unmask(&mut self.msg[start..], f.header.mask, f.done);
            self.committed = self.msg.len();
        }
        f.done += n;
        let f = *f;
        self.io.consume(n);
        self.check_text(f)?;
        Ok(n)
    }

    /// Unmasks the newly buffered payload bytes of an in-place frame where they are; returns
    /// how many. Text is checked as it comes (fail fast), like an assembled message.
    fn unmask_in_place(&mut self) -> Result<usize, Halt> {
        let Some(f) = self.frame.as_mut() else {
            return Ok(0);
        };
        let buf = self.io.buffered_mut();
        let have = buf.len().min(f.len);
        if have <= f.done {
            return Ok(0);
        }
        frame::unmask(&mut buf[f.done..have], f.header.mask, f.done);
        let n = have - f.done;
        f.done = have;
        if f.header.opcode == frame::TEXT && have < f.len {
            self.utf8
                .feed(&buf[..have])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(n)
    }

    /// The payload of the message `next` just completed.
    fn payload(&self) -> &[u8] {
        match self.lent {
            Some(n) => &self.io.buffered()[..n],
            None => &self.msg,
        }
    }

    /// Fail-fast UTF-8 check of a text message still arriving (a complete message is checked
    /// once, when it is turned into a `&str`).
    fn check_text(&mut self, f: InFrame) -> Result<(), Halt> {
        let last = f.header.fin && f.done == f.len;
        if self.kind == Some(frame::TEXT) && !f.header.is_control() && !last {
            self.utf8
                .feed(&self.msg[..self.committed])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    async fn wait_header(&mut self, sh: &Shared<'_>, watch: bool) -> Result<usize, Halt> {
        race(sh, watch, self.io.fill_more()).await
    }

    /// Waits for more payload: into the connection's buffer behind what is there for a frame
    /// kept in place; straight into the message buffer (the connection's buffer catching what
    /// follows) when the rest of a data frame is larger than the connection's buffer; else into
    /// the connection's buffer.
    async fn wait_payload(
        &mut self,
        sh: &Shared<'_>,
        watch: bool,
        f: InFrame,
    ) -> Result<usize, Halt> {
        if f.in_place {
            // Never 0 for a full buffer: the frame fits, and nothing before it is kept.
            return race(sh, watch, self.io.fill_more()).await;
        }
        let rest = f.len - f.done;
        if f.header.is_control() || rest < self.io.capacity() {
            let io = &mut self.io;
            return race(
                sh,
                watch,
                async move { io.fill_buf().await.map(|b| b.len()) },
            )
            .await;
        }
        // Zero only room not zeroed before: a large frame arriving a few bytes per read must not
        // cost a megabyte of memset per read.
        let start = self.committed;
        let end = start + rest.min(DIRECT_STEP);
        if self.msg.len() < end {
            self.msg.resize(end, 0);
        }
        let n = race(sh, watch, self.io.read_spilling(&mut self.msg[start..end])).await?;
        frame::unmask(&mut self.msg[start..start + n], f.header.mask, f.done);
        self.committed = start + n;
        let f = InFrame {
            done: f.done + n,
            ..f
        };
        self.frame = Some(f);
        self.check_text(f)?;
        Ok(n)
    }

    /// A frame is complete: answer a control frame, or finish a message.
    async fn complete(&mut self, sh: &Shared<'_>, h: Header) -> Result<Option<Got>, Halt> {
        match h.opcode {
            frame::PING => {
                if !sh.close_sent.get() {
                    sh.set_pong(&self.ctrl[..self.ctrl_len]);
                    if let Some(mut w) = sh.try_lock() {
                        w.flush().await.map_err(Halt::Io)?;
                    }
                }
                Ok(None)
            }
            frame::PONG => {
                sh.ping_sent.set(None);
                Ok(None)
            }
            frame::CLOSE => {
                let (code, _) = close::parse(&self.ctrl[..self.ctrl_len])?;
                Ok(Some(Got::Close(code)))
            }
            _ if h.fin => Ok(self.kind.take().map(Got::Message)),
            _ => Ok(None),
        }
    }

    /// Forgets a big message buffer once its message was delivered.
    fn trim(&mut self) {
        if self.msg.capacity() > KEEP_CAPACITY {
            self.msg = Vec::new();
            self.committed = 0;
        }
    }

    /// Reads and discards frames until the client's Close or the end of the stream, for at most
    /// the close timeout (after this side sent Close).
    async fn await_close(&mut self, sh: &Shared<'_>) {
        let wait = async {
            for _ in 0..1_000_000 {
                match self.next(sh, false).await {
                    Ok(Got::Message(_)) => continue,
                    _ => break,
                }
            }
        };
        wait.or(sleep(sh.limits.close_timeout)).await;
        self.done = true;
    }

    /// After a protocol error the byte stream cannot be parsed any more: discard bytes until
    /// the client closes, for at most the close timeout.
    async fn drain(&mut self, sh: &Shared<'_>) {
        self.done = true;
        if self.peer_closing {
            return;
        }
        let io = &mut self.io;
        let wait = async {
            loop {
                match io.fill_buf().await {
                    Ok([]) | Err(_) => break,
                    Ok(b) => {
                        let n = b.len();
                        io.consume(n);
                    }
                }
            }
        };
        wait.or(sleep(sh.limits.close_timeout)).await;
        self.done = true;
    }

    /// Sends Close for a failure and ends the conversation.
    async fn fail(&mut self, sh: &Shared<'_>, halt: Halt) -> Error {
        self.done = true;
        match halt {
            Halt::Protocol(e) => {
                let _ = send_close(sh, Some(e.close_code()), e.reason()).await;
                self.drain(sh).await;
                Error::Protocol(e)
            }
            Halt::Io(e) => {
                sh.broken.set(true);
                Error::Io(e)
            }
            Halt::PingTimeout => {
                let _ = send_close(sh, Some(close::INTERNAL_ERROR), "ping timeout")
                    .or(async {
                        sleep(sh.limits.close_timeout).await;
                        Ok(())
                    })
                    .await;
                Error::PingTimeout
            }
            Halt::Idle => {
                let _ = send_close(sh, Some(close::NORMAL), "idle timeout").await;
                self.await_close(sh).await;
                Error::IdleTimeout
            }
            Halt::Shutdown => Error::Closed,
        }
    }

    /// The close handshake this side starts (`WebSocket::close`): send, then wait for the
    /// client's Close.
    pub(crate) async fn close(
        &mut self,
        sh: &Shared<'_>,
        code: u16,
        reason: &str,
    ) -> Result<(), Error> {
        send_close(sh, Some(code), reason).await?;
        if !self.done {
            self.await_close(sh).await;
        }
        Ok(())
    }
}

/// Receives the next message (see [`WebSocket::recv`](super::WebSocket::recv)).
pub(crate) async fn recv<'s>(
    rx: &'s mut RecvState<'_>,
    sh: &Shared<'_>,
) -> Result<Message<'s>, Error> {
    if rx.done {
        return Err(Error::Closed);
    }
    rx.trim();
    match rx.next(sh, true).await {
        Ok(Got::Message(frame::TEXT)) if rx.lent.is_none() => match std::str::from_utf8(&rx.msg) {
            Ok(text) => Ok(Message::Text(text)),
            Err(_) => Err(fail_utf8(&mut rx.io, &mut rx.done, sh).await),
        },
        // Kept in place: `next` validated it already (a failure there closes with 1007), but a
        // `&str` needs its own check (a borrow returned from one arm of this match could not
        // coexist with the `&mut` a failure needs; no `unsafe` to skip it).
        Ok(Got::Message(frame::TEXT)) => match std::str::from_utf8(rx.payload()) {
            Ok(text) => Ok(Message::Text(text)),
            Err(_) => Err(Error::Protocol(ProtocolError::InvalidUtf8)),
        },
        Ok(Got::Message(_)) => Ok(Message::Binary(rx.payload())),
        Ok(Got::Close(code)) => {
            rx.done = true;
            // Echo the code (RFC 6455 §5.5.1); an empty Close is answered with an empty one.
            let echo = (code != close::NO_STATUS).then_some(code);
            let _ = send_close(sh, echo, "").await;
            let reason = std::str::from_utf8(rx.ctrl.get(2..rx.ctrl_len).unwrap_or(&[]));
            Ok(Message::Close(code, reason.unwrap_or("")))
        }
        Ok(Got::Eof) => {
            rx.done = true;
            sh.broken.set(true);
            Ok(Message::Close(close::ABNORMAL, ""))
        }
        Err(Halt::Shutdown) => {
            let _ = send_close(sh, Some(close::GOING_AWAY), "going away").await;
            rx.await_close(sh).await;
            Ok(Message::Close(close::GOING_AWAY, "going away"))
        }
        Err(halt) => Err(rx.fail(sh, halt).await),
    }
}

/// A complete text message turned out not to be UTF-8: Close 1007 and discard the rest.
async fn fail_utf8(io: &mut UpgradedReader<'_>, done: &mut bool, sh: &Shared<'_>) -> Error {
    *done = true;
    let e = ProtocolError::InvalidUtf8;
    let _ = send_close(sh, Some(e.close_code()), e.reason()).await;
    let wait = async {
        while let Ok(b @ [_, ..]) = io.fill_buf().await {
            let n = b.len();
            io.consume(n);
        }
    };
    wait.or(sleep(sh.limits.close_timeout)).await;
    Error::Protocol(e)
}

/// Sends a Close frame once (later calls do nothing).
pub(crate) async fn send_close(
    sh: &Shared<'_>,
    code: Option<u16>,
    reason: &str,
) -> Result<(), Error> {
    if sh.close_sent.get() {
        return Ok(());
    }
    if sh.broken.get() {
        return Err(Error::Closed);
    }
    let mut w = sh.lock().await;
    if sh.close_sent.get() {
        return Ok(());
    }
    close::write(w.buffer(), code, reason);
    sh.close_sent.set(true);
    w.flush().await.map_err(Error::Io)
}

/// What woke a wait for bytes.
enum Wake {
    Read(io::Result<usize>),
    Shutdown,
    Deadline,
    Pong,
}

/// Waits for `read`, while watching (if `watch`) the shutdown signal and the keep-alive
/// deadlines, and writing a Pong left pending when the writer frees up.
async fn race<F>(sh: &Shared<'_>, watch: bool, read: F) -> Result<usize, Halt>
where
    F: Future<Output = io::Result<usize>>,
{
    let mut read = pin!(read);
    for _ in 0..1_000_000 {
        let reading = async { Wake::Read(read.as_mut().await) };
        let shutdown = async {
            if !watch {
                pending::<()>().await;
            }
            sh.shutdown.wait().await;
            Wake::Shutdown
        };
        let deadline = async {
            match deadline(sh).filter(|_| watch) {
                Some(at) => sleep_until(at).await,
                None => pending().await,
            };
            Wake::Deadline
        };
        let pong = async {
            sh.pong_ready().await;
            Wake::Pong
        };
        match reading.or(shutdown).or(deadline).or(pong).await {
            Wake::Read(r) => return r.map_err(Halt::Io),
            Wake::Shutdown => return Err(Halt::Shutdown),
            Wake::Deadline => on_deadline(sh).await?,
            Wake::Pong => {
                if let Some(mut w) = sh.try_lock() {
                    w.flush().await.map_err(Halt::Io)?;
                }
            }
        }
    }
    Err(Halt::Io(io::ErrorKind::TimedOut.into()))
}

/// The next keep-alive or idle deadline, if any is configured.
fn deadline(sh: &Shared<'_>) -> Option<Instant> {
    let l = sh.limits;
    let last = sh.last_frame.get();
    let ping = match sh.ping_sent.get() {
        Some(sent) => Some(sent + l.ping_timeout),
        None => l.ping_interval.map(|i| last + i),
    };
    let idle = l.idle_timeout.map(|i| last + i);
    match (ping, idle) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A deadline passed: fail for idleness or a missing Pong, or send the keep-alive Ping.
async fn on_deadline(sh: &Shared<'_>) -> Result<(), Halt> {
    let now = Instant::now();
    let l = sh.limits;
    if l.idle_timeout
        .is_some_and(|i| now >= sh.last_frame.get() + i)
    {
        return Err(Halt::Idle);
    }
    match (sh.ping_sent.get(), l.ping_interval) {
        (Some(sent), _) if now >= sent + l.ping_timeout => Err(Halt::PingTimeout),
        (None, Some(i)) if now >= sh.last_frame.get() + i => {
            sh.ping_sent.set(Some(now));
            if sh.close_sent.get() {
                return Ok(());
            }
            let mut w = sh.lock().await;
            frame::write_frame(w.buffer(), frame::PING, b"waitless");
            w.flush().await.map_err(Halt::Io)
        }
        _ => Ok(()),
    }
}
