//! The scope: everything the server knows about a request before its body.
//!
//! Like an ASGI scope, but borrowed: the method, target and headers point into the connection's
//! read buffer (the request head is parsed once and never copied), so building a scope allocates
//! nothing unless the path contains `%`-escapes that must be decoded.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use crate::h1::chunked::hex;
use crate::h1::HeaderSpan;
pub use crate::h1::Version;
use crate::interface::shared::Shared;
use crate::interface::shutdown::ShutdownSignal;

/// What kind of exchange a scope describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// A plain HTTP request.
    Http,
    /// A WebSocket opening handshake: a `GET` on HTTP/1.1 with `Connection: upgrade` and
    /// `Upgrade: websocket`. The app may answer it with
    /// [`Responder::upgrade`](crate::Responder::upgrade) (after its RFC 6455 checks) or with
    /// an ordinary response.
    WebSocket,
}

/// `http` or `https` (TLS, or a trusted `X-Forwarded-Proto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The request headers, in the order received, names as sent (compare case-insensitively).
#[derive(Clone, Copy)]
pub struct Headers<'a> {
    pub(crate) head: &'a [u8],
    pub(crate) spans: &'a [HeaderSpan],
}

impl<'a> Headers<'a> {
    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no header lines.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn slice(&self, (start, end): (u32, u32)) -> &'a [u8] {
        &self.head[start as usize..end as usize]
    }

    /// Every header as `(name, raw value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        self.spans.iter().map(|s| {
            // Header names were validated as tokens by the parser: always ASCII.
            let name = std::str::from_utf8(self.slice(s.name)).unwrap_or("");
            (name, self.slice(s.value))
        })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The first value of header `name` as UTF-8 text, if it is.
    pub fn get_str(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of header `name`, in order.
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}

/// Per-worker shared state: a small type map filled by the app's lifespan `startup` and visible
/// in every scope (ASGI's `scope["state"]`). Each worker process has its own; nothing crosses
/// processes.
#[derive(Default)]
pub struct State {
    map: HashMap<TypeId, Box<dyn Any>>,
}

impl State {
    /// An empty state.
    pub fn new() -> State {
        State::default()
    }

    /// Stores `value`, replacing a previous value of the same type.
    pub fn insert<T: 'static>(&mut self, value: T) -> Option<T> {
        self.map
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast().ok().map(|b| *b))
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref())
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("entries", &self.map.len())
            .finish()
    }
}

/// Everything about one request except its body.
#[derive(Clone, Debug)]
pub struct Scope<'a> {
    /// A plain request or a WebSocket handshake.
    pub kind: ScopeKind,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The method as sent (`GET`, `POST`, ...). Methods are case-sensitive.
    pub method: &'a str,
    /// `https` over TLS or through a trusted proxy's `X-Forwarded-Proto`, else `http`.
    pub scheme: Scheme,
    /// The path, percent-decoded (invalid UTF-8 is replaced with U+FFFD).
    pub path: Cow<'a, str>,
    /// The path exactly as sent, without the query string.
    pub raw_path: &'a [u8],
    /// The query string without the `?`, not decoded.
    pub query_string: &'a [u8],
    /// The request headers, in order.
    pub headers: Headers<'a>,
    /// The request's authority: read it with [`Scope::host`].
    pub(crate) authority: Authority<'a>,
    /// The client: the peer address, or the one a trusted proxy reported.
    pub client: Option<SocketAddr>,
    /// What every request of the worker shares (read with `server`, `root_path`, `state`,
    /// `shutdown`): one pointer instead of four per-worker fields copied into every request.
    pub(crate) shared: &'a Shared,
}

impl<'a> Scope<'a> {
    /// The request's authority (`host[:port]`): the target's in absolute-form, else the `Host`
    /// header's (RFC 9112 §3.2.2); empty if the request had neither (HTTP/1.0).
    ///
    /// A method, not a field: most apps never ask, so the text is made only when one does (the
    /// parser already rejected a `Host` with anything but `host[:port]` bytes, all ASCII).
    pub fn host(&self) -> &'a str {
        std::str::from_utf8(self.authority.0).unwrap_or("")
    }

    /// The local address the request came in on (`None` on a Unix socket or in memory).
    pub fn server(&self) -> Option<SocketAddr> {
        self.shared.local
    }

    /// The mount prefix configured for the server (`Config::root_path`).
    pub fn root_path(&self) -> &'a str {
        &self.shared.root_path
    }

    /// Per-worker shared state, filled by the app's lifespan `startup`.
    pub fn state(&self) -> &'a State {
        &self.shared.state
    }

    /// The worker's shutdown signal, for long-lived handlers.
    pub fn shutdown(&self) -> ShutdownSignal<'a> {
        ShutdownSignal {
            inner: &self.shared.shutdown,
        }
    }
}

/// The authority's validated bytes (shown as text by `Debug`).
#[derive(Clone, Copy)]
pub(crate) struct Authority<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Authority<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        String::from_utf8_lossy(self.0).fmt(f)
    }
}

/// The method as text: the common ones without a UTF-8 check (the parser accepted only token
/// bytes, so any method is ASCII; this only skips the check on the hot path).
pub(crate) fn method_str(method: &[u8]) -> &str {
    match method {
        b"GET" => "GET",
        b"POST" => "POST",
        b"HEAD" => "HEAD",
        b"PUT" => "PUT",
        b"DELETE" => "DELETE",
        b"PATCH" => "PATCH",
        b"OPTIONS" => "OPTIONS",
        other => std::str::from_utf8(other).unwrap_or(""),
    }
}

/// The path as text: percent-decoded if the parser saw a `%` in it, else borrowed as it is.
pub(crate) fn path_text(raw: &[u8], escaped: bool) -> Cow<'_, str> {
    if escaped {
        return percent_decode(raw);
    }
    match std::str::from_utf8(raw) {
        Ok(path) => Cow::Borrowed(path),
        Err(_) => String::from_utf8_lossy(raw),
    }
}

/// Decodes `%XX` escapes; leaves invalid escapes as they are. Borrows when there is nothing to do.
pub(crate) fn percent_decode(raw: &[u8]) -> Cow<'_, str> {
    if !raw.contains(&b'%') {
        return path_text(raw, false);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert!(matches!(
            percent_decode(b"/plain/path"),
            Cow::Borrowed("/plain/path")
        ));
        assert_eq!(percent_decode(b"/a%20b/%E2%9C%93"), "/a b/\u{2713}");
        assert_eq!(percent_decode(b"/bad%zz/%4"), "/bad%zz/%4");
        assert_eq!(percent_decode(b"/end%"), "/end%");
        assert_eq!(percent_decode(b"%41"), "A");
        assert_eq!(path_text(b"/a%20b", true), "/a b");
        assert_eq!(path_text(b"/a%20b", false), "/a%20b");
    }

    #[test]
    fn methods_as_text() {
        for m in [
            "GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "get",
        ] {
            assert_eq!(method_str(m.as_bytes()), m);
        }
    }
}
