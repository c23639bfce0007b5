//! fib(n) three ways: inline on the loop, on the thread pool, in the process pool — with a timer
//! task that shows how late the loop gets in each case.
//!
//! `cargo run --release -p waitless-pool --example fib -- 38`

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use waitless_executor::{block_on, spawn};
use waitless_pool::{Job, ProcessPool, Registry, ThreadPool};

fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

/// Returns fib(n) and the pid that computed it.
fn fib_with_pid(n: u32) -> (u64, u32) {
    (fib(n), std::process::id())
}

const FIB: Job<u32, (u64, u32)> = Job::new("fib", fib_with_pid);

fn main() {
    // First thing in main: in a pool process this serves jobs and never returns.
    waitless_pool::init(Registry::new().register(FIB));

    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(35);
    let threads = ThreadPool::builder()
        .threads(2)
        .build()
        .expect("thread pool");
    let processes = ProcessPool::builder()
        .processes(2)
        .build()
        .expect("process pool");
    println!("loop process: pid {}", std::process::id());

    block_on(async {
        // Warm the process pool up so its start-up is not counted.
        processes.run(FIB, 1).await.expect("warm-up");
        for mode in ["inline", "thread", "process"] {
            let worst = Rc::new(Cell::new(Duration::ZERO));
            let done = Rc::new(Cell::new(false));
            let ticker = {
                let (worst, done) = (worst.clone(), done.clone());
                spawn(async move {
                    while !done.get() {
                        let deadline = Instant::now() + Duration::from_millis(10);
                        waitless_reactor::sleep_until(deadline).await;
                        worst.set(worst.get().max(Instant::now() - deadline));
                    }
                })
            };
            waitless_executor::yield_now().await;
            let start = Instant::now();
            let (value, pid) = match mode {
                "inline" => FIB.call(n),
                "thread" => threads.spawn(move || fib_with_pid(n)).await.expect("job"),
                _ => processes.run(FIB, n).await.expect("job"),
            };
            done.set(true);
            ticker.await.expect("ticker");
            println!(
                "{mode:>7}: fib({n}) = {value} in {:?}, computed by pid {pid}; the loop's timer was up to {:?} late",
                start.elapsed(),
                worst.get()
            );
        }
    });
}
