#![no_main]
//! Any bytes, fed in pieces of any size: the chunked decoder must terminate and never panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &[u8])| {
    let (step, data) = input;
    waitless_gateway::fuzzing::decode_chunked(data, step as usize + 1);
});
