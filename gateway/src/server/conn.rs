//! One HTTP/1.1 connection: the per-connection state machine.
//!
//! ```text
//!            ┌───────────────────────── keep-alive ─────────────────────────┐
//!            ▼                                                               │
//!   IDLE (no buffers; waits for readability, keep-alive timeout, shutdown)   │
//!            │ bytes arrive: take buffers from the worker's pool             │
//!            ▼                                                               │
//!   READ ──► PARSE every complete head in the buffer ──► CALL app ──► response appended to
//!    ▲        │ partial head: read more (head deadline → 408)       the write buffer
//!    │        │ bad head: 400/431/505 + close                               │
//!    │        ▼                                                             ▼
//!    └──── batch done: FLUSH (one write for all pipelined responses) ──► buffers empty?
//!                                                                   yes: back to IDLE, buffers
//!                                                                   returned to the pool
//! ```
//!
//! This file is the loop; `dispatch.rs` serves one request (scope, body, app call, what
//! follows it); `buffers.rs` is the pool the buffers come from.

use std::cell::RefCell;
use std::future::poll_fn;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::FutureExt;
use waitless_reactor::{sleep, sleep_until, Sleep};

use super::buffers::{Buffers, POOL_MAX};
use super::dispatch::Step;
use super::worker::Worker;
use crate::h1::{date, response::push_error};
use crate::interface::App;
use crate::transport::{Io, Transport};

/// How long an idle keep-alive connection stays open once shutdown begins, in case a request is
/// on its way: a client that has just read a response may be sending its next request while
/// the worker starts to stop. Closing at once would reset that request unread (the chaos run's
/// SIGHUP showed it: 34 of 1.1 M keep-alive requests); within the grace it is answered with
/// `Connection: close`. Short, because a silent connection delays the worker's exit by it.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// What the idle wait saw.
enum Wake {
    Readable,
    Timeout,
    Shutdown,
}

/// A connection's own state. It moves into the active-phase future while bytes are being
/// processed and comes back when the connection is idle again.
pub(crate) struct Conn<A> {
    pub(crate) worker: Rc<Worker<A>>,
    pub(crate) io: Io,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) bufs: Option<Box<Buffers>>,
    /// Unprocessed bytes are `bufs.read[start..end]`.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// No request has been served yet: during shutdown a fresh connection still gets its first
    /// request answered (its client connected before the listener closed), an idle one does not.
    pub(crate) fresh: bool,
    /// `--proxy-headers` is on and the peer is a trusted proxy (decided once per connection).
    pub(crate) proxy_trusted: bool,
    /// The connection is TLS: scopes say `https`.
    pub(crate) secure: bool,
    /// The keep-alive deadline, kept across idle waits: moving it later is O(1) (the armed timer
    /// fires at its old time and re-arms once), so a busy connection costs no timer-heap insert
    /// and cancel per request. (Held here, the idle wait's future holds only a reference to it.)
    idle: Sleep,
}

impl<A> Conn<A> {
    pub(crate) fn new(
        worker: Rc<Worker<A>>,
        transport: Transport,
        peer: Option<SocketAddr>,
    ) -> Conn<A> {
        let cfg = &worker.config;
        let idle = sleep(cfg.keep_alive_timeout);
        let proxy_trusted =
            cfg.proxy_headers && peer.is_none_or(|p| cfg.forwarded_allow_ips.contains(p.ip()));
        #[cfg(feature = "tls")]
        let secure = matches!(transport, Transport::Tls(_));
        #[cfg(not(feature = "tls"))]
        let secure = false;
        Conn {
            io: Io {
                transport,
                send_timeout: cfg.send_timeout,
            },
            worker,
            peer,
            bufs: None,
            start: 0,
            end: 0,
            fresh: true,
            proxy_trusted,
            secure,
            idle,
        }
    }
}

/// Pooled storage for active-phase futures, shared by a worker's connections.
///
/// Why: a future's size is that of its largest state, and the request path (scope, body and
/// response state, the app's own future) is ~1.3 KB. If the connection task held it inline, every
/// idle keep-alive connection would pay for it. Instead the task holds only the idle loop, and
/// while bytes are being processed it runs `active(conn)` inside a slot borrowed from this pool —
/// the slot's allocation is reused (`Pin::set`), so there is still no allocation per request.
pub(crate) type Slots<F> = Rc<RefCell<Vec<Pin<Box<Option<F>>>>>>;

/// Drives one connection: waits while idle (holding no buffer and no request state), runs the
/// active phase in a pooled slot when bytes arrive.
pub(crate) async fn serve<A, F>(mut conn: Conn<A>, slots: Slots<F>, active: fn(Conn<A>) -> F)
where
    A: App,
    F: Future<Output = (Conn<A>, bool)>,
{
    loop {
        if !conn.wait_for_bytes().await {
            break;
        }
        let mut slot = slots.borrow_mut().pop().unwrap_or_else(|| Box::pin(None));
        slot.set(Some(active(conn)));
        let (back, keep_open) = poll_fn(|cx| match slot.as_mut().as_pin_mut() {
            Some(fut) => fut.poll(cx),
            None => unreachable!("the slot was filled above"),
        })
        .await;
        slot.set(None);
        {
            let mut free = slots.borrow_mut();
            if free.len() < POOL_MAX {
                free.push(slot);
            }
        }
        conn = back;
        if !keep_open {
            break;
        }
    }
    if let Some(b) = conn.bufs.take() {
        conn.worker.pool.give(b);
    }
    let worker = conn.worker.clone();
    drop(conn);
    worker.connection_closed();
}

