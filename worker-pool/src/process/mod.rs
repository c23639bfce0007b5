//! `ProcessPool`: heavy CPU jobs in worker processes, awaited from the loop with no thread.
//!
//! Why processes at all when threads exist: a process is the unit of *isolation* (the seed's
//! table: memory "완전 분리", stability "높음"). A job that aborts, segfaults or is OOM-killed
//! takes down its worker and nothing else; the pool reports that one job as
//! [`PoolError::WorkerDied`] and starts a replacement. It is also how Python gets real parallelism
//! past the GIL; in Rust threads are parallel too, so the process pool is the choice when a crash
//! or a leak must not reach the server.
//!
//! Why jobs are registered functions, not closures: see [`Registry`]. Workers are the program's
//! own binary, re-executed with a marker variable; [`init`](crate::init) at the top of `main`
//! turns such a process into a worker before the program's own code runs.
//!
//! ```text
//!  loop thread (parent)                               worker process (one per slot)
//!  ────────────────────                               ─────────────────────────────
//!  pool.run(FIB, 30) ─► queue ─► driver task ── request frame ──► socketpair ─► init(): read,
//!        ▲                         (one per worker,                               run fib(30),
//!        │ JobFuture woken          registered in                                 write answer
//!        │ (local wake)             the reactor)   ◄── response frame ───────────┘
//!        └──────── Done(bytes) ◄────── epoll: socket readable
//!                                  pidfd readable ◄── worker died: reap (waitpid), fail its
//!                                                     one running job, start a replacement
//! ```

#[allow(unsafe_code)] // adopting the inherited socket fd
mod child;
mod driver;
pub(crate) mod frame;
mod registry;
#[allow(unsafe_code)] // socketpair, pidfd, kill, pre_exec
mod sys;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::process::Child;
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use slab::Slab;

pub use frame::DEFAULT_MAX_FRAME;
pub use registry::{Job, Registry};

use crate::PoolError;

/// The registry this (parent) process was initialised with.
static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// The entry hook: call it first thing in `main` of every program that uses a [`ProcessPool`].
///
/// * In a worker process (started by a pool; marked by an environment variable) it serves jobs
///   from `registry` and **never returns**: the process exits when the pool closes its socket or
///   the parent dies.
/// * In any other process it stores `registry` for the pools of this process and returns at once.
///
/// Code before the call runs again in every worker (each one re-executes the binary), so put
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
///     let pool = ProcessPool::builder().workers(2).build().unwrap();
///     let y = waitless_executor::block_on(pool.run(SQUARE, 12)).unwrap();
///     assert_eq!(y, 144);
/// }
/// ```
pub fn init(registry: Registry) {
    if let Some(fd) = std::env::var_os(sys::WORKER_ENV) {
        let fd = fd.to_str().and_then(|s| s.parse::<i32>().ok());
        let max_frame = std::env::var(sys::MAX_FRAME_ENV)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(DEFAULT_MAX_FRAME);
        match fd {
            Some(fd) if fd >= 0 => child::serve(&registry, fd, max_frame),
            _ => {
                eprintln!("waitless-pool: {} is set but not an fd", sys::WORKER_ENV);
                std::process::exit(1)
            }
        }
    }
    if REGISTRY.set(registry).is_err() {
        log::warn!("waitless-pool: init called twice; the first registry stays");
    }
}

/// Whether this process is a pool worker (true only inside [`init`] of a worker, which never
/// returns, so ordinary code always sees `false`).
pub fn is_worker() -> bool {
    std::env::var_os(sys::WORKER_ENV).is_some()
}

/// Configuration for a [`ProcessPool`].
#[derive(Clone, Debug)]
pub struct ProcessPoolBuilder {
    workers: Option<usize>,
    max_in_flight: usize,
    pipeline: usize,
    timeout: Option<Duration>,
    max_tasks_per_child: Option<u64>,
    max_frame: usize,
    startup_timeout: Duration,
}

