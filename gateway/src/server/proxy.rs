//! `--proxy-headers`: trust `X-Forwarded-For` / `X-Forwarded-Proto` only from trusted peers.
//!
//! Like uvicorn's `ProxyHeadersMiddleware`: when the direct peer is trusted, the scheme comes
//! from `X-Forwarded-Proto` and the client is the right-most address in `X-Forwarded-For` that
//! is not itself a trusted proxy (so a client cannot spoof its address by sending its own
//! header through a proxy that appends). The client's port is unknown and reported as 0.

use std::net::{IpAddr, SocketAddr};

use crate::config::TrustedProxies;
use crate::interface::scope::{Headers, Scheme};

pub(crate) fn resolve(
    peer: SocketAddr,
    headers: Headers<'_>,
    trusted: &TrustedProxies,
) -> (SocketAddr, Scheme) {
    if !trusted.contains(peer.ip()) {
        return (peer, Scheme::Http);
    }
    let mut scheme = Scheme::Http;
    let mut client = peer;
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case("x-forwarded-proto") {
            let proto = value.split(|&b| b == b',').next().unwrap_or(b"");
            let proto = String::from_utf8_lossy(proto);
            if matches!(proto.trim().to_ascii_lowercase().as_str(), "https" | "wss") {
                scheme = Scheme::Https;
            }
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            let list = String::from_utf8_lossy(value);
            let mut chosen = None;
            for entry in list.rsplit(',').map(str::trim) {
                let Ok(ip) = entry.parse::<IpAddr>() else {
                    break;
                };
                chosen = Some(ip);
                if !trusted.contains(ip) {
                    break;
                }
            }
            if let Some(ip) = chosen {
                client = SocketAddr::new(ip, 0);
            }
        }
    }
    (client, scheme)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::scope::HeaderSpan;

    fn headers_of(raw: &'static [u8]) -> (Vec<HeaderSpan>, &'static [u8]) {
        let mut spans = Vec::new();
        crate::server::parse::parse_head(raw, 16384, 100, &mut spans)
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
        let (client, scheme) = resolve("127.0.0.1:5000".parse().unwrap(), h, &trusted);
        assert_eq!(client, "203.0.113.7:0".parse().unwrap());
        assert_eq!(scheme, Scheme::Https);

        let untrusted = TrustedProxies::parse("192.0.2.1").unwrap();
        let (client, scheme) = resolve("127.0.0.1:5000".parse().unwrap(), h, &untrusted);
        assert_eq!(client, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(scheme, Scheme::Http);
    }
}
