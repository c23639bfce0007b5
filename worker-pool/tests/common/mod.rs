//! A tiny test runner for the `harness = false` targets.
//!
//! Why not libtest: a pool process re-executes the test binary, and its `main` must call
//! `waitless_pool::init` before anything else. Under libtest, `main` is generated and every pool
//! process would start running the whole test suite. Here `main` calls `init` first, then runs the
//! tests one after another (each owns the loop of the main thread), under a watchdog that bounds
//! the whole binary's time, and ends with the closing line libtest-aware tools read: `N passed, M
//! failed`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

pub type Test = (&'static str, fn());

/// Runs the tests whose name contains every non-flag argument, then exits.
pub fn run(tests: &[Test], limit: Duration) -> ! {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("watchdog: the tests took longer than {limit:?}; aborting");
        std::process::exit(101);
    });
    let (mut passed, mut failed) = (0, 0);
    let started = Instant::now();
    for (name, test) in tests {
        if !filters.iter().all(|f| name.contains(f.as_str())) {
            continue;
        }
        let t0 = Instant::now();
        match catch_unwind(AssertUnwindSafe(test)) {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok ({:?})", t0.elapsed());
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED ({:?})", t0.elapsed());
            }
        }
    }
    println!("finished in {:?}", started.elapsed());
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 101 })
}
