#![no_main]
//! Any bytes: the head parser must return a head, "need more" or a rejection — never panic —
//! and every offset it returns must lie inside the input.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(len) = waitless_gateway::fuzzing::parse_head(data) {
        assert!(len <= data.len());
    }
});
