//! One driver task per process slot: starts the pool process, feeds it jobs, reads the answers, and
//! when the pool process dies, reaps it, fails the one job it was running and starts a replacement.
//!
//! The driver is a hand-written future because it waits on four things at once: room in the
//! socket (a request is being written), data in the socket (answers), the pool process's exit (its
//! pidfd) and a deadline (startup or the running job's timeout). Reading and writing proceed
//! together, so a large request and a large answer can never deadlock on full socket buffers.
//!
//! ```text
//!   no pool process ──start──► Starting ──HELLO──► Ready ◄──┐ answers, new jobs
//!       ▲                    │                 │  └──┘
//!       │                    │ exit/timeout    │ EOF, error, timeout, bad frame, retire
//!       │                    ▼                 ▼
//!       └──── reaped ◄──── Dying (killed; wait for the pidfd, then waitpid)
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::pin::Pin;
use std::process::ExitStatus;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use waitless_reactor::{sleep_until, Async, Sleep};

use super::frame::{self, Response};
use super::queue::Shared;
use super::sys;
use crate::PoolError;

/// Bytes read per `read` call (at least).
const READ_CHUNK: usize = 64 * 1024;
/// Buffers larger than this are released once empty.
const KEEP_BUFFER: usize = 1 << 20;

/// Why a pool process is going away.
enum End {
    /// EOF or an error on its socket: it died (or closed the socket, and is killed for it).
    Crashed,
    /// The running job passed its deadline.
    Timeout,
    /// It sent a malformed or oversized frame.
    Protocol(String),
    /// It ran `max_tasks_per_child` jobs; its socket is closed and it exits on EOF.
    Retired,
    /// It died or stayed silent before announcing itself.
    Startup(String),
}

enum Phase {
    Starting,
    Ready,
    Dying(End),
}

struct Conn {
    /// `None` once dying: closing it is what tells a retired pool process to exit.
    sock: Option<Async<OwnedFd>>,
    pidfd: Option<Async<OwnedFd>>,
    phase: Phase,
    wbuf: Vec<u8>,
    wpos: usize,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    /// Jobs at this pool process, oldest (running) first, with their timeouts.
    in_flight: VecDeque<(usize, Option<Duration>)>,
    /// When the head of `in_flight` started (or, for `Starting`, the startup deadline's base).
    head_since: Instant,
    timer: Sleep,
    sent: u64,
    retiring: bool,
}

pub(crate) struct Driver {
    shared: Rc<Shared>,
    slot: usize,
    conn: Option<Conn>,
    /// Start a pool process even with an empty queue (at pool start and after a replacement).
    eager: bool,
}

impl Driver {
    pub(crate) fn new(shared: Rc<Shared>, slot: usize) -> Driver {
        Driver {
            shared,
            slot,
            conn: None,
            eager: true,
        }
    }

    /// Waits for new jobs.
    fn park(&self, cx: &mut Context<'_>) {
        let mut slots = self.shared.slots.borrow_mut();
        let view = &mut slots[self.slot];
        match &view.driver {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => view.driver = Some(cx.waker().clone()),
        }
    }

    fn set_load(&self, load: Option<usize>) {
        self.shared.slots.borrow_mut()[self.slot].load = load;
    }

    fn start(&mut self) -> io::Result<Conn> {
        let max_frame = self.shared.cfg.max_frame;
        let (parent_end, child_end) = sys::socketpair()?;
        let mut child = sys::spawn_pool_process(&child_end, max_frame)?;
        drop(child_end);
        let pid = child.id();
        let registered = Async::new(parent_end).map(|sock| {
            let pidfd = match sys::pidfd_open(pid).map(Async::new).transpose() {
                Ok(pidfd) => pidfd,
                Err(e) => {
                    log::warn!(
                        "waitless-pool: cannot watch pool process {pid}: {e}; using waitpid instead"
                    );
                    None
                }
            };
            (sock, pidfd)
        });
        let (sock, pidfd) = match registered {
            Ok(pair) => pair,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        {
            let mut slots = self.shared.slots.borrow_mut();
            let view = &mut slots[self.slot];
            view.child = Some(child);
            view.pid = Some(pid);
            view.load = None;
        }
        let now = Instant::now();
        Ok(Conn {
            sock: Some(sock),
            pidfd,
            phase: Phase::Starting,
            wbuf: Vec::new(),
            wpos: 0,
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            in_flight: VecDeque::new(),
            head_since: now,
            timer: sleep_until(now + self.shared.cfg.startup_timeout),
            sent: 0,
            retiring: false,
        })
    }

    /// Starts dying: closes the socket and, unless the pool process is retiring, kills it.
    fn begin_dying(&mut self, end: End) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let end = match (&conn.phase, end) {
            (Phase::Starting, End::Crashed) => {
                End::Startup("the pool process exited before it announced itself".to_owned())
            }
            (_, end) => end,
        };
        conn.sock = None;
        if !matches!(end, End::Retired) {
            if let Some(child) = self.shared.slots.borrow_mut()[self.slot].child.as_mut() {
                // Already dead (a crash) or not: SIGKILL makes sure, and does not change the
                // status of a process that is already exiting.
                let _ = child.kill();
            }
        }
        conn.phase = Phase::Dying(end);
        self.set_load(None);
    }

