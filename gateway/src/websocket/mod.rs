//! WebSocket (RFC 6455) on the gateway's upgrade hook.
//!
//! The seed puts it in one line: WSGI is "HTTP 전용, WebSocket 불가" (HTTP only, no
//! WebSocket), ASGI is "HTTP + WebSocket, 실시간 통신 가능" (real-time). The interface already
//! hands an app the raw connection after `101` ([`Responder::upgrade`](crate::Responder::upgrade));
//! this module is the protocol above it, so that apps and the framework never parse a frame:
//!
//! * [`accept`] checks the handshake and answers `101` (or `400`/`405`/`426`), choosing a
//!   subprotocol and adding [`Options::headers`];
//! * [`WebSocket`] receives [`Message`]s (UTF-8 checked incrementally, fragments assembled,
//!   Pings answered, every RFC rule enforced with its close code), sends with backpressure, and
//!   runs the close handshake, including Close 1001 when the worker shuts down.
//!
//! Why the codec is written here and not taken from `tungstenite`: its sans-IO pieces still
//! own the buffering (a `ReadBuffer` copied into from a `Read` stream, a `Vec`/`Bytes` per
//! message, a write queue of owned frames), so on our connection every message would be copied
//! at least once more and allocated once; the frame format itself is ~100 lines
//! (`frame.rs`) with table-driven tests. The echo benchmark in `docs/benchmarks.md` compares
//! the result with tokio-tungstenite.
//!
//! Files: `handshake.rs` (accept, refusals), `frame.rs` (the wire format), `reader.rs` (the
//! receiving state machine), `writer.rs` (sending), `shared.rs` (what the two halves share),
//! `close.rs` (codes), `utf8.rs`, `message.rs`, `options.rs`, `error.rs`, `socket.rs` (the
//! public socket and its halves).

pub mod close;
mod error;
pub(crate) mod frame;
mod handshake;
mod message;
mod options;
mod reader;
mod shared;
mod socket;
pub(crate) mod utf8;
mod writer;

pub use error::{Error, ProtocolError};
pub use handshake::{accept, accept_key, Refused};
pub use message::Message;
pub use options::Options;
pub use socket::{Reader, WebSocket, Writer};
