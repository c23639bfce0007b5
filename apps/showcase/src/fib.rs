//! Fibonacci, the showcase's stand-in for CPU-bound work, and its process-pool job.
//!
//! Why naive recursion up to 35: the seed's point about CPU-bound work ("CPU Bound → async 효과
//! 없음") only shows if the work really costs CPU — fib(32) takes tens of milliseconds, enough
//! to see a loop stall or a pool absorb it. Above 35 the naive version would take seconds to
//! minutes, so the iterative one answers (up to 92, the largest that fits a `u64`).

use waitless_pool::{Job, Registry};

/// The largest `n` whose Fibonacci number fits a `u64`.
pub const MAX_N: u32 = 92;

/// The largest `n` computed by naive recursion (exponential time, on purpose).
pub const NAIVE_MAX_N: u32 = 35;

/// The process-pool job: the same function, run in a worker process.
pub const FIB: Job<u32, u64> = Job::new("fib", fib);

/// The jobs the showcase's process pool can run; `main` passes it to `waitless_pool::init`.
pub fn registry() -> Registry {
    Registry::new().register(FIB)
}

/// fib(n): naive recursion for `n <= 35`, iterative above; saturates past [`MAX_N`].
pub fn fib(n: u32) -> u64 {
    if n <= NAIVE_MAX_N {
        naive(n)
    } else {
        iterative(n)
    }
}

fn naive(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        naive(n - 1) + naive(n - 2)
    }
}

fn iterative(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        let next = a.saturating_add(b);
        a = b;
        b = next;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_methods_agree_and_92_fits() {
        for n in 0..=30 {
            assert_eq!(naive(n), iterative(n), "n = {n}");
        }
        assert_eq!(fib(35), 9_227_465);
        assert_eq!(fib(36), 14_930_352);
        assert_eq!(fib(MAX_N), 7_540_113_804_746_346_429);
    }
}
