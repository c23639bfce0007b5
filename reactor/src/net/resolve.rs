//! Host-name resolution off the loop.
//!
//! Why a thread: `getaddrinfo` blocks (it may read files and wait for a DNS server for seconds)
//! and has no non-blocking form, so calling it on the loop would stop every connection of the
//! thread. Each lookup runs on a short-lived std thread and hands its answer back through a
//! cross-thread wake (the waker of the awaiting task; for a waitless task that is a remote wake
//! of the loop). A literal address (`"127.0.0.1:80"`, `"[::1]:80"`) needs no lookup and no thread.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Slot {
    result: Option<io::Result<Vec<SocketAddr>>>,
    waker: Option<Waker>,
}

/// Resolves `"host:port"` to its addresses without blocking the loop.
///
/// ```
/// waitless_executor::block_on(async {
///     let addrs = waitless_reactor::resolve("localhost:80").await.unwrap();
///     assert!(addrs.iter().all(|a| a.port() == 80 && a.ip().is_loopback()));
/// });
/// ```
pub fn resolve(host_port: &str) -> Resolve {
    Resolve {
        query: Some(host_port.to_owned()),
        slot: None,
    }
}

/// The future returned by [`resolve`].
#[must_use = "futures do nothing unless polled"]
pub struct Resolve {
    query: Option<String>,
    slot: Option<Arc<Mutex<Slot>>>,
}

impl std::fmt::Debug for Resolve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolve")
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

impl Future for Resolve {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(query) = self.query.take() {
            if let Ok(addr) = query.parse::<SocketAddr>() {
                return Poll::Ready(Ok(vec![addr]));
            }
            let slot = Arc::new(Mutex::new(Slot::default()));
            slot.lock().unwrap_or_else(PoisonError::into_inner).waker = Some(cx.waker().clone());
            let theirs = slot.clone();
            let spawned = std::thread::Builder::new()
                .name("waitless-resolve".into())
                .spawn(move || {
                    let result = query.to_socket_addrs().map(Iterator::collect);
                    let waker = {
                        let mut s = theirs.lock().unwrap_or_else(PoisonError::into_inner);
                        s.result = Some(result);
                        s.waker.take()
                    };
                    if let Some(w) = waker {
                        w.wake();
                    }
                });
            if let Err(e) = spawned {
                return Poll::Ready(Err(e));
            }
            self.slot = Some(slot);
            return Poll::Pending;
        }
        let Some(slot) = &self.slot else {
            return Poll::Ready(Err(io::Error::other("Resolve polled after completion")));
        };
        let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(result) = s.result.take() {
            drop(s);
            self.slot = None;
            return Poll::Ready(result);
        }
        match &s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}
