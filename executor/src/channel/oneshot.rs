//! A channel for exactly one value between two tasks of one loop.
//!
//! ```
//! use waitless_executor::{block_on, channel::oneshot, spawn};
//!
//! block_on(async {
//!     let (tx, rx) = oneshot::channel();
//!     spawn(async move { tx.send(42).unwrap() }).detach();
//!     assert_eq!(rx.await, Ok(42));
//! });
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{RecvError, SendError};

struct Inner<T> {
    value: Option<T>,
    rx_waker: Option<Waker>,
    sender_alive: bool,
    receiver_alive: bool,
}

/// Creates a oneshot channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Rc::new(RefCell::new(Inner {
        value: None,
        rx_waker: None,
        sender_alive: true,
        receiver_alive: true,
    }));
    (
        Sender {
            inner: inner.clone(),
        },
        Receiver { inner },
    )
}

/// Sends the one value.
pub struct Sender<T> {
    inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Sender<T> {
    /// Delivers `value`, or returns it if the receiver is gone.
    pub fn send(self, value: T) -> Result<(), SendError<T>> {
        let mut inner = self.inner.borrow_mut();
        if !inner.receiver_alive {
            return Err(SendError(value));
        }
        inner.value = Some(value);
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

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.sender_alive = false;
        let waker = inner.rx_waker.take();
        drop(inner);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Awaits the value: `Ok(value)`, or `Err(RecvError)` if the sender was dropped without sending.
pub struct Receiver<T> {
    inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Receiver<T> {
    /// Takes the value if it has arrived.
    pub fn try_recv(&mut self) -> Option<T> {
        self.inner.borrow_mut().value.take()
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.inner.borrow_mut();
        if let Some(v) = inner.value.take() {
            return Poll::Ready(Ok(v));
        }
        if !inner.sender_alive {
            return Poll::Ready(Err(RecvError));
        }
        match &inner.rx_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => inner.rx_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.receiver_alive = false;
        let value = inner.value.take();
        drop(inner);
        drop(value);
    }
}
