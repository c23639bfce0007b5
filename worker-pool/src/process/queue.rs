//! The state a pool shares with its driver tasks and job futures: the job table, the queue of
//! jobs not yet sent, and one view per process slot.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::process::Child;
use std::task::Waker;
use std::time::Duration;

use slab::Slab;

use super::ProcessPoolBuilder;
use crate::PoolError;

/// A job as the pool tracks it.
pub(crate) struct JobSlot {
    pub(crate) state: JobState,
    pub(crate) waker: Option<Waker>,
    pub(crate) timeout: Option<Duration>,
}

pub(crate) enum JobState {
    /// In the queue; the request frame, ready to send.
    Queued(Vec<u8>),
    /// Sent to a pool process (the frame is kept: a job sent ahead is re-queued if its pool process
    /// dies).
    Sent(Vec<u8>),
    /// The JobFuture was dropped while the job was at a pool process: free the slot when it
    /// answers.
    Abandoned(Vec<u8>),
    /// The raw result, waiting for the JobFuture.
    Done(Result<Vec<u8>, PoolError>),
}

/// What the pool handle and the futures see of a process slot.
#[derive(Default)]
pub(crate) struct SlotView {
    pub(crate) driver: Option<Waker>,
    /// Jobs at this pool process; `None` while it is starting, dying or absent.
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

    /// Puts jobs that were sent ahead to a dead pool process back at the front of the queue.
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
    /// frame to `out` and returns its key and timeout. Jobs go to idle pool processes first; a busy
    /// pool process gets one only while none is idle and its pipeline has room.
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

    /// Fails the first queued job with `err` (used when pool processes cannot start, so callers
    /// learn it instead of waiting forever).
    pub(crate) fn fail_one_queued(&self, err: PoolError) -> bool {
        let Some(key) = self.queue.borrow_mut().pop_front() else {
            return false;
        };
        self.complete(key, Err(err));
        true
    }
}
