//! A bounded multi-producer, single-consumer channel between tasks of one loop.
//!
//! `send` waits while the channel holds `capacity` values, so a fast producer cannot grow memory
//! without bound (backpressure). The channel closes when every `Sender` or the `Receiver` is
//! dropped; the receiver still gets the values already queued.
//!
//! Waiting senders queue up in FIFO order, and each value received wakes **one** of them (the
//! one whose turn it is), so N blocked senders cost O(N) wakes in all, not O(N²). A `send`
//! future dropped while waiting removes its waker; one dropped after it was woken but before it
//! sent passes the wake on to the next sender, so a cancelled send never swallows a slot.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{SendError, TrySendError};

struct Inner<T> {
    queue: VecDeque<T>,
    capacity: usize,
    senders: usize,
    receiver_alive: bool,
    rx_waker: Option<Waker>,
    /// Senders waiting for room, in arrival order, each under its ticket.
    waiters: VecDeque<(u64, Waker)>,
    next_ticket: u64,
}

impl<T> Inner<T> {
    /// Wakes the first waiting sender (there is room for one more value).
    fn wake_one(&mut self) -> Option<Waker> {
        self.waiters.pop_front().map(|(_, w)| w)
    }

    fn wake_all(&mut self) -> Vec<Waker> {
        self.waiters.drain(..).map(|(_, w)| w).collect()
    }
}

/// Creates a channel holding at most `capacity` values (at least 1).
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let capacity = capacity.max(1);
    let inner = Rc::new(RefCell::new(Inner {
        queue: VecDeque::with_capacity(capacity.min(1024)),
        capacity,
        senders: 1,
        receiver_alive: true,
        rx_waker: None,
        waiters: VecDeque::new(),
        next_ticket: 0,
    }));
    (
        Sender {
            inner: inner.clone(),
        },
        Receiver { inner },
    )
}

/// The sending side; clone it for more producers.
pub struct Sender<T> {
    inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full. Fails if the receiver is gone.
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            value: Some(value),
            ticket: None,
        }
    }

    /// Sends `value` if there is room right now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut inner = self.inner.borrow_mut();
        if !inner.receiver_alive {
            return Err(TrySendError::Closed(value));
        }
        if inner.queue.len() >= inner.capacity {
            return Err(TrySendError::Full(value));
        }
        inner.queue.push_back(value);
        let waker = inner.rx_waker.take();
        drop(inner);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Whether the receiver has been dropped.
    pub fn is_closed(&self) -> bool {
        !self.inner.borrow().receiver_alive
    }
}

/// The future returned by [`Sender::send`].
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    /// Our place among the waiting senders, while we wait.
    ticket: Option<u64>,
}

impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(v) = this.value.take() else {
            return Poll::Ready(Ok(()));
        };
        let inner = this.sender.inner.borrow_mut();
        // Wait behind earlier senders: take room only if nobody is queued ahead of us.
        let queued_ahead = match this.ticket {
            None => !inner.waiters.is_empty(),
            Some(t) => inner.waiters.front().is_some_and(|(f, _)| *f < t),
        };
        drop(inner);
        if !queued_ahead {
            let res = this.sender.try_send(v);
            if !matches!(res, Err(TrySendError::Full(_))) {
                this.leave_line();
            }
            match res {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(TrySendError::Closed(v)) => return Poll::Ready(Err(SendError(v))),
                Err(TrySendError::Full(v)) => this.value = Some(v),
            }
        } else {
            this.value = Some(v);
        }
        let mut inner = this.sender.inner.borrow_mut();
        match this.ticket {
            Some(t) => match inner.waiters.iter_mut().find(|(id, _)| *id == t) {
                Some((_, w)) => {
                    if !w.will_wake(cx.waker()) {
                        *w = cx.waker().clone();
                    }
                }
                // Woken (our entry was taken) but the room went to someone else: back in line,
                // keeping our ticket (so our seniority).
                None => {
                    let pos = inner.waiters.partition_point(|(id, _)| *id < t);
                    inner.waiters.insert(pos, (t, cx.waker().clone()));
                }
            },
            None => {
                let t = inner.next_ticket;
                inner.next_ticket += 1;
                inner.waiters.push_back((t, cx.waker().clone()));
                this.ticket = Some(t);
            }
        }
        Poll::Pending
    }
}

impl<T> SendFuture<'_, T> {
    /// Removes our entry from the line, if it is still there (a spurious poll found room).
    fn leave_line(&mut self) {
        if let Some(t) = self.ticket.take() {
            let mut inner = self.sender.inner.borrow_mut();
            if let Some(pos) = inner.waiters.iter().position(|(id, _)| *id == t) {
                inner.waiters.remove(pos);
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        let Some(t) = self.ticket else { return };
        let mut inner = self.sender.inner.borrow_mut();
        if let Some(pos) = inner.waiters.iter().position(|(id, _)| *id == t) {
            // Still waiting: just leave the line (and drop our waker).
            inner.waiters.remove(pos);
            return;
        }
        // We were woken for a free slot and never used it: pass the wake on.
        let next = (self.value.is_some() && inner.queue.len() < inner.capacity)
            .then(|| inner.wake_one())
            .flatten();
        drop(inner);
        if let Some(w) = next {
            w.wake();
        }
    }
}

impl<T> std::fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.ticket.is_some())
            .finish()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.inner.borrow_mut().senders += 1;
        Sender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.senders -= 1;
        let waker = if inner.senders == 0 {
            inner.rx_waker.take()
        } else {
            None
        };
        drop(inner);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The receiving side.
pub struct Receiver<T> {
    inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Receiver<T> {
    /// The next value, or `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next value (see [`Receiver::recv`]).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut inner = self.inner.borrow_mut();
        if !inner.queue.is_empty() && waitless_reactor::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(v) = inner.queue.pop_front() {
            let waker = inner.wake_one();
            drop(inner);
            if let Some(w) = waker {
                w.wake();
            }
            return Poll::Ready(Some(v));
        }
        if inner.senders == 0 {
            return Poll::Ready(None);
        }
        match &inner.rx_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => inner.rx_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Takes a value if one is queued.
    pub fn try_recv(&mut self) -> Option<T> {
        let mut inner = self.inner.borrow_mut();
        let v = inner.queue.pop_front();
        if v.is_some() {
            let waker = inner.wake_one();
            drop(inner);
            if let Some(w) = waker {
                w.wake();
            }
        }
        v
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.receiver_alive = false;
        let queued = std::mem::take(&mut inner.queue);
        let wakers = inner.wake_all();
        drop(inner);
        drop(queued);
        wakers.into_iter().for_each(Waker::wake);
    }
}
