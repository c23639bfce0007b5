//! Socket plumbing (mio keeps the same split): creating non-blocking close-on-exec sockets,
//! `accept4`, options, and the conversions between `std` addresses and `sockaddr`.
//!
//! Sockets are created with `libc` rather than `std::net` because a server needs options std
//! cannot set before `bind` (`SO_REUSEPORT`, the listen backlog) and because `accept4` with
//! `SOCK_NONBLOCK | SOCK_CLOEXEC` returns a ready-to-register socket in one syscall, where std's
//! `accept` + `set_nonblocking` takes two.

use std::io;
use std::mem;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use std::os::fd::AsRawFd;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::cvt;

/// A `sockaddr` of any family, as the kernel fills it.
pub(crate) struct RawAddr {
    pub(crate) storage: libc::sockaddr_storage,
    pub(crate) len: libc::socklen_t,
}

impl RawAddr {
    fn empty() -> RawAddr {
        RawAddr {
            // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
            storage: unsafe { mem::zeroed() },
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    /// An internet address (`InvalidInput` for another family).
    pub(crate) fn to_inet(&self) -> io::Result<SocketAddr> {
        from_sockaddr(&self.storage)
    }
}

/// A new non-blocking, close-on-exec socket.
pub(crate) fn new_socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let ty = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: socket takes no pointers; a non-negative result is a new fd we own.
        Ok(unsafe { OwnedFd::from_raw_fd(cvt(libc::socket(domain, ty, 0))?) })
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // SAFETY: socket takes no pointers; a non-negative result is a new fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(cvt(libc::socket(domain, ty, 0))?) };
        // SAFETY: fcntl F_SETFD takes no pointers.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        super::set_nonblocking(fd.as_raw_fd())?;
        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
        set_opt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_NOSIGPIPE, 1)?;
        Ok(fd)
    }
}

/// A new non-blocking internet socket of the family of `addr`.
pub(crate) fn new_inet_socket(addr: &SocketAddr, ty: libc::c_int) -> io::Result<OwnedFd> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    new_socket(domain, ty)
}

pub(crate) fn bind(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: `addr` holds a valid sockaddr of `addr.len` bytes for the call.
    cvt(unsafe { libc::bind(fd, addr.as_ptr(), addr.len) })?;
    Ok(())
}

pub(crate) fn listen(fd: RawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: listen takes no pointers.
    cvt(unsafe { libc::listen(fd, backlog) })?;
    Ok(())
}

/// Starts a non-blocking connect: `Ok(true)` when it is in progress (wait for writability,
/// then read `SO_ERROR`), `Ok(false)` when it completed at once.
pub(crate) fn connect(fd: RawFd, addr: &RawAddr) -> io::Result<bool> {
    // SAFETY: `addr` holds a valid sockaddr of `addr.len` bytes for the call.
    match cvt(unsafe { libc::connect(fd, addr.as_ptr(), addr.len) }) {
        Ok(_) => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(true), // unix sockets
        Err(e) => Err(e),
    }
}

