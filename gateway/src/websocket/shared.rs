//! What the reading and the writing half of a socket share: the connection's writer behind a
//! small async lock, the close-handshake flags, a pending Pong and the keep-alive clock.
//!
//! Why a lock at all on one thread: the reader must write too (a Pong for each Ping, the Close
//! reply, a 1002 on bad input) while the writer half may be in the middle of a send that waits
//! for a slow client. Frames must not interleave, so whoever writes takes the writer out of its
//! cell and puts it back when done ([`WriteGuard`]); a reader that finds it taken leaves its
//! Pong here for the writer to send with its next flush (at most one pending Pong: a newer Ping
//! replaces it, as RFC 6455 §5.5.3 allows) and does not wait.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::frame;
use super::options::Limits;
use crate::interface::{ShutdownSignal, UpgradedWriter};

/// Shared state of one socket.
pub(crate) struct Shared<'a> {
    writer: Cell<Option<UpgradedWriter<'a>>>,
    waiters: RefCell<Vec<Waker>>,
    pub(crate) limits: Limits,
    pub(crate) shutdown: ShutdownSignal<'a>,
    /// This side sent Close: no more data frames.
    pub(crate) close_sent: Cell<bool>,
    /// A write failed or was abandoned half-way: the byte stream is no longer frame-aligned.
    pub(crate) broken: Cell<bool>,
    pong: RefCell<Vec<u8>>,
    pong_pending: Cell<bool>,
    /// When the last frame arrived (kept only with a ping interval or idle timeout).
    pub(crate) last_frame: Cell<Instant>,
    /// When the unanswered keep-alive Ping went out.
    pub(crate) ping_sent: Cell<Option<Instant>>,
}

impl<'a> Shared<'a> {
    pub(crate) fn new(
        writer: UpgradedWriter<'a>,
        limits: Limits,
        shutdown: ShutdownSignal<'a>,
    ) -> Self {
        Shared {
            writer: Cell::new(Some(writer)),
            waiters: RefCell::new(Vec::new()),
            limits,
            shutdown,
            close_sent: Cell::new(false),
            broken: Cell::new(false),
            pong: RefCell::new(Vec::new()),
            pong_pending: Cell::new(false),
            last_frame: Cell::new(Instant::now()),
            ping_sent: Cell::new(None),
        }
    }

    /// Takes the writer if nobody holds it.
    pub(crate) fn try_lock(&self) -> Option<WriteGuard<'_, 'a>> {
        self.writer.take().map(|w| WriteGuard {
            shared: self,
            writer: Some(w),
            writing: false,
            spare: Vec::new(),
        })
    }

    /// Waits for the writer.
    pub(crate) async fn lock(&self) -> WriteGuard<'_, 'a> {
        poll_fn(|cx| match self.try_lock() {
            Some(guard) => Poll::Ready(guard),
            None => {
                self.register(cx);
                Poll::Pending
            }
        })
        .await
    }

    fn register(&self, cx: &mut Context<'_>) {
        let mut waiters = self.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
    }

    /// Leaves a Pong for whoever writes next (replacing an older one).
    pub(crate) fn set_pong(&self, payload: &[u8]) {
        let mut pong = self.pong.borrow_mut();
        pong.clear();
        pong.extend_from_slice(payload);
        self.pong_pending.set(true);
    }

    /// Resolves when a Pong is pending and the writer is free (never if no Pong is pending).
    pub(crate) async fn pong_ready(&self) {
        poll_fn(|cx| {
            if self.pong_pending.get() && self.is_free() {
                return Poll::Ready(());
            }
            if self.pong_pending.get() {
                self.register(cx);
            }
            Poll::Pending
        })
        .await
    }

    fn is_free(&self) -> bool {
        let w = self.writer.take();
        let free = w.is_some();
        self.writer.set(w);
        free
    }

    /// Appends the pending Pong, if any, to `out`.
    fn take_pong(&self, out: &mut Vec<u8>) {
        if self.pong_pending.replace(false) && !self.close_sent.get() {
            frame::write_frame(out, frame::PONG, &self.pong.borrow());
        }
    }

    /// Called when the socket is dropped: a socket the app did not close gets Close 1000,
    /// appended to the connection's write buffer (the server writes it out after `call`).
    pub(crate) fn close_on_drop(&self, code: u16) {
        if self.close_sent.get() || self.broken.get() {
            return;
        }
        if let Some(mut w) = self.writer.take() {
            super::close::write(w.buffer(), Some(code), "");
            self.close_sent.set(true);
            self.writer.set(Some(w));
        }
    }
}

/// The writer, held by one half while it writes.
pub(crate) struct WriteGuard<'s, 'a> {
    shared: &'s Shared<'a>,
    writer: Option<UpgradedWriter<'a>>,
    /// A write is in flight; if the guard is dropped now (the future was cancelled), part of a
    /// frame may be on the wire.
    writing: bool,
    /// Stands in for the buffer if the writer were missing (it never is; no allocation).
    spare: Vec<u8>,
}

impl WriteGuard<'_, '_> {
    /// The connection's write buffer (with the pending Pong appended first).
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        let shared = self.shared;
        match self.writer.as_mut() {
            Some(w) => {
                let buf = w.buffer();
                shared.take_pong(buf);
                buf
            }
            // Never: a guard holds the writer until it is dropped.
            None => &mut self.spare,
        }
    }

    /// Writes the buffer out (waiting for a slow client, up to the server's send timeout).
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        self.buffer();
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        self.writing = true;
        let res = w.flush().await;
        self.writing = false;
        if res.is_err() {
            self.shared.broken.set(true);
        }
        res
    }

    /// Writes the buffer and then `bytes` (not copied) in one vectored write where the
    /// transport has one (for large payloads).
    pub(crate) async fn flush_with(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buffer();
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        self.writing = true;
        let res = w.flush_with(bytes).await;
        self.writing = false;
        if res.is_err() {
            self.shared.broken.set(true);
        }
        res
    }
}

impl Drop for WriteGuard<'_, '_> {
    fn drop(&mut self) {
        if let Some(mut w) = self.writer.take() {
            if self.writing {
                self.shared.broken.set(true);
                w.buffer().clear();
            }
            self.shared.writer.set(Some(w));
        }
        let waiters = std::mem::take(&mut *self.shared.waiters.borrow_mut());
        waiters.into_iter().for_each(Waker::wake);
    }
}
