#![no_main]
//! The incremental UTF-8 validator against std's whole-buffer check: the bytes arrive in pieces
//! (cut where the fuzzer says); a valid message is never refused, and an invalid one is refused
//! at the first piece that holds a byte no continuation could make valid (fail fast, Autobahn
//! section 6) — not before, not later.

use libfuzzer_sys::fuzz_target;
use waitless_gateway::fuzzing::Utf8Check;

// The input: a count `k` (first byte, mod 8), `k` cut positions, then the message.
fuzz_target!(|input: &[u8]| {
    let Some((&k, rest)) = input.split_first() else {
        return;
    };
    let k = usize::from(k % 8).min(rest.len());
    let (cuts, data) = rest.split_at(k);
    let mut check = Utf8Check::default();
    let mut ends: Vec<usize> = cuts
        .iter()
        .map(|&c| usize::from(c) % (data.len() + 1))
        .collect();
    ends.push(data.len());
    ends.sort_unstable();
    let mut failed_at = None;
    for &end in &ends {
        if !check.feed(&data[..end]) {
            failed_at = Some(end);
            break;
        }
    }
    match std::str::from_utf8(data) {
        Ok(_) => assert_eq!(failed_at, None, "valid UTF-8 refused"),
        // Cut inside the last code point: nothing is definitely wrong yet (the complete message
        // is checked whole when it becomes a `&str`).
        Err(e) if e.error_len().is_none() => {
            assert_eq!(failed_at, None, "refused a cut code point")
        }
        Err(e) => {
            // The shortest prefix that std already calls invalid (not merely cut short).
            let first_bad = (e.valid_up_to() + 1..=data.len())
                .find(|&p| matches!(std::str::from_utf8(&data[..p]), Err(e) if e.error_len().is_some()))
                .expect("the whole input is such a prefix");
            let end = failed_at.unwrap_or_else(|| panic!("invalid UTF-8 accepted: {e}"));
            assert!(end >= first_bad, "refused before the bad byte arrived");
            let before = ends
                .iter()
                .filter(|&&x| x < end)
                .max()
                .copied()
                .unwrap_or(0);
            assert!(
                before < first_bad,
                "refused late: the bad byte was in by {before}"
            );
        }
    }
});
