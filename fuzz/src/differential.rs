//! The comparison of the differential targets, and the documented cases where waitless
//! deliberately disagrees with hyper (each with its RFC 9112 section; `docs/reliability.md`
//! lists them).
//!
//! The two records must be equal request by request. Where they first differ, the difference
//! is accepted only if hyper's view of that request shows one of the cases below *and* waitless
//! did not go on to see more requests than hyper (after a rejection it closes the connection).

use waitless_gateway::fuzzing::{decode_chunked, Chunked};
use waitless_gateway::ChunkedError;

use crate::Seen;

/// Why waitless may refuse a request hyper serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stricter {
    /// HTTP/1.1 without exactly one valid `Host` (RFC 9112 §3.2: "A server MUST respond with a
    /// 400 … to any HTTP/1.1 request message that lacks a Host header field and to any request
    /// message that contains more than one Host header field line or a Host header field with an
    /// invalid field value").
    Host,
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3 item 3: "ought to be handled
    /// as an error"; hyper drops the length and serves the request, waitless answers 400).
    TeAndCl,
    /// `Transfer-Encoding` other than one `chunked` (RFC 9112 §6.1; waitless implements no other
    /// coding, so `gzip, chunked` or a repeated `chunked` line is refused rather than passed on).
    TeNotSingleChunked,
    /// A target waitless does not serve: a fragment, authority-form (`CONNECT`), asterisk-form
    /// outside `OPTIONS`, or an absolute-form scheme other than http/https (RFC 9112 §3.2).
    Target,
    /// A trailer section that is not `field-line CRLF` lines (RFC 9112 §7.1.2): waitless checks
    /// each trailer line like a header line and wants CRLF; hyper takes any bytes up to CRLF as
    /// a trailer line, so a bare LF or a request line after the last chunk becomes "trailers".
    TrailerSection,
    /// A chunk extension that is not `;name[=value]` of field bytes (RFC 9112 §7.1.1): waitless
    /// refuses control bytes there; hyper skips any bytes but LF up to the CR, so what follows
    /// (a whole request line) can vanish into an "extension".
    ChunkExtension,
    /// A chunk size of more than 16 hex digits (so leading zeros): waitless bounds every
    /// framing element and refuses the line; hyper reads any number of digits while the value
    /// fits in a u64 (RFC 9112 §7.1: recipients "MUST anticipate potentially large hexadecimal
    /// numerals and prevent parsing errors due to integer conversion overflows").
    LongChunkSize,
    /// waitless served nothing more, and sent no error, after a request that carried
    /// `Expect: 100-continue`: it ended the connection there (closing is always allowed,
    /// RFC 9112 §9.6); hyper kept it open and served the next request. The case the fuzzer
    /// found (the expectation on a request without content) is fixed in the gateway: it now
    /// ignores the expectation there (RFC 9110 §10.1.1). Kept for a request with content whose
    /// body the connection could not skip, where closing is the server's right.
    CloseAfterExpect,
}

/// Why waitless may serve a request hyper refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Laxer {
    /// An HTTP/1.0 request with `Transfer-Encoding`: RFC 9112 §6.1 says to treat its framing as
    /// faulty and close the connection after it, which waitless does; hyper refuses it outright.
    Http10TransferEncoding,
    /// A target with a byte `httparse` accepts and `http::Uri` refuses: `<`, `>` or a backtick
    /// in the path, `"`, `<` or `>` in the query, or bytes that are not UTF-8. None of these
    /// moves where a request ends (framing is the same on both sides). Served on purpose, as
    /// uvicorn, nginx and Go serve them (the decision and its reasons: docs/reliability.md).
    TargetBytes,
    /// A body with 100 trailer lines or more: hyper caps trailer lines at its `max_headers`
    /// (100, set to waitless's header count); waitless bounds trailers by bytes (16 KiB of
    /// extensions and trailers per body), not by lines. A limit, not a framing difference.
    TrailerLines,
    /// An absolute-form authority with a `%HH` escape (`http://exa%41mple.com/`): RFC 3986
    /// §3.2.2 allows `pct-encoded` in a reg-name, and waitless accepts it; `http::Uri` refuses a
    /// `%` in an authority outside an IPv6 zone. Found by `diff_head` after the `Host` fixes;
    /// framing is the same on both sides.
    AuthorityPercent,
}

