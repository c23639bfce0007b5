//! `/cpu/fib/{n}?mode=inline|thread|process|queue`: one CPU-bound computation in the four places
//! the seed names, and the per-worker pools that run it.
//!
//! Why: "CPU Bound 작업은 반드시 분리한다" (CPU-bound work must be separated) — the seed's
//! closing formula. `inline` computes on the event loop, so every other request of the worker
//! waits (the anti-pattern, kept to show it). `thread` uses the worker's CPU thread pool (the
//! seed's `ThreadPoolExecutor`; Rust has no GIL, so the threads really run in parallel).
//! `process` uses the worker's process pool (the seed's `ProcessPoolExecutor`: a crash in the
//! job takes only a pool process down). `queue` sends it to the worker tier (the seed's §15.4
//! "완전 분리 구조": `showcase worker --broker URL` processes on any host, through Redis; enabled
//! by `--broker`). The same `FIB` job constant serves the process pool and the tier: moving the
//! job changes the pool, not the code. The pools are sized per worker by
//! [`cpu_share`](crate::settings::cpu_share) so loops + pools do not oversubscribe the cores.

use std::cell::OnceCell;
use std::rc::Rc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use waitless::{
    pool_error, run_in_process, run_in_threadpool, HttpError, Json, Path, Query, State,
};
use waitless_pool::redis::RedisPool;
use waitless_pool::{PoolError, ProcessPool, ThreadPool};

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
    Queue,   // on the worker tier (Redis; needs --broker)
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
        Mode::Queue => pools.queue_pool()?.run(FIB, n).await.map_err(tier_error)?,
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
    /// `--broker`; the tier's submitter starts on the first `mode=queue` request (its `build`
    /// does no I/O, so it is safe on the loop).
    broker: Option<String>,
    queue: OnceCell<RedisPool>,
}

/// Why `mode=queue` cannot run without `--broker` (503: the server lacks it, not the request).
pub const NO_BROKER: &str =
    "mode=queue needs the worker tier: start the showcase with --broker redis://HOST:PORT/DB \
     and run `showcase worker --broker …` somewhere";

/// The tier's errors as HTTP: broker down → 503, no answer in time → 504, the rest as the
/// framework maps pool errors (a full queue 503, anything else 500).
fn tier_error(e: PoolError) -> HttpError {
    match e {
        PoolError::Broker(msg) => {
            log::warn!("showcase: worker tier unavailable: {msg}");
            HttpError::new(503, "Worker tier unavailable").with_header("retry-after", "1")
        }
        PoolError::Timeout | PoolError::Expired => HttpError::new(504, "Worker tier timed out"),
        other => pool_error(other),
    }
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
                broker: settings.broker.clone(),
                queue: OnceCell::new(),
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

    fn queue_pool(&self) -> Result<&RedisPool, HttpError> {
        if let Some(pool) = self.inner.queue.get() {
            return Ok(pool);
        }
        let Some(url) = &self.inner.broker else {
            return Err(HttpError::new(503, NO_BROKER));
        };
        let pool = RedisPool::builder(url.clone())
            .timeout(QUEUE_TIMEOUT)
            .build()
            .map_err(tier_error)?;
        Ok(self.inner.queue.get_or_init(|| pool))
    }
}

/// How long a `mode=queue` request waits for a worker (also the job's deadline: a job still
/// queued when it passes is not started).
pub const QUEUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
