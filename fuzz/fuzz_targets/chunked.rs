#![no_main]
//! Any bytes as a chunked body, fed in pieces of any size: the decoder terminates, never
//! panics, and its verdict (body, where it ends, rejection) does not depend on how the bytes
//! were cut — a read boundary must never change framing.

use libfuzzer_sys::fuzz_target;
use waitless_gateway::fuzzing::{decode_chunked, Chunked};

fuzz_target!(|input: (u8, &[u8])| {
    let (step, data) = input;
    let whole = decode_chunked(data, data.len().max(1));
    let pieces = decode_chunked(data, usize::from(step) + 1);
    let bytes = decode_chunked(data, 1);
    assert_eq!(whole, pieces, "step {}", usize::from(step) + 1);
    assert_eq!(whole, bytes, "step 1");
    if let Chunked::Done { used, .. } = whole {
        assert!(used <= data.len());
    }
});
