//! Writing response heads into the connection's output buffer.
//!
//! Heads are serialized straight into the per-connection write buffer: status line from a table,
//! `Server` and the cached `Date`, the app's headers, then framing. Numbers are formatted with a
//! small stack routine; nothing here allocates once the buffer has grown to its working size.

use super::date;

/// The reason phrase of `status` (empty for unknown codes, which RFC 9112 allows).
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Appends the decimal digits of `n`.
///
/// Every response with a length writes one (`Content-Length`), nearly always under 10,000:
/// those are written as a fixed-size array (an inline store, not a `memcpy` call of a
/// variable-length tail).
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    let d = |x: u64| b'0' + (x % 10) as u8;
    match n {
        0..=9 => out.push(d(n)),
        10..=99 => out.extend_from_slice(&[d(n / 10), d(n)]),
        100..=999 => out.extend_from_slice(&[d(n / 100), d(n / 10), d(n)]),
        1000..=9999 => out.extend_from_slice(&[d(n / 1000), d(n / 100), d(n / 10), d(n)]),
        _ => push_digits(out, n),
    }
}

fn push_digits(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends the lowercase hex digits of `n` (chunk sizes).
pub(crate) fn push_hex(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// What the server writes into every response head after the status line: `Server: waitless`
/// (unless `--no-server-header`), `Date` (unless `--no-date-header`), and the `--header` lines.
/// Serialized once per worker, copied per response.
#[derive(Clone, Debug)]
pub(crate) struct HeadDefaults {
    /// `Server` and `--header` lines, each ending in CRLF, then `Date: ` if the date is
    /// written (one copy per response for all of it; the date and its CRLF follow).
    lines: Box<[u8]>,
    date: bool,
    server: bool,
}

impl Default for HeadDefaults {
    fn default() -> Self {
        HeadDefaults::new(true, true, &[])
    }
}

impl HeadDefaults {
    /// `extra` are `(name, value)` pairs already validated (see `Config::validate`).
    pub(crate) fn new(server: bool, date: bool, extra: &[(String, String)]) -> HeadDefaults {
        let mut lines = Vec::new();
        if server {
            lines.extend_from_slice(b"Server: waitless\r\n");
        }
        for (name, value) in extra {
            lines.extend_from_slice(name.as_bytes());
            lines.extend_from_slice(b": ");
            lines.extend_from_slice(value.as_bytes());
            lines.extend_from_slice(b"\r\n");
        }
        if date {
            lines.extend_from_slice(b"Date: ");
        }
        HeadDefaults {
            lines: lines.into_boxed_slice(),
            date,
            server,
        }
    }

    /// Whether the server writes `Server` itself (then an app's `server` header is dropped).
    pub(crate) fn writes_server(&self) -> bool {
        self.server
    }

    /// Whether the server writes `Date` itself.
    pub(crate) fn writes_date(&self) -> bool {
        self.date
    }
}

/// Status line plus the default lines (`HTTP/1.1 200 OK\r\nServer: waitless\r\nDate: ...\r\n`).
pub(crate) fn push_status(out: &mut Vec<u8>, status: u16, defaults: &HeadDefaults) {
    match status {
        200 => out.extend_from_slice(b"HTTP/1.1 200 OK\r\n"),
        _ => {
            out.extend_from_slice(b"HTTP/1.1 ");
            push_u64(out, status as u64);
            out.push(b' ');
            out.extend_from_slice(reason(status).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(&defaults.lines);
    if defaults.date {
        out.extend_from_slice(&date::current());
        out.extend_from_slice(b"\r\n");
    }
}

/// A complete error response made by the server itself: JSON `{"detail": ...}`, then close.
pub(crate) fn push_error(
    out: &mut Vec<u8>,
    status: u16,
    detail: &str,
    head_only: bool,
    defaults: &HeadDefaults,
) {
    push_status(out, status, defaults);
    out.extend_from_slice(
        b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: ",
    );
    // {"detail":"..."}; `detail` is one of the server's own ASCII messages without quotes.
    let body_len = detail.len() + 13;
    push_u64(out, body_len as u64);
    out.extend_from_slice(b"\r\n\r\n");
    if !head_only {
        out.extend_from_slice(b"{\"detail\":\"");
        out.extend_from_slice(detail.as_bytes());
        out.extend_from_slice(b"\"}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        v.push(b' ');
        push_u64(&mut v, 18_446_744_073_709_551_615);
        v.push(b' ');
        push_hex(&mut v, 0);
        v.push(b' ');
        push_hex(&mut v, 0x1f4a);
        assert_eq!(v, b"0 18446744073709551615 0 1f4a");
    }

    #[test]
    fn every_decimal_width_matches_format() {
        for n in [
            0,
            9,
            10,
            13,
            99,
            100,
            999,
            1000,
            9999,
            10_000,
            65_536,
            u64::MAX - 1,
        ] {
            let mut v = Vec::new();
            push_u64(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
        }
    }

    #[test]
    fn error_body_length_matches() {
        let mut v = Vec::new();
        push_error(
            &mut v,
            431,
            "Request header fields too large",
            false,
            &HeadDefaults::default(),
        );
        let text = String::from_utf8(v).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert_eq!(body, r#"{"detail":"Request header fields too large"}"#);
        assert!(head.contains("\r\nServer: waitless\r\nDate: "));
    }

    #[test]
    fn defaults_follow_the_flags() {
        let d = HeadDefaults::new(false, false, &[("X-Env".into(), "prod".into())]);
        let mut v = Vec::new();
        push_status(&mut v, 204, &d);
        assert_eq!(v, b"HTTP/1.1 204 No Content\r\nX-Env: prod\r\n");
    }
}
