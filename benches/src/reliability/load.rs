//! Closed-loop load on keep-alive connections, every request recorded: when it started and
//! ended (relative to the run's start), how it ended, and which worker held its connection.
//! A request that met a stale connection is retried once on a fresh one, as HTTP/1.1 clients
//! do (the retry is recorded as a request of its own).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::client::{Conn, Failure};

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    Failed(Failure),
}

/// One request as the client saw it.
#[derive(Clone, Copy, Debug)]
pub struct Record {
    pub start: Duration,
    pub end: Duration,
    pub outcome: Outcome,
    /// The worker that held the connection (from this or an earlier response on it).
    pub pid: Option<u32>,
    /// This request repeats one that met a stale connection.
    pub retry: bool,
}

impl Record {
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Status(s) if (200..300).contains(&s))
    }
}

/// What request a connection sends next: (method, path), given the connection's index.
pub type Plan = fn(usize, u64) -> (&'static str, String);

/// `conns` threads, each one keep-alive connection sending `plan`'s requests back to back
/// until `stop` is set (or, with `stop_on_refused`, until a connect is refused).
pub struct Load {
    pub t0: Instant,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<Record>>>,
}

impl Load {
    pub fn start(addr: SocketAddr, conns: usize, plan: Plan, stop_on_refused: bool) -> Load {
        let t0 = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..conns)
            .map(|i| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || run(addr, i, plan, t0, &stop, stop_on_refused))
            })
            .collect();
        Load { t0, stop, threads }
    }

    /// Stops the connections and returns every record, sorted by start.
    pub fn finish(self) -> Vec<Record> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all: Vec<Record> = self
            .threads
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_default())
            .collect();
        all.sort_by_key(|r| r.start);
        all
    }
}

fn run(
    addr: SocketAddr,
    i: usize,
    plan: Plan,
    t0: Instant,
    stop: &AtomicBool,
    stop_on_refused: bool,
) -> Vec<Record> {
    let mut conn = Conn::new(addr, Duration::from_secs(10));
    let mut out = Vec::with_capacity(1 << 16);
    let mut n = 0u64;
    // Bounded by the caller's stop flag; a refused connect backs off 1 ms so a dead server
    // does not turn this into a busy loop.
    while !stop.load(Ordering::Relaxed) {
        let (method, path) = plan(i, n);
        n += 1;
        let mut retry = false;
        loop {
            let pid = conn.pid;
            let start = t0.elapsed();
            let result = conn.request(method, &path, None);
            let end = t0.elapsed();
            let (outcome, pid) = match result {
                Ok(reply) => (Outcome::Status(reply.status), reply.pid.or(pid)),
                Err(f) => (Outcome::Failed(f), pid),
            };
            out.push(Record {
                start,
                end,
                outcome,
                pid,
                retry,
            });
            match outcome {
                Outcome::Failed(Failure::Stale) if !retry => retry = true,
                Outcome::Failed(Failure::Connect) => {
                    if stop_on_refused {
                        return out;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                    break;
                }
                _ => break,
            }
        }
    }
    out
}

/// The longest time between two consecutive successful responses (any connection) within
/// `[from, to]`: how long the service stopped answering, at worst.
pub fn longest_silence(records: &[Record], from: Duration, to: Duration) -> Duration {
    let mut ends: Vec<Duration> = records
        .iter()
        .filter(|r| r.ok() && r.end >= from && r.end <= to)
        .map(|r| r.end)
        .collect();
    ends.sort();
    let mut worst = Duration::ZERO;
    let mut last = from;
    for e in ends {
        worst = worst.max(e.saturating_sub(last));
        last = e;
    }
    worst.max(to.saturating_sub(last))
}
