//! What the reliability runs (`bin chaos`, `bin floods`, `bin soak`; issue 15, figures in
//! `docs/reliability.md`) share: the showcase as a real process tree ([`showcase`]), a small
//! blocking HTTP/1.1 client that says *how* a request failed ([`client`]), latency percentiles
//! ([`stats`]), the tree's memory and descriptors from `/proc` ([`sample`]) and the soak's SVG
//! chart ([`svg`]).
//!
//! Why our own client and not wrk: wrk counts errors per kind for the whole run, but the chaos
//! question is *which* requests failed — in flight on the worker that was killed, or anywhere
//! else — so each request is recorded with its start, end, outcome and the worker that held its
//! connection (`X-Worker-Pid`).

pub mod client;
pub mod load;
/// The process-tree readers of the HTTP harness, shared by path.
#[path = "../http/procfs.rs"]
pub mod procfs;
pub mod sample;
pub mod showcase;
pub mod stats;
pub mod svg;

use std::time::{Duration, Instant};

/// Milliseconds since `t0`, as a float (for reports).
pub fn ms_since(t0: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(t0).as_secs_f64() * 1e3
}

/// The value after `--name` in `args`, if given.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.windows(2)
        .find(|w| w[0] == format!("--{name}"))
        .map(|w| w[1].clone())
}

/// A numeric flag with a default; a value that does not parse ends the program with a message.
pub fn num_flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match flag(args, name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("--{name}: not a number: {v}");
            std::process::exit(2)
        }),
    }
}

/// A duration flag in seconds (fractions allowed).
pub fn secs_flag(args: &[String], name: &str, default: f64) -> Duration {
    Duration::from_secs_f64(num_flag(args, name, default))
}

/// Today's UTC date (`YYYY-MM-DD`) for the figures' headers.
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn today_is_a_date() {
        let t = super::today();
        assert_eq!(t.len(), 10);
        assert!(t.starts_with("20"));
    }
}
