#![no_main]
//! Differential on the chunked body: a fixed, valid chunked request head, then any bytes as its
//! body, then a second request — to waitless and to hyper. Both must decode the same body (or
//! both refuse it) and, when the body ends, find the second request at the same place; this is
//! where a smuggling bug (an accepted `0x5` chunk size, a lone LF, an overflowing size) shows.

use libfuzzer_sys::fuzz_target;
use waitless_fuzz::differential::{compare, Verdict};
use waitless_fuzz::{hyper_side, waitless_side};

const HEAD: &[u8] = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
const NEXT: &[u8] = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n";

fuzz_target!(|body: &[u8]| {
    let mut data = HEAD.to_vec();
    data.extend_from_slice(body);
    data.extend_from_slice(NEXT);
    let w = waitless_side::run(&data);
    let h = hyper_side::run(&data);
    if let Verdict::Differ(why) = compare(&w.seen, w.rejection.as_deref(), &h, &data) {
        panic!(
            "waitless and hyper disagree on {:?}\n{why}",
            String::from_utf8_lossy(&data)
        );
    }
});
