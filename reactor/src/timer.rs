//! Timers: `sleep`, `sleep_until`, `timeout` and `Interval`.
//!
//! Why a heap with lazy deletion: a server arms and cancels a timer for almost every request
//! (keep-alive, head and body timeouts) and most are cancelled long before they fire. Here an insert
//! is one slab insert plus one `BinaryHeap` push (O(log n), a few dozen ns at 100,000 timers), and a
//! cancel is one slab removal (O(1)); the heap entry of a cancelled timer is skipped when it reaches
//! the top, and the heap is rebuilt from the live timers if dead entries ever outnumber live ones
//! two to one, so memory stays bounded under any insert/cancel churn. A `BTreeMap` measured
//! 3-7x slower for insert and cancel (4-5x faster only for mass expiry, which servers rarely do;
//! `benches/src/bin/timer_structures.rs`, table in `docs/reactor.md`); a hierarchical wheel would
//! make inserts O(1) too but costs a cascade on expiry and far more code for no gain at these
//! sizes.
//!
//! Why [`Sleep::reset`] to a later deadline is O(1): a keep-alive or idle timeout is pushed back
//! on every request, and almost never fires. Moving the heap entry each time would cost a cancel
//! and an insert per request; instead a later reset only records the new deadline. The old entry
//! fires at its old time, the `Sleep` sees that its real deadline has not come, and re-arms
//! once. So a connection that is reset a thousand times before its timeout fires pays one O(1)
//! store per reset and one re-arm per timeout period.
//!
//! The reactor asks for the earliest live deadline before every wait, and the wait timeout is
//! rounded *up* to the millisecond: a timer may fire late (by up to a millisecond plus scheduling),
//! never early.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::reactor::Reactor;

struct Entry {
    deadline: Instant,
    seq: u64,
    waker: Waker,
}

/// The pending timers of one reactor.
pub(crate) struct Timers {
    entries: Slab<Entry>,
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    next_seq: u64,
}

