//! Request-head parsing and the RFC 9112 checks the server enforces before an app sees a request.
//!
//! `httparse` parses into a stack array of headers borrowed from the read buffer; this module
//! turns the result into byte offsets (`HeaderSpan`s, stored in a reused per-connection `Vec`)
//! so the scope can later borrow the head bytes while the body is read from the bytes after them.
//! One parse per request, no copy, no allocation.

use std::mem::MaybeUninit;

use super::header::{byte_table, trim};
use super::{HeaderSpan, Version};

/// Upper bound on header lines (the array lives on the stack during parsing).
pub(crate) const MAX_HEADERS: usize = 128;

/// Framing of the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// A parsed request head: offsets into the buffer it was parsed from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    /// Length of the head including the final CRLF CRLF.
    pub(crate) len: usize,
    pub(crate) method: (u32, u32),
    /// Request target without the query.
    pub(crate) path: (u32, u32),
    /// Query without the `?` (empty range if none).
    pub(crate) query: (u32, u32),
    /// The request's authority: the target's in absolute-form (RFC 9112 §3.2.2: it wins over
    /// `Host`), else the `Host` header's value; empty if neither was sent.
    pub(crate) host: (u32, u32),
    /// The path holds a `%`: it must be percent-decoded (most do not, and borrow as they are).
    pub(crate) escaped: bool,
    pub(crate) version: Version,
    pub(crate) framing: BodyFraming,
    /// The client asked to close (`Connection: close`, or HTTP/1.0 without keep-alive).
    pub(crate) close: bool,
    /// HTTP/1.0 with `Connection: keep-alive`.
    pub(crate) keep_alive_10: bool,
    pub(crate) expect_continue: bool,
    /// `Connection: upgrade` with an `Upgrade` header, on HTTP/1.1 (an upgrade may be granted).
    pub(crate) upgrade: bool,
    /// `Upgrade: websocket` among the offered protocols.
    pub(crate) websocket: bool,
    /// An `X-Forwarded-For` or `X-Forwarded-Proto` header is present.
    pub(crate) forwarded: bool,
}

/// A request the server answers itself, then closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reject {
    pub(crate) status: u16,
    pub(crate) detail: &'static str,
}

const fn reject(status: u16, detail: &'static str) -> Reject {
    Reject { status, detail }
}