    /// Waits for the dying pool process to exit and reaps it.
    fn poll_exit(&mut self, cx: &mut Context<'_>) -> Poll<Option<ExitStatus>> {
        let Some(conn) = self.conn.as_ref() else {
            return Poll::Ready(None);
        };
        let mut slots = self.shared.slots.borrow_mut();
        let Some(child) = slots[self.slot].child.as_mut() else {
            // The pool was dropped and reaped it.
            return Poll::Ready(None);
        };
        if let Some(pidfd) = &conn.pidfd {
            let polled = pidfd.poll_read_with(cx, |_| match child.try_wait() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(e),
            });
            match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(status)) => return Poll::Ready(Some(status)),
                Poll::Ready(Err(e)) => {
                    log::warn!("waitless-pool: waiting on a pidfd failed: {e}");
                }
            }
        }
        // No pidfd (old kernel, other OS): the pool process was killed or saw EOF, so this is
        // short.
        Poll::Ready(child.wait().ok())
    }

    /// The pool process is reaped: settle its jobs and schedule a replacement.
    fn finish(&mut self, status: Option<ExitStatus>) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        {
            let mut slots = self.shared.slots.borrow_mut();
            let view = &mut slots[self.slot];
            view.child = None;
            view.pid = None;
            view.load = None;
        }
        let mut in_flight: VecDeque<usize> = conn.in_flight.into_iter().map(|(k, _)| k).collect();
        let head = in_flight.pop_front();
        let Phase::Dying(end) = conn.phase else {
            return;
        };
        let died = || PoolError::ProcessDied {
            signal: status.and_then(|s| s.signal()),
            exit_code: status.and_then(|s| s.code()),
        };
        let head_error = match end {
            End::Retired => None,
            End::Crashed => Some(died()),
            End::Timeout => Some(PoolError::Timeout),
            End::Protocol(msg) => Some(PoolError::Protocol(msg)),
            End::Startup(msg) => {
                let detail = match status {
                    Some(s) => format!("{msg} ({s})"),
                    None => msg,
                };
                log::error!("waitless-pool: pool process failed to start: {detail}");
                // Tell one waiting caller instead of retrying forever; start again only on demand.
                self.eager = false;
                self.shared
                    .fail_one_queued(PoolError::Spawn(io::Error::other(detail)));
                None
            }
        };
        if head_error.is_some() {
            self.eager = true;
        }
        if let (Some(key), Some(err)) = (head, head_error) {
            self.shared.complete(key, Err(err));
        } else if let Some(key) = head {
            in_flight.push_front(key);
        }
        self.shared.requeue_front(in_flight.into_iter());
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if this.shared.closed.get() {
                this.conn = None;
                return Poll::Ready(());
            }
            if this.conn.is_none() {
                let wanted = this.eager || !this.shared.queue.borrow().is_empty();
                if !wanted {
                    this.park(cx);
                    return Poll::Pending;
                }
                match this.start() {
                    Ok(conn) => {
                        this.eager = true;
                        this.conn = Some(conn);
                    }
                    Err(e) => {
                        log::error!("waitless-pool: cannot start a pool process: {e}");
                        this.eager = false;
                        this.shared.fail_one_queued(PoolError::Spawn(e));
                        continue;
                    }
                }
            }
            let Some(conn) = this.conn.as_mut() else {
                continue;
            };
            if !matches!(conn.phase, Phase::Dying(_)) {
                match conn.poll_io(cx, &this.shared, this.slot) {
                    Poll::Pending => {
                        this.park(cx);
                        return Poll::Pending;
                    }
                    Poll::Ready(end) => this.begin_dying(end),
                }
            }
            match this.poll_exit(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(status) => this.finish(status),
            }
        }
    }
}

