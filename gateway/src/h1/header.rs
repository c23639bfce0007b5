//! Validation tables for header names (RFC 9110 `token`) and values (`field-value`).
//!
//! Why tables: every response header an app sends is checked before it is written (a CR or LF
//! in a value would let a request smuggle a second response), and this runs per header per
//! response. One indexed load per byte keeps it off the profile.

/// A `[bool; 256]` lookup table from a predicate on the byte `$c` (built at compile time).
macro_rules! byte_table {
    ($c:ident => $e:expr) => {{
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            let $c = b as u8;
            t[b] = $e;
            b += 1;
        }
        t
    }};
}
pub(crate) use byte_table;

/// RFC 9110 `tchar`s.
const TCHAR: [bool; 256] = byte_table!(c => c.is_ascii_alphanumeric()
|| matches!(
    c,
    b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~'
));

/// Bytes allowed in a field value: VCHAR, SP, HTAB and obs-text; no CTL (so no CR, LF, NUL, DEL).
const FIELD_BYTE: [bool; 256] = byte_table!(c => c == b'\t' || (c >= 0x20 && c != 0x7f));

/// Whether `name` is a non-empty token (a valid header name or method).
///
/// This and `is_field_value` check every response header an app sets, on every response: they
/// fold without an early exit, which leaves no branch per byte (valid input, the common case,
/// is read to its end either way).
pub(crate) fn is_token(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().fold(true, |ok, &b| ok & TCHAR[b as usize])
}

/// Whether `b` is a `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// Whether `value` may be sent as a header value (no CR, LF, NUL or other control byte).
pub(crate) fn is_field_value(value: &[u8]) -> bool {
    value
        .iter()
        .fold(true, |ok, &b| ok & FIELD_BYTE[b as usize])
}

/// Whether `b` may appear in a field value.
pub(crate) fn is_field_byte(b: u8) -> bool {
    FIELD_BYTE[b as usize]
}

/// Strips leading and trailing optional whitespace (SP, HTAB).
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_values() {
        assert!(is_token(b"content-type"));
        assert!(!is_token(b""));
        assert!(!is_token(b"bad name"));
        assert!(!is_token(b"x:y"));
        assert!(is_field_value(b"text/plain; charset=utf-8\t"));
        assert!(is_field_value("caf\u{e9}".as_bytes()));
        for bad in [&b"a\rb"[..], b"a\nb", b"a\0b", b"a\x7fb", b"a\x01b"] {
            assert!(!is_field_value(bad), "{bad:?}");
        }
    }
}
