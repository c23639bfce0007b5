//! Wakers that are one machine word: no allocation, no reference count, no atomic on clone.
//!
//! A waker's data is not a pointer but a packed key: `executor id | generation | task index`.
//! `clone` copies the word and `drop` does nothing. `wake` looks at a `const` thread-local holding
//! the id of this thread's executor:
//!
//! * same id (the common case — a socket or timer woke a task of this loop): push the index onto
//!   the local run queue. No lock, no atomic read-modify-write.
//! * another id (a thread-pool thread, another loop): find that executor's [`Remote`] in a global
//!   registry, push the key onto its mutex-protected queue and notify its reactor.
//!
//! Keys carry a generation so that a stale waker (its task finished and the slot was reused) is
//! recognised and ignored rather than polling the wrong task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{RawWaker, RawWakerVTable, Waker};

use waitless_reactor::Notifier;

/// Bits of a key holding the task index.
pub(crate) const INDEX_BITS: u32 = usize::BITS / 2;
/// Bits holding the generation.
const GEN_BITS: u32 = usize::BITS / 4;
pub(crate) const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
pub(crate) const GEN_MASK: usize = (1 << GEN_BITS) - 1;
/// Highest executor id that fits (ids start at 1; 0 means "no executor on this thread").
const MAX_ID: usize = (1 << (usize::BITS - INDEX_BITS - GEN_BITS)) - 1;
/// The reserved index of the future passed to `block_on`.
pub(crate) const MAIN_INDEX: usize = INDEX_MASK;

/// The part of a key that is local to one executor: generation and index.
pub(crate) fn local_key(gen: usize, index: usize) -> usize {
    ((gen & GEN_MASK) << INDEX_BITS) | index
}

thread_local! {
    /// The id of the executor living on this thread, 0 if none.
    pub(crate) static CURRENT_ID: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The cross-thread half of an executor.
pub(crate) struct Remote {
    queue: Mutex<Vec<usize>>,
    pending: AtomicBool,
    notifier: Notifier,
}

impl Remote {
    pub(crate) fn new(notifier: Notifier) -> Remote {
        Remote {
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            notifier,
        }
    }

    fn push(&self, key: usize) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key);
        self.pending.store(true, Ordering::Release);
        self.notifier.notify();
    }

    /// Moves the remotely woken keys into `out`. One atomic load when there are none.
    pub(crate) fn drain_into(&self, out: &mut Vec<usize>) {
        if self.pending.load(Ordering::Acquire) {
            self.pending.store(false, Ordering::Relaxed);
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *queue, out);
        }
    }
}

/// Executors that other threads can wake, indexed by `id - 1`. Read-locked on every remote
/// wake (many pool threads may wake loops at once), write-locked only when an executor is
/// created or destroyed.
static REGISTRY: RwLock<Vec<Option<Arc<Remote>>>> = RwLock::new(Vec::new());

/// Registers an executor's remote half and returns its id.
pub(crate) fn register(remote: Arc<Remote>) -> usize {
    let mut reg = REGISTRY.write().unwrap_or_else(PoisonError::into_inner);
    let slot = match reg.iter().position(Option::is_none) {
        Some(i) => i,
        None => {
            reg.push(None);
            reg.len() - 1
        }
    };
    let id = slot + 1;
    assert!(
        id <= MAX_ID,
        "waitless-executor: too many executors alive at once ({MAX_ID} max)"
    );
    reg[slot] = Some(remote);
    id
}

pub(crate) fn unregister(id: usize) {
    let mut reg = REGISTRY.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(slot) = reg.get_mut(id - 1) {
        *slot = None;
    }
}

/// A waker for the task `local` (generation and index) of executor `id`.
pub(crate) fn waker(id: usize, local: usize) -> Waker {
    let packed = (id << (INDEX_BITS + GEN_BITS)) | local;
    // SAFETY: the vtable functions below treat the data word as a plain integer and never
    // dereference it, so any value is valid and all four contract points hold trivially.
    unsafe { Waker::from_raw(raw(packed)) }
}

fn raw(packed: usize) -> RawWaker {
    RawWaker::new(std::ptr::without_provenance(packed), &VTABLE)
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);

fn clone(data: *const ()) -> RawWaker {
    raw(data.addr())
}

fn wake(data: *const ()) {
    let packed = data.addr();
    let id = packed >> (INDEX_BITS + GEN_BITS);
    let local = packed & ((1 << (INDEX_BITS + GEN_BITS)) - 1);
    if CURRENT_ID.with(|c| c.get()) == id && crate::executor::wake_local(local) {
        return;
    }
    let remote = {
        let reg = REGISTRY.read().unwrap_or_else(PoisonError::into_inner);
        reg.get(id.wrapping_sub(1)).and_then(|r| r.clone())
    };
    // An executor that is gone has no task left to wake: dropping the wake is correct.
    if let Some(remote) = remote {
        remote.push(local);
    }
}

fn drop(_: *const ()) {}
