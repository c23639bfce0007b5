//! A bounded multi-producer, single-consumer channel between tasks of one loop.
//!
//! `send` waits while the channel holds `capacity` values, so a fast producer cannot grow memory
//! without bound (backpressure). The channel closes when every `Sender` or the `Receiver` is
//! dropped; the receiver still gets the values already queued.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{SendError, TrySendError};

struct Inner<T> {
    queue: VecDeque<T>,
    capacity: usize,
    senders: usize,
    receiver_alive: bool,
    rx_waker: Option<Waker>,
    /// Senders waiting for room; all are woken when room appears (a woken sender that lost the
    /// race simply waits again), so a cancelled sender can never swallow the wake-up.
    tx_wakers: Vec<Waker>,
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
        tx_wakers: Vec::new(),
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
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut value = Some(value);
        poll_fn(|cx| self.poll_send(cx, &mut value)).await
    }

    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        value: &mut Option<T>,
    ) -> Poll<Result<(), SendError<T>>> {
        let Some(v) = value.take() else {
            return Poll::Ready(Ok(()));
        };
        match self.try_send(v) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(TrySendError::Closed(v)) => Poll::Ready(Err(SendError(v))),
            Err(TrySendError::Full(v)) => {
                *value = Some(v);
                let mut inner = self.inner.borrow_mut();
                if !inner.tx_wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    inner.tx_wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
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
        if let Some(v) = inner.queue.pop_front() {
            let wakers = std::mem::take(&mut inner.tx_wakers);
            drop(inner);
            wakers.into_iter().for_each(Waker::wake);
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
            let wakers = std::mem::take(&mut inner.tx_wakers);
            drop(inner);
            wakers.into_iter().for_each(Waker::wake);
        }
        v
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.receiver_alive = false;
        let queued = std::mem::take(&mut inner.queue);
        let wakers = std::mem::take(&mut inner.tx_wakers);
        drop(inner);
        drop(queued);
        wakers.into_iter().for_each(Waker::wake);
    }
}
