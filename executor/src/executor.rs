//! The per-thread executor: a slab of tasks, a run queue, and the loop that alternates between
//! running ready tasks and turning the reactor.
//!
//! Why this shape: in a thread-per-core server nothing here is ever touched by two threads, so
//! the slab and the queue are plain `RefCell`s. Spawning a task is one allocation (the task
//! itself) plus a slab insert and a queue push; waking a task from its own thread is a slab
//! lookup and a queue push. Only wakes from other threads go through the `Remote` queue.
//!
//! ```text
//!             ┌──────────── block_on loop (one thread) ─────────────┐
//!             │                                                      │
//!  spawn ───► run queue ──► poll task ──► Pending: task waits on      │
//!             ▲   (≤ 61 polls)                a source or a timer     │
//!             │                                                      │
//!  local wake ┘     queue empty, or 61 polls done                     │
//!  (waker on        ──► waitless_reactor::turn()  ── one epoll_wait ──┘
//!   this thread)        readiness/timers ──► Waker::wake ──► run queue
//!
//!  remote wake (other thread) ──► Remote stack + Notifier ──► turn returns ──► run queue
//! ```
//!
//! Each task poll gets a fresh cooperative budget (`waitless_reactor::coop`, 128 operations):
//! a task that keeps finding its sockets ready is made to yield after that many, so one busy
//! connection cannot hold the loop. Setting it is one thread-local store per poll.
//!
//! Teardown: the executor is a thread-local, so tasks still pending when the thread exits are
//! dropped inside its destructor. Their `Drop` impls may call `spawn`, `JoinHandle::cancel` or
//! `is_finished`; during teardown these do not panic: a spawned future is dropped at once (its
//! handle resolves to `Cancelled`), `cancel` does nothing, `is_finished` answers `true`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use slab::Slab;

use crate::task::{Erased, JoinError, JoinHandle, TaskCell};
use crate::waker::{
    self, local_key, Remote, CURRENT_ID, GEN_MASK, INDEX_BITS, INDEX_MASK, MAIN_INDEX,
};
use waitless_reactor::coop;

/// How many task polls may run before the reactor is polled (without blocking) again.
///
/// A task that is always ready (it wakes itself every time it yields) would otherwise keep the
/// run queue non-empty forever and I/O would never be polled. 61 is tokio's value: large enough
/// that the extra `epoll_wait` is amortised, small enough to keep I/O latency low.
pub const IO_POLL_INTERVAL: u32 = 61;

struct Slot {
    gen: usize,
    /// In the run queue (dedups wakes).
    scheduled: bool,
    /// The output (or panic) is stored; the future is gone.
    done: bool,
    /// The JoinHandle was dropped: free the slot as soon as the task finishes.
    detached: bool,
    /// `cancel` was called while the task was being polled.
    cancel_requested: bool,
    /// `None` only while the task is being polled.
    task: Option<Pin<Box<dyn Erased>>>,
    join_waker: Option<Waker>,
}

struct Executor {
    id: usize,
    tasks: RefCell<Slab<Slot>>,
    queue: RefCell<VecDeque<usize>>,
    remote: &'static Remote,
    /// Spare buffer swapped with the remote queue (no allocation per drain).
    remote_buf: RefCell<Vec<usize>>,
    main_woken: Cell<bool>,
    in_block_on: Cell<bool>,
    next_gen: Cell<usize>,
}

thread_local! {
    static EXECUTOR: Executor = Executor::new();
}

