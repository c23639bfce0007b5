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
//! Why buffers leave idle connections: a server holding 10,000 idle keep-alive connections
//! should hold 10,000 small state machines, not 10,000 × (read + write) buffers. Buffers come
//! from a per-worker pool when bytes arrive and go back when the connection goes idle.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Instant;

use futures_lite::FutureExt;
use slab::Slab;
use waitless_reactor::{sleep, sleep_until, TcpStream};

use super::parse::{parse_head, BodyFraming, Head, Reject};
use super::response::push_error;
use super::{date, proxy};
use crate::config::Config;
use crate::interface::body::{write_all, BodyState, Framing};
use crate::interface::responder::{Phase, ResponseState};
use crate::interface::scope::{percent_decode, HeaderSpan, Headers, Scheme, ScopeKind, State};
use crate::interface::{App, Body, BodyError, Request, Responder, Scope};

/// A connection's working memory, pooled per worker.
pub(crate) struct Buffers {
    read: Box<[u8]>,
    write: Vec<u8>,
    scratch: Vec<u8>,
    spans: Vec<HeaderSpan>,
}

/// Buffers kept for reuse; beyond this many, returned buffers are freed.
const POOL_MAX: usize = 256;

pub(crate) struct BufferPool {
    // Boxed so a connection holds a pointer, not ~80 bytes, in its (idle) state.
    #[allow(clippy::vec_box)]
    free: RefCell<Vec<Box<Buffers>>>,
    /// Size of a fresh read buffer: enough for almost every request head and for a pipelined
    /// batch; a connection whose head does not fit grows its buffer to `max_read_size`.
    read_size: usize,
    /// Room for a maximal head plus body bytes behind it.
    max_read_size: usize,
}

/// Initial sizes of a connection's buffers (hyper also starts at 8 KiB). Kept small because a
/// connection holds them for as long as its request is in flight (1,000 slow requests = 1,000
/// buffer sets).
const READ_BUFFER: usize = 8 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;

impl BufferPool {
    pub(crate) fn new(config: &Config) -> BufferPool {
        BufferPool {
            free: RefCell::new(Vec::new()),
            read_size: READ_BUFFER.min(config.max_head_size + 16 * 1024),
            max_read_size: (config.max_head_size + 16 * 1024).max(READ_BUFFER),
        }
    }

    fn take(&self) -> Box<Buffers> {
        self.free.borrow_mut().pop().unwrap_or_else(|| {
            Box::new(Buffers {
                read: vec![0; self.read_size].into_boxed_slice(),
                write: Vec::with_capacity(WRITE_BUFFER),
                scratch: Vec::new(),
                spans: Vec::with_capacity(32),
            })
        })
    }

    fn give(&self, mut b: Box<Buffers>) {
        let mut free = self.free.borrow_mut();
        if free.len() < POOL_MAX {
            b.write.clear();
            // Do not keep a buffer that one huge response blew up.
            if b.write.capacity() > 1 << 20 {
                b.write = Vec::with_capacity(WRITE_BUFFER);
            }
            if b.read.len() > self.read_size {
                // A head that needed the large buffer was the exception: pool the usual size.
                b.read = vec![0; self.read_size].into_boxed_slice();
            }
            if b.scratch.capacity() > 1 << 20 {
                b.scratch = Vec::new();
            }
            free.push(b);
        }
    }
}

/// Shutdown signal shared by the accept loop and every connection of a worker.
#[derive(Default)]
pub(crate) struct Shutdown {
    pub(crate) started: Cell<bool>,
    waiters: RefCell<Slab<Waker>>,
}

impl Shutdown {
    pub(crate) fn is_started(&self) -> bool {
        self.started.get()
    }