impl Default for ProcessPoolBuilder {
    fn default() -> Self {
        ProcessPoolBuilder {
            workers: None,
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
    /// Defaults: one worker per available core, 1024 jobs in flight, no timeout, workers never
    /// recycled, 64 MiB frames.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of worker processes (at least 1).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n.max(1));
        self
    }

    /// Jobs accepted and not yet finished (queued + running) before submissions fail with
    /// [`PoolError::QueueFull`]. At least 1.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Requests sent ahead to a busy worker (1 = one job per worker at a time, the default).
    ///
    /// Deeper pipelines save a round trip per tiny job, at a cost: a job sent ahead waits behind a
    /// long one, and its timeout clock starts only when the job before it answers. Jobs are sent
    /// ahead only while no worker is idle.
    pub fn pipeline(mut self, depth: usize) -> Self {
        self.pipeline = depth.max(1);
        self
    }

    /// Default per-job timeout: a job running longer has its worker killed and replaced and
    /// fails with [`PoolError::Timeout`]. Default: none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Replace a worker after it ran this many jobs (bounds leaks in job code). Default: never.
    pub fn max_tasks_per_child(mut self, n: u64) -> Self {
        self.max_tasks_per_child = Some(n.max(1));
        self
    }

    /// Largest frame body (request or response) in bytes. Default [`DEFAULT_MAX_FRAME`] (64 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame = bytes.clamp(64, u32::MAX as usize);
        self
    }

    /// How long a new worker may take to announce itself before it is killed. Default 10 s.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the workers (their driver tasks run on this thread's executor).
    ///
    /// Fails if [`init`] was not called in this process: a worker re-executes `main`, and
    /// without `init` at its top the worker would run the whole program again.
    pub fn build(self) -> Result<ProcessPool, PoolError> {
        if REGISTRY.get().is_none() {
            return Err(PoolError::Spawn(std::io::Error::other(
                "waitless_pool::init was not called at the top of main",
            )));
        }
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let shared = Rc::new(Shared {
            cfg: self,
            jobs: RefCell::new(Slab::new()),
            queue: RefCell::new(VecDeque::new()),
            slots: RefCell::new((0..workers).map(|_| SlotView::default()).collect()),
            closed: Cell::new(false),
        });
        for slot in 0..workers {
            waitless_executor::spawn(driver::Driver::new(shared.clone(), slot)).detach();
        }
        Ok(ProcessPool { shared })
    }
}

/// A job as the pool tracks it.
pub(crate) struct JobSlot {
    pub(crate) state: JobState,
    pub(crate) waker: Option<Waker>,
    pub(crate) timeout: Option<Duration>,
}

pub(crate) enum JobState {
    /// In the queue; the request frame, ready to send.
    Queued(Vec<u8>),
    /// Sent to a worker (the frame is kept: a job sent ahead is re-queued if its worker dies).
    Sent(Vec<u8>),
    /// The JobFuture was dropped while the job was at a worker: free the slot when it answers.
    Abandoned(Vec<u8>),
    /// The raw result, waiting for the JobFuture.
    Done(Result<Vec<u8>, PoolError>),
}

/// What the pool handle and the futures see of a worker slot.
#[derive(Default)]
pub(crate) struct SlotView {
    pub(crate) driver: Option<Waker>,
    /// Jobs at this worker; `None` while it is starting, dying or absent.
    pub(crate) load: Option<usize>,
    pub(crate) child: Option<Child>,
    pub(crate) pid: Option<u32>,
}

pub(crate) struct Shared {
    pub(crate) cfg: ProcessPoolBuilder,
    pub(crate) jobs: RefCell<Slab<JobSlot>>,
    pub(crate) queue: RefCell<VecDeque<usize>>,
    pub(crate) slots: RefCell<Vec<SlotView>>,
    pub(crate) closed: Cell<bool>,
}

