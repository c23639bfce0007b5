//! `ProcessPoolBuilder`: the pool's configuration, and `build`, which starts the driver tasks.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use slab::Slab;

use super::frame::DEFAULT_MAX_FRAME;
use super::queue::{Shared, SlotView};
use super::{driver, ProcessPool, REGISTRY};
use crate::PoolError;

/// Configuration for a [`ProcessPool`].
#[derive(Clone, Debug)]
pub struct ProcessPoolBuilder {
    pub(super) processes: Option<usize>,
    pub(super) max_in_flight: usize,
    pub(super) pipeline: usize,
    pub(super) timeout: Option<Duration>,
    pub(super) max_tasks_per_child: Option<u64>,
    pub(super) max_frame: usize,
    pub(super) startup_timeout: Duration,
}

impl Default for ProcessPoolBuilder {
    fn default() -> Self {
        ProcessPoolBuilder {
            processes: None,
            max_in_flight: 1024,
            pipeline: 1,
            timeout: None,
            max_tasks_per_child: None,
            max_frame: DEFAULT_MAX_FRAME,
            startup_timeout: Duration::from_secs(10),
        }
    }
}

impl ProcessPoolBuilder {
    /// Defaults: one pool process per available core, 1024 jobs in flight, no timeout, pool
    /// processes never recycled, 64 MiB frames.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of pool processes (at least 1).
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n.max(1));
        self
    }

    /// The former name of [`processes`](ProcessPoolBuilder::processes), kept so existing callers
    /// build unchanged. In waitless a "worker" is a runner's worker process; a pool's processes
    /// are "pool processes".
    #[doc(hidden)]
    pub fn workers(self, n: usize) -> Self {
        self.processes(n)
    }

    /// Jobs accepted and not yet finished (queued + running) before submissions fail with
    /// [`PoolError::QueueFull`]. At least 1.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Requests sent ahead to a busy pool process (1 = one job per pool process at a time, the
    /// default).
    ///
    /// Deeper pipelines save a round trip per tiny job, at a cost: a job sent ahead waits behind a
    /// long one, and its timeout clock starts only when the job before it answers. Jobs are sent
    /// ahead only while no pool process is idle.
    pub fn pipeline(mut self, depth: usize) -> Self {
        self.pipeline = depth.max(1);
        self
    }

    /// Default per-job timeout: a job running longer has its pool process killed and replaced and
    /// fails with [`PoolError::Timeout`]. Default: none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Replace a pool process after it ran this many jobs (bounds leaks in job code). Default:
    /// never.
    pub fn max_tasks_per_child(mut self, n: u64) -> Self {
        self.max_tasks_per_child = Some(n.max(1));
        self
    }

    /// Largest frame body (request or response) in bytes. Default [`DEFAULT_MAX_FRAME`] (64 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame = bytes.clamp(64, u32::MAX as usize);
        self
    }

    /// How long a new pool process may take to announce itself before it is killed. Default 10 s.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the pool processes (their driver tasks run on this thread's executor).
    ///
    /// Fails if [`init`](crate::init) was not called in this process: a pool process re-executes
    /// `main`, and without `init` at its top the pool process would run the whole program again.
    pub fn build(self) -> Result<ProcessPool, PoolError> {
        if REGISTRY.get().is_none() {
            return Err(PoolError::Spawn(std::io::Error::other(
                "waitless_pool::init was not called at the top of main",
            )));
        }
        let processes = self
            .processes
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let shared = Rc::new(Shared {
            cfg: self,
            jobs: RefCell::new(Slab::new()),
            queue: RefCell::new(VecDeque::new()),
            slots: RefCell::new((0..processes).map(|_| SlotView::default()).collect()),
            closed: Cell::new(false),
        });
        for slot in 0..processes {
            waitless_executor::spawn(driver::Driver::new(shared.clone(), slot)).detach();
        }
        Ok(ProcessPool::from_shared(shared))
    }
}
