//! `Async<T>`: any file descriptor (socket, pipe, unix socket) as an async reader/writer.
//!
//! Why one generic wrapper: the reactor only cares about an fd and its readiness, so TCP streams,
//! pipes to a child process and unix sockets all share one implementation of the read/write
//! rules below. The syscalls are issued on the raw fd, so `T` only needs to own it (`AsFd`).
//!
//! The edge-triggered contract ("read until `WouldBlock`") is kept without paying for the
//! `WouldBlock` syscall where the fd type allows it: on a **stream socket or a pipe**, a read
//! that returns fewer bytes than asked for proves the kernel buffer is drained, and a short write
//! proves the send buffer is full, so the cached readiness is cleared right away and the task
//! waits for the next edge. The rule is decided once, at registration, from the fd's type: on a
//! datagram or seqpacket socket a short read is one message among several still queued, and on a
//! tty, an inotify fd or a signalfd reads return whole records, so there only `WouldBlock`
//! clears readiness. A read of 0 bytes (end of stream) keeps the source ready, so every later
//! read returns 0 at once. The short-read rule also needs the poller to report a peer's
//! half-close as its own event (epoll's `EPOLLRDHUP`, cached as sticky `READ_CLOSED`): a FIN that
//! arrives right behind the data shares the data's edge, and without that bit nothing would wake
//! the reader again. The portable `polling` backend has no such event, so there reads go on until
//! `WouldBlock` or end of stream.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_lite::io::{AsyncRead, AsyncWrite};

use crate::reactor::{poll_io, Direction, Reactor, SourceState};
use crate::sys::{self, FdKind};

/// A direction of readiness, for [`Async::try_io`] and [`Async::clear_ready`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Readable, or closed for reading.
    Readable,
    /// Writable, or failed.
    Writable,
}

impl Interest {
    fn dir(self) -> Direction {
        match self {
            Interest::Readable => Direction::Read,
            Interest::Writable => Direction::Write,
        }
    }
}

