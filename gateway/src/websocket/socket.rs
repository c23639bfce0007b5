//! The app's WebSocket: one value for a handler that reads and writes in turn, and a
//! [`split`](WebSocket::split) into two halves for a handler that does both at once.
//!
//! Why the halves borrow instead of owning: the connection is the server's, lent for the rest of
//! `call`, so nothing here is `'static` or spawnable anyway; borrowing the two halves from the
//! socket costs nothing (no `Rc`, no allocation) and lets two futures of the same handler
//! (`futures_lite::future::zip`, `or`) use them at once — the reader in one, the writer in the
//! other, and a reader can even hand a received message straight to the writer (zero copy).

use std::fmt;

use super::close;
use super::error::Error;
use super::message::Message;
use super::options::{Limits, Options};
use super::reader::{self, RecvState};
use super::shared::Shared;
use super::writer;
use crate::interface::{Scope, Upgraded};

/// An open WebSocket (after [`accept`](super::accept)).
///
/// * [`recv`](Self::recv) returns the next text or binary message; Pings are answered and
///   Pongs consumed inside. It returns [`Message::Close`] once — the client closed, went away
///   (1006), or the worker is shutting down (1001, sent by the socket) — then
///   [`Error::Closed`].
/// * [`send`](Self::send), [`send_text`](Self::send_text), [`send_binary`](Self::send_binary)
///   write one message; [`feed`](Self::feed) queues several for one [`flush`](Self::flush).
/// * [`close`](Self::close) runs the close handshake. A socket dropped without it sends
///   Close 1000.
pub struct WebSocket<'a> {
    rx: RecvState<'a>,
    shared: Shared<'a>,
    scope: Scope<'a>,
    protocol: Option<&'a str>,
}

/// The receiving half of a [`WebSocket`] (see [`WebSocket::split`]).
pub struct Reader<'s, 'a> {
    rx: &'s mut RecvState<'a>,
    shared: &'s Shared<'a>,
}

/// The sending half of a [`WebSocket`] (see [`WebSocket::split`]). Copies share the socket;
/// their frames never interleave.
#[derive(Clone, Copy)]
pub struct Writer<'s, 'a> {
    shared: &'s Shared<'a>,
}

impl<'a> WebSocket<'a> {
    pub(crate) fn new(
        upgraded: Upgraded<'a>,
        scope: Scope<'a>,
        protocol: Option<&'a str>,
        options: &Options,
    ) -> WebSocket<'a> {
        let (reader, writer) = upgraded.split();
        let shutdown = scope.shutdown();
        WebSocket {
            rx: RecvState::new(reader),
            shared: Shared::new(writer, Limits::from(options), shutdown),
            scope,
            protocol,
        }
    }

    /// The handshake request's scope (path, query, headers, client...).
    pub fn scope(&self) -> &Scope<'a> {
        &self.scope
    }

    /// The subprotocol chosen in the handshake, if any.
    pub fn protocol(&self) -> Option<&'a str> {
        self.protocol
    }

    /// Splits into a reader and a writer usable at the same time from two futures.
    pub fn split(&mut self) -> (Reader<'_, 'a>, Writer<'_, 'a>) {
        (
            Reader {
                rx: &mut self.rx,
                shared: &self.shared,
            },
            Writer {
                shared: &self.shared,
            },
        )
    }

    /// Receives the next message; see [`Reader::recv`].
    pub async fn recv(&mut self) -> Result<Message<'_>, Error> {
        reader::recv(&mut self.rx, &self.shared).await
    }

    /// Sends a message (`Close` closes without waiting for the answer) and flushes.
    pub async fn send(&mut self, msg: Message<'_>) -> Result<(), Error> {
        writer::send(&self.shared, msg, true).await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send(Message::Text(text)).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.send(Message::Binary(bytes)).await
    }

    /// Queues a message in the write buffer without writing it (it is written by
    /// [`flush`](Self::flush), by the next `send`, or once `write_high_water` bytes wait).
    pub async fn feed(&mut self, msg: Message<'_>) -> Result<(), Error> {
        writer::send(&self.shared, msg, false).await
    }

    /// Writes the queued messages with one syscall.
    pub async fn flush(&mut self) -> Result<(), Error> {
        writer::flush(&self.shared).await
    }

    /// Sends a Ping (the Pong is consumed by `recv`).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        writer::ping(&self.shared, payload).await
    }

    /// The close handshake: sends Close with `code` and `reason` (cut to 123 bytes), then
    /// reads (and discards) until the client's Close, for at most `Options::close_timeout`.
    /// Codes that may not be sent (1005, 1006, 1015, ...) fail with
    /// [`Error::InvalidCloseCode`] and send nothing.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        if !close::is_sendable(code) {
            return Err(Error::InvalidCloseCode(code));
        }
        self.rx.close(&self.shared, code, reason).await
    }

    /// Whether the conversation is over (`recv` returned `Close` or failed).
    pub fn is_closed(&self) -> bool {
        self.rx.is_done()
    }
}

impl Drop for WebSocket<'_> {
    fn drop(&mut self) {
        self.shared.close_on_drop(close::NORMAL);
    }
}

impl Reader<'_, '_> {
    /// Receives the next text or binary message, answering Pings on the way.
    ///
    /// Returns [`Message::Close`] once when the conversation ends: the client's Close (answered
    /// with the same code), `1006` if the client vanished, `1001` if the worker started shutting
    /// down (this side sent Close 1001 and waited for the answer). A client breaking the
    /// protocol gets Close 1002/1007/1009 and this returns [`Error::Protocol`]. After either,
    /// [`Error::Closed`].
    pub async fn recv(&mut self) -> Result<Message<'_>, Error> {
        reader::recv(self.rx, self.shared).await
    }

    /// Whether the conversation is over.
    pub fn is_closed(&self) -> bool {
        self.rx.is_done()
    }
}

impl Writer<'_, '_> {
    /// Sends a message and flushes (`Close` sends Close; the reader receives the answer).
    pub async fn send(&mut self, msg: Message<'_>) -> Result<(), Error> {
        writer::send(self.shared, msg, true).await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send(Message::Text(text)).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.send(Message::Binary(bytes)).await
    }

    /// Queues a message without writing it; see [`WebSocket::feed`].
    pub async fn feed(&mut self, msg: Message<'_>) -> Result<(), Error> {
        writer::send(self.shared, msg, false).await
    }

    /// Writes the queued messages with one syscall.
    pub async fn flush(&mut self) -> Result<(), Error> {
        writer::flush(self.shared).await
    }

    /// Sends a Ping.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        writer::ping(self.shared, payload).await
    }

    /// Sends Close with `code` and `reason` without waiting for the answer (the reader gets
    /// it as [`Message::Close`]).
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        writer::close_only(self.shared, code, reason).await
    }
}

impl fmt::Debug for WebSocket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("path", &self.scope.path)
            .field("protocol", &self.protocol)
            .field("closed", &self.rx.is_done())
            .finish()
    }
}

impl fmt::Debug for Reader<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("closed", &self.rx.is_done())
            .finish()
    }
}

impl fmt::Debug for Writer<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("close_sent", &self.shared.close_sent.get())
            .finish()
    }
}
