#![no_main]
//! The process pool's pipe format from both ends, no process: any bytes as what a parent
//! writes go through a pool process's real request loop (`child::serve_on`) with a registry of
//! jobs; what it writes back must parse with the parent's decoder into well-formed responses —
//! HELLO first, then exactly one answer per complete request frame. Any bytes as what a pool
//! process writes go through the parent's decoder: an error or frames, never a panic or an
//! allocation of the announced length.

use libfuzzer_sys::fuzz_target;
use waitless_pool::fuzzing::{parse_responses, serve};
use waitless_pool::{Job, Registry};

fn double(x: i64) -> i64 {
    x.wrapping_mul(2)
}

fn words(s: String) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn sum(v: Vec<f64>) -> f64 {
    v.iter().sum()
}

/// Frames a complete request would count as (the pool process answers each).
fn complete_requests(mut buf: &[u8], max: usize) -> usize {
    let mut n = 0;
    for _ in 0..buf.len() / 4 + 1 {
        let Some(h) = buf.get(..4) else { break };
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len > max || buf.len() < 4 + len {
            break;
        }
        n += 1;
        buf = &buf[4 + len..];
    }
    n
}

const MAX: usize = 64 * 1024;

fuzz_target!(|input: (bool, &[u8])| {
    let (as_parent, data) = input;
    if as_parent {
        // Bytes a broken pool process might write: the parent's decoder must cope.
        let _ = parse_responses(data, MAX);
        return;
    }
    let registry = Registry::new()
        .register(Job::new("double", double))
        .register(Job::new("words", words))
        .register(Job::new("sum", sum));
    let (out, _clean_end) = serve(&registry, data, MAX);
    let (responses, left) = parse_responses(&out, MAX).expect("a pool process writes valid frames");
    assert_eq!(left, 0, "a pool process writes whole frames");
    assert_eq!(responses.first().map(|r| r.0), Some(4), "HELLO first");
    assert_eq!(responses.len() - 1, complete_requests(data, MAX));
    assert!(responses[1..].iter().all(|r| r.0 != 4), "one HELLO");
});
