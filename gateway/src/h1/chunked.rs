//! An incremental decoder for `Transfer-Encoding: chunked` request bodies (RFC 9112 §7.1).
//!
//! Why incremental and zero-copy: body bytes arrive in arbitrary pieces, and the decoder is fed
//! whatever the connection's read buffer holds. It consumes framing bytes itself and hands back
//! the *range* of chunk data it found, so the app reads chunk data straight out of the read
//! buffer. Every framing element is bounded: at most 16 hex digits of size, and extension and
//! trailer bytes count against a limit, so a hostile client cannot make it buffer or loop.

use std::fmt;
use std::ops::Range;

use super::header;

/// Most bytes of chunk extensions plus trailer fields accepted for one body.
const MAX_FRAMING_BYTES: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits of the size; `digits` counts them.
    Size {
        size: u64,
        digits: u8,
    },
    /// After the size digits: optional whitespace, then `;` (extensions) or CR.
    SizeWs {
        size: u64,
    },
    /// Inside `;ext[=val]` until CR.
    Ext {
        size: u64,
    },
    /// Expecting the LF of the size line.
    SizeLf {
        size: u64,
    },
    /// Inside chunk data.
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field's name.
    TrailerName,
    /// Inside a trailer field's value.
    TrailerValue,
    TrailerLf {
        empty: bool,
    },
    Done,
}

/// Why a chunked body is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkedError {
    /// A chunk-size line that is not hex digits, optional whitespace and `;` extensions.
    InvalidSize,
    /// More than 16 hex digits of size.
    SizeTooLarge,
    /// A line or a chunk's data not ended by CRLF.
    MissingCrlf,
    /// Extensions and trailers longer than 16 KiB in all.
    FramingTooLong,
    /// A trailer line that is not `name: value` without control bytes.
    InvalidTrailer,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkedError::InvalidSize => "invalid chunk size",
            ChunkedError::SizeTooLarge => "chunk size too large",
            ChunkedError::MissingCrlf => "missing CRLF after chunk",
            ChunkedError::FramingTooLong => "chunk extensions or trailers too long",
            ChunkedError::InvalidTrailer => "invalid trailer field",
        })
    }
}

impl std::error::Error for ChunkedError {}

#[derive(Clone, Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    framing: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size { size: 0, digits: 0 },
            framing: 0,
        }
    }
}

impl ChunkedDecoder {
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Where the decoder stands: inside a chunk extension, or in the trailer section (the fuzz
    /// targets tell refusals there, where waitless is stricter than hyper, from the others).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn place(&self) -> &'static str {
        match self.state {
            State::Ext { .. } => "extension",
            State::TrailerStart
            | State::TrailerName
            | State::TrailerValue
            | State::TrailerLf { .. } => "trailer",
            _ => "framing",
        }
    }

    /// Consumes bytes of `input`. Returns how many bytes were consumed and, when chunk data was
    /// reached, its range within `input` (data bytes count as consumed). Stops after one data
    /// range, at the end of the body, or at the end of `input`.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
    ) -> Result<(usize, Option<Range<usize>>), ChunkedError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => break,
                State::Data { remaining } => {
                    let n = (remaining.min((input.len() - i) as u64)) as usize;
                    let range = i..i + n;
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining }
                    };
                    return Ok((i + n, Some(range)));
                }
                State::Size { size, digits } => match hex(b) {
                    Some(d) => {
                        if digits >= 16 {
                            return Err(ChunkedError::SizeTooLarge);
                        }
                        self.state = State::Size {
                            size: size << 4 | d as u64,
                            digits: digits + 1,
                        };
                    }
                    None if digits == 0 => return Err(ChunkedError::InvalidSize),
                    None => {
                        self.state = State::SizeWs { size };
                        continue; // re-examine this byte as whitespace, `;` or CR
                    }
                },
                // RFC 9112 §7.1: chunk-size [ BWS ";" ext ] CRLF — nothing else may follow
                // the digits (`0x5`, `5 5`, `5zz` are not sizes).
                State::SizeWs { size } => match b {
                    b' ' | b'\t' => self.count_framing()?,
                    b';' => {
                        self.count_framing()?;
                        self.state = State::Ext { size };
                    }
                    b'\r' => self.state = State::SizeLf { size },
                    b'\n' => return Err(ChunkedError::MissingCrlf),
                    _ => return Err(ChunkedError::InvalidSize),
                },
                State::Ext { size } => match b {
                    b'\r' => self.state = State::SizeLf { size },
                    b'\n' => return Err(ChunkedError::MissingCrlf),
                    _ if header::is_field_byte(b) => self.count_framing()?,
                    _ => return Err(ChunkedError::InvalidSize),
                },
                State::SizeLf { size } => {
                    if b != b'\n' {
                        return Err(ChunkedError::MissingCrlf);
                    }
                    self.state = if size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data { remaining: size }
                    };
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkedError::MissingCrlf);
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::MissingCrlf);
                    }
                    self.state = State::Size { size: 0, digits: 0 };
                }
                // Trailer fields: `name: value` lines, the name a token, the value without CTLs.
                State::TrailerStart => match b {
                    b'\r' => self.state = State::TrailerLf { empty: true },
                    b'\n' => return Err(ChunkedError::MissingCrlf),
                    _ if header::is_tchar(b) => {
                        self.count_framing()?;
                        self.state = State::TrailerName;
                    }
                    _ => return Err(ChunkedError::InvalidTrailer),
                },
                State::TrailerName => match b {
                    b':' => {
                        self.count_framing()?;
                        self.state = State::TrailerValue;
                    }
                    _ if header::is_tchar(b) => self.count_framing()?,
                    _ => return Err(ChunkedError::InvalidTrailer),
                },
                State::TrailerValue => match b {
                    b'\r' => self.state = State::TrailerLf { empty: false },
                    _ if header::is_field_byte(b) => self.count_framing()?,
                    _ => return Err(ChunkedError::InvalidTrailer),
                },
                State::TrailerLf { empty } => {
                    if b != b'\n' {
                        return Err(ChunkedError::MissingCrlf);
                    }
                    if empty {
                        self.state = State::Done;
                        return Ok((i + 1, None));
                    }
                    self.state = State::TrailerStart;
                }
            }
            i += 1;
        }
        Ok((i, None))
    }

    fn count_framing(&mut self) -> Result<(), ChunkedError> {
        self.framing += 1;
        if self.framing > MAX_FRAMING_BYTES {
            Err(ChunkedError::FramingTooLong)
        } else {
            Ok(())
        }
    }
}

