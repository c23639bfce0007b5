//! Shared helpers of the waitless benchmarks: the alternating run loop, medians, formatting and
//! the result table.
//!
//! This crate is for measurement only (`publish = false`); it is the one place in the workspace
//! allowed to depend on the peers waitless is measured against (tokio, async-executor, async-io,
//! async-channel).
//!
//! Method, shared by every benchmark: the three runtimes run **in alternation** (waitless, tokio,
//! async-executor, waitless, tokio, …) so that a burst of noise from the rest of the machine hits
//! all three alike instead of one of them; one full round is run first and thrown away (warm-up:
//! page faults, allocator growth, lazily created runtime state); the **median** of the remaining
//! rounds is reported, because a noisy machine adds outliers on one side only.

pub mod reliability;

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

/// The runtimes under comparison, in the order they run within a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// `waitless_executor::block_on`/`spawn` with `waitless_reactor` I/O and timers.
    Waitless,
    /// tokio's `new_current_thread().enable_all()` runtime.
    Tokio,
    /// `async_executor::LocalExecutor` under `async_io::block_on`, with async-io and
    /// async-channel.
    AsyncExecutor,
}

impl Runtime {
    /// All runtimes, in round order.
    pub const ALL: [Runtime; 3] = [Runtime::Waitless, Runtime::Tokio, Runtime::AsyncExecutor];

    /// The column title.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Waitless => "waitless",
            Runtime::Tokio => "tokio",
            Runtime::AsyncExecutor => "async-executor",
        }
    }
}

/// One run of one benchmark on one runtime: the time of each measured phase (most benchmarks
/// have a single phase).
pub type Sample = Vec<Duration>;

/// Runs `bench` for every runtime, `warmup` discarded rounds and then `repeats` measured rounds,
/// alternating the runtimes within each round. Returns the measured samples per runtime, in
/// [`Runtime::ALL`] order.
pub fn alternate(
    warmup: usize,
    repeats: usize,
    mut bench: impl FnMut(Runtime) -> Sample,
) -> [Vec<Sample>; 3] {
    let mut out: [Vec<Sample>; 3] = Default::default();
    for round in 0..warmup + repeats {
        for (i, rt) in Runtime::ALL.into_iter().enumerate() {
            let sample = bench(rt);
            if round >= warmup {
                out[i].push(sample);
            }
        }
    }
    out
}

/// The median of `samples` (the mean of the two middle values for an even count).
///
/// # Panics
///
/// If `samples` is empty.
pub fn median(samples: &[Duration]) -> Duration {
    assert!(!samples.is_empty(), "median of no samples");
    let mut v = samples.to_vec();
    v.sort_unstable();
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2
    }
}

/// The median of rates or ratios (sorted in place; the mean of the two middle values for an
/// even count). Shared by the pool and worker-tier benchmarks.
///
/// # Panics
///
/// If `v` is empty.
pub fn median_f64(v: &mut [f64]) -> f64 {
    assert!(!v.is_empty(), "median of no samples");
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// A duration with a unit that keeps 3–4 significant digits (`812 µs`, `41.3 ms`, `1.27 s`).
pub fn fmt_time(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        let ms = s * 1e3;
        if ms < 10.0 {
            format!("{ms:.2} ms")
        } else {
            format!("{ms:.1} ms")
        }
    } else {
        format!("{s:.2} s")
    }
}

/// A rate per second with an SI prefix (`8.12 M/s`, `412 k/s`).
pub fn fmt_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.0} k/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.0} /s")
    }
}

/// One line of the result table: a benchmark (or one phase of it) and its median per runtime.
#[derive(Clone, Debug)]
pub struct Row {
    /// What the row measures, e.g. `spawn+join 1,000,000 tasks`.
    pub name: String,
    /// Operations done in one run (for the ops/s figure).
    pub ops: u64,
    /// Median time per runtime, in [`Runtime::ALL`] order.
    pub medians: [Duration; 3],
}

