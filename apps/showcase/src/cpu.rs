//! `/cpu/fib/{n}?mode=inline|thread|process`: one CPU-bound computation in the three places the
//! seed names, and the per-worker pools that run it.
//!
//! Why: "CPU Bound 작업은 반드시 분리한다" (CPU-bound work must be separated) — the seed's
//! closing formula. `inline` computes on the event loop, so every other request of the worker
//! waits (the anti-pattern, kept to show it). `thread` uses the worker's CPU thread pool (the
//! seed's `ThreadPoolExecutor`; Rust has no GIL, so the threads really run in parallel).
//! `process` uses the worker's process pool (the seed's `ProcessPoolExecutor`: a crash in the
//! job takes only a pool process down). The pools are sized per worker by
//! [`cpu_share`](crate::settings::cpu_share) so loops + pools do not oversubscribe the cores.

use std::cell::OnceCell;
use std::rc::Rc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use waitless::{run_in_process, run_in_threadpool, HttpError, Json, Path, Query, State};
use waitless_pool::{ProcessPool, ThreadPool};

use crate::fib::{fib, FIB, MAX_N};
use crate::settings::Settings;

/// `{n}`, 0..=92.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FibPath {
    #[schemars(range(max = MAX_N))]
    pub n: u32,
}

/// Where fib runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    // Variants without doc comments: schemars then emits one `enum` list, and the 422 reads
    // "Input should be 'inline', 'thread' or 'process'" as pydantic's does.
    #[default]
    Inline, // on the event loop (blocks the worker while it computes)
    Thread,  // on the worker's CPU thread pool
    Process, // in the worker's process pool
}

/// `?mode=`, default `inline`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FibQuery {
    #[serde(default)]
    pub mode: Mode,
}

/// `{"n": n, "value": fib(n), "mode": mode}`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FibAnswer {
    pub n: u32,
    pub value: u64,
    pub mode: Mode,
}

/// `GET /cpu/fib/{n}?mode=…`.
pub async fn fib_route(
    State(pools): State<CpuPools>,
    Path(FibPath { n }): Path<FibPath>,
    Query(FibQuery { mode }): Query<FibQuery>,
) -> Result<Json<FibAnswer>, HttpError> {
    let value = match mode {
        Mode::Inline => fib(n),
        Mode::Thread => run_in_threadpool(&pools.inner.threads, move || fib(n)).await?,
        Mode::Process => run_in_process(pools.process_pool()?, FIB, n).await?,
    };
    Ok(Json(FibAnswer { n, value, mode }))
}

/// A worker's CPU pools (cheap to clone).
#[derive(Clone)]
pub struct CpuPools {
    inner: Rc<PoolsInner>,
}

struct PoolsInner {
    threads: ThreadPool,
    /// Started on the first `mode=process` request: a worker that never gets one never pays for
    /// its processes (and the in-memory tests need no `waitless_pool::init`).
    processes: OnceCell<ProcessPool>,
    process_count: usize,
}

impl CpuPools {
    /// Starts the CPU thread pool of this worker (from its startup hook, after the fork).
    pub fn start(settings: &Settings) -> std::io::Result<CpuPools> {
        let threads = ThreadPool::builder()
            .threads(settings.cpu_threads)
            .thread_name("showcase-cpu")
            .build()?;
        Ok(CpuPools {
            inner: Rc::new(PoolsInner {
                threads,
                processes: OnceCell::new(),
                process_count: settings.cpu_processes,
            }),
        })
    }

    fn process_pool(&self) -> Result<&ProcessPool, HttpError> {
        if self.inner.processes.get().is_none() {
            let pool = ProcessPool::builder()
                .workers(self.inner.process_count)
                .build()
                .map_err(waitless::pool_error)?;
            // Single-threaded worker, no await since the check: the cell is still empty.
            let _ = self.inner.processes.set(pool);
        }
        self.inner
            .processes
            .get()
            .ok_or_else(|| HttpError::new(500, "Internal Server Error"))
    }
}
