//! `--proxy-headers`: trust `X-Forwarded-For` / `X-Forwarded-Proto` only from trusted peers.
//!
//! Like uvicorn's `ProxyHeadersMiddleware`: when the direct peer is trusted, the scheme comes
//! from `X-Forwarded-Proto` and the client is the right-most address in `X-Forwarded-For` that
//! is not itself a trusted proxy (so a client cannot spoof its address by sending its own
//! header through a proxy that appends). The client's port is unknown and reported as 0.

use std::net::{IpAddr, SocketAddr};

use crate::config::TrustedProxies;
use crate::h1::header::trim;
use crate::interface::scope::{Headers, Scheme};

/// The client and scheme for a request from a trusted `peer` (`None`: a Unix socket, whose
/// peer is the local proxy).
///
/// Several `X-Forwarded-For` lines form one list, in order (RFC 9110 §5.3); the walk starts at
/// its right end. Several protocols in `X-Forwarded-Proto` (one per proxy hop) are read from the
/// right too: the right-most is what the proxy nearest to us saw.
pub(crate) fn resolve(
    peer: Option<SocketAddr>,
    headers: Headers<'_>,
    trusted: &TrustedProxies,
) -> (Option<SocketAddr>, Scheme) {
    if peer.is_some_and(|p| !trusted.contains(p.ip())) {
        return (peer, Scheme::Http);
    }
    let mut scheme = Scheme::Http;
    let proto = headers
        .get_all("x-forwarded-proto")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim)
        .filter(|p| !p.is_empty())
        .last();
    if let Some(proto) = proto {
        if proto.eq_ignore_ascii_case(b"https") || proto.eq_ignore_ascii_case(b"wss") {
            scheme = Scheme::Https;
        }
    }
    // Right to left over every line's entries, lines taken last first.
    let lines: Vec<&[u8]> = headers.get_all("x-forwarded-for").collect();
    let mut chosen = None;
    'walk: for line in lines.iter().rev() {
        for entry in line.rsplit(|&b| b == b',').map(trim) {
            let Some(ip) = std::str::from_utf8(entry)
                .ok()
                .and_then(|e| e.parse::<IpAddr>().ok())
            else {
                break 'walk;
            };
            chosen = Some(ip);
            if !trusted.contains(ip) {
                break 'walk;
            }
        }
    }
    let client = match chosen {
        Some(ip) => Some(SocketAddr::new(ip, 0)),
        None => peer,
    };
    (client, scheme)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::HeaderSpan;

    fn headers_of(raw: &'static [u8]) -> (Vec<HeaderSpan>, &'static [u8]) {
        let mut spans = Vec::new();
        crate::h1::parse::parse_head(raw, 16384, 100, &mut spans)
            .unwrap()
            .unwrap();
        (spans, raw)
    }

    #[test]
    fn trusted_peer_forwards_client_and_scheme() {
        let (spans, raw) = headers_of(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.7, 10.0.0.2\r\nX-Forwarded-Proto: https\r\n\r\n",
        );
        let h = Headers {
            head: raw,
            spans: &spans,
        };
        let trusted = TrustedProxies::parse("127.0.0.1,10.0.0.2").unwrap();
        let (client, scheme) = resolve("127.0.0.1:5000".parse().ok(), h, &trusted);
        assert_eq!(client, "203.0.113.7:0".parse().ok());
        assert_eq!(scheme, Scheme::Https);

        let untrusted = TrustedProxies::parse("192.0.2.1").unwrap();
        let (client, scheme) = resolve("127.0.0.1:5000".parse().ok(), h, &untrusted);
        assert_eq!(client, "127.0.0.1:5000".parse().ok());
        assert_eq!(scheme, Scheme::Http);
    }

    #[test]
    fn forwarded_lines_join_in_order_and_proto_is_right_most() {
        // Two XFF lines are one list: 198.51.100.1, 10.0.0.2, 10.0.0.3. Walking from the
        // right past the trusted 10.0.0.3 and 10.0.0.2 gives 198.51.100.1 (reading only the
        // first line would give 10.0.0.2, reading only the last would stop at 10.0.0.3).
        let (spans, raw) = headers_of(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 198.51.100.1, 10.0.0.2\r\nX-Forwarded-For: 10.0.0.3\r\nX-Forwarded-Proto: http, https\r\n\r\n",
        );
        let h = Headers {
            head: raw,
            spans: &spans,
        };
        let trusted = TrustedProxies::parse("127.0.0.1,10.0.0.2,10.0.0.3").unwrap();
        let (client, scheme) = resolve("127.0.0.1:5000".parse().ok(), h, &trusted);
        assert_eq!(client, "198.51.100.1:0".parse().ok());
        assert_eq!(scheme, Scheme::Https);
        let (spans, raw) =
            headers_of(b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https, http\r\n\r\n");
        let h = Headers {
            head: raw,
            spans: &spans,
        };
        assert_eq!(resolve(None, h, &trusted).1, Scheme::Http);
    }
}
