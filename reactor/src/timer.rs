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

/// The future returned by [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    deadline: Instant,
    key: Option<TimerKey>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline (earlier or later); the next poll re-arms the timer.
    pub fn reset(&mut self, deadline: Instant) {
        self.disarm();
        self.deadline = deadline;
    }

    fn disarm(&mut self) {
        if let Some(key) = self.key.take() {
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
            match this.key {
                // Fired: the reactor removed the entry once its deadline passed.
                Some(key) if !timers.contains(key) => {
                    this.key = None;
                    Poll::Ready(())
                }
                Some(key) => {
                    timers.update_waker(key, cx.waker());
                    Poll::Pending
                }
                None => {
                    if Instant::now() >= this.deadline {
                        return Poll::Ready(());
                    }
                    this.key = Some(timers.insert(this.deadline, cx.waker()));
                    Poll::Pending
                }
            }
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

/// The future returned by [`timeout`].
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (never moved out of the pinned `Timeout`);
        // `sleep` is `Unpin` and is only accessed through a plain `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` is never moved while `this` is pinned.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(v) = future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Ticks every `period`, starting one period from now.
///
/// When the loop falls behind, missed ticks are delivered back to back until it catches up (the
/// "burst" behaviour, tokio's default), so the number of ticks over a long run matches the
/// elapsed time.
pub struct Interval {
    period: Duration,
    sleep: Sleep,
}

impl Interval {
    /// An interval whose first tick is one `period` from now. A zero period is raised to 1 ms.
    pub fn new(period: Duration) -> Interval {
        let period = period.max(Duration::from_millis(1));
        Interval {
            period,
            sleep: sleep(period),
        }
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
                self.sleep.reset(at + self.period);
                Poll::Ready(at)
            }
            Poll::Pending => Poll::Pending,
        }
    }

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