    pub(crate) fn start(&self) {
        self.started.set(true);
        let wakers: Vec<Waker> = self.waiters.borrow_mut().drain().collect();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Resolves once shutdown has started.
    pub(crate) async fn wait(&self) {
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
            if self.started.get() {
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

/// Everything a worker's connections share.
pub(crate) struct Worker<A> {
    pub(crate) app: A,
    pub(crate) state: State,
    pub(crate) config: Config,
    pub(crate) pool: BufferPool,
    pub(crate) open: Cell<usize>,
    /// Requests served, for `limit_max_requests`.
    pub(crate) served: Cell<u64>,
    pub(crate) shutdown: Shutdown,
    /// Woken when `open` drops to zero during shutdown.
    pub(crate) drained: RefCell<Option<Waker>>,
}

impl<A> Worker<A> {
    fn connection_closed(&self) {
        self.open.set(self.open.get() - 1);
        if self.open.get() == 0 {
            if let Some(w) = self.drained.borrow_mut().take() {
                w.wake();
            }
        }
    }
}

/// What the idle wait saw.
enum Wake {
    Readable,
    Timeout,
    Shutdown,
}

/// A connection's own state. It moves into the active-phase future while bytes are being
/// processed and comes back when the connection is idle again.
pub(crate) struct Conn<A> {
    worker: Rc<Worker<A>>,
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    bufs: Option<Box<Buffers>>,
    /// Unprocessed bytes are `bufs.read[start..end]`.
    start: usize,
    end: usize,
    /// No request has been served yet: during shutdown a fresh connection still gets its first
    /// request answered (its client connected before the listener closed), an idle one does not.
    fresh: bool,
    /// `--proxy-headers` is on and the peer is a trusted proxy (decided once per connection).
    proxy_trusted: bool,
}

impl<A> Conn<A> {
    pub(crate) fn new(
        worker: Rc<Worker<A>>,
        stream: TcpStream,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Conn<A> {
        let cfg = &worker.config;
        let proxy_trusted = cfg.proxy_headers && cfg.forwarded_allow_ips.contains(peer.ip());
        Conn {
            worker,
            stream,
            peer,
            local,
            bufs: None,
            start: 0,
            end: 0,
            fresh: true,
            proxy_trusted,
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
            if self.worker.shutdown.is_started() && !self.fresh {
                return false;
            }
            let fresh = self.fresh;
            let wake = {
                let readable = async {
                    let _ = self.stream.readable().await;
                    Wake::Readable
                };
                let timeout = async {
                    sleep(self.worker.config.keep_alive_timeout).await;
                    Wake::Timeout
                };
                let shutdown = async {
                    if fresh {
                        std::future::pending::<()>().await;
                    }
                    self.worker.shutdown.wait().await;
                    Wake::Shutdown
                };
                readable.or(timeout).or(shutdown).await
            };
            match wake {
                Wake::Readable => {}
                Wake::Timeout | Wake::Shutdown => return false,
            }
            // Take buffers only if bytes are really there (the readiness may be stale).
            let mut bufs = self.worker.pool.take();
            let read = {
                let stream = &self.stream;
                let buf = &mut bufs.read[..];
                futures_lite::future::poll_once(poll_fn(|cx| stream.poll_read(cx, buf))).await
            };
            match read {
                None => self.worker.pool.give(bufs),
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

    /// Writes the buffered responses. False if the client is gone.
    async fn flush(&mut self) -> bool {
        let Some(b) = self.bufs.as_mut() else {
            return true;
        };
        if b.write.is_empty() {
            return true;
        }
        let ok = write_all(&self.stream, &b.write).await.is_ok();
        b.write.clear();
        ok
    }

    /// Reads more bytes behind a partial head; answers 408 when the deadline passes first.
    async fn read_more(&mut self, deadline: Instant) -> bool {
        let Some(b) = self.bufs.as_mut() else {
            return false;
        };
        if self.start > 0 {
            b.read.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == b.read.len() {
            // A head larger than the usual buffer: grow once, to the maximum (between requests,
            // so no scope or body borrows the old buffer).
            let max = self.worker.pool.max_read_size;
            if b.read.len() >= max {
                return false; // cannot happen: the parser answers 431 first
            }
            let mut bigger = vec![0; max].into_boxed_slice();
            bigger[..self.end].copy_from_slice(&b.read[..self.end]);
            b.read = bigger;
        }
        let stream = &self.stream;
        let buf = &mut b.read[self.end..];
        let read = poll_fn(|cx| stream.poll_read(cx, buf)).or(async {
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
                push_error(&mut b.write, 408, "Request Timeout", false);
                let _ = write_all(&self.stream, &b.write).await;
                b.write.clear();
                false
            }
            Err(_) => false,
        }
    }

    /// Parses and serves the request at `start`, if its head is complete.
    async fn one_request(&mut self) -> Step {
        let worker = &*self.worker;
        let cfg = &worker.config;
        let Some(bufs) = self.bufs.as_mut() else {
            return Step::Close;
        };
        let Buffers {
            read,
            write,
            scratch,
            spans,
        } = &mut **bufs;
        if self.start == self.end {
            return Step::NeedMore;
        }
        let head = match parse_head(
            &read[self.start..self.end],
            cfg.max_head_size,
            cfg.max_headers,
            spans,
        ) {
            Ok(Some(head)) => head,
            Ok(None) => return Step::NeedMore,
            Err(Reject { status, detail }) => {
                push_error(write, status, detail, false);
                return Step::Close;
            }
        };
        let head_only = slice(&read[self.start..], head.method) == b"HEAD";
        if let BodyFraming::Length(n) = head.framing {
            if n > cfg.max_body_size {
                push_error(write, 413, "Request body too large", head_only);
                return Step::Close;
            }
        }
        // Keep 100 Continue behind every earlier response of the batch.
        if head.expect_continue && !write.is_empty() {
            if write_all(&self.stream, write).await.is_err() {
                return Step::Close;
            }
            write.clear();
        }

        let log_access =
            cfg.access_log && log::log_enabled!(target: "waitless::access", log::Level::Info);
        let started = log_access.then(Instant::now);
        let head_end = self.start + head.len;
        let framing = match head.framing {
            BodyFraming::None => Framing::Empty,
            BodyFraming::Length(n) => Framing::Length(n),
            BodyFraming::Chunked => Framing::Chunked(Default::default()),
        };
        let mut body_state = BodyState::new(
            framing,
            self.end - head_end,
            cfg.max_body_size,
            head.expect_continue,
        );
        let close = head.close || worker.shutdown.is_started();
        let mut resp_state = ResponseState::new(head.version, head_only, close, head.keep_alive_10);

        let (head_part, rest) = read.split_at_mut(head_end);
        let head_bytes = &head_part[self.start..];
        let (client, scheme) = if head.forwarded && self.proxy_trusted {
            proxy::resolve(
                self.peer,
                Headers {
                    head: head_bytes,
                    spans,
                },
                &cfg.forwarded_allow_ips,
            )
        } else {
            (self.peer, Scheme::Http)
        };
        let raw_path = slice(head_bytes, head.path);
        let scope = Scope {
            kind: ScopeKind::Http,
            version: head.version,
            method: std::str::from_utf8(slice(head_bytes, head.method)).unwrap_or(""),
            scheme,
            path: percent_decode(raw_path),
            raw_path,
            query_string: slice(head_bytes, head.query),
            headers: Headers {
                head: head_bytes,
                spans,
            },
            client: Some(client),
            server: self.local,
            root_path: &cfg.root_path,
            state: &worker.state,
        };
        let request = Request {
            scope,
            body: Body {
                state: &mut body_state,
                buf: &mut *rest,
                stream: &self.stream,
            },
        };
        let responder = Responder {
            out: &mut *write,
            scratch: &mut *scratch,
            stream: &self.stream,
            state: &mut resp_state,
            shutting_down: &worker.shutdown.started,
        };
        // The app's future is pinned where it is built and polled under `catch_unwind` directly
        // (no wrapper future to move it into: one copy of the request state fewer per request).
        let outcome = {
            let mut call = pin!(worker.app.call(request, responder));
            poll_fn(|cx| {
                match std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
                    Err(panic) => Poll::Ready(Err(panic)),
                }
            })
            .await
        };

        let mut step = Step::Continue;
        if let Err(panic) = outcome {
            let msg = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("<non-string panic>");
            log::error!(
                "waitless: exception in app for {} {}: {msg}",
                method_of(head_bytes, &head),
                path_of(head_bytes, &head)
            );
            if resp_state.phase == Phase::NotStarted {
                push_error(write, 500, "Internal Server Error", head_only);
                resp_state.status = 500;
            }
            step = Step::Close;
        } else {
            match resp_state.phase {
                Phase::Done => {
                    if resp_state.close {
                        step = Step::Close;
                    }
                }
                Phase::NotStarted => {
                    let (status, detail) = match body_state.error {
                        Some(BodyError::TooLarge { .. }) => (413, "Request body too large"),
                        Some(e @ BodyError::Malformed(_)) => {
                            (e.status(), "Invalid chunked request body")
                        }
                        _ => (500, "Internal Server Error"),
                    };
                    if status == 500 {
                        log::error!(
                            "waitless: app returned without a response for {}",
                            path_of(head_bytes, &head)
                        );
                    }
                    push_error(write, status, detail, head_only);
                    resp_state.status = status;
                    step = Step::Close;
                }
                // Returned in the middle of a streamed response: the framing cannot be completed.
                Phase::Streaming { .. } => step = Step::Close,
            }
        }

        // Whatever of the body the app did not read must be drained to reach the next request.
        if matches!(step, Step::Continue) && !body_state.done {
            if body_state.error.is_some() || body_state.expect_continue {
                step = Step::Close;
            } else {
                let mut body = Body {
                    state: &mut body_state,
                    buf: rest,
                    stream: &self.stream,
                };
                let drain = async {
                    loop {
                        match body.chunk().await {
                            Ok(Some(_)) => {}
                            Ok(None) => return true,
                            Err(_) => return false,
                        }
                    }
                };
                let timed = drain.or(async {
                    sleep(cfg.head_timeout).await;
                    false
                });
                if !timed.await {
                    step = Step::Close;
                }
            }
        }

        if let Some(t0) = started {
            {
                log::info!(
                    target: "waitless::access",
                    "{client} - \"{} {} HTTP/{}\" {} {:.1}ms",
                    method_of(head_bytes, &head),
                    path_of(head_bytes, &head),
                    head.version.as_str(),
                    resp_state.status,
                    t0.elapsed().as_secs_f64() * 1000.0
                );
            }
        }

        self.fresh = false;
        worker.served.set(worker.served.get() + 1);
        if cfg
            .limit_max_requests
            .is_some_and(|max| worker.served.get() >= max)
            && !worker.shutdown.is_started()
        {
            log::info!(
                "Maximum request limit of {} exceeded. Terminating process.",
                worker.served.get()
            );
            worker.shutdown.start();
        }
        self.start = head_end + body_state.pos;
        self.end = head_end + body_state.filled;
        if matches!(step, Step::Continue) && write.len() >= cfg.write_high_water {
            // Backpressure: a client that pipelines without reading gets its responses written
            // (waiting for it to read) before any more of its requests are parsed.
            if write_all(&self.stream, write).await.is_err() {
                return Step::Close;
            }
            write.clear();
        }
        step
    }
}

enum Step {
    Continue,
    NeedMore,
    Close,
}

fn slice(buf: &[u8], (a, b): (u32, u32)) -> &[u8] {
    &buf[a as usize..b as usize]
}

fn method_of<'a>(head: &'a [u8], h: &Head) -> &'a str {
    std::str::from_utf8(slice(head, h.method)).unwrap_or("?")
}

fn path_of<'a>(head: &'a [u8], h: &Head) -> std::borrow::Cow<'a, str> {
    String::from_utf8_lossy(slice(head, h.path))
}
