//! The cooperative budget: how many I/O operations a task may complete in one poll.
//!
//! Why: with edge-triggered readiness and "read until it would block", a task whose socket always
//! has more data never returns `Pending` by itself. One busy connection would then hold the whole
//! thread: the other connections, the timers and the accept loop wait until its peer pauses. As
//! in tokio, the executor hands each task a budget before polling it ([`reset`]); every completed
//! operation on a reactor source spends one unit ([`poll_proceed`]), and when the budget is gone
//! the operation answers `Pending` after waking its own task, so the task goes to the back of the
//! run queue and everybody else gets a turn. Readiness is not touched: the next poll finds the
//! data where it was.
//!
//! Cost: one `const` thread-local `Cell<u32>` read and write per operation, no atomic; outside an
//! executor (no [`reset`] ever called on the thread) the budget is unconstrained and never spent.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations a task may complete per poll before it is made to yield (tokio uses 128 too).
pub const DEFAULT_BUDGET: u32 = 128;

/// The budget value that is never spent.
const UNCONSTRAINED: u32 = u32::MAX;

thread_local! {
    static BUDGET: Cell<u32> = const { Cell::new(UNCONSTRAINED) };
}

/// Gives the task about to be polled on this thread a fresh budget of `units` operations
/// (`None`: unconstrained, the state outside any executor). Executors call it before each poll.
#[inline]
pub fn reset(units: Option<u32>) {
    let units = units.map_or(UNCONSTRAINED, |u| u.min(UNCONSTRAINED - 1));
    BUDGET.with(|b| b.set(units));
}

/// The units left to the task being polled (`None`: unconstrained).
pub fn remaining() -> Option<u32> {
    let left = BUDGET.with(Cell::get);
    (left != UNCONSTRAINED).then_some(left)
}

/// Spends one unit of the current task's budget: `Ready` if the operation may proceed, or
/// `Pending` (the task's waker already woken) when the budget is exhausted.
///
/// Leaf futures outside this crate (channels, for instance) call it before completing an
/// operation that did not need to wait.
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    BUDGET.with(|b| match b.get() {
        UNCONSTRAINED => Poll::Ready(()),
        0 => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        n => {
            b.set(n - 1);
            Poll::Ready(())
        }
    })
}

/// Whether the budget has units left, without spending one (`poll_proceed` is check-and-spend).
#[inline]
pub(crate) fn has_budget() -> bool {
    BUDGET.with(|b| b.get() != 0)
}

/// Spends one unit, if the budget is constrained.
#[inline]
pub(crate) fn spend() {
    BUDGET.with(|b| {
        let n = b.get();
        if n != UNCONSTRAINED && n > 0 {
            b.set(n - 1);
        }
    });
}
