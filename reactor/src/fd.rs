//! `Async<T>`: any file descriptor (socket, pipe, unix socket) as an async reader/writer.
//!
//! Why one generic wrapper: the reactor only cares about an fd and its readiness, so TCP streams,
//! pipes to a worker process and unix sockets all share one implementation of the read/write
//! rules below. The syscalls are issued on the raw fd, so `T` only needs to own it (`AsFd`).
//!
//! The edge-triggered contract ("read until `WouldBlock`") is kept without ever paying for the
//! `WouldBlock` syscall when it can be avoided: a read that returns fewer bytes than asked for
//! proves the kernel buffer is drained, and a short write proves the send buffer is full, so the
//! cached readiness is cleared right away and the task waits for the next edge. A read of 0
//! bytes (end of stream) keeps the source ready, so every later read returns 0 at once.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_lite::io::{AsyncRead, AsyncWrite};

use crate::reactor::{poll_io, Direction, Reactor, SourceState};

/// An fd registered in this thread's reactor.
///
/// Registration happens once, in [`Async::new`], for both directions; dropping the `Async`
/// deregisters and then drops `T` (closing the fd). One task may read while another writes;
/// two tasks reading the same `Async` at once would keep stealing each other's wake-ups.
///
/// `Async` is `!Send`: the fd belongs to the reactor of the thread that created it.
pub struct Async<T: AsFd> {
    io: Option<T>,
    token: usize,
    state: Rc<SourceState>,
    /// Writes go through `send(MSG_NOSIGNAL)`: a peer that closed cannot kill the process with
    /// SIGPIPE, whatever the program did with that signal.
    socket: bool,
}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with this thread's reactor.
    pub fn new(io: T) -> io::Result<Async<T>> {
        let fd = io.as_fd().as_raw_fd();
        set_nonblocking(fd)?;
        let socket = is_socket(fd);
        Async::new_nonblocking(io, socket)
    }

    /// Registers `io`, which the caller has already put in non-blocking mode.
    pub(crate) fn new_nonblocking(io: T, socket: bool) -> io::Result<Async<T>> {
        let (token, state) = Reactor::with(|r| r.register(io.as_fd().as_raw_fd()))?;
        Ok(Async {
            io: Some(io),
            token,
            state,
            socket,
        })
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("Async used after into_inner")
    }

    /// Deregisters and returns the inner I/O object (still in non-blocking mode).
    pub fn into_inner(mut self) -> T {
        self.deregister();
        self.io.take().expect("Async used after into_inner")
    }

    fn raw(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }

    fn deregister(&self) {
        if let Some(io) = &self.io {
            let fd = io.as_fd().as_raw_fd();
            Reactor::try_with(|r| r.deregister(self.token, fd));
        }
    }

    /// Waits until the fd is readable (or closed for reading).
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.state.poll_ready(Direction::Read, cx).map(Ok)).await
    }

    /// Waits until the fd is writable (or failed).
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.state.poll_ready(Direction::Write, cx).map(Ok)).await
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

    /// Reads into `buf`; a short read marks the fd drained (no `WouldBlock` syscall follows).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let fd = self.raw();
        let res = poll_io(&self.state, Direction::Read, cx, || sys_read(fd, buf));
        if let Poll::Ready(Ok(n)) = res {
            if n > 0 && n < buf.len() {
                self.state.clear(Direction::Read);
            }
        }
        res
    }

    /// Writes from `buf`; a short write marks the fd full.
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let fd = self.raw();
        let socket = self.socket;
        let res = poll_io(&self.state, Direction::Write, cx, || {
            sys_write(fd, buf, socket)
        });
        if let Poll::Ready(Ok(n)) = res {
            if n < buf.len() {
                self.state.clear(Direction::Write);
            }
        }
        res
    }

    /// Gathers `bufs` into one `writev`; a short write marks the fd full.
    pub fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let fd = self.raw();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let socket = self.socket;
        let res = poll_io(&self.state, Direction::Write, cx, || {
            sys_writev(fd, bufs, socket)
        });
        if let Poll::Ready(Ok(n)) = res {
            if n < total {
                self.state.clear(Direction::Write);
            }
        }
        res
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        self.deregister();
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

pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with F_GETFL/F_SETFL takes no pointers; a bad fd yields EBADF.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        if flags & libc::O_NONBLOCK == 0
            && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn cvt(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

pub(crate) fn sys_read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, which is writable for the whole call.
    cvt(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// `MSG_NOSIGNAL` where the platform has it (elsewhere sockets get `SO_NOSIGPIPE` at creation).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
const NOSIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
const NOSIGNAL: libc::c_int = 0;

/// Whether `fd` is a socket (one `fstat`, at registration).
fn is_socket(fd: RawFd) -> bool {
    // SAFETY: fstat writes into a local stat buffer.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
    }
}

pub(crate) fn sys_write(fd: RawFd, buf: &[u8], socket: bool) -> io::Result<usize> {
    if socket {
        // SAFETY: the pointer and length describe `buf`, readable for the whole call.
        return cvt(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), NOSIGNAL) });
    }
    // SAFETY: the pointer and length describe `buf`, which is readable for the whole call.
    // A write to a pipe whose reader is gone raises SIGPIPE, which Rust's runtime ignores by
    // default; the write then fails with EPIPE.
    cvt(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
}

pub(crate) fn sys_writev(fd: RawFd, bufs: &[IoSlice<'_>], socket: bool) -> io::Result<usize> {
    let count = bufs.len().min(1024);
    if socket {
        // SAFETY: msghdr is plain data; zeroed is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // `IoSlice` is ABI-compatible with `iovec` on unix; sendmsg only reads through it.
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = count as _;
        // SAFETY: `msg` points at `count` live iovecs for the duration of the call.
        return cvt(unsafe { libc::sendmsg(fd, &msg, NOSIGNAL) });
    }
    // SAFETY: `IoSlice` is guaranteed ABI-compatible with `iovec` on unix; the slices outlive
    // the call and at most IOV_MAX (1024) of them are passed.
    cvt(unsafe { libc::writev(fd, bufs.as_ptr().cast(), count as libc::c_int) })
}
