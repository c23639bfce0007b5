//! `ProcessPool`: heavy CPU jobs in pool processes, awaited from the loop with no thread.
//!
//! Why processes at all when threads exist: a process is the unit of *isolation* (the seed's
//! table: memory "완전 분리", stability "높음"). A job that aborts, segfaults or is OOM-killed
//! takes down its pool process and nothing else; the pool reports that one job as
//! [`PoolError::ProcessDied`] and starts a replacement. It is also how Python gets real parallelism
//! past the GIL; in Rust threads are parallel too, so the process pool is the choice when a crash
//! or a leak must not reach the server.
//!
//! Why jobs are registered functions, not closures: see [`Registry`]. Pool processes are the
//! program's own binary, re-executed with a marker variable; [`init`](crate::init) at the top of
//! `main` turns such a process into a pool process before the program's own code runs.
//!
//! ```text
//!  loop thread (parent)                               pool process (one per slot)
//!  ────────────────────                               ─────────────────────────────
//!  pool.run(FIB, 30) ─► queue ─► driver task ── request frame ──► socketpair ─► init(): read,
//!        ▲                         (one per process,                              run fib(30),
//!        │ JobFuture woken          registered in                                 write answer
//!        │ (local wake)             the reactor)   ◄── response frame ───────────┘
//!        └──────── Done(bytes) ◄────── epoll: socket readable
//!                                  pidfd readable ◄── pool process died: reap (waitpid), fail its
//!                                                     one running job, start a replacement
//! ```
//!
//! Files, one job each: `builder.rs` (configuration, starting the drivers), `pool.rs` (the
//! handle: submit, inspect, shut down), `queue.rs` (the job table, queue and slot views shared by
//! all of them), `job_future.rs` (what a caller awaits), `driver.rs` (one task per process slot),
//! `child.rs` (the pool process side), `frame.rs` (the wire format), `registry.rs` (named jobs),
//! `sys.rs` (the syscalls).

mod builder;
#[allow(unsafe_code)] // adopting the inherited socket fd
pub(crate) mod child;
mod driver;
pub(crate) mod frame;
mod job_future;
mod pool;
mod queue;
pub(crate) mod registry;
#[allow(unsafe_code)] // socketpair, pidfd, kill, pre_exec
mod sys;

use std::sync::OnceLock;

pub use builder::ProcessPoolBuilder;
pub use frame::DEFAULT_MAX_FRAME;
pub use job_future::JobFuture;
pub use pool::ProcessPool;
pub use registry::{Job, Registry};

/// The registry this (parent) process was initialised with.
pub(crate) static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// The entry hook: call it first thing in `main` of every program that uses a [`ProcessPool`].
///
/// * In a pool process (started by a pool; marked by an environment variable) it serves jobs
///   from `registry` and **never returns**: the process exits when the pool closes its socket or
///   the parent dies.
/// * In any other process it stores `registry` for the pools of this process and returns at once.
///
/// Code before the call runs again in every pool process (each one re-executes the binary), so put
/// nothing before it that must run once, such as binding a port or parsing arguments. Only the
/// first call in a process counts.
///
/// ```
/// use waitless_pool::{Job, ProcessPool, Registry};
///
/// fn square(x: u64) -> u64 { x * x }
/// const SQUARE: Job<u64, u64> = Job::new("square", square);
///
/// fn main() {
///     waitless_pool::init(Registry::new().register(SQUARE));
///     let pool = ProcessPool::builder().processes(2).build().unwrap();
///     let y = waitless_executor::block_on(pool.run(SQUARE, 12)).unwrap();
///     assert_eq!(y, 144);
/// }
/// ```
pub fn init(registry: Registry) {
    if let Some(fd) = std::env::var_os(sys::POOL_PROCESS_ENV) {
        let fd = fd.to_str().and_then(|s| s.parse::<i32>().ok());
        let max_frame = std::env::var(sys::MAX_FRAME_ENV)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(DEFAULT_MAX_FRAME);
        match fd {
            Some(fd) if fd >= 0 => child::serve(&registry, fd, max_frame),
            _ => {
                eprintln!(
                    "waitless-pool: {} is set but not an fd",
                    sys::POOL_PROCESS_ENV
                );
                std::process::exit(1)
            }
        }
    }
    if REGISTRY.set(registry).is_err() {
        log::warn!("waitless-pool: init called twice; the first registry stays");
    }
}

/// Whether this process is a pool process (true only inside [`init`] of a pool process, which never
/// returns, so ordinary code always sees `false`).
pub fn is_pool_process() -> bool {
    std::env::var_os(sys::POOL_PROCESS_ENV).is_some()
}
