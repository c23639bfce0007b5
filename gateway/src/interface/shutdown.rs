//! The worker's shutdown signal, as apps see it.
//!
//! Why apps need it: a request/response handler finishes on its own, but a long-lived one — a
//! Server-Sent Events stream, a WebSocket — would hold its connection until the graceful timeout
//! kills it. With the signal it can end cleanly (close 1001 "going away", a last SSE comment)
//! as soon as the worker starts shutting down, like ASGI's `lifespan.shutdown` seen from a
//! request.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::Instant;

use slab::Slab;

/// Shutdown state shared by the accept loop and every connection of a worker.
#[derive(Default)]
pub(crate) struct Shutdown {
    /// When the shutdown started (`None`: it has not).
    started: Cell<Option<Instant>>,
    waiters: RefCell<Slab<Waker>>,
}

impl Shutdown {
    pub(crate) fn is_started(&self) -> bool {
        self.started.get().is_some()
    }

    /// When the shutdown started, if it has.
    pub(crate) fn started_at(&self) -> Option<Instant> {
        self.started.get()
    }

    /// Starts the shutdown and wakes every waiter (once).
    pub(crate) fn start(&self) {
        if self.started.get().is_some() {
            return;
        }
        self.started.set(Some(Instant::now()));
        let wakers: Vec<Waker> = self.waiters.borrow_mut().drain().collect();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Resolves once shutdown has started.
    pub(crate) async fn wait(&self) {
        /// Removes the waker of a wait that is dropped before shutdown (no leak per request).
        struct Registration<'a>(&'a Shutdown, Option<usize>);
        impl Drop for Registration<'_> {
            fn drop(&mut self) {
                if let Some(key) = self.1 {
                    self.0.waiters.borrow_mut().try_remove(key);
                }
            }
        }
        let mut reg = Registration(self, None);
        poll_fn(|cx| {
            if self.started.get().is_some() {
                return Poll::Ready(());
            }
            let mut waiters = self.waiters.borrow_mut();
            match reg.1 {
                Some(key) if waiters.contains(key) => waiters[key].clone_from(cx.waker()),
                _ => reg.1 = Some(waiters.insert(cx.waker().clone())),
            }
            Poll::Pending
        })
        .await
    }
}

/// The worker's shutdown signal (`scope.shutdown()`): lets a long-lived handler end cleanly when
/// the worker starts its graceful shutdown.
///
/// ```
/// # use waitless_gateway::{App, Request, Responder};
/// # use futures_lite::FutureExt;
/// struct Ticker;
/// impl App for Ticker {
///     async fn call(&self, req: Request<'_>, mut res: Responder<'_>) {
///         let shutdown = req.scope.shutdown();
///         let _ = res.start(200, &[("content-type", "text/event-stream")]);
///         loop {
///             let tick = async {
///                 waitless_reactor::sleep(std::time::Duration::from_secs(1)).await;
///                 true
///             };
///             let stop = async {
///                 shutdown.wait().await;
///                 false
///             };
///             if !tick.or(stop).await {
///                 break; // the worker is shutting down: finish the stream now
///             }
///             let _ = res.write(b"data: tick\n\n").await;
///             let _ = res.flush().await;
///         }
///         let _ = res.finish().await;
///     }
/// }
/// ```
#[derive(Clone, Copy)]
pub struct ShutdownSignal<'a> {
    pub(crate) inner: &'a Shutdown,
}

impl ShutdownSignal<'_> {
    /// Whether the worker has started shutting down.
    pub fn is_set(&self) -> bool {
        self.inner.is_started()
    }

    /// Resolves once the worker starts shutting down (at once if it already has).
    pub async fn wait(&self) {
        self.inner.wait().await
    }
}

impl fmt::Debug for ShutdownSignal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownSignal")
            .field("set", &self.is_set())
            .finish()
    }
}