/// How two records relate.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The same requests, the same bodies.
    Same,
    /// They agree up to request `at`, which waitless refused for a documented reason.
    Stricter(usize, Stricter),
    /// They agree up to request `at`, which hyper refused for a documented reason.
    Laxer(usize, Laxer),
    /// A disagreement no rule explains.
    Differ(String),
}

/// The documented reason behind waitless's refusal `detail`, if hyper's view `h` of the same
/// request shows that reason too (so a rule cannot hide an unrelated refusal).
fn stricter(detail: &str, h: &Seen, raw: &[u8]) -> Option<Stricter> {
    let hosts: Vec<&[u8]> = h.all("host").collect();
    let te: Vec<&[u8]> = h.all("transfer-encoding").collect();
    let target = h.target.as_deref().unwrap_or(b"/");
    match detail {
        "Missing Host header" if h.minor == 1 && hosts.is_empty() => Some(Stricter::Host),
        "Duplicate Host header" if hosts.len() > 1 => Some(Stricter::Host),
        "Invalid Host header" if hosts.iter().any(|v| !valid_authority(v)) => Some(Stricter::Host),
        // hyper drops the Content-Length of such a request, so only the coding is visible.
        "Both Transfer-Encoding and Content-Length" if !te.is_empty() => Some(Stricter::TeAndCl),
        // The same pair, with a length that is not a number or two that differ: waitless
        // names the bad length first (it reads the lengths before it weighs the pair); hyper
        // drops every length unread. The lines are only in the input.
        "Invalid Content-Length header" | "Conflicting Content-Length headers"
            if !te.is_empty() && has_field(raw, b"content-length") =>
        {
            Some(Stricter::TeAndCl)
        }
        "Repeated Transfer-Encoding" if te.len() > 1 => Some(Stricter::TeNotSingleChunked),
        "Unsupported Transfer-Encoding"
            if te.iter().any(|v| !trim(v).eq_ignore_ascii_case(b"chunked")) =>
        {
            Some(Stricter::TeNotSingleChunked)
        }
        "Invalid request target"
            if !served_target(&h.method, target) || fragment(&h.method, raw) =>
        {
            Some(Stricter::Target)
        }
        _ => None,
    }
}

/// Same head; waitless refused a chunk extension, the trailer section or an over-long size
/// line after decoding a
/// prefix of what hyper decoded (hyper skips extension bytes and takes trailer lines without
/// looking, so it reads on). The place of the refusal is not in the records, so the body is
/// found again in `raw`: some line start where waitless's own decoder, run alone, refuses in an
/// extension or a trailer after decoding exactly what the server gave the app.
fn chunked_refused(w: &Seen, h: &Seen, raw: &[u8]) -> Option<Stricter> {
    let heads_same = (&w.method, &w.path, &w.query, w.minor, w.fields())
        == (&h.method, &h.path, &h.query, h.minor, h.fields());
    let (Err((partial, _)), Ok(full)) = (&w.body, &h.body) else {
        return None;
    };
    if !heads_same || !full.starts_with(partial) || h.all("transfer-encoding").next().is_none() {
        return None;
    }
    let starts = (1..raw.len()).filter(|&p| raw[p - 1] == b'\n');
    starts
        .filter_map(|p| match decode_chunked(&raw[p..], raw.len()) {
            Chunked::Rejected { place, body, error } if body == *partial => match place {
                "extension" => Some(Stricter::ChunkExtension),
                "trailer" => Some(Stricter::TrailerSection),
                _ if error == ChunkedError::SizeTooLarge => Some(Stricter::LongChunkSize),
                _ => None,
            },
            _ => None,
        })
        .next()
}

