//! # waitless-pool
//!
//! **One job:** keep CPU-bound work off the event loop, and let the loop await its result without
//! ever blocking.
//!
//! This is the seed's rule for CPU-bound work in an async server, "Event Loop에서 CPU 작업 제거"
//! (take CPU work off the event loop; "async endpoint에서 직접 계산 금지" — never compute directly
//! in an async endpoint). A loop thread that computes for 100 ms serves nobody else for 100 ms:
//! async is not parallelism, it only spends *waiting* time well. So the computation goes
//! elsewhere and the loop waits for it like it waits for a socket:
//!
//! * [`ThreadPool`] (the seed's `ThreadPoolExecutor`, "짧은 CPU 작업"): short jobs as `Send`
//!   closures on a work-stealing pool of OS threads (crossbeam-deque). Rust has no GIL, so these
//!   threads run in parallel; the result comes back through a cross-thread wake of the loop.
//! * [`ProcessPool`] (the seed's `ProcessPoolExecutor`, "무거운 CPU 작업"): registered, typed
//!   functions in pool processes. Slower per job than a thread, but a job that aborts, segfaults or
//!   leaks takes only its own pool process down; the pool replaces it and keeps serving (where
//!   Python's pool raises `BrokenProcessPool`).
//! * [`redis`] (feature `redis`), the seed's last step, a separate tier ("완전 분리 구조": a queue
//!   and job servers of their own): the same registered jobs, run by workers on any host through
//!   Redis Streams; `docs/worker-pool.md` ("Beyond one machine") says when to reach for it.
//!
//! ## Example
//!
//! A process pool needs [`init`] at the top of `main` (pool processes re-execute the binary; see
//! [`init`] and [`Registry`]). A thread pool needs nothing:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use waitless_executor::{block_on, spawn};
//! use waitless_pool::ThreadPool;
//!
//! fn fib(n: u32) -> u64 {
//!     if n < 2 { n as u64 } else { fib(n - 1) + fib(n - 2) }
//! }
//!
//! let pool = ThreadPool::builder().threads(2).build().unwrap();
//! block_on(async {
//!     // A timer task on the loop keeps ticking while fib runs on a pool thread.
//!     let ticker = spawn(async {
//!         let start = Instant::now();
//!         waitless_reactor::sleep(Duration::from_millis(5)).await;
//!         start.elapsed()
//!     });
//!     let value = pool.spawn(|| fib(25)).await.unwrap();
//!     assert_eq!(value, 75_025);
//!     assert!(ticker.await.unwrap() >= Duration::from_millis(5));
//!
//!     // A panic in a job is an error, not a dead loop.
//!     let err = pool.spawn(|| -> u64 { panic!("boom") }).await.unwrap_err();
//!     assert!(matches!(err, waitless_pool::PoolError::Panicked(m) if m == "boom"));
//! });
//! ```

// The pool's contract is its documentation: every public item says what it does.
#![warn(missing_docs)]
// `unsafe` lives only in the process pool's syscall files; every block says why.
#![deny(unsafe_code)]

mod error;
mod process;
#[cfg(feature = "redis")]
pub mod redis;
mod thread;

pub use error::PoolError;
pub use process::{
    init, is_pool_process, Job, JobFuture, ProcessPool, ProcessPoolBuilder, Registry,
    DEFAULT_MAX_FRAME,
};
pub use thread::{JobHandle, ThreadPool, ThreadPoolBuilder};

/// Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`): the frame codec of
/// both ends of the parent/pool-process pipe, with no process. Not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use crate::process::frame;

    /// Runs a pool process's request loop on `input` (the bytes a parent would write) and
    /// returns what it wrote back, or the error that ended the loop with what it wrote before.
    pub fn serve(registry: &crate::Registry, input: &[u8], max_frame: usize) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let ok = crate::process::child::serve_on(registry, input, &mut out, max_frame).is_ok();
        (out, ok)
    }

    /// Splits what a pool process wrote into `(status, payload)` responses the way the parent
    /// does; `Err` on the first frame that breaks the format. Bytes after the last complete
    /// frame are left: the second value says how many.
    #[allow(clippy::type_complexity)]
    pub fn parse_responses(
        mut buf: &[u8],
        max_frame: usize,
    ) -> Result<(Vec<(u8, Vec<u8>)>, usize), String> {
        let mut out = Vec::new();
        // Every round consumes a 4-byte header at least.
        for _ in 0..buf.len() / frame::HEADER + 1 {
            let Some(len) = frame::body_len(buf, max_frame).map_err(|e| e.to_string())? else {
                break;
            };
            let Some(body) = buf.get(frame::HEADER..frame::HEADER + len) else {
                break;
            };
            let status = match frame::decode_response(body).map_err(|e| e.to_string())? {
                frame::Response::Ok(_) => frame::OK,
                frame::Response::Panicked(_) => frame::PANICKED,
                frame::Response::UnknownJob(_) => frame::UNKNOWN_JOB,
                frame::Response::Codec(_) => frame::CODEC,
                frame::Response::Hello(_) => frame::HELLO,
            };
            out.push((status, body[1..].to_vec()));
            buf = &buf[frame::HEADER + len..];
        }
        Ok((out, buf.len()))
    }

    /// Splits a request body into the job name and its JSON arguments.
    pub fn decode_request(body: &[u8]) -> Result<(&[u8], &[u8]), String> {
        frame::decode_request(body).map_err(|e| e.to_string())
    }

    /// Appends a request frame for job `name` with `args` as its raw argument bytes.
    pub fn encode_request(out: &mut Vec<u8>, max_frame: usize, name: &str, args: &[u8]) -> bool {
        frame::encode_request(out, max_frame, name, |o| {
            o.extend_from_slice(args);
            Ok::<_, std::convert::Infallible>(())
        })
        .is_ok()
    }
}
