#![no_main]
//! Any bytes as a client WebSocket frame header: the parser never panics, a complete header
//! lies inside the input and parses the same from exactly its own bytes, and every shorter
//! prefix is "need more" or the same rejection (a header is judged on the bytes it has).
//! Unmasking in pieces equals unmasking at once, and twice is the identity.

use libfuzzer_sys::fuzz_target;
use waitless_gateway::fuzzing::{ws_frame_header, ws_unmask};

fuzz_target!(|input: (u8, [u8; 4], &[u8])| {
    let (cut, mask, data) = input;
    let full = ws_frame_header(data);
    if let Ok(Some((_, opcode, len, hlen))) = full {
        assert!(hlen <= data.len() && (2..=14).contains(&hlen));
        assert_eq!(ws_frame_header(&data[..hlen]), full);
        if opcode & 0x8 != 0 {
            assert!(len <= 125);
        }
        for end in 0..hlen {
            match ws_frame_header(&data[..end]) {
                Ok(None) | Err(_) => {}
                other => panic!("prefix {end} of a {hlen}-byte header: {other:?}"),
            }
        }
    }
    let mut once = data.to_vec();
    ws_unmask(&mut once, mask, 0);
    let mut pieces = data.to_vec();
    let cut = usize::from(cut).min(data.len());
    let (a, b) = pieces.split_at_mut(cut);
    ws_unmask(a, mask, 0);
    ws_unmask(b, mask, cut);
    assert_eq!(once, pieces);
    ws_unmask(&mut once, mask, 0);
    assert_eq!(once, data);
});