/// `SO_ERROR`: the outcome of a non-blocking connect, or a pending asynchronous error.
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let err = get_opt(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// Accepts one connection as a non-blocking, close-on-exec socket.
pub(crate) fn accept(listener: RawFd) -> io::Result<(OwnedFd, RawAddr)> {
    let mut addr = RawAddr::empty();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `addr` describes a writable sockaddr_storage; a non-negative result is a new fd
    // we own.
    let fd = unsafe {
        OwnedFd::from_raw_fd(cvt(libc::accept4(
            listener,
            addr.as_mut_ptr(),
            &mut addr.len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        ))?)
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let fd = {
        // SAFETY: as above, with accept(2).
        let fd = unsafe {
            OwnedFd::from_raw_fd(cvt(libc::accept(
                listener,
                addr.as_mut_ptr(),
                &mut addr.len,
            ))?)
        };
        // SAFETY: fcntl F_SETFD takes no pointers.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        super::set_nonblocking(fd.as_raw_fd())?;
        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
        set_opt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_NOSIGPIPE, 1)?;
        fd
    };
    Ok((fd, addr))
}

/// `getsockname` (`peer == false`) or `getpeername`.
pub(crate) fn name(fd: RawFd, peer: bool) -> io::Result<RawAddr> {
    let mut addr = RawAddr::empty();
    let ptr = addr.as_mut_ptr();
    let ret = if peer {
        // SAFETY: `addr` describes a writable sockaddr_storage of `addr.len` bytes.
        unsafe { libc::getpeername(fd, ptr, &mut addr.len) }
    } else {
        // SAFETY: as above.
        unsafe { libc::getsockname(fd, ptr, &mut addr.len) }
    };
    cvt(ret)?;
    Ok(addr)
}

pub(crate) fn set_opt(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_opt_raw(fd, level, name, &value)
}

/// `setsockopt` with a value of any plain type (`linger`, ...).
pub(crate) fn set_opt_raw<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live `T` and its size; the kernel only reads it.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

pub(crate) fn get_opt(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    // SAFETY: c_int is plain data; all-zero is valid.
    get_opt_raw::<libc::c_int>(fd, level, name, unsafe { mem::zeroed() })
}

/// `getsockopt` into a value of any plain type, starting from `init`.
pub(crate) fn get_opt_raw<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    init: T,
) -> io::Result<T> {
    let mut value = init;
    let mut len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: passes a pointer to a writable `T` and its size; the kernel writes at most `len`.
    cvt(unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut T).cast(), &mut len) })?;
    Ok(value)
}

pub(crate) fn shutdown(fd: RawFd, how: std::net::Shutdown) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: shutdown takes no pointers.
    cvt(unsafe { libc::shutdown(fd, how) })?;
    Ok(())
}

/// `recvfrom`: one datagram and its sender.
pub(crate) fn recv_from(
    fd: RawFd,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<(usize, RawAddr)> {
    let mut addr = RawAddr::empty();
    let ptr = addr.as_mut_ptr();
    // SAFETY: `buf` is writable for its length and `addr` describes a writable sockaddr_storage.
    let n = cvt(unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags,
            ptr,
            &mut addr.len,
        )
    })?;
    Ok((n as usize, addr))
}

/// `sendto`: one datagram to `addr`.
pub(crate) fn send_to(fd: RawFd, buf: &[u8], addr: &RawAddr) -> io::Result<usize> {
    // SAFETY: `buf` is readable for its length and `addr` holds a valid sockaddr of `addr.len`.
    cvt(unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            super::fd::NOSIGNAL,
            addr.as_ptr(),
            addr.len,
        )
    })
    .map(|n| n as usize)
}

/// An internet address as a `sockaddr`.
pub(crate) fn to_sockaddr(addr: &SocketAddr) -> RawAddr {
    let mut raw = RawAddr::empty();
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr type.
            let sin = unsafe { &mut *raw.as_mut_ptr().cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *raw.as_mut_ptr().cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    raw.len = len as libc::socklen_t;
    raw
}

fn from_sockaddr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "unsupported address family",
        )),
    }
}

/// A unix-domain path as a `sockaddr_un` (`InvalidInput` if it does not fit or holds a NUL).
pub(crate) fn unix_sockaddr(path: &std::path::Path) -> io::Result<RawAddr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let mut raw = RawAddr::empty();
    // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_un.
    let sun = unsafe { &mut *raw.as_mut_ptr().cast::<libc::sockaddr_un>() };
    if bytes.len() >= sun.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "unix socket path too long or contains a NUL byte",
        ));
    }
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &src) in sun.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let base = mem::size_of::<libc::sa_family_t>();
    raw.len = (base + bytes.len() + 1) as libc::socklen_t;
    Ok(raw)
}

/// A connected pair of unix sockets of type `ty`, non-blocking and close-on-exec.
pub(crate) fn socketpair(ty: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let ty = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: `fds` is a valid array of two ints for the kernel to fill.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) })?;
    // SAFETY: on success both fds are new and owned by nobody else.
    let pair = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    for fd in [pair.0.as_raw_fd(), pair.1.as_raw_fd()] {
        // SAFETY: F_SETFD takes no pointer; `fd` is open.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
        super::set_nonblocking(fd)?;
    }
    Ok(pair)
}