/// Parses one head from the start of `buf`. `Ok(None)`: incomplete (need more bytes).
pub(crate) fn parse_head(
    buf: &[u8],
    max_head: usize,
    max_headers: usize,
    spans: &mut Vec<HeaderSpan>,
) -> Result<Option<Head>, Reject> {
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let headers = &mut storage[..max_headers.clamp(1, MAX_HEADERS)];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, headers) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= max_head {
                Err(reject(431, "Request header fields too large"))
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(reject(431, "Too many request header fields"))
        }
        Err(httparse::Error::Version) => return Err(version_error(buf)),
        Err(_) => return Err(reject(400, "Invalid HTTP request received.")),
    };
    if len > max_head {
        return Err(reject(431, "Request header fields too large"));
    }
    let offset = |s: &[u8]| -> (u32, u32) {
        let start = s.as_ptr() as usize - buf.as_ptr() as usize;
        (start as u32, (start + s.len()) as u32)
    };
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(reject(400, "Invalid HTTP request received."));
    };
    let version = if minor == 1 {
        Version::Http11
    } else {
        Version::Http10
    };
    let target_range = offset(target.as_bytes());
    let Target {
        path,
        query,
        authority,
        escaped,
    } = split_target(target.as_bytes(), target_range, method == "OPTIONS")?;

    spans.clear();
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut has_te = false;
    let mut has_host = false;
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut conn_upgrade = false;
    let mut has_upgrade = false;
    let mut websocket = false;
    let mut host = authority;
    let mut expect_continue = false;
    let mut forwarded = false;
    for h in req.headers.iter() {
        spans.push(HeaderSpan {
            name: offset(h.name.as_bytes()),
            value: offset(h.value),
        });
        let name = h.name.as_bytes();
        // Dispatch on the length first: most headers (user-agent, accept, ...) match no length
        // of interest and cost one comparison.
        let is = |want: &[u8]| name.eq_ignore_ascii_case(want);
        match name.len() {
            14 if is(b"content-length") => {
                let n = parse_content_length(h.value)
                    .ok_or(reject(400, "Invalid Content-Length header"))?;
                if content_length.is_some_and(|prev| prev != n) {
                    return Err(reject(400, "Conflicting Content-Length headers"));
                }
                content_length = Some(n);
            }
            17 if is(b"transfer-encoding") => {
                // Only `chunked`, once, is supported for requests (a repeated `chunked` would
                // mean the body is chunked twice: RFC 9112 §6.1 forbids it).
                if has_te {
                    return Err(reject(400, "Repeated Transfer-Encoding"));
                }
                has_te = true;
                chunked = trim(h.value).eq_ignore_ascii_case(b"chunked");
                if !chunked {
                    return Err(reject(400, "Unsupported Transfer-Encoding"));
                }
            }
            4 if is(b"host") => {
                if has_host {
                    return Err(reject(400, "Duplicate Host header"));
                }
                has_host = true;
                let value = trim(h.value);
                if !valid_authority(value) {
                    return Err(reject(400, "Invalid Host header"));
                }
                if authority.is_none() {
                    host = Some(offset(value));
                }
            }
            10 if is(b"connection") => {
                // Nearly every client sends one token: that case skips the split.
                if h.value.eq_ignore_ascii_case(b"keep-alive") {
                    conn_keep_alive = true;
                    continue;
                }
                for token in h.value.split(|&b| b == b',').map(trim) {
                    if token.eq_ignore_ascii_case(b"close") {
                        conn_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        conn_keep_alive = true;
                    } else if token.eq_ignore_ascii_case(b"upgrade") {
                        conn_upgrade = true;
                    }
                }
            }
            6 if is(b"expect") => {
                expect_continue = trim(h.value).eq_ignore_ascii_case(b"100-continue")
            }
            7 if is(b"upgrade") => {
                has_upgrade = true;
                websocket |= h
                    .value
                    .split(|&b| b == b',')
                    .any(|p| trim(p).eq_ignore_ascii_case(b"websocket"));
            }
            15 if is(b"x-forwarded-for") => forwarded = true,
            17 if is(b"x-forwarded-proto") => forwarded = true,
            _ => {}
        }
    }
    if version == Version::Http11 && !has_host {
        return Err(reject(400, "Missing Host header"));
    }
    if has_te && content_length.is_some() {
        // RFC 9112 §6.3: a request with both is a smuggling attempt; answer and close.
        return Err(reject(400, "Both Transfer-Encoding and Content-Length"));
    }
    let framing = if chunked {
        BodyFraming::Chunked
    } else {
        match content_length {
            Some(0) | None => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
        }
    };
    // RFC 9112 §6.1: a 1.0 request with Transfer-Encoding may have been forwarded by a 1.1
    // proxy that does not understand it; the connection closes after the response.
    let close = conn_close || (version == Version::Http10 && (!conn_keep_alive || has_te));
    let upgrade = conn_upgrade && has_upgrade && version == Version::Http11;
    Ok(Some(Head {
        len,
        method: offset(method.as_bytes()),
        path,
        query,
        escaped,
        version,
        framing,
        close,
        host: host.unwrap_or((0, 0)),
        keep_alive_10: !close && version == Version::Http10 && conn_keep_alive,
        // Without content there is nothing to invite (RFC 9110 §10.1.1: a client must not send
        // the expectation then): ignored, as hyper does, instead of closing after the response.
        expect_continue: expect_continue
            && version == Version::Http11
            && framing != BodyFraming::None,
        upgrade,
        websocket: upgrade && websocket,
        forwarded,
    }))
}

/// `(start, end)` byte offsets.
type Span = (u32, u32);

/// The parts of a request target, as offsets into the head.
struct Target {
    path: Span,
    query: Span,
    authority: Option<Span>,
    escaped: bool,
}

/// The bytes of a target that `split_target` looks for: the query's start, a fragment (never
/// sent: RFC 9112 §3.2) and a `%`-escape in the path. All three are rare, and the target is
/// scanned on every request: eight bytes are tested at a time (`clean_prefix`), and only the
/// rest is looked at byte by byte.
const MARKS: [u8; 3] = [b'?', b'#', b'%'];

/// The length of the prefix of `v`, in whole 8-byte words, that holds none of `MARKS`.
fn clean_prefix(v: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The zero-byte test on `w ^ splat(b)`: a high bit is set where a byte of `w` equals `b`
    // (exactly for the first such byte; a later flag may be spurious, which only ends the
    // prefix early).
    let has = |w: u64, b: u8| {
        let x = w ^ (u64::from(b) * ONES);
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    };
    let mut n = 0;
    for chunk in v.chunks_exact(8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        if MARKS.iter().any(|&m| has(w, m)) {
            break;
        }
        n += 8;
    }
    n
}