impl Shared {
    /// Wakes every driver that waits for work.
    pub(crate) fn wake_drivers(&self) {
        let wakers: Vec<Waker> = self
            .slots
            .borrow_mut()
            .iter_mut()
            .filter_map(|s| s.driver.take())
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    /// Finishes job `key` with `result` (or frees it if its future is gone).
    pub(crate) fn complete(&self, key: usize, result: Result<Vec<u8>, PoolError>) {
        let waker = {
            let mut jobs = self.jobs.borrow_mut();
            let Some(job) = jobs.get_mut(key) else {
                return;
            };
            if matches!(job.state, JobState::Abandoned(_)) {
                jobs.remove(key);
                return;
            }
            job.state = JobState::Done(result);
            job.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Puts jobs that were sent ahead to a dead worker back at the front of the queue.
    pub(crate) fn requeue_front(&self, keys: impl DoubleEndedIterator<Item = usize>) {
        let mut jobs = self.jobs.borrow_mut();
        let mut queue = self.queue.borrow_mut();
        for key in keys.rev() {
            let Some(job) = jobs.get_mut(key) else {
                continue;
            };
            match std::mem::replace(&mut job.state, JobState::Done(Err(PoolError::ShutDown))) {
                JobState::Sent(frame) => {
                    job.state = JobState::Queued(frame);
                    queue.push_front(key);
                }
                JobState::Abandoned(_) => {
                    jobs.remove(key);
                }
                other => job.state = other,
            }
        }
        drop((jobs, queue));
        self.wake_drivers();
    }

    /// The next job for the driver of `slot`, which has `load` jobs in flight: appends its request
    /// frame to `out` and returns its key and timeout. Jobs go to idle workers first; a busy
    /// worker gets one only while none is idle and its pipeline has room.
    pub(crate) fn take_job(
        &self,
        slot: usize,
        load: usize,
        out: &mut Vec<u8>,
    ) -> Option<(usize, Option<Duration>)> {
        if load >= self.cfg.pipeline {
            return None;
        }
        if load > 0 {
            let slots = self.slots.borrow();
            let someone_idle = slots
                .iter()
                .enumerate()
                .any(|(i, s)| i != slot && s.load == Some(0));
            if someone_idle {
                return None;
            }
        }
        let key = self.queue.borrow_mut().pop_front()?;
        let mut jobs = self.jobs.borrow_mut();
        let job = jobs.get_mut(key)?;
        let state = std::mem::replace(&mut job.state, JobState::Done(Err(PoolError::ShutDown)));
        match state {
            JobState::Queued(frame) => {
                out.extend_from_slice(&frame);
                job.state = JobState::Sent(frame);
                Some((key, job.timeout))
            }
            other => {
                job.state = other;
                None
            }
        }
    }

    /// Fails the first queued job with `err` (used when workers cannot start, so callers learn
    /// it instead of waiting forever).
    pub(crate) fn fail_one_queued(&self, err: PoolError) -> bool {
        let Some(key) = self.queue.borrow_mut().pop_front() else {
            return false;
        };
        self.complete(key, Err(err));
        true
    }
}

/// A pool of worker processes that run registered [`Job`]s; awaited from the loop it was built on.
///
/// * [`run`](ProcessPool::run) serializes the argument (JSON), queues the job and returns a
///   [`JobFuture`]. A driver task per worker writes the request to the worker's socket and reads
///   the answer; both sockets and a pidfd per worker are registered in this thread's reactor, so
///   waiting costs no thread and never blocks the loop.
/// * A worker that dies fails only the job it was running ([`PoolError::WorkerDied`]), is reaped
///   (no zombie) and replaced; jobs sent ahead to it are re-queued. A job over its timeout gets
///   its worker killed and replaced ([`PoolError::Timeout`]). A malformed or oversized frame from
///   a worker is [`PoolError::Protocol`] and that worker is replaced as well.
/// * At most [`max_in_flight`](ProcessPoolBuilder::max_in_flight) jobs are accepted at once; past
///   that, [`PoolError::QueueFull`].
/// * Dropping a [`JobFuture`] whose job is still queued cancels it (it is never sent); once a
///   worker has it, the job runs on and its answer is discarded (a timeout bounds it).
/// * Dropping the pool kills and reaps every worker and fails the jobs left with
///   [`PoolError::ShutDown`]. If this process dies, its workers die too: on Linux they carry
///   `PR_SET_PDEATHSIG(SIGKILL)`, and everywhere a worker exits when its socket reaches EOF.
///
/// The pool is `!Send`: it lives on one event loop (one thread). Build it inside (or before)
/// `waitless_executor::block_on` on that thread; its worker processes are started from that thread,
/// and on Linux the parent-death signal follows that thread's exit.
pub struct ProcessPool {
    shared: Rc<Shared>,
}

impl ProcessPool {
    /// A builder.
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder::new()
    }

    /// A pool with the default configuration.
    pub fn new() -> Result<ProcessPool, PoolError> {
        ProcessPoolBuilder::new().build()
    }

    /// Number of worker slots.
    pub fn workers(&self) -> usize {
        self.shared.slots.borrow().len()
    }

    /// The pids of the workers running now (for logs and tests).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared
            .slots
            .borrow()
            .iter()
            .filter_map(|s| s.pid)
            .collect()
    }

    /// Jobs accepted and not yet collected (queued, running, or finished but not awaited).
    pub fn in_flight(&self) -> usize {
        self.shared.jobs.borrow().len()
    }

    /// Runs `job(args)` in a worker, with the pool's default timeout. Errors (including a full
    /// queue) come out of the future.
    pub fn run<A, R>(&self, job: Job<A, R>, args: A) -> JobFuture<R>
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        self.submit(job.name(), &args, self.shared.cfg.timeout)
            .unwrap_or_else(JobFuture::failed)
    }

