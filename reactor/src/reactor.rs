//! The per-thread reactor: turns kernel readiness into `Waker` calls.
//!
//! Why per thread: waitless runs one event loop per thread (one per process in the server), so the
//! reactor needs no lock, no atomic and no shared queue on the I/O path. Every source registered on a
//! thread belongs to that thread's reactor; the async I/O types are therefore `!Send`.
//!
//! Why edge-triggered: each fd is registered once, for both directions. The kernel reports a
//! *change* of readiness; the reactor caches it in the source's `readiness` bits and clears a bit
//! only when an operation proves the fd is drained (`WouldBlock`, or a short read/write). Nothing is
//! re-armed per event, so a loop turn is one `epoll_wait` and nothing else.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::sys::{self, Ready};
use crate::timer::Timers;

/// Events fetched per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 1024;

/// Bits of a token that hold the slab index; the rest hold a generation so that a late event for
/// a closed source can never be mistaken for the source that reused its slot.
const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

pub(crate) struct Reactor {
    poller: sys::Poller,
    notify: Arc<NotifyInner>,
    sources: RefCell<Slab<(usize, Rc<SourceState>)>>,
    generation: Cell<usize>,
    pub(crate) timers: RefCell<Timers>,
    events: RefCell<sys::Events>,
    /// Wakers collected during a turn, woken after every borrow is released (reused buffer).
    to_wake: RefCell<Vec<Waker>>,
}

thread_local! {
    static REACTOR: Reactor = Reactor::new()
        .unwrap_or_else(|e| panic!("waitless-reactor: cannot create the OS poller: {e}"));
}

impl Reactor {
    fn new() -> io::Result<Reactor> {
        let (poller, notify) = sys::Poller::new()?;
        Ok(Reactor {
            poller,
            notify: Arc::new(NotifyInner {
                pending: AtomicBool::new(false),
                sys: notify,
            }),
            sources: RefCell::new(Slab::new()),
            generation: Cell::new(0),
            timers: RefCell::new(Timers::new()),
            events: RefCell::new(sys::Events::with_capacity(EVENTS_PER_WAIT)),
            to_wake: RefCell::new(Vec::new()),
        })
    }

    /// Runs `f` with this thread's reactor, creating it on first use.
    pub(crate) fn with<R>(f: impl FnOnce(&Reactor) -> R) -> R {
        REACTOR.with(f)
    }

    /// Like [`Reactor::with`], but `None` while the thread is being torn down.
    pub(crate) fn try_with<R>(f: impl FnOnce(&Reactor) -> R) -> Option<R> {
        REACTOR.try_with(f).ok()
    }

    /// Registers `fd` (both directions, edge-triggered). The returned state starts not ready: the
    /// kernel reports the current readiness as the first edge right after registration.
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<(usize, Rc<SourceState>)> {
        let state = Rc::new(SourceState::default());
        let gen = self.generation.get().wrapping_add(1) & (usize::MAX >> INDEX_BITS);
        self.generation.set(gen);
        let index = self.sources.borrow_mut().insert((gen, state.clone()));
        if index > INDEX_MASK {
            self.sources.borrow_mut().remove(index);
            return Err(io::Error::other(
                "waitless-reactor: too many registered sources",
            ));
        }
        let token = (gen << INDEX_BITS) | index;
        if let Err(e) = self.poller.add(fd, token) {
            self.sources.borrow_mut().remove(index);
            return Err(e);
        }
        Ok((token, state))
    }

    pub(crate) fn deregister(&self, token: usize, fd: RawFd) {
        let index = token & INDEX_MASK;
        let mut sources = self.sources.borrow_mut();
        if sources
            .get(index)
            .is_some_and(|(gen, _)| *gen == token >> INDEX_BITS)
        {
            sources.remove(index);
        }
        drop(sources);
        if sys::Poller::NEEDS_DELETE {
            // The fd is about to be closed; an error here cannot be acted upon.
            let _ = self.poller.delete(fd);
        }
    }

    pub(crate) fn notifier(&self) -> Notifier {
        Notifier {
            inner: self.notify.clone(),
        }
    }