fn split_target(target: &[u8], range: Span, options: bool) -> Result<Target, Reject> {
    const BAD: Reject = reject(400, "Invalid request target");
    let start = range.0 as usize;
    let span = |a: usize, b: usize| ((start + a) as u32, (start + b) as u32);
    let (path_start, authority) = match target.first() {
        Some(b'/') => (0, None),
        Some(b'*') if target.len() == 1 => {
            return if options {
                Ok(Target {
                    path: span(0, 1),
                    query: span(1, 1),
                    authority: None,
                    escaped: false,
                })
            } else {
                Err(BAD)
            };
        }
        _ => {
            let sep = find(target, b"://").ok_or(BAD)?;
            let scheme = &target[..sep];
            if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
                return Err(BAD);
            }
            let after = sep + 3;
            let end = target[after..]
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .map_or(target.len(), |p| after + p);
            let authority = &target[after..end];
            if authority.is_empty() || !valid_authority(authority) {
                return Err(BAD);
            }
            (end, Some(span(after, end)))
        }
    };
    // An absolute-form authority was checked by `valid_authority` (no `#` there): only the path
    // and query are scanned.
    let rest = &target[path_start..];
    let mut query_at = None;
    let mut escaped = false;
    let clean = clean_prefix(rest);
    for (i, &b) in rest.iter().enumerate().skip(clean) {
        match b {
            b'?' => {
                query_at = Some(i);
                break;
            }
            b'#' => return Err(BAD),
            b'%' => escaped = true,
            _ => {}
        }
    }
    if let Some(q) = query_at {
        if rest[q..].contains(&b'#') {
            return Err(BAD);
        }
    }
    let (path, query) = match query_at {
        Some(i) => (
            span(path_start, path_start + i),
            span(path_start + i + 1, target.len()),
        ),
        None => (
            span(path_start, target.len()),
            span(target.len(), target.len()),
        ),
    };
    Ok(Target {
        path,
        query,
        authority,
        escaped,
    })
}

/// RFC 3986 `host [":" port]` bytes: reg-name (unreserved, sub-delims, `%`), `:` and the
/// brackets of an IP-literal — so no space, `/`, `@`, `?`, `#` or control byte. A table: this
/// runs on every request's `Host`.
const AUTHORITY_BYTE: [bool; 256] = byte_table!(c => c.is_ascii_alphanumeric()
|| matches!(
    c,
    b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b','
        | b';' | b'=' | b'%' | b':' | b'[' | b']'
));

