//! `ProcessPool`: the handle callers hold. It queues jobs, reports on its pool processes, and on
//! drop kills and reaps them.

use std::process::Child;
use std::rc::Rc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::queue::{JobSlot, JobState, Shared};
use super::{frame, Job, JobFuture, ProcessPoolBuilder, REGISTRY};
use crate::PoolError;

/// A pool of processes that run registered [`Job`]s; awaited from the loop it was built on.
///
/// * [`run`](ProcessPool::run) serializes the argument (JSON), queues the job and returns a
///   [`JobFuture`]. A driver task per pool process writes the request to the pool process's socket
///   and reads the answer; both sockets and a pidfd per pool process are registered in this
///   thread's reactor, so waiting costs no thread and never blocks the loop.
/// * A pool process that dies fails only the job it was running ([`PoolError::ProcessDied`]), is
///   reaped (no zombie) and replaced; jobs sent ahead to it are re-queued. A job over its timeout
///   gets its pool process killed and replaced ([`PoolError::Timeout`]). A malformed or oversized
///   frame from a pool process is [`PoolError::Protocol`] and that pool process is replaced as
///   well.
/// * At most [`max_in_flight`](ProcessPoolBuilder::max_in_flight) jobs are accepted at once; past
///   that, [`PoolError::QueueFull`].
/// * Dropping a [`JobFuture`] whose job is still queued cancels it (it is never sent); once a
///   pool process has it, the job runs on and its answer is discarded (a timeout bounds it).
/// * Dropping the pool kills and reaps every pool process and fails the jobs left with
///   [`PoolError::ShutDown`]. If this process dies, its pool processes die too: on Linux they carry
///   `PR_SET_PDEATHSIG(SIGKILL)`, and everywhere a pool process exits when its socket reaches EOF.
///
/// The pool is `!Send`: it lives on one event loop (one thread). Build it inside (or before)
/// `waitless_executor::block_on` on that thread; its pool processes are started from that thread,
/// and on Linux the parent-death signal follows that thread's exit.
pub struct ProcessPool {
    shared: Rc<Shared>,
}

impl ProcessPool {
    /// The handle over the state `build` set up.
    pub(super) fn from_shared(shared: Rc<Shared>) -> ProcessPool {
        ProcessPool { shared }
    }

    /// A builder.
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder::new()
    }

    /// A pool with the default configuration.
    pub fn new() -> Result<ProcessPool, PoolError> {
        ProcessPoolBuilder::new().build()
    }

    /// Number of process slots.
    pub fn processes(&self) -> usize {
        self.shared.slots.borrow().len()
    }

    /// The pids of the pool processes running now (for logs and tests).
    pub fn pids(&self) -> Vec<u32> {
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

    /// Runs `job(args)` in a pool process, with the pool's default timeout. Errors (including a
    /// full queue) come out of the future.
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
        Ok(JobFuture::new(shared.clone(), key))
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
            .field("processes", &self.processes())
            .field("pids", &self.pids())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}
