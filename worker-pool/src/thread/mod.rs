//! `ThreadPool`: short CPU jobs on OS threads, awaited from the loop through a cross-thread wake.
//!
//! Shape (rayon-core's, minus scoped jobs): a global [`Injector`] that every submission goes to,
//! one [`Worker`](crossbeam_deque::Worker) deque per thread that takes batches from the injector,
//! and [`Stealer`]s so an idle thread takes work from a busy sibling. A thread with nothing to do
//! sleeps on a condition variable; nothing spins.
//!
//! A job's result travels back in a small shared slot (`Mutex<Option<T>>` plus the awaiting task's
//! `Waker`). The pool thread stores the result and calls `wake()`; for a waitless task that is a
//! push onto the loop's remote queue and one write to the reactor's notifier, which ends the loop's
//! `epoll_wait`. The loop never polls for results.

mod pool_thread;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread;

use crossbeam_deque::{Injector, Stealer};

use crate::PoolError;

/// A type-erased job: one allocation holds the closure, then its result, then nothing.
pub(crate) type Job = Arc<dyn Run>;

/// A pool thread's view of a job.
pub(crate) trait Run: Send + Sync {
    /// Runs the closure (unless the job was cancelled) and delivers the result.
    fn run(&self);
}

/// State shared by the pool handle and its threads.
pub(crate) struct Shared {
    pub(crate) injector: Injector<Job>,
    pub(crate) stealers: Vec<Stealer<Job>>,
    /// Jobs accepted but not yet started (the bounded queue).
    pub(crate) queued: AtomicUsize,
    pub(crate) capacity: usize,
    pub(crate) shutdown: AtomicBool,
    /// Threads that are (about to be) asleep on `wakeup`.
    pub(crate) sleepers: AtomicUsize,
    pub(crate) lock: Mutex<()>,
    pub(crate) wakeup: Condvar,
}

impl Shared {
    /// Wakes one sleeping thread, if any. Paired with the fence in a pool thread's sleep path:
    /// either this load sees the sleeper, or the sleeper's re-check sees the new job.
    fn notify_one(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.wakeup.notify_one();
        }
    }
}

/// Configuration for a [`ThreadPool`].
///
/// ```
/// let pool = waitless_pool::ThreadPool::builder()
///     .threads(2)
///     .queue_depth(1024)
///     .build()
///     .unwrap();
/// assert_eq!(pool.threads(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct ThreadPoolBuilder {
    threads: Option<usize>,
    queue_depth: usize,
    name: String,
}

impl Default for ThreadPoolBuilder {
    fn default() -> Self {
        ThreadPoolBuilder {
            threads: None,
            queue_depth: 65_536,
            name: "waitless-pool".to_owned(),
        }
    }
}

impl ThreadPoolBuilder {
    /// The default configuration: one thread per available core, a queue of 65,536 jobs.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of threads (at least 1). Default: `std::thread::available_parallelism()`.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    /// How many jobs may wait (accepted, not yet started) before `try_spawn` answers
    /// [`PoolError::QueueFull`]. At least 1.
    pub fn queue_depth(mut self, depth: usize) -> Self {
        self.queue_depth = depth.max(1);
        self
    }

    /// The name prefix of the threads (`NAME-0`, `NAME-1`, …).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the threads.
    pub fn build(self) -> std::io::Result<ThreadPool> {
        let n = self
            .threads
            .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
        let deques: Vec<crossbeam_deque::Worker<Job>> = (0..n)
            .map(|_| crossbeam_deque::Worker::new_fifo())
            .collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: deques.iter().map(|d| d.stealer()).collect(),
            queued: AtomicUsize::new(0),
            capacity: self.queue_depth,
            shutdown: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wakeup: Condvar::new(),
        });
        let mut pool = ThreadPool {
            shared: shared.clone(),
            threads: Vec::with_capacity(n),
        };
        for (index, local) in deques.into_iter().enumerate() {
            let shared = shared.clone();
            let handle = thread::Builder::new()
                .name(format!("{}-{index}", self.name))
                .spawn(move || pool_thread::run(&shared, index, local))?;
            pool.threads.push(handle);
        }
        Ok(pool)
    }
}

/// A work-stealing pool of OS threads for short CPU-bound jobs, awaited from an event loop.
///
/// * [`spawn`](ThreadPool::spawn) / [`try_spawn`](ThreadPool::try_spawn) take a `Send` closure
///   and return a [`JobHandle`], a future of `Result<T, PoolError>`; awaiting it costs the loop
///   nothing until the job is done, then one cross-thread wake.
/// * A panic inside a job is caught and comes back as [`PoolError::Panicked`]; the thread goes on.
/// * The queue is bounded ([`ThreadPoolBuilder::queue_depth`]); beyond it submissions fail at once
///   with [`PoolError::QueueFull`].
/// * Dropping a [`JobHandle`] before its job started cancels the job; once started, a closure
///   runs to the end (threads cannot be interrupted) and its result is dropped.
/// * Dropping the pool (or [`shutdown`](ThreadPool::shutdown)) lets the threads finish the jobs
///   already queued, then joins every thread. That blocks the calling thread until they are done.
///
/// `ThreadPool` is `Send + Sync`: one pool may serve several loops.
pub struct ThreadPool {
    shared: Arc<Shared>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl ThreadPool {
    /// A builder.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    /// A pool with the default configuration.
    pub fn new() -> std::io::Result<ThreadPool> {
        ThreadPoolBuilder::new().build()
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Jobs accepted and not yet started.
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }

    /// Runs `f` on a pool thread. The returned future resolves to its value, to
    /// [`PoolError::Panicked`], or at once to [`PoolError::QueueFull`] when the queue is full.
    pub fn spawn<F, T>(&self, f: F) -> JobHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.try_spawn(f) {
            Ok(handle) => handle,
            Err(e) => JobHandle {
                cell: None,
                early: Some(e),
            },
        }
    }

