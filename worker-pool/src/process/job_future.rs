//! `JobFuture`: what a caller awaits for one process-pool job; dropping it cancels a queued job.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use super::queue::{JobState, Shared};
use crate::PoolError;

/// The future of a [`ProcessPool`](super::ProcessPool) job: resolves to the decoded result or a [`PoolError`].
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
    /// The future of job `key`, queued in `shared`.
    pub(super) fn new(shared: Rc<Shared>, key: usize) -> JobFuture<R> {
        JobFuture {
            shared: Some(shared),
            key,
            early: None,
            _result: PhantomData,
        }
    }

    /// A future that fails with `e` on its first poll (a refused submission).
    pub(super) fn failed(e: PoolError) -> JobFuture<R> {
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
