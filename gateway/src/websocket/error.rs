//! What can go wrong on a WebSocket, typed: each protocol error knows its close code.

use std::fmt;
use std::io;

use super::close;

/// A rule of RFC 6455 the client broke. The socket has already sent a Close frame with
/// [`close_code`](Self::close_code) when the app sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// A client frame without a mask (§5.1).
    Unmasked,
    /// RSV1–3 set without a negotiated extension.
    ReservedBits,
    /// An opcode RFC 6455 reserves.
    ReservedOpcode(u8),
    /// A control frame with FIN clear.
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload.
    ControlTooLong,
    /// A 64-bit length with its most significant bit set.
    BadLength,
    /// A continuation frame with no message to continue.
    UnexpectedContinuation,
    /// A new text or binary frame in the middle of a fragmented message.
    ExpectedContinuation,
    /// A Close frame whose payload is a single byte.
    CloseLength,
    /// A Close frame with a code that may not be sent.
    InvalidCloseCode(u16),
    /// A text message or close reason that is not UTF-8 (close 1007).
    InvalidUtf8,
    /// A message (or frame) over `Options::max_message_size` (close 1009).
    TooBig,
}

impl ProtocolError {
    /// The close code sent for it: 1007 for bad UTF-8, 1009 for size, 1002 otherwise.
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::InvalidUtf8 => close::INVALID_PAYLOAD,
            ProtocolError::TooBig => close::MESSAGE_TOO_BIG,
            _ => close::PROTOCOL_ERROR,
        }
    }

    /// The reason sent with the close code.
    pub fn reason(&self) -> &'static str {
        match self {
            ProtocolError::Unmasked => "client frames must be masked",
            ProtocolError::ReservedBits => "reserved bits set",
            ProtocolError::ReservedOpcode(_) => "reserved opcode",
            ProtocolError::FragmentedControl => "fragmented control frame",
            ProtocolError::ControlTooLong => "control frame over 125 bytes",
            ProtocolError::BadLength => "invalid payload length",
            ProtocolError::UnexpectedContinuation => "continuation without a message",
            ProtocolError::ExpectedContinuation => "expected a continuation frame",
            ProtocolError::CloseLength => "close payload of one byte",
            ProtocolError::InvalidCloseCode(_) => "invalid close code",
            ProtocolError::InvalidUtf8 => "invalid UTF-8",
            ProtocolError::TooBig => "message too big",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            other => f.write_str(other.reason()),
        }
    }
}

/// Why a WebSocket operation failed.
#[derive(Debug)]
pub enum Error {
    /// The client broke the protocol; the socket sent Close with the matching code.
    Protocol(ProtocolError),
    /// The connection is closed (the close handshake happened, or this side sent Close and can
    /// send no more data).
    Closed,
    /// No Pong answered a keep-alive Ping within `Options::ping_timeout` (Close 1011 was
    /// attempted).
    PingTimeout,
    /// Nothing arrived within `Options::idle_timeout` (Close 1000 "idle timeout" was sent).
    IdleTimeout,
    /// [`close`](super::WebSocket::close) was given a code that may not be sent (1004–1006,
    /// 1015, below 1000, 1016–2999, 5000 and up).
    InvalidCloseCode(u16),
    /// Reading or writing failed (the client vanished, or stopped reading past the server's
    /// send timeout). The connection cannot be used any more.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(e) => write!(f, "WebSocket protocol error: {e}"),
            Error::Closed => f.write_str("the WebSocket is closed"),
            Error::PingTimeout => f.write_str("no pong within the ping timeout"),
            Error::IdleTimeout => f.write_str("no message within the idle timeout"),
            Error::InvalidCloseCode(code) => write!(f, "{code} may not be sent as a close code"),
            Error::Io(e) => write!(f, "WebSocket I/O failed: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Protocol(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl std::error::Error for ProtocolError {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::Protocol(e)
    }
}