/// Same head; waitless read the whole body, hyper failed after decoding all of it, and the
/// body as waitless's decoder finds it in `raw` spans 100 lines or more.
fn trailer_lines_capped(w: &Seen, h: &Seen, raw: &[u8]) -> bool {
    let (Ok(full), Err((partial, _))) = (&w.body, &h.body) else {
        return false;
    };
    if full != partial || w.fields() != h.fields() {
        return false;
    }
    (1..raw.len()).filter(|&p| raw[p - 1] == b'\n').any(|p| {
        match decode_chunked(&raw[p..], raw.len()) {
            Chunked::Done { body, used } if body == *full => {
                raw[p..p + used].iter().filter(|&&b| b == b'\n').count() >= 100
            }
            _ => false,
        }
    })
}

/// Whether some line of `raw` starts with the field name `name` and a colon (ASCII case
/// ignored): a field hyper dropped from its view can still be found in the input.
fn has_field(raw: &[u8], name: &[u8]) -> bool {
    raw.split(|&b| b == b'\n').any(|line| {
        line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':'
    })
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    match (start, end) {
        (Some(s), Some(e)) => &v[s..=e],
        _ => &[],
    }
}

/// RFC 3986 `host [ ":" port ]`: a bracketed IP literal or a reg-name / IPv4 address of
/// unreserved, sub-delims and `%HH` escapes, then optionally `:` and digits; empty is allowed for
/// `Host` (RFC 9112 §3.2).
fn valid_authority(v: &[u8]) -> bool {
    let v = trim(v);
    let byte = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b);
    let (host_ok, port) = if v.first() == Some(&b'[') {
        match v.iter().position(|&b| b == b']') {
            Some(end) => (
                end > 1 && v[1..end].iter().all(|&b| byte(b) || b == b':'),
                &v[end + 1..],
            ),
            None => return false,
        }
    } else {
        let colon = v.iter().position(|&b| b == b':').unwrap_or(v.len());
        (v[..colon].iter().all(|&b| byte(b)), &v[colon..])
    };
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    // Every `%` starts `%HH` (RFC 3986 pct-encoded).
    let escapes_ok = v.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || v.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    host_ok && port_ok && escapes_ok
}

/// Compares waitless's record `w` (and its last refusal) with hyper's `h`; `raw` is the input
/// both were given.
pub fn compare(w: &[Seen], rejection: Option<&str>, h: &[Seen], raw: &[u8]) -> Verdict {
    let same = w.iter().zip(h).take_while(|(a, b)| a == b).count();
    if same == w.len() && same == h.len() {
        return Verdict::Same;
    }
    match (w.get(same), h.get(same)) {
        // hyper served a request waitless refused: fine if a rule says why and waitless saw
        // nothing after it.
        (None, Some(_))
            if rejection.is_none()
                && same > 0
                && w[same - 1]
                    .all("expect")
                    .any(|v| trim(v).eq_ignore_ascii_case(b"100-continue")) =>
        {
            Verdict::Stricter(same, Stricter::CloseAfterExpect)
        }
        (None, Some(hr)) => match stricter(rejection.unwrap_or(""), hr, raw) {
            Some(why) => Verdict::Stricter(same, why),
            None => Verdict::Differ(format!(
                "request {same}: hyper served it, waitless did not ({rejection:?})\nhyper: {hr:?}"
            )),
        },
        (Some(wr), None) => {
            if wr.minor == 0 && wr.all("transfer-encoding").next().is_some() && w.len() == same + 1
            {
                Verdict::Laxer(same, Laxer::Http10TransferEncoding)
            } else if uri_refuses(&wr.path, &wr.query) {
                Verdict::Laxer(same, Laxer::TargetBytes)
            } else if authority_percent(&wr.method, raw) {
                Verdict::Laxer(same, Laxer::AuthorityPercent)
            } else {
                Verdict::Differ(format!(
                    "request {same}: waitless served it, hyper did not\nwaitless: {wr:?}"
                ))
            }
        }
        (Some(wr), Some(hr)) => {
            if trailer_lines_capped(wr, hr, raw) {
                return Verdict::Laxer(same, Laxer::TrailerLines);
            }
            if w.len() == same + 1 {
                if let Some(why) = chunked_refused(wr, hr, raw) {
                    return Verdict::Stricter(same, why);
                }
            }
            Verdict::Differ(format!(
                "request {same} differs\nwaitless: {wr:?}\nhyper:    {hr:?}"
            ))
        }
        (None, None) => Verdict::Same,
    }
}

