//! # waitless-reactor
//!
//! **One job:** tell a single thread *which* of its thousands of sockets, pipes and timers can make
//! progress now, and wake exactly the tasks waiting on them.
//!
//! This is the seed's "Non-blocking I/O" and "Event Loop" made concrete: a blocking read stops the
//! whole thread while it waits (the seed's *Blocking I/O*, "요청 중 대기 시 실행 흐름 정지"), while a
//! non-blocking one returns control at once ("대기 시 제어권 반환"). The reactor is the piece that
//! later says "now it will not block": it waits on *all* sources at once with one `epoll_wait`
//! (kqueue elsewhere) and turns readiness into `Waker` calls.
//!
//! * One reactor per thread, created on first use; nothing is shared, so the I/O path takes no lock
//!   and touches no atomic. The I/O types are `!Send` for that reason.
//! * Every fd is registered once, edge-triggered, for both directions. Readiness is cached per
//!   source and cleared only when an operation proves the fd drained, so the rule for callers is
//!   **read until it would block** — the provided types do it for you, and on stream sockets and
//!   pipes they skip the final `EAGAIN` syscall whenever a short read or write already proved it.
//! * A task that keeps finding data ready yields after [`coop::DEFAULT_BUDGET`] operations (the
//!   executor hands out the budget), so one busy connection cannot starve the others.
//! * Timers ([`sleep`], [`timeout`], [`Interval`]) live in the same reactor; the next deadline bounds
//!   the wait.
//! * A [`Notifier`] lets another thread interrupt the wait (the executor's remote wakes and the
//!   thread pool of `waitless-pool` use it).
//!
//! The reactor is driven by [`turn`]: an executor calls it when it has nothing left to run. The
//! `waitless-executor` crate does that for you; [`block_on`] here runs a single future for
//! programs that need no tasks.
//!
//! ## Example: an echo server
//!
//! ```
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use waitless_executor::{block_on, spawn};
//! use waitless_reactor::{TcpListener, TcpStream};
//!
//! block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//!     let addr = listener.local_addr()?;
//!     spawn(async move {
//!         loop {
//!             let mut stream = match listener.accept().await {
//!                 Ok((stream, _peer)) => stream,
//!                 // Out of fds (EMFILE) and the like: retrying at once would only spin.
//!                 Err(_) => {
//!                     waitless_reactor::sleep(std::time::Duration::from_millis(10)).await;
//!                     continue;
//!                 }
//!             };
//!             spawn(async move {
//!                 let mut buf = [0u8; 4096];
//!                 while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!                     if stream.write_all(&buf[..n]).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             })
//!             .detach();
//!         }
//!     })
//!     .detach();
//!
//!     // A client on the same thread.
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut reply = [0u8; 5];
//!     client.read_exact(&mut reply).await?;
//!     assert_eq!(&reply, b"hello");
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```

// `unsafe` lives only where a syscall or a `'static` pointer needs it; every block says why.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod coop;
mod fd;
mod net;
#[allow(unsafe_code)] // AtomicNotifier: a pointer to a leaked (`'static`) notifier
mod reactor;
#[allow(unsafe_code)] // sigaction and the async-signal-safe handler
pub mod signal;
#[allow(unsafe_code)] // the syscalls
mod sys;
mod timer;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

pub use fd::{Async, Interest};
pub use net::{
    resolve, ListenOptions, Resolve, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener,
    UnixStream, DEFAULT_BACKLOG,
};
pub use reactor::{AtomicNotifier, Notifier};
pub use timer::{
    sleep, sleep_until, timeout, timeout_at, Elapsed, Interval, MissedTickBehavior, Sleep, Timeout,
};

/// Runs one turn of this thread's reactor.
///
/// Waits for I/O readiness for at most `timeout` (`None`: until something happens), also bounded
/// by the earliest pending timer, then wakes every task whose source or timer is ready and returns
/// how many wakers it woke. A [`Notifier::notify`] from another thread ends the wait early. On
/// Linux one turn costs exactly one `epoll_wait` syscall.
///
/// Executors call this when their run queue is empty (with `None`) and, for fairness, every so
/// many task polls (with `Some(Duration::ZERO)`).
pub fn turn(timeout: Option<Duration>) -> io::Result<usize> {
    reactor::Reactor::with(|r| r.turn(timeout))
}

/// A [`Notifier`] that wakes this thread's reactor from any thread.
pub fn notifier() -> Notifier {
    reactor::Reactor::with(|r| r.notifier())
}

/// Runs one future to completion on this thread, turning the reactor while it waits.
///
/// For programs that need the reactor but no task executor; `waitless_executor::block_on`
/// additionally runs spawned tasks.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Flag {
        woken: AtomicBool,
        thread: std::thread::ThreadId,
        notifier: Notifier,
    }
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.woken.store(true, Ordering::Release);
            if std::thread::current().id() != self.thread {
                self.notifier.notify();
            }
        }
    }
    let flag = Arc::new(Flag {
        woken: AtomicBool::new(true),
        thread: std::thread::current().id(),
        notifier: notifier(),
    });
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if flag.woken.swap(false, Ordering::Acquire) {
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
            continue;
        }
        if let Err(e) = turn(None) {
            log::error!("waitless-reactor: wait failed: {e}");
        }
    }
}