    /// Like [`run`](ProcessPool::run) with its own timeout.
    pub fn run_timeout<A, R>(&self, job: Job<A, R>, args: A, timeout: Duration) -> JobFuture<R>
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        self.submit(job.name(), &args, Some(timeout))
            .unwrap_or_else(JobFuture::failed)
    }

    /// Like [`run`](ProcessPool::run), but a full queue (or any other refusal) is reported now.
    pub fn try_run<A, R>(&self, job: Job<A, R>, args: A) -> Result<JobFuture<R>, PoolError>
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        self.submit(job.name(), &args, self.shared.cfg.timeout)
    }

    fn submit<A: Serialize, R>(
        &self,
        name: &str,
        args: &A,
        timeout: Option<Duration>,
    ) -> Result<JobFuture<R>, PoolError> {
        let shared = &self.shared;
        if shared.closed.get() {
            return Err(PoolError::ShutDown);
        }
        if !REGISTRY.get().is_some_and(|r| r.contains(name)) {
            return Err(PoolError::UnknownJob(name.to_owned()));
        }
        if shared.jobs.borrow().len() >= shared.cfg.max_in_flight {
            return Err(PoolError::QueueFull);
        }
        let mut frame = Vec::new();
        frame::encode_request(&mut frame, shared.cfg.max_frame, name, |out| {
            serde_json::to_writer(out, args)
        })
        .map_err(PoolError::Codec)?;
        let key = shared.jobs.borrow_mut().insert(JobSlot {
            state: JobState::Queued(frame),
            waker: None,
            timeout,
        });
        shared.queue.borrow_mut().push_back(key);
        shared.wake_drivers();
        Ok(JobFuture {
            shared: Some(shared.clone()),
            key,
            early: None,
            _result: PhantomData,
        })
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.closed.set(true);
        let children: Vec<Child> = shared
            .slots
            .borrow_mut()
            .iter_mut()
            .filter_map(|s| {
                s.pid = None;
                s.load = None;
                s.child.take()
            })
            .collect();
        for mut child in children {
            // SIGKILL then waitpid: quick, and leaves no zombie.
            let _ = child.kill();
            let _ = child.wait();
        }
        shared.queue.borrow_mut().clear();
        let keys: Vec<usize> = shared.jobs.borrow().iter().map(|(k, _)| k).collect();
        for key in keys {
            let done = matches!(
                shared.jobs.borrow().get(key).map(|j| &j.state),
                Some(JobState::Done(_))
            );
            if !done {
                shared.complete(key, Err(PoolError::ShutDown));
            }
        }
        shared.wake_drivers();
    }
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("workers", &self.workers())
            .field("pids", &self.worker_pids())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// The future of a [`ProcessPool`] job: resolves to the decoded result or a [`PoolError`].
///
/// Dropping it while the job is still queued cancels the job.
#[must_use = "a JobFuture does nothing unless awaited; dropping it cancels a queued job"]
pub struct JobFuture<R> {
    shared: Option<Rc<Shared>>,
    key: usize,
    early: Option<PoolError>,
    _result: PhantomData<fn() -> R>,
}

impl<R> JobFuture<R> {
    fn failed(e: PoolError) -> JobFuture<R> {
        JobFuture {
            shared: None,
            key: 0,
            early: Some(e),
            _result: PhantomData,
        }
    }
}

impl<R: DeserializeOwned> Future for JobFuture<R> {
    type Output = Result<R, PoolError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(e) = this.early.take() {
            return Poll::Ready(Err(e));
        }
        let Some(shared) = &this.shared else {
            panic!("JobFuture polled after completion");
        };
        let mut jobs = shared.jobs.borrow_mut();
        let Some(job) = jobs.get_mut(this.key) else {
            return Poll::Ready(Err(PoolError::ShutDown));
        };
        if !matches!(job.state, JobState::Done(_)) {
            match &job.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => job.waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        let JobState::Done(result) = jobs.remove(this.key).state else {
            unreachable!("checked above");
        };
        drop(jobs);
        this.shared = None;
        Poll::Ready(result.and_then(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| PoolError::Codec(format!("result: {e}")))
        }))
    }
}

impl<R> Drop for JobFuture<R> {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let mut jobs = shared.jobs.borrow_mut();
        let Some(job) = jobs.get_mut(self.key) else {
            return;
        };
        match std::mem::replace(&mut job.state, JobState::Done(Err(PoolError::ShutDown))) {
            JobState::Queued(_) => {
                jobs.remove(self.key);
                let key = self.key;
                shared.queue.borrow_mut().retain(|&k| k != key);
            }
            JobState::Sent(frame) | JobState::Abandoned(frame) => {
                job.state = JobState::Abandoned(frame);
            }
            JobState::Done(_) => {
                jobs.remove(self.key);
            }
        }
    }
}

impl<R> std::fmt::Debug for JobFuture<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobFuture").field("key", &self.key).finish()
    }
}