/// Identifies one armed timer: a slab slot plus the sequence number it was armed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: usize,
    seq: u64,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            entries: Slab::new(),
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn insert(&mut self, deadline: Instant, waker: &Waker) -> TimerKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let index = self.entries.insert(Entry {
            deadline,
            seq,
            waker: waker.clone(),
        });
        self.heap.push(Reverse((deadline, seq, index)));
        TimerKey { index, seq }
    }

    fn live(&self, key: TimerKey) -> bool {
        self.entries
            .get(key.index)
            .is_some_and(|e| e.seq == key.seq)
    }

    /// Whether the timer is still armed (it has neither fired nor been cancelled).
    pub(crate) fn contains(&self, key: TimerKey) -> bool {
        self.live(key)
    }

    pub(crate) fn update_waker(&mut self, key: TimerKey, waker: &Waker) {
        if let Some(e) = self.entries.get_mut(key.index) {
            if e.seq == key.seq && !e.waker.will_wake(waker) {
                e.waker = waker.clone();
            }
        }
    }

    /// Disarms a timer. O(1): its heap entry is dropped lazily.
    pub(crate) fn cancel(&mut self, key: TimerKey) {
        if self.live(key) {
            self.entries.remove(key.index);
            if self.heap.len() > 2 * self.entries.len() + 1024 {
                self.compact();
            }
        }
    }

    fn compact(&mut self) {
        let live: Vec<_> = self
            .entries
            .iter()
            .map(|(index, e)| Reverse((e.deadline, e.seq, index)))
            .collect();
        self.heap = BinaryHeap::from(live);
    }

    /// The earliest deadline of a live timer.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((deadline, seq, index))) = self.heap.peek() {
            if self.live(TimerKey { index, seq }) {
                return Some(deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes every timer due at `now` and collects its waker.
    pub(crate) fn fire(&mut self, now: Instant, wakers: &mut Vec<Waker>) {
        while let Some(&Reverse((deadline, seq, index))) = self.heap.peek() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if self.live(TimerKey { index, seq }) {
                wakers.push(self.entries.remove(index).waker);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Waits until `duration` has passed. Never completes early.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(
        Instant::now()
            .checked_add(duration)
            .unwrap_or_else(far_future),
    )
}

/// Waits until `deadline`. Never completes early.
///
/// The timer is armed on the first poll and disarmed when the `Sleep` is dropped, so a `Sleep`
/// that is never polled costs nothing.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        key: None,
        _not_send: std::marker::PhantomData,
    }
}

/// About 30 years from now: what "forever" means for a deadline that would overflow.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// The future returned by [`sleep`] and [`sleep_until`]; also a resettable deadline.
///
/// [`reset`](Sleep::reset) to a later instant is O(1) (see the module docs), which makes one
/// `Sleep` per connection, reset on each request, the cheap way to run a keep-alive timeout:
///
/// ```
/// use std::time::{Duration, Instant};
/// waitless_executor::block_on(async {
///     let mut idle = waitless_reactor::sleep(Duration::from_millis(5));
///     // ... a request arrived: push the deadline back (no timer-heap work).
///     idle.reset(Instant::now() + Duration::from_millis(10));
///     (&mut idle).await;
///     assert!(idle.is_elapsed());
/// });
/// ```
///
/// `Sleep` is `!Send`: its timer lives in this thread's reactor.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(waitless_reactor::sleep(std::time::Duration::from_secs(1)));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    deadline: Instant,
    /// The armed timer and the instant it was armed for (never later than `deadline`).
    key: Option<(TimerKey, Instant)>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline. Later than the armed timer: O(1), the timer is re-armed only when
    /// its old deadline fires. Earlier: the timer is cancelled and re-armed on the next poll.
    pub fn reset(&mut self, deadline: Instant) {
        match self.key {
            Some((_, armed_at)) if deadline >= armed_at => {}
            _ => self.disarm(),
        }
        self.deadline = deadline;
    }

    fn disarm(&mut self) {
        if let Some((key, _)) = self.key.take() {
            Reactor::try_with(|r| r.timers.borrow_mut().cancel(key));
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        Reactor::with(|r| {
            let mut timers = r.timers.borrow_mut();
            if let Some((key, _)) = this.key {
                if timers.contains(key) {
                    timers.update_waker(key, cx.waker());
                    return Poll::Pending;
                }
                // Fired: the reactor removed the entry once its (armed) deadline passed. If the
                // deadline was pushed back since, arm again below.
                this.key = None;
            }
            if Instant::now() >= this.deadline {
                return Poll::Ready(());
            }
            this.key = Some((timers.insert(this.deadline, cx.waker()), this.deadline));
            Poll::Pending
        })
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("armed", &self.key.is_some())
            .finish()
    }
}

/// The error of [`timeout`]: the deadline passed before the future completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` for at most `duration`.
///
/// The future is polled first, so a future that is ready at once wins even if `duration` is zero.
/// On expiry the inner future is dropped (cancelled) when the `Timeout` is.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Runs `future` until `deadline` at the latest (see [`timeout`]).
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`] and [`timeout_at`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The deadline; [`reset`](Sleep::reset) it through [`Timeout::deadline_mut`].
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }

    /// The underlying timer, to push the deadline back (O(1) when later).
    pub fn deadline_mut(self: Pin<&mut Self>) -> &mut Sleep {
        self.project().sleep
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What an [`Interval`] does when the loop falls behind and ticks were missed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Deliver the missed ticks back to back until caught up, so the number of ticks over a
    /// long run matches the elapsed time (tokio's default, and this one's).
    #[default]
    Burst,
    /// Deliver one tick now and schedule the next one full period after it: the schedule
    /// shifts by the delay.
    Delay,
    /// Deliver one tick now and drop the missed ones: the next tick stays on the original grid
    /// (`start + k * period`).
    Skip,
}

/// Ticks every `period`, starting one period from now.
///
/// When the loop falls behind, missed ticks follow [`MissedTickBehavior`] (default: `Burst`).
pub struct Interval {
    period: Duration,
    sleep: Sleep,
    missed: MissedTickBehavior,
}

impl Interval {
    /// An interval whose first tick is one `period` from now. A zero period is raised to 1 ms.
    pub fn new(period: Duration) -> Interval {
        let period = period.max(Duration::from_millis(1));
        Interval {
            period,
            sleep: sleep(period),
            missed: MissedTickBehavior::Burst,
        }
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The current missed-tick policy.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(Instant::now() + self.period);
    }

    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Ready(()) => {
                let at = self.sleep.deadline();
                let next = match self.missed {
                    MissedTickBehavior::Burst => at + self.period,
                    MissedTickBehavior::Delay => Instant::now() + self.period,
                    MissedTickBehavior::Skip => {
                        let now = Instant::now();
                        let behind = now.saturating_duration_since(at).as_nanos();
                        let period = self.period.as_nanos().max(1);
                        let steps = (behind / period + 1).min(u32::MAX as u128) as u32;
                        at + self.period * steps
                    }
                };
                self.sleep.reset(next);
                Poll::Ready(at)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl futures_lite::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("period", &self.period)
            .field("missed", &self.missed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn fires_in_deadline_order_and_skips_cancelled() {
        let mut t = Timers::new();
        let base = Instant::now();
        let w = Waker::noop();
        let k3 = t.insert(base + Duration::from_millis(3), w);
        let k1 = t.insert(base + Duration::from_millis(1), w);
        let k2 = t.insert(base + Duration::from_millis(2), w);
        t.cancel(k1);
        assert_eq!(t.next_deadline(), Some(base + Duration::from_millis(2)));
        let mut out = Vec::new();
        t.fire(base + Duration::from_millis(2), &mut out);
        assert_eq!(out.len(), 1);
        assert!(!t.contains(k2));
        assert!(t.contains(k3));
    }

    #[test]
    fn reset_to_later_keeps_the_armed_entry() {
        let mut s = sleep(Duration::from_millis(50));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
        let armed = s.key;
        let heap = Reactor::with(|r| r.timers.borrow().heap.len());
        s.reset(Instant::now() + Duration::from_secs(60));
        assert_eq!(s.key, armed, "a later reset re-armed the timer");
        assert_eq!(Reactor::with(|r| r.timers.borrow().heap.len()), heap);
        // Earlier than armed: the entry is cancelled.
        s.reset(Instant::now());
        assert!(s.key.is_none());
    }

    #[test]
    fn churn_keeps_heap_bounded() {
        let mut t = Timers::new();
        let far = Instant::now() + Duration::from_secs(60);
        for _ in 0..100_000 {
            let k = t.insert(far, Waker::noop());
            t.cancel(k);
        }
        assert_eq!(t.len(), 0);
        assert!(
            t.heap.len() <= 1024 + 1,
            "heap kept {} dead entries",
            t.heap.len()
        );
    }
}
