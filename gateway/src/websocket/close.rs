//! Close codes (RFC 6455 §7.4) and the Close frame's payload.
//!
//! Which codes may appear on the wire is decided here once: 1000–1003 and 1007–1014 (the IANA
//! registry; 1012–1014 were added after the RFC), 3000–3999 (registered by libraries) and
//! 4000–4999 (private use). 1004 is reserved, and 1005 (no code), 1006 (closed without a Close
//! frame) and 1015 (TLS failure) are only ever *reported* to an app, never sent.

use super::error::ProtocolError;
use super::frame;

/// Normal closure.
pub const NORMAL: u16 = 1000;
/// The endpoint is going away (server shutdown, browser leaving the page).
pub const GOING_AWAY: u16 = 1001;
/// A protocol error.
pub const PROTOCOL_ERROR: u16 = 1002;
/// Data of a type the endpoint cannot accept.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// Reported when a Close frame carried no code; never sent.
pub const NO_STATUS: u16 = 1005;
/// Reported when the connection ended without a Close frame; never sent.
pub const ABNORMAL: u16 = 1006;
/// A text message that is not UTF-8 (or data inconsistent with its type).
pub const INVALID_PAYLOAD: u16 = 1007;
/// A message that violates the endpoint's policy.
pub const POLICY_VIOLATION: u16 = 1008;
/// A message too big to process.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The client expected an extension the server did not negotiate.
pub const MANDATORY_EXTENSION: u16 = 1010;
/// An unexpected condition in the server (an app error).
pub const INTERNAL_ERROR: u16 = 1011;
/// Reported for a TLS handshake failure; never sent.
pub const TLS_HANDSHAKE: u16 = 1015;

/// Whether `code` may be sent in a Close frame (by either side).
pub fn is_sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// The longest reason that fits a control frame beside the 2-byte code.
pub const MAX_REASON: usize = frame::MAX_CONTROL - 2;

/// Reads a Close frame's payload: `(1005, "")` when empty; a 1-byte payload, a code that may not
/// be sent, or a reason that is not UTF-8 are protocol errors.
pub(crate) fn parse(payload: &[u8]) -> Result<(u16, &str), ProtocolError> {
    match payload {
        [] => Ok((NO_STATUS, "")),
        [_] => Err(ProtocolError::CloseLength),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_sendable(code) {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok((code, reason))
        }
    }
}

/// Cuts `reason` to at most [`MAX_REASON`] bytes on a character boundary.
pub(crate) fn clip(reason: &str) -> &str {
    if reason.len() <= MAX_REASON {
        return reason;
    }
    let mut end = MAX_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// Appends a Close frame; `None` sends an empty payload (the answer to a Close without a code).
pub(crate) fn write(out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
    match code {
        None => frame::write_frame(out, frame::CLOSE, &[]),
        Some(code) => {
            let reason = clip(reason);
            frame::write_header(out, true, frame::CLOSE, 2 + reason.len());
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(reason.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_that_may_be_sent() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert!(is_sendable(ok), "{ok}");
        }
        for bad in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_sendable(bad), "{bad}");
        }
    }

    #[test]
    fn payloads() {
        assert_eq!(parse(&[]), Ok((NO_STATUS, "")));
        assert_eq!(parse(&[3]), Err(ProtocolError::CloseLength));
        assert_eq!(parse(&[0x03, 0xE8, b'o', b'k']), Ok((1000, "ok")));
        assert_eq!(
            parse(&[0x03, 0xED]),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
        assert_eq!(parse(&[0x03, 0xE8, 0xFF]), Err(ProtocolError::InvalidUtf8));
        let long = "é".repeat(100);
        assert!(clip(&long).len() <= MAX_REASON);
        let mut out = Vec::new();
        write(&mut out, Some(1000), &long);
        assert!(out.len() <= 2 + frame::MAX_CONTROL);
    }
}
