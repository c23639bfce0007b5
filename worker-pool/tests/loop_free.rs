//! The seed's claim as a test: CPU work in the pool leaves the loop free; CPU work on the loop
//! does not.
//!
//! A timer task on the loop wakes every 10 ms and records how late each wake-up is. Meanwhile four
//! fib jobs of at least 100 ms each run (a) in the process pool, (b) in the thread pool, (c)
//! inline on the loop. In (a) and (b) every wake-up is within a third of one fib of its deadline
//! (the pool's two threads and the loop share 2 cores, so the scheduler may delay the loop by a
//! time slice or two, never by a whole job); in (c) a wake-up waits for most of a fib, and the
//! test shows that delay. Typical figures on a quiet machine: 5–9 ms vs ~490 ms.
//!
//! `harness = false` (see `common/mod.rs`): pool processes re-execute this binary, so `main` calls
//! `waitless_pool::init` first.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use waitless_executor::{block_on, spawn, yield_now};
use waitless_pool::{Job, ProcessPool, Registry, ThreadPool};

fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

const FIB: Job<u32, u64> = Job::new("fib", fib);

const TICK: Duration = Duration::from_millis(10);
/// The latest a tick may fire when the loop is free: a third of one fib (at least 33 ms), far
/// below the delay of one fib on the loop, far above a busy scheduler's time slice.
fn max_late() -> Duration {
    calibrate().1 / 3
}

/// The smallest n whose fib takes at least 100 ms here (debug or release alike), measured once.
fn calibrate() -> (u32, Duration) {
    static CALIBRATED: std::sync::OnceLock<(u32, Duration)> = std::sync::OnceLock::new();
    *CALIBRATED.get_or_init(measure)
}

fn measure() -> (u32, Duration) {
    let mut n = 24;
    loop {
        let t0 = Instant::now();
        std::hint::black_box(fib(std::hint::black_box(n)));
        let took = t0.elapsed();
        if took >= Duration::from_millis(100) {
            return (n, took);
        }
        n += 1;
    }
}

/// Runs `work` on the loop next to a 10 ms ticker; returns (the work's results, the latest tick).
fn with_ticker<F, Fut>(work: F) -> (Vec<u64>, Duration)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Vec<u64>>,
{
    block_on(async {
        let done = Rc::new(Cell::new(false));
        let worst = Rc::new(Cell::new(Duration::ZERO));
        let ticker = {
            let (done, worst) = (done.clone(), worst.clone());
            spawn(async move {
                let mut deadline = Instant::now() + TICK;
                while !done.get() {
                    waitless_reactor::sleep_until(deadline).await;
                    let late = Instant::now().saturating_duration_since(deadline);
                    worst.set(worst.get().max(late));
                    deadline += TICK;
                    // A tick that was late does not make the following ones late as well.
                    deadline = deadline.max(Instant::now());
                }
            })
        };
        let results = work().await;
        done.set(true);
        ticker.await.unwrap();
        (results, worst.get())
    })
}

fn process_pool_leaves_the_loop_free() {
    let (n, took) = calibrate();
    println!("  fib({n}) takes {took:?} inline");
    let pool = ProcessPool::builder().processes(2).build().unwrap();
    // Start the pool processes before measuring (process start-up is not the point here).
    block_on(async { pool.run(FIB, 1).await.unwrap() });
    let (results, worst) = with_ticker(|| async {
        let jobs: Vec<_> = (0..4).map(|_| pool.run(FIB, n)).collect();
        let mut out = Vec::new();
        for job in jobs {
            out.push(job.await.unwrap());
        }
        out
    });
    println!("  process pool: latest tick {worst:?}");
    assert_eq!(results, vec![fib(n); 4]);
    assert!(
        worst <= max_late(),
        "a timer fired {worst:?} late (limit {:?})",
        max_late()
    );
}

fn thread_pool_leaves_the_loop_free() {
    let (n, _) = calibrate();
    let pool = ThreadPool::builder().threads(2).build().unwrap();
    let (results, worst) = with_ticker(|| async {
        let jobs: Vec<_> = (0..4).map(|_| pool.spawn(move || fib(n))).collect();
        let mut out = Vec::new();
        for job in jobs {
            out.push(job.await.unwrap());
        }
        out
    });
    println!("  thread pool: latest tick {worst:?}");
    assert_eq!(results.len(), 4);
    assert!(
        worst <= max_late(),
        "a timer fired {worst:?} late (limit {:?})",
        max_late()
    );
}

fn inline_blocks_the_loop() {
    let (n, took) = calibrate();
    let (results, worst) = with_ticker(|| async {
        // Let the ticker arm its first timer, then compute on the loop (the anti-pattern).
        yield_now().await;
        let mut out = Vec::new();
        for _ in 0..4 {
            out.push(FIB.call(n));
            yield_now().await;
        }
        out
    });
    println!("  inline: latest tick {worst:?}");
    assert_eq!(results.len(), 4);
    // A tick due during a fib waits for it to end: late by most of one fib (>= 100 ms).
    assert!(
        worst >= took / 2,
        "inline work should delay the timer (worst {worst:?}, fib {took:?})"
    );
}

fn main() {
    waitless_pool::init(Registry::new().register(FIB));
    common::run(
        &[
            (
                "process_pool_leaves_the_loop_free",
                process_pool_leaves_the_loop_free,
            ),
            (
                "thread_pool_leaves_the_loop_free",
                thread_pool_leaves_the_loop_free,
            ),
            ("inline_blocks_the_loop", inline_blocks_the_loop),
        ],
        Duration::from_secs(60),
    );
}