impl Row {
    /// Builds the row for phase `phase` of `samples` (as returned by [`alternate`]).
    pub fn from_phase(
        name: impl Into<String>,
        ops: u64,
        samples: &[Vec<Sample>; 3],
        phase: usize,
    ) -> Row {
        let medians = std::array::from_fn(|i| {
            let times: Vec<Duration> = samples[i].iter().map(|s| s[phase]).collect();
            median(&times)
        });
        Row {
            name: name.into(),
            ops,
            medians,
        }
    }

    /// waitless time / peer time: below 1.00 waitless is faster.
    pub fn ratio(&self, peer: Runtime) -> f64 {
        let peer = match peer {
            Runtime::Waitless => 0,
            Runtime::Tokio => 1,
            Runtime::AsyncExecutor => 2,
        };
        self.medians[0].as_secs_f64() / self.medians[peer].as_secs_f64()
    }
}

/// Prints the raw samples of every phase (one line per runtime), so the noise can be judged.
pub fn print_samples(phase_names: &[&str], samples: &[Vec<Sample>; 3]) {
    for (p, phase) in phase_names.iter().enumerate() {
        if phase_names.len() > 1 {
            println!("  {phase}");
        }
        for (i, rt) in Runtime::ALL.into_iter().enumerate() {
            let times: Vec<String> = samples[i].iter().map(|s| fmt_time(s[p])).collect();
            println!("    {:<15} {}", rt.name(), times.join("  "));
        }
    }
}

/// The result table in Markdown: median time and ops/s per runtime, then the time ratios.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| benchmark | waitless | tokio | async-executor | waitless/tokio | waitless/async-executor |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for row in rows {
        let cells: Vec<String> = row
            .medians
            .iter()
            .map(|&d| {
                let rate = row.ops as f64 / d.as_secs_f64();
                format!("{} ({})", fmt_time(d), fmt_rate(rate))
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {:.2} |",
            row.name,
            cells[0],
            cells[1],
            cells[2],
            row.ratio(Runtime::Tokio),
            row.ratio(Runtime::AsyncExecutor),
        );
    }
    out
}

/// `1000000` → `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A fixed set of futures pinned where they were created, so that each can be polled in place
/// without a `Box` per future (tokio's `Sleep` is `!Unpin`; boxing only some runtimes' timers
/// would charge them an allocation the others do not pay).
pub struct PinnedSlice<F> {
    // Never handed out by `&mut` and never resized: the elements do not move until dropped.
    futures: Box<[F]>,
}

impl<F: Future> PinnedSlice<F> {
    /// Collects the futures into one allocation.
    pub fn new(futures: impl IntoIterator<Item = F>) -> PinnedSlice<F> {
        PinnedSlice {
            futures: futures.into_iter().collect(),
        }
    }

    /// Polls every future once with `cx`; returns how many were ready.
    pub fn poll_each_once(&mut self, cx: &mut Context<'_>) -> usize {
        let mut ready = 0;
        for f in self.futures.iter_mut() {
            // SAFETY: the futures live in a boxed slice that is never resized, moved out of or
            // exposed mutably; each element stays at its address until the slice is dropped,
            // which drops the elements in place.
            let f = unsafe { Pin::new_unchecked(f) };
            if f.poll(cx).is_ready() {
                ready += 1;
            }
        }
        ready
    }

    /// How many futures the slice holds.
    pub fn len(&self) -> usize {
        self.futures.len()
    }

    /// Whether the slice holds no future.
    pub fn is_empty(&self) -> bool {
        self.futures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_and_even() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&[ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
    }

    #[test]
    fn formatting() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(fmt_time(Duration::from_micros(812)), "812 µs");
        assert_eq!(fmt_time(Duration::from_micros(41_300)), "41.3 ms");
        assert_eq!(fmt_rate(8_120_000.0), "8.12 M/s");
    }

    #[test]
    fn alternation_order_and_warmup() {
        let mut order = Vec::new();
        let out = alternate(1, 2, |rt| {
            order.push(rt);
            vec![Duration::from_millis(order.len() as u64)]
        });
        assert_eq!(order.len(), 9);
        assert_eq!(&order[..3], &Runtime::ALL);
        assert_eq!(out[0].len(), 2);
        // Warm-up samples (1..=3) are discarded.
        assert_eq!(out[0][0][0], Duration::from_millis(4));
    }
}