/// An fd registered in this thread's reactor.
///
/// Registration happens once, in [`Async::new`], for both directions; dropping the `Async`
/// deregisters and then drops `T` (closing the fd). [`Async::into_inner`] deregisters and hands
/// the fd back, so it can be wrapped again.
///
/// **One waiter per direction**: one task may read while another writes; a second task waiting
/// in the same direction replaces the first one's waker, so two tasks reading the same `Async`
/// at once would keep stealing each other's wake-ups.
///
/// **Readiness**: [`readable`](Async::readable) and [`writable`](Async::writable) only *wait*:
/// they return at once while the cached readiness says ready, and never clear it. Whoever then
/// finds the fd not ready must say so, or the next wait returns at once again: use
/// [`read_with`](Async::read_with)/[`write_with`](Async::write_with) (they clear on
/// `WouldBlock` and wait again), [`try_io`](Async::try_io) (tokio's: runs a non-blocking
/// operation once, clears on `WouldBlock`), or [`clear_ready`](Async::clear_ready).
///
/// `Async` is `!Send`: the fd belongs to the reactor of the thread that created it.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// assert_send(waitless_reactor::Async::new(a).unwrap());
/// ```
pub struct Async<T: AsFd> {
    io: Option<T>,
    token: usize,
    state: Rc<SourceState>,
    kind: FdKind,
}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with this thread's reactor.
    ///
    /// The fd's type is looked up once (`fstat`, plus `SO_TYPE` for a socket) to decide whether
    /// short reads and writes prove it drained (stream sockets and pipes only). Because the fd
    /// may have been duplicated or inherited, dropping this `Async` removes it from the kernel's
    /// interest list explicitly (`EPOLL_CTL_DEL`).
    pub fn new(io: T) -> io::Result<Async<T>> {
        let fd = io.as_fd().as_raw_fd();
        sys::set_nonblocking(fd)?;
        let kind = FdKind::detect(fd);
        Async::register(io, kind, 0)
    }

    /// Registers `io`, already non-blocking, of a known kind, starting with the readiness bits
    /// `initial`.
    pub(crate) fn register(io: T, kind: FdKind, initial: u8) -> io::Result<Async<T>> {
        let (token, state) = Reactor::with(|r| r.register(io.as_fd().as_raw_fd(), initial))?;
        Ok(Async {
            io: Some(io),
            token,
            state,
            kind,
        })
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        // `io` is `None` only inside `into_inner`, which consumes `self`.
        match &self.io {
            Some(io) => io,
            None => unreachable!("Async::io taken outside into_inner"),
        }
    }

    /// Removes the fd from the reactor (`EPOLL_CTL_DEL`, whatever the fd's origin) and returns
    /// the inner I/O object, still in non-blocking mode. It can be wrapped again at once.
    pub fn into_inner(mut self) -> io::Result<T> {
        let fd = self.raw();
        let token = self.token;
        Reactor::with(|r| r.deregister(token, fd, true))?;
        self.kind.delete_on_drop = false;
        let io = self.io.take();
        // `io` was `Some` (it is only taken here); `Drop` now finds `None` and does nothing.
        io.ok_or_else(|| io::Error::other("waitless-reactor: Async already emptied"))
    }

    fn raw(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }

    /// Waits until the fd is readable (or closed for reading). Does not clear readiness: see
    /// the type's docs.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.state.poll_ready(Direction::Read, cx).map(Ok)).await
    }

    /// The poll form of [`readable`](Self::readable), for a caller that keeps no future (a
    /// server waiting on thousands of idle connections keeps the wait's state small).
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.state.poll_ready(Direction::Read, cx).map(Ok)
    }

    /// Waits until the fd is writable (or failed). Does not clear readiness: see the type's
    /// docs.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.state.poll_ready(Direction::Write, cx).map(Ok)).await
    }

    /// Whether the cached readiness says `interest` is ready now.
    pub fn is_ready(&self, interest: Interest) -> bool {
        self.state.is_ready(interest.dir())
    }

    /// Forgets the cached readiness for `interest` (closed bits included): the next
    /// [`readable`](Async::readable)/[`writable`](Async::writable) waits for a new event.
    pub fn clear_ready(&self, interest: Interest) {
        self.state.clear_all(interest.dir());
    }

    /// Runs the non-blocking operation `op` once, without waiting: `WouldBlock` if the cached
    /// readiness says not ready, and if `op` itself answers `WouldBlock` the readiness for
    /// `interest` is cleared, so a following `readable()`/`writable()` waits for the next edge
    /// (tokio's `try_io`). Any other result is returned as is.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        op: impl FnOnce(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let dir = interest.dir();
        if !self.state.is_ready(dir) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let res = op(self.get_ref());
        if matches!(&res, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.state.clear_all(dir);
        }
        res
    }

    /// Runs a non-blocking read-side operation until it stops returning `WouldBlock`.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| poll_io(&self.state, Direction::Read, cx, || op(self.get_ref()))).await
    }

    /// Runs a non-blocking write-side operation until it stops returning `WouldBlock`.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| poll_io(&self.state, Direction::Write, cx, || op(self.get_ref()))).await
    }

    /// Polls a read-side operation (the poll form of [`Async::read_with`]).
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        poll_io(&self.state, Direction::Read, cx, || op(self.get_ref()))
    }

    /// Polls a write-side operation (the poll form of [`Async::write_with`]).
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        poll_io(&self.state, Direction::Write, cx, || op(self.get_ref()))
    }

    /// Reads into `buf`; on a stream socket or pipe a short read marks the fd drained (no
    /// `WouldBlock` syscall follows) where the poller reports a peer's half-close separately.
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let fd = self.raw();
        let res = poll_io(&self.state, Direction::Read, cx, || sys::read(fd, buf));
        if let Poll::Ready(Ok(n)) = res {
            if self.kind.short_io_drains
                && sys::Poller::REPORTS_READ_CLOSED
                && n > 0
                && n < buf.len()
            {
                self.state.clear(Direction::Read);
            }
        }
        res
    }

    /// Scatters one `readv` over `bufs`, in order; on a stream socket or pipe a read that fills
    /// less than all of them marks the fd drained, like a short [`poll_read`](Self::poll_read).
    ///
    /// Why: a protocol that knows where its current record ends can read the rest of it into
    /// its own buffer and whatever follows into a second one in the same syscall; the total
    /// then tells whether the kernel buffer is empty, so the next read is not a `WouldBlock`
    /// probe. At most `IOV_MAX` (1024) buffers are passed; only those count towards "short".
    pub fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let fd = self.raw();
        let count = bufs.len().min(sys::IOV_MAX);
        let bufs = &mut bufs[..count];
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let res = poll_io(&self.state, Direction::Read, cx, || sys::readv(fd, bufs));
        if let Poll::Ready(Ok(n)) = res {
            if self.kind.short_io_drains && sys::Poller::REPORTS_READ_CLOSED && n > 0 && n < total {
                self.state.clear(Direction::Read);
            }
        }
        res
    }

    /// Reads into `buf` without removing the data (`recv(MSG_PEEK)`; sockets only).
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let fd = self.raw();
        poll_io(&self.state, Direction::Read, cx, || sys::peek(fd, buf))
    }

    /// Writes from `buf`; on a stream socket or pipe a short write marks the fd full.
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let fd = self.raw();
        let socket = self.kind.socket;
        let res = poll_io(&self.state, Direction::Write, cx, || {
            sys::write(fd, buf, socket)
        });
        if let Poll::Ready(Ok(n)) = res {
            if self.kind.short_io_drains && n < buf.len() {
                self.state.clear(Direction::Write);
            }
        }
        res
    }

    /// Gathers `bufs` into one `writev`/`sendmsg`; a short write marks the fd full.
    ///
    /// At most `IOV_MAX` (1024) buffers are passed per call; only those count towards "short",
    /// so writing the first 1024 of 2000 buffers in full is not mistaken for a full socket.
    pub fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let fd = self.raw();
        let bufs = &bufs[..bufs.len().min(sys::IOV_MAX)];
        let socket = self.kind.socket;
        let res = poll_io(&self.state, Direction::Write, cx, || {
            sys::writev(fd, bufs, socket)
        });
        if let Poll::Ready(Ok(n)) = res {
            if self.kind.short_io_drains && n < bufs.iter().map(|b| b.len()).sum::<usize>() {
                self.state.clear(Direction::Write);
            }
        }
        res
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if let Some(io) = &self.io {
            let fd = io.as_fd().as_raw_fd();
            let (token, delete) = (self.token, self.kind.delete_on_drop);
            // The fd is about to be closed; a failed delete cannot be acted upon.
            Reactor::try_with(|r| r.deregister(token, fd, delete));
        }
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async").field("io", &self.io).finish()
    }
}

impl<T: AsFd> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

macro_rules! impl_async_io {
    ($ty:ty) => {
        impl<T: AsFd> AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Async::poll_read(&self, cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                Async::poll_read_vectored(&self, cx, bufs)
            }
        }

        impl<T: AsFd> AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Async::poll_write(&self, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Async::poll_write_vectored(&self, cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
    };
}

impl_async_io!(Async<T>);
impl_async_io!(&Async<T>);
