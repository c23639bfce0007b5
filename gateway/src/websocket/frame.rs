//! The RFC 6455 frame format (section 5.2), sans I/O: parse a header from bytes, write a header
//! into a buffer, unmask a payload.
//!
//! ```text
//!   0                   1                   2                   3
//!   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!  +-+-+-+-+-------+-+-------------+-------------------------------+
//!  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//!  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//!  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//!  | |1|2|3|       |K|             |                               |
//!  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//!  |     Extended payload length continued, if payload len == 127  |
//!  + - - - - - - - - - - - - - - - +-------------------------------+
//!  |                               |Masking-key, if MASK set to 1  |
//!  +-------------------------------+-------------------------------+
//! ```
//!
//! Why these rules live apart from the socket: every check here is a pure function of at most
//! 14 bytes, so the table-driven tests exercise them without a connection, and the reader in
//! `reader.rs` only decides *when* to call them.

use super::error::ProtocolError;

/// Continuation of a fragmented message.
pub(crate) const CONTINUATION: u8 = 0x0;
/// A text message (UTF-8).
pub(crate) const TEXT: u8 = 0x1;
/// A binary message.
pub(crate) const BINARY: u8 = 0x2;
/// Close (control).
pub(crate) const CLOSE: u8 = 0x8;
/// Ping (control).
pub(crate) const PING: u8 = 0x9;
/// Pong (control).
pub(crate) const PONG: u8 = 0xA;

/// The longest control-frame payload.
pub(crate) const MAX_CONTROL: usize = 125;

/// A parsed client frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) fin: bool,
    pub(crate) opcode: u8,
    pub(crate) mask: [u8; 4],
    pub(crate) len: u64,
}

impl Header {
    pub(crate) fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// Parses a client frame header at the start of `buf`: `Ok(None)` until the whole header is
/// there, then the header and its length. Enforces what a header alone can break: reserved bits
/// (no extension is negotiated), reserved opcodes, masking (clients must mask), and the control
/// frame rules (not fragmented, at most 125 bytes).
pub(crate) fn parse_header(buf: &[u8]) -> Result<Option<(Header, usize)>, ProtocolError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(ProtocolError::ReservedBits);
    }
    let opcode = b0 & 0x0F;
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(ProtocolError::ReservedOpcode(opcode));
    }
    if b1 & 0x80 == 0 {
        return Err(ProtocolError::Unmasked);
    }
    let fin = b0 & 0x80 != 0;
    let (len, at) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
            _ => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(bytes) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                let len = u64::from_be_bytes(be);
                if len >> 63 != 0 {
                    return Err(ProtocolError::BadLength);
                }
                (len, 10)
            }
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    let Some(key) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    let header = Header {
        fin,
        opcode,
        mask: [key[0], key[1], key[2], key[3]],
        len,
    };
    if header.is_control() {
        if !fin {
            return Err(ProtocolError::FragmentedControl);
        }
        if len > MAX_CONTROL as u64 {
            return Err(ProtocolError::ControlTooLong);
        }
    }
    Ok(Some((header, at + 4)))
}

/// Appends an unmasked (server) frame header.
pub(crate) fn write_header(out: &mut Vec<u8>, fin: bool, opcode: u8, len: usize) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends a whole unfragmented server frame.
pub(crate) fn write_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    write_header(out, true, opcode, payload.len());
    out.extend_from_slice(payload);
}

/// XORs `data` with the masking key; `offset` is how many bytes of the same payload were
/// unmasked before (payloads arrive in pieces). Eight bytes at a time.
pub(crate) fn unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let r = offset % 4;
    let m = [
        mask[r],
        mask[(r + 1) % 4],
        mask[(r + 2) % 4],
        mask[(r + 3) % 4],
    ];
    let wide = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    // The chunks covered a multiple of 4 bytes: the remainder starts at mask position 0 of `m`.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= m[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(b0: u8, len: &[u8]) -> Vec<u8> {
        let mut v = vec![b0];
        v.extend_from_slice(len);
        v[1] |= 0x80;
        v.extend_from_slice(&[1, 2, 3, 4]);
        v
    }

    #[test]
    fn header_lengths_and_incomplete_headers() {
        let h = masked(0x81, &[5]);
        let (hd, n) = parse_header(&h).unwrap().unwrap();
        assert_eq!((hd.fin, hd.opcode, hd.len, n), (true, TEXT, 5, 6));
        let h = masked(0x02, &[126, 0x01, 0x00]);
        assert_eq!(parse_header(&h).unwrap().unwrap().0.len, 256);
        let h = masked(0x82, &[127, 0, 0, 0, 0, 0, 1, 0, 0]);
        let (hd, n) = parse_header(&h).unwrap().unwrap();
        assert_eq!((hd.len, n), (65536, 14));
        for cut in 0..h.len() {
            assert_eq!(parse_header(&h[..cut]).unwrap(), None, "cut {cut}");
        }
    }

    #[test]
    fn header_rules() {
        assert_eq!(
            parse_header(&masked(0xC1, &[0])),
            Err(ProtocolError::ReservedBits)
        );
        assert_eq!(
            parse_header(&masked(0x83, &[0])),
            Err(ProtocolError::ReservedOpcode(3))
        );
        assert_eq!(parse_header(&[0x81, 0x00]), Err(ProtocolError::Unmasked));
        assert_eq!(
            parse_header(&masked(0x09, &[0])),
            Err(ProtocolError::FragmentedControl)
        );
        assert_eq!(
            parse_header(&masked(0x89, &[126, 0, 126])),
            Err(ProtocolError::ControlTooLong)
        );
        assert_eq!(
            parse_header(&masked(0x82, &[127, 0x80, 0, 0, 0, 0, 0, 0, 0])),
            Err(ProtocolError::BadLength)
        );
    }

    #[test]
    fn unmask_at_any_offset_matches_bytewise() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let plain: Vec<u8> = (0..100u8).collect();
        let masked: Vec<u8> = plain
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        for split in [0, 1, 3, 7, 8, 9, 50, 99, 100] {
            let mut data = masked.clone();
            let (a, b) = data.split_at_mut(split);
            unmask(a, mask, 0);
            unmask(b, mask, split);
            assert_eq!(data, plain, "split {split}");
        }
    }

    #[test]
    fn server_headers_use_the_shortest_length() {
        let mut out = Vec::new();
        write_header(&mut out, true, TEXT, 125);
        assert_eq!(out, [0x81, 125]);
        out.clear();
        write_header(&mut out, false, BINARY, 126);
        assert_eq!(out, [0x02, 126, 0, 126]);
        out.clear();
        write_header(&mut out, true, BINARY, 70_000);
        assert_eq!(out, [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }
}
