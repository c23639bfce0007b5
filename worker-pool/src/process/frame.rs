//! The wire format between the parent and a pool process: length-prefixed frames.
//!
//! ```text
//! frame    = len:u32 (little endian, body length) body
//! request  = name_len:u8 name:[u8; name_len] args:JSON          (parent → pool process)
//! response = status:u8 payload                                   (pool process → parent)
//!            status 0 OK          payload = the result as JSON
//!                   1 PANICKED    payload = the panic message (UTF-8)
//!                   2 UNKNOWN_JOB payload = the job name
//!                   3 CODEC       payload = the serde error (arguments did not decode)
//!                   4 HELLO       payload = its pid (decimal ASCII), sent once at start
//! ```
//!
//! Why this shape: one `write` per frame in each direction and no escaping, so the parent finds
//! frame boundaries without parsing JSON; the name travels as raw bytes so the pool process finds
//! the function before it touches the arguments. Every length is checked against a limit *before*
//! anything is allocated: a pool process that writes garbage costs the parent an error, never a
//! panic or an unbounded allocation.

use std::fmt;

/// Default largest frame body accepted in either direction: 64 MiB.
pub const DEFAULT_MAX_FRAME: usize = 64 << 20;

/// Bytes of the length prefix.
pub(crate) const HEADER: usize = 4;

pub(crate) const OK: u8 = 0;
pub(crate) const PANICKED: u8 = 1;
pub(crate) const UNKNOWN_JOB: u8 = 2;
pub(crate) const CODEC: u8 = 3;
pub(crate) const HELLO: u8 = 4;

/// A frame that breaks the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The length prefix announces more than the limit.
    TooLarge { len: usize, max: usize },
    /// An empty body, an unknown status byte, a name running past the body.
    Malformed(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the {max}-byte limit")
            }
            FrameError::Malformed(what) => write!(f, "malformed frame: {what}"),
        }
    }
}

/// The body length announced at the start of `buf`: `Ok(None)` while fewer than 4 bytes are
/// buffered, an error when it exceeds `max`.
pub(crate) fn body_len(buf: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    let Some(header) = buf.get(..HEADER) else {
        return Ok(None);
    };
    let mut bytes = [0u8; HEADER];
    bytes.copy_from_slice(header);
    let len = u32::from_le_bytes(bytes) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(Some(len))
}

/// Appends a frame to `out` whose body is written by `body`; returns the body length.
///
/// The length prefix is patched in afterwards, so the body (usually JSON) is serialized straight
/// into `out`. Errors of `body` and bodies over `max` (or over `u32::MAX`) leave `out` as it was.
pub(crate) fn encode<E: fmt::Display>(
    out: &mut Vec<u8>,
    max: usize,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<usize, String> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    if let Err(e) = body(out) {
        out.truncate(start);
        return Err(e.to_string());
    }
    let len = out.len() - start - HEADER;
    if len > max.min(u32::MAX as usize) {
        out.truncate(start);
        return Err(FrameError::TooLarge { len, max }.to_string());
    }
    out[start..start + HEADER].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(len)
}

