//! Incremental UTF-8 validation of a text message that arrives in pieces.
//!
//! Why incremental: RFC 6455 §8.1 lets an endpoint fail a connection as soon as it sees invalid
//! UTF-8, and Autobahn's section 6 checks that it does ("fail fast"), even when the bad byte sits
//! in the first fragment of a long message or a code point is split across fragments or reads.
//! The message is assembled in one buffer anyway, so the state is just how far it was checked:
//! std's validator tells a sequence cut at the end (wait for more) from an invalid one (fail).

/// How far a growing text buffer has been validated.
#[derive(Debug, Default)]
pub(crate) struct Utf8Check {
    checked: usize,
}

/// The bytes are not UTF-8 (close code 1007).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Invalid;

impl Utf8Check {
    /// Forgets the previous message.
    pub(crate) fn reset(&mut self) {
        self.checked = 0;
    }

    /// Validates what was appended to `buf` since the last call. A code point cut at the end is
    /// accepted for now (its first bytes are checked again next time).
    pub(crate) fn feed(&mut self, buf: &[u8]) -> Result<(), Invalid> {
        let Some(rest) = buf.get(self.checked..) else {
            return Err(Invalid);
        };
        match std::str::from_utf8(rest) {
            Ok(_) => {
                self.checked = buf.len();
                Ok(())
            }
            Err(e) if e.error_len().is_none() => {
                self.checked += e.valid_up_to();
                Ok(())
            }
            Err(_) => Err(Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_code_points_wait_and_bad_bytes_fail_at_once() {
        let text = "κόσμε €".as_bytes();
        for cut in 0..text.len() {
            let mut check = Utf8Check::default();
            assert_eq!(check.feed(&text[..cut]), Ok(()));
            assert_eq!(check.feed(text), Ok(()));
            assert_eq!(check.checked, text.len());
        }
        let mut check = Utf8Check::default();
        assert_eq!(check.feed(&[0xCE]), Ok(()));
        assert_eq!(check.checked, 0);
        // 0xF4 0x90 can never start a valid code point (above U+10FFFF): fail on the 2nd byte.
        let mut check = Utf8Check::default();
        assert_eq!(check.feed(&[b'a', 0xF4, 0x90]), Err(Invalid));
        let mut check = Utf8Check::default();
        assert_eq!(check.feed(&[0xED, 0xA0, 0x80]), Err(Invalid)); // a surrogate
    }
}