/// The active phase: from "bytes are buffered" back to "nothing buffered" (true) or to the end
/// of the connection (false).
pub(crate) async fn active<A: App>(mut conn: Conn<A>) -> (Conn<A>, bool) {
    let keep_open = conn.process().await;
    (conn, keep_open)
}

impl<A: App> Conn<A> {
    /// IDLE: returns buffers to the pool and waits for readability, the keep-alive timeout or
    /// shutdown. True when bytes were read into freshly taken buffers.
    async fn wait_for_bytes(&mut self) -> bool {
        loop {
            if let Some(b) = self.bufs.take() {
                self.worker.pool.give(b);
            }
            self.start = 0;
            self.end = 0;
            let shutdown = &self.worker.shared.shutdown;
            // During shutdown an idle connection waits only for the rest of its grace (a
            // fresh one still waits for its first request, up to the keep-alive timeout).
            let stopping = shutdown.is_started() && !self.fresh;
            let deadline = match shutdown.started_at() {
                // One grace for the whole worker, counted from the shutdown's start.
                Some(t0) if stopping => t0 + SHUTDOWN_GRACE,
                _ => Instant::now() + self.worker.config.keep_alive_timeout,
            };
            let fresh = self.fresh;
            self.idle.reset(deadline);
            let idle = &mut self.idle;
            let wake = {
                let transport = &self.io.transport;
                let readable = async {
                    poll_fn(|cx| transport.poll_readable(cx)).await;
                    Wake::Readable
                };
                let timeout = async {
                    idle.await;
                    Wake::Timeout
                };
                let stop = async {
                    if fresh || stopping {
                        std::future::pending::<()>().await;
                    }
                    shutdown.wait().await;
                    Wake::Shutdown
                };
                readable.or(timeout).or(stop).await
            };
            match wake {
                Wake::Readable => {}
                Wake::Timeout => return false,
                // Wait again, now for the grace only.
                Wake::Shutdown => continue,
            }
            // Take buffers only if bytes are really there (the readiness may be stale).
            let mut bufs = self.worker.pool.take();
            let read = {
                let transport = &self.io.transport;
                let buf = &mut bufs.read[..];
                futures_lite::future::poll_once(poll_fn(|cx| transport.poll_read(cx, buf))).await
            };
            match read {
                None => {
                    // Stale readiness, or the task's cooperative budget is spent (the reactor
                    // then answers `Pending` with readiness kept and the task woken): yield
                    // before looking again, or this loop would spin inside one poll.
                    self.worker.pool.give(bufs);
                    futures_lite::future::yield_now().await;
                }
                Some(Ok(0)) | Some(Err(_)) => {
                    self.worker.pool.give(bufs);
                    return false;
                }
                Some(Ok(n)) => {
                    self.end = n;
                    self.bufs = Some(bufs);
                    return true;
                }
            }
        }
    }

    /// ACTIVE: parse and serve every buffered request, flush, read the rest of a partial head.
    async fn process(&mut self) -> bool {
        let mut head_deadline: Option<Instant> = None;
        loop {
            date::refresh();
            loop {
                match self.one_request().await {
                    // The next head gets its own deadline.
                    Step::Continue => head_deadline = None,
                    Step::NeedMore => break,
                    Step::Close => {
                        self.flush().await;
                        return false;
                    }
                }
            }
            // FLUSH the batch: one write for every response above (and one for the access log).
            if self.worker.config.access_log {
                log::logger().flush();
            }
            if !self.flush().await {
                return false;
            }
            if self.start == self.end {
                return true;
            }
            // READ the rest of a partial head, bounded by the head deadline (slowloris), which
            // starts when the head does (read the clock only when a head is split).
            let deadline = *head_deadline
                .get_or_insert_with(|| Instant::now() + self.worker.config.head_timeout);
            if !self.read_more(deadline).await {
                return false;
            }
        }
    }

    /// Writes the buffered responses. False if the client is gone (or stopped reading for
    /// longer than the send timeout).
    pub(crate) async fn flush(&mut self) -> bool {
        let Some(b) = self.bufs.as_mut() else {
            return true;
        };
        if b.write.is_empty() {
            return true;
        }
        let ok = self.io.write_all(&b.write).await.is_ok();
        b.write.clear();
        ok
    }

    /// Reads more bytes behind a partial head; answers 408 when the deadline passes first.
    async fn read_more(&mut self, deadline: Instant) -> bool {
        let max = self.worker.pool.max_read_size;
        let Some(b) = self.bufs.as_mut() else {
            return false;
        };
        let size = if self.end - self.start == b.read.len() {
            // A head larger than the usual buffer: grow once, to the maximum.
            if b.read.len() >= max {
                return false; // cannot happen: the parser answers 431 first
            }
            max
        } else {
            b.read.len()
        };
        (self.start, self.end) = b.grow_read(self.start, self.end, size);
        let transport = &self.io.transport;
        let buf = &mut b.read[self.end..];
        let read = poll_fn(|cx| transport.poll_read(cx, buf)).or(async {
            sleep_until(deadline).await;
            Err(std::io::ErrorKind::TimedOut.into())
        });
        match read.await {
            Ok(0) => false,
            Ok(n) => {
                self.end += n;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                let head = &self.worker.shared.head;
                push_error(&mut b.write, 408, "Request Timeout", false, head);
                let _ = self.io.write_all(&b.write).await;
                b.write.clear();
                false
            }
            Err(_) => false,
        }
    }
}
