//! The per-thread reactor: turns kernel readiness into `Waker` calls.
//!
//! Why per thread: waitless runs one event loop per thread (one per process in the server), so the
//! reactor needs no lock, no atomic and no shared queue on the I/O path. Every source registered on a
//! thread belongs to that thread's reactor; the async I/O types are therefore `!Send`.
//!
//! Why edge-triggered: each fd is registered once, for both directions. The kernel reports a
//! *change* of readiness; the reactor caches it in the source's `readiness` bits and clears a bit
//! only when an operation proves the fd is drained (`WouldBlock`, or a short read/write on a
//! stream socket or pipe). Nothing is re-armed per event, so a loop turn is one `epoll_wait` and
//! nothing else.
//!
//! Why notifiers are recycled, never freed: a [`Notifier`] is used from other threads (the
//! executor's remote wakes, `waitless-pool`'s threads), possibly after the loop it belongs to is
//! gone. Each notifier is one leaked allocation holding an `eventfd`; when a reactor dies its
//! notifier goes to a free list and the next reactor created on any thread takes it and attaches
//! it to its own poller. So a `Notifier` is a plain `&'static` reference: cloning and notifying touch no
//! reference count, and a notification through a stale handle wakes some live loop once for
//! nothing (a spurious turn), never freed memory. The number of notifiers ever allocated is the
//! peak number of reactors alive at once.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::coop;
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
    notify: &'static NotifyInner,
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
        let poller = sys::Poller::new()?;
        let notify = NotifyInner::take()?;
        if let Err(e) = poller.attach(&notify.sys) {
            NotifyInner::give_back(notify);
            return Err(e);
        }
        Ok(Reactor {
            poller,
            notify,
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

    /// Registers `fd` (both directions, edge-triggered). The returned state starts with the
    /// readiness bits `initial` (usually none: the kernel reports the current readiness as the
    /// first edge right after registration; an accepted socket starts readable, see `net`).
    pub(crate) fn register(&self, fd: RawFd, initial: u8) -> io::Result<(usize, Rc<SourceState>)> {
        let state = Rc::new(SourceState::default());
        state.readiness.set(initial);
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

    /// Forgets the source. The fd is removed from the kernel's interest list when `delete` is
    /// set or the backend needs it; otherwise closing the fd removes it (epoll forgets a file
    /// description when its last fd closes), which saves a syscall per connection.
    pub(crate) fn deregister(&self, token: usize, fd: RawFd, delete: bool) -> io::Result<()> {
        let index = token & INDEX_MASK;
        let mut sources = self.sources.borrow_mut();
        if sources
            .get(index)
            .is_some_and(|(gen, _)| *gen == token >> INDEX_BITS)
        {
            sources.remove(index);
        }
        drop(sources);
        if delete || sys::Poller::NEEDS_DELETE {
            self.poller.delete(fd)?;
        }
        Ok(())
    }

    pub(crate) fn notifier(&self) -> Notifier {
        Notifier { inner: self.notify }
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

impl Drop for Reactor {
    fn drop(&mut self) {
        NotifyInner::give_back(self.notify);
    }
}

/// Which half of a source an operation waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// Per-source readiness cache and the two wakers.
///
/// One waiter per direction: one task may wait to read while another waits to write; a second
/// task waiting in the same direction replaces the first one's waker (the first is then woken
/// only by its other wake sources). Sharing one direction of one fd between tasks is a bug in
/// the program's design anyway (their reads would interleave), so the slot is not a list.
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

    /// Forgets readiness in `dir` after a short read or write proved the fd drained (read) or
    /// full (write). Closed bits stay: a half-closed fd keeps answering at once (EOF, `EPIPE`).
    pub(crate) fn clear(&self, dir: Direction) {
        let bit = match dir {
            Direction::Read => Ready::READABLE,
            Direction::Write => Ready::WRITABLE,
        };
        self.readiness.set(self.readiness.get() & !bit);
    }

    /// Forgets *all* readiness in `dir`, closed bits included: the kernel just answered
    /// `WouldBlock`, which outranks any cached bit. (An error event, a UDP socket's ICMP error
    /// for instance, is reported once; keeping it sticky would make every later operation that
    /// answers `WouldBlock` retry forever inside one poll.) The next edge sets the bits again.
    pub(crate) fn clear_all(&self, dir: Direction) {
        self.readiness.set(self.readiness.get() & !Self::mask(dir));
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

/// Runs `op` when `dir` is ready; on `WouldBlock` forgets the readiness and waits for the next
/// edge. Each completed operation spends one unit of the task's cooperative budget
/// ([`coop`](crate::coop)); with none left the task is woken and told `Pending`.
///
/// The loop ends: `WouldBlock` clears every bit of `dir`, so the next round returns `Pending`;
/// `EINTR` is retried (a signal handler ran; the fd state did not change).
pub(crate) fn poll_io<R>(
    state: &SourceState,
    dir: Direction,
    cx: &mut Context<'_>,
    mut op: impl FnMut() -> io::Result<R>,
) -> Poll<io::Result<R>> {
    if !coop::has_budget() {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    loop {
        if state.poll_ready(dir, cx).is_pending() {
            return Poll::Pending;
        }
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => state.clear_all(dir),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            res => {
                coop::spend();
                return Poll::Ready(res);
            }
        }
    }
}

pub(crate) struct NotifyInner {
    /// Set by the first `notify` after the loop last woke; later ones skip the syscall.
    pending: AtomicBool,
    sys: sys::Notify,
}

/// Notifiers whose reactor is gone, ready for the next reactor (see the module docs).
static SPARE_NOTIFIERS: Mutex<Vec<&'static NotifyInner>> = Mutex::new(Vec::new());

impl NotifyInner {
    fn take() -> io::Result<&'static NotifyInner> {
        let spare = SPARE_NOTIFIERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(inner) = spare {
            inner.sys.reset();
            inner.pending.store(false, Ordering::Release);
            return Ok(inner);
        }
        Ok(Box::leak(Box::new(NotifyInner {
            pending: AtomicBool::new(false),
            sys: sys::Notify::new()?,
        })))
    }

    fn give_back(inner: &'static NotifyInner) {
        SPARE_NOTIFIERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(inner);
    }
}

/// A handle that wakes a thread's reactor from any thread.
///
/// `notify` makes a blocked [`turn`](crate::turn) on the owning thread return promptly. Several
/// notifications before the loop wakes cost one syscall in total. This is how other threads (the
/// executor's remote wakers, the thread pool) hand work to an event loop.
///
/// A `Notifier` is one pointer (`Copy`, no reference count). Once its reactor's thread has
/// ended, notifying it is harmless: at worst some other live loop, which inherited the
/// underlying `eventfd`, turns once for nothing.
#[derive(Clone, Copy)]
pub struct Notifier {
    inner: &'static NotifyInner,
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

/// A [`Notifier`] slot that other threads can read while its owner replaces it: one atomic
/// pointer, no lock, no reference count.
///
/// Executors keep their notifier in one so that a wake from another thread is a single load.
/// Reading an old value after a store is harmless (see [`Notifier`]).
pub struct AtomicNotifier {
    ptr: AtomicPtr<NotifyInner>,
}

impl AtomicNotifier {
    /// An empty slot.
    pub const fn new() -> AtomicNotifier {
        AtomicNotifier {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Stores `notifier` (`None` empties the slot).
    pub fn store(&self, notifier: Option<Notifier>) {
        let ptr = notifier.map_or(std::ptr::null_mut(), |n| {
            (n.inner as *const NotifyInner).cast_mut()
        });
        self.ptr.store(ptr, Ordering::Release);
    }

    /// The notifier last stored, if any.
    pub fn load(&self) -> Option<Notifier> {
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: every non-null pointer stored here came from a `&'static NotifyInner` (notifiers
        // are leaked and never freed), so it is valid for `'static`.
        unsafe { ptr.as_ref() }.map(|inner| Notifier { inner })
    }
}

impl Default for AtomicNotifier {
    fn default() -> Self {
        AtomicNotifier::new()
    }
}

impl std::fmt::Debug for AtomicNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicNotifier").finish_non_exhaustive()
    }
}
