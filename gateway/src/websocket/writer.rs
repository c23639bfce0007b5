//! Sending: frames appended to the connection's write buffer, written with one syscall per
//! flush.
//!
//! Backpressure comes from the connection: a flush waits while the client's receive window is
//! full and fails after the server's `send_timeout` without progress, so a client that stops
//! reading costs at most the write buffer (`write_high_water` plus one message) and is
//! disconnected in bounded time. Payloads that are sent at once from 4 KiB on, and every payload
//! of 64 KiB or more, are not copied into the buffer: the buffer (with the frame's header at its
//! end) and the payload go out in one vectored write (`sendmsg`), so an echo of a message
//! received in place in the connection's read buffer is written from there, copied by nobody
//! but the kernel.

use super::close;
use super::error::Error;
use super::frame;
use super::message::Message;
use super::reader::send_close;
use super::shared::Shared;

/// Payloads from this size on are written directly instead of copied into the buffer, even
/// when only queued (`feed`): the queue is flushed with them.
const DIRECT: usize = 64 * 1024;
/// A payload sent at once (`send`) from this size on is written directly, beside the buffer in
/// one vectored write; below it a copy into the buffer costs less than the longer syscall.
const VECTORED: usize = 4 * 1024;

/// Appends one data or control frame; flushes when asked or past the high-water mark.
pub(crate) async fn send_frame(
    sh: &Shared<'_>,
    opcode: u8,
    payload: &[u8],
    flush: bool,
) -> Result<(), Error> {
    if sh.close_sent.get() || sh.broken.get() {
        return Err(Error::Closed);
    }
    let mut w = sh.lock().await;
    if sh.close_sent.get() || sh.broken.get() {
        return Err(Error::Closed);
    }
    if payload.len() >= DIRECT || (flush && payload.len() >= VECTORED) {
        frame::write_header(w.buffer(), true, opcode, payload.len());
        return w.flush_with(payload).await.map_err(Error::Io);
    }
    frame::write_frame(w.buffer(), opcode, payload);
    if flush || w.buffer().len() >= sh.limits.write_high_water {
        w.flush().await?;
    }
    Ok(())
}

/// Sends a message: text, binary, or Close.
pub(crate) async fn send(sh: &Shared<'_>, msg: Message<'_>, flush: bool) -> Result<(), Error> {
    match msg {
        Message::Text(t) => send_frame(sh, frame::TEXT, t.as_bytes(), flush).await,
        Message::Binary(b) => send_frame(sh, frame::BINARY, b, flush).await,
        Message::Close(code, reason) => close_only(sh, code, reason).await,
    }
}

/// Sends Close without waiting for the answer (the reading half receives it).
pub(crate) async fn close_only(sh: &Shared<'_>, code: u16, reason: &str) -> Result<(), Error> {
    if !close::is_sendable(code) {
        return Err(Error::InvalidCloseCode(code));
    }
    send_close(sh, Some(code), reason).await
}

/// Writes whatever `feed` queued.
pub(crate) async fn flush(sh: &Shared<'_>) -> Result<(), Error> {
    if sh.broken.get() {
        return Err(Error::Closed);
    }
    let mut w = sh.lock().await;
    w.flush().await.map_err(Error::Io)
}

/// Sends a Ping (payload cut to 125 bytes).
pub(crate) async fn ping(sh: &Shared<'_>, payload: &[u8]) -> Result<(), Error> {
    let payload = &payload[..payload.len().min(frame::MAX_CONTROL)];
    send_frame(sh, frame::PING, payload, true).await
}