impl Executor {
    fn new() -> Executor {
        let (id, remote) = waker::register(waitless_reactor::notifier());
        CURRENT_ID.with(|c| c.set(id));
        Executor {
            id,
            tasks: RefCell::new(Slab::new()),
            queue: RefCell::new(VecDeque::new()),
            remote,
            remote_buf: RefCell::new(Vec::new()),
            main_woken: Cell::new(false),
            in_block_on: Cell::new(false),
            next_gen: Cell::new(0),
        }
    }

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let gen = self.next_gen.get().wrapping_add(1) & GEN_MASK;
        self.next_gen.set(gen);
        let task: Pin<Box<dyn Erased>> = Box::pin(TaskCell::new(future));
        let index = self.tasks.borrow_mut().insert(Slot {
            gen,
            scheduled: true,
            done: false,
            detached: false,
            cancel_requested: false,
            task: Some(task),
            join_waker: None,
        });
        assert!(index < MAIN_INDEX, "waitless-executor: too many tasks");
        self.remote.ensure(index);
        self.queue.borrow_mut().push_back(index);
        JoinHandle {
            local: local_key(gen, index),
            consumed: false,
            _marker: PhantomData,
        }
    }

    /// Schedules the task `local` if it is alive, unfinished and not already queued.
    fn wake(&self, local: usize) {
        let index = local & INDEX_MASK;
        if index == MAIN_INDEX {
            self.main_woken.set(true);
            return;
        }
        let gen = (local >> INDEX_BITS) & GEN_MASK;
        let mut tasks = self.tasks.borrow_mut();
        if let Some(slot) = tasks.get_mut(index) {
            if slot.gen == gen && !slot.scheduled && !slot.done {
                slot.scheduled = true;
                self.queue.borrow_mut().push_back(index);
            }
        }
    }

    /// Schedules whatever task occupies `index` (remote wakes carry no generation: a stale one
    /// costs a spurious poll, see `waker.rs`).
    fn wake_index(&self, index: usize) {
        if index == MAIN_INDEX {
            self.main_woken.set(true);
            return;
        }
        let mut tasks = self.tasks.borrow_mut();
        if let Some(slot) = tasks.get_mut(index) {
            if !slot.scheduled && !slot.done {
                slot.scheduled = true;
                self.queue.borrow_mut().push_back(index);
            }
        }
    }

    fn drain_remote(&self) {
        let mut buf = self.remote_buf.borrow_mut();
        self.remote.drain_into(&mut buf);
        for index in buf.drain(..) {
            self.wake_index(index);
        }
    }

    /// Polls one task from the queue. Returns false if the queue was empty.
    fn run_one(&self) -> bool {
        let Some(index) = self.queue.borrow_mut().pop_front() else {
            return false;
        };
        let (mut task, gen) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(index) else {
                return true;
            };
            slot.scheduled = false;
            match slot.task.take() {
                Some(task) if !slot.done => (task, slot.gen),
                other => {
                    slot.task = other;
                    return true;
                }
            }
        };
        let waker = waker::waker(self.id, local_key(gen, index));
        let mut cx = Context::from_waker(&waker);
        coop::reset(Some(coop::DEFAULT_BUDGET));
        let ready = task.as_mut().poll_task(&mut cx).is_ready();

        let mut tasks = self.tasks.borrow_mut();
        let Some(slot) = tasks.get_mut(index) else {
            return true;
        };
        if !ready && slot.cancel_requested {
            drop(tasks);
            // Drop the future outside every borrow: its destructor may spawn, wake or cancel.
            task.as_mut().cancel();
            self.finish(index, task);
        } else if ready {
            drop(tasks);
            self.finish(index, task);
        } else {
            slot.task = Some(task);
        }
        true
    }

    /// Records that the task at `index` finished, wakes its JoinHandle, frees a detached slot.
    fn finish(&self, index: usize, task: Pin<Box<dyn Erased>>) {
        let mut tasks = self.tasks.borrow_mut();
        let Some(slot) = tasks.get_mut(index) else {
            return;
        };
        slot.done = true;
        let join_waker = slot.join_waker.take();
        let freed = if slot.detached {
            if let Some(msg) = task.panic_message() {
                log::error!("waitless-executor: detached {msg}");
            }
            tasks.remove(index);
            Some(task)
        } else {
            slot.task = Some(task);
            None
        };
        drop(tasks);
        drop_quietly(freed);
        if let Some(w) = join_waker {
            w.wake();
        }
    }

    fn slot_index(&self, local: usize) -> Option<usize> {
        let index = local & INDEX_MASK;
        let gen = (local >> INDEX_BITS) & GEN_MASK;
        let tasks = self.tasks.borrow();
        tasks.get(index).filter(|s| s.gen == gen).map(|_| index)
    }
}

/// Drops a finished task nobody will join (its output, or its panic payload). A panic in that
/// drop is logged, not propagated: it would otherwise escape `block_on` from an unrelated task.
fn drop_quietly<T>(value: T) {
    if catch_unwind(AssertUnwindSafe(move || drop(value))).is_err() {
        log::error!("waitless-executor: dropping the output of a detached task panicked");
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        waker::unregister(self.remote);
        CURRENT_ID.with(|c| c.set(0));
        // Drop the remaining tasks one by one, outside the slab borrow.
        loop {
            let next = {
                let mut tasks = self.tasks.borrow_mut();
                let key = tasks.iter().next().map(|(k, _)| k);
                key.map(|k| tasks.remove(k))
            };
            match next {
                Some(slot) => drop_quietly(slot),
                None => break,
            }
        }
    }
}

/// Wakes a task of this thread's executor; false if there is no executor here.
pub(crate) fn wake_local(local: usize) -> bool {
    EXECUTOR.try_with(|ex| ex.wake(local)).is_ok()
}

/// Moves the output into `out` when the task is done; `Cancelled` if the task is gone (the
/// executor was torn down, or the task was spawned during teardown).
pub(crate) fn poll_join<T: 'static>(
    local: usize,
    cx: &mut Context<'_>,
    out: &mut Option<Result<T, JoinError>>,
) {
    let gone = EXECUTOR.try_with(|ex| {
        let Some(index) = ex.slot_index(local) else {
            return true;
        };
        let mut tasks = ex.tasks.borrow_mut();
        let slot = &mut tasks[index];
        if !slot.done {
            match &slot.join_waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => slot.join_waker = Some(cx.waker().clone()),
            }
            return false;
        }
        if let Some(task) = slot.task.as_mut() {
            task.as_mut().take_output(out);
        }
        let freed = tasks.remove(index);
        drop(tasks);
        drop(freed);
        false
    });
    if gone.unwrap_or(true) {
        *out = Some(Err(JoinError::cancelled()));
    }
}