/// Byte classes for `valid_authority`'s one pass: not allowed at all, `:`, or a byte that needs
/// the full check (`[`, `]`, `%`). Every other allowed byte is 0.
const CLASS_INVALID: u8 = 1;
const CLASS_COLON: u8 = 2;
const CLASS_FULL_CHECK: u8 = 4;
const AUTHORITY_CLASS: [u8; 256] = {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = if !AUTHORITY_BYTE[b] {
            CLASS_INVALID
        } else if b == b':' as usize {
            CLASS_COLON
        } else if b == b'[' as usize || b == b']' as usize || b == b'%' as usize {
            CLASS_FULL_CHECK
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Whether `v` is a valid `Host` / URI authority: RFC 3986 `host [":" port]`, where `host` is a
/// bracketed IP literal or a reg-name / IPv4 address (no `:`, no brackets, `%` only as `%HH`)
/// and `port` is digits.
/// Empty is allowed (RFC 9112 §3.2: `Host:` may be empty). The shape matters, not only the
/// bytes: `example.com:om:8080` is not an authority (the differential fuzz target found it
/// served where hyper refuses it).
fn valid_authority(v: &[u8]) -> bool {
    // The common shapes (`name`, `name:port`) are decided in one pass over a class table; a
    // bracket or `%` takes the full check below.
    let class = v.iter().fold(0, |m, &b| m | AUTHORITY_CLASS[b as usize]);
    if class & CLASS_INVALID != 0 {
        return false;
    }
    if class & (CLASS_COLON | CLASS_FULL_CHECK) == 0 {
        return true; // a name: `localhost`, `example.com`, `10.0.0.1`
    }
    if class & CLASS_FULL_CHECK == 0 {
        return match v.iter().position(|&b| b == b':') {
            None => true,
            Some(colon) => v[colon + 1..].iter().all(u8::is_ascii_digit),
        };
    }
    authority_shape_ok(v)
}

/// The full check behind `valid_authority` (which gives the same answer faster for the
/// common shapes; a test holds the two to that).
fn authority_shape_ok(v: &[u8]) -> bool {
    let (host, port) = match v.first() {
        Some(b'[') => match v.iter().position(|&b| b == b']') {
            Some(end) => (&v[1..end], &v[end + 1..]),
            None => return false,
        },
        _ => match v.iter().position(|&b| b == b':') {
            Some(colon) => (&v[..colon], &v[colon..]),
            None => (v, &v[v.len()..]),
        },
    };
    let literal = v.first() == Some(&b'[');
    let host_ok = host.iter().all(|&b| {
        AUTHORITY_BYTE[b as usize] && !matches!(b, b'[' | b']') && (literal || b != b':')
    }) && !(literal && host.is_empty())
        && percent_escapes_ok(host);
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    host_ok && port_ok
}

/// Every `%` starts a `%HH` escape (RFC 3986 `pct-encoded`).
fn percent_escapes_ok(v: &[u8]) -> bool {
    v.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || matches!(v.get(i + 1..i + 3), Some([hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// httparse reports any version other than 1.0/1.1 the same way; a well-formed `HTTP/x.y` gets
/// 505, anything else 400.
fn version_error(buf: &[u8]) -> Reject {
    let line_end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len());
    let line = &buf[..line_end];
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or(b"");
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            reject(505, "HTTP Version Not Supported")
        }
        [b'H', b'T', b'T', b'P', b'/', major] if major.is_ascii_digit() => {
            reject(505, "HTTP Version Not Supported")
        }
        _ => reject(400, "Invalid HTTP request received."),
    }
}

/// RFC 9110 §8.6 `1*DIGIT`, any number of digits (leading zeros included) as long as the value
/// fits in a `u64`: overflow, not the digit count, is what makes a length invalid (hyper agrees;
/// a huge length is then the body limit's business, `413`).
fn parse_content_length(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(raw: &[u8]) -> Result<Option<Head>, Reject> {
        parse_head(raw, 16 * 1024, 100, &mut Vec::new())
    }

    fn slice(raw: &[u8], r: (u32, u32)) -> &[u8] {
        &raw[r.0 as usize..r.1 as usize]
    }

    #[test]
    fn parses_a_simple_request() {
        let raw = b"GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
        let mut spans = Vec::new();
        let head = parse_head(raw, 16384, 100, &mut spans).unwrap().unwrap();
        assert_eq!(head.len, raw.len() - 5);
        assert_eq!(slice(raw, head.method), b"GET");
        assert_eq!(slice(raw, head.path), b"/a/b");
        assert_eq!(slice(raw, head.query), b"x=1&y=2");
        assert_eq!(head.framing, BodyFraming::Length(5));
        assert!(!head.close);
        assert_eq!(spans.len(), 2);
    }

    #[test]
    fn absolute_and_asterisk_forms() {
        let raw = b"GET http://example.com/p?q HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let head = parse(raw).unwrap().unwrap();
        assert_eq!(slice(raw, head.path), b"/p");
        assert_eq!(slice(raw, head.query), b"q");
        let raw = b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_eq!(slice(raw, parse(raw).unwrap().unwrap().path), b"*");
    }

    #[test]
    fn absolute_form_rules() {
        // Empty path is `/` (an empty span), the authority wins over Host.
        let raw = b"GET http://example.com?x=1 HTTP/1.1\r\nHost: other\r\n\r\n";
        let head = parse(raw).unwrap().unwrap();
        assert_eq!(slice(raw, head.path), b"");
        assert_eq!(slice(raw, head.query), b"x=1");
        assert_eq!(slice(raw, head.host), b"example.com");
        let raw = b"GET HTTPS://a.example:8443/p HTTP/1.1\r\nHost: a\r\n\r\n";
        let head = parse(raw).unwrap().unwrap();
        assert_eq!(slice(raw, head.host), b"a.example:8443");
        assert_eq!(slice(raw, head.path), b"/p");
        let raw = b"GET /p HTTP/1.1\r\nHost:  h.example:80 \r\n\r\n";
        assert_eq!(
            slice(raw, parse(raw).unwrap().unwrap().host),
            b"h.example:80"
        );
        let bad: &[&[u8]] = &[
            b"GET ftp://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET http://a@b/ HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /p#frag HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a b/@x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
        ];
        for raw in bad {
            assert_eq!(
                parse(raw).unwrap_err().status,
                400,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn transfer_encoding_rules() {
        // A repeated `chunked`, in one line or two, is refused.
        for raw in [
            &b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        ] {
            assert_eq!(parse(raw).unwrap_err().status, 400);
        }
        // HTTP/1.0 with Transfer-Encoding closes after the response, even with keep-alive.
        let h = parse(
            b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert!(h.close && !h.keep_alive_10);
    }

    #[test]
    fn upgrade_offers() {
        let h = parse(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.upgrade && h.websocket);
        let h = parse(b"GET /ws HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.upgrade && !h.websocket);
        let h = parse(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.upgrade);
    }

    #[test]
    fn partial_then_too_large() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost: h\r\n").unwrap().is_none());
        let big = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 17000]].concat();
        assert_eq!(parse(&big).unwrap_err().status, 431);
    }

    #[test]
    fn content_length_is_any_digits_that_fit_in_a_u64() {
        // Found by `diff_head`: a 20-digit length was refused for its digit count (hyper reads
        // it), and so was a small length written with leading zeros.
        let ok: &[(&[u8], u64)] = &[
            (b"0", 0),
            (b" 5 ", 5),
            (b"00000000000000000005", 5),
            (b"11326434445604678484", 11_326_434_445_604_678_484),
            (b"18446744073709551615", u64::MAX),
        ];
        for (v, n) in ok {
            assert_eq!(
                parse_content_length(v),
                Some(*n),
                "{}",
                String::from_utf8_lossy(v)
            );
        }
        for v in [
            &b"18446744073709551616"[..],
            b"99999999999999999999",
            b"",
            b"+5",
            b"5 5",
        ] {
            assert_eq!(
                parse_content_length(v),
                None,
                "{}",
                String::from_utf8_lossy(v)
            );
        }
    }

    #[test]
    fn rfc9112_rejections() {
        let cases: &[(&[u8], u16)] = &[
            (b"GET / HTTP/1.1\r\n\r\n", 400),                                         // no Host
            (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),                             // space before colon
            (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),                              // unsupported version
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (b"GET\r\n\r\n", 400),
            (b"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ];
        for (raw, status) in cases {
            let got = parse(raw).map(|h| h.map(|_| ())).unwrap_err();
            assert_eq!(got.status, *status, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn connection_semantics() {
        let h = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(h.close);
        let h = parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.close && h.keep_alive_10);
        let h = parse(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.close);
        let h = parse(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.expect_continue);
        assert_eq!(h.framing, BodyFraming::Chunked);
    }

    /// What `split_target` must find for an origin-form target, the slow way.
    fn naive_split(t: &[u8]) -> Option<(&[u8], &[u8], bool)> {
        if t.contains(&b'#') {
            return None;
        }
        let (path, query) = match t.iter().position(|&b| b == b'?') {
            Some(q) => (&t[..q], &t[q + 1..]),
            None => (t, &t[t.len()..]),
        };
        Some((path, query, path.contains(&b'%')))
    }

    proptest! {
        #[test]
        fn the_authority_fast_path_agrees_with_the_full_check(
            v in proptest::collection::vec(proptest::sample::select(b"a1.:[]%@ Fz".to_vec()), 0..16)
        ) {
            prop_assert_eq!(valid_authority(&v), authority_shape_ok(&v));
        }

        #[test]
        fn target_scan_agrees_with_the_naive_split(
            tail in proptest::collection::vec(proptest::sample::select(b"ab/?#%=".to_vec()), 0..40)
        ) {
            let mut t = vec![b'/'];
            t.extend_from_slice(&tail);
            let got = split_target(&t, (0, t.len() as u32), false)
                .ok()
                .map(|r| (slice(&t, r.path), slice(&t, r.query), r.escaped));
            prop_assert_eq!(got, naive_split(&t));
        }

        #[test]
        fn never_panics_and_offsets_stay_in_bounds(input in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut spans = Vec::new();
            if let Ok(Some(head)) = parse_head(&input, 16384, 100, &mut spans) {
                prop_assert!(head.len <= input.len());
                for r in [head.method, head.path, head.query] {
                    prop_assert!(r.0 <= r.1 && r.1 as usize <= input.len());
                }
                for s in &spans {
                    prop_assert!(s.value.1 as usize <= head.len);
                }
            }
        }
    }
}