    /// One turn: wait for I/O (bounded by `timeout` and the next timer), then wake every task whose
    /// source or timer became ready. Returns the number of wakers woken.
    pub(crate) fn turn(&self, timeout: Option<Duration>) -> io::Result<usize> {
        let timeout = match self.timers.borrow_mut().next_deadline() {
            None => timeout,
            Some(deadline) => {
                let until = deadline.saturating_duration_since(Instant::now());
                Some(timeout.map_or(until, |t| t.min(until)))
            }
        };
        let mut events = self.events.borrow_mut();
        self.poller.wait(&mut events, timeout)?;

        let mut to_wake = self.to_wake.borrow_mut();
        {
            let sources = self.sources.borrow();
            for (token, ready) in events.iter() {
                let Some((gen, state)) = sources.get(token & INDEX_MASK) else {
                    continue;
                };
                if *gen != token >> INDEX_BITS {
                    continue;
                }
                state.readiness.set(state.readiness.get() | ready.0);
                if ready.0 & (Ready::READABLE | Ready::READ_CLOSED) != 0 {
                    to_wake.extend(state.read_waker.take());
                }
                if ready.0 & (Ready::WRITABLE | Ready::WRITE_CLOSED) != 0 {
                    to_wake.extend(state.write_waker.take());
                }
            }
        }
        if events.notified() {
            // Pairs with the swap in `Notifier::notify`: after this, a new notification writes
            // to the notifier again, and everything published before the old one is visible.
            self.notify.pending.swap(false, Ordering::AcqRel);
        }
        drop(events);
        self.timers.borrow_mut().fire(Instant::now(), &mut to_wake);

        let woken = to_wake.len();
        // Wake outside every borrow: a waker may run arbitrary code, including reactor calls.
        let mut batch = std::mem::take(&mut *to_wake);
        drop(to_wake);
        for waker in batch.drain(..) {
            waker.wake();
        }
        // Give the (now empty) buffer back for the next turn unless a nested turn replaced it.
        let mut to_wake = self.to_wake.borrow_mut();
        if to_wake.capacity() < batch.capacity() {
            *to_wake = batch;
        }
        Ok(woken)
    }
}

/// Which half of a source an operation waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// Per-source readiness cache and the two wakers (one reader and one writer may wait at once).
#[derive(Default)]
pub(crate) struct SourceState {
    readiness: Cell<u8>,
    read_waker: Cell<Option<Waker>>,
    write_waker: Cell<Option<Waker>>,
}

impl SourceState {
    fn mask(dir: Direction) -> u8 {
        match dir {
            Direction::Read => Ready::READABLE | Ready::READ_CLOSED,
            Direction::Write => Ready::WRITABLE | Ready::WRITE_CLOSED,
        }
    }

    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.readiness.get() & Self::mask(dir) != 0
    }

    /// Forgets readiness in `dir` after an operation proved the fd drained (read) or full (write).
    /// Closed bits are sticky: a half-closed or failed fd never blocks again.
    pub(crate) fn clear(&self, dir: Direction) {
        let bit = match dir {
            Direction::Read => Ready::READABLE,
            Direction::Write => Ready::WRITABLE,
        };
        self.readiness.set(self.readiness.get() & !bit);
    }

    /// Stores `waker` for `dir`, cloning only when it would wake a different task.
    pub(crate) fn set_waker(&self, dir: Direction, waker: &Waker) {
        let slot = match dir {
            Direction::Read => &self.read_waker,
            Direction::Write => &self.write_waker,
        };
        let new = match slot.take() {
            Some(old) if old.will_wake(waker) => old,
            _ => waker.clone(),
        };
        slot.set(Some(new));
    }

    /// `Ready` if `dir` is (believed) ready, otherwise registers the waker and returns `Pending`.
    pub(crate) fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_ready(dir) {
            Poll::Ready(())
        } else {
            self.set_waker(dir, cx.waker());
            Poll::Pending
        }
    }
}

/// Runs `op` when `dir` is ready; on `WouldBlock` forgets the readiness and waits for the next edge.
pub(crate) fn poll_io<R>(
    state: &SourceState,
    dir: Direction,
    cx: &mut Context<'_>,
    mut op: impl FnMut() -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        if state.poll_ready(dir, cx).is_pending() {
            return Poll::Pending;
        }
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => state.clear(dir),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            res => return Poll::Ready(res),
        }
    }
}

struct NotifyInner {
    /// Set by the first `notify` after the loop last woke; later ones skip the syscall.
    pending: AtomicBool,
    sys: sys::Notify,
}

/// A handle that wakes a thread's reactor from any thread.
///
/// `notify` makes a blocked [`turn`](crate::turn) on the owning thread return promptly. Several
/// notifications before the loop wakes cost one syscall in total. This is how other threads (the
/// executor's remote wakers, the thread pool) hand work to an event loop.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<NotifyInner>,
}

impl Notifier {
    /// Wakes the reactor this notifier belongs to. Never blocks.
    pub fn notify(&self) {
        if !self.inner.pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.inner.sys.notify() {
                log::error!("waitless-reactor: notify failed: {e}");
            }
        }
    }
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}
