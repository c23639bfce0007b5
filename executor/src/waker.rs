//! Wakers that are one machine word: no allocation, no reference count, no atomic on clone.
//!
//! A waker's data is not a pointer but a packed key: `executor id | generation | task index`.
//! `clone` copies the word and `drop` does nothing. `wake` looks at a `const` thread-local holding
//! the id of this thread's executor:
//!
//! * same id (the common case — a socket or timer woke a task of this loop): push the index onto
//!   the local run queue. No lock, no atomic read-modify-write.
//! * another id (a thread-pool thread, another loop): one load from a static table finds that
//!   executor's [`Remote`], the task index is pushed onto its lock-free stack, and the loop's
//!   reactor is notified. No lock, no reference count, no allocation.
//!
//! ```text
//!  pool thread                         REMOTES[id]  (static table, one pointer per executor id)
//!  waker.wake() ─► id, index ──load──►  Remote (leaked, reused by later executors)
//!                                        ├ links[index]: NOT_QUEUED ──CAS──► next   (dedup:
//!                                        │   a task already queued is not queued again)
//!                                        ├ head ──CAS (Treiber push)──► index
//!                                        └ notifier ──► eventfd write (skipped if one is pending)
//!  loop thread, after each reactor turn:
//!  head.swap(END) ─► walk links, reset each to NOT_QUEUED ─► run queue (FIFO order restored)
//! ```
//!
//! The stack is intrusive: its "nodes" are one `AtomicU32` per task index, allocated in chunks
//! as the executor's task slab grows and never freed, so a push allocates nothing and a late
//! waker never touches freed memory. The consumer takes the whole list at once, so there is no
//! ABA problem. A `Remote` outlives its executor: the next executor to take the id reuses it.
//!
//! **Stale wakers.** Local wakes check the task's generation, so a waker of a finished task is
//! ignored. Remote wakes carry only the index (that is what makes the dedup one CAS), so a waker
//! whose task finished may poll whichever task took its slot since: a *spurious poll*, which
//! every future must tolerate (the `Future` contract). Executor ids are handed out round-robin,
//! so an id is reused only after all others were taken; a waker that outlives its executor
//! either finds the slot empty (dropped) or, much later, causes one spurious poll in the
//! executor that took the id. The generation is 26 bits (64-bit targets): a `JoinHandle` or a
//! local waker is confused only if exactly a multiple of 2^26 tasks were spawned between
//! its task and the slot's current one, and even then the outcome is a spurious poll.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{RawWaker, RawWakerVTable, Waker};

use waitless_reactor::{AtomicNotifier, Notifier};

/// Bits of a key holding the task index (16M tasks per loop on 64-bit targets).
pub(crate) const INDEX_BITS: u32 = if usize::BITS >= 64 { 24 } else { 16 };
/// Bits holding the executor id.
const ID_BITS: u32 = if usize::BITS >= 64 { 14 } else { 6 };
/// Bits holding the generation: the rest.
const GEN_BITS: u32 = usize::BITS - INDEX_BITS - ID_BITS;
pub(crate) const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
pub(crate) const GEN_MASK: usize = (1 << GEN_BITS) - 1;
/// Executor ids are `1..=MAX_ID`; 0 means "no executor on this thread".
const MAX_ID: usize = (1 << ID_BITS) - 1;
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

/// Link value of an index that is not on the remote stack.
const NOT_QUEUED: u32 = u32::MAX;
/// Link value ending the stack (and the value of an empty `head`).
const END: u32 = u32::MAX - 1;
/// Indices per chunk of links.
const CHUNK: usize = 4096;
const CHUNKS: usize = (INDEX_MASK + 1).div_ceil(CHUNK);

struct Chunk([AtomicU32; CHUNK]);

/// The cross-thread half of an executor: where other threads leave wakes for it.
pub(crate) struct Remote {
    in_use: AtomicBool,
    notifier: AtomicNotifier,
    /// Top of the intrusive stack of woken indices (`END`: empty).
    head: AtomicU32,
    /// `links[index / CHUNK][index % CHUNK]`: `NOT_QUEUED`, or the next index on the stack.
    links: Box<[AtomicPtr<Chunk>]>,
}

impl Remote {
    fn new() -> Remote {
        let remote = Remote {
            in_use: AtomicBool::new(false),
            notifier: AtomicNotifier::new(),
            head: AtomicU32::new(END),
            links: (0..CHUNKS)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
        };
        remote.ensure(MAIN_INDEX);
        remote
    }

