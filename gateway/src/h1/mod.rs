//! The HTTP/1.1 wire format, shared by the app interface and the server.
//!
//! Why a module of its own: the interface (`Body`, `Responder`) must decode chunked bodies and
//! write response heads, and the server must parse request heads; if either owned the wire code
//! the other would import it, and the line this crate exists to draw — app contract on one side,
//! server on the other — would be crossed. So both import this module, and it imports neither
//! (hyper keeps the same split in `proto/h1`).
//!
//! * [`parse`] — request heads, with the RFC 9112 checks made before an app sees a request;
//! * [`chunked`] — the incremental `Transfer-Encoding: chunked` decoder;
//! * [`response`] — status lines, numbers, the server's own error responses;
//! * [`header`] — token and field-value validation tables;
//! * [`date`] — the once-a-second `Date` cache.

pub(crate) mod chunked;
pub(crate) mod date;
pub(crate) mod header;
pub(crate) mod parse;
pub(crate) mod response;

pub use chunked::ChunkedError;

/// The HTTP version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl Version {
    /// `"1.0"` or `"1.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "1.0",
            Version::Http11 => "1.1",
        }
    }
}

/// Where a header's name and value sit in the head bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HeaderSpan {
    pub(crate) name: (u32, u32),
    pub(crate) value: (u32, u32),
}