impl Conn {
    /// Moves bytes both ways until nothing more can happen now. `Ready` means the pool process must
    /// go.
    fn poll_io(&mut self, cx: &mut Context<'_>, shared: &Shared, slot: usize) -> Poll<End> {
        loop {
            let mut progress = false;

            // 1. New jobs, if this pool process may take them.
            if matches!(self.phase, Phase::Ready) && !self.retiring {
                let before = self.in_flight.len();
                while let Some((key, timeout)) =
                    shared.take_job(slot, self.in_flight.len(), &mut self.wbuf)
                {
                    if self.in_flight.is_empty() {
                        self.head_since = Instant::now();
                    }
                    self.in_flight.push_back((key, timeout));
                    self.sent += 1;
                    if shared
                        .cfg
                        .max_tasks_per_child
                        .is_some_and(|max| self.sent >= max)
                    {
                        self.retiring = true;
                        break;
                    }
                    // Publish the load so the idle-first rule sees it.
                    shared.slots.borrow_mut()[slot].load = Some(self.in_flight.len());
                }
                if self.in_flight.len() != before {
                    shared.slots.borrow_mut()[slot].load = Some(self.in_flight.len());
                    progress = true;
                }
            }

            // Taken out while in use (the buffers are borrowed mutably meanwhile); put back below.
            // Every `Ready(End)` return leaves it out: a dying pool process's socket is closed
            // anyway.
            let Some(sock) = self.sock.take() else {
                return Poll::Ready(End::Crashed);
            };

            // 2. Write what is pending.
            while self.wpos < self.wbuf.len() {
                match sock.poll_write(cx, &self.wbuf[self.wpos..]) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(End::Crashed),
                    Poll::Ready(Ok(n)) => {
                        self.wpos += n;
                        progress = true;
                    }
                    Poll::Pending => break,
                }
            }
            if self.wpos > 0 && self.wpos == self.wbuf.len() {
                self.wbuf.clear();
                self.wpos = 0;
                if self.wbuf.capacity() > KEEP_BUFFER {
                    self.wbuf = Vec::new();
                }
            }

            // 3. Read and handle answers.
            loop {
                self.make_room(READ_CHUNK);
                match sock.poll_read(cx, &mut self.rbuf[self.rend..]) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        // Answers that arrived before the EOF still count.
                        if let Err(end) = self.parse(shared, slot) {
                            return Poll::Ready(end);
                        }
                        return Poll::Ready(End::Crashed);
                    }
                    Poll::Ready(Ok(n)) => {
                        self.rend += n;
                        progress = true;
                        if let Err(end) = self.parse(shared, slot) {
                            return Poll::Ready(end);
                        }
                    }
                    Poll::Pending => break,
                }
            }

            self.sock = Some(sock);

            // 4. A retiring pool process goes once its last answer is in.
            if self.retiring && self.in_flight.is_empty() {
                return Poll::Ready(End::Retired);
            }

            // 5. Deadlines.
            let deadline = match self.phase {
                Phase::Starting => Some(self.head_since + shared.cfg.startup_timeout),
                Phase::Ready => self
                    .in_flight
                    .front()
                    .and_then(|(_, t)| t.map(|t| self.head_since + t)),
                Phase::Dying(_) => None,
            };
            if let Some(deadline) = deadline {
                if self.timer.deadline() != deadline {
                    self.timer.reset(deadline);
                }
                if Pin::new(&mut self.timer).poll(cx).is_ready() {
                    return Poll::Ready(match self.phase {
                        Phase::Starting => End::Startup(
                            "the pool process did not announce itself in time".to_owned(),
                        ),
                        _ => End::Timeout,
                    });
                }
            }

            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Makes sure at least `want` bytes are free after `rend`.
    fn make_room(&mut self, want: usize) {
        if self.rbuf.len() - self.rend >= want {
            return;
        }
        if self.rstart > 0 {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        if self.rbuf.len() - self.rend < want {
            self.rbuf.resize(self.rend + want, 0);
        }
    }

    /// Handles every complete frame in the read buffer.
    fn parse(&mut self, shared: &Shared, slot: usize) -> Result<(), End> {
        let max = shared.cfg.max_frame;
        loop {
            let avail = &self.rbuf[self.rstart..self.rend];
            let len = match frame::body_len(avail, max) {
                Err(e) => return Err(End::Protocol(e.to_string())),
                Ok(None) => break,
                Ok(Some(len)) => len,
            };
            if avail.len() < frame::HEADER + len {
                // Have room for the whole frame, so it arrives without repeated compaction.
                let missing = frame::HEADER + len - avail.len();
                self.make_room(missing.max(READ_CHUNK));
                break;
            }
            let body_at = self.rstart + frame::HEADER;
            self.rstart = body_at + len;
            let body = &self.rbuf[body_at..body_at + len];
            let response =
                frame::decode_response(body).map_err(|e| End::Protocol(e.to_string()))?;
            let result = match (&self.phase, response) {
                (Phase::Starting, Response::Hello(_)) => {
                    self.phase = Phase::Ready;
                    shared.slots.borrow_mut()[slot].load = Some(0);
                    continue;
                }
                (_, Response::Hello(_)) => {
                    return Err(End::Protocol("a second HELLO".to_owned()));
                }
                (Phase::Starting, _) => {
                    return Err(End::Protocol("an answer before HELLO".to_owned()));
                }
                (_, Response::Ok(payload)) => Ok(payload.to_vec()),
                (_, Response::Panicked(msg)) => Err(PoolError::Panicked(lossy(msg))),
                (_, Response::UnknownJob(name)) => Err(PoolError::UnknownJob(lossy(name))),
                (_, Response::Codec(msg)) => Err(PoolError::Codec(lossy(msg))),
            };
            let Some((key, _)) = self.in_flight.pop_front() else {
                return Err(End::Protocol("an answer with no job".to_owned()));
            };
            self.head_since = Instant::now();
            shared.slots.borrow_mut()[slot].load = Some(self.in_flight.len());
            shared.complete(key, result);
        }
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
            if self.rbuf.len() > KEEP_BUFFER {
                self.rbuf = Vec::new();
            }
        }
        Ok(())
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
