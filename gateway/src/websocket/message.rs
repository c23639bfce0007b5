//! A message as the app sees it: text, binary, or the end of the conversation.
//!
//! Why borrowed: a received message points either into the connection's read buffer, where an
//! unfragmented message that fits was unmasked in place (no copy at all), or into the socket's
//! reused message buffer (fragmented or larger messages, copied once while unmasking), so
//! receiving allocates nothing. Keep it past the next `recv` with
//! [`Message::to_owned`]-style copies (`text.to_owned()`), or answer at once through the
//! writer half of [`WebSocket::split`](super::WebSocket::split).

/// One WebSocket message (control frames are handled inside the socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'m> {
    /// A text message (validated UTF-8).
    Text(&'m str),
    /// A binary message.
    Binary(&'m [u8]),
    /// The conversation ended: the code and reason of the client's Close frame (`1005` when
    /// it had none), `1006` when the client went away without one, or `1001` when the server
    /// is shutting down. Received once; then `recv` fails with
    /// [`Error::Closed`](super::Error::Closed). As an argument to `send`, closes.
    Close(u16, &'m str),
}

impl Message<'_> {
    /// The payload bytes (a close reason for `Close`).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
            Message::Close(_, reason) => reason.as_bytes(),
        }
    }

    /// Whether this is the end of the conversation.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(..))
    }
}