/// The value of one hex digit (also used for `%XX` escapes in paths).
pub(crate) fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` in pieces of `step` bytes; returns the decoded body and the bytes consumed.
    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), ChunkedError> {
        let mut dec = ChunkedDecoder::default();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut avail = step.min(input.len());
        let mut guard = 0;
        while !dec.is_done() {
            guard += 1;
            assert!(guard < 1_000_000, "decoder made no progress");
            let (used, data) = dec.decode(&input[pos..avail])?;
            if let Some(r) = data {
                out.extend_from_slice(&input[pos + r.start..pos + r.end]);
            }
            pos += used;
            if pos == avail {
                if avail == input.len() {
                    break;
                }
                avail = (avail + step).min(input.len());
            }
        }
        Ok((out, pos))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let body = b"5;name=val\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, 100] {
            let (out, used) = decode_all(body, step).unwrap();
            assert_eq!(out, b"hello world");
            assert_eq!(&body[used..], b"NEXT");
        }
    }

    #[test]
    fn rejects_malformed_framing() {
        assert_eq!(
            decode_all(b"zz\r\n", 100).unwrap_err(),
            ChunkedError::InvalidSize
        );
        assert_eq!(
            decode_all(b"\r\n", 100).unwrap_err(),
            ChunkedError::InvalidSize
        );
        assert_eq!(
            decode_all(b"3\r\nabcX\r\n", 100).unwrap_err(),
            ChunkedError::MissingCrlf
        );
        assert_eq!(
            decode_all(b"3\nabc\r\n", 100).unwrap_err(),
            ChunkedError::MissingCrlf
        );
        assert_eq!(
            decode_all(b"11111111111111111\r\n", 100).unwrap_err(),
            ChunkedError::SizeTooLarge
        );
        // Anything but whitespace, `;` or CR after the size digits (issue: `0x5` read as 0).
        for bad in [
            &b"0x5\r\nhello\r\n0\r\n\r\n"[..],
            b"5 5\r\n",
            b"5zz\r\n",
            b"0garbage\r\n\r\n",
        ] {
            assert_eq!(
                decode_all(bad, 100).unwrap_err(),
                ChunkedError::InvalidSize,
                "{bad:?}"
            );
        }
        assert_eq!(
            decode_all(b"5 \t;a=b\r\nhello\r\n0\r\n\r\n", 100)
                .unwrap()
                .0,
            b"hello"
        );
        // Trailer lines are `name: value` without control bytes.
        for bad in [
            &b"0\r\nno colon here\r\n\r\n"[..],
            b"0\r\nX: a\x01b\r\n\r\n",
            b"0\r\n: v\r\n\r\n",
            b"0\r\nGET /plaintext HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                decode_all(bad, 100).unwrap_err(),
                ChunkedError::InvalidTrailer,
                "{bad:?}"
            );
        }
        let long_ext = format!("1;{}\r\n", "a".repeat(MAX_FRAMING_BYTES + 1));
        assert_eq!(
            decode_all(long_ext.as_bytes(), 100).unwrap_err(),
            ChunkedError::FramingTooLong
        );
    }

    proptest! {
        #[test]
        fn round_trips_any_chunking(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..20), step in 1usize..64) {
            let mut wire = Vec::new();
            let mut expect = Vec::new();
            for c in &chunks {
                wire.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                wire.extend_from_slice(c);
                wire.extend_from_slice(b"\r\n");
                expect.extend_from_slice(c);
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            let (out, used) = decode_all(&wire, step).unwrap();
            prop_assert_eq!(out, expect);
            prop_assert_eq!(used, wire.len());
        }

        #[test]
        fn never_panics_on_garbage(input in proptest::collection::vec(any::<u8>(), 0..512), step in 1usize..32) {
            let _ = decode_all(&input, step);
        }
    }
}
