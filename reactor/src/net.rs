//! TCP: a listener that accepts many connections per wake-up and a stream with vectored writes.
//!
//! Sockets are created with `libc` rather than `std::net` because a server needs options std
//! cannot set before `bind` (`SO_REUSEPORT`, the listen backlog) and because `accept4` with
//! `SOCK_NONBLOCK | SOCK_CLOEXEC` returns a ready-to-register socket in one syscall, where std's
//! `accept` + `set_nonblocking` takes two.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::mem::{self, MaybeUninit};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::io::{AsyncRead, AsyncWrite};

use crate::fd::Async;

/// Default listen backlog (uvicorn uses 2048; the kernel caps it at `net.core.somaxconn`).
pub const DEFAULT_BACKLOG: i32 = 2048;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Options for [`ListenOptions::bind`]; [`TcpListener::bind`] uses the defaults.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    backlog: i32,
    reuse_address: bool,
    reuse_port: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: DEFAULT_BACKLOG,
            reuse_address: true,
            reuse_port: false,
        }
    }
}

impl ListenOptions {
    /// Defaults: backlog [`DEFAULT_BACKLOG`], `SO_REUSEADDR` on, `SO_REUSEPORT` off.
    pub fn new() -> Self {
        Self::default()
    }

    /// The length of the queue of connections waiting for `accept`.
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog.max(1);
        self
    }

    /// `SO_REUSEADDR`: rebind a port whose old connections are still in `TIME_WAIT`.
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT`: let several sockets (one per worker process) listen on the same port; the
    /// kernel spreads new connections over them.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Creates a non-blocking listening socket and registers it with this thread's reactor.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::from_owned(self.bind_std(addr)?)
    }

    /// Creates the listening socket without registering it (for a parent process that hands it to
    /// workers). The socket is non-blocking and close-on-exec.
    pub fn bind_std(&self, addr: SocketAddr) -> io::Result<OwnedFd> {
        let fd = new_socket(&addr)?;
        if self.reuse_address {
            set_opt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        }
        if self.reuse_port {
            set_opt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        let (storage, len) = to_sockaddr(&addr);
        // SAFETY: `storage` holds a valid sockaddr of `len` bytes for the call.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        })?;
        // SAFETY: listen takes no pointers.
        cvt(unsafe { libc::listen(fd.as_raw_fd(), self.backlog) })?;
        Ok(fd)
    }
}

/// A TCP listener registered with this thread's reactor.
pub struct TcpListener {
    io: Async<OwnedFd>,
}

impl TcpListener {
    /// Binds with the default [`ListenOptions`] (backlog 2048, `SO_REUSEADDR`).
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        ListenOptions::default().bind(addr)
    }

    /// Registers an already listening socket (e.g. one inherited from a parent process).
    pub fn from_owned(fd: OwnedFd) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Async::new(fd)?,
        })
    }

    /// Registers an already listening `std` listener.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_owned(OwnedFd::from(listener))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
        let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `storage`/`len` describe a writable sockaddr_storage.
        cvt(unsafe {
            libc::getsockname(self.io.as_raw_fd(), storage.as_mut_ptr().cast(), &mut len)
        })?;
        // SAFETY: getsockname initialised `len` bytes; the rest were zeroed.
        from_sockaddr(unsafe { storage.assume_init_ref() })
    }

    /// Accepts one connection.
    ///
    /// The listener stays marked readable until `accept` reports `WouldBlock`, so a loop of
    /// `accept().await` drains the whole queue of pending connections on one wake-up, one
    /// `accept4` syscall per connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for one connection (see [`TcpListener::accept`]).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (fd, peer) = match self
            .io
            .poll_read_with(cx, |fd| accept_nonblocking(fd.as_raw_fd()))
        {
            Poll::Ready(Ok(v)) => v,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        Poll::Ready(Async::new_nonblocking(fd, true).map(|io| (TcpStream { io }, peer)))
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.io.as_raw_fd())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// A TCP connection registered with this thread's reactor.
///
/// Reading and writing through `&TcpStream` lets one task read while another writes.
pub struct TcpStream {
    io: Async<OwnedFd>,
}

impl TcpStream {
    /// Connects without blocking: `connect` returns `EINPROGRESS`, the stream waits for writability
    /// and then reads `SO_ERROR` (so a refused connection is reported as `ConnectionRefused`).
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let fd = new_socket(&addr)?;
        let (storage, len) = to_sockaddr(&addr);
        // SAFETY: `storage` holds a valid sockaddr of `len` bytes for the call.
        let ret = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        let in_progress = if ret < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(err);
            }
            true
        } else {
            false
        };
        let stream = TcpStream {
            io: Async::new_nonblocking(fd, true)?,
        };
        if in_progress {
            stream.io.writable().await?;
            let err = get_opt(stream.io.as_raw_fd(), libc::SOL_SOCKET, libc::SO_ERROR)?;
            if err != 0 {
                return Err(io::Error::from_raw_os_error(err));
            }
        }
        Ok(stream)
    }

    /// Wraps a connected `std` stream (sets it non-blocking).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Async::new(OwnedFd::from(stream))?,
        })
    }

    /// Enables or disables Nagle's algorithm (`TCP_NODELAY`).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        set_opt(
            self.io.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            on as libc::c_int,
        )
    }

    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(get_opt(self.io.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY)? != 0)
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.name(libc::getpeername)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.name(libc::getsockname)
    }

    fn name(
        &self,
        f: unsafe extern "C" fn(
            libc::c_int,
            *mut libc::sockaddr,
            *mut libc::socklen_t,
        ) -> libc::c_int,
    ) -> io::Result<SocketAddr> {
        let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
        let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `storage`/`len` describe a writable sockaddr_storage; `f` is getsockname or
        // getpeername, which write at most `len` bytes.
        cvt(unsafe { f(self.io.as_raw_fd(), storage.as_mut_ptr().cast(), &mut len) })?;
        // SAFETY: the call initialised `len` bytes; the rest were zeroed.
        from_sockaddr(unsafe { storage.assume_init_ref() })
    }

    /// Shuts down the read half, the write half (sends FIN after queued data) or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        // SAFETY: shutdown takes no pointers.
        cvt(unsafe { libc::shutdown(self.io.as_raw_fd(), how) })?;
        Ok(())
    }

    /// Waits until the stream is readable.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.readable().await
    }

    /// Waits until the stream is writable.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.writable().await
    }

    /// Reads into `buf` (the poll form of `AsyncReadExt::read`).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_read(cx, buf)
    }

    /// Writes from `buf`.
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf)
    }

    /// Writes from several buffers in one `writev`.
    pub fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.io.as_raw_fd())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

macro_rules! impl_stream_io {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_read(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_write_vectored(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Sends FIN (shuts down the write half); reading stays possible.
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(match self.shutdown(Shutdown::Write) {
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                    res => res,
                })
            }
        }
    };
}

impl_stream_io!(TcpStream);
impl_stream_io!(&TcpStream);

fn new_socket(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: socket takes no pointers; a non-negative result is a new fd we own.
        Ok(unsafe { OwnedFd::from_raw_fd(cvt(libc::socket(domain, ty, 0))?) })
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // SAFETY: socket takes no pointers; a non-negative result is a new fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(cvt(libc::socket(domain, libc::SOCK_STREAM, 0))?) };
        // SAFETY: fcntl F_SETFD takes no pointers.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        crate::fd::set_nonblocking(fd.as_raw_fd())?;
        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
        set_opt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_NOSIGPIPE, 1)?;
        Ok(fd)
    }
}

fn accept_nonblocking(listener: RawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `storage`/`len` describe a writable sockaddr_storage; a non-negative result is a
    // new fd we own.
    let fd = unsafe {
        OwnedFd::from_raw_fd(cvt(libc::accept4(
            listener,
            storage.as_mut_ptr().cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        ))?)
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let fd = {
        // SAFETY: as above, with accept(2).
        let fd = unsafe {
            OwnedFd::from_raw_fd(cvt(libc::accept(
                listener,
                storage.as_mut_ptr().cast(),
                &mut len,
            ))?)
        };
        // SAFETY: fcntl F_SETFD takes no pointers.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        crate::fd::set_nonblocking(fd.as_raw_fd())?;
        fd
    };
    // SAFETY: accept initialised `len` bytes; the rest were zeroed.
    let peer = from_sockaddr(unsafe { storage.assume_init_ref() })?;
    Ok((fd, peer))
}

fn set_opt(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

fn get_opt(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: passes a pointer to a writable c_int and its size.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr type.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
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
    (storage, len as libc::socklen_t)
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