pub(crate) fn detach(local: usize) {
    let _ = EXECUTOR.try_with(|ex| {
        let Some(index) = ex.slot_index(local) else {
            return;
        };
        let mut tasks = ex.tasks.borrow_mut();
        let slot = &mut tasks[index];
        if slot.done {
            let freed = tasks.remove(index);
            drop(tasks);
            drop_quietly(freed);
        } else {
            slot.detached = true;
        }
    });
}

pub(crate) fn cancel(local: usize) {
    // During teardown the task is being dropped anyway: nothing to do.
    let _ = EXECUTOR.try_with(|ex| {
        let Some(index) = ex.slot_index(local) else {
            return;
        };
        let task = {
            let mut tasks = ex.tasks.borrow_mut();
            let slot = &mut tasks[index];
            if slot.done {
                return;
            }
            match slot.task.take() {
                Some(task) => task,
                // Being polled right now (the task cancels itself): finish after the poll.
                None => {
                    slot.cancel_requested = true;
                    return;
                }
            }
        };
        let mut task = task;
        task.as_mut().cancel();
        ex.finish(index, task);
    });
}

pub(crate) fn is_finished(local: usize) -> bool {
    EXECUTOR
        .try_with(|ex| {
            ex.slot_index(local)
                .is_some_and(|i| ex.tasks.borrow()[i].done)
        })
        // Torn down: the task will never run again.
        .unwrap_or(true)
}

/// Spawns a task on this thread's executor.
///
/// The future needs no `Send` bound: it never leaves this thread. It starts running the next
/// time the executor runs (inside [`block_on`]). See [`JoinHandle`] for what awaiting, dropping
/// and cancelling the handle do.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let mut future = Some(future);
    let spawned = EXECUTOR.try_with(|ex| future.take().map(|f| ex.spawn(f)));
    match spawned {
        Ok(Some(handle)) => handle,
        // The thread's executor is being torn down (a task's destructor spawned): the future
        // can never run. Drop it here, outside the executor, and hand out a handle that
        // resolves to `Cancelled`.
        _ => {
            drop(future);
            JoinHandle {
                local: usize::MAX,
                consumed: false,
                _marker: PhantomData,
            }
        }
    }
}

/// Runs `future` to completion on this thread, together with every spawned task.
///
/// The loop polls the main future when it is woken, then up to [`IO_POLL_INTERVAL`] tasks from
/// the run queue; when nothing is runnable it parks in the reactor (`epoll_wait`) until I/O, a
/// timer or a remote wake arrives. When tasks remain runnable after [`IO_POLL_INTERVAL`] polls it
/// polls the reactor without blocking, so an always-ready task cannot starve I/O.
///
/// Tasks still pending when `future` completes stay in the executor and resume at the next
/// `block_on` on this thread.
///
/// # Panics
///
/// If called from inside `block_on` on the same thread (a nested loop would starve the outer
/// one), or if the OS poller fails (an unrecoverable environment error).
pub fn block_on<F: Future>(future: F) -> F::Output {
    EXECUTOR.with(|ex| {
        assert!(
            !ex.in_block_on.replace(true),
            "waitless-executor: block_on called inside block_on"
        );
        struct Reset<'a>(&'a Cell<bool>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.set(false);
                // Outside the loop nothing hands out budgets: unconstrained again.
                coop::reset(None);
            }
        }
        let _reset = Reset(&ex.in_block_on);

        let waker = waker::waker(ex.id, MAIN_INDEX);
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        ex.main_woken.set(true);
        let mut polls_since_io: u32 = 0;
        loop {
            if ex.main_woken.replace(false) {
                coop::reset(Some(coop::DEFAULT_BUDGET));
                if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                    return v;
                }
                polls_since_io += 1;
            }
            while polls_since_io < IO_POLL_INTERVAL && ex.run_one() {
                polls_since_io += 1;
            }
            ex.drain_remote();
            let idle = !ex.main_woken.get() && ex.queue.borrow().is_empty();
            if idle || polls_since_io >= IO_POLL_INTERVAL {
                let timeout = if idle { None } else { Some(Duration::ZERO) };
                if let Err(e) = waitless_reactor::turn(timeout) {
                    panic!("waitless-executor: the reactor failed: {e}");
                }
                polls_since_io = 0;
                ex.drain_remote();
            }
        }
    })
}

/// Yields to the executor once: the task is re-queued behind every task that is already ready.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}