/// Whether `http::Uri` (hyper's target type) refuses this path and query: its path map allows
/// `!`, `"`, `$`–`;`, `=`, `@`–`_`, `a`–`z`, `{`, `|`, `}`, `~`; its query map `!`, `$`–`;`, `=`,
/// `?`–`~`; and the whole must be UTF-8 (http 1.x, `uri/path.rs`).
fn uri_refuses(path: &[u8], query: &[u8]) -> bool {
    let path_ok = |b: u8| {
        matches!(b, 0x21 | 0x22 | 0x24..=0x3B | 0x3D | 0x40..=0x5F | 0x61..=0x7E) || b >= 0x80
    };
    let query_ok = |b: u8| matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E) || b >= 0x80;
    let absolute = !path.starts_with(b"/") && path != b"*";
    !absolute
        && (!path.iter().all(|&b| path_ok(b))
            || !query.iter().all(|&b| query_ok(b))
            || std::str::from_utf8(path).is_err()
            || std::str::from_utf8(query).is_err())
}

/// Whether a request line of this method has an absolute-form target whose authority holds a
/// `%` (see [`Laxer::AuthorityPercent`]).
fn authority_percent(method: &str, raw: &[u8]) -> bool {
    let mut start = method.as_bytes().to_vec();
    start.push(b' ');
    raw.split(|&b| b == b'\n').any(|line| {
        line.strip_prefix(start.as_slice())
            .and_then(|rest| rest.split(|&b| b == b' ').next())
            .and_then(|t| t.windows(3).position(|w| w == b"://").map(|i| &t[i + 3..]))
            .is_some_and(|rest| {
                rest.iter()
                    .take_while(|&&b| b != b'/' && b != b'?')
                    .any(|&b| b == b'%')
            })
    })
}

/// hyper drops a fragment from the target (`http::Uri` keeps none, and may add a `/`), so it
/// is looked for in the input: a request line of this method whose target holds a `#`.
fn fragment(method: &str, raw: &[u8]) -> bool {
    let mut start = method.as_bytes().to_vec();
    start.push(b' ');
    // A request line begins where the message before it ended: at a line start, or right
    // behind a body that did not end its line (`…\r\n\r\nhellST /items?x#=1 HTTP/1.1`), so
    // the method is looked for anywhere in a line.
    raw.split(|&b| b == b'\n').any(|line| {
        (0..line.len())
            .filter_map(|i| line[i..].strip_prefix(start.as_slice()))
            .any(|rest| rest.split(|&b| b == b' ').next().is_some_and(|t| t.contains(&b'#')))
    })
}

/// The target forms waitless serves: origin-form, `*` for `OPTIONS`, absolute-form with an
/// http(s) scheme and a non-empty authority; never a fragment.
fn served_target(method: &str, t: &[u8]) -> bool {
    if t.contains(&b'#') {
        return false;
    }
    match t.first() {
        Some(b'/') => true,
        Some(b'*') if t.len() == 1 => method == "OPTIONS",
        _ => {
            let Some(sep) = t.windows(3).position(|w| w == b"://") else {
                return false;
            };
            let scheme = &t[..sep];
            let rest = &t[sep + 3..];
            let end = rest
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(rest.len());
            (scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https"))
                && end > 0
                && valid_authority(&rest[..end])
        }
    }
}
