//! The submitter's table of jobs waiting for a reply, and [`TierFuture`], what a caller awaits.
//!
//! Why a mutex here when the process pool's table is a `RefCell`: the reply arrives on the
//! submitter's reply thread, not on the loop. The reply thread stores the result in the job's
//! slot and wakes the task through its `Waker` (the executor's remote path: one push and one
//! eventfd write); the loop never waits on the lock for longer than a map operation.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use waitless_reactor::Sleep;

use crate::PoolError;

/// Where one job stands.
#[derive(Debug)]
enum State {
    /// No reply yet; the waker of the task awaiting it, once polled.
    Waiting(Option<Waker>),
    /// The JSON result or the error.
    Done(Result<Vec<u8>, PoolError>),
    /// Its future was dropped or resolved: nobody wants the reply.
    Gone,
}

/// One job's meeting point between the reply thread and the awaiting task.
#[derive(Debug)]
pub(crate) struct Slot {
    state: Mutex<State>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-written (every critical
        // section is a single assignment), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores the outcome and wakes the awaiting task; a later outcome is ignored.
    pub(crate) fn complete(&self, result: Result<Vec<u8>, PoolError>) {
        let waker = {
            let mut state = self.lock();
            match std::mem::replace(&mut *state, State::Done(result)) {
                State::Waiting(w) => w,
                previous => {
                    *state = previous;
                    None
                }
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Whether someone still waits for this job (the writer skips jobs nobody waits for).
    pub(crate) fn is_wanted(&self) -> bool {
        matches!(*self.lock(), State::Waiting(_))
    }
}

/// The jobs of one submitter that have no reply yet, by sequence number.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    map: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        // Every critical section is one map operation: a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new slot for `seq`, or `QueueFull` when `limit` jobs already wait.
    pub(crate) fn insert(&self, seq: u64, limit: usize) -> Result<Arc<Slot>, PoolError> {
        let mut map = self.lock();
        if map.len() >= limit {
            return Err(PoolError::QueueFull);
        }
        let slot = Arc::new(Slot {
            state: Mutex::new(State::Waiting(None)),
        });
        map.insert(seq, Arc::clone(&slot));
        Ok(slot)
    }

    /// Completes job `seq` if anyone still waits for it (replies for unknown jobs are dropped).
    pub(crate) fn complete(&self, seq: u64, result: Result<Vec<u8>, PoolError>) {
        let slot = self.lock().remove(&seq);
        if let Some(slot) = slot {
            slot.complete(result);
        }
    }

    /// Fails every waiting job with an error made by `error` (connection lost, pool dropped).
    pub(crate) fn fail_all(&self, error: impl Fn() -> PoolError) {
        let all: Vec<Arc<Slot>> = self.lock().drain().map(|(_, s)| s).collect();
        for slot in all {
            slot.complete(Err(error()));
        }
    }

    pub(crate) fn remove(&self, seq: u64) {
        self.lock().remove(&seq);
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The future of a job on the worker tier: resolves to the decoded result, an error the worker
/// reported, a broker error, or [`PoolError::Timeout`] once its timeout passes with no reply.
///
/// Dropping it before the job was sent keeps it from being sent; after that, the job runs
/// anyway (it is in Redis) and its reply is discarded.
#[must_use = "a TierFuture does nothing unless awaited; the job is sent either way"]
pub struct TierFuture<R> {
    inner: Result<Pending, Option<PoolError>>,
    _result: PhantomData<fn() -> R>,
}

/// A submitted job being awaited.
struct Pending {
    slot: Arc<Slot>,
    slots: Arc<Slots>,
    seq: u64,
    deadline: Instant,
    /// The timeout's timer, made on the first poll (on the loop that polls it).
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<R> TierFuture<R> {
    pub(crate) fn new(slot: Arc<Slot>, slots: Arc<Slots>, seq: u64, timeout: Duration) -> Self {
        TierFuture {
            inner: Ok(Pending {
                slot,
                slots,
                seq,
                deadline: Instant::now() + timeout,
                sleep: None,
            }),
            _result: PhantomData,
        }
    }

    /// A future that fails with `e` on its first poll (a refused submission).
    pub(crate) fn failed(e: PoolError) -> Self {
        TierFuture {
            inner: Err(Some(e)),
            _result: PhantomData,
        }
    }
}

impl<R: DeserializeOwned> Future for TierFuture<R> {
    type Output = Result<R, PoolError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let pending = match &mut this.inner {
            Err(early) => return Poll::Ready(Err(early.take().unwrap_or(PoolError::ShutDown))),
            Ok(pending) => pending,
        };
        let outcome = {
            let mut state = pending.slot.lock();
            match std::mem::replace(&mut *state, State::Gone) {
                State::Done(result) => Some(result),
                State::Gone => Some(Err(PoolError::ShutDown)),
                State::Waiting(waker) => {
                    let waker = match waker {
                        Some(w) if w.will_wake(cx.waker()) => w,
                        _ => cx.waker().clone(),
                    };
                    *state = State::Waiting(Some(waker));
                    None
                }
            }
        };
        if let Some(result) = outcome {
            return Poll::Ready(result.and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| PoolError::Codec(format!("result: {e}")))
            }));
        }
        let deadline = pending.deadline;
        let sleep = pending
            .sleep
            .get_or_insert_with(|| Box::pin(waitless_reactor::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            pending.slots.remove(pending.seq);
            *pending.slot.lock() = State::Gone;
            return Poll::Ready(Err(PoolError::Timeout));
        }
        Poll::Pending
    }
}

impl<R> Drop for TierFuture<R> {
    fn drop(&mut self) {
        if let Ok(pending) = &self.inner {
            pending.slots.remove(pending.seq);
            *pending.slot.lock() = State::Gone;
        }
    }
}

impl<R> std::fmt::Debug for TierFuture<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seq = self.inner.as_ref().ok().map(|p| p.seq);
        f.debug_struct("TierFuture").field("seq", &seq).finish()
    }
}