/// Appends a request frame for job `name` with arguments serialized by `args`.
pub(crate) fn encode_request<E: fmt::Display>(
    out: &mut Vec<u8>,
    max: usize,
    name: &str,
    args: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<usize, String> {
    let name_len = u8::try_from(name.len()).map_err(|_| "job name over 255 bytes".to_owned())?;
    encode(out, max, |out| {
        out.push(name_len);
        out.extend_from_slice(name.as_bytes());
        args(out)
    })
}

/// Splits a request body into the job name and the JSON arguments.
pub(crate) fn decode_request(body: &[u8]) -> Result<(&[u8], &[u8]), FrameError> {
    let (&name_len, rest) = body
        .split_first()
        .ok_or(FrameError::Malformed("empty request"))?;
    let name_len = usize::from(name_len);
    if rest.len() < name_len {
        return Err(FrameError::Malformed("job name runs past the frame"));
    }
    Ok(rest.split_at(name_len))
}

/// A decoded response body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Response<'a> {
    Ok(&'a [u8]),
    Panicked(&'a [u8]),
    UnknownJob(&'a [u8]),
    Codec(&'a [u8]),
    Hello(&'a [u8]),
}

pub(crate) fn decode_response(body: &[u8]) -> Result<Response<'_>, FrameError> {
    let (&status, payload) = body
        .split_first()
        .ok_or(FrameError::Malformed("empty response"))?;
    Ok(match status {
        OK => Response::Ok(payload),
        PANICKED => Response::Panicked(payload),
        UNKNOWN_JOB => Response::UnknownJob(payload),
        CODEC => Response::Codec(payload),
        HELLO => Response::Hello(payload),
        _ => return Err(FrameError::Malformed("unknown response status")),
    })
}

/// Appends a response frame with `status` and a payload written by `payload`.
pub(crate) fn encode_response<E: fmt::Display>(
    out: &mut Vec<u8>,
    max: usize,
    status: u8,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<usize, String> {
    encode(out, max, |out| {
        out.push(status);
        payload(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn raw(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Infallible> {
        out.extend_from_slice(bytes);
        Ok(())
    }

    #[test]
    fn request_round_trip() {
        let mut buf = Vec::new();
        let len = encode_request(&mut buf, 1024, "fib", |o| raw(o, b"30")).unwrap();
        assert_eq!(len, 1 + 3 + 2);
        assert_eq!(body_len(&buf, 1024), Ok(Some(len)));
        let (name, args) = decode_request(&buf[HEADER..]).unwrap();
        assert_eq!((name, args), (&b"fib"[..], &b"30"[..]));
    }

    #[test]
    fn response_round_trip_every_status() {
        for status in [OK, PANICKED, UNKNOWN_JOB, CODEC, HELLO] {
            let mut buf = Vec::new();
            encode_response(&mut buf, 1024, status, |o| raw(o, b"x")).unwrap();
            let resp = decode_response(&buf[HEADER..]).unwrap();
            let expected = match status {
                OK => Response::Ok(b"x"),
                PANICKED => Response::Panicked(b"x"),
                UNKNOWN_JOB => Response::UnknownJob(b"x"),
                CODEC => Response::Codec(b"x"),
                _ => Response::Hello(b"x"),
            };
            assert_eq!(resp, expected);
        }
    }

    #[test]
    fn frames_concatenate_and_split() {
        let mut buf = Vec::new();
        encode_response(&mut buf, 1024, OK, |o| raw(o, b"1")).unwrap();
        encode_response(&mut buf, 1024, OK, |o| raw(o, b"22")).unwrap();
        let first = body_len(&buf, 1024).unwrap().unwrap();
        let rest = &buf[HEADER + first..];
        assert_eq!(body_len(rest, 1024), Ok(Some(3)));
        assert_eq!(decode_response(&rest[HEADER..]), Ok(Response::Ok(b"22")));
    }

    #[test]
    fn partial_header_needs_more() {
        assert_eq!(body_len(&[1, 0, 0], 10), Ok(None));
        assert_eq!(body_len(&[], 10), Ok(None));
    }

    #[test]
    fn oversized_announcement_is_rejected_before_allocation() {
        let header = u32::MAX.to_le_bytes();
        assert_eq!(
            body_len(&header, DEFAULT_MAX_FRAME),
            Err(FrameError::TooLarge {
                len: u32::MAX as usize,
                max: DEFAULT_MAX_FRAME
            })
        );
    }

    #[test]
    fn oversized_body_is_not_encoded() {
        let mut buf = vec![7];
        let err = encode_request(&mut buf, 8, "job", |o| raw(o, &[b'1'; 32])).unwrap_err();
        assert!(err.contains("exceeds"), "{err}");
        assert_eq!(buf, [7], "a failed encode leaves the buffer as it was");
    }

    #[test]
    fn failing_serializer_leaves_buffer_untouched() {
        let mut buf = Vec::new();
        let err = encode(&mut buf, 64, |_| Err("boom")).unwrap_err();
        assert_eq!(err, "boom");
        assert!(buf.is_empty());
    }

    #[test]
    fn long_names_are_refused() {
        let name = "n".repeat(256);
        assert!(encode_request(&mut Vec::new(), 1024, &name, |o| raw(o, b"0")).is_err());
    }

    #[test]
    fn malformed_bodies() {
        assert!(decode_response(&[]).is_err());
        assert!(decode_response(&[99, 1, 2]).is_err());
        assert!(decode_request(&[]).is_err());
        assert!(decode_request(&[5, b'a']).is_err());
    }

    #[test]
    fn zero_length_name_and_args_are_well_formed() {
        let (name, args) = decode_request(&[0]).unwrap();
        assert!(name.is_empty() && args.is_empty());
    }

    /// Arbitrary bytes (a deterministic xorshift stream) never make the decoders panic, and a
    /// length over the limit is always refused.
    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let max = (next() % 64) as usize;
            match body_len(&bytes, max) {
                Ok(Some(n)) => assert!(n <= max),
                Ok(None) => assert!(bytes.len() < HEADER),
                Err(FrameError::TooLarge { len, .. }) => assert!(len > max),
                Err(FrameError::Malformed(_)) => unreachable!("body_len only checks the length"),
            }
            let _ = decode_response(&bytes);
            if let Ok((name, args)) = decode_request(&bytes) {
                assert_eq!(1 + name.len() + args.len(), bytes.len());
            }
        }
    }
}