    /// Like [`spawn`](ThreadPool::spawn), but reports a full queue right away.
    pub fn try_spawn<F, T>(&self, f: F) -> Result<JobHandle<T>, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = &self.shared;
        if shared.shutdown.load(Ordering::Relaxed) {
            return Err(PoolError::ShutDown);
        }
        // Reserve a place in the queue; give it back if the queue was already full.
        if shared.queued.fetch_add(1, Ordering::Relaxed) >= shared.capacity {
            shared.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(PoolError::QueueFull);
        }
        let cell = Arc::new(JobCell {
            state: Mutex::new(CellState {
                stage: Stage::Queued(f),
                waker: None,
            }),
        });
        let job: Job = cell.clone();
        shared.injector.push(job);
        shared.notify_one();
        Ok(JobHandle {
            cell: Some(cell),
            early: None,
        })
    }

    /// Lets the threads finish every queued job, then joins them.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        {
            let _guard = self
                .shared
                .lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.shared.wakeup.notify_all();
        }
        for handle in self.threads.drain(..) {
            // A pool thread never panics (jobs are caught); nothing to report if it did.
            let _ = handle.join();
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("threads", &self.threads.len())
            .field("queued", &self.queued())
            .finish()
    }
}

enum Stage<F, T> {
    Queued(F),
    Running,
    Done(Result<T, PoolError>),
    /// The result was taken, or the handle dropped the job before it started.
    Gone,
}

struct CellState<F, T> {
    stage: Stage<F, T>,
    waker: Option<Waker>,
}

/// Where a job's closure waits, runs, and leaves its result for the task awaiting it.
struct JobCell<F, T> {
    state: Mutex<CellState<F, T>>,
}

impl<F, T> JobCell<F, T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, CellState<F, T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<F, T> Run for JobCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self) {
        let f = {
            let mut state = self.lock();
            match std::mem::replace(&mut state.stage, Stage::Running) {
                Stage::Queued(f) => f,
                other => {
                    // Cancelled before it started.
                    state.stage = other;
                    return;
                }
            }
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .map_err(|payload| PoolError::Panicked(crate::error::panic_message(&*payload)));
        let waker = {
            let mut state = self.lock();
            state.stage = Stage::Done(result);
            state.waker.take()
        };
        // Woken outside the lock: for a waitless task this is the loop's remote queue + notify.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The handle's view of a job.
trait Await<T>: Send + Sync {
    fn poll_result(&self, cx: &mut Context<'_>) -> Poll<Result<T, PoolError>>;
    fn cancel(&self);
}

impl<F: Send, T: Send> Await<T> for JobCell<F, T> {
    fn poll_result(&self, cx: &mut Context<'_>) -> Poll<Result<T, PoolError>> {
        let mut state = self.lock();
        if let Stage::Done(_) = state.stage {
            if let Stage::Done(result) = std::mem::replace(&mut state.stage, Stage::Gone) {
                return Poll::Ready(result);
            }
        }
        match &state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    fn cancel(&self) {
        let mut state = self.lock();
        if let Stage::Queued(_) = state.stage {
            let queued = std::mem::replace(&mut state.stage, Stage::Gone);
            drop(state);
            drop(queued);
        }
    }
}

/// The future of a [`ThreadPool`] job: resolves to the job's value or a [`PoolError`].
///
/// Dropping it before the job started cancels the job.
#[must_use = "a JobHandle does nothing unless awaited; dropping it cancels a job not yet started"]
pub struct JobHandle<T> {
    cell: Option<Arc<dyn Await<T>>>,
    early: Option<PoolError>,
}

impl<T> Future for JobHandle<T> {
    type Output = Result<T, PoolError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(e) = this.early.take() {
            return Poll::Ready(Err(e));
        }
        let Some(cell) = &this.cell else {
            panic!("JobHandle polled after completion");
        };
        let result = cell.poll_result(cx);
        if result.is_ready() {
            this.cell = None;
        }
        result
    }
}

impl<T> Drop for JobHandle<T> {
    fn drop(&mut self) {
        if let Some(cell) = self.cell.take() {
            cell.cancel();
        }
    }
}

impl<T> std::fmt::Debug for JobHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle").finish_non_exhaustive()
    }
}
