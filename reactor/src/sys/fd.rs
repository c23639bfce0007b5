//! Plain fd syscalls shared by every I/O type: non-blocking mode, read/write, and the fd-type
//! probe that decides whether a short read or write proves the fd drained.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use super::cvt;

/// The most buffers one `writev`/`sendmsg` takes (POSIX `IOV_MAX`; 1024 on Linux and the BSDs).
pub(crate) const IOV_MAX: usize = 1024;

/// What the reactor needs to know about an fd, decided once at registration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FdKind {
    /// Writes go through `send(MSG_NOSIGNAL)`: a peer that closed cannot kill the process with
    /// SIGPIPE, whatever the program did with that signal.
    pub(crate) socket: bool,
    /// A short read proves the receive buffer drained and a short write the send buffer full.
    /// True only for stream sockets and pipes (FIFOs).
    pub(crate) short_io_drains: bool,
    /// Remove the fd from the interest list on drop: it may be a duplicate (or inherited), so
    /// closing it need not end the registration. Sockets the reactor created itself skip it.
    pub(crate) delete_on_drop: bool,
}

impl FdKind {
    /// A stream socket this crate created (accept, connect, bind): no probe, no delete on drop.
    pub(crate) const OWN_STREAM: FdKind = FdKind {
        socket: true,
        short_io_drains: true,
        delete_on_drop: false,
    };

    /// A datagram or seqpacket socket this crate created.
    pub(crate) const OWN_DATAGRAM: FdKind = FdKind {
        socket: true,
        short_io_drains: false,
        delete_on_drop: false,
    };

    /// Probes an fd of unknown origin: one `fstat`, plus `getsockopt(SO_TYPE)` for a socket.
    pub(crate) fn detect(fd: RawFd) -> FdKind {
        // SAFETY: fstat writes into a local, zero-initialised stat buffer.
        let mode = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut st) != 0 {
                0
            } else {
                st.st_mode & libc::S_IFMT
            }
        };
        let (socket, short_io_drains) = match mode {
            libc::S_IFSOCK => (
                true,
                super::socket::get_opt(fd, libc::SOL_SOCKET, libc::SO_TYPE)
                    .is_ok_and(|ty| ty == libc::SOCK_STREAM),
            ),
            libc::S_IFIFO => (false, true),
            // Character devices (ttys), anonymous inodes (inotify, signalfd, eventfd, timerfd)
            // and anything else: only `WouldBlock` proves them drained.
            _ => (false, false),
        };
        FdKind {
            socket,
            short_io_drains,
            delete_on_drop: true,
        }
    }
}

pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with F_GETFL takes no pointers; a bad fd yields EBADF.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above, with F_SETFL.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    }
    Ok(())
}

pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, which is writable for the whole call.
    cvt(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }).map(|n| n as usize)
}

/// Reads into `bufs` in order (the caller passes at most [`IOV_MAX`]) in one syscall.
pub(crate) fn readv(fd: RawFd, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(IOV_MAX);
    // SAFETY: `IoSliceMut` is guaranteed ABI-compatible with `iovec` on unix; each describes a
    // live, writable slice that outlives the call, and at most IOV_MAX of them are passed.
    cvt(unsafe { libc::readv(fd, bufs.as_mut_ptr().cast(), count as libc::c_int) })
        .map(|n| n as usize)
}

pub(crate) fn peek(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, which is writable for the whole call.
    cvt(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK) })
        .map(|n| n as usize)
}

/// `MSG_NOSIGNAL` where the platform has it (elsewhere sockets get `SO_NOSIGPIPE` at creation).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) const NOSIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) const NOSIGNAL: libc::c_int = 0;

pub(crate) fn write(fd: RawFd, buf: &[u8], socket: bool) -> io::Result<usize> {
    if socket {
        // SAFETY: the pointer and length describe `buf`, readable for the whole call.
        return cvt(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), NOSIGNAL) })
            .map(|n| n as usize);
    }
    // SAFETY: the pointer and length describe `buf`, which is readable for the whole call.
    // A write to a pipe whose reader is gone raises SIGPIPE, which Rust's runtime ignores by
    // default; the write then fails with EPIPE.
    cvt(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) }).map(|n| n as usize)
}

/// Writes `bufs` (the caller passes at most [`IOV_MAX`]) in one syscall.
pub(crate) fn writev(fd: RawFd, bufs: &[IoSlice<'_>], socket: bool) -> io::Result<usize> {
    let count = bufs.len().min(IOV_MAX);
    if socket {
        // SAFETY: msghdr is plain data; zeroed is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // `IoSlice` is ABI-compatible with `iovec` on unix; sendmsg only reads through it.
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = count as _;
        // SAFETY: `msg` points at `count` live iovecs for the duration of the call.
        return cvt(unsafe { libc::sendmsg(fd, &msg, NOSIGNAL) }).map(|n| n as usize);
    }
    // SAFETY: `IoSlice` is guaranteed ABI-compatible with `iovec` on unix; the slices outlive
    // the call and at most IOV_MAX of them are passed.
    cvt(unsafe { libc::writev(fd, bufs.as_ptr().cast(), count as libc::c_int) }).map(|n| n as usize)
}
