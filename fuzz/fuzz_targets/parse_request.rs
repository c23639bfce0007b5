#![no_main]
//! Any bytes: the head parser returns a head, "need more" or a rejection — never a panic — and
//! a complete head is complete at the same length when nothing follows it (what follows a head
//! cannot change where it ends).

use libfuzzer_sys::fuzz_target;
use waitless_gateway::fuzzing::parse_head;

fuzz_target!(|data: &[u8]| {
    if let Some(len) = parse_head(data) {
        assert!(len <= data.len());
        assert_eq!(parse_head(&data[..len]), Some(len));
    }
});
