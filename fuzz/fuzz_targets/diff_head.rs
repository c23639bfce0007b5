#![no_main]
//! Differential: any bytes as a pipelined request stream, to waitless's server path and to
//! hyper's HTTP/1 server. Both must hand their app the same requests — method, target, version,
//! header fields, decoded body — in the same order, so they agree on accept/reject and on where
//! each request ends. The only disagreements allowed are the documented ones in
//! `waitless_fuzz::differential` (waitless refuses a few heads hyper serves).

use libfuzzer_sys::fuzz_target;
use waitless_fuzz::differential::{compare, Verdict};
use waitless_fuzz::{hyper_side, waitless_side};

fuzz_target!(|data: &[u8]| {
    let w = waitless_side::run(data);
    let h = hyper_side::run(data);
    if let Verdict::Differ(why) = compare(&w.seen, w.rejection.as_deref(), &h, data) {
        panic!(
            "waitless and hyper disagree on {:?}\n{why}",
            String::from_utf8_lossy(data)
        );
    }
});