    /// Makes sure the link of `index` exists (called by the owning loop before a waker for
    /// `index` can exist). Chunks are leaked: a `Remote` and its links live forever.
    pub(crate) fn ensure(&self, index: usize) {
        let slot = &self.links[index / CHUNK];
        if slot.load(Ordering::Acquire).is_null() {
            let chunk: &'static mut Chunk = Box::leak(Box::new(Chunk(std::array::from_fn(|_| {
                AtomicU32::new(NOT_QUEUED)
            }))));
            slot.store(chunk, Ordering::Release);
        }
    }

    fn link(&self, index: usize) -> Option<&'static AtomicU32> {
        let chunk = self.links.get(index / CHUNK)?.load(Ordering::Acquire);
        // SAFETY: a non-null chunk pointer comes from `Box::leak` in `ensure` and is never freed,
        // so it is valid for `'static`; the chunk is only accessed through atomics.
        let chunk = unsafe { chunk.as_ref() }?;
        Some(&chunk.0[index % CHUNK])
    }

    /// Queues `index` unless it is queued already. True if this call queued it.
    fn push(&self, index: usize) -> bool {
        let Some(link) = self.link(index) else {
            return false; // never spawned here: a waker from a previous owner of the id
        };
        let mut head = self.head.load(Ordering::Relaxed);
        if link
            .compare_exchange(NOT_QUEUED, head, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        loop {
            // Release: the link written above is visible to the loop that takes the stack.
            match self.head.compare_exchange_weak(
                head,
                index as u32,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => {
                    head = actual;
                    link.store(actual, Ordering::Relaxed);
                }
            }
        }
    }

    /// Moves every remotely woken index into `out`, oldest first. One atomic load when there
    /// are none.
    pub(crate) fn drain_into(&self, out: &mut Vec<usize>) {
        if self.head.load(Ordering::Relaxed) == END {
            return;
        }
        let start = out.len();
        let mut index = self.head.swap(END, Ordering::Acquire);
        while index != END {
            let Some(link) = self.link(index as usize) else {
                break; // unreachable: only indices with links are pushed
            };
            // Read the next link and release the index in one step: from here on a new wake
            // of this task queues it again.
            let next = link.swap(NOT_QUEUED, Ordering::AcqRel);
            out.push(index as usize);
            index = next;
        }
        out[start..].reverse();
    }
}

/// Every executor id's `Remote` (null until first used). Read by remote wakes: one load.
static REMOTES: [AtomicPtr<Remote>; MAX_ID + 1] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_ID + 1];
/// Where the round-robin search for a free id starts.
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
/// Serialises executor creation and destruction (never taken by a wake).
static REGISTER: Mutex<()> = Mutex::new(());

fn remote(id: usize) -> Option<&'static Remote> {
    let ptr = REMOTES.get(id)?.load(Ordering::Acquire);
    // SAFETY: a non-null pointer in REMOTES comes from `Box::leak` in `register` and is never
    // freed, so it is valid for `'static`; `Remote` is `Sync`.
    unsafe { ptr.as_ref() }
}

/// Takes a free executor id (round-robin, so ids are reused as late as possible) and binds its
/// `Remote` to `notifier`.
pub(crate) fn register(notifier: Notifier) -> (usize, &'static Remote) {
    let _guard = REGISTER.lock().unwrap_or_else(PoisonError::into_inner);
    let start = NEXT_ID.load(Ordering::Relaxed);
    for k in 0..MAX_ID {
        let id = (start + k) % MAX_ID + 1;
        let remote = match remote(id) {
            Some(r) => r,
            None => {
                let r: &'static Remote = Box::leak(Box::new(Remote::new()));
                REMOTES[id].store((r as *const Remote).cast_mut(), Ordering::Release);
                r
            }
        };
        if remote.in_use.load(Ordering::Relaxed) {
            continue;
        }
        remote.in_use.store(true, Ordering::Relaxed);
        // Wakes left by a previous owner of the id: discard them.
        remote.drain_into(&mut Vec::new());
        remote.notifier.store(Some(notifier));
        NEXT_ID.store(id, Ordering::Relaxed);
        return (id, remote);
    }
    panic!("waitless-executor: too many executors alive at once ({MAX_ID} max)");
}

/// Releases an executor's id; later wakes through it are dropped (or, once the id is taken
/// again, cause at most a spurious poll).
pub(crate) fn unregister(remote: &'static Remote) {
    let _guard = REGISTER.lock().unwrap_or_else(PoisonError::into_inner);
    remote.notifier.store(None);
    remote.in_use.store(false, Ordering::Relaxed);
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
    // An executor that is gone has no task left to wake: dropping the wake is correct.
    if let Some(remote) = remote(id) {
        if remote.push(local & INDEX_MASK) {
            if let Some(notifier) = remote.notifier.load() {
                notifier.notify();
            }
        }
    }
}

fn drop(_: *const ()) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_stack_dedups_and_keeps_order() {
        let r = Remote::new();
        r.ensure(0);
        for i in [3, 1, 3, 2, 1] {
            r.push(i);
        }
        let mut out = Vec::new();
        r.drain_into(&mut out);
        assert_eq!(out, [3, 1, 2]);
        out.clear();
        r.drain_into(&mut out);
        assert!(out.is_empty());
        assert!(r.push(3), "a drained index can be queued again");
        assert!(!r.push(CHUNK * 5), "an index without a link is dropped");
    }

    #[test]
    fn concurrent_pushes_are_all_delivered_once() {
        let r: &'static Remote = Box::leak(Box::new(Remote::new()));
        r.ensure(0);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        r.push(t * 1000 + i);
                        r.push(t * 1000 + i);
                    }
                })
            })
            .collect();
        let mut seen = Vec::new();
        let mut done = false;
        while !done {
            done = threads.iter().all(|t| t.is_finished());
            r.drain_into(&mut seen);
        }
        r.drain_into(&mut seen);
        seen.sort_unstable();
        seen.dedup();
        // Every index was queued at least once; duplicates only across drains.
        assert_eq!(seen, (0..4000).collect::<Vec<_>>());
    }
}
