//! Which data structure should hold a reactor's timers? The measurement behind the choice in
//! `reactor/src/timer.rs` (`docs/reactor.md`, "Timers").
//!
//! Both candidates are written out here in the shape the reactor would use them (a timer is a
//! deadline plus a waker; a handle must be able to cancel it):
//!
//! * **heap**: `Slab<Entry>` + `BinaryHeap<(deadline, seq, slot)>`, cancel = slab removal, dead
//!   heap entries skipped lazily and compacted when they outnumber live ones (what waitless uses);
//! * **btree**: `BTreeMap<(deadline, seq), Waker>`, cancel = map removal (async-io's design).
//!
//! Workloads, 100,000 timers each, medians of 7 runs (heap and tree alternate per workload):
//! 1. insert 100,000 timers (deadlines spread over 10–60 s), then cancel them all;
//! 2. churn: with 100,000 timers pending, 100,000 × (insert one, cancel one) — the keep-alive
//!    pattern of a busy server;
//! 3. expire: insert 100,000, then pop them all in deadline order.
//!
//! `cargo run --release -p waitless-benches --bin timer_structures`

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::hint::black_box;
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

const N: usize = 100_000;

struct Heap {
    entries: Slab<(Instant, u64, Waker)>,
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    seq: u64,
}

/// The operations the reactor needs from a timer structure.
trait TimerSet {
    type Key;
    fn new() -> Self;
    fn insert(&mut self, at: Instant, w: &Waker) -> Self::Key;
    fn cancel(&mut self, key: Self::Key);
    fn pop(&mut self) -> Option<Waker>;
}

impl TimerSet for Heap {
    type Key = (usize, u64);

    fn new() -> Heap {
        Heap {
            entries: Slab::new(),
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
    fn insert(&mut self, at: Instant, w: &Waker) -> Self::Key {
        self.seq += 1;
        let i = self.entries.insert((at, self.seq, w.clone()));
        self.heap.push(Reverse((at, self.seq, i)));
        (i, self.seq)
    }
    fn cancel(&mut self, (i, seq): Self::Key) {
        if self.entries.get(i).is_some_and(|e| e.1 == seq) {
            self.entries.remove(i);
            if self.heap.len() > 2 * self.entries.len() + 1024 {
                let live: Vec<_> = self
                    .entries
                    .iter()
                    .map(|(i, e)| Reverse((e.0, e.1, i)))
                    .collect();
                self.heap = BinaryHeap::from(live);
            }
        }
    }
    fn pop(&mut self) -> Option<Waker> {
        while let Some(Reverse((_, seq, i))) = self.heap.pop() {
            if self.entries.get(i).is_some_and(|e| e.1 == seq) {
                return Some(self.entries.remove(i).2);
            }
        }
        None
    }
}

struct Tree {
    map: BTreeMap<(Instant, u64), Waker>,
    seq: u64,
}

impl TimerSet for Tree {
    type Key = (Instant, u64);

    fn new() -> Tree {
        Tree {
            map: BTreeMap::new(),
            seq: 0,
        }
    }
    fn insert(&mut self, at: Instant, w: &Waker) -> Self::Key {
        self.seq += 1;
        self.map.insert((at, self.seq), w.clone());
        (at, self.seq)
    }
    fn cancel(&mut self, key: Self::Key) {
        self.map.remove(&key);
    }
    fn pop(&mut self) -> Option<Waker> {
        self.map.pop_first().map(|(_, w)| w)
    }
}

fn deadlines(base: Instant) -> Vec<Instant> {
    // Deterministic spread over 10..60 s (a simple LCG, no rand dependency).
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..N)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            base + Duration::from_millis(10_000 + (x >> 33) % 50_000)
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median time of 7 runs of `work` on a structure first filled by `fill`.
fn measure<T: TimerSet>(at: &[Instant], fill: bool, work: impl Fn(&mut T, &[Instant])) -> Duration {
    let w = Waker::noop();
    let times = (0..7)
        .map(|_| {
            let mut set = T::new();
            if fill {
                at.iter().for_each(|d| {
                    set.insert(*d, w);
                });
            }
            let s = Instant::now();
            work(&mut set, at);
            let elapsed = s.elapsed();
            black_box(&mut set);
            elapsed
        })
        .collect();
    median(times)
}

/// Insert all, then cancel all.
fn insert_cancel<T: TimerSet>(set: &mut T, at: &[Instant]) {
    let keys: Vec<_> = at.iter().map(|d| set.insert(*d, Waker::noop())).collect();
    keys.into_iter().for_each(|k| set.cancel(k));
}

/// Insert one and cancel it, for every deadline (on a filled set).
fn churn<T: TimerSet>(set: &mut T, at: &[Instant]) {
    for d in at {
        let k = set.insert(*d, Waker::noop());
        set.cancel(k);
    }
}

/// Pop every timer in deadline order (on a filled set).
fn expire<T: TimerSet>(set: &mut T, _: &[Instant]) {
    while let Some(w) = set.pop() {
        black_box(w);
    }
}

fn main() {
    let at = deadlines(Instant::now());
    let rows = [
        (
            "insert 100k, cancel 100k",
            measure::<Heap>(&at, false, insert_cancel),
            measure::<Tree>(&at, false, insert_cancel),
        ),
        (
            "churn 100k insert+cancel, 100k pending",
            measure::<Heap>(&at, true, churn),
            measure::<Tree>(&at, true, churn),
        ),
        (
            "expire 100k in order",
            measure::<Heap>(&at, true, expire),
            measure::<Tree>(&at, true, expire),
        ),
    ];
    println!("| workload | heap + slab (waitless) | BTreeMap | heap / btree |");
    println!("|---|---:|---:|---:|");
    for (name, h, t) in rows {
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} |",
            h.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e3,
            h.as_secs_f64() / t.as_secs_f64()
        );
    }
}
