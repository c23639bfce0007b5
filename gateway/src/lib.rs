//! # waitless-gateway
//!
//! **One job:** separate the server from the app. This crate holds both halves of that line:
//!
//! * [`interface`] — the contract between any server and any app, what ASGI is to Python: an
//!   [`App`] is called once per request with a [`Request`] (a borrowed [`Scope`] and an async
//!   [`Body`]) and answers through a [`Responder`]; lifespan hooks run once per worker.
//! * [`Server`] — an HTTP/1.1 server on the waitless reactor and executor that speaks the wire
//!   protocol (keep-alive, pipelining with one write per batch, chunked bodies, `100-continue`,
//!   limits and timeouts) and calls an app through that interface.
//!
//! The seed's sections on WSGI vs ASGI and "FastAPI는 서버가 아니다" (FastAPI is not a server) are
//! the reason for the split: an app never touches a socket, and a server never knows which
//! framework it serves. See `docs/gateway.md` for the interface specification.
//!
//! ## Example: an app with no framework
//!
//! ```
//! use waitless_gateway::{App, Config, Request, Responder, Server};
//!
//! struct Hello;
//!
//! impl App for Hello {
//!     async fn call(&self, req: Request<'_>, mut res: Responder<'_>) {
//!         let _ = match req.scope.path.as_ref() {
//!             "/plaintext" => res.send(200, &[("content-type", "text/plain")], b"Hello, World!"),
//!             _ => res.send(404, &[("content-type", "text/plain")], b"Not Found"),
//!         };
//!     }
//! }
//!
//! waitless_executor::block_on(async {
//!     let config = Config { bind: "127.0.0.1:0".parse().unwrap(), ..Config::default() };
//!     let server = Server::bind(config).unwrap();
//!     let addr = server.local_addr().unwrap();
//!     waitless_executor::spawn(server.run(Hello)).detach();
//!
//!     // Talk to it over a real socket.
//!     use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!     let mut c = waitless_reactor::TcpStream::connect(addr).await.unwrap();
//!     c.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
//!     let mut reply = String::new();
//!     c.read_to_string(&mut reply).await.unwrap();
//!     assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
//!     assert!(reply.ends_with("\r\n\r\nHello, World!"));
//! });
//! ```

#![warn(missing_docs)]

pub mod cli;
pub mod config;
mod h1;
pub mod interface;
pub mod logger;
mod runner;
mod server;
pub mod testing;
mod transport;
pub mod websocket;

pub use config::{Config, TlsFiles, TrustedProxies};
pub use h1::ChunkedError;
pub use interface::{
    App, Body, BodyError, Headers, LifespanError, Request, Responder, ResponseError, Scheme, Scope,
    ScopeKind, ShutdownSignal, State, Upgraded, UpgradedReader, UpgradedWriter, Version,
    NO_HEADERS,
};
pub use runner::{main, run};
pub use server::{default_limit_concurrency, serve, Listener, ServeError, Server};

/// Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`): the narrowest view
/// of private parsers that lets a target check more than "no panic". Not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Parses one request head with the default limits; returns its length when complete and
    /// valid.
    pub fn parse_head(data: &[u8]) -> Option<usize> {
        let mut spans = Vec::new();
        match crate::h1::parse::parse_head(data, 16 * 1024, 100, &mut spans) {
            Ok(Some(head)) => Some(head.len),
            _ => None,
        }
    }

    /// What a chunked decoder made of some bytes.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Chunked {
        /// The body ended after `used` bytes; `body` is the decoded data.
        Done {
            /// The decoded chunk data.
            body: Vec<u8>,
            /// Bytes consumed, framing included.
            used: usize,
        },
        /// The input ended inside the body; `body` is what was decoded so far.
        Incomplete {
            /// The chunk data decoded before the input ran out.
            body: Vec<u8>,
        },
        /// The decoder rejected the input.
        Rejected {
            /// Why.
            error: crate::ChunkedError,
            /// Where: `"extension"` (a chunk extension), `"trailer"` (the trailer section) or
            /// `"framing"` (sizes and the CRLFs around data).
            place: &'static str,
            /// The chunk data decoded before the refusal.
            body: Vec<u8>,
        },
    }

    /// Feeds `data` to a chunked decoder, `step` bytes more each time the decoder has consumed
    /// what it was given (how the connection's read buffer grows).
    pub fn decode_chunked(data: &[u8], step: usize) -> Chunked {
        let mut dec = crate::h1::chunked::ChunkedDecoder::default();
        let step = step.max(1);
        let (mut pos, mut avail, mut body) = (0, step.min(data.len()), Vec::new());
        // Each round consumes at least one byte or grows `avail`: bounded by twice the input.
        for _ in 0..data.len() * 2 + 2 {
            match dec.decode(&data[pos..avail]) {
                Err(error) => {
                    let place = dec.place();
                    return Chunked::Rejected { error, place, body };
                }
                Ok((used, range)) => {
                    if let Some(r) = range {
                        body.extend_from_slice(&data[pos + r.start..pos + r.end]);
                    }
                    pos += used;
                }
            }
            if dec.is_done() {
                return Chunked::Done { body, used: pos };
            }
            if pos == avail {
                if avail == data.len() {
                    break;
                }
                avail = (avail + step).min(data.len());
            }
        }
        Chunked::Incomplete { body }
    }

    /// A client WebSocket frame header: `Ok(None)` while incomplete, then
    /// `(fin, opcode, payload length, header length)`; `Err` when the header breaks RFC 6455.
    #[allow(clippy::type_complexity)]
    pub fn ws_frame_header(buf: &[u8]) -> Result<Option<(bool, u8, u64, usize)>, String> {
        match crate::websocket::frame::parse_header(buf) {
            Ok(Some((h, len))) => Ok(Some((h.fin, h.opcode, h.len, len))),
            Ok(None) => Ok(None),
            Err(e) => Err(format!("{e:?}")),
        }
    }

    /// XORs `data` with `mask`, as if `offset` bytes of the payload came before.
    pub fn ws_unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
        crate::websocket::frame::unmask(data, mask, offset);
    }

    /// The incremental UTF-8 validator of text messages.
    #[derive(Debug, Default)]
    pub struct Utf8Check(crate::websocket::utf8::Utf8Check);

    impl Utf8Check {
        /// Validates what was appended to `buf` since the last call; false: invalid.
        pub fn feed(&mut self, buf: &[u8]) -> bool {
            self.0.feed(buf).is_ok()
        }
    }
}
